//! Completion: block types, server names, resource types and tools, attribute names
//! (required first), references `server.type.name.attr`, variables and locals, function
//! names with their signatures, and enum values.
//!
//! The text being typed is usually not valid yet (`aws.vpc.` does not parse), so the
//! context comes from the text before the cursor, and the enclosing blocks from the tree
//! (the parser recovers around the broken line).

use crate::at;
use mcpo_diagnostics::Span;
use mcpo_schema::Ty;
use mcpo_sema::{Catalog, DeclKind, SourceFile, Workspace};
use mcpo_syntax::ast::{Block, BodyItem};

/// What a completion item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CompletionKind {
    /// A block type (`resource`, `variable`, ...).
    Keyword,
    /// A server name.
    Server,
    /// A resource type or tool.
    Type,
    /// An attribute of a block or of a referenced value.
    Attribute,
    /// A declared variable, local, module, pattern or runbook param.
    Reference,
    /// A declared resource, data block or task.
    Resource,
    /// A function.
    Function,
    /// A literal value (an enum member).
    Value,
}

/// One completion item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// What is shown and inserted (in place of the word being typed).
    pub label: String,
    /// What it is.
    pub kind: CompletionKind,
    /// A short detail (a type, a signature).
    pub detail: Option<String>,
    /// Longer documentation, Markdown.
    pub documentation: Option<String>,
    /// The order key: items sort by it, then by label.
    pub sort: String,
}

impl Completion {
    fn new(label: impl Into<String>, kind: CompletionKind) -> Self {
        Completion {
            label: label.into(),
            kind,
            detail: None,
            documentation: None,
            sort: "1".to_string(),
        }
    }

    fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The completions at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completions {
    /// The text an item replaces: what is typed of the word so far (empty after a `.`).
    pub replace: Span,
    /// The items, sorted.
    pub items: Vec<Completion>,
}

/// The completions at `offset` in `file`.
pub fn completions(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    offset: u32,
) -> Completions {
    let text = file.text(db);
    let offset = (offset as usize).min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.rsplit('\n').next().unwrap_or("");
    let line_start = offset - line.len();
    let replace: Span;
    let mut out = if let Some(partial) = label_context(line) {
        replace = Span::new(offset - partial.1.len(), offset);
        labels(db, ws, partial.0, partial.1)
    } else {
        let word_start = line
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_word(*c) || *c == '.')
            .last()
            .map_or(line.len(), |(i, _)| i);
        let word = line.get(word_start..).unwrap_or("");
        let head = line.get(..word_start).unwrap_or("");
        let blocks = enclosing_blocks(db, file, offset as u32);
        let typed = word.rsplit('.').next().unwrap_or("");
        replace = Span::new(line_start + word_start + (word.len() - typed.len()), offset);
        if let Some((path, _partial)) = word.rsplit_once('.') {
            members(db, ws, path, &blocks)
        } else if head.trim().is_empty() && blocks.is_empty() {
            top_level()
        } else if head.trim().is_empty() {
            attributes(db, ws, &blocks)
        } else {
            let mut v = expression_start(db, ws);
            if let Some(attr) = attribute_being_set(head) {
                v.extend(enum_values(db, ws, &blocks, attr));
            }
            v
        }
    };
    out.sort_by(|a, b| (&a.sort, &a.label).cmp(&(&b.sort, &b.label)));
    // One item per label: the first in order (the more specific source sorts first).
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|c| seen.insert(c.label.clone()));
    Completions {
        replace,
        items: out,
    }
}

/// Inside the first label of a `resource`/`data`/`task` block: the block type and what
/// is typed of the label so far.
fn label_context(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    let (kw, rest) = t.split_once(|c: char| c.is_whitespace())?;
    if !matches!(kw, "resource" | "data" | "task") {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('"')?;
    (!rest.contains('"')).then_some((kw, rest))
}

fn catalogs(db: &dyn salsa::Database, ws: Workspace) -> Vec<&Catalog> {
    ws.schemas(db)
        .iter()
        .map(|s| mcpo_sema::catalog(db, *s))
        .collect()
}

fn catalog<'db>(db: &'db dyn salsa::Database, ws: Workspace, server: &str) -> Option<&'db Catalog> {
    ws.schemas(db)
        .iter()
        .find(|s| s.server(db) == server)
        .map(|s| mcpo_sema::catalog(db, *s))
}

