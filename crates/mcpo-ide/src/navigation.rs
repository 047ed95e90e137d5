//! Go to definition, find references and rename, across the workspace's files.

use crate::at::{self, Target};
use crate::{Location, TextEdit};
use mcpo_diagnostics::Span;
use mcpo_sema::{SourceFile, Workspace};
use mcpo_syntax::ast::{Body, BodyItem};

/// The address of the declaration at or referenced at `offset`.
fn key_at(db: &dyn salsa::Database, file: SourceFile, offset: u32) -> Option<(String, Span)> {
    match at::find(db, file, offset)? {
        Target::Decl { key, name } => Some((key, name)),
        Target::Ref { key, name, .. } if at::holds(name, offset) || offset < name.start => {
            Some((key, name))
        }
        _ => None,
    }
}

/// Where the declaration named by `key` is (its name), if declared.
pub fn declaration(db: &dyn salsa::Database, ws: Workspace, key: &str) -> Option<Location> {
    let &(file, i) = mcpo_sema::index(db, ws).decls.get(key)?.first()?;
    Some(Location {
        file: file.id(db),
        span: mcpo_sema::decl_span(db, file, i),
    })
}

/// The declaration of what is under the cursor.
pub fn definition(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    offset: u32,
) -> Option<Location> {
    match at::find(db, file, offset)? {
        Target::Decl { key, .. } | Target::Ref { key, .. } => declaration(db, ws, &key),
        Target::Call(c) => declaration(db, ws, &format!("function.{}", c.name.name)),
        Target::Param { top, name } => {
            let b = at::param_block(top, &name.name)?;
            Some(Location {
                file: file.id(db),
                span: b.labels.first()?.span(),
            })
        }
        _ => None,
    }
}

/// Every reference to `key` in the workspace: the spans of the identifiers that name it.
fn reference_sites(db: &dyn salsa::Database, ws: Workspace, key: &str) -> Vec<Location> {
    let mut out = Vec::new();
    let fn_name = key.strip_prefix("function.");
    for file in ws.files(db) {
        let id = file.id(db);
        let parsed = mcpo_sema::parse(db, *file);
        each_expr(&parsed.file.body, &mut |e| {
            mcpo_sema::walk(e, &mut |x| {
                if let Some(name) = fn_name {
                    if let mcpo_syntax::ast::ExprKind::FunctionCall(c) = &x.kind
                        && c.namespace.is_empty()
                        && c.name.name == name
                    {
                        out.push(Location {
                            file: id,
                            span: c.name.span,
                        });
                    }
                } else if let Some((k, span)) = mcpo_sema::reference(x)
                    && k == key
                {
                    out.push(Location { file: id, span });
                }
            });
        });
    }
    // A reference is found once per enclosing traversal step (`a.b.c` and `a.b.c.d`).
    out.sort();
    out.dedup();
    out
}

/// Calls `f` on every attribute value of a body, nested blocks included.
fn each_expr<'a>(body: &'a Body, f: &mut dyn FnMut(&'a mcpo_syntax::ast::Expr)) {
    for item in &body.items {
        match item {
            BodyItem::Attribute(a) => f(&a.value),
            BodyItem::Block(b) => each_expr(&b.body, f),
            BodyItem::Error(_) => {}
        }
    }
}

/// References to what is under the cursor, across files; with its declaration first
/// when `include_declaration`.
pub fn references(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    offset: u32,
    include_declaration: bool,
) -> Vec<Location> {
    let key = match at::find(db, file, offset) {
        Some(Target::Decl { key, .. } | Target::Ref { key, .. }) => key,
        Some(Target::Call(c)) => format!("function.{}", c.name.name),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    if include_declaration && let Some(d) = declaration(db, ws, &key) {
        out.push(d);
    }
    out.extend(reference_sites(db, ws, &key));
    out
}

/// Why a rename cannot be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameError(pub String);

/// The span to rename at `offset` and the current name, if something renameable is there.
pub fn prepare_rename(
    db: &dyn salsa::Database,
    file: SourceFile,
    offset: u32,
) -> Option<(Span, String)> {
    let (_, span) = key_at(db, file, offset)?;
    let inner = unquoted(file.text(db), span);
    Some((inner, file.text(db).get(inner.range())?.to_string()))
}

/// A span without the quotes of a quoted label.
fn unquoted(text: &str, span: Span) -> Span {
    match text.get(span.range()) {
        Some(s) if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') => {
            Span::new(span.start as usize + 1, span.end as usize - 1)
        }
        _ => span,
    }
}

/// Renames the declaration under the cursor (or referenced there) and every reference.
pub fn rename(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    offset: u32,
    new_name: &str,
) -> Result<Vec<TextEdit>, RenameError> {
    let valid = new_name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && new_name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(RenameError(format!(
            "`{new_name}` is not a name: use letters, digits, `_` and `-`, starting with a letter or `_`"
        )));
    }
    let Some((key, _)) = key_at(db, file, offset) else {
        return Err(RenameError("nothing to rename here".to_string()));
    };
    let Some(decl) = declaration(db, ws, &key) else {
        return Err(RenameError(format!(
            "`{key}` is not declared in the workspace"
        )));
    };
    let mut sites = vec![decl];
    sites.extend(reference_sites(db, ws, &key));
    let mut edits = Vec::new();
    for loc in sites {
        let Some(f) = crate::file_by_id(db, ws, loc.file) else {
            continue;
        };
        edits.push(TextEdit {
            file: loc.file,
            span: unquoted(f.text(db), loc.span),
            text: new_name.to_string(),
        });
    }
    edits.sort();
    edits.dedup();
    Ok(edits)
}
