//! Every example under `examples/` checks clean against the twins' pulled schemas
//! (`tests/check/.mcpo/schemas/`), warnings included.

use mcpo_diagnostics::{FileId, Sources, render};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use std::path::{Path, PathBuf};

fn list(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == ext));
    v.sort();
    v
}

#[test]
fn examples_check_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    assert!(dirs.len() >= 4, "examples missing: {dirs:?}");
    let mut failures = String::new();
    for dir in dirs {
        let db = Database::default();
        let mut sources = Sources::new();
        let mut files = Vec::new();
        for (i, p) in list(&dir, "mcpo").iter().enumerate() {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let name = p.strip_prefix(&root).unwrap_or(p).display().to_string();
            sources.add(name.clone(), text.clone());
            files.push(SourceFile::new(&db, FileId(i as u32), name, text));
        }
        assert!(!files.is_empty(), "no .mcpo in {}", dir.display());
        let schemas: Vec<SchemaFile> = list(&root.join("tests/check/.mcpo/schemas"), "json")
            .iter()
            .map(|p| {
                let server = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                SchemaFile::new(
                    &db,
                    server.clone(),
                    format!("{server}.json"),
                    std::fs::read_to_string(p).unwrap_or_default(),
                )
            })
            .collect();
        let ws = Workspace::new(&db, files, schemas);
        let mut diags = mcpo_sema::check(&db, ws);
        if !diags.is_empty() {
            mcpo_diagnostics::sort(&mut diags);
            failures.push_str(&render::render(
                &diags,
                &sources,
                render::RenderConfig { color: false },
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "examples do not check clean:\n{failures}"
    );
}
