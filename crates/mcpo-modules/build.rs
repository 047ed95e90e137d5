//! Embeds the standard library (`stdlib/<module>/`, the adapter packages
//! `stdlib/adapters/<package>/` and the runbook packages `stdlib/runbooks/<name>/`: their
//! `.mcpo` files, `mcpo.toml` and `README.md`) into
//! the crate, so that `source = "stdlib/<name>"` works wherever the binary is installed.

use std::fmt::Write as _;
use std::path::Path;

/// The module files under `dir` (a module's path relative to `stdlib/` is `prefix`):
/// each directory's `.mcpo` files, `mcpo.toml` and `README.md`, and its subdirectories'
/// (`adapters/<package>/` and `runbooks/<name>/` are modules of their own).
fn collect(dir: &Path, prefix: &str, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            println!("cargo:rerun-if-changed={}", p.display());
            let inner = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            collect(&p, &inner, files);
            continue;
        }
        let keep = !prefix.is_empty()
            && (name.ends_with(".mcpo") || name == "mcpo.toml" || name == "README.md");
        if keep {
            println!("cargo:rerun-if-changed={}", p.display());
            let abs = std::fs::canonicalize(&p).unwrap_or(p);
            files.push((format!("{prefix}/{name}"), abs.display().to_string()));
        }
    }
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let stdlib = Path::new(&manifest).join("../../stdlib");
    println!("cargo:rerun-if-changed={}", stdlib.display());
    let mut files: Vec<(String, String)> = Vec::new();
    collect(&stdlib, "", &mut files);
    files.sort();
    let mut out = String::from(
        "/// The standard library's files: (`<module>/<file>`, text).\npub(crate) static FILES: &[(&str, &str)] = &[\n",
    );
    for (name, abs) in &files {
        let _ = writeln!(out, "    ({name:?}, include_str!({abs:?})),");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("stdlib.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
