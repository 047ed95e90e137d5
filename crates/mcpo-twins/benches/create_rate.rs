//! Benchmark (not a timed test): 1,000 sequential `create` calls over stdio, in calls/s.
//!
//! Run with `cargo bench -p mcpo-twins --bench create_rate`. The bench binary re-executes
//! itself as the twin server (`__twin aws ...`), so the calls cross a real process
//! boundary over stdin/stdout exactly as with `mcpoc twin aws`.

use clap::Parser;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;
use std::time::Instant;

/// The server side: the same arguments as `mcpoc twin`.
#[derive(Parser)]
struct ServerCli {
    #[command(flatten)]
    args: mcpo_twins::TwinArgs,
}

const CALLS: usize = 1000;

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__twin") {
        let cli = ServerCli::parse_from(
            std::iter::once("twin".to_string()).chain(argv.into_iter().skip(2)),
        );
        return mcpo_twins::run(cli.args);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("mcpo-twins-bench-{}", std::process::id()));
        let in_memory = bench(&[]).await?;
        let persisted = bench(&["--state-dir", &dir.display().to_string()]).await?;
        let _ = std::fs::remove_dir_all(&dir);
        println!("twin create over stdio, {CALLS} sequential vpc.create calls:");
        println!("  in memory:              {in_memory:>8.0} calls/s");
        println!("  with --state-dir (JSON): {persisted:>8.0} calls/s");
        Ok(())
    })
}

/// Starts the AWS twin with `extra` flags and returns calls/s for 1,000 creates.
async fn bench(extra: &[&str]) -> anyhow::Result<f64> {
    let exe = std::env::current_exe()?;
    let cmd = tokio::process::Command::new(exe).configure(|c| {
        c.args(["__twin", "aws", "--seed", "1"]).args(extra);
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let client = ().serve(transport).await?;
    let began = Instant::now();
    for i in 0..CALLS {
        let args = json!({ "cidr_block": "10.0.0.0/16", "name": format!("bench-{i}") });
        let params = CallToolRequestParams::new("vpc.create")
            .with_arguments(args.as_object().cloned().unwrap_or_default());
        let result = client.call_tool(params).await?;
        anyhow::ensure!(
            result.is_error != Some(true),
            "vpc.create failed: {:?}",
            result.content
        );
    }
    let rate = CALLS as f64 / began.elapsed().as_secs_f64();
    let _ = client.cancel().await;
    Ok(rate)
}
