//! Running the binary on a throwaway workspace and reading what it did.

use std::path::Path;
use std::process::{Command, Output};

/// A temporary workspace holding `files` (name, text).
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// What one run of `mcpoc` did.
pub struct Run {
    /// The exit code; `None` when a signal ended it (a crash: stack overflow is SIGABRT).
    pub code: Option<i32>,
    /// Standard output and standard error, together.
    pub output: String,
}

/// Runs `mcpoc ARGS` in `dir`, without colour.
pub fn mcpoc(dir: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_mcpoc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("mcpoc runs");
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Run {
        code: out.status.code(),
        output,
    }
}

impl Run {
    /// The last 2,000 characters of the output, for a failure message.
    pub fn tail(&self) -> String {
        let chars: Vec<char> = self.output.chars().collect();
        chars[chars.len().saturating_sub(2_000)..].iter().collect()
    }

    /// Panics unless the run exited with `want` (not a signal) and printed `needle`.
    pub fn expect(&self, what: &str, want: i32, needle: &str) {
        let tail = self.tail();
        assert_eq!(self.code, Some(want), "{what}: {tail}");
        assert!(
            self.output.contains(needle),
            "{what}: no {needle} in {tail}"
        );
    }
}
