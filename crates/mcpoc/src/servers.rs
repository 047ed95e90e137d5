//! `mcpoc servers` and `mcpoc schema pull`: the commands that talk to MCP servers, over
//! `mcpo_deploy::pull`, rendered.

use crate::output::{self, Format};
use crate::{EXIT_ERRORS, EXIT_OK};
use clap::{Args, Subcommand};
use mcpo_deploy::pull::{self, ServerSet};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `mcpoc servers`.
#[derive(Debug, Args)]
pub struct ServersArgs {
    /// Workspace directory (default: the current directory).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Connect to each server and report its protocol version, tool count and round-trip
    /// time.
    #[arg(long)]
    pub health: bool,
    /// Also browse mDNS (`_mcp._tcp.local.`) for servers on the local network.
    #[arg(long)]
    pub mdns: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `mcpoc schema ...`
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Connect to every server the workspace uses, store its tool list in
    /// `.mcpo/schemas/<server>.json` and record hashes in `mcpo.lock`.
    Pull {
        /// Workspace directory (default: the current directory).
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
        /// Pull only this server (any declared or discovered server).
        #[arg(long, value_name = "NAME")]
        server: Vec<String>,
        /// Per-server timeout of the whole pull, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
}

/// Runs `fut` until it finishes or a stop signal, which drops it (stopping every server it
/// started) and exits 130 (SIGINT) or 143 (SIGTERM).
fn run_interruptible<F: Future<Output = u8>>(fut: F) -> u8 {
    let Ok(rt) = crate::deploy::runtime() else {
        return crate::EXIT_USAGE;
    };
    mcpo_deploy::interrupt::block_on_until_signal(rt, fut, |signal| {
        eprintln!("interrupted: stopping the servers");
        if signal == "SIGTERM" { 143 } else { 130 }
    })
}

/// The workspace's servers, with the problems of its `server` blocks shown.
fn load_workspace(root: &std::path::Path, mdns: bool) -> Result<ServerSet, u8> {
    let mut set = pull::server_set(root, mdns).map_err(|p| crate::report::problem(&p))?;
    if !set.diagnostics.is_empty() {
        output::print(&mut set.diagnostics, &set.sources, Format::Human);
    }
    Ok(set)
}

/// `mcpoc servers`.
pub fn servers(args: ServersArgs) -> u8 {
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let set = match load_workspace(&root, args.mdns) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // Blocks that cannot be started are not listed; say why.
    let mut cannot_start: Vec<_> = set.specs.diagnostics().collect();
    if !cannot_start.is_empty() {
        output::print(&mut cannot_start, &set.sources, Format::Human);
    }
    for w in &set.registry.warnings {
        eprintln!("warning: {w}");
    }
    let health = args.health;
    run_interruptible(async move {
        let mut healths = Vec::new();
        if health {
            let checks = set.registry.entries.iter().map(|e| pull::health(&e.spec));
            healths = futures::future::join_all(checks).await;
        }
        match args.format {
            Format::Json => println!("{}", pull::servers_json(&set, &healths)),
            Format::Human => {
                let healths = health.then_some(healths.as_slice());
                pull::servers_text(&set, healths)
                    .iter()
                    .for_each(|line| println!("{line}"));
            }
        }
        if healths.iter().any(Result::is_err) {
            EXIT_ERRORS
        } else {
            EXIT_OK
        }
    })
}

/// `mcpoc schema pull`.
pub fn schema(command: SchemaCommand) -> u8 {
    let SchemaCommand::Pull {
        path,
        server,
        timeout,
    } = command;
    let root = path.unwrap_or_else(|| PathBuf::from("."));
    let set = match load_workspace(&root, false) {
        Ok(x) => x,
        Err(code) => return code,
    };
    for w in &set.registry.warnings {
        eprintln!("warning: {w}");
    }
    run_interruptible(async move {
        let mut report = match pull::pull(&root, &set, &server, Duration::from_secs(timeout)).await
        {
            Ok(r) => r,
            Err(p) => return crate::report::problem(&p),
        };
        if !report.cannot_start.is_empty() {
            output::print(&mut report.cannot_start, &set.sources, Format::Human);
        }
        for p in &report.pulled {
            println!("{p}");
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        if report.ok() { EXIT_OK } else { EXIT_ERRORS }
    })
}
