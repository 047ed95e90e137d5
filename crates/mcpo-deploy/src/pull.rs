//! The servers a workspace knows (its `server` blocks, and what discovery finds), pulling
//! their schemas into `.mcpo/schemas/` with hashes in `mcpo.lock`, and checking their
//! health.

use crate::error::Problem;
use crate::servers::{self, ServerSpecs};
use mcpo_diagnostics::{Diagnostic, Sources};
use mcpo_mcp::discovery::{DiscoverOptions, RealEnvironment, Registry, discover};
use mcpo_mcp::{ConnectOptions, Connection, McpError, ServerSpec};
use mcpo_schema::{Files, LOCK_FILE, Lockfile, schema_path};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every server a workspace knows.
pub struct ServerSet {
    /// The `server` blocks with their declarations.
    pub specs: ServerSpecs,
    /// Every declared or discovered server, with where it came from.
    pub registry: Registry,
    /// The workspace's sources, for rendering `diagnostics`.
    pub sources: Sources,
    /// Problems of the `server` blocks (E03xx), worth showing before anything else.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads the workspace at `root` and discovers servers (mDNS only when `mdns`).
pub fn server_set(root: &Path, mdns: bool) -> Result<ServerSet, Problem> {
    let (sources, decls, diags) =
        servers::load(&[root.to_path_buf()]).map_err(|e| Problem::uncoded(e).usage())?;
    let diagnostics = diags
        .into_iter()
        .filter(|d| d.code.as_str().starts_with("E03"))
        .collect();
    let own = servers::server_specs(&decls, &Registry::default(), &sources, root);
    let registry = discover(
        &RealEnvironment,
        &DiscoverOptions {
            workspace_root: root.to_path_buf(),
            server_blocks: own.used.iter().filter_map(|(_, s)| s.clone()).collect(),
            mdns: mdns.then_some(Duration::from_secs(3)),
        },
    );
    let specs = servers::server_specs(&decls, &registry, &sources, root);
    Ok(ServerSet {
        specs,
        registry,
        sources,
        diagnostics,
    })
}

/// One schema pulled.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The server.
    pub server: String,
    /// Its tools.
    pub tools: usize,
    /// Its resource templates.
    pub templates: usize,
    /// The protocol version it speaks.
    pub protocol: String,
    /// How long the pull took.
    pub took: Duration,
    /// Where the schema was written, relative to the workspace root.
    pub path: PathBuf,
}

impl std::fmt::Display for Pulled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pulled {}: {} tools, {} resource templates (protocol {}) in {:.1}s -> {}",
            self.server,
            self.tools,
            self.templates,
            self.protocol,
            self.took.as_secs_f64(),
            self.path.display()
        )
    }
}

/// What a pull did.
#[derive(Debug, Default)]
pub struct PullReport {
    /// The `server` blocks that cannot be started (E0303), among those asked for.
    pub cannot_start: Vec<Diagnostic>,
    /// The schemas pulled and written.
    pub pulled: Vec<Pulled>,
    /// What failed, one message each.
    pub errors: Vec<String>,
}

impl PullReport {
    /// Whether every server asked for was pulled.
    pub fn ok(&self) -> bool {
        self.cannot_start.is_empty() && self.errors.is_empty()
    }
}

