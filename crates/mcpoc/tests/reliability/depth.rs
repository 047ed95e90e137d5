//! Case 1: one depth budget for every construct that nests the syntax tree.

use crate::lsp_support::{Client, uri};
use crate::support::{mcpoc, workspace};
use serde_json::json;

/// `local.x = var.v[0][0]...[0]` with `n` indices, in a workspace of its own file.
fn index_chain(n: usize) -> String {
    format!(
        "variable \"v\" {{\n  type    = any\n  default = []\n}}\n\nlocals {{\n  x = var.v{}\n}}\n",
        "[0]".repeat(n)
    )
}

/// Before: `[0]` chains were not counted against the parser's depth limit. With 35,000
/// indices `mcpoc check` passed (in 5 s, quadratic in the chain), `mcpoc plan` died with
/// "thread 'main' has overflowed its stack" (SIGABRT), and `mcpoc lsp` died the same way on
/// didOpen without ever answering the hover. After: the chain is cut at the budget with
/// one E0007; check and plan exit 1 and name it; the language server publishes it and
/// answers the hover.
#[test]
fn an_index_chain_of_35000_is_e0007_in_check_plan_and_the_language_server() {
    let text = index_chain(35_000);
    let ws = workspace(&[("main.mcpo", &text)]);
    mcpoc(ws.path(), &["check", "."]).expect("check", 1, "E0007");
    mcpoc(ws.path(), &["plan"]).expect("plan", 1, "E0007");

    let mut c = Client::start(ws.path());
    let path = ws.path().join("main.mcpo");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(&path), "languageId": "mcpo", "version": 1, "text": text}}),
    );
    let diags = c.diagnostics("main.mcpo", Some(1));
    assert!(
        diags.iter().any(|d| d["code"] == "E0007"),
        "no E0007 published: {diags:?}"
    );
    // Deep inside the chain: an answer (whatever it says), not a dead server.
    let hover = c.request_raw(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&path)}, "position": {"line": 6, "character": 2_000}}),
    );
    assert!(hover.get("error").is_none(), "{hover}");
    c.shutdown();
}

/// Every construct that nests the tree, written `n` times inside itself.
const NESTINGS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("index", "", "", "local.v", "[0]", ""),
    ("index keys", "", "local.v[", "0", "]", ""),
    ("attribute access", "", "", "local.v", ".a", ""),
    ("legacy index", "", "", "local.v", ".0", ""),
    ("full splat", "", "", "local.v", "[*]", ""),
    ("attribute splat", "", "", "local.v", ".*", ""),
    ("index of a call", "", "", "tolist([1])", "[0]", ""),
    ("calls", "", "abs(", "1", ")", ""),
    ("negation", "", "-", "1", "", ""),
    ("not", "", "!", "true", "", ""),
    ("addition", "", "1 + ", "1", "", ""),
    ("logic", "", "true && ", "true", "", ""),
    ("conditional", "", "true ? 1 : ", "2", "", ""),
    ("parentheses", "", "(", "1", ")", ""),
    ("tuples", "", "[", "", "]", ""),
    ("objects", "", "{a = ", "1", "}", ""),
    ("for", "", "[for v in [1] : ", "v", "]", ""),
    ("interpolation", "", "\"${", "\"x\"", "}\"", ""),
    ("if directive", "\"", "%{if true}", "x", "%{endif}", "\""),
    (
        "for directive",
        "\"",
        "%{for v in [1]}",
        "x",
        "%{endfor}",
        "\"",
    ),
];

/// Before: only delimiters and operators counted, so index chains, splats and template
/// directives nested without bound into trees that overflowed the checker and the
/// evaluator. After: each construct at 1,000 levels is one E0007 for check and plan, and
/// at 80 levels (within the budget even for `local.v[local.v[...]]`, which spends three
/// units a level: `.`, `[` and its bracket) it is checked and planned without a crash.
#[test]
fn every_nesting_construct_is_bounded_in_check_and_plan() {
    for &(what, prefix, open, leaf, close, suffix) in NESTINGS {
        for n in [80, 1_000] {
            let value = format!(
                "{prefix}{}{leaf}{}{suffix}",
                open.repeat(n),
                close.repeat(n)
            );
            let text = format!(
                "locals {{\n  v = [[1]]\n  x = {value}\n}}\n\noutput \"x\" {{\n  value = local.x\n}}\n"
            );
            let ws = workspace(&[("main.mcpo", &text)]);
            for args in [&["check", "."][..], &["plan"][..]] {
                let run = mcpoc(ws.path(), args);
                let code = run.code;
                assert!(
                    matches!(code, Some(0 | 1)),
                    "{what} x{n}, {args:?}: ended with {code:?}: {}",
                    run.tail()
                );
                assert_eq!(
                    run.output.contains("E0007"),
                    n > 256,
                    "{what} x{n}, {args:?}"
                );
            }
        }
    }
}

/// The same in blocks: `b { b { ... } }`.
#[test]
fn nested_blocks_are_bounded() {
    for n in [120, 35_000] {
        let text = format!("{}a = 1\n{}", "b {\n".repeat(n), "}\n".repeat(n));
        let ws = workspace(&[("main.mcpo", &text)]);
        let run = mcpoc(ws.path(), &["check", "."]);
        assert_eq!(run.code, Some(1), "{n}");
        assert_eq!(run.output.contains("E0007"), n > 256, "{n}");
    }
}
