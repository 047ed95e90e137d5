//! Case 8: answers the MCP client cannot decode, from the hostile server fixture
//! (`tests/reliability/hostile_mcp.py`), through `mcpoc`. The client's own behaviour
//! against each kind of misbehaviour (garbage, oversize, deep, wrong ids, floods, slow
//! drip) is tested in `crates/mcpo-mcp/tests/hostile.rs`.

use crate::support::{mcpoc, workspace};

fn server_block(extra: &[&str]) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reliability/hostile_mcp.py"
    );
    let mut args = vec![format!("{script:?}")];
    args.extend(extra.iter().map(|a| format!("{a:?}")));
    format!(
        "server \"hostile\" {{\n  command = \"python3\"\n  args    = [{}]\n}}\n",
        args.join(", ")
    )
}

/// Before: a tool answer of 16 MB or more was dropped by the client, and the step waited
/// out the whole call timeout (60 s) before failing with E0603 "timed out". After: the
/// step fails as soon as the answer crosses the limit, with E0604 naming the server, the
/// tool and the limit.
#[test]
fn an_oversized_answer_fails_its_step_at_once() {
    let text = format!(
        "{}\ntask \"hostile.oversize\" \"big\" {{\n}}\n",
        server_block(&[])
    );
    let ws = workspace(&[("main.mcpo", &text)]);
    mcpoc(ws.path(), &["schema", "pull"]).expect("schema pull", 0, "pulled hostile");
    let run = mcpoc(ws.path(), &["apply", "--auto-approve"]);
    run.expect("apply", 1, "error[E0604]");
    for needle in [
        "server `hostile`, tool `oversize`",
        "16 MiB",
        "max_message_bytes",
    ] {
        assert!(run.output.contains(needle), "no {needle}: {}", run.output);
    }
    assert!(!run.output.contains("timed out"), "{}", run.output);
}

/// Before: a `tools/list` answer holding a 5,000-deep input schema was dropped (deeper
/// than the JSON decoder goes) and `schema pull` waited for its timeout. After: it fails
/// at once, saying why.
#[test]
fn a_5000_deep_tool_schema_fails_schema_pull_at_once() {
    let ws = workspace(&[("main.mcpo", &server_block(&["--deep-schema", "5000"]))]);
    let run = mcpoc(ws.path(), &["schema", "pull"]);
    run.expect("schema pull", 1, "server `hostile`");
    assert!(
        run.output.contains("nested deeper than 128 levels"),
        "{}",
        run.output
    );
}
