//! Which pattern a `use` block instantiates and whose names it lives among: a pattern of
//! the using workspace (`pattern = "web"`), or one of a module the front end loaded
//! ([`Module`]: its files as a workspace of their own, so that two modules that both
//! declare `web` never collide). The checker, the planner and the editor resolve a `use`
//! through [`resolve_use`] alone.

use crate::{Module, Workspace, index};
use std::collections::BTreeMap;

/// Why a `use` names no pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseProblem {
    /// `pattern = "x"` names no pattern of the workspace or of the module.
    UnknownPattern {
        /// The name written.
        name: String,
        /// The module searched (`None`: the using workspace).
        origin: Option<String>,
        /// The patterns there are.
        names: Vec<String>,
    },
    /// The module declares no pattern, or several and the `use` names none.
    NotOne {
        /// The module.
        origin: String,
        /// The patterns there are.
        names: Vec<String>,
    },
    /// The front end loaded no module for this `source` (every front end loads the
    /// modules of every literal `source` the workspace's `use` blocks name, local
    /// directories included, with `mcpo_modules`).
    NotLoaded {
        /// The `use`'s link.
        link: String,
    },
    /// The module could not be loaded.
    Unavailable {
        /// The module.
        origin: String,
        /// Why, in the front end's words.
        reason: String,
    },
}

/// The module `ws` loaded for `link`.
pub fn module_for(db: &dyn salsa::Database, ws: Workspace, link: &str) -> Option<Module> {
    ws.modules(db).iter().copied().find(|m| m.link(db) == link)
}

/// The pattern a `use` in `ws` instantiates, given its `pattern` literal (empty when
/// not written) and its link ([`crate::use_link`], empty without `source`).
pub fn resolve_use(
    db: &dyn salsa::Database,
    ws: Workspace,
    pattern: &str,
    link: &str,
) -> Result<(Workspace, String, Option<Module>), UseProblem> {
    let patterns_of = |w: Workspace| -> Vec<String> {
        index(db, w)
            .names_with_prefix("pattern.")
            .map(str::to_string)
            .collect()
    };
    if link.is_empty() {
        let names = patterns_of(ws);
        return if names.iter().any(|n| n == pattern) {
            Ok((ws, pattern.to_string(), None))
        } else {
            Err(UseProblem::UnknownPattern {
                name: pattern.to_string(),
                origin: None,
                names,
            })
        };
    }
    let Some(module) = module_for(db, ws, link) else {
        return Err(UseProblem::NotLoaded {
            link: link.to_string(),
        });
    };
    let origin = module.origin(db).clone();
    let target = match (module.workspace(db), module.problem(db)) {
        (Some(w), None) => w,
        (_, problem) => {
            return Err(UseProblem::Unavailable {
                origin,
                reason: problem
                    .clone()
                    .unwrap_or_else(|| "it could not be loaded".to_string()),
            });
        }
    };
    let names = patterns_of(target);
    if !pattern.is_empty() {
        return if names.iter().any(|n| n == pattern) {
            Ok((target, pattern.to_string(), Some(module)))
        } else {
            Err(UseProblem::UnknownPattern {
                name: pattern.to_string(),
                origin: Some(origin),
                names,
            })
        };
    }
    match names.as_slice() {
        [one] => Ok((target, one.clone(), Some(module))),
        _ => Err(UseProblem::NotOne { origin, names }),
    }
}

/// Every module workspace reachable from `ws` (modules of modules too), each once, in
/// the order first met.
pub fn module_workspaces(db: &dyn salsa::Database, ws: Workspace) -> Vec<(Module, Workspace)> {
    let mut out: Vec<(Module, Workspace)> = Vec::new();
    let mut todo: Vec<Workspace> = vec![ws];
    let mut seen = vec![ws];
    while let Some(w) = todo.pop() {
        for m in w.modules(db) {
            if let Some(mw) = m.workspace(db)
                && !seen.contains(&mw)
            {
                seen.push(mw);
                out.push((*m, mw));
                todo.push(mw);
            }
        }
    }
    out
}

/// Whether module workspace `mws` is a package: it declares `adapter` or `runbook` blocks
/// and no pattern. A `use` of such a module instantiates nothing; it imports its adapters
/// (see [`imported_adapters`]) and its runbooks (see [`crate::runbook_imports`]).
pub fn is_package_module(db: &dyn salsa::Database, mws: Workspace) -> bool {
    let idx = index(db, mws);
    idx.names_with_prefix("pattern.").next().is_none()
        && (idx.names_with_prefix("adapter.").next().is_some()
            || idx.names_with_prefix("runbook.").next().is_some())
}

