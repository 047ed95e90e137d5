//! Tool calls per second through mcpo's MCP client (`mcpo-mcp`) against a twin with zero
//! latency: sequential, and with 64 calls in flight on one connection. Not a timed test;
//! run it with `cargo bench -p mcpo-bench --bench mcp_calls` (it builds nothing itself:
//! it uses the `mcpoc` binary from `MCPOC`, else `target/release/mcpoc`, else
//! `target/debug/mcpoc`; build one first with `cargo build --release -p mcpoc`).

use mcpo_mcp::{CallOptions, ConnectOptions, Connection, ServerSpec};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

fn mcpoc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MCPOC") {
        return Some(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("mcpoc"))
        .find(|p| p.is_file())
}

async fn run(spec: &ServerSpec, label: &str, total: usize, in_flight: usize) {
    let conn = match Connection::connect(spec, &ConnectOptions::default()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    // Warm up (and load the tool list used for output validation).
    for _ in 0..50 {
        let _ = conn
            .call_tool("vpc.list", json!({}), CallOptions::default())
            .await;
    }
    let started = Instant::now();
    let mut failures = 0usize;
    if in_flight <= 1 {
        for _ in 0..total {
            if conn
                .call_tool("vpc.list", json!({}), CallOptions::default())
                .await
                .is_err()
            {
                failures += 1;
            }
        }
    } else {
        use futures::stream::{self, StreamExt};
        let results: Vec<_> = stream::iter(0..total)
            .map(|_| conn.call_tool("vpc.list", json!({}), CallOptions::default()))
            .buffer_unordered(in_flight)
            .collect()
            .await;
        failures = results.iter().filter(|r| r.is_err()).count();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{label:<34} {total:>6} calls in {secs:>6.2}s = {:>8.0} calls/s ({failures} failed)",
        total as f64 / secs
    );
    conn.shutdown().await;
}

fn main() {
    let Some(bin) = mcpoc() else {
        eprintln!("no mcpoc binary: run `cargo build --release -p mcpoc` first");
        return;
    };
    let quick = std::env::args().any(|a| a == "--quick");
    let (seq, par) = if quick { (500, 2000) } else { (3000, 20000) };
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    println!("mcpoc: {}", bin.display());
    let bin = bin.display().to_string();
    let mut spec = ServerSpec::stdio("aws", &bin, &["twin", "aws", "--seed", "1"]);
    spec.max_concurrency = Some(64);
    rt.block_on(async {
        run(&spec, "stdio, sequential", seq, 1).await;
        run(&spec, "stdio, 64 in flight", par, 64).await;
    });
}
