//! The client against a hostile server (`tests/reliability/hostile_mcp.py`, raw JSON-RPC
//! over stdio): answers too big, too deep, not JSON or of the wrong shape fail their call
//! at once with an error that names the server and the limit, instead of being dropped
//! while the call waits out its whole timeout (60 s). Garbage, answers to ids never sent,
//! floods and slow drips leave the connection working.

use mcpo_mcp::{
    CallOptions, ConnectOptions, Connection, ErrorKind, Lifecycle, McpError, ServerSpec,
};
use serde_json::{Value, json};
use std::time::Duration;

fn hostile(args: &[&str]) -> ServerSpec {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/reliability/hostile_mcp.py"
    );
    let mut all = vec![script];
    all.extend_from_slice(args);
    let mut spec = ServerSpec::stdio("hostile", "python3", &all);
    // Long enough that waiting for it would be noticed: every failure below must come
    // from the answer itself.
    spec.timeout = Some(Duration::from_secs(120));
    spec
}

fn options() -> ConnectOptions {
    ConnectOptions {
        lifecycle: Lifecycle::Initialize,
        ..ConnectOptions::default()
    }
}

async fn connect(spec: &ServerSpec) -> Connection {
    Connection::connect(spec, &options())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn call(c: &Connection, tool: &str, args: Value) -> Result<Value, McpError> {
    let options = CallOptions {
        skip_output_validation: true,
        ..CallOptions::default()
    };
    c.call_tool(tool, args, options)
        .await
        .map(|o| o.structured.unwrap_or(Value::Null))
}

/// The reason of a `BadAnswer`, panicking on anything else (a timeout above all).
fn bad_answer(r: Result<Value, McpError>) -> (String, String) {
    match r {
        Err(
            e @ McpError {
                kind: ErrorKind::BadAnswer { .. },
                ..
            },
        ) => {
            let ErrorKind::BadAnswer { reason } = &e.kind else {
                unreachable!()
            };
            (reason.clone(), e.to_string())
        }
        other => panic!("expected a bad answer, got {other:?}"),
    }
}

async fn still_works(c: &Connection) {
    let echo = call(c, "ok", json!({"n": 1})).await;
    assert_eq!(echo.ok(), Some(json!({"echo": {"n": 1}})));
}

#[tokio::test]
async fn undecodable_answers_fail_their_call_at_once() {
    let c = connect(&hostile(&[])).await;
    let (reason, shown) = bad_answer(call(&c, "oversize", json!({})).await);
    assert!(
        reason.contains("longer than 16 MiB") && reason.contains("max_message_bytes"),
        "{reason}"
    );
    assert!(
        shown.starts_with(
            "server `hostile`, tool `oversize`: the server's answer could not be read"
        ),
        "{shown}"
    );
    still_works(&c).await;

    // The id after the oversized result: the one call in flight is the one that failed.
    let (reason, _) = bad_answer(call(&c, "oversize_late", json!({})).await);
    assert!(reason.contains("without naming the request"), "{reason}");
    still_works(&c).await;

    let (reason, _) = bad_answer(call(&c, "deep", json!({"depth": 5000})).await);
    assert!(reason.contains("nested deeper than 128 levels"), "{reason}");
    still_works(&c).await;

    let (reason, _) = bad_answer(call(&c, "bad_error", json!({})).await);
    assert!(reason.contains("not a valid JSON-RPC answer"), "{reason}");
    still_works(&c).await;

    let (reason, _) = bad_answer(call(&c, "not_json", json!({})).await);
    assert!(reason.contains("not valid JSON"), "{reason}");
    still_works(&c).await;
    c.shutdown().await;
}

#[tokio::test]
async fn only_the_call_whose_answer_is_bad_fails() {
    let c = connect(&hostile(&[])).await;
    let (a, b, bad, d) = tokio::join!(
        call(&c, "slow_drip", json!({"delay": 0.002})),
        call(&c, "ok", json!({"k": "b"})),
        call(&c, "oversize", json!({})),
        call(&c, "flood", json!({"count": 2000})),
    );
    assert!(a.is_ok(), "{a:?}");
    assert_eq!(b.ok(), Some(json!({"echo": {"k": "b"}})));
    bad_answer(bad);
    assert!(d.is_ok(), "{d:?}");
    c.shutdown().await;
}

#[tokio::test]
async fn the_limit_is_set_per_server() {
    let mut spec = hostile(&[]);
    spec.max_message_bytes = Some(1 << 10);
    let c = connect(&spec).await;
    let (reason, _) = bad_answer(call(&c, "ok", json!({"text": "y".repeat(2_000)})).await);
    assert!(reason.contains("longer than 1 KiB"), "{reason}");
    c.shutdown().await;

    let mut spec = hostile(&[]);
    spec.max_message_bytes = Some(32 << 20);
    let c = connect(&spec).await;
    let big = call(&c, "oversize", json!({"bytes": 17 << 20})).await;
    assert!(big.is_ok(), "{:?}", big.err());
    c.shutdown().await;
}

#[tokio::test]
async fn garbage_floods_and_drips_leave_the_connection_working() {
    // A banner on stdout before the handshake is skipped.
    let c = connect(&hostile(&["--banner"])).await;
    assert_eq!(
        call(&c, "garbage", json!({"g": 1})).await.ok(),
        Some(json!({"echo": {"g": 1}}))
    );
    assert!(call(&c, "flood", json!({"count": 20_000})).await.is_ok());
    assert!(call(&c, "slow_drip", json!({"delay": 0.001})).await.is_ok());
    c.shutdown().await;
}

#[tokio::test]
async fn answers_that_never_come_time_out_without_blocking_others() {
    let c = connect(&hostile(&[])).await;
    let short = |tool: &'static str| {
        let c = &c;
        async move {
            let options = CallOptions {
                timeout: Some(Duration::from_secs(1)),
                skip_output_validation: true,
                ..CallOptions::default()
            };
            c.call_tool(tool, json!({}), options).await
        }
    };
    for tool in ["garbage_only", "wrong_id", "silent"] {
        let r = short(tool).await;
        assert!(
            matches!(
                r,
                Err(McpError {
                    kind: ErrorKind::Timeout { .. },
                    ..
                })
            ),
            "{tool}: {r:?}"
        );
        still_works(&c).await;
    }
    c.shutdown().await;
}

#[tokio::test]
async fn undecodable_tool_lists_fail_at_once() {
    let c = connect(&hostile(&["--deep-schema", "5000"])).await;
    let e = c.list_tools().await.expect_err("a 5,000-deep schema");
    assert!(
        matches!(&e.kind, ErrorKind::BadAnswer { reason } if reason.contains("nested deeper")),
        "{e}"
    );
    c.shutdown().await;

    let c = connect(&hostile(&["--oversize-list", "17000000"])).await;
    let e = c.list_tools().await.expect_err("a 17 MB tool list");
    assert!(
        matches!(&e.kind, ErrorKind::BadAnswer { reason } if reason.contains("16 MiB")),
        "{e}"
    );
    c.shutdown().await;
}
