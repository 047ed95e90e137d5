//! Inputs for mcpo's benchmarks: the HCL corpus, concatenated to a target size.

use std::path::{Path, PathBuf};

/// Where the HCL corpus is: `MCPO_HCL_CORPUS`, else `../shared/corpus/hcl` beside the
/// checkout.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("MCPO_HCL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/hcl"),
    }
}

/// Every `.tf` file under `dir`, sorted, as text.
pub fn corpus_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    collect(dir, &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "tf") {
            let text = std::fs::read_to_string(&path)?;
            out.push((path, text));
        }
    }
    Ok(())
}

/// The corpus files concatenated (each ending in a newline) and repeated until the text
/// is at least `target_bytes` long. Concatenated HCL bodies are still one valid body.
pub fn concatenated(files: &[(PathBuf, String)], target_bytes: usize) -> String {
    let mut out = String::with_capacity(target_bytes + 64 * 1024);
    if files.iter().all(|(_, t)| t.is_empty()) {
        return out;
    }
    while out.len() < target_bytes {
        for (_, text) in files {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}