/// The module workspace of the package (of adapters, of runbooks) that `link` names in
/// `ws`, when the front end loaded one there.
pub fn package_module(db: &dyn salsa::Database, ws: Workspace, link: &str) -> Option<Workspace> {
    let mws = module_for(db, ws, link)?.workspace(db)?;
    is_package_module(db, mws).then_some(mws)
}

/// The server mapping recorded in a link (` [docker=engine,aws=aws_eu]`): the module's
/// server names to the workspace's, only those it renames.
pub fn link_servers(link: &str) -> BTreeMap<String, String> {
    let Some(start) = link.find(" [") else {
        return BTreeMap::new();
    };
    link.get(start + 2..)
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or("")
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(from, to)| (from.to_string(), to.to_string()))
        .collect()
}

/// An adapter that a `use` of a package of adapters makes the workspace's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedAdapter {
    /// The package's module workspace (where the adapter is declared and checked).
    pub module: Workspace,
    /// Its address there, under the package's server name: `adapter.docker.network`.
    pub address: String,
    /// The package's server names mapped to the workspace's (only those the `use`'s
    /// `servers` renames).
    pub servers: BTreeMap<String, String>,
    /// The `use` that imports it (`module.<name>`).
    pub via: String,
    /// Where its block is: the origin of the module that declares it
    /// (`stdlib/adapters/server-memory`, `modules/team`). With `address` and `servers`,
    /// what makes two imports the same adapter.
    pub origin: String,
}

impl ImportedAdapter {
    /// The same definition: the same block, bound to the same servers.
    fn same(&self, other: &ImportedAdapter) -> bool {
        self.origin == other.origin
            && self.address == other.address
            && self.servers == other.servers
    }
}

/// What defines a resource type through an adapter in a workspace: one of its own
/// `adapter` blocks, or a `use` of a package of adapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterOrigin {
    /// An `adapter` block of the workspace: its file and index in the file's signature.
    Own(crate::SourceFile, usize),
    /// A `use` of a package of adapters: its file, index in the file's signature and
    /// address (`module.<name>`).
    Use(crate::SourceFile, usize, String),
}

/// A `use` of a package of adapters that defines resource types the workspace already
/// has from an earlier definition (reported as E0119 at the `use`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterClash {
    /// The `use`: its file and index in the file's signature.
    pub file: crate::SourceFile,
    /// Its index in the file's signature.
    pub decl: usize,
    /// The earlier definition.
    pub first: AdapterOrigin,
    /// The resource types defined twice, as the workspace names them (`memory.entity`),
    /// sorted.
    pub types: Vec<String>,
}

/// The adapters a workspace imports, and the imports that clash.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdapterImports {
    /// By address in the workspace (see [`imported_adapters`]).
    pub adapters: BTreeMap<String, ImportedAdapter>,
    /// The adapters the patterns of modules bring along, by their address in the
    /// workspace: a module's own `adapter` blocks and those its `use` blocks import, under
    /// the server names the `use` of its pattern maps them to. They are drivers of the
    /// pattern's resources when the workspace is planned; the workspace's own blocks do not
    /// see them (a type it uses itself comes from its own adapters and imports).
    pub with_patterns: BTreeMap<String, ImportedAdapter>,
    /// The `use` blocks that define an already defined type, in source order.
    pub clashes: Vec<AdapterClash>,
}

/// The adapters the `use` blocks of `ws` import from packages of adapters, keyed by their
/// address in `ws` (`adapter.engine.network` for the package's `adapter "docker"
/// "network"` under `servers = { docker = engine }`). A resource type has one definition:
/// an adapter declared in `ws` itself comes first, then the imports in source order (files
/// in the workspace's order, then top to bottom); a later one that defines a type again
/// is a clash ([`AdapterImports::clashes`], E0119 at its `use`) and is not imported.
pub fn imported_adapters(
    db: &dyn salsa::Database,
    ws: Workspace,
) -> &BTreeMap<String, ImportedAdapter> {
    &adapter_imports(db, ws).adapters
}

/// `m` after `first`: the server mapping of an adapter that `first` binds in a module
/// the workspace then binds with `m` (only the names that change).
fn compose(
    first: &BTreeMap<String, String>,
    m: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = first
        .iter()
        .map(|(from, to)| (from.clone(), m.get(to).unwrap_or(to).clone()))
        .collect();
    for (from, to) in m {
        if !first.contains_key(from) {
            out.insert(from.clone(), to.clone());
        }
    }
    out.retain(|from, to| from != to);
    out
}

