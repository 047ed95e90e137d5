//! The evaluator never panics on real code: every attribute expression of the HCL corpus
//! (`$MCPO_HCL_CORPUS`, or `shared/corpus/hcl` beside the checkout) and of the repository's
//! `.mcpo` fixtures (always; the corpus when it is there, as `mcpo_test_support::hcl_corpus`
//! decides) is evaluated twice, once with every reference unknown and once with
//! every reference bound to the same sample object. Errors are expected (most of those
//! expressions refer to things that do not exist here); a panic, or a crash of the test
//! process, is the failure.

use mcpo_diagnostics::FileId;
use mcpo_plan::eval::{Lookup, Scope, eval};
use mcpo_plan::{Io, Val};
use mcpo_syntax::ast::{Body, BodyItem, Expr};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

struct NoIo;

impl Io for NoIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        Err(format!("{path}: no files in this test"))
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("{path}: no files in this test"))
    }
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
    fn now_rfc3339(&self) -> String {
        "2026-11-24T12:00:00Z".into()
    }
}

/// Binds every declaration to one object with a few common attributes.
struct Sample(Val);

impl Lookup for Sample {
    fn get(&self, _key: &str) -> Option<Val> {
        Some(self.0.clone())
    }
}

fn sample() -> Val {
    let list = Val::List(vec![Val::String("a".into()), Val::Number(1.0)]);
    let mut m = BTreeMap::new();
    for k in [
        "id",
        "name",
        "arn",
        "cidr_block",
        "private_ip",
        "value",
        "key",
    ] {
        m.insert(k.to_string(), Val::String(format!("{k}-1")));
    }
    m.insert("count".into(), Val::Number(2.0));
    m.insert("enabled".into(), Val::Bool(true));
    m.insert("items".into(), list);
    m.insert("secret".into(), Val::String("s".into()).mark_sensitive());
    m.insert("later".into(), Val::Unknown);
    Val::Map(m)
}

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n != "target" && n != "node_modules")
            {
                files_with_ext(&p, ext, out);
            }
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

fn expressions<'a>(body: &'a Body, out: &mut Vec<&'a Expr>) {
    for item in &body.items {
        match item {
            BodyItem::Attribute(a) => out.push(&a.value),
            BodyItem::Block(b) => expressions(&b.body, out),
            BodyItem::Error(_) => {}
        }
    }
}

#[test]
fn no_expression_of_real_code_panics_the_evaluator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The fixtures are always evaluated; the HCL corpus when it is there (a notice when
    // not, a failure with MCPO_REQUIRE_CORPUS=1).
    let mut files = Vec::new();
    if let Some(corpus) =
        mcpo_test_support::hcl_corpus("no_expression_of_real_code_panics_the_evaluator")
    {
        files_with_ext(&corpus, "tf", &mut files);
        assert!(!files.is_empty(), "no .tf files under {}", corpus.display());
    }
    let from_corpus = files.len();
    for dir in ["tests", "examples"] {
        files_with_ext(&root.join(dir), "mcpo", &mut files);
    }
    assert!(
        files.len() > from_corpus,
        "no .mcpo fixtures found under {}",
        root.display()
    );
    let empty: BTreeMap<String, Val> = BTreeMap::new();
    let sample = Sample(sample());
    // Every root name that is not a declaration (`aws`, `google_compute_instance`, ...)
    // is treated as a server, so resource references resolve through the lookup too.
    let mut evaluated = 0usize;
    let mut failed = 0usize;
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let parsed = mcpo_syntax::parse(&text, FileId(0));
        let mut exprs = Vec::new();
        expressions(&parsed.file.body, &mut exprs);
        let servers: BTreeSet<String> = parsed
            .file
            .body
            .items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Block(b) => b
                    .labels
                    .first()
                    .map(|l| l.value().split(['.', '_']).next().unwrap_or("").to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
            .collect();
        let functions = BTreeMap::new();
        for lookup in [&empty as &dyn Lookup, &sample as &dyn Lookup] {
            let scope = Scope::new(lookup, &servers, &functions, &NoIo);
            for e in &exprs {
                evaluated += 1;
                if eval(e, &scope).is_err() {
                    failed += 1;
                }
            }
        }
    }
    assert!(evaluated > 1_000, "only {evaluated} expressions evaluated");
    eprintln!(
        "{} files, {evaluated} evaluations, {failed} of them errors (expected: the names they use are not declared here)",
        files.len()
    );
}
