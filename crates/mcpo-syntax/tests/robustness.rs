//! Robustness: the parser returns (never panics, never hangs) on damaged input, every
//! span it reports is in bounds and on character boundaries, and pathological nesting
//! gives one E0007 instead of a stack overflow.

use mcpo_diagnostics::{FileId, Span, codes};
use mcpo_syntax::ast::*;
use mcpo_syntax::parse;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// The HCL corpus's `.tf` and `.hcl` texts, or `None` (after a notice, or a failure with
/// `MCPO_REQUIRE_CORPUS=1`) when the corpus is absent.
fn corpus_texts(test: &str) -> Option<Vec<String>> {
    let dir = mcpo_test_support::hcl_corpus(test)?;
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "tf" || e == "hcl") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir, &mut files);
    Some(
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect(),
    )
}

fn check_span(text: &str, s: Span, what: &str) {
    assert!(
        s.start <= s.end && (s.end as usize) <= text.len(),
        "{what} span {s:?} out of bounds (len {})",
        text.len()
    );
    assert!(
        text.is_char_boundary(s.start as usize) && text.is_char_boundary(s.end as usize),
        "{what} span {s:?} not on a char boundary"
    );
}

fn check_expr(text: &str, e: &Expr) {
    check_span(text, e.span, "expr");
    match &e.kind {
        ExprKind::Template(t) => check_parts(text, &t.parts),
        ExprKind::Heredoc(h) => check_parts(text, &h.template.parts),
        ExprKind::Variable(i) => check_span(text, i.span, "ident"),
        ExprKind::Tuple(items) => items.iter().for_each(|i| check_expr(text, i)),
        ExprKind::Object(items) => items.iter().for_each(|i| {
            check_span(text, i.span, "object item");
            check_expr(text, &i.key);
            check_expr(text, &i.value);
        }),
        ExprKind::FunctionCall(c) => {
            check_span(text, c.open_paren, "paren");
            c.args.iter().for_each(|a| check_expr(text, a));
        }
        ExprKind::GetAttr { object, name } => {
            check_expr(text, object);
            check_span(text, name.span, "attr");
        }
        ExprKind::Index { collection, key } => {
            check_expr(text, collection);
            check_expr(text, key);
        }
        ExprKind::LegacyIndex { collection, .. } | ExprKind::Splat { collection, .. } => {
            check_expr(text, collection)
        }
        ExprKind::Unary { operand, .. } => check_expr(text, operand),
        ExprKind::Binary { lhs, rhs, .. } => {
            check_expr(text, lhs);
            check_expr(text, rhs);
        }
        ExprKind::Conditional {
            condition,
            then,
            otherwise,
        } => {
            check_expr(text, condition);
            check_expr(text, then);
            check_expr(text, otherwise);
        }
        ExprKind::For(f) => {
            check_expr(text, &f.collection);
            check_expr(text, &f.value_expr);
        }
        ExprKind::Parens(inner) => check_expr(text, inner),
        _ => {}
    }
}

fn check_parts(text: &str, parts: &[TemplatePart]) {
    for p in parts {
        match p {
            TemplatePart::Literal { span, .. } => check_span(text, *span, "literal"),
            TemplatePart::Interpolation { expr, span, .. } => {
                check_span(text, *span, "interpolation");
                check_expr(text, expr);
            }
            TemplatePart::If(i) => {
                check_span(text, i.span, "if");
                check_expr(text, &i.condition);
                check_parts(text, &i.then);
                if let Some(o) = &i.otherwise {
                    check_parts(text, o);
                }
            }
            TemplatePart::For(f) => {
                check_span(text, f.span, "for");
                check_expr(text, &f.collection);
                check_parts(text, &f.body);
            }
        }
    }
}

fn check_body(text: &str, body: &Body) {
    check_span(text, body.span, "body");
    for item in &body.items {
        check_span(text, item.span(), "item");
        match item {
            BodyItem::Attribute(a) => check_expr(text, &a.value),
            BodyItem::Block(b) => {
                check_span(text, b.open_brace, "brace");
                b.labels
                    .iter()
                    .for_each(|l| check_span(text, l.span(), "label"));
                check_body(text, &b.body);
            }
            BodyItem::Error(_) => {}
        }
    }
}

/// Parses and checks every span of the result.
fn check(text: &str) -> mcpo_syntax::Parse {
    let p = parse(text, FileId(0));
    for d in &p.diagnostics {
        check_span(text, d.span, "diagnostic");
        d.labels
            .iter()
            .for_each(|l| check_span(text, l.span, "label"));
    }
    p.file
        .comments
        .iter()
        .for_each(|c| check_span(text, c.span, "comment"));
    check_body(text, &p.file.body);
    assert!(
        p.file.depth() <= MAX_TREE_DEPTH,
        "tree deeper than the budget"
    );
    p
}

/// A small deterministic generator (xorshift), so the mutation test needs no seed file.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

const INSERTS: &[&str] = &[
    "{", "}", "[", "]", "(", ")", "\"", "${", "%{", "}", "~", "<<EOT\n", "<<-X\n", "\n", "=", ",",
    "#", "/*", "*/", "\\", ".", "...", "?", ":", "=>", "for ", "if ", "é", "😀", "\u{feff}", "\r",
    "\t", "0", "1e", "::", "!", "-", "\0",
];