/// `"server.type"` labels: every type (or tool, for tasks) of every pulled schema.
fn labels(db: &dyn salsa::Database, ws: Workspace, kw: &str, typed: &str) -> Vec<Completion> {
    let mut out = Vec::new();
    // Once the server is typed (`aws.`), only its types.
    let server = typed.split_once('.').map(|(s, _)| s);
    for cat in catalogs(db, ws) {
        if server.is_some_and(|s| s != cat.server) {
            continue;
        }
        if kw == "task" {
            for (tool, info) in &cat.tools {
                let mut c = Completion::new(format!("{}.{tool}", cat.server), CompletionKind::Type);
                c.detail = Some(format!("tool, arguments {}", short(&info.input)));
                out.push(c);
            }
        } else {
            for (name, rt) in &cat.resource_types {
                if kw == "data" && !rt.has_read {
                    continue;
                }
                out.push(
                    Completion::new(format!("{}.{name}", cat.server), CompletionKind::Type)
                        .detail(format!("resource type (from `{}`)", rt.create_tool)),
                );
            }
        }
    }
    if kw != "task" {
        // The types adapters define: the workspace's own and those `use` blocks import.
        let own = mcpo_sema::index(db, ws)
            .names_with_prefix("adapter.")
            .map(|t| (t.to_string(), "resource type (adapter)".to_string()));
        let imported = mcpo_sema::imported_adapters(db, ws)
            .iter()
            .filter_map(|(a, i)| {
                let t = a.strip_prefix("adapter.")?;
                Some((
                    t.to_string(),
                    format!("resource type (adapter from `{}`)", i.via),
                ))
            });
        for (t, detail) in own.chain(imported) {
            if server.is_some_and(|s| !t.starts_with(&format!("{s}.")))
                || out.iter().any(|c| c.label == t)
            {
                continue;
            }
            out.push(Completion::new(t, CompletionKind::Type).detail(detail));
        }
    }
    out
}

/// The top-level block types.
fn top_level() -> Vec<Completion> {
    mcpo_sema::TOP_BLOCKS
        .iter()
        .map(|b| Completion::new(*b, CompletionKind::Keyword))
        .collect()
}

/// The blocks around `offset`, outermost first.
fn enclosing_blocks(db: &dyn salsa::Database, file: SourceFile, offset: u32) -> Vec<&Block> {
    let parsed = mcpo_sema::parse(db, file);
    let mut out = Vec::new();
    let mut items = &parsed.file.body.items;
    loop {
        let inside = items.iter().find_map(|i| match i {
            BodyItem::Block(b)
                if b.open_brace.end <= offset
                    && b.close_brace.is_none_or(|c| offset <= c.start) =>
            {
                Some(b)
            }
            _ => None,
        });
        match inside {
            Some(b) => {
                out.push(b);
                items = &b.body.items;
            }
            None => return out,
        }
    }
}

/// Attribute names of the innermost block: its schema's, required first, those already
/// set left out; plus the meta-arguments of resources.
fn attributes(db: &dyn salsa::Database, ws: Workspace, blocks: &[&Block]) -> Vec<Completion> {
    let mut out = Vec::new();
    let Some(inner) = blocks.last() else {
        return out;
    };
    let set: Vec<&str> = inner
        .body
        .items
        .iter()
        .filter_map(|i| match i {
            BodyItem::Attribute(a) => Some(a.name.name.as_str()),
            BodyItem::Block(b) => Some(b.ty.name.as_str()),
            BodyItem::Error(_) => None,
        })
        .collect();
    if let Some(Ty::Object(o)) = at::body_type(db, ws, blocks) {
        for (name, a) in &o.attrs {
            if set.contains(&name.as_str()) {
                continue;
            }
            let mut c = Completion::new(name.clone(), CompletionKind::Attribute).detail(format!(
                "{}{}",
                a.ty,
                if a.required { " (required)" } else { "" }
            ));
            c.documentation = a.description.clone();
            c.sort = if a.required { "0" } else { "1" }.to_string();
            out.push(c);
        }
    }
    if blocks.len() == 1 && inner.ty.name == "resource" {
        for m in mcpo_sema::RESOURCE_META {
            if !set.contains(m) {
                let mut c = Completion::new(*m, CompletionKind::Keyword);
                c.sort = "2".to_string();
                out.push(c);
            }
        }
    }
    out
}

