//! Every example under `examples/` checks clean against the twins' pulled schemas
//! (`tests/check/.mcpo/schemas/`), warnings included, as after `mcpoc schema pull`: each
//! twin's schema is recorded with the example's `server` block, as a pull would record it,
//! and the modules its `use` blocks name are loaded as `mcpoc check` loads them.
//! The examples named `real-*` run on real third-party servers, not on the twins: they are
//! checked against those servers' own schemas by the tests that start them
//! (`crates/mcpoc/tests/real_full_stack.rs`).

use mcpo_diagnostics::{FileId, Sources, render};
use mcpo_schema::{LockEntry, Lockfile, ServerSchema};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use salsa::Setter;
use std::path::{Path, PathBuf};

/// What `mcpoc schema pull` writes for the workspace's `server` blocks when each server is
/// the twin of that name: the twin's schema with the block's identity, and the lock.
fn pull(db: &mut Database, ws: Workspace, twins: &Path) {
    let mut lock = Lockfile::default();
    let mut schemas = Vec::new();
    for decl in mcpo_sema::servers(db, ws).clone() {
        let path = twins.join(format!("{}.json", decl.name));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut schema = ServerSchema::from_file_text(&decl.name, &text)
            .unwrap_or_else(|e| panic!("no twin schema for `{}`: {e}", decl.name));
        schema.identity = decl
            .identity()
            .unwrap_or_else(|| panic!("`{}` has no transport", decl.name));
        lock.servers.insert(
            decl.name.clone(),
            LockEntry {
                identity: schema.identity.clone(),
                protocol_version: schema.protocol_version.clone(),
                server_info: schema.server_info.clone(),
                tools: schema.tools.len(),
                schema_hash: schema.hash(),
            },
        );
        schemas.push(SchemaFile::new(
            db,
            decl.name.clone(),
            format!("{}.json", decl.name),
            schema.to_file_text(),
        ));
    }
    ws.set_schemas(db).to(schemas);
    ws.set_lock(db).to(Some(lock.to_file_text()));
}

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
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("real-"))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    assert!(dirs.len() >= 4, "examples missing: {dirs:?}");
    let mut failures = String::new();
    let twins = root.join("tests/check/.mcpo/schemas");
    for dir in dirs {
        let mut db = Database::default();
        let mut sources = Sources::new();
        let mut files = Vec::new();
        let mut texts = Vec::new();
        for (i, p) in list(&dir, "mcpo").iter().enumerate() {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let name = p.strip_prefix(&root).unwrap_or(p).display().to_string();
            sources.add(name.clone(), text.clone());
            files.push(SourceFile::new(&db, FileId(i as u32), name, text.clone()));
            texts.push(text);
        }
        assert!(!files.is_empty(), "no .mcpo in {}", dir.display());
        let ws = Workspace::new(&db, files, Vec::new());
        pull(&mut db, ws, &twins);
        // The modules its `use` blocks name, as `mcpoc check` loads them.
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut loaded = mcpo_modules::load_modules(&dir, &texts);
        mcpo_modules::register(&mut loaded, &mut sources);
        let modules = mcpo_modules::inputs(&db, &loaded, &ws.schemas(&db).clone());
        ws.set_modules(&mut db).to(modules);
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
