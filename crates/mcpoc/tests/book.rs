//! The book (`book/src/`) tells the truth:
//!
//! - Every ` ```hcl ` example of a hand-written page is a whole workspace file that
//!   `mcpoc check` checks against the twins' pulled schemas (after `mcpoc schema pull`
//!   when it declares `server` blocks), and the errors it reports are exactly those its
//!   lines announce with `# error[CODE]`. A piece of a file is fenced ` ```hcl,fragment `
//!   and not checked.
//! - The command-line reference (`book/src/cli.md`) is what `mcpoc --help` says, command
//!   by command. Regenerate it with `UPDATE_BOOK=1 cargo test -p mcpoc --test book`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Pages generated from code, whose examples are checked where they come from.
const GENERATED: &[&str] = &["codes.md", "functions.md", "cli.md"];

fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md")
                && !GENERATED.iter().any(|g| p.ends_with(g))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("book/src"), &mut out);
    out.sort();
    out
}

/// The ` ```hcl ` blocks of a page: (line of the fence, info string, text).
fn examples(page: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String, String)> = None;
    for (i, line) in page.lines().enumerate() {
        let trimmed = line.trim_start();
        match current.as_mut() {
            Some(_) if trimmed.starts_with("```") => {
                if let Some(done) = current.take() {
                    out.push(done);
                }
            }
            Some((_, _, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {
                if let Some(info) = trimmed.strip_prefix("```")
                    && info.split(',').next() == Some("hcl")
                {
                    current = Some((i + 1, info.to_string(), String::new()));
                }
            }
        }
    }
    out
}

/// `(line, code)` of every `# error[CODE]` annotation.
fn announced(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("error[") {
            let after = rest.get(at + 6..).unwrap_or("");
            if let Some(end) = after.find(']') {
                out.push((i as u64 + 1, after.get(..end).unwrap_or("").to_string()));
            }
            rest = after;
        }
    }
    out.sort();
    out
}

fn path_with_mcpoc() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_mcpoc"));
    let dir = bin.parent().map(Path::to_path_buf).unwrap_or_default();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn mcpoc(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcpoc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PATH", path_with_mcpoc())
        .output()
        .expect("mcpoc runs")
}

#[test]
fn book_examples_check_as_announced() {
    let pages = pages();
    assert!(pages.len() > 5, "book pages: {pages:?}");
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap_or_default();
        let name = page
            .strip_prefix(repo().join("book/src"))
            .unwrap_or(page)
            .display()
            .to_string();
        for (line, info, example) in examples(&text) {
            if info.split(',').any(|a| a == "fragment") {
                continue;
            }
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::write(dir.path().join("main.mcpo"), &example).expect("write");
            if example.contains("server \"") {
                let pull = mcpoc(dir.path(), &["schema", "pull"]);
                if !pull.status.success() {
                    failures.push(format!(
                        "{name}:{line}: mcpoc schema pull failed:\n{}",
                        String::from_utf8_lossy(&pull.stderr)
                    ));
                    continue;
                }
            } else {
                let schemas = dir.path().join(".mcpo/schemas");
                std::fs::create_dir_all(&schemas).expect("mkdir");
                for twin in ["opnsense", "aws", "docker", "kubernetes"] {
                    std::fs::copy(
                        repo().join(format!("tests/check/.mcpo/schemas/{twin}.json")),
                        schemas.join(format!("{twin}.json")),
                    )
                    .expect("copy schema");
                }
            }
            let out = mcpoc(dir.path(), &["check", "--format", "json"]);
            let doc: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
            let mut got: Vec<(u64, String)> = doc["diagnostics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["severity"] == "error")
                .map(|d| {
                    (
                        d["line"].as_u64().unwrap_or(0),
                        d["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            got.sort();
            let want = announced(&example);
            if got != want {
                let human = mcpoc(dir.path(), &["check"]);
                failures.push(format!(
                    "{name}:{line}: expected errors {want:?}, got {got:?}\n{}",
                    String::from_utf8_lossy(&human.stderr)
                ));
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} examples checked");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The subcommands a help text lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("  ") {
                break;
            }
            if let Some(name) = line.split_whitespace().next()
                && name != "help"
                && line.starts_with("  ")
                && !line.starts_with("   ")
            {
                out.push(name.to_string());
            }
        }
    }
    out
}

fn help_of(args: &[&str]) -> String {
    let dir = repo();
    let mut full: Vec<&str> = args.to_vec();
    full.push("--help");
    let out = mcpoc(&dir, &full);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn document(path: &mut Vec<String>, page: &mut String) {
    let args: Vec<&str> = path.iter().map(String::as_str).collect();
    let help = help_of(&args);
    let title = if path.is_empty() {
        "mcpoc".to_string()
    } else {
        format!("mcpoc {}", path.join(" "))
    };
    let level = "#".repeat((path.len() + 1).min(4));
    page.push_str(&format!(
        "\n#{level} `{title}`\n\n```text\n{}\n```\n",
        help.trim_end()
    ));
    for sub in subcommands(&help) {
        path.push(sub);
        document(path, page);
        path.pop();
    }
}

#[test]
fn cli_reference_is_what_help_says() {
    let mut page = String::from(
        "# Command-line reference\n\n\
         <!-- Generated from `mcpoc --help` by the test `cli_reference_is_what_help_says` \
         (crates/mcpoc/tests/book.rs); regenerate with \
         `UPDATE_BOOK=1 cargo test -p mcpoc --test book`. Do not edit by hand. -->\n\n\
         Every command and option, as `mcpoc <command> --help` prints them. \
         `mcpoc man` prints the same as a manual page, and `mcpoc completions <shell>` \
         teaches a shell to complete them.\n",
    );
    document(&mut Vec::new(), &mut page);
    let path = repo().join("book/src/cli.md");
    if std::env::var_os("UPDATE_BOOK").is_some() {
        std::fs::write(&path, &page).expect("write book/src/cli.md");
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == page,
        "book/src/cli.md is out of date: run `UPDATE_BOOK=1 cargo test -p mcpoc --test book`"
    );
}
