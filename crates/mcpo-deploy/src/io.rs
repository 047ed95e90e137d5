//! Files, environment and clock for evaluating a workspace's expressions (`file()`,
//! `env()`, `timestamp()`), over the real system, relative to the workspace root.

use std::path::PathBuf;

/// The real file system (relative to a workspace root), environment and clock.
#[derive(Debug, Clone)]
pub struct WorkspaceIo {
    root: PathBuf,
}

impl WorkspaceIo {
    /// Files are read relative to `root`.
    pub fn new(root: impl Into<PathBuf>) -> WorkspaceIo {
        WorkspaceIo { root: root.into() }
    }
}

impl mcpo_plan::Io for WorkspaceIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.root.join(path))
            .map_err(|e| format!("cannot read `{path}`: {}", crate::files::io_reason(&e)))
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.root.join(path))
            .map_err(|e| format!("cannot read `{path}`: {}", crate::files::io_reason(&e)))
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn now_rfc3339(&self) -> String {
        mcpo_state::rfc3339(std::time::SystemTime::now())
    }
}
