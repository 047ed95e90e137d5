//! mcpo as an MCP server (`mcpoc serve`): an AI client (Claude Desktop, VS Code, Cursor)
//! gets typed tools over the workspace the server is started in, and a person approves
//! every change.
//!
//! - [`server`]: the tools (`list_patterns`, `describe_pattern`, `describe_type`, `check`,
//!   `plan`, `apply`, `destroy`, `query`, `modify`, `troubleshoot`) with input and output
//!   schemas, approval by elicitation (both protocol eras) or `mcpoc approve`, prompts and
//!   `mcpo://` resources;
//! - [`ops`]: what each tool does, over the deployment session of `mcpo-deploy` (nothing
//!   about deploying is decided here);
//! - [`parked`]: runbook runs waiting for a 2026-07-28 client's answer (`input_required`
//!   round trips), and their expiry;
//! - [`store`]: plans, approvals and the audit journal under `.mcpo/serve/`;
//! - [`source`]: `use` blocks written and edited from JSON params;
//! - [`http`]: streamable HTTP with a bearer token and Host/Origin checks.
//!
//! **Architecture invariant:** a front end of `mcpo-deploy` like the CLI: it renders and
//! transports, and holds no deployment rule. It writes nothing on stdout in stdio mode
//! (the protocol's channel); its log goes to stderr.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod describe;
pub mod http;
pub mod ops;
pub mod parked;
pub mod server;
pub mod source;
pub mod store;
pub mod tools;

use clap::{Args, ValueEnum};
use mcpo_deploy::{Approval, ApprovalRequest, Approver, Problem};
use mcpo_diagnostics::codes;
use rmcp::ServiceExt;
use std::path::{Path, PathBuf};

/// A client `--print-config` writes a registration snippet for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientKind {
    /// Claude Desktop (`claude_desktop_config.json`, `mcpServers`).
    Claude,
    /// VS Code (`.vscode/mcp.json`, `servers`).
    Vscode,
    /// Cursor (`.cursor/mcp.json`, `mcpServers`).
    Cursor,
}

/// Arguments of `mcpoc serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The workspace to serve (default: the current directory).
    #[arg(long = "dir", short = 'C', value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Serve streamable HTTP at ADDR (`127.0.0.1:8940`, or a port alone, which binds
    /// 127.0.0.1) instead of stdio. Requests need `Authorization: Bearer <token>`: the
    /// token is `MCPO_SERVE_TOKEN`, else a new one written to `.mcpo/serve/token`.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Print the snippet that registers this workspace's mcpo with a client, and exit.
    #[arg(long, value_enum, value_name = "CLIENT")]
    pub print_config: Option<ClientKind>,
    /// How long a person has to answer an approval dialog. A runbook run waiting for an
    /// answer from a 2026-07-28 client holds the state lock; unanswered after this long,
    /// it stops, journalled as interrupted (`mcpoc run NAME --resume` continues it).
    #[arg(long, value_name = "DURATION", value_parser = mcpo_deploy::backend::lock_timeout, default_value = "15m")]
    pub approval_timeout: std::time::Duration,
}