/// Pulls the schemas of `only` (any declared or discovered server), or of every `server`
/// block when `only` is empty, concurrently, each within `timeout`; writes them under
/// `root` and records their hashes in `mcpo.lock`.
pub async fn pull(
    root: &Path,
    set: &ServerSet,
    only: &[String],
    timeout: Duration,
) -> Result<PullReport, Problem> {
    let mut report = PullReport {
        cannot_start: set
            .specs
            .errors
            .iter()
            .filter(|(name, _)| only.is_empty() || only.contains(name))
            .map(|(_, d)| d.clone())
            .collect(),
        ..PullReport::default()
    };
    let mut targets: Vec<ServerSpec> = Vec::new();
    if only.is_empty() {
        if set.specs.used.is_empty() && set.specs.errors.is_empty() {
            return Err(Problem::uncoded(format!(
                "no `server` blocks under `{}`; name servers with --server (see `mcpoc servers`)",
                root.display()
            ))
            .usage());
        }
        for (block, spec) in &set.specs.used {
            match spec {
                Some(s) => targets.push(s.clone()),
                None => report.errors.push(format!(
                    "server `{}` has no `command` or `url` and no source declares it",
                    block.name
                )),
            }
        }
    } else {
        for name in only {
            if set.specs.errors.iter().any(|(n, _)| n == name) {
                continue;
            }
            match set.registry.get(name) {
                Some(s) => targets.push(s.clone()),
                None => {
                    return Err(Problem::uncoded(format!(
                        "no server `{name}` is declared or discovered (see `mcpoc servers`)"
                    ))
                    .usage());
                }
            }
        }
    }
    let limit = timeout.max(Duration::from_secs(1));
    let pulls = targets.iter().map(|spec| async move {
        let started = Instant::now();
        let options = ConnectOptions {
            handshake_timeout: limit,
            ..ConnectOptions::default()
        };
        let r = match tokio::time::timeout(limit, mcpo_mcp::pull(spec, &options)).await {
            Ok(r) => r,
            Err(_) => Err(McpError::new(
                &spec.name,
                mcpo_mcp::ErrorKind::Timeout { after: limit },
            )),
        };
        (spec, r, started.elapsed())
    });
    let results = futures::future::join_all(pulls).await;
    let store = mcpo_schema::DiskFiles::new(root);
    let mut lock = match store.read(Path::new(LOCK_FILE)) {
        Ok(Some(text)) => Lockfile::from_file_text(&text).unwrap_or_default(),
        _ => Lockfile::default(),
    };
    let mut wrote = false;
    for (spec, result, took) in results {
        let schema = match result {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        let path = schema_path(&spec.name);
        if let Err(e) = store.write(&path, &schema.to_file_text()) {
            report.errors.push(format!(
                "cannot write `{}`: {}",
                path.display(),
                crate::files::io_reason(&e)
            ));
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
        report.pulled.push(Pulled {
            server: spec.name.clone(),
            tools: schema.tools.len(),
            templates: schema.resource_templates.len(),
            protocol: schema.protocol_version.clone(),
            took,
            path,
        });
    }
    if wrote && let Err(e) = store.write(Path::new(LOCK_FILE), &lock.to_file_text()) {
        report.errors.push(format!(
            "cannot write `{LOCK_FILE}`: {}",
            crate::files::io_reason(&e)
        ));
    }
    Ok(report)
}

/// A server's health: the protocol it speaks, its tool count and the round trip of
/// listing them; or why it cannot be reached.
pub type Health = Result<(String, usize, Duration), McpError>;

/// Connects to `spec` and lists its tools.
pub async fn health(spec: &ServerSpec) -> Health {
    let options = ConnectOptions {
        handshake_timeout: Duration::from_secs(20),
        ..ConnectOptions::default()
    };
    let conn = Connection::connect(spec, &options).await?;
    let started = Instant::now();
    let tools = conn.list_tools().await;
    let rtt = started.elapsed();
    let proto = conn.protocol_version().to_string();
    conn.shutdown().await;
    tools.map(|t| (proto, t.len(), rtt))
}

/// A health as JSON: `{ok, protocol_version, tools, rtt_ms}` or `{ok: false, error}`.
pub fn health_json(h: &Health) -> Value {
    match h {
        Ok((proto, tools, rtt)) => json!({
            "ok": true,
            "protocol_version": proto,
            "tools": tools,
            "rtt_ms": rtt.as_secs_f64() * 1000.0,
        }),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    }
}

/// Every server the workspace knows as a JSON document (`mcpoc servers --format json`):
/// where each came from, its transport and target, what it shadows, its health when
/// checked (`healths` in the registry's order), the blocks nothing declares, and
/// discovery's warnings.
pub fn servers_json(set: &ServerSet, healths: &[Health]) -> Value {
    let servers: Vec<Value> = set
        .registry
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let shadowed: Vec<Value> = e
                .shadowed
                .iter()
                .map(|s| json!({"source": s.kind(), "from": s.detail()}))
                .collect();
            let mut v = json!({
                "name": e.spec.name,
                "source": e.spec.source.kind(),
                "from": e.spec.source.detail(),
                "transport": e.spec.transport_kind(),
                "target": e.spec.target(),
                "shadowed": shadowed,
            });
            if let (Some(h), Some(obj)) = (healths.get(i), v.as_object_mut()) {
                obj.insert("health".into(), health_json(h));
            }
            v
        })
        .collect();
    json!({
        "version": 1,
        "servers": servers,
        "undeclared": undeclared(set),
        "warnings": set.registry.warnings,
    })
}

/// Every server the workspace knows as the lines of `mcpoc servers`: a table (name,
/// source, transport, target, and protocol, tool count and round-trip time when
/// `healths` is given, in the registry's order), then notes on shadowed declarations,
/// failed health checks and blocks nothing declares.
pub fn servers_text(set: &ServerSet, healths: Option<&[Health]>) -> Vec<String> {
    let mut header: Vec<String> = ["NAME", "SOURCE", "TRANSPORT", "TARGET"]
        .map(String::from)
        .into();
    if healths.is_some() {
        header.extend(["PROTOCOL", "TOOLS", "RTT"].map(String::from));
    }
    let mut rows = vec![header];
    for (i, e) in set.registry.entries.iter().enumerate() {
        let mut row = vec![
            e.spec.name.clone(),
            e.spec.source.to_string(),
            e.spec.transport_kind().into(),
            e.spec.target(),
        ];
        match healths.and_then(|h| h.get(i)) {
            Some(Ok((proto, tools, rtt))) => row.extend([
                proto.clone(),
                tools.to_string(),
                format!("{}ms", rtt.as_millis()),
            ]),
            Some(Err(_)) => row.extend(["-".into(), "-".into(), "-".into()]),
            None => {}
        }
        rows.push(row);
    }
    let mut lines = crate::render::table(&rows);
    for e in &set.registry.entries {
        for s in &e.shadowed {
            let name = &e.spec.name;
            lines.push(format!("note: `{name}` is also declared in {s} (ignored)"));
        }
    }
    let failed = healths
        .unwrap_or_default()
        .iter()
        .filter_map(|h| h.as_ref().err());
    lines.extend(failed.map(|e| format!("error: {e}")));
    for name in undeclared(set) {
        lines.push(format!(
            "warning: server `{name}` has no `command` or `url` and no source declares it"
        ));
    }
    lines
}

/// The `server` blocks that name no transport and that no source declares.
pub fn undeclared(set: &ServerSet) -> Vec<String> {
    set.specs
        .used
        .iter()
        .filter(|(_, spec)| spec.is_none())
        .map(|(b, _)| b.name.clone())
        .collect()
}
