//! Checks that need the whole workspace: duplicate declarations, resource types that two
//! adapters define, dependency cycles, unused variables, and problems of the pulled
//! schemas themselves.

use crate::names::{DeclKind, Index};
use crate::{SourceFile, Workspace, catalog, index, parse, signature};
use mcpo_diagnostics::{Diagnostic, Span, codes};
use mcpo_syntax::ast::BodyItem;
use std::collections::{BTreeMap, BTreeSet};

/// The workspace-level diagnostics (memoized; re-runs when a signature or schema changes).
#[salsa::tracked(returns(ref))]
pub fn workspace_diagnostics(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let idx = index(db, ws);
    let mut out = Vec::new();
    duplicates(db, idx, &mut out);
    adapter_clashes(db, ws, &mut out);
    runbook_clashes(db, ws, &mut out);
    cycles(db, idx, &mut out);
    unused(db, idx, &mut out);
    schemas(db, ws, idx, &mut out);
    out
}

/// Where a declaration's name is: its last label, or a local's attribute name. `i` is
/// the declaration's index in the file's [`signature`] (as in [`crate::Index::decls`]).
pub fn decl_span(db: &dyn salsa::Database, file: SourceFile, i: usize) -> Span {
    let Some(d) = signature(db, file).decls.get(i) else {
        return Span::default();
    };
    let parsed = parse(db, file);
    match parsed.file.body.items.get(d.item) {
        Some(BodyItem::Block(b)) => {
            if d.kind == DeclKind::Local
                && let Some(BodyItem::Attribute(a)) = b.body.items.get(d.sub)
            {
                return a.name.span;
            }
            b.labels.last().map_or(b.ty.span, |l| l.span())
        }
        Some(other) => other.span(),
        None => Span::default(),
    }
}

fn duplicates(db: &dyn salsa::Database, idx: &Index, out: &mut Vec<Diagnostic>) {
    for (key, places) in &idx.decls {
        let Some(((first_file, first_i), rest)) = places.split_first() else {
            continue;
        };
        // Spans come from the parse, which changes on every edit: read it only when there
        // is something to report, so that the workspace checks do not depend on it.
        if rest.is_empty() {
            continue;
        }
        let first_span = decl_span(db, *first_file, *first_i);
        let kind = signature(db, *first_file)
            .decls
            .get(*first_i)
            .map_or("declaration", |d| d.kind.block_name());
        for (file, i) in rest {
            let span = decl_span(db, *file, *i);
            out.push(
                Diagnostic::error(
                    codes::E0108,
                    file.id(db),
                    span,
                    format!("`{key}` is declared twice"),
                )
                .with_primary_label(format!("a second {kind} with this name"))
                .with_label_in(first_file.id(db), first_span, "first declared here")
                .with_help("rename or remove one of them"),
            );
        }
    }
}

