//! `mcpoc init`: a new workspace that checks clean once its schemas are pulled
//! (`mcpo_deploy::scaffold`).

use crate::EXIT_OK;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `mcpoc init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The workspace directory, created when missing (default: the current directory).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Declare the servers found by discovery (Claude Desktop, VS Code and Cursor
    /// configurations, mcpo.toml, MCPO_SERVER_* variables) instead of the twins.
    #[arg(long)]
    pub from_discovery: bool,
}

/// Runs `mcpoc init`.
pub fn init(args: InitArgs) -> u8 {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    let env = mcpo_mcp::discovery::RealEnvironment;
    let discovery: Option<&dyn mcpo_mcp::discovery::Environment> =
        args.from_discovery.then_some(&env as _);
    let made = match mcpo_deploy::scaffold::scaffold(&dir, discovery) {
        Ok(m) => m,
        Err(p) => return crate::report::problem(&p),
    };
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    println!("wrote {}", made.main.display());
    println!("next: {cd}mcpoc schema pull && mcpoc check && mcpoc plan");
    EXIT_OK
}
