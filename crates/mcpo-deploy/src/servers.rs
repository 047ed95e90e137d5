//! The servers of a workspace as the MCP client declares them.
//!
//! `mcpo-sema` evaluates and checks `server` blocks ([`mcpo_sema::servers`], E0301-E0303);
//! `mcpo-mcp` discovers servers declared elsewhere. This module joins the two: it runs
//! discovery when a block names no transport (the checker takes the identities it finds
//! as an input) and maps each block to the [`ServerSpec`] the deployment path connects
//! with ([`server_specs`]). No rule lives here.

use mcpo_diagnostics::{Diagnostic, SourceMap, Sources, codes};
use mcpo_mcp::discovery::{DiscoverOptions, RealEnvironment, Registry, discover};
use mcpo_mcp::{HttpSpec, ServerSpec, Source, StdioSpec, Transport};
use mcpo_schema::ServerIdentity;
use mcpo_sema::{BackendKind, ServerDecl, ServerTransport, Setting};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::time::Duration;

/// Discovery for the workspace at `root` as `check`, the deployment commands and the
/// language server run it: configuration files and the environment, no mDNS.
pub fn discover_at(root: &Path) -> Registry {
    discover(
        &RealEnvironment,
        &DiscoverOptions {
            workspace_root: root.to_path_buf(),
            ..Default::default()
        },
    )
}

/// [`discover_at`], run only when a `server` block names no transport: the other blocks
/// need nothing from it.
pub fn discover_if_needed(decls: &[ServerDecl], root: &Path) -> Registry {
    if decls.iter().all(|d| d.transport.is_some()) {
        return Registry::default();
    }
    discover_at(root)
}

/// What discovery found, as the checker's input ([`mcpo_sema::Workspace::discovered`]).
pub fn identities(registry: &Registry) -> BTreeMap<String, ServerIdentity> {
    registry
        .entries
        .iter()
        .map(|e| (e.spec.name.clone(), e.spec.identity()))
        .collect()
}

/// Every valid `server` block with its declaration for the MCP client: the block's own
/// transport, else the one discovery found (`None` when there is none). A block whose
/// `env` or `headers` read an environment variable that is not set cannot be started:
/// it is left out, with an E0303 in `errors`.
#[derive(Debug, Default)]
pub struct ServerSpecs {
    /// The blocks and their declarations, in file order.
    pub used: Vec<(ServerDecl, Option<ServerSpec>)>,
    /// The blocks that cannot be started: name, and why.
    pub errors: Vec<(String, Diagnostic)>,
}

impl ServerSpecs {
    /// Every error as a diagnostic.
    pub fn diagnostics(&self) -> impl Iterator<Item = Diagnostic> + '_ {
        self.errors.iter().map(|(_, d)| d.clone())
    }

    /// The declarations by name (blocks with none are left out).
    pub fn by_name(&self) -> BTreeMap<String, ServerSpec> {
        self.used
            .iter()
            .filter_map(|(d, s)| Some((d.name.clone(), s.clone()?)))
            .collect()
    }
}

/// Maps the checker's `server` blocks to the MCP client's declarations, merging
/// discovery for the blocks without a transport. The one place the deployment path
/// gets its servers from. A block's server process starts in the workspace `root` (its
/// `cwd`, when it has one, is relative to `root`), so relative paths in a block mean the
/// same whichever directory a command is run from.
pub fn server_specs(
    decls: &[ServerDecl],
    registry: &Registry,
    sources: &Sources,
    root: &Path,
) -> ServerSpecs {
    let mut out = ServerSpecs::default();
    for decl in decls {
        match spec_of(decl, sources, root) {
            Ok(Some(spec)) => out.used.push((decl.clone(), Some(spec))),
            Ok(None) => out
                .used
                .push((decl.clone(), registry.get(&decl.name).cloned())),
            Err(d) => out.errors.push((decl.name.clone(), *d)),
        }
    }
    out
}