/// The name of the attribute whose value is being typed (`tag = ` -> `tag`).
fn attribute_being_set(head: &str) -> Option<&str> {
    let (name, _) = head.split_once('=')?;
    let name = name.trim();
    (!name.is_empty() && name.chars().all(is_word)).then_some(name)
}

/// The members of an enum-typed attribute, as literals.
fn enum_values(
    db: &dyn salsa::Database,
    ws: Workspace,
    blocks: &[&Block],
    attr: &str,
) -> Vec<Completion> {
    let Some(ty) = at::body_type(db, ws, blocks) else {
        return Vec::new();
    };
    let Some(a) = ty.as_object().and_then(|o| o.get(attr)) else {
        return Vec::new();
    };
    let Ty::Enum(values) = a.ty.strip_sensitive() else {
        return Vec::new();
    };
    values
        .iter()
        .map(|v| {
            let mut c =
                Completion::new(v.to_string(), CompletionKind::Value).detail(a.ty.to_string());
            c.sort = "0".to_string();
            c
        })
        .collect()
}

/// What an expression may start with: functions, the reference roots, server names.
fn expression_start(db: &dyn salsa::Database, ws: Workspace) -> Vec<Completion> {
    let mut out = Vec::new();
    for (name, sig) in mcpo_sema::BUILTINS {
        out.push(Completion::new(*name, CompletionKind::Function).detail(sig.display(name)));
    }
    let idx = mcpo_sema::index(db, ws);
    for key in idx.names_with_prefix("function.") {
        if let Some(d) = idx.get(db, &format!("function.{key}")) {
            out.push(
                Completion::new(key, CompletionKind::Function)
                    .detail(crate::hover::function_signature(key, d)),
            );
        }
    }
    for root in ["var", "local", "data", "task", "module"] {
        out.push(Completion::new(root, CompletionKind::Keyword));
    }
    for server in server_names(db, ws) {
        out.push(Completion::new(server, CompletionKind::Server));
    }
    out
}

/// Servers: pulled schemas and `server` blocks.
fn server_names(db: &dyn salsa::Database, ws: Workspace) -> Vec<String> {
    let mut names: Vec<String> = ws
        .schemas(db)
        .iter()
        .map(|s| s.server(db).clone())
        .collect();
    names.extend(
        mcpo_sema::index(db, ws)
            .names_with_prefix("server.")
            .map(str::to_string),
    );
    names.sort();
    names.dedup();
    names
}

