//! The client against real third-party MCP servers from npm
//! (`@modelcontextprotocol/server-memory`, `@modelcontextprotocol/server-everything`, the
//! latter over stdio and streamable HTTP). Installed by `scripts/install-test-servers.sh`.

mod common;

use mcpo_mcp::{CallOptions, ConnectOptions, Connection, ServerSpec, StdioSpec, Transport};
use serde_json::json;
use std::time::{Duration, Instant};

fn memory_spec(dir: &std::path::Path) -> Option<ServerSpec> {
    let entry = common::npm_server("server-memory")?;
    let mut spec = ServerSpec::stdio("memory", "node", &[&entry]);
    if let Transport::Stdio(s) = &mut spec.transport {
        s.env.insert(
            "MEMORY_FILE_PATH".into(),
            dir.join("memory.jsonl").display().to_string(),
        );
    }
    Some(spec)
}

#[tokio::test]
async fn memory_server_lists_tools_and_answers_concurrent_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut spec) = memory_spec(dir.path()) else {
        return;
    };
    // server-memory rewrites its whole file on every call, so concurrent writes would
    // lose entities: its limit is 1, and the semaphore queues the 16 calls issued at once.
    spec.max_concurrency = Some(1);
    for lifecycle in [mcpo_mcp::Lifecycle::Initialize, mcpo_mcp::Lifecycle::Auto] {
        let options = ConnectOptions {
            lifecycle,
            ..ConnectOptions::default()
        };
        let c = Connection::connect(&spec, &options)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "memory: {lifecycle:?} handshake took {:?}",
            c.handshake_time()
        );
        c.shutdown().await;
    }
    let started = Instant::now();
    let conn = Connection::connect(&spec, &ConnectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "memory: connected in {:?} with protocol {}",
        started.elapsed(),
        conn.protocol_version()
    );
    // A legacy server rejects the discover probe at once: no fallback delay.
    assert!(
        conn.handshake_time() < Duration::from_secs(5),
        "{:?}",
        conn.handshake_time()
    );
    let tools = conn.list_tools().await.unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"create_entities"), "{names:?}");
    assert!(names.contains(&"read_graph"), "{names:?}");

    let calls = (0..16).map(|i| {
        conn.call_tool(
            "create_entities",
            json!({"entities": [{"name": format!("e{i}"), "entityType": "thing", "observations": []}]}),
            CallOptions::default(),
        )
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap_or_else(|e| panic!("{e}"));
    }
    let graph = conn
        .call_tool("read_graph", json!({}), CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = graph
        .structured
        .as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| graph.text());
    for i in 0..16 {
        assert!(text.contains(&format!("\"e{i}\"")), "{text}");
    }
    conn.shutdown().await;
}

#[tokio::test]
async fn everything_server_over_stdio_and_http() {
    let Some(entry) = common::npm_server("server-everything") else {
        return;
    };
    let spec = ServerSpec::stdio("everything", "node", &[&entry, "stdio"]);
    let conn = Connection::connect(&spec, &ConnectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let tools = conn.list_tools().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(tools.iter().any(|t| t.name == "echo"), "{tools:?}");
    let out = conn
        .call_tool("echo", json!({"message": "hi"}), CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.text().contains("hi"), "{out:?}");
    conn.shutdown().await;

    let port = common::free_port();
    let mut spec = ServerSpec::stdio("everything-http", "node", &[&entry, "streamableHttp"]);
    if let Transport::Stdio(StdioSpec { env, .. }) = &mut spec.transport {
        env.insert("PORT".into(), port.to_string());
    }
    let mut child = tokio::process::Command::new("node")
        .args([&entry, "streamableHttp"])
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let http = ServerSpec::http("everything", &url);
    let mut conn = None;
    for _ in 0..100 {
        match Connection::connect(&http, &ConnectOptions::default()).await {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let conn = conn.expect("server-everything answers over HTTP");
    let tools = conn.list_tools().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(tools.iter().any(|t| t.name == "echo"));
    let calls = (0..8).map(|i| {
        conn.call_tool(
            "echo",
            json!({"message": format!("m{i}")}),
            CallOptions::default(),
        )
    });
    for (i, r) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        let out = r.unwrap_or_else(|e| panic!("{e}"));
        assert!(out.text().contains(&format!("m{i}")), "{out:?}");
    }
    conn.shutdown().await;
    let _ = child.kill().await;
}
