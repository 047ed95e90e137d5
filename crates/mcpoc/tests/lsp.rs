//! `mcpoc lsp` end to end: the binary as a separate process, driven over stdio with real
//! LSP JSON-RPC messages, on the fixture workspace `tests/lsp/ws`.

mod lsp_support;

use lsp_support::{Client, pos, uri, workspace};
use serde_json::{Value, json};

fn doc(c: &Client, file: &str) -> Value {
    json!({"uri": uri(&c.root.join(file))})
}

#[test]
fn a_workspace_error_is_published_at_its_range_and_clears_when_fixed() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    // Published for files on disk, without opening them.
    let diags = c.diagnostics("typo.mcpo", None);
    let unknown = diags
        .iter()
        .find(|d| d["code"] == "E0103")
        .unwrap_or_else(|| panic!("no E0103 in {diags:?}"));
    assert_eq!(
        unknown["range"],
        json!({"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 11}})
    );
    assert_eq!(unknown["severity"], 1);
    assert_eq!(unknown["source"], "mcpo");
    assert!(
        unknown["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("unknown attribute `cidr_blok`")),
        "{unknown}"
    );
    assert!(
        unknown["codeDescription"]["href"]
            .as_str()
            .is_some_and(|h| h.ends_with("codes.html#e0103-unknown-attribute")),
        "{unknown}"
    );
    // The clean files have none.
    assert_eq!(c.diagnostics("network.mcpo", None), Vec::<Value>::new());

    // Fix it in the editor: the diagnostics of that version are empty.
    let text = c.open("typo.mcpo");
    c.change("typo.mcpo", 2, &text.replace("cidr_blok", "cidr_block"));
    assert_eq!(c.diagnostics("typo.mcpo", Some(2)), Vec::<Value>::new());

    // Break another file through this one: renaming the VPC breaks its references.
    let net = c.open("network.mcpo");
    c.change("network.mcpo", 2, &net.replace("\"main\"", "\"core\""));
    // (app.mcpo was published clean at start; the next publish reports the references.)
    let _ = c.diagnostics("app.mcpo", None);
    let app = c.diagnostics("app.mcpo", None);
    assert!(
        app.iter().filter(|d| d["code"] == "E0106").count() == 2,
        "both references to the renamed VPC are reported: {app:?}"
    );
    c.shutdown();
}

#[test]
fn formatting_uses_the_formatter_of_mcpoc_fmt() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let text = c.open("network.mcpo");
    let messy = text.replace("cidr_block = ", "cidr_block=");
    c.change("network.mcpo", 2, &messy);
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": doc(&c, "network.mcpo"), "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let edits = edits.as_array().cloned().unwrap_or_default();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0]["newText"], text.as_str());
    // Already formatted: nothing to do.
    c.change("network.mcpo", 3, &text);
    let none = c.request(
        "textDocument/formatting",
        json!({"textDocument": doc(&c, "network.mcpo"), "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(none, Value::Null);
    let _ = pos;
    c.shutdown();
}
