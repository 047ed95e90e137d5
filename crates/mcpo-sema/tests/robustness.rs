//! The checker never panics and never overflows the stack, whatever it is given: every
//! fixture cut at many points, every file of the HCL corpus (real Terraform, which is valid
//! syntax but not an mcpo program), and deeply nested expressions.

use mcpo_diagnostics::FileId;
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

fn check_text(db: &Database, schemas: &[SchemaFile], text: &str) -> usize {
    let file = SourceFile::new(db, FileId(0), "t.mcpo".into(), text.to_string());
    let ws = Workspace::new(db, vec![file], schemas.to_vec());
    mcpo_sema::check(db, ws).len()
}

fn schemas(db: &Database) -> Vec<SchemaFile> {
    let mut paths = Vec::new();
    files(
        &root().join("tests/check/.mcpo/schemas"),
        "json",
        &mut paths,
    );
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let server = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            SchemaFile::new(
                db,
                server.clone(),
                server,
                std::fs::read_to_string(p).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn truncated_fixtures_do_not_panic() {
    let db = Database::default();
    let schemas = schemas(&db);
    let mut paths = Vec::new();
    files(&root().join("tests/check"), "mcpo", &mut paths);
    paths.sort();
    assert!(paths.len() > 100);
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let step = (text.len() / 12).max(1);
        let mut at = 0;
        while at <= text.len() {
            if text.is_char_boundary(at) {
                let cut = text.get(..at).unwrap_or("");
                check_text(&db, &schemas, cut);
                // Also with a chunk removed from the middle.
                let rest = text.get(at..).unwrap_or("");
                let tail = rest
                    .char_indices()
                    .nth(7)
                    .map_or("", |(i, _)| rest.get(i..).unwrap_or(""));
                check_text(&db, &schemas, &format!("{cut}{tail}"));
            }
            at += step;
        }
    }
}

#[test]
fn hcl_corpus_does_not_panic() {
    let Some(dir) = mcpo_test_support::hcl_corpus("hcl_corpus_does_not_panic") else {
        return;
    };
    let mut paths = Vec::new();
    files(&dir, "tf", &mut paths);
    assert!(!paths.is_empty(), "no .tf files under {}", dir.display());
    paths.sort();
    let db = Database::default();
    let schemas = schemas(&db);
    let mut reported = 0;
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        reported += check_text(&db, &schemas, &text);
    }
    // Terraform blocks are not mcpo blocks: the checker says so rather than crashing.
    assert!(reported > 0);
}

#[test]
fn deep_nesting_is_bounded() {
    let db = Database::default();
    let schemas = schemas(&db);
    for depth in [50, 200, 255, 400] {
        let list = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let parens = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
        let calls = format!(
            "{}1{}",
            "tolist([".repeat(depth / 2),
            "])".repeat(depth / 2)
        );
        let cond = format!("{}1{}", "true ? ".repeat(depth), " : 0".repeat(depth));
        for e in [list, parens, calls, cond] {
            let text =
                format!("locals {{\n  a = {e}\n}}\n\noutput \"o\" {{\n  value = local.a\n}}\n");
            check_text(&db, &schemas, &text);
        }
    }
}