/// The `use` blocks that bring an adapter for a resource type the workspace already has
/// another one for (its own `adapter` block, or an earlier `use`: of a package of
/// adapters, or of a module's pattern with the adapters the module has): E0119 at the
/// `use`'s `source`, pointing at the earlier definition.
fn adapter_clashes(db: &dyn salsa::Database, ws: Workspace, out: &mut Vec<Diagnostic>) {
    use crate::AdapterOrigin;
    let clashes = &crate::adapter_imports(db, ws).clashes;
    // Spans come from the parse: read it only when there is something to report.
    let source_span = |file: SourceFile, i: usize| -> Span {
        let Some(d) = signature(db, file).decls.get(i) else {
            return Span::default();
        };
        match parse(db, file).file.body.items.get(d.item) {
            Some(BodyItem::Block(b)) => {
                crate::names::attr(b, "source").map_or_else(|| decl_span(db, file, i), |e| e.span)
            }
            _ => decl_span(db, file, i),
        }
    };
    for c in clashes {
        let names: Vec<String> = c.types.iter().map(|t| format!("`{t}`")).collect();
        let (what, verb) = match names.as_slice() {
            [one] => (format!("resource type {one}"), "is"),
            _ => (format!("resource types {}", join_names(&names)), "are"),
        };
        let module = signature(db, c.file)
            .decls
            .get(c.decl)
            .map_or_else(String::new, |d| d.key.clone());
        let mut d = Diagnostic::error(
            codes::E0119,
            c.file.id(db),
            source_span(c.file, c.decl),
            format!("{what} {verb} already defined"),
        )
        .with_primary_label(format!(
            "`{module}` brings another adapter for {}",
            if c.types.len() == 1 { "it" } else { "them" }
        ));
        d = match &c.first {
            AdapterOrigin::Own(file, i) => d
                .with_label_in(
                    file.id(db),
                    decl_span(db, *file, *i),
                    "defined here, by an `adapter` block of the workspace",
                )
                .with_help(
                    "a resource type has one adapter: remove the `adapter` block or this `use`, or map this `use`'s servers to others with `servers = { ... }`",
                ),
            AdapterOrigin::Use(file, i, via) => d
                .with_label_in(
                    file.id(db),
                    source_span(*file, *i),
                    format!("first defined here, by the adapters `{via}` brings"),
                )
                .with_help(
                    "a resource type has one adapter: bring it once, or map one `use`'s servers to others with `servers = { ... }`",
                ),
        };
        out.push(d);
    }
}

/// The `use` blocks that bring a runbook named like one of the workspace's own: E0120 at
/// the `use`'s `source`, pointing at the workspace's runbook.
fn runbook_clashes(db: &dyn salsa::Database, ws: Workspace, out: &mut Vec<Diagnostic>) {
    for c in &crate::runbook_imports(db, ws).clashes {
        let r = &c.imported;
        let at = match signature(db, r.use_file).decls.get(r.use_decl) {
            Some(d) => match parse(db, r.use_file).file.body.items.get(d.item) {
                Some(BodyItem::Block(b)) => crate::names::attr(b, "source")
                    .map_or_else(|| decl_span(db, r.use_file, r.use_decl), |e| e.span),
                _ => decl_span(db, r.use_file, r.use_decl),
            },
            None => Span::default(),
        };
        let (file, i) = c.own;
        out.push(
            Diagnostic::error(
                codes::E0120,
                r.use_file.id(db),
                at,
                format!("runbook `{}` is already defined", r.name),
            )
            .with_primary_label(format!(
                "`module.{}` brings runbook `{}` from `{}`",
                r.via, r.name, r.origin
            ))
            .with_label_in(
                file.id(db),
                decl_span(db, file, i),
                "the workspace's own runbook of that name",
            )
            .with_help(format!(
                "`mcpoc run {}` would mean two runbooks: rename the workspace's runbook, or drop it if the module's does the same",
                r.name
            )),
        );
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn cycles(db: &dyn salsa::Database, idx: &Index, out: &mut Vec<Diagnostic>) {
    // The graph: every declaration that can depend on others, by address.
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, places) in &idx.decls {
        let Some((file, i)) = places.first() else {
            continue;
        };
        let Some(d) = signature(db, *file).decls.get(*i) else {
            continue;
        };
        let deps: Vec<&str> = d
            .deps
            .iter()
            .map(String::as_str)
            .filter(|k| idx.decls.contains_key(*k))
            .collect();
        edges.insert(key.as_str(), deps);
    }
    // Iterative depth-first search; each cycle is reported once, from its smallest node.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = on stack, 2 = done
    let mut found: BTreeSet<Vec<&str>> = BTreeSet::new();
    for &start in edges.keys() {
        if state.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        let mut path: Vec<&str> = vec![start];
        state.insert(start, 1);
        while let Some((node, next)) = stack.last().copied() {
            let deps = edges.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&dep) = deps.get(next) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match state.get(dep) {
                    None => {
                        state.insert(dep, 1);
                        stack.push((dep, 0));
                        path.push(dep);
                    }
                    Some(1) => {
                        if let Some(pos) = path.iter().position(|p| *p == dep) {
                            let mut cycle: Vec<&str> = path.get(pos..).unwrap_or(&[]).to_vec();
                            // Rotate so the smallest address comes first.
                            if let Some(min) = cycle
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, k)| **k)
                                .map(|(i, _)| i)
                            {
                                cycle.rotate_left(min);
                            }
                            found.insert(cycle);
                        }
                    }
                    _ => {}
                }
            } else {
                state.insert(node, 2);
                stack.pop();
                path.pop();
            }
        }
    }
    for cycle in found {
        let Some(first) = cycle.first() else { continue };
        let Some(&(file, i)) = idx.decls.get(*first).and_then(|v| v.first()) else {
            continue;
        };
        let mut shown: Vec<&str> = cycle.clone();
        shown.push(first);
        let mut d = Diagnostic::error(
            codes::E0400,
            file.id(db),
            decl_span(db, file, i),
            format!("dependency cycle: {}", shown.join(" -> ")),
        );
        let next = cycle.get(1).copied().unwrap_or(first);
        d = d.with_primary_label(format!("`{first}` depends on `{next}`"));
        for (n, key) in cycle.iter().enumerate().skip(1) {
            let after = cycle.get(n + 1).copied().unwrap_or(first);
            if let Some(&(f, j)) = idx.decls.get(*key).and_then(|v| v.first()) {
                d = d.with_label_in(
                    f.id(db),
                    decl_span(db, f, j),
                    format!("`{key}` depends on `{after}`"),
                );
            }
        }
        out.push(d.with_help("remove one of the references to break the cycle"));
    }
}

