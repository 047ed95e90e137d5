//! Which pattern a `use` block instantiates and whose names it lives among: a pattern of
//! the using workspace (`pattern = "web"`), or one of a module the front end loaded
//! ([`Module`]: its files as a workspace of their own, so that two modules that both
//! declare `web` never collide). The checker, the planner and the editor resolve a `use`
//! through [`resolve_use`] alone.

use crate::{Module, Workspace, index};

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
