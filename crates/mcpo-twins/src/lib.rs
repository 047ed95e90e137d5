//! Twin MCP servers: OPNsense, AWS, Docker and Kubernetes simulated well enough to test
//! mcpo end to end on a machine with no cloud account.
//!
//! Every twin follows the mcpo resource convention (`T.create`, `T.read`, `T.update`,
//! `T.delete`, `T.list` with input and output schemas), keeps its state in one JSON file
//! in `--state-dir`, publishes each resource as `mcpo://<type>/<id>` with subscriptions,
//! and injects faults on request. Stdout belongs to the protocol: logs go to stderr.

mod aws;
mod aws_ops;
mod check;
mod docker;
mod faults;
mod http;
mod kind;
mod kubernetes;
mod net;
mod opnsense;
mod server;
mod shape;
mod store;

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;

/// Which twin to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TwinKind {
    /// The OPNsense firewall twin.
    Opnsense,
    /// The AWS twin.
    Aws,
    /// The Docker engine twin.
    Docker,
    /// The Kubernetes cluster twin.
    Kubernetes,
}

impl TwinKind {
    /// The twin's short name (`aws`, ...), also the name of its state file.
    pub fn name(self) -> &'static str {
        match self {
            TwinKind::Opnsense => "opnsense",
            TwinKind::Aws => "aws",
            TwinKind::Docker => "docker",
            TwinKind::Kubernetes => "kubernetes",
        }
    }
}

/// Command-line arguments of `mcpoc twin`.
#[derive(Debug, Clone, Args)]
pub struct TwinArgs {
    /// Which twin server to run.
    #[arg(value_enum)]
    pub kind: TwinKind,
    /// Directory where the twin keeps its state (survives restarts); in memory if absent.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8931; port 0 picks a free
    /// port, printed on stderr) instead of stdio.
    #[arg(long)]
    pub http: Option<String>,
    /// Add latency to every tool call: MEAN[,JITTER] milliseconds (uniform in MEAN±JITTER).
    #[arg(long, value_name = "MEAN[,JITTER]", value_parser = faults::parse_latency)]
    pub latency_ms: Option<(u64, u64)>,
    /// Fail this fraction of tool calls (0 to 1) with a transient error, changing nothing.
    #[arg(long, value_name = "P", value_parser = faults::parse_rate)]
    pub fail_rate: Option<f64>,
    /// Exit the process (status 70) when tool call number N+1 arrives, without answering it.
    #[arg(long, value_name = "N")]
    pub crash_after: Option<u64>,
    /// Never answer calls to this tool (e.g. `vpc.create`).
    #[arg(long, value_name = "NAME")]
    pub hang_tool: Option<String>,
    /// Seed for ids, latency jitter and failures: the same seed and calls give the same ids.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// How long pending -> running style transitions take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub ready_delay_ms: u64,
}

/// Runs a twin until its client disconnects (stdio) or the process is stopped (HTTP).
pub fn run(args: TwinArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(args))
}

/// The resource types of one twin, in dependency order.
fn types_of(kind: TwinKind) -> Result<Vec<kind::TypeDef>, String> {
    match kind {
        TwinKind::Opnsense => opnsense::types(),
        TwinKind::Aws => aws::types(),
        TwinKind::Docker => docker::types(),
        TwinKind::Kubernetes => kubernetes::types(),
    }
}

/// The tools `kind` publishes, as the JSON objects its `tools/list` answers with, in
/// name order. Tests compare them with the pulled schema fixtures in the repository.
pub fn published_tools(kind: TwinKind) -> Result<Vec<serde_json::Value>, String> {
    let mut tools = Vec::new();
    for def in types_of(kind)? {
        for tool in server::tools_of(&def) {
            tools.push(serde_json::to_value(&tool).map_err(|e| e.to_string())?);
        }
    }
    tools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(tools)
}

fn title_of(kind: TwinKind) -> &'static str {
    match kind {
        TwinKind::Opnsense => "OPNsense firewall twin",
        TwinKind::Aws => "AWS twin (us-east-1, account 123456789012)",
        TwinKind::Docker => "Docker engine twin",
        TwinKind::Kubernetes => "Kubernetes cluster twin",
    }
}

async fn serve(args: TwinArgs) -> anyhow::Result<()> {
    use rmcp::ServiceExt;

    let name = args.kind.name();
    let seed = args
        .seed
        .unwrap_or_else(|| store::splitmix64(store::now_ms() ^ u64::from(std::process::id())));
    let world = store::World::load(args.state_dir.as_deref(), name, seed, args.ready_delay_ms)?;
    let faults = faults::Faults::new(
        args.latency_ms.unwrap_or((0, 0)),
        args.fail_rate.unwrap_or(0.0),
        args.crash_after,
        args.hang_tool.clone(),
        seed,
    );
    let types = types_of(args.kind).map_err(|e| {
        anyhow::anyhow!("internal error: a tool schema of the {name} twin is invalid: {e}")
    })?;
    let shared = server::Shared::new(name, title_of(args.kind), types, world, faults);
    tokio::spawn(Arc::clone(&shared).watch());
    match &args.http {
        Some(addr) => http::serve(shared, addr).await,
        None => {
            eprintln!("mcpo twin {name}: serving MCP on stdio");
            let running = server::Twin::new(shared)
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| anyhow::anyhow!("the MCP session did not start: {e}"))?;
            running
                .waiting()
                .await
                .map_err(|e| anyhow::anyhow!("the MCP session ended with an error: {e}"))?;
            Ok(())
        }
    }
}
