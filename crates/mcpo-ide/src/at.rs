//! What is at an offset: a declaration's name, a reference, an attribute name, a function
//! call, a type label. Shared by hover, navigation and rename.

use mcpo_diagnostics::Span;
use mcpo_schema::Ty;
use mcpo_sema::{SourceFile, Workspace};
use mcpo_syntax::ast::{Attribute, Block, BodyItem, Expr, ExprKind, FunctionCall};

/// Something the cursor can be on.
pub(crate) enum Target<'a> {
    /// The name of a declaration (its last label, or a local's attribute name).
    Decl {
        /// Its address.
        key: String,
        /// The name's span.
        name: Span,
    },
    /// A reference to a declaration.
    Ref {
        /// The address it names.
        key: String,
        /// The span of the identifier naming the declaration.
        name: Span,
        /// The whole reference expression.
        expr: &'a Expr,
    },
    /// An attribute's name, with its enclosing blocks (outermost first).
    Attr {
        /// The attribute.
        attr: &'a Attribute,
        /// The blocks around it, outermost first.
        blocks: Vec<&'a Block>,
    },
    /// The name of a called function.
    Call(&'a FunctionCall),
    /// The type label of a `resource`, `data` or `task` block.
    TypeLabel(&'a Block),
    /// `param.<name>` inside a pattern or runbook (the top-level block).
    Param {
        /// The pattern or runbook.
        top: &'a Block,
        /// The parameter's name in the reference.
        name: &'a mcpo_syntax::ast::Ident,
    },
}

/// Whether `span` holds `offset` (both ends included: a cursor just after a name is on it).
pub(crate) fn holds(span: Span, offset: u32) -> bool {
    span.start <= offset && offset <= span.end
}

/// What is at `offset` in `file`.
pub(crate) fn find<'a>(
    db: &'a dyn salsa::Database,
    file: SourceFile,
    offset: u32,
) -> Option<Target<'a>> {
    for (i, d) in mcpo_sema::signature(db, file).decls.iter().enumerate() {
        let span = mcpo_sema::decl_span(db, file, i);
        if holds(span, offset) && !span.is_empty() {
            return Some(Target::Decl {
                key: d.key.clone(),
                name: span,
            });
        }
    }
    let parsed = mcpo_sema::parse(db, file);
    let mut blocks = Vec::new();
    for item in &parsed.file.body.items {
        if let BodyItem::Block(b) = item
            && holds(b.span, offset)
        {
            if matches!(b.ty.name.as_str(), "resource" | "data" | "task")
                && b.labels.first().is_some_and(|l| holds(l.span(), offset))
            {
                return Some(Target::TypeLabel(b));
            }
            return in_block(b, offset, &mut blocks);
        }
    }
    None
}

fn in_block<'a>(b: &'a Block, offset: u32, blocks: &mut Vec<&'a Block>) -> Option<Target<'a>> {
    blocks.push(b);
    for item in &b.body.items {
        match item {
            BodyItem::Attribute(a) if holds(a.name.span, offset) => {
                return Some(Target::Attr {
                    attr: a,
                    blocks: blocks.clone(),
                });
            }
            BodyItem::Attribute(a) if holds(a.value.span, offset) => {
                if let Some(top) = blocks.first()
                    && let Some(p) = param_at(top, &a.value, offset)
                {
                    return Some(p);
                }
                // `use "x" { pattern = "<name>" }` names a pattern of the workspace.
                if let (Some(top), true) = (blocks.first(), a.name.name == "pattern")
                    && top.ty.name == "use"
                    && let ExprKind::Template(t) = &a.value.kind
                    && let Some(name) = t.as_literal()
                {
                    return Some(Target::Ref {
                        key: format!("pattern.{name}"),
                        name: a.value.span,
                        expr: &a.value,
                    });
                }
                return in_expr(&a.value, offset);
            }
            BodyItem::Block(inner) if holds(inner.span, offset) => {
                return in_block(inner, offset, blocks);
            }
            _ => {}
        }
    }
    None
}

/// `param.<name>` at `offset`, inside a pattern or runbook.
fn param_at<'a>(top: &'a Block, expr: &'a Expr, offset: u32) -> Option<Target<'a>> {
    if !matches!(top.ty.name.as_str(), "pattern" | "runbook") {
        return None;
    }
    let mut found = None;
    mcpo_sema::walk(expr, &mut |e| {
        if let ExprKind::GetAttr { object, name } = &e.kind
            && matches!(&object.kind, ExprKind::Variable(v) if v.name == "param")
            && holds(e.span, offset)
        {
            found = Some(Target::Param { top, name });
        }
    });
    found
}

/// The `param "<name>"` block of a pattern or runbook.
pub(crate) fn param_block<'a>(top: &'a Block, name: &str) -> Option<&'a Block> {
    top.body.items.iter().find_map(|i| match i {
        BodyItem::Block(b)
            if b.ty.name == "param" && b.labels.first().is_some_and(|l| l.value() == name) =>
        {
            Some(b)
        }
        _ => None,
    })
}

/// The innermost reference or call name around `offset` in an expression.
pub(crate) fn in_expr(expr: &Expr, offset: u32) -> Option<Target<'_>> {
    let mut best: Option<(u32, Target<'_>)> = None;
    mcpo_sema::walk(expr, &mut |e| {
        if !holds(e.span, offset) {
            return;
        }
        let len = e.span.len() as u32;
        if best.as_ref().is_some_and(|(l, _)| *l <= len) {
            return;
        }
        if let ExprKind::FunctionCall(c) = &e.kind
            && holds(c.name.span, offset)
        {
            best = Some((len, Target::Call(c)));
        } else if let Some((key, name)) = mcpo_sema::reference(e) {
            best = Some((len, Target::Ref { key, name, expr: e }));
        }
    });
    best.map(|(_, t)| t)
}

/// The object type a block's body is checked against: a resource's inputs, a data
/// block's outputs, a task's tool arguments, then nested blocks by name. `None` when
/// unknown (no schema, or not a schema-typed block).
pub(crate) fn body_type(db: &dyn salsa::Database, ws: Workspace, blocks: &[&Block]) -> Option<Ty> {
    let (top, nested) = blocks.split_first()?;
    let label = top.labels.first()?.value();
    let (server, name) = label.split_once('.')?;
    let adapter = match top.ty.name.as_str() {
        // An adapter's type (the workspace's own or an imported one) is its `inputs`.
        "resource" | "data" => mcpo_sema::adapter_types(db, ws, server, name).map(|(i, _)| i),
        _ => None,
    };
    let mut ty = match adapter {
        Some(t) => t,
        None => {
            let catalog = ws
                .schemas(db)
                .iter()
                .find(|s| s.server(db) == server)
                .map(|s| mcpo_sema::catalog(db, *s))?;
            match top.ty.name.as_str() {
                "resource" => catalog.resource_types.get(name)?.input.clone(),
                "data" => catalog.resource_types.get(name)?.output.clone(),
                "task" => catalog.tools.get(name)?.input.clone(),
                _ => return None,
            }
        }
    };
    for b in nested {
        let attr = ty.as_object()?.get(&b.ty.name)?;
        ty = match attr.ty.strip_sensitive() {
            Ty::List(t) | Ty::Set(t) => (**t).clone(),
            other => other.clone(),
        };
    }
    Some(ty)
}

/// The resource type `(server, type)` of a resource/data block, or tool of a task.
pub(crate) fn block_type(b: &Block) -> Option<(&str, &str)> {
    b.labels.first()?.value().split_once('.')
}
