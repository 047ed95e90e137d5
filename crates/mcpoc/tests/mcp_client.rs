//! The MCP client layer (`mcpo-mcp`) against real processes: the twins (`mcpoc twin`,
//! stdio and HTTP, with fault flags), a command that does not exist, scripts that die or
//! print garbage, a fake server with a bad output, and the npm `server-everything` for
//! progress. Every error case asserts the message a user sees.

use mcpo_mcp::{
    CallOptions, ConnectOptions, Connection, ErrorKind, McpError, ServerSpec, Transport,
};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const MCPOC: &str = env!("CARGO_BIN_EXE_mcpoc");

fn twin(name: &str, kind: &str, flags: &[&str]) -> ServerSpec {
    let mut args = vec!["twin", kind, "--seed", "7", "--ready-delay-ms", "0"];
    args.extend_from_slice(flags);
    ServerSpec::stdio(name, MCPOC, &args)
}

fn fake_server() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fake_server.py")
        .display()
        .to_string()
}

fn quick() -> ConnectOptions {
    ConnectOptions {
        handshake_timeout: Duration::from_secs(3),
        discover_timeout: Duration::from_secs(3),
        ..ConnectOptions::default()
    }
}

async fn connect(spec: &ServerSpec) -> Connection {
    Connection::connect(spec, &ConnectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn connect_err(spec: &ServerSpec, options: &ConnectOptions) -> McpError {
    match Connection::connect(spec, options).await {
        Ok(c) => {
            let v = c.protocol_version().to_string();
            c.shutdown().await;
            panic!("connected unexpectedly (protocol {v})")
        }
        Err(e) => e,
    }
}

fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

fn vpc(cidr: &str) -> serde_json::Value {
    json!({"cidr_block": cidr, "name": "test"})
}

#[tokio::test]
async fn twin_over_stdio_lists_tools_and_runs_64_concurrent_calls() {
    let mut spec = twin("aws", "aws", &["--latency-ms", "20"]);
    spec.max_concurrency = Some(16);
    let conn = connect(&spec).await;
    let tools = conn.list_tools().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(tools.iter().any(|t| t.name == "vpc.create"));
    assert!(tools.iter().all(|t| t.output_schema.is_some()));
    let started = Instant::now();
    let calls = (0..64).map(|i| {
        conn.call_tool(
            "vpc.create",
            vpc(&format!("10.{i}.0.0/16")),
            CallOptions::default(),
        )
    });
    let results = futures::future::join_all(calls).await;
    let elapsed = started.elapsed();
    let mut ids = std::collections::BTreeSet::new();
    for r in results {
        let out = r.unwrap_or_else(|e| panic!("{e}"));
        let id = out
            .structured
            .as_ref()
            .and_then(|s| s.get("id"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        ids.insert(id.expect("structured id"));
    }
    assert_eq!(ids.len(), 64);
    // 64 calls of 20 ms with 16 in flight take about 4 x 20 ms, far from 64 x 20 ms.
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    conn.shutdown().await;
}

#[tokio::test]
async fn twin_over_http() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut child = tokio::process::Command::new(MCPOC)
        .args(["twin", "docker", "--http", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("twin starts");
    let spec = ServerSpec::http("docker", format!("http://127.0.0.1:{port}/mcp"));
    let mut conn = None;
    for _ in 0..100 {
        if let Ok(c) = Connection::connect(&spec, &quick()).await {
            conn = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let conn = conn.expect("the HTTP twin answers");
    let tools = conn.list_tools().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        tools.iter().any(|t| t.name.starts_with("network.")),
        "{tools:?}"
    );
    let calls = (0..16).map(|i| {
        conn.call_tool(
            "network.create",
            json!({"name": format!("n{i}")}),
            CallOptions::default(),
        )
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap_or_else(|e| panic!("{e}"));
    }
    conn.shutdown().await;
    let _ = child.kill().await;
}

#[tokio::test]
async fn command_not_found() {
    let spec = ServerSpec::stdio("ghost", "mcpo-no-such-server", &[]);
    let e = connect_err(&spec, &quick()).await;
    assert_eq!(
        e.to_string(),
        "server `ghost`: cannot start: command `mcpo-no-such-server` not found (is it installed and on PATH?)"
    );
}

#[tokio::test]
async fn process_that_exits_at_start_shows_code_and_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = script(
        dir.path(),
        "dies.sh",
        "#!/bin/sh\necho 'starting' >&2\necho 'fatal: OPNSENSE_URL is not set' >&2\nexit 3\n",
    );
    let e = connect_err(&ServerSpec::stdio("opn", &s, &[]), &quick()).await;
    assert_eq!(
        e.to_string(),
        "server `opn`: cannot start: the process exited with code 3 before the MCP handshake; its stderr ended with:\nstarting\nfatal: OPNSENSE_URL is not set"
    );
}

#[tokio::test]
async fn garbage_on_stdout_is_a_handshake_failure() {
    let spec = ServerSpec::stdio("noisy", "python3", &[&fake_server(), "garbage"]);
    let e = connect_err(&spec, &quick()).await;
    let msg = e.to_string();
    assert!(matches!(e.kind, ErrorKind::Handshake { .. }), "{msg}");
    assert!(
        msg.starts_with("server `noisy`: MCP handshake failed: "),
        "{msg}"
    );
}

#[tokio::test]
async fn unknown_protocol_version_is_rejected() {
    let spec = ServerSpec::stdio("old", "python3", &[&fake_server(), "old-protocol"]);
    let e = connect_err(&spec, &quick()).await;
    assert_eq!(
        e.to_string(),
        "server `old`: protocol version not supported: mcpo speaks 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28, the server speaks 1999-01-01"
    );
}

#[tokio::test]
async fn output_that_violates_the_output_schema_names_the_path() {
    let spec = ServerSpec::stdio("fake", "python3", &[&fake_server(), "bad-output"]);
    let conn = connect(&spec).await;
    let e = conn
        .call_tool("count", json!({}), CallOptions::default())
        .await
        .expect_err("an error");
    assert_eq!(
        e.to_string(),
        "server `fake`, tool `count`: the result does not match the tool's outputSchema at `/items/1/n`: \"two\" is not of type \"integer\""
    );
    conn.shutdown().await;
}

#[tokio::test]
async fn hanging_tool_times_out_and_the_connection_stays_usable() {
    let conn = connect(&twin("aws", "aws", &["--hang-tool", "vpc.create"])).await;
    let options = CallOptions {
        timeout: Some(Duration::from_millis(300)),
        ..CallOptions::default()
    };
    let e = conn
        .call_tool("vpc.create", vpc("10.0.0.0/16"), options)
        .await
        .expect_err("a timeout");
    assert_eq!(
        e.to_string(),
        "server `aws`, tool `vpc.create`: timed out after 300ms (the call was cancelled)"
    );
    assert!(e.is_transient());
    // Dropping a call's future cancels it too, and other tools still answer.
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        conn.call_tool("vpc.create", vpc("10.1.0.0/16"), CallOptions::default()),
    )
    .await;
    assert!(dropped.is_err());
    conn.call_tool("vpc.list", json!({}), CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    conn.shutdown().await;
}

#[tokio::test]
async fn tool_errors_carry_the_servers_message() {
    let conn = connect(&twin("aws", "aws", &["--fail-rate", "1"])).await;
    let e = conn
        .call_tool("vpc.create", vpc("10.0.0.0/16"), CallOptions::default())
        .await
        .expect_err("a failure");
    assert!(matches!(e.kind, ErrorKind::ToolFailed { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("server `aws`, tool `vpc.create`: the tool reported an error: "),
        "{e}"
    );
    conn.shutdown().await;

    // Validation failures of the twin come back as isError with its explanation.
    let conn = connect(&twin("aws", "aws", &[])).await;
    let e = conn
        .call_tool("vpc.create", vpc("10.0.0.0/8"), CallOptions::default())
        .await
        .expect_err("a failure");
    assert!(e.to_string().contains("the tool reported an error"), "{e}");
    conn.shutdown().await;
}

#[tokio::test]
async fn server_that_crashes_mid_call() {
    let conn = connect(&twin("aws", "aws", &["--crash-after", "1"])).await;
    conn.call_tool("vpc.create", vpc("10.0.0.0/16"), CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let e = conn
        .call_tool("vpc.create", vpc("10.1.0.0/16"), CallOptions::default())
        .await
        .expect_err("a crash");
    let msg = e.to_string();
    assert!(
        msg.starts_with("server `aws`, tool `vpc.create`: the server crashed during the call: it exited with code 70"),
        "{msg}"
    );
    assert!(e.is_transient());
    conn.shutdown().await;
}

#[tokio::test]
async fn unreachable_http_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let e = connect_err(&ServerSpec::http("k8s", &url), &quick()).await;
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("server `k8s`: cannot connect to {url}: ")),
        "{msg}"
    );
}

#[tokio::test]
async fn resource_subscription_delivers_updates() {
    let conn = connect(&twin("aws", "aws", &[])).await;
    let out = conn
        .call_tool("vpc.create", vpc("10.0.0.0/16"), CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = out
        .structured
        .as_ref()
        .and_then(|s| s.get("id"))
        .and_then(|v| v.as_str())
        .expect("id")
        .to_string();
    let uri = format!("mcpo://vpc/{id}");
    let mut updates = conn.subscribe(&uri).await.unwrap_or_else(|e| panic!("{e}"));
    conn.call_tool(
        "vpc.update",
        json!({"id": id, "cidr_block": "10.0.0.0/16", "name": "renamed"}),
        CallOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let got = tokio::time::timeout(Duration::from_secs(5), updates.next()).await;
    assert_eq!(got.ok().flatten(), Some(uri));
    conn.shutdown().await;
}

#[tokio::test]
async fn progress_notifications_reach_the_caller() {
    let entry = PathBuf::from(std::env::var_os("MCPO_TEST_SERVERS").unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/mcpo-test-servers")
            .into_os_string()
    }))
    .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if !entry.is_file() {
        assert!(
            std::env::var("MCPO_REQUIRE_TEST_SERVERS").is_err(),
            "{} missing",
            entry.display()
        );
        eprintln!(
            "skipped: {} is not installed (run scripts/install-test-servers.sh)",
            entry.display()
        );
        return;
    }
    let spec = ServerSpec::stdio(
        "everything",
        "node",
        &[&entry.display().to_string(), "stdio"],
    );
    let conn = connect(&spec).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let options = CallOptions {
        progress: Some(tx),
        ..CallOptions::default()
    };
    conn.call_tool(
        "trigger-long-running-operation",
        json!({"duration": 1, "steps": 4}),
        options,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Vec::new();
    while let Ok(p) = rx.try_recv() {
        seen.push(p.progress);
    }
    assert_eq!(seen, vec![1.0, 2.0, 3.0, 4.0]);
    conn.shutdown().await;
}

fn processes_in_group(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state ppid pgrp ...
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
            && fields.first() != Some(&"Z")
        {
            out.push(pid);
        }
    }
    out
}

#[tokio::test]
async fn shutdown_and_drop_leave_no_process_behind() {
    // A launcher script that starts the real server as a grandchild, as npx does.
    let dir = tempfile::tempdir().expect("tempdir");
    let launcher = script(
        dir.path(),
        "launch.sh",
        &format!("#!/bin/sh\nexec 3<&0\n{MCPOC} twin aws <&3 &\nwait\n"),
    );
    let spec = ServerSpec::stdio("aws", &launcher, &[]);
    for how in ["shutdown", "drop"] {
        let conn = connect(&spec).await;
        let pgid = conn.pid().expect("pid");
        assert!(processes_in_group(pgid).len() >= 2, "launcher and twin run");
        if how == "shutdown" {
            conn.shutdown().await;
        } else {
            drop(conn);
        }
        let mut left = processes_in_group(pgid);
        for _ in 0..50 {
            if left.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            left = processes_in_group(pgid);
        }
        assert!(left.is_empty(), "after {how}, still running: {left:?}");
    }
}

#[tokio::test]
async fn stateless_lifecycle_with_twins_and_initialize_with_legacy_servers() {
    let conn = connect(&twin("k8s", "kubernetes", &[])).await;
    assert_eq!(conn.protocol_version(), "2026-07-28");
    assert!(conn.is_stateless());
    conn.shutdown().await;
    let options = ConnectOptions {
        lifecycle: mcpo_mcp::Lifecycle::Initialize,
        ..ConnectOptions::default()
    };
    let conn = Connection::connect(&twin("k8s", "kubernetes", &[]), &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(conn.protocol_version(), "2025-11-25");
    assert!(!conn.is_stateless());
    conn.shutdown().await;
    let spec = ServerSpec::stdio("fake", "python3", &[&fake_server(), "bad-output"]);
    let started = Instant::now();
    let conn = connect(&spec).await;
    assert_eq!(conn.protocol_version(), "2025-06-18");
    // The legacy server rejects the discover probe, so there is no fallback delay.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    conn.shutdown().await;
    let _ = Transport::Stdio(Default::default());
}
