//! Document symbols (the outline) and workspace symbols.

use crate::Location;
use mcpo_diagnostics::Span;
use mcpo_sema::{DeclKind, SourceFile, Workspace};
use mcpo_syntax::ast::BodyItem;

/// One symbol of the outline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Its address (`aws.vpc.main`, `var.region`, ...).
    pub name: String,
    /// What declares it (`resource`, `variable`, ...).
    pub kind: DeclKind,
    /// The whole declaration.
    pub span: Span,
    /// Its name.
    pub name_span: Span,
}

/// The declarations of one file, in source order.
pub fn document_symbols(db: &dyn salsa::Database, file: SourceFile) -> Vec<Symbol> {
    let parsed = mcpo_sema::parse(db, file);
    let mut out = Vec::new();
    for (i, d) in mcpo_sema::signature(db, file).decls.iter().enumerate() {
        let name_span = mcpo_sema::decl_span(db, file, i);
        let span = match parsed.file.body.items.get(d.item) {
            Some(BodyItem::Block(b)) if d.kind == DeclKind::Local => {
                match b.body.items.get(d.sub) {
                    Some(item) => item.span(),
                    None => b.span,
                }
            }
            Some(item) => item.span(),
            None => name_span,
        };
        out.push(Symbol {
            name: d.key.clone(),
            kind: d.kind,
            span: span.cover(name_span),
            name_span,
        });
    }
    out
}

/// A declaration anywhere in the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceSymbol {
    /// Its address.
    pub name: String,
    /// What declares it.
    pub kind: DeclKind,
    /// Where its name is.
    pub location: Location,
}

/// Declarations whose address contains `query` (case-insensitive), sorted by address; at
/// most `limit`.
pub fn workspace_symbols(
    db: &dyn salsa::Database,
    ws: Workspace,
    query: &str,
    limit: usize,
) -> Vec<WorkspaceSymbol> {
    let q = query.to_lowercase();
    let mut out = Vec::new();
    for (key, places) in &mcpo_sema::index(db, ws).decls {
        if !key.to_lowercase().contains(&q) {
            continue;
        }
        let Some(&(file, i)) = places.first() else {
            continue;
        };
        let Some(d) = mcpo_sema::signature(db, file).decls.get(i) else {
            continue;
        };
        out.push(WorkspaceSymbol {
            name: key.clone(),
            kind: d.kind,
            location: Location {
                file: file.id(db),
                span: mcpo_sema::decl_span(db, file, i),
            },
        });
        if out.len() >= limit {
            break;
        }
    }
    out
}