#[test]
fn truncated_and_mutated_corpus_files() {
    let Some(texts) = corpus_texts("truncated_and_mutated_corpus_files") else {
        return;
    };
    assert!(texts.len() > 100);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for text in &texts {
        // Truncations at a handful of points.
        for _ in 0..6 {
            let at = floor_boundary(text, rng.below(text.len() + 1));
            check(text.get(..at).unwrap_or(""));
        }
        // Random edits: insert, delete or replace, several per variant.
        for _ in 0..6 {
            let mut t = text.clone();
            for _ in 0..1 + rng.below(4) {
                let at = floor_boundary(&t, rng.below(t.len() + 1));
                match rng.below(3) {
                    0 => t.insert_str(at, INSERTS[rng.below(INSERTS.len())]),
                    1 => {
                        let end = floor_boundary(&t, at + 1 + rng.below(8));
                        t.replace_range(at..end, "");
                    }
                    _ => {
                        let end = floor_boundary(&t, at + 1 + rng.below(3));
                        t.replace_range(at..end, INSERTS[rng.below(INSERTS.len())]);
                    }
                }
            }
            check(&t);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        check(&s);
    }

    #[test]
    fn token_soup_never_panics(parts in proptest::collection::vec(proptest::sample::select(INSERTS.to_vec()), 0..60)) {
        check(&parts.concat());
    }
}

fn assert_one_e0007(text: &str) {
    let p = check(text);
    let n = p
        .diagnostics
        .iter()
        .filter(|d| d.code == codes::E0007)
        .count();
    assert_eq!(
        n,
        1,
        "{:?}",
        p.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
    );
}

#[test]
fn deep_brackets() {
    let n = 10_000;
    assert_one_e0007(&format!("a = {}{}\n", "[".repeat(n), "]".repeat(n)));
    assert_one_e0007(&format!("a = {}1{}\n", "(".repeat(n), ")".repeat(n)));
    assert_one_e0007(&format!("a = {}\n", "[".repeat(n)));
    assert_one_e0007(&format!("a = {}\n", "{a = ".repeat(n)));
    assert_one_e0007(&format!("a = {}1{}\n", "{a = ".repeat(n), "}".repeat(n)));
    assert_one_e0007(&format!("a = {}x{}\n", "f(".repeat(n), ")".repeat(n)));
    assert_one_e0007(&format!("a = {}x{}\n", "\"${".repeat(n), "}\"".repeat(n)));
}

#[test]
fn deep_blocks() {
    let n = 10_000;
    let mut s = String::new();
    for _ in 0..n {
        s.push_str("b {\n");
    }
    for _ in 0..n {
        s.push_str("}\n");
    }
    assert_one_e0007(&s);
    assert_one_e0007(&"b {\n".repeat(n));
}

#[test]
fn long_operator_chains() {
    let n = 10_000;
    assert_one_e0007(&format!("a = {}x\n", "-".repeat(n)));
    assert_one_e0007(&format!("a = {}x\n", "!".repeat(n)));
    assert_one_e0007(&format!("a = {}x\n", "x ? y : ".repeat(n)));
    assert_one_e0007(&format!("a = {}1\n", "1 + ".repeat(n)));
    assert_one_e0007(&format!("a = x{}\n", ".y".repeat(n)));
    // Within the limit: no diagnostic.
    let ok = format!("a = {}1{}\n", "[".repeat(200), "]".repeat(200));
    assert!(check(&ok).diagnostics.is_empty());
}

#[test]
fn large_flat_file_is_linear() {
    // 50,000 attributes: must parse quickly (no quadratic behaviour) and cleanly.
    let mut s = String::new();
    for i in 0..50_000 {
        s.push_str(&format!("a{i} = [1, \"x${{y}}\", {{ k = v }}]\n"));
    }
    let start = std::time::Instant::now();
    let p = check(&s);
    assert!(p.diagnostics.is_empty());
    assert_eq!(p.file.body.items.len(), 50_000);
    // Generous bound: debug build on a shared, loaded machine.
    assert!(start.elapsed().as_secs() < 120);
}

#[test]
fn many_errors_are_linear() {
    // 20,000 broken lines of several kinds: every one reported, in reasonable time.
    let mut s = String::new();
    for i in 0..20_000 {
        match i % 4 {
            0 => s.push_str("a = = 1\n"),
            1 => s.push_str("b = 1 @ 2\n"),
            2 => s.push_str("c = \"x\n"),
            _ => s.push_str("d = 1 e = 2\n"),
        }
    }
    let start = std::time::Instant::now();
    let p = check(&s);
    assert_eq!(p.diagnostics.len(), 20_000);
    assert!(start.elapsed().as_secs() < 120);
}

#[test]
fn long_line_of_errors_is_linear() {
    let s = format!("a = {}\n", "1 @ ".repeat(100_000));
    let start = std::time::Instant::now();
    let p = check(&s);
    assert_eq!(p.diagnostics.len(), 100_000);
    assert!(start.elapsed().as_secs() < 120);
}

#[test]
fn deep_mismatched_closers_are_linear() {
    let n = 100_000;
    let start = std::time::Instant::now();
    assert_one_e0007(&format!("a = {}{}\n", "[".repeat(n), ")".repeat(n)));
    assert_one_e0007(&format!("a = {}{}\n", "{".repeat(n), "]".repeat(n)));
    assert!(start.elapsed().as_secs() < 120);
}
