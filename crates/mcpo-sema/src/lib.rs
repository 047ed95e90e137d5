//! The salsa database of mcpo: names, types and checking.
//!
//! Everything comes in as salsa inputs, never as paths: [`SourceFile`] (a file's name and
//! text), [`SchemaFile`] (the text of one `.mcpo/schemas/<server>.json`) and
//! [`Workspace`] (which files and schemas belong together, with the text of `mcpo.lock`,
//! the environment `server` blocks read and the servers discovery found). The queries
//! build on each other so that editing one file re-runs only what depends on it:
//!
//! - [`parse`]: one file's syntax tree;
//! - [`signature`]: what a file declares (names, declared types, references between
//!   declarations), without spans, so that an edit that moves text but declares the same
//!   things changes nothing downstream;
//! - [`index`]: the workspace's name table, merged from the signatures;
//! - [`catalog`]: one server's resource types and tools as mcpo types;
//! - [`check_file`]: the diagnostics of one file (names, types, schemas);
//! - [`workspace_diagnostics`]: what needs the whole workspace (duplicates, dependency
//!   cycles, unused variables, schema warnings);
//! - [`file_servers`], [`servers`]: the `server` blocks, evaluated ([`ServerDecl`]: what
//!   the deployment session starts); [`server_diagnostics`]: invalid blocks and missing
//!   or stale pulled schemas (E0301-E0303);
//! - [`backend`]: the `backend` block, evaluated ([`BackendDecl`]: where the state lives),
//!   and E0511 for an invalid one;
//! - [`check`]: all of it, the entry point of `mcpoc check` and the language server.
//!
//! The evaluator ([`eval`], [`value`], [`functions`], [`Io`]) lives here too: the checker
//! evaluates `server` blocks with it, and `mcpo-plan` evaluates everything else with it.
//!
//! **Architecture invariant:** no I/O, no paths, no clock, no environment. The CLI and the
//! language server read files (and the environment) and hand them in as inputs.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

mod backend_block;
mod builtins;
mod checker;
pub mod eval;
pub mod functions;
mod inputs;
mod modules;
mod names;
mod runbooks;
mod server_blocks;
mod server_catalog;
pub mod suggest;
pub mod template;
pub mod types;
pub mod value;
mod workspace;

pub use backend_block::{
    BACKEND_KINDS, BackendDecl, BackendKind, DEFAULT_STATE_NAME, EncryptionDecl, KeySource,
    WorkspaceBackend, backend,
};
pub use builtins::{BUILTINS, Sig, lookup};
pub use checker::{
    ADAPTER_ATTRS, DeclKey, RESOURCE_META, TOP_BLOCKS, adapter_type, adapter_types, local_type,
    pattern_block, pattern_output_type, pattern_servers, rule_site, type_at,
};
pub use eval::Io;
pub use modules::{
    AdapterClash, AdapterImports, AdapterOrigin, ImportedAdapter, UseProblem, adapter_imports,
    imported_adapters, is_package_module, link_servers, module_for, module_workspaces,
    package_module, resolve_use,
};
pub use names::{
    Decl, DeclKind, FileSignature, Index, Repeat, index, local_source_dir, reference, signature,
    use_link, use_servers, walk,
};
pub use runbooks::{
    ImportedRunbook, RunbookClash, RunbookImports, module_runbook_reads, runbook_block,
    runbook_imports, runbook_servers,
};
pub use server_blocks::{
    FileServers, ServerDecl, ServerTransport, Setting, file_servers, read_only_tools,
    server_diagnostics, servers,
};
pub use server_catalog::{Catalog, ResourceType, ToolInfo, catalog};
pub use template::convert_template;
pub use value::Val;
pub use workspace::{decl_span, workspace_diagnostics};

use mcpo_diagnostics::Diagnostic;

pub use inputs::{EnvVars, Module, SchemaFile, SourceFile, Workspace};

/// The concrete database. Cheap to clone (a clone shares the storage: a snapshot for
/// another thread).
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
}

impl Database {
    /// A database that calls `on_event` for every salsa event (tests count executions).
    pub fn with_events(on_event: impl Fn(salsa::Event) + Send + Sync + 'static) -> Self {
        Database {
            storage: salsa::Storage::new(Some(Box::new(on_event))),
        }
    }
}

#[salsa::db]
impl salsa::Database for Database {}

/// The parse of one file (memoized; backdated when the tree is unchanged).
///
/// The trees of the 128 files used last are kept when the database lets go of trees: at
/// each new revision (an edit), and between files of a batch check ([`check_batch`]). A
/// tree takes 15 to 20 times its text, far more than anything the checker derives from
/// it, so memory is bounded by that many trees rather than by the whole workspace. An
/// evicted tree is parsed again when it is needed; the queries that read it are still
/// verified without it.
#[salsa::tracked(returns(ref), lru = 128)]
pub fn parse(db: &dyn salsa::Database, file: SourceFile) -> mcpo_syntax::Parse {
    mcpo_syntax::parse(file.text(db), file.id(db))
}

