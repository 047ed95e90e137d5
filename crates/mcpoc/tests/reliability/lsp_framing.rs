//! Case 7: the language server answers malformed messages and goes on serving.

use crate::lsp_support::{Client, uri};
use crate::support::workspace;
use serde_json::{Value, json};

/// The error response to a message sent raw: its code and id.
fn answer_to(c: &mut Client, body: &[u8]) -> (i64, Value) {
    c.send_raw(body);
    let m = c.wait_message(|m| m.get("error").is_some() && m.get("method").is_none());
    (m["error"]["code"].as_i64().unwrap_or(0), m["id"].clone())
}

/// Before: any well-framed body that was not a valid JSON-RPC 2.0 message (`[1,2,3]`,
/// `{}`, no `"jsonrpc"`, invalid JSON) made `mcpoc lsp` stop reading and exit 0 without an
/// answer (its protocol library ends its input stream at the first decoding error), and
/// an unknown `$/` request got no answer at all. After: each is answered as JSON-RPC 2.0
/// says (-32700 parse error, -32600 invalid request, -32601 for the `$/` request; the
/// message's id when it has a valid one, else null), and the server keeps serving: a
/// hover afterwards is answered and diagnostics still come.
#[test]
fn malformed_messages_are_answered_and_the_server_goes_on() {
    let ws = workspace(&[("main.mcpo", "locals {\n  a = 1\n}\n")]);
    let mut c = Client::start(ws.path());
    let null = Value::Null;
    let cases: &[(&[u8], i64, Value)] = &[
        (b"[1,2,3]", -32600, null.clone()),
        (b"[]", -32600, null.clone()),
        (b"{}", -32600, null.clone()),
        (b"{not json", -32700, null.clone()),
        (b"\xff\xfe", -32700, null.clone()),
        (b"17", -32600, null.clone()),
        (
            br#"{"id":5,"method":"textDocument/hover"}"#,
            -32600,
            json!(5),
        ),
        (
            br#"{"jsonrpc":"1.0","id":"x","method":"a"}"#,
            -32600,
            json!("x"),
        ),
        (
            br#"{"jsonrpc":"2.0","id":1.5,"method":"a"}"#,
            -32600,
            null.clone(),
        ),
        (
            br#"{"jsonrpc":"2.0","id":6,"method":"a","params":3}"#,
            -32600,
            json!(6),
        ),
        (br#"{"jsonrpc":"2.0","id":7}"#, -32600, json!(7)),
        (
            br#"{"jsonrpc":"2.0","id":8,"method":"$/mcpo/unknown"}"#,
            -32601,
            json!(8),
        ),
    ];
    for (body, code, id) in cases {
        let got = answer_to(&mut c, body);
        assert_eq!(
            got,
            (*code, id.clone()),
            "answer to {}",
            String::from_utf8_lossy(body)
        );
    }
    // Deeper than JSON parsers go: a parse error, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(answer_to(&mut c, deep.as_bytes()), (-32700, null));

    // Still serving: edits are checked and requests answered.
    let path = ws.path().join("main.mcpo");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(&path), "languageId": "mcpo", "version": 1, "text": "locals {\n  a = = 1\n}\n"}}),
    );
    let diags = c.diagnostics("main.mcpo", Some(1));
    assert!(diags.iter().any(|d| d["code"] == "E0001"), "{diags:?}");
    let hover = c.request_raw(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&path)}, "position": {"line": 1, "character": 2}}),
    );
    assert!(hover.get("error").is_none(), "{hover}");
    c.shutdown();
}

/// Before: a header block without a usable `Content-Length` ended the input the same way.
/// After: it is answered with a parse error and the next well-framed message is read.
#[test]
fn malformed_headers_are_answered_and_the_next_message_is_read() {
    let ws = workspace(&[("main.mcpo", "locals {\n  a = 1\n}\n")]);
    let mut c = Client::start(ws.path());
    c.send_raw_bytes(b"Content-Length: nine\r\n\r\n");
    let m = c.wait_message(|m| m.get("error").is_some());
    assert_eq!(m["error"]["code"], -32700, "{m}");
    assert_eq!(m["id"], Value::Null, "{m}");
    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri(&ws.path().join("main.mcpo"))}}),
    );
    assert!(symbols.is_array(), "{symbols}");
    c.shutdown();
}
