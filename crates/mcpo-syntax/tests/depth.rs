//! One depth budget for every construct that nests the syntax tree.
//!
//! Before: `[0]` index chains, `[*]` splats and template directives were not counted, so
//! `var.v[0]...[0]` with 35,000 indices parsed clean into a tree 35,000 levels deep and
//! the checker, the evaluator and the language server overflowed their stacks on it.
//! After: every construct below, nested past the budget, gives one E0007 and a tree no
//! deeper than [`MAX_TREE_DEPTH`]; nested within it, no diagnostic at all.

use mcpo_diagnostics::{FileId, codes};
use mcpo_syntax::ast::MAX_TREE_DEPTH;
use mcpo_syntax::lexer::MAX_DEPTH;
use mcpo_syntax::parse;

/// Each construct as (name, prefix, opening, leaf, closing, suffix): the opening and
/// closing are repeated `n` times around the leaf, and the result is the value of one
/// attribute.
const CONSTRUCTS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("index", "", "", "v", "[0]", ""),
    ("index keys", "", "v[", "0", "]", ""),
    ("attribute access", "", "", "v", ".a", ""),
    ("legacy index", "", "", "v", ".0", ""),
    ("full splat", "", "", "v", "[*]", ""),
    ("attribute splat", "", "", "v", ".*", ""),
    ("index after a call", "", "", "f(x)", "[0]", ""),
    ("calls", "", "f(", "1", ")", ""),
    ("namespaced calls", "", "a::f(", "1", ")", ""),
    ("negation", "", "-", "1", "", ""),
    ("not", "", "!", "true", "", ""),
    ("addition", "", "1 + ", "1", "", ""),
    ("mixed precedence", "", "1 * 2 + ", "1", "", ""),
    ("logic", "", "a && ", "b", "", ""),
    ("conditional else", "", "c ? 1 : ", "2", "", ""),
    ("conditional then", "", "c ? ", "1", " : 2", ""),
    ("parentheses", "", "(", "1", ")", ""),
    ("tuples", "", "[", "", "]", ""),
    ("objects", "", "{a = ", "1", "}", ""),
    ("tuple for", "", "[for v in xs : ", "v", "]", ""),
    ("object for", "", "{for k, v in xs : k => ", "v", "}", ""),
    ("interpolations", "", "\"${", "x", "}\"", ""),
    ("if directives", "\"", "%{if c}", "x", "%{endif}", "\""),
    (
        "for directives",
        "\"",
        "%{for v in xs}",
        "x",
        "%{endfor}",
        "\"",
    ),
    (
        "heredoc directives",
        "<<EOT\n",
        "%{ if c }",
        "x",
        "%{ endif }",
        "\nEOT",
    ),
];

fn nested(c: &(&str, &str, &str, &str, &str, &str), n: usize) -> String {
    let (_, prefix, open, leaf, close, suffix) = c;
    format!(
        "a = {prefix}{}{leaf}{}{suffix}\n",
        open.repeat(n),
        close.repeat(n)
    )
}

/// Parses `text`, checks the depth bound and returns how many E0007 it reported.
fn e0007s(what: &str, n: usize, text: &str) -> usize {
    let p = parse(text, FileId(0));
    let depth = p.file.depth();
    assert!(
        depth <= MAX_TREE_DEPTH,
        "{what} x{n}: tree depth {depth} > {MAX_TREE_DEPTH}"
    );
    p.diagnostics
        .iter()
        .filter(|d| d.code == codes::E0007)
        .count()
}

#[test]
fn every_construct_is_bounded_by_one_budget() {
    for c in CONSTRUCTS {
        let what = c.0;
        for n in [100, 250, 254, 255, 256, 257, 258, 300, 1_000, 35_000] {
            let text = nested(c, n);
            let found = e0007s(what, n, &text);
            if n <= 100 {
                let p = parse(&text, FileId(0));
                assert!(p.diagnostics.is_empty(), "{what} x{n}: {:?}", p.diagnostics);
            }
            if n >= 300 {
                assert_eq!(found, 1, "{what} x{n}: expected one E0007");
            }
        }
    }
}

#[test]
fn blocks_are_bounded() {
    for n in [100, 300, 35_000] {
        let text = format!("{}a = 1\n{}", "b {\n".repeat(n), "}\n".repeat(n));
        let found = e0007s("blocks", n, &text);
        assert_eq!(found, usize::from(n >= 300), "x{n}");
    }
}

#[test]
fn constructs_share_the_budget() {
    // 100 of each of three kinds: 300 levels together, over the budget.
    let text = format!(
        "a = {}{}v{}{}{}\n",
        "f(".repeat(100),
        "[".repeat(100),
        "[0]".repeat(100),
        "]".repeat(100),
        ")".repeat(100)
    );
    assert_eq!(e0007s("mixed", 300, &text), 1);
    // Siblings do not add up: many chains of 200 side by side are fine.
    let text = format!(
        "a = [{}]\n",
        vec![format!("v{}", "[0]".repeat(200)); 50].join(", ")
    );
    assert_eq!(e0007s("siblings", 200, &text), 0);
}

/// The most repetitions of a construct that parse without E0007.
fn limit(c: &(&str, &str, &str, &str, &str, &str)) -> usize {
    let (mut ok, mut over) = (1, 1_000);
    while over - ok > 1 {
        let mid = (ok + over) / 2;
        if e0007s(c.0, mid, &nested(c, mid)) == 0 {
            ok = mid;
        } else {
            over = mid;
        }
    }
    ok
}

#[test]
fn every_construct_gets_the_budget() {
    // A construct spends one or two units per level (an index inside an index key is an
    // operator and a bracket), never more: nothing real comes near either limit.
    for c in CONSTRUCTS {
        let n = limit(c);
        assert!(
            (MAX_DEPTH / 2..=MAX_DEPTH).contains(&n),
            "{}: {n} levels accepted",
            c.0
        );
    }
}

#[test]
fn the_deepest_accepted_tree_is_within_the_bound() {
    let mut deepest = 0;
    for c in CONSTRUCTS {
        for n in 240..270 {
            let p = parse(&nested(c, n), FileId(0));
            deepest = deepest.max(p.file.depth());
        }
    }
    // The bound is tight: some construct reaches it.
    assert_eq!(deepest, MAX_TREE_DEPTH);
}

#[test]
fn an_operator_after_a_deep_operand_stays_within_the_bound() {
    // An operator wraps the operand before it, however deep that operand went inside
    // brackets already closed (or inside text already cut), in one more node.
    for (open, before, after, op) in [
        (260, 5, 255, ".0"),
        (300, 161, 139, ".0"),
        (256, 1, 255, ".0.0"),
        (256, 1, 255, "[0]"),
        (256, 1, 255, " + 1 + 1"),
    ] {
        let text = format!(
            "a = {}{}{op}{}\nb = 1\n",
            "[".repeat(open),
            "]".repeat(before),
            "]".repeat(after)
        );
        let p = parse(&text, FileId(0));
        assert!(
            p.file.depth() <= MAX_TREE_DEPTH,
            "[x{open} ]x{before} {op}: tree depth {} > {MAX_TREE_DEPTH}",
            p.file.depth()
        );
        assert!(
            p.diagnostics.iter().any(|d| d.code == codes::E0007),
            "[x{open} ]x{before} {op}: no E0007 in {:?}",
            p.diagnostics
        );
    }
}