/// The adapters `ws` imports and the imports that clash (memoized).
#[salsa::tracked(returns(ref))]
pub fn adapter_imports(db: &dyn salsa::Database, ws: Workspace) -> AdapterImports {
    let mut out = AdapterImports::default();
    let idx = index(db, ws);
    // Which definition each type has so far: the workspace's own adapters first.
    // With it, for a type a `use` brought: the adapter, and whether it came with a
    // module's pattern.
    let mut defined: BTreeMap<String, (AdapterOrigin, Option<(ImportedAdapter, bool)>)> =
        BTreeMap::new();
    for (address, places) in idx.decls.range("adapter.".to_string()..) {
        if !address.starts_with("adapter.") {
            break;
        }
        if let Some((file, i)) = places.first() {
            defined.insert(address.clone(), (AdapterOrigin::Own(*file, *i), None));
        }
    }
    for file in ws.files(db) {
        for (i, d) in crate::signature(db, *file).decls.iter().enumerate() {
            if d.kind != crate::DeclKind::Use || d.module.is_empty() {
                continue;
            }
            let Some(module) = module_for(db, ws, &d.module) else {
                continue;
            };
            let Some(mws) = module.workspace(db) else {
                continue;
            };
            let m = link_servers(&d.module);
            let renamed = |server: &str| m.get(server).map_or(server, String::as_str).to_string();
            // What this `use` brings: (address in the workspace, the adapter).
            let mut brought: Vec<(String, ImportedAdapter)> = Vec::new();
            let package = is_package_module(db, mws);
            let own = index(db, mws);
            let pattern_module = !package
                && resolve_use(db, ws, &d.type_name, &d.module).is_ok_and(|(_, _, m)| m.is_some());
            if package || pattern_module {
                for adapter in own.names_with_prefix("adapter.") {
                    let Some((server, ty)) = adapter.split_once('.') else {
                        continue;
                    };
                    brought.push((
                        format!("adapter.{}.{ty}", renamed(server)),
                        ImportedAdapter {
                            module: mws,
                            address: format!("adapter.{adapter}"),
                            servers: m.clone(),
                            via: d.key.clone(),
                            origin: module.origin(db).clone(),
                        },
                    ));
                }
            }
            if pattern_module {
                // The module's own imports, bound once more by this `use`.
                let inner = adapter_imports(db, mws);
                for (address, imp) in inner.adapters.iter() {
                    let Some((server, ty)) = address
                        .strip_prefix("adapter.")
                        .and_then(|rest| rest.split_once('.'))
                    else {
                        continue;
                    };
                    brought.push((
                        format!("adapter.{}.{ty}", renamed(server)),
                        ImportedAdapter {
                            servers: compose(&imp.servers, &m),
                            via: d.key.clone(),
                            ..imp.clone()
                        },
                    ));
                }
            }
            let here = AdapterOrigin::Use(*file, i, d.key.clone());
            // The types defined before (by another definition), by their earlier one.
            let mut again: Vec<(AdapterOrigin, String)> = Vec::new();
            for (address, adapter) in brought {
                if let Some((first, def)) = defined.get(&address) {
                    // A module is whole by itself, so the adapters its pattern needs may be
                    // the very ones the workspace (or another module) has: no clash. Two
                    // imports of the same package by the workspace itself are one too many.
                    let same = def.as_ref().is_some_and(|(def, with_pattern)| {
                        (pattern_module || *with_pattern) && def.same(&adapter)
                    });
                    if !same && first != &here {
                        let ty = address.strip_prefix("adapter.").unwrap_or(&address);
                        again.push((first.clone(), ty.to_string()));
                    }
                    continue;
                }
                defined.insert(
                    address.clone(),
                    (here.clone(), Some((adapter.clone(), pattern_module))),
                );
                if package {
                    out.adapters.insert(address, adapter);
                } else {
                    out.with_patterns.insert(address, adapter);
                }
            }
            // One clash per earlier definition, naming all the types it shares.
            let mut by_first: Vec<(AdapterOrigin, Vec<String>)> = Vec::new();
            for (first, ty) in again {
                match by_first.iter_mut().find(|(f, _)| *f == first) {
                    Some((_, types)) => types.push(ty),
                    None => by_first.push((first, vec![ty])),
                }
            }
            for (first, mut types) in by_first {
                types.sort();
                out.clashes.push(AdapterClash {
                    file: *file,
                    decl: i,
                    first,
                    types,
                });
            }
        }
    }
    out
}