fn spec_of(
    decl: &ServerDecl,
    sources: &Sources,
    root: &Path,
) -> Result<Option<ServerSpec>, Box<Diagnostic>> {
    let Some(transport) = &decl.transport else {
        return Ok(None);
    };
    let values = |settings: &BTreeMap<String, Setting>| {
        settings
            .iter()
            .map(|(k, v)| match v {
                Setting::Value(s) => Ok((k.clone(), s.clone())),
                Setting::Unset { message, span } => Err(Box::new(Diagnostic::error(
                    codes::E0303,
                    decl.file,
                    *span,
                    "invalid server block",
                )
                .with_primary_label(message.clone())
                .with_help(format!(
                    "starting server `{}` needs this value; `mcpoc check` accepts it unset because only the name is part of the pulled schema",
                    decl.name
                )))),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
    };
    let transport = match transport {
        ServerTransport::Stdio {
            command,
            args,
            env,
            cwd,
        } => Transport::Stdio(StdioSpec {
            command: command.clone(),
            args: args.clone(),
            env: values(env)?,
            cwd: Some(
                cwd.as_ref()
                    .map_or_else(|| root.to_path_buf(), |c| root.join(c)),
            ),
        }),
        ServerTransport::Http { url, headers } => Transport::Http(HttpSpec {
            url: url.clone(),
            headers: values(headers)?,
        }),
    };
    let text = sources.text(decl.file);
    let line = text
        .get(..decl.header.start as usize)
        .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1);
    Ok(Some(ServerSpec {
        name: decl.name.clone(),
        transport,
        max_concurrency: decl
            .max_concurrency
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        timeout: decl.timeout_ms.map(Duration::from_millis),
        // Not settable from a `server` block yet (the default applies); see
        // `ServerSpec::max_message_bytes`.
        max_message_bytes: None,
        source: Source::ServerBlock {
            location: format!("{}:{line}", sources.name(decl.file)),
        },
    }))
}

/// Loads and parses the workspace under `paths` and evaluates its `server` blocks (for
/// `mcpoc servers` and `schema pull`, which need no type checking). Returns the sources
/// (for rendering), the blocks, and the syntax and E0303 diagnostics.
pub fn load(paths: &[PathBuf]) -> Result<(Sources, Vec<ServerDecl>, Vec<Diagnostic>), String> {
    load_with(paths, &BTreeMap::new())
}

/// [`load`] with the files named in `overrides` holding the given texts instead of what is
/// on disk (a file not on disk is added), as [`crate::load::load_with`] takes them: the
/// servers a proposed edit would declare, before anything is checked or started.
pub fn load_with(
    paths: &[PathBuf],
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<(Sources, Vec<ServerDecl>, Vec<Diagnostic>), String> {
    let (sources, loaded, mut diags) = parsed(paths, overrides)?;
    let ids: Vec<_> = loaded.iter().map(|f| f.id).collect();
    let (db, ws) = crate::load::sources_database(&ids, &sources);
    for file in ws.files(&db) {
        diags.extend(mcpo_sema::parse(&db, *file).diagnostics.iter().cloned());
        diags.extend(
            mcpo_sema::file_servers(&db, ws, *file)
                .diagnostics
                .iter()
                .cloned(),
        );
    }
    let decls = mcpo_sema::servers(&db, ws).clone();
    Ok((sources, decls, diags))
}

/// The `backend` block the workspace under `paths` declares with `overrides` (as
/// [`load_with`] takes them): its kind and settings (`None` without a valid block).
pub fn backend_with(
    paths: &[PathBuf],
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<Option<BackendKind>, String> {
    let (sources, loaded, _) = parsed(paths, overrides)?;
    // Deployment templates declare no backend.
    let ids: Vec<_> = loaded
        .iter()
        .filter(|f| !crate::files::is_template(&f.path))
        .map(|f| f.id)
        .collect();
    let (db, ws) = crate::load::sources_database(&ids, &sources);
    Ok(mcpo_sema::backend(&db, ws)
        .decl
        .as_ref()
        .map(|d| d.kind.clone()))
}

/// The workspace's files loaded, with `overrides` in place of (or beside) what is on disk.
fn parsed(
    paths: &[PathBuf],
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<(Sources, Vec<crate::files::Loaded>, Vec<Diagnostic>), String> {
    let files = crate::files::collect(paths).map_err(|e| e.to_string())?;
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let mut loaded = crate::files::load(&files, &mut sources, &mut diags)?;
    crate::load::apply_overrides(&mut loaded, &mut sources, overrides);
    Ok((sources, loaded, diags))
}
