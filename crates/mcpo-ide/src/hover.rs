//! Hover: types, schema descriptions of attributes and tool parameters, declarations'
//! documentation (their comments and a variable's `description`).

use crate::at::{self, Target};
use mcpo_diagnostics::Span;
use mcpo_schema::{Attr, Ty};
use mcpo_sema::{Decl, DeclKind, Repeat, SourceFile, Workspace};
use mcpo_syntax::ast::{Block, BodyItem, Expr, ExprKind};

/// What to show for the thing under the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hover {
    /// The text the hover is about.
    pub span: Span,
    /// Markdown.
    pub markdown: String,
}

/// The hover at `offset` in `file`, if there is something to say.
pub fn hover(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    offset: u32,
) -> Option<Hover> {
    let text = file.text(db);
    let Some(target) = at::find(db, file, offset) else {
        // Any other expression (a `for` variable, a literal, ...): its type.
        let (span, ty) = mcpo_sema::type_at(db, ws, file, offset)?;
        let shown = text.get(span.range()).unwrap_or("");
        let shown = if shown.contains('\n') || shown.len() > 60 {
            "this"
        } else {
            shown
        };
        return Some(Hover {
            span,
            markdown: format!("```mcpo\n{shown}: {ty}\n```"),
        });
    };
    match target {
        Target::Decl { key, name } => Some(Hover {
            span: name,
            markdown: decl_markdown(db, ws, &key)?,
        }),
        Target::Ref { key, name, expr } => {
            // On a part of the reference up to the declaration's name: that part.
            if offset <= name.end
                && let Some(h) = reference_part(db, ws, text, &key, name, expr, offset)
            {
                return Some(h);
            }
            let shown = text.get(expr.span.range()).unwrap_or("");
            let mut md = String::new();
            if let Some((_, ty)) = mcpo_sema::type_at(db, ws, file, offset) {
                md.push_str(&format!("```mcpo\n{shown}: {ty}\n```\n"));
            }
            // On an attribute after the declaration's name: that attribute's description.
            if offset > name.end
                && let Some(desc) = output_attr_doc(db, ws, &key, text, expr.span, name.end)
            {
                md.push_str(&format!("\n{desc}\n"));
            }
            if let Some(d) = decl_markdown(db, ws, &key) {
                md.push_str("\n---\n\n");
                md.push_str(&d);
            }
            Some(Hover {
                span: expr.span,
                markdown: md.trim_end().to_string(),
            })
        }
        Target::Attr { attr, blocks } => {
            let ty = at::body_type(db, ws, &blocks)?;
            let a = ty.as_object()?.get(&attr.name.name)?;
            Some(Hover {
                span: attr.name.span,
                markdown: attr_markdown(&attr.name.name, a),
            })
        }
        Target::Call(call) => {
            let name = call.name.name.as_str();
            let md = if let Some(sig) = mcpo_sema::lookup(name) {
                format!("```mcpo\n{}\n```\nbuilt-in function", sig.display(name))
            } else {
                let idx = mcpo_sema::index(db, ws);
                let d = idx.get(db, &format!("function.{name}"))?;
                format!("```mcpo\n{}\n```\n", function_signature(name, d))
            };
            Some(Hover {
                span: call.name.span,
                markdown: md,
            })
        }
        Target::Param { top, name } => {
            let b = at::param_block(top, &name.name)?;
            let ty = b.body.items.iter().find_map(|i| match i {
                BodyItem::Attribute(a) if a.name.name == "type" => text.get(a.value.span.range()),
                _ => None,
            });
            let mut md = format!(
                "```mcpo\nparam \"{}\": {}\n```\nparameter of {} `{}`",
                name.name,
                ty.unwrap_or("any"),
                top.ty.name,
                top.labels.first().map_or("", |l| l.value())
            );
            if let Some(desc) = string_attr(b, "description") {
                md.push_str(&format!("\n\n{desc}"));
            }
            Some(Hover {
                span: name.span,
                markdown: md,
            })
        }
        Target::TypeLabel(b) => {
            let (server, name) = at::block_type(b)?;
            Some(Hover {
                span: b.labels.first().map_or(b.ty.span, |l| l.span()),
                markdown: type_markdown(db, ws, server, name, b.ty.name == "task")?,
            })
        }
    }
}

