//! Embeds the standard library (`stdlib/<module>/`: its `.mcpo` files, `mcpo.toml` and
//! `README.md`) into the crate, so that `source = "stdlib/<name>"` works wherever the
//! binary is installed.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let stdlib = Path::new(&manifest).join("../../stdlib");
    println!("cargo:rerun-if-changed={}", stdlib.display());
    let mut files: Vec<(String, String)> = Vec::new();
    if let Ok(dirs) = std::fs::read_dir(&stdlib) {
        for dir in dirs.flatten() {
            let path = dir.path();
            if !path.is_dir() {
                continue;
            }
            println!("cargo:rerun-if-changed={}", path.display());
            let module = dir.file_name().to_string_lossy().to_string();
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().to_string();
                let keep = p.is_file()
                    && (name.ends_with(".mcpo") || name == "mcpo.toml" || name == "README.md");
                if keep {
                    println!("cargo:rerun-if-changed={}", p.display());
                    let abs = std::fs::canonicalize(&p).unwrap_or(p);
                    files.push((format!("{module}/{name}"), abs.display().to_string()));
                }
            }
        }
    }
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
