//! The runbooks a workspace has: its own `runbook` blocks, and those its `use` blocks
//! bring from modules (a package of runbooks such as `stdlib/runbooks/disaster_recovery`,
//! or a module with a pattern that also declares runbooks). The checker, `mcpoc run`,
//! `mcpoc serve` and the editor resolve runbook names here alone.
//!
//! Naming. A workspace's own runbook is `NAME`. A module's runbook brought by
//! `use "dr" { ... }` is always `dr.NAME`, and also `NAME` when that names nothing else:
//! neither a runbook of the workspace (that is E0120 at the `use`) nor a runbook another
//! `use` brings (then only the qualified names work, and a run by the short name says
//! which there are). Only a module's own `runbook` blocks come with it, not those its own
//! `use` blocks bring. The module's server names are mapped through the `use`'s
//! `servers = { ... }`, exactly as its adapters are.

use crate::{SourceFile, Workspace, index, link_servers, module_for, parse, signature};
use mcpo_syntax::ast::{Block, BodyItem};
use std::collections::{BTreeMap, BTreeSet};

/// A runbook that a `use` brings from a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRunbook {
    /// Its name in the module (`disaster_recovery`).
    pub name: String,
    /// The `use` block's name (`dr`): the runbook is `dr.disaster_recovery`.
    pub via: String,
    /// The module's workspace, where the runbook is declared and checked.
    pub module: Workspace,
    /// The module file that declares it, and the declaration's index in its signature.
    pub file: SourceFile,
    /// The declaration's index in `file`'s signature.
    pub decl: usize,
    /// The module's server names mapped to the workspace's (only those the `use`'s
    /// `servers` renames).
    pub servers: BTreeMap<String, String>,
    /// Where the module came from (`stdlib/runbooks/disaster_recovery`, `./modules/ops`).
    pub origin: String,
    /// The `use`: its file and index in the file's signature.
    pub use_file: SourceFile,
    /// The `use`'s index in `use_file`'s signature.
    pub use_decl: usize,
}

impl ImportedRunbook {
    /// The name that always runs it: `<use>.<name>`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.via, self.name)
    }
}

/// A `use` that brings a runbook named like one the workspace declares (E0120).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookClash {
    /// The runbook brought.
    pub imported: ImportedRunbook,
    /// The workspace's own runbook of that name: its file and index in its signature.
    pub own: (SourceFile, usize),
}

/// The runbooks a workspace's `use` blocks bring, and those that clash with its own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunbookImports {
    /// In source order (files in the workspace's order, then top to bottom; each module's
    /// runbooks by name).
    pub runbooks: Vec<ImportedRunbook>,
    /// The imports named like a runbook of the workspace.
    pub clashes: Vec<RunbookClash>,
}

impl RunbookImports {
    /// The imports that `name` (short, not qualified) could mean.
    pub fn named(&self, name: &str) -> impl Iterator<Item = &ImportedRunbook> {
        self.runbooks.iter().filter(move |r| r.name == name)
    }
}

/// The runbooks the `use` blocks of `ws` bring from the modules they name (memoized).
#[salsa::tracked(returns(ref))]
pub fn runbook_imports(db: &dyn salsa::Database, ws: Workspace) -> RunbookImports {
    let mut out = RunbookImports::default();
    let idx = index(db, ws);
    for file in ws.files(db) {
        for (i, d) in signature(db, *file).decls.iter().enumerate() {
            if d.kind != crate::DeclKind::Use || d.module.is_empty() {
                continue;
            }
            let Some(module) = module_for(db, ws, &d.module) else {
                continue;
            };
            let Some(mws) = module.workspace(db) else {
                continue;
            };
            let via = d.key.strip_prefix("module.").unwrap_or(&d.key).to_string();
            let servers = link_servers(&d.module);
            let own = index(db, mws);
            for (key, places) in own.decls.range("runbook.".to_string()..) {
                let Some(name) = key.strip_prefix("runbook.") else {
                    break;
                };
                let Some(&(mfile, mdecl)) = places.first() else {
                    continue;
                };
                let imported = ImportedRunbook {
                    name: name.to_string(),
                    via: via.clone(),
                    module: mws,
                    file: mfile,
                    decl: mdecl,
                    servers: servers.clone(),
                    origin: module.origin(db).clone(),
                    use_file: *file,
                    use_decl: i,
                };
                if let Some(&(ofile, odecl)) = idx.decls.get(key).and_then(|v| v.first()) {
                    out.clashes.push(RunbookClash {
                        imported: imported.clone(),
                        own: (ofile, odecl),
                    });
                }
                out.runbooks.push(imported);
            }
        }
    }
    out
}

/// The `runbook` block declaration `decl` of `file` declares.
pub fn runbook_block(db: &dyn salsa::Database, file: SourceFile, decl: usize) -> Option<&Block> {
    let d = signature(db, file).decls.get(decl)?;
    match parse(db, file).file.body.items.get(d.item) {
        Some(BodyItem::Block(b)) if b.ty.name == "runbook" => Some(b),
        _ => None,
    }
}

/// The servers a runbook calls tools of (`server::tool(...)` anywhere in it), in name
/// order.
pub fn runbook_servers(block: &Block) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    visit_exprs(block, &mut |e| {
        crate::walk(e, &mut |e| {
            if let mcpo_syntax::ast::ExprKind::FunctionCall(c) = &e.kind
                && let [server] = c.namespace.as_slice()
            {
                out.insert(server.name.clone());
            }
        });
    });
    out
}

/// Calls `f` on every attribute value of `block` and its nested blocks.
fn visit_exprs(block: &Block, f: &mut impl FnMut(&mcpo_syntax::ast::Expr)) {
    for item in &block.body.items {
        match item {
            BodyItem::Attribute(a) => f(&a.value),
            BodyItem::Block(b) => visit_exprs(b, f),
            _ => {}
        }
    }
}

/// What a module's runbook may not read: the module's other declarations (`var.x`,
/// `local.x`, resources, data, tasks, modules). A runbook that a `use` brings runs in the
/// using workspace, where those names mean something else or nothing, so it reads only its
/// params, its steps (`step`, `each`, `result`) and functions. Each such reference, with
/// its span, in source order.
pub fn module_runbook_reads(
    db: &dyn salsa::Database,
    mws: Workspace,
) -> Vec<(SourceFile, mcpo_diagnostics::Span, String)> {
    let servers: BTreeSet<String> = mws
        .schemas(db)
        .iter()
        .map(|s| s.server(db).clone())
        .chain(crate::servers(db, mws).iter().map(|s| s.name.clone()))
        .collect();
    let mut out = Vec::new();
    for file in mws.files(db) {
        for item in &parse(db, *file).file.body.items {
            let BodyItem::Block(b) = item else { continue };
            if b.ty.name != "runbook" {
                continue;
            }
            visit_exprs(b, &mut |e| {
                crate::walk(e, &mut |e| {
                    let Some((key, span)) = crate::reference(e) else {
                        return;
                    };
                    let root = key.split('.').next().unwrap_or_default();
                    let declared = matches!(root, "var" | "local" | "module" | "data" | "task")
                        || servers.contains(root);
                    if declared {
                        out.push((*file, span, key));
                    }
                });
            });
        }
    }
    // A traversal and its inner parts name the same declaration at the same place.
    out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    out
}