/// A resource type (or, for a task, a tool): its create tool's description, the required
/// inputs, and which inputs force a replacement when they change.
fn type_markdown(
    db: &dyn salsa::Database,
    ws: Workspace,
    server: &str,
    name: &str,
    tool: bool,
) -> Option<String> {
    let catalog = ws
        .schemas(db)
        .iter()
        .find(|s| s.server(db) == server)
        .map(|s| mcpo_sema::catalog(db, *s));
    let required = |ty: &Ty| -> Vec<String> {
        ty.as_object()
            .map(|o| {
                o.attrs
                    .iter()
                    .filter(|(_, a)| a.required)
                    .map(|(n, a)| format!("`{n}: {}`", a.ty))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut md = String::new();
    if tool {
        md.push_str(&format!("tool `{server}.{name}`\n"));
        if let Some(t) = catalog.and_then(|c| c.tools.get(name)) {
            if let Some(d) = &t.description {
                md.push_str(&format!("\n{d}\n"));
            }
            let req = required(&t.input);
            if !req.is_empty() {
                md.push_str(&format!("\nrequired: {}\n", req.join(", ")));
            }
        }
        return Some(md.trim_end().to_string());
    }
    md.push_str(&format!("resource type `{server}.{name}`\n"));
    if let Some((input, _)) = mcpo_sema::adapter_types(db, ws, server, name) {
        let address = format!("adapter.{server}.{name}");
        match mcpo_sema::imported_adapters(db, ws).get(&address) {
            Some(i) if !mcpo_sema::index(db, ws).decls.contains_key(&address) => md.push_str(
                &format!("\ndefined by an adapter that `{}` imports\n", i.via),
            ),
            _ => md.push_str("\ndefined by an `adapter` block\n"),
        }
        let req = required(&input);
        if !req.is_empty() {
            md.push_str(&format!("\nrequired: {}\n", req.join(", ")));
        }
        return Some(md.trim_end().to_string());
    }
    let Some(rt) = catalog.and_then(|c| c.resource_types.get(name)) else {
        return Some(md.trim_end().to_string());
    };
    if let Some(d) = &rt.description {
        md.push_str(&format!("\n{d}\n"));
    }
    let req = required(&rt.input);
    if !req.is_empty() {
        md.push_str(&format!("\nrequired: {}\n", req.join(", ")));
    }
    let force_new = rt.force_new();
    if rt.updatable.is_none() {
        md.push_str(&format!(
            "\nno `{name}.update` tool: any change replaces the resource\n"
        ));
    } else if !force_new.is_empty() {
        let names: Vec<String> = force_new.iter().map(|n| format!("`{n}`")).collect();
        md.push_str(&format!("\nforces replacement: {}\n", names.join(", ")));
    }
    Some(md.trim_end().to_string())
}

/// The parts of a reference (`aws`, `ec2_instance`, `app` in
/// `aws.ec2_instance.app.private_ip`), root first, as long as they are plain names.
fn parts(expr: &Expr) -> Vec<(String, Span)> {
    match &expr.kind {
        ExprKind::Variable(v) => vec![(v.name.clone(), v.span)],
        ExprKind::GetAttr { object, name } => {
            let mut out = parts(object);
            if !out.is_empty() {
                out.push((name.name.clone(), name.span));
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The hover of the part of a reference at `offset`, when it is at or before the
/// declaration's name: the server, the resource type, or the declaration itself with the
/// type a reference to it has (a resource is an object).
fn reference_part(
    db: &dyn salsa::Database,
    ws: Workspace,
    text: &str,
    key: &str,
    name: Span,
    expr: &Expr,
    offset: u32,
) -> Option<Hover> {
    let mut all = parts(expr);
    all.retain(|(_, s)| s.end <= name.end);
    let here = all.iter().position(|(_, s)| at::holds(*s, offset))?;
    let (_, span) = all.get(here)?.clone();
    let d = mcpo_sema::index(db, ws).get(db, key)?;
    let before_name = all.len().saturating_sub(1) - here;
    let typed = matches!(d.kind, DeclKind::Resource | DeclKind::Data | DeclKind::Task);
    match (typed, before_name) {
        (_, 0) => {
            let start = all.first().map_or(span.start, |(_, s)| s.start);
            let shown = text.get(start as usize..span.end as usize).unwrap_or(key);
            let mut md = String::new();
            if let Some(ty) = decl_type(db, ws, d) {
                md.push_str(&format!("```mcpo\n{shown}: {ty}\n```\n"));
            }
            if let Some(doc) = decl_markdown(db, ws, key) {
                if !md.is_empty() {
                    md.push_str("\n---\n\n");
                }
                md.push_str(&doc);
            }
            Some(Hover {
                span: Span::new(start as usize, span.end as usize),
                markdown: md,
            })
        }
        (true, 1) => Some(Hover {
            span,
            markdown: type_markdown(db, ws, &d.server, &d.type_name, d.kind == DeclKind::Task)?,
        }),
        (true, 2) => {
            let mut md = format!("MCP server `{}`", d.server);
            if let Some(doc) = decl_markdown(db, ws, &format!("server.{}", d.server)) {
                md.push_str(&format!("\n\n---\n\n{doc}"));
            }
            Some(Hover { span, markdown: md })
        }
        _ => None,
    }
}

/// The type of a reference to a declaration: a resource's or data block's outputs as an
/// object (a list of them with `count`, a map with `for_each`), a task's result, a
/// variable's declared type.
fn decl_type(db: &dyn salsa::Database, ws: Workspace, d: &Decl) -> Option<Ty> {
    let catalog = || {
        ws.schemas(db)
            .iter()
            .find(|s| *s.server(db) == d.server)
            .map(|s| mcpo_sema::catalog(db, *s))
    };
    let one = match d.kind {
        DeclKind::Variable => return Some(d.ty.clone()),
        DeclKind::Resource | DeclKind::Data => {
            match mcpo_sema::adapter_types(db, ws, &d.server, &d.type_name) {
                Some((_, output)) => output,
                None => catalog()?.resource_types.get(&d.type_name)?.output.clone(),
            }
        }
        DeclKind::Task => catalog()?.tools.get(&d.type_name)?.output.clone(),
        _ => return None,
    };
    Some(match d.repeat {
        Repeat::One => one,
        Repeat::Count => Ty::List(Box::new(one)),
        Repeat::ForEach => Ty::Map(Box::new(one)),
    })
}

/// `name: type`, required or optional, and the schema's description.
pub(crate) fn attr_markdown(name: &str, a: &Attr) -> String {
    let mut md = format!(
        "```mcpo\n{name}: {}\n```\n{}",
        a.ty,
        if a.required { "required" } else { "optional" }
    );
    if let Some(d) = &a.default {
        md.push_str(&format!(", default `{d}`"));
    }
    if let Some(desc) = &a.description {
        md.push_str(&format!("\n\n{desc}"));
    }
    md
}

/// The description of the output attribute right after a declaration's name in a
/// reference (`id` in `aws.vpc.main.id`).
fn output_attr_doc(
    db: &dyn salsa::Database,
    ws: Workspace,
    key: &str,
    text: &str,
    expr: Span,
    name_end: u32,
) -> Option<String> {
    let rest = text.get(name_end as usize..expr.end as usize)?;
    let rest = rest.strip_prefix('.')?;
    let attr: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let d = mcpo_sema::index(db, ws).get(db, key)?;
    let catalog = ws
        .schemas(db)
        .iter()
        .find(|s| *s.server(db) == d.server)
        .map(|s| mcpo_sema::catalog(db, *s))?;
    let output = match d.kind {
        DeclKind::Task => catalog.tools.get(&d.type_name)?.output.clone(),
        _ => catalog.resource_types.get(&d.type_name)?.output.clone(),
    };
    let a = output.as_object()?.get(&attr)?;
    Some(format!(
        "`{attr}`: {}",
        a.description.as_deref().unwrap_or("(no description)")
    ))
}

/// A function's signature from its declaration.
pub(crate) fn function_signature(name: &str, d: &Decl) -> String {
    let params: Vec<String> = d
        .params
        .iter()
        .map(|(n, t, _)| format!("{n}: {t}"))
        .collect();
    format!("{name}({})", params.join(", "))
}

/// The block that declares `key`, with its file.
pub(crate) fn decl_block<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    key: &str,
) -> Option<(SourceFile, &'db Decl, &'db Block)> {
    let &(file, i) = mcpo_sema::index(db, ws).decls.get(key)?.first()?;
    let d = mcpo_sema::signature(db, file).decls.get(i)?;
    match mcpo_sema::parse(db, file).file.body.items.get(d.item)? {
        BodyItem::Block(b) => Some((file, d, b)),
        _ => None,
    }
}

/// The comment lines right above a block (`#`, `//` or `/* */`), without their markers.
fn doc_comments(db: &dyn salsa::Database, file: SourceFile, b: &Block) -> String {
    let text = file.text(db);
    let parsed = mcpo_sema::parse(db, file);
    let mut lines: Vec<String> = Vec::new();
    let mut until = b.span.start as usize;
    for c in parsed.file.comments.iter().rev() {
        if c.span.end as usize > until {
            continue;
        }
        let between = text.get(c.span.end as usize..until).unwrap_or("x");
        if !between.trim().is_empty() || between.matches('\n').count() > 1 {
            break;
        }
        let raw = text.get(c.span.range()).unwrap_or("");
        let body = raw
            .strip_prefix('#')
            .or_else(|| raw.strip_prefix("//"))
            .or_else(|| raw.strip_prefix("/*").and_then(|r| r.strip_suffix("*/")))
            .unwrap_or(raw);
        lines.push(body.trim().to_string());
        until = c.span.start as usize;
    }
    lines.reverse();
    lines.join("\n")
}

/// What a declaration is, its type and documentation.
pub(crate) fn decl_markdown(db: &dyn salsa::Database, ws: Workspace, key: &str) -> Option<String> {
    let (file, d, b) = decl_block(db, ws, key)?;
    let text = file.text(db);
    let header = if d.kind == DeclKind::Local {
        format!("local.{}", key.strip_prefix("local.").unwrap_or(key))
    } else {
        let labels: Vec<String> = b
            .labels
            .iter()
            .map(|l| format!("\"{}\"", l.value()))
            .collect();
        format!("{} {}", b.ty.name, labels.join(" "))
    };
    let mut md = format!("```mcpo\n{header}\n```\n");
    match d.kind {
        DeclKind::Variable => {
            md.push_str(&format!("\ntype `{}`", d.ty));
            if let Some(def) = mcpo_sema_attr(b, "default") {
                md.push_str(&format!(
                    ", default `{}`",
                    text.get(def.range()).unwrap_or("")
                ));
            }
            md.push('\n');
            if let Some(desc) = string_attr(b, "description") {
                md.push_str(&format!("\n{desc}\n"));
            }
        }
        DeclKind::Function => {
            md.push_str(&format!(
                "\n`{}`\n",
                function_signature(key.strip_prefix("function.").unwrap_or(key), d)
            ));
        }
        DeclKind::Pattern => {
            let params: Vec<String> = d
                .params
                .iter()
                .map(|(n, t, req)| format!("`{n}: {t}`{}", if *req { "" } else { " (optional)" }))
                .collect();
            if !params.is_empty() {
                md.push_str(&format!("\nparams: {}\n", params.join(", ")));
            }
        }
        _ => {}
    }
    let docs = doc_comments(db, file, b);
    if !docs.is_empty() {
        md.push_str(&format!("\n{docs}\n"));
    }
    Some(md.trim_end().to_string())
}

fn mcpo_sema_attr(b: &Block, name: &str) -> Option<Span> {
    b.body.items.iter().find_map(|i| match i {
        BodyItem::Attribute(a) if a.name.name == name => Some(a.value.span),
        _ => None,
    })
}

fn string_attr(b: &Block, name: &str) -> Option<String> {
    b.body.items.iter().find_map(|i| match i {
        BodyItem::Attribute(a) if a.name.name == name => match &a.value.kind {
            ExprKind::Template(t) => t.as_literal(),
            _ => None,
        },
        _ => None,
    })
}
