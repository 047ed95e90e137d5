//! JSON Schema -> mcpo types on real pulled schemas: every tool of the schemas under
//! `tests/schema/` (npm reference servers and hand-written edge cases) and of the twins
//! (`tests/check/.mcpo/schemas/`) converts without a crash; the resulting types and
//! warnings are snapshots, one per server.

use mcpo_schema::{ServerSchema, convert};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn schema_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in ["tests/schema", "tests/check/.mcpo/schemas"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir)) {
            out.extend(
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json")),
            );
        }
    }
    out.sort();
    out
}

#[test]
fn every_real_schema_converts() {
    let files = schema_files();
    assert!(files.len() >= 6, "schema fixtures missing: {files:?}");
    let snap_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/schema/snapshots");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let name = path.display().to_string();
        let schema = match ServerSchema::from_file_text(&name, &text) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let mut out = String::new();
        for tool in &schema.tools {
            let input = convert(&tool.input_schema);
            let _ = writeln!(out, "{}\n  in:  {}", tool.name, input.ty);
            for w in &input.warnings {
                let _ = writeln!(out, "  warning (input {}): {}", w.pointer, w.message);
            }
            if let Some(o) = &tool.output_schema {
                let output = convert(o);
                let _ = writeln!(out, "  out: {}", output.ty);
                for w in &output.warnings {
                    let _ = writeln!(out, "  warning (output {}): {}", w.pointer, w.message);
                }
            }
        }
        insta::with_settings!({
            snapshot_path => snap_dir.clone(),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(schema.server.clone(), out);
        });
    }
}
