//! Twin MCP servers: OPNsense, AWS, Docker and Kubernetes simulated well enough to test
//! mcpo end to end on a machine with no cloud account.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

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

/// Command-line arguments of `mcpoc twin`.
#[derive(Debug, Clone, Args)]
pub struct TwinArgs {
    /// Which twin server to run.
    #[arg(value_enum)]
    pub kind: TwinKind,
    /// Directory where the twin keeps its state (survives restarts).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8931) instead of stdio.
    #[arg(long)]
    pub http: Option<String>,
}

/// Runs a twin until its client disconnects (stdio) or the process is stopped (HTTP).
pub fn run(args: TwinArgs) -> anyhow::Result<()> {
    anyhow::bail!("the {:?} twin is not built yet", args.kind)
}
