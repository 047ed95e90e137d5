//! JSON deployment templates (`tests/convert/*.mcpo.json`) convert to `.mcpo` source that
//! checks clean against the twins' pulled schemas; the converted source is a snapshot.

use mcpo_diagnostics::{FileId, Sources, render};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use std::path::{Path, PathBuf};

fn list(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(suffix));
    v.sort();
    v
}

#[test]
fn templates_convert_to_clean_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let templates = list(&root.join("tests/convert"), ".mcpo.json");
    assert!(!templates.is_empty());
    for path in templates {
        let db = Database::default();
        let schemas: Vec<SchemaFile> = list(&root.join("tests/check/.mcpo/schemas"), ".json")
            .iter()
            .map(|p| {
                let server = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                SchemaFile::new(
                    &db,
                    server.clone(),
                    server,
                    std::fs::read_to_string(p).unwrap_or_default(),
                )
            })
            .collect();
        let ws = Workspace::new(&db, vec![], schemas.clone());
        let json = std::fs::read_to_string(&path).unwrap_or_default();
        let source = match mcpo_sema::convert_template(&db, ws, &json) {
            Ok(s) => s,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let file = SourceFile::new(&db, FileId(0), "converted.mcpo".into(), source.clone());
        let ws = Workspace::new(&db, vec![file], schemas);
        let diags = mcpo_sema::check(&db, ws);
        let mut sources = Sources::new();
        sources.add("converted.mcpo", source.as_str());
        let rendered = render::render(&diags, &sources, render::RenderConfig { color: false });
        assert!(
            diags.is_empty(),
            "{}:\n{source}\n{rendered}",
            path.display()
        );
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().replace(".mcpo.json", ""))
            .unwrap_or_default();
        insta::with_settings!({
            snapshot_path => root.join("tests/convert/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, source);
        });
    }
}