/// Arguments of `mcpoc approve`.
#[derive(Debug, Clone, Args)]
pub struct ApproveArgs {
    /// The plan to approve (the `plan_id` the AI client shows). Without it, the plans
    /// waiting for approval are listed.
    #[arg(value_name = "PLAN_ID")]
    pub plan_id: Option<String>,
    /// The workspace (default: the current directory).
    #[arg(long = "dir", short = 'C', value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The snippet registering `mcpoc serve` for `root` with `client`.
pub fn client_config(client: ClientKind, root: &Path, mcpoc: &str) -> String {
    let dir = root.display().to_string();
    let entry = serde_json::json!({
        "command": mcpoc,
        "args": ["serve", "--dir", dir],
    });
    let (file, doc) = match client {
        ClientKind::Claude => (
            "claude_desktop_config.json (Settings > Developer > Edit Config)",
            serde_json::json!({ "mcpServers": { "mcpo": entry } }),
        ),
        ClientKind::Vscode => {
            let mut e = entry;
            if let Some(o) = e.as_object_mut() {
                o.insert("type".into(), "stdio".into());
            }
            (
                ".vscode/mcp.json",
                serde_json::json!({ "servers": { "mcpo": e } }),
            )
        }
        ClientKind::Cursor => (
            ".cursor/mcp.json (or ~/.cursor/mcp.json)",
            serde_json::json!({ "mcpServers": { "mcpo": entry } }),
        ),
    };
    format!(
        "// {file}\n{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}

/// The listening address of `--http ADDR`: a port alone binds 127.0.0.1.
pub fn listen_address(addr: &str) -> String {
    let addr = addr.trim();
    if addr.bytes().all(|b| b.is_ascii_digit()) && !addr.is_empty() {
        format!("127.0.0.1:{addr}")
    } else if let Some(port) = addr.strip_prefix(':') {
        format!("127.0.0.1:{port}")
    } else {
        addr.to_string()
    }
}

/// The bearer token: `MCPO_SERVE_TOKEN`, else a new random one saved owner-only in
/// `.mcpo/serve/token` for the person to give their client.
fn token(root: &Path) -> Result<(String, Option<PathBuf>), String> {
    if let Ok(t) = std::env::var("MCPO_SERVE_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok((t.trim().to_string(), None));
    }
    let mut bytes = [0u8; 24];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read random bytes for the token: {e}"))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let dir = root.join(store::SERVE_DIR);
    let path = dir.join("token");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(token.as_bytes())
    };
    write().map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok((token, Some(path)))
}

/// `mcpoc serve`: serves until the client disconnects (stdio) or the process is stopped
/// (HTTP). Returns the exit code.
pub fn run(args: ServeArgs) -> u8 {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let root = mcpo_deploy::load::find_root(&dir);
    if let Some(client) = args.print_config {
        let abs = std::fs::canonicalize(&root).unwrap_or(root);
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "mcpoc".into());
        print!("{}", client_config(client, &abs, &exe));
        return 0;
    }
    // Relative names (`main.mcpo`) in diagnostics and plans, and `server` blocks' processes
    // started in the workspace, as the CLI run from the workspace does.
    if let Err(e) = std::env::set_current_dir(&root) {
        eprintln!(
            "error: cannot enter the workspace `{}`: {e}",
            root.display()
        );
        return 2;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 2;
        }
    };
    let shared = server::Shared::new(
        ops::Workspace::new(PathBuf::from(".")),
        args.approval_timeout,
    );
    let result = runtime.block_on(async move {
        match &args.http {
            None => {
                let running = server::McpoServer::new(shared)
                    .serve(rmcp::transport::stdio())
                    .await
                    .map_err(|e| format!("the MCP session could not start: {e}"))?;
                running
                    .waiting()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("the MCP session ended with an error: {e}"))
            }
            Some(addr) => {
                let addr = listen_address(addr);
                let (token, saved) = token(Path::new("."))?;
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                if let Some(path) = saved {
                    eprintln!(
                        "mcpo serve: the bearer token is in {} (give it to the client as `Authorization: Bearer <token>`)",
                        root_relative(&path)
                    );
                }
                http::serve(shared, listener, token).await
            }
        }
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn root_relative(path: &Path) -> String {
    let shown = path.display().to_string();
    shown
        .strip_prefix("./")
        .map_or(shown.clone(), str::to_string)
}

/// The audit journal of the workspace at `root` for people (`mcpoc state audit`): one
/// line per plan and apply, oldest first, with the failed steps under their apply.
pub fn audit_journal(root: &Path) -> String {
    store::Store::new(root).journal_text()
}

/// What `mcpoc approve` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approved {
    /// The plan is approved; the client's next `apply` of it runs it.
    Approved(String),
    /// No plan was named: the plans waiting (one line each).
    Waiting(Vec<String>),
}

impl Approved {
    /// What to tell the person.
    pub fn text(&self) -> String {
        match self {
            Approved::Approved(line) => line.clone(),
            Approved::Waiting(lines) if lines.is_empty() => "No plan waits for approval.".into(),
            Approved::Waiting(lines) => lines.join("\n"),
        }
    }
}

/// `mcpoc approve [PLAN_ID]`: shows the plan through `asker` (which asks the person) and
/// records the approval of exactly that plan for the server's next `apply` of it.
pub async fn approve(args: &ApproveArgs, asker: &dyn Approver) -> Result<Approved, Problem> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let root = mcpo_deploy::load::find_root(&dir);
    let store = store::Store::new(&root);
    let Some(id) = &args.plan_id else {
        let lines = store
            .pending()
            .iter()
            .map(|p| {
                let out = ops::plan_out(p);
                let counts: Vec<String> = out
                    .counts
                    .iter()
                    .map(|(k, n)| format!("{n} to {k}"))
                    .collect();
                format!(
                    "{}  {}  ({}; from {})",
                    p.id,
                    p.request,
                    if counts.is_empty() {
                        "no changes".into()
                    } else {
                        counts.join(", ")
                    },
                    p.client
                )
            })
            .collect();
        return Ok(Approved::Waiting(lines));
    };
    let stored = store.load(id)?;
    if stored.applied.is_some() {
        return Err(Problem::uncoded(format!("plan `{id}` was applied already")).usage());
    }
    let writes = stored
        .write
        .as_ref()
        .map(|w| format!("; applying it writes `{}` first", w.file))
        .unwrap_or_default();
    let question = format!(
        "Approve plan {id} ({}, requested by {}{writes})? The AI client's next `apply` of it will run exactly these changes.",
        stored.request, stored.client
    );
    match asker
        .approve(ApprovalRequest {
            plan: &stored.plan,
            question: &question,
        })
        .await
    {
        Approval::Approved => {
            let by = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            store.approve(&stored, &by)?;
            Ok(Approved::Approved(format!(
                "Plan {id} is approved; the AI client can apply it now (`apply` with plan_id \"{id}\")."
            )))
        }
        Approval::Declined => Err(Problem::new(
            codes::E0639,
            format!("the approval of plan `{id}` was declined; nothing was changed"),
        )),
        Approval::Unavailable(p) => Err(p.help(format!(
            "run `mcpoc approve {id}` in a terminal: a person must type `yes`"
        ))),
    }
}
