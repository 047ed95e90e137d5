//! `mcpoc servers` and `mcpoc schema pull`: the commands that talk to MCP servers.

use crate::output::{self, Format};
use crate::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use clap::{Args, Subcommand};
use mcpo_deploy::servers::{self as workspace, ServerSpecs};
use mcpo_diagnostics::Sources;
use mcpo_mcp::discovery::{DiscoverOptions, RealEnvironment, Registry, discover};
use mcpo_mcp::{ConnectOptions, Connection, ServerSpec};
use mcpo_schema::{Files, LOCK_FILE, Lockfile, schema_path};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Runs `fut` until it finishes or Ctrl-C; on Ctrl-C the future is dropped, which stops
/// every server it started (their process groups are killed), and exits 130.
fn run_interruptible<F: Future<Output = u8>>(fut: F) -> u8 {
    let Some(rt) = runtime() else {
        return EXIT_USAGE;
    };
    let code = rt.block_on(async {
        tokio::select! {
            code = fut => code,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted: stopping the servers");
                130
            }
        }
    });
    // Give the kill tasks of dropped connections a moment to run before exiting.
    rt.shutdown_timeout(Duration::from_secs(3));
    code
}

/// The workspace's `server` blocks with their declarations, the registry of every
/// declared or discovered server, and the sources. Syntax errors and invalid blocks are
/// reported on stderr; blocks that cannot be started are left to the caller
/// ([`ServerSpecs::errors`]).
fn load_workspace(root: &Path, mdns: bool) -> Result<(ServerSpecs, Registry, Sources), String> {
    let (sources, decls, mut diags) = workspace::load(&[root.to_path_buf()])?;
    if diags.iter().any(|d| d.code.as_str().starts_with("E03")) {
        output::print(&mut diags, &sources, Format::Human);
    }
    let own = workspace::server_specs(&decls, &Registry::default(), &sources);
    let registry = discover(
        &RealEnvironment,
        &DiscoverOptions {
            workspace_root: root.to_path_buf(),
            server_blocks: own.used.iter().filter_map(|(_, s)| s.clone()).collect(),
            mdns: mdns.then_some(Duration::from_secs(3)),
        },
    );
    let specs = workspace::server_specs(&decls, &registry, &sources);
    Ok((specs, registry, sources))
}

/// `mcpoc servers`.
pub fn servers(args: ServersArgs) -> u8 {
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let (specs, registry, sources) = match load_workspace(&root, args.mdns) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    // Blocks that cannot be started are not listed; say why.
    let mut cannot_start: Vec<_> = specs.diagnostics().collect();
    if !cannot_start.is_empty() {
        output::print(&mut cannot_start, &sources, Format::Human);
    }
    for w in &registry.warnings {
        eprintln!("warning: {w}");
    }
    let health = args.health;
    run_interruptible(async move {
        let mut healths = Vec::new();
        if health {
            let checks = registry.entries.iter().map(|e| check_health(&e.spec));
            healths = futures::future::join_all(checks).await;
        }
        let unresolved: Vec<&mcpo_sema::ServerDecl> = specs
            .used
            .iter()
            .filter(|(_, spec)| spec.is_none())
            .map(|(b, _)| b)
            .collect();
        match args.format {
            Format::Json => {
                let servers: Vec<_> = registry
                    .entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        let mut v = json!({
                            "name": e.spec.name,
                            "source": e.spec.source.kind(),
                            "from": e.spec.source.detail(),
                            "transport": e.spec.transport_kind(),
                            "target": e.spec.target(),
                            "shadowed": e.shadowed.iter().map(|s| json!({"source": s.kind(), "from": s.detail()})).collect::<Vec<_>>(),
                        });
                        if let Some(h) = healths.get(i) {
                            v["health"] = h.to_json();
                        }
                        v
                    })
                    .collect();
                let doc = json!({
                    "version": 1,
                    "servers": servers,
                    "undeclared": unresolved.iter().map(|b| b.name.clone()).collect::<Vec<_>>(),
                    "warnings": registry.warnings,
                });
                println!("{doc}");
            }
            Format::Human => {
                let mut rows = vec![vec![
                    "NAME".to_string(),
                    "SOURCE".into(),
                    "TRANSPORT".into(),
                    "TARGET".into(),
                ]];
                if health {
                    rows[0].extend(["PROTOCOL".into(), "TOOLS".into(), "RTT".into()]);
                }
                for (i, e) in registry.entries.iter().enumerate() {
                    let mut row = vec![
                        e.spec.name.clone(),
                        e.spec.source.to_string(),
                        e.spec.transport_kind().into(),
                        e.spec.target(),
                    ];
                    if let Some(h) = healths.get(i) {
                        match &h.result {
                            Ok((proto, tools, rtt)) => row.extend([
                                proto.clone(),
                                tools.to_string(),
                                format!("{}ms", rtt.as_millis()),
                            ]),
                            Err(_) => row.extend(["-".into(), "-".into(), "-".into()]),
                        }
                    }
                    rows.push(row);
                }
                print_table(&rows);
                for e in &registry.entries {
                    for s in &e.shadowed {
                        println!("note: `{}` is also declared in {s} (ignored)", e.spec.name);
                    }
                }
                for (i, h) in healths.iter().enumerate() {
                    if let (Err(e), Some(entry)) = (&h.result, registry.entries.get(i)) {
                        let _ = entry;
                        println!("error: {e}");
                    }
                }
                for b in &unresolved {
                    println!(
                        "warning: server `{}` has no `command` or `url` and no source declares it",
                        b.name
                    );
                }
            }
        }
        if healths.iter().any(|h| h.result.is_err()) {
            EXIT_ERRORS
        } else {
            EXIT_OK
        }
    })
}