/// After a `.`: what `path` (the text before it) has.
fn members(
    db: &dyn salsa::Database,
    ws: Workspace,
    path: &str,
    blocks: &[&Block],
) -> Vec<Completion> {
    let idx = mcpo_sema::index(db, ws);
    let parts: Vec<&str> = path.split('.').collect();
    let declared = |prefix: String, kind: CompletionKind| -> Vec<Completion> {
        let mut names: Vec<&str> = idx
            .names_with_prefix(&prefix)
            .map(|rest| rest.split('.').next().unwrap_or(rest))
            .collect();
        names.dedup();
        names
            .into_iter()
            .map(|n| {
                let mut c = Completion::new(n, kind);
                if let Some(d) = idx.get(db, &format!("{prefix}{n}")) {
                    c.detail = Some(decl_detail(d));
                    if matches!(d.kind, DeclKind::Resource | DeclKind::Data | DeclKind::Task)
                        && kind == CompletionKind::Reference
                    {
                        c.kind = CompletionKind::Resource;
                    }
                }
                c
            })
            .collect()
    };
    match parts.as_slice() {
        ["var"] => declared("var.".into(), CompletionKind::Reference),
        ["local"] => declared("local.".into(), CompletionKind::Reference),
        ["module"] => declared("module.".into(), CompletionKind::Reference),
        ["param"] => blocks
            .first()
            .filter(|top| matches!(top.ty.name.as_str(), "pattern" | "runbook"))
            .map(|top| {
                top.body
                    .items
                    .iter()
                    .filter_map(|i| match i {
                        BodyItem::Block(b) if b.ty.name == "param" => {
                            let name = b.labels.first()?.value();
                            Some(Completion::new(name, CompletionKind::Reference).detail("param"))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ["count"] => vec![Completion::new("index", CompletionKind::Attribute).detail("number")],
        ["each"] => vec![
            Completion::new("key", CompletionKind::Attribute).detail("string"),
            Completion::new("value", CompletionKind::Attribute),
        ],
        ["self"] => {
            let mut v = Vec::new();
            if let Some(b) = blocks.first()
                && let Some((server, t)) = at::block_type(b)
                && let Some(rt) = catalog(db, ws, server).and_then(|c| c.resource_types.get(t))
            {
                v.extend(object_members(&rt.input));
                v.extend(object_members(&rt.output));
            }
            v
        }
        ["data" | "task", server] => declared(
            format!("{}.{server}.", parts.first().copied().unwrap_or("")),
            CompletionKind::Type,
        ),
        ["data" | "task", server, ty] => declared(
            format!("{}.{server}.{ty}.", parts.first().copied().unwrap_or("")),
            CompletionKind::Reference,
        ),
        ["data", server, ty, _name] => catalog(db, ws, server)
            .and_then(|c| c.resource_types.get(*ty))
            .map(|rt| object_members(&rt.output))
            .unwrap_or_default(),
        ["task", server, tool, _name] => catalog(db, ws, server)
            .and_then(|c| c.tools.get(*tool))
            .map(|t| object_members(&t.output))
            .unwrap_or_default(),
        [server] => {
            // In an expression only declared resources can be referenced: the types that
            // have declarations, with how many.
            let cat = catalog(db, ws, server);
            let mut v = Vec::new();
            let prefix = format!("{server}.");
            let mut types: Vec<&str> = idx
                .names_with_prefix(&prefix)
                .filter_map(|rest| rest.split('.').next())
                .collect();
            types.dedup();
            for t in types {
                let of_type = format!("{server}.{t}.");
                let names: Vec<&str> = idx
                    .names_with_prefix(&of_type)
                    .filter(|n| !n.contains('.'))
                    .collect();
                let mut c = Completion::new(t, CompletionKind::Type)
                    .detail(format!("resource type, declared: {}", names.join(", ")));
                c.documentation = cat
                    .and_then(|c| c.resource_types.get(t))
                    .and_then(|rt| rt.description.clone());
                v.push(c);
            }
            v
        }
        [server, ty] => declared(format!("{server}.{ty}."), CompletionKind::Reference),
        [server, ty, _name] => match mcpo_sema::adapter_types(db, ws, server, ty) {
            Some((_, output)) => object_members(&output),
            None => catalog(db, ws, server)
                .and_then(|c| c.resource_types.get(*ty))
                .map(|rt| object_members(&rt.output))
                .unwrap_or_default(),
        },
        ["var", name, rest @ ..] => idx
            .get(db, &format!("var.{name}"))
            .map(|d| nested_members(&d.ty, rest))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// What a declaration is, in a few words: a variable's type, `resource aws.vpc (count)`.
fn decl_detail(d: &mcpo_sema::Decl) -> String {
    let repeat = match d.repeat {
        mcpo_sema::Repeat::One => "",
        mcpo_sema::Repeat::Count => " (count)",
        mcpo_sema::Repeat::ForEach => " (for_each)",
    };
    match d.kind {
        DeclKind::Variable => format!("variable: {}", d.ty),
        DeclKind::Resource | DeclKind::Data | DeclKind::Task => format!(
            "{} {}.{}{repeat}",
            d.kind.block_name(),
            d.server,
            d.type_name
        ),
        k => k.block_name().to_string(),
    }
}

/// The attributes of an object type, with their types and descriptions.
fn object_members(ty: &Ty) -> Vec<Completion> {
    let Some(o) = ty.as_object() else {
        return Vec::new();
    };
    o.attrs
        .iter()
        .map(|(n, a)| {
            let mut c =
                Completion::new(n.clone(), CompletionKind::Attribute).detail(a.ty.to_string());
            c.documentation = a.description.clone();
            c
        })
        .collect()
}

/// The members of `ty` after following attribute names `path`.
fn nested_members(ty: &Ty, path: &[&str]) -> Vec<Completion> {
    let mut ty = ty.clone();
    for p in path {
        let Some(a) = ty.as_object().and_then(|o| o.get(p)) else {
            return Vec::new();
        };
        ty = a.ty.clone();
    }
    object_members(&ty)
}

/// A type in a few words, for details.
fn short(ty: &Ty) -> String {
    let s = ty.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}