fn unused(db: &dyn salsa::Database, idx: &Index, out: &mut Vec<Diagnostic>) {
    for (key, places) in idx.decls.range("var.".to_string()..) {
        if !key.starts_with("var.") {
            break;
        }
        if idx.used.contains(key) {
            continue;
        }
        let Some(&(file, i)) = places.first() else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                codes::W0001,
                file.id(db),
                decl_span(db, file, i),
                format!(
                    "variable `{}` is never used",
                    key.strip_prefix("var.").unwrap_or(key)
                ),
            )
            .with_primary_label("declared here, read nowhere")
            .with_help("remove it, or read it with `var.<name>` where it was meant to be used"),
        );
    }
}

fn schemas(db: &dyn salsa::Database, ws: Workspace, idx: &Index, out: &mut Vec<Diagnostic>) {
    for schema in ws.schemas(db) {
        let server = schema.server(db);
        // Schema problems are shown where the workspace names the server: its `server`
        // block, else the first resource that uses it. Unused schemas are not checked.
        let place = idx
            .decls
            .get(&format!("server.{server}"))
            .and_then(|v| v.first())
            .copied()
            .or_else(|| {
                idx.decls.iter().find_map(|(_, v)| {
                    let &(f, i) = v.first()?;
                    let d = signature(db, f).decls.get(i)?;
                    (d.server == *server).then_some((f, i))
                })
            });
        let Some((file, i)) = place else { continue };
        let cat = catalog(db, *schema);
        if cat.error.is_none() && cat.warnings.is_empty() {
            continue;
        }
        let span = decl_span(db, file, i);
        if let Some(reason) = &cat.error {
            out.push(
                Diagnostic::error(
                    codes::E0320,
                    file.id(db),
                    span,
                    format!("the pulled schema of `{server}` cannot be read"),
                )
                .with_primary_label(format!("`{}`: {reason}", schema.name(db)))
                .with_help(format!("run `mcpoc schema pull --server {server}`")),
            );
            continue;
        }
        for (tool, side, w) in &cat.warnings {
            out.push(
                Diagnostic::warning(
                    codes::W0002,
                    file.id(db),
                    span,
                    format!("part of the {side} schema of `{server}` tool `{tool}` is typed `any`"),
                )
                .with_primary_label(format!("at `{}`: {}", w.pointer, w.message)),
            );
        }
    }
}