/// The name and type diagnostics of one file (not its syntax errors: see [`check`]).
#[salsa::tracked(returns(ref))]
pub fn check_file(db: &dyn salsa::Database, ws: Workspace, file: SourceFile) -> Vec<Diagnostic> {
    checker::check_file(db, ws, file)
}

/// Every name, type, schema, server and workspace diagnostic (no syntax errors of the
/// workspace's own files), unsorted, with everything found in the modules its `use`
/// blocks load (syntax included: nothing else reports it).
pub fn check_semantics(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for file in ws.files(db) {
        out.extend(check_file(db, ws, *file).iter().cloned());
    }
    out.extend(workspace_diagnostics(db, ws).iter().cloned());
    out.extend(server_diagnostics(db, ws).iter().cloned());
    out.extend(backend(db, ws).diagnostics.iter().cloned());
    out.extend(module_diagnostics(db, ws));
    out
}

/// The diagnostics of the files of every module `ws` loads: syntax, names and types,
/// duplicate declarations, resource types with two adapters, runbook names brought twice
/// and what a module's runbook may not read. A server the module needs and the workspace lacks is reported
/// at the `use`, not inside the module.
pub fn module_diagnostics(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (_, mws) in module_workspaces(db, ws) {
        for file in mws.files(db) {
            out.extend(parse(db, *file).diagnostics.iter().cloned());
            out.extend(
                check_file(db, mws, *file)
                    .iter()
                    .filter(|d| d.code != mcpo_diagnostics::codes::E0101)
                    .cloned(),
            );
        }
        out.extend(
            workspace_diagnostics(db, mws)
                .iter()
                .filter(|d| {
                    d.code == mcpo_diagnostics::codes::E0108
                        || d.code == mcpo_diagnostics::codes::E0119
                        || d.code == mcpo_diagnostics::codes::E0120
                })
                .cloned(),
        );
        for (file, span, key) in module_runbook_reads(db, mws) {
            out.push(
                Diagnostic::error(
                    mcpo_diagnostics::codes::E0115,
                    file.id(db),
                    span,
                    format!("`{key}` in a module's runbook"),
                )
                .with_primary_label("a module's runbook runs in the workspace that uses the module, where this name is not the module's")
                .with_help("give the value to the runbook as a `param`, or read it from a step's result"),
            );
        }
    }
    out
}

/// Every diagnostic of the workspace, syntax included, unsorted: the same as [`check`],
/// for a batch check of a workspace of any size (`mcpoc check`, loading before a plan).
///
/// [`check`] reads every file's tree within one revision, so all of them stay in memory
/// until the next. Here each file is visited twice (what the workspace queries need of it,
/// then its own check), and the database drops the trees beyond the 128 used last
/// as it goes, so peak memory follows the largest files rather than the whole workspace.
pub fn check_batch(db: &mut Database, ws: Workspace) -> Vec<Diagnostic> {
    prepare(db, ws);
    let files = ws.files(db).clone();
    let mut out = Vec::new();
    for (i, file) in files.iter().enumerate() {
        out.extend(parse(db, *file).diagnostics.iter().cloned());
        out.extend(check_file(db, ws, *file).iter().cloned());
        if (i + 1) % EVICT_EVERY == 0 {
            salsa::Database::trigger_lru_eviction(db);
        }
    }
    out.extend(workspace_diagnostics(db, ws).iter().cloned());
    out.extend(server_diagnostics(db, ws).iter().cloned());
    out.extend(module_diagnostics(db, ws));
    salsa::Database::trigger_lru_eviction(db);
    out
}

/// How many files a batch visits between two evictions: at most this many trees beyond the
/// 128 that [`parse`] keeps are alive at once.
const EVICT_EVERY: usize = 32;

/// Computes, file by file, what the workspace-wide queries ([`index`], [`servers`]) read
/// of each file, its signature and its `server` blocks, dropping trees as it goes (see
/// [`check_batch`]). Asking for `servers` or `index` afterwards parses nothing. A front
/// end calls it before it asks for the servers of a large workspace.
pub fn prepare(db: &mut Database, ws: Workspace) {
    let files = ws.files(db).clone();
    for (i, file) in files.iter().enumerate() {
        signature(db, *file);
        file_servers(db, ws, *file);
        if (i + 1) % EVICT_EVERY == 0 {
            salsa::Database::trigger_lru_eviction(db);
        }
    }
    salsa::Database::trigger_lru_eviction(db);
}

/// Every diagnostic of the workspace, syntax included, unsorted (the renderer sorts).
pub fn check(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for file in ws.files(db) {
        out.extend(parse(db, *file).diagnostics.iter().cloned());
    }
    out.extend(check_semantics(db, ws));
    out
}
