//! Helpers shared by the test suites of the workspace's crates (a dev-dependency only).
//!
//! Tests written by the project never depend on files outside the repository, with one
//! exception: the external HCL corpus (real Terraform files and HashiCorp's spec suite),
//! which sits beside the checkout in CI. A fresh clone has no such directory, so the tests
//! that read it skip with a notice that `cargo test` shows, and CI turns the skip into a
//! failure with `MCPO_REQUIRE_CORPUS=1`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable naming the HCL corpus directory.
pub const CORPUS_VAR: &str = "MCPO_HCL_CORPUS";
/// The environment variable that makes a missing corpus a test failure (`.ci/run` sets it).
pub const REQUIRE_VAR: &str = "MCPO_REQUIRE_CORPUS";

/// The repository's root directory (the workspace this crate belongs to).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest.join("../.."), Path::to_path_buf)
}

/// Where the HCL corpus is looked for: `$MCPO_HCL_CORPUS`, else `../shared/corpus/hcl`
/// beside the checkout.
pub fn hcl_corpus_path() -> PathBuf {
    std::env::var_os(CORPUS_VAR).map_or_else(
        || {
            let root = repo_root();
            root.parent()
                .map_or_else(|| root.join(".."), Path::to_path_buf)
                .join("shared/corpus/hcl")
        },
        PathBuf::from,
    )
}

/// The HCL corpus directory, if it exists. When it does not, `test` (the test's name) is
/// reported as skipped on stderr past the test harness's output capture, so the notice is
/// seen in an ordinary `cargo test` run, and `None` is returned; with
/// `MCPO_REQUIRE_CORPUS=1` a missing corpus panics instead, failing the test.
pub fn hcl_corpus(test: &str) -> Option<PathBuf> {
    let dir = hcl_corpus_path();
    if dir.is_dir() {
        return Some(dir);
    }
    let required = std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test}: the HCL corpus is not at {} ({REQUIRE_VAR}=1 requires it; set {CORPUS_VAR} to its directory)",
        dir.display()
    );
    // `eprintln!` is captured for passing tests; writing to the handle is not.
    let _ = writeln!(
        std::io::stderr(),
        "note: {test}: the HCL corpus part is skipped, no corpus at {} (set {CORPUS_VAR} to its directory; {REQUIRE_VAR}=1 makes this a failure)",
        dir.display()
    );
    None
}

pub mod pg;
