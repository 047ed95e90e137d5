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

/// Whether module workspace `mws` is a package of adapters: it declares `adapter` blocks
/// and no pattern. A `use` of such a module instantiates nothing; it imports its adapters
/// (see [`imported_adapters`]).
pub fn is_adapter_module(db: &dyn salsa::Database, mws: Workspace) -> bool {
    let idx = index(db, mws);
    idx.names_with_prefix("pattern.").next().is_none()
        && idx.names_with_prefix("adapter.").next().is_some()
}

/// The module workspace of the package of adapters that `link` names in `ws`, when the
/// front end loaded one there.
pub fn adapter_module(db: &dyn salsa::Database, ws: Workspace, link: &str) -> Option<Workspace> {
    let mws = module_for(db, ws, link)?.workspace(db)?;
    is_adapter_module(db, mws).then_some(mws)
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
}

/// The adapters the `use` blocks of `ws` import from packages of adapters, keyed by their
/// address in `ws` (`adapter.engine.network` for the package's `adapter "docker"
/// "network"` under `servers = { docker = engine }`). An adapter declared in `ws` itself
/// wins over an imported one of the same address; of two imports, the first `use` in
/// name order wins (the checker reports the clash at the second).
#[salsa::tracked(returns(ref))]
pub fn imported_adapters(
    db: &dyn salsa::Database,
    ws: Workspace,
) -> BTreeMap<String, ImportedAdapter> {
    let mut out = BTreeMap::new();
    let idx = index(db, ws);
    for name in idx.names_with_prefix("module.") {
        let via = format!("module.{name}");
        let Some(d) = idx.get(db, &via) else { continue };
        if d.module.is_empty() {
            continue;
        }
        let Some(mws) = adapter_module(db, ws, &d.module) else {
            continue;
        };
        let servers = link_servers(&d.module);
        for adapter in index(db, mws).names_with_prefix("adapter.") {
            let Some((server, ty)) = adapter.split_once('.') else {
                continue;
            };
            let mine = servers.get(server).map_or(server, String::as_str);
            out.entry(format!("adapter.{mine}.{ty}"))
                .or_insert_with(|| ImportedAdapter {
                    module: mws,
                    address: format!("adapter.{adapter}"),
                    servers: servers.clone(),
                    via: via.clone(),
                });
        }
    }
    out
}
