//! Tidy checks that keep the project's habits, run as ordinary tests: every Rust source
//! file opens with a `//!` line, no test hides a failure behind a should-panic attribute, and
//! every diagnostic code has an explanation and at least one fixture whose snapshot shows
//! it, and the CLI crate stays a thin front end.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target"
                && name != "node_modules"
                && !name.to_string_lossy().starts_with('.')
            {
                files_with_ext(&path, ext, out);
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn rust_sources() -> Vec<PathBuf> {
    let root = repo_root();
    let mut out = Vec::new();
    for dir in ["crates", "bench", "fuzz/fuzz_targets"] {
        files_with_ext(&root.join(dir), "rs", &mut out);
    }
    out.sort();
    out
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let files = rust_sources();
    assert!(files.len() > 10, "found the sources");
    let missing: Vec<_> = files
        .iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` first line: {missing:#?}"
    );
}

/// `mcpoc` is arguments and rendering; every rule lives in a library crate, where another
/// front end (the language server, `mcpoc serve`) reaches it too. Its size is the alarm:
/// past 2,000 lines, something that belongs in a library has crept back in.
#[test]
fn the_cli_crate_stays_thin() {
    let mut files = Vec::new();
    files_with_ext(&repo_root().join("crates/mcpoc/src"), "rs", &mut files);
    let lines: usize = files
        .iter()
        .map(|f| std::fs::read_to_string(f).map_or(0, |t| t.lines().count()))
        .sum();
    assert!(
        lines < 2_000,
        "crates/mcpoc/src has {lines} lines: move what is not arguments or rendering into a library crate"
    );
}

#[test]
fn no_should_panic() {
    let needle = ["#[should", "_panic"].concat();
    let offenders: Vec<_> = rust_sources()
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains(&needle)
        })
        .collect();
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn every_code_has_an_explanation_and_a_fixture() {
    let mut snaps = Vec::new();
    files_with_ext(&repo_root().join("crates"), "snap", &mut snaps);
    files_with_ext(&repo_root().join("tests"), "snap", &mut snaps);
    let snapshot_text: String = snaps
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    let mut problems = Vec::new();
    for info in mcpo_diagnostics::codes::ALL {
        let code = info.code.as_str();
        if info.summary.is_empty() || info.explanation.len() < 40 {
            problems.push(format!("{code}: no real explanation"));
        }
        if !snapshot_text.contains(&format!("[{code}]")) {
            problems.push(format!("{code}: no fixture snapshot shows it"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The book's page of diagnostic codes is generated from the registry, so `mcpoc explain`
/// and the book never disagree. Regenerate with
/// `UPDATE_BOOK=1 cargo test -p mcpoc --test tidy book_codes_page_matches_the_registry`.
#[test]
fn book_codes_page_matches_the_registry() {
    let mut page = String::from(
        "# Diagnostic codes\n\n\
         <!-- Generated from crates/mcpo-diagnostics/src/codes.rs by the tidy test \
         `book_codes_page_matches_the_registry`; do not edit by hand. -->\n\n\
         Every diagnostic has a stable code; `mcpoc explain CODE` prints the same text.\n",
    );
    for info in mcpo_diagnostics::codes::ALL {
        page.push_str(&format!(
            "\n## {}: {}\n\n{}\n",
            info.code,
            info.summary,
            info.explanation.trim_end()
        ));
    }
    let path = repo_root().join("book/src/codes.md");
    if std::env::var_os("UPDATE_BOOK").is_some() {
        std::fs::write(&path, &page).expect("write book/src/codes.md");
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == page,
        "book/src/codes.md is out of date: run \
         `UPDATE_BOOK=1 cargo test -p mcpoc --test tidy book_codes_page_matches_the_registry`"
    );
}