fn print_table(rows: &[Vec<String>]) {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let w = widths.get(c).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", line.trim_end());
    }
}

struct Health {
    result: Result<(String, usize, Duration), mcpo_mcp::McpError>,
}

impl Health {
    fn to_json(&self) -> serde_json::Value {
        match &self.result {
            Ok((proto, tools, rtt)) => json!({
                "ok": true,
                "protocol_version": proto,
                "tools": tools,
                "rtt_ms": rtt.as_secs_f64() * 1000.0,
            }),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        }
    }
}

async fn check_health(spec: &ServerSpec) -> Health {
    let options = ConnectOptions {
        handshake_timeout: Duration::from_secs(20),
        ..ConnectOptions::default()
    };
    let conn = match Connection::connect(spec, &options).await {
        Ok(c) => c,
        Err(e) => return Health { result: Err(e) },
    };
    let started = Instant::now();
    let tools = conn.list_tools().await;
    let rtt = started.elapsed();
    let proto = conn.protocol_version().to_string();
    conn.shutdown().await;
    Health {
        result: tools.map(|t| (proto, t.len(), rtt)),
    }
}

/// `mcpoc schema pull`.
pub fn schema(command: SchemaCommand) -> u8 {
    let SchemaCommand::Pull {
        path,
        server,
        timeout,
    } = command;
    let root = path.unwrap_or_else(|| PathBuf::from("."));
    let (specs, registry, sources) = match load_workspace(&root, false) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    // Blocks that cannot be started fail the pull when they are pulled.
    let mut cannot_start: Vec<_> = specs
        .errors
        .iter()
        .filter(|(name, _)| server.is_empty() || server.contains(name))
        .map(|(_, d)| d.clone())
        .collect();
    if !cannot_start.is_empty() {
        output::print(&mut cannot_start, &sources, Format::Human);
    }
    for w in &registry.warnings {
        eprintln!("warning: {w}");
    }
    // Which servers: those named with --server, else every server block (with its
    // discovered declaration when the block has no transport).
    let mut targets: Vec<ServerSpec> = Vec::new();
    let mut failed = !cannot_start.is_empty();
    if server.is_empty() {
        for (block, spec) in specs.used.iter().cloned() {
            match spec {
                Some(s) => targets.push(s),
                None => {
                    eprintln!(
                        "error: server `{}` has no `command` or `url` and no source declares it",
                        block.name
                    );
                    failed = true;
                }
            }
        }
        if specs.used.is_empty() && specs.errors.is_empty() {
            eprintln!(
                "error: no `server` blocks under `{}`; name servers with --server (see `mcpoc servers`)",
                root.display()
            );
            return EXIT_USAGE;
        }
    } else {
        for name in &server {
            if specs.errors.iter().any(|(n, _)| n == name) {
                continue; // reported above
            }
            match registry.get(name) {
                Some(s) => targets.push(s.clone()),
                None => {
                    eprintln!(
                        "error: no server `{name}` is declared or discovered (see `mcpoc servers`)"
                    );
                    return EXIT_USAGE;
                }
            }
        }
    }
    let limit = Duration::from_secs(timeout.max(1));
    run_interruptible(async move {
        let pulls = targets.iter().map(|spec| async move {
            let started = Instant::now();
            let options = ConnectOptions {
                handshake_timeout: limit,
                ..ConnectOptions::default()
            };
            let r = match tokio::time::timeout(limit, mcpo_mcp::pull(spec, &options)).await {
                Ok(r) => r,
                Err(_) => Err(mcpo_mcp::McpError::new(
                    &spec.name,
                    mcpo_mcp::ErrorKind::Timeout { after: limit },
                )),
            };
            (spec, r, started.elapsed())
        });
        let results = futures::future::join_all(pulls).await;
        let store = mcpo_schema::DiskFiles::new(&root);
        let mut lock = match store.read(Path::new(LOCK_FILE)) {
            Ok(Some(text)) => Lockfile::from_file_text(&text).unwrap_or_default(),
            _ => Lockfile::default(),
        };
        let mut wrote = false;
        for (spec, result, took) in results {
            match result {
                Ok(schema) => {
                    let path = schema_path(&spec.name);
                    if let Err(e) = store.write(&path, &schema.to_file_text()) {
                        eprintln!(
                            "error: cannot write `{}`: {}",
                            path.display(),
                            mcpo_deploy::files::io_reason(&e)
                        );
                        failed = true;
                        continue;
                    }
                    lock.servers.insert(
                        spec.name.clone(),
                        mcpo_schema::LockEntry {
                            identity: schema.identity.clone(),
                            protocol_version: schema.protocol_version.clone(),
                            server_info: schema.server_info.clone(),
                            tools: schema.tools.len(),
                            schema_hash: schema.hash(),
                        },
                    );
                    wrote = true;
                    println!(
                        "pulled {}: {} tools, {} resource templates (protocol {}) in {:.1}s -> {}",
                        spec.name,
                        schema.tools.len(),
                        schema.resource_templates.len(),
                        schema.protocol_version,
                        took.as_secs_f64(),
                        path.display()
                    );
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    failed = true;
                }
            }
        }
        if wrote && let Err(e) = store.write(Path::new(LOCK_FILE), &lock.to_file_text()) {
            eprintln!(
                "error: cannot write `{LOCK_FILE}`: {}",
                mcpo_deploy::files::io_reason(&e)
            );
            failed = true;
        }
        if failed { EXIT_ERRORS } else { EXIT_OK }
    })
}
