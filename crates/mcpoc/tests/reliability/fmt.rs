//! Case 6: `mcpoc fmt` is a fixed point with multi-line comments in block headers.

use crate::support::{mcpoc, workspace};

/// Before: `a /* x\n*/ {\n}` gained one space before `{` on every run of `mcpoc fmt`
/// (the blanks after the comment were kept and the printer added its own); the same
/// between labels. After: the second run changes nothing, and `fmt --check` agrees.
#[test]
fn fmt_is_idempotent_with_multi_line_comments_in_block_headers() {
    let text = "a /* x\n*/ {\n}\n\nb \"one\" /* between\n  labels */   \"two\" {\n}\n";
    let ws = workspace(&[("main.mcpo", text)]);
    let path = ws.path().join("main.mcpo");
    mcpoc(ws.path(), &["fmt", "main.mcpo"]).expect("fmt", 0, "");
    let once = std::fs::read_to_string(&path).expect("read");
    mcpoc(ws.path(), &["fmt", "main.mcpo"]).expect("fmt", 0, "");
    let twice = std::fs::read_to_string(&path).expect("read");
    assert_eq!(once, twice);
    mcpoc(ws.path(), &["fmt", "--check", "main.mcpo"]).expect("fmt --check", 0, "");
    // One space before `{`; a header with a comment is otherwise kept as written.
    assert!(
        once.contains("*/ {\n") && once.contains("\"two\" {\n"),
        "{once}"
    );
}
