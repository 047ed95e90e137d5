//! What each file declares ([`signature`]) and the workspace's name table ([`index`]).
//!
//! A signature holds no spans: moving text around without changing what is declared
//! leaves it equal, so salsa backdates it and nothing downstream re-runs.

use crate::types::parse_type_expr;
use crate::{SourceFile, Workspace, parse};
use mcpo_schema::Ty;
use mcpo_syntax::ast::{Block, BodyItem, Expr, ExprKind, Ident, TemplatePart};
use std::collections::BTreeMap;

/// What kind of thing a declaration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeclKind {
    /// `server "x"`
    Server,
    /// `variable "x"`
    Variable,
    /// An attribute of a `locals` block.
    Local,
    /// `resource "s.t" "n"`
    Resource,
    /// `data "s.t" "n"`
    Data,
    /// `task "s.tool" "n"`
    Task,
    /// `output "x"`
    Output,
    /// `pattern "x"`
    Pattern,
    /// `function "x"`
    Function,
    /// `use "x"`
    Use,
    /// `runbook "x"`
    Runbook,
    /// `adapter "s" "t"`
    Adapter,
}

impl DeclKind {
    /// The block type that declares it.
    pub fn block_name(self) -> &'static str {
        match self {
            DeclKind::Server => "server",
            DeclKind::Variable => "variable",
            DeclKind::Local => "local value",
            DeclKind::Resource => "resource",
            DeclKind::Data => "data",
            DeclKind::Task => "task",
            DeclKind::Output => "output",
            DeclKind::Pattern => "pattern",
            DeclKind::Function => "function",
            DeclKind::Use => "use",
            DeclKind::Runbook => "runbook",
            DeclKind::Adapter => "adapter",
        }
    }
}

/// How many instances a resource, data or task block makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Repeat {
    /// One.
    #[default]
    One,
    /// `count = N`: a list, indexed by number.
    Count,
    /// `for_each = ...`: a map, indexed by key.
    ForEach,
}

/// One declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    /// Its kind.
    pub kind: DeclKind,
    /// Its address: `var.x`, `local.x`, `aws.vpc.main`, `data.aws.vpc.x`, `server.aws`, ...
    pub key: String,
    /// The server of a resource, data or task.
    pub server: String,
    /// The resource type or tool of a resource, data or task.
    pub type_name: String,
    /// A variable's declared type (`any` when none can be read).
    pub ty: Ty,
    /// `sensitive = true`.
    pub sensitive: bool,
    /// `count` / `for_each`.
    pub repeat: Repeat,
    /// Addresses referenced from inside (including `depends_on`), sorted, unique.
    pub deps: Vec<String>,
    /// Index of the top-level item that declares it.
    pub item: usize,
    /// For a local: the index of the attribute inside its `locals` block.
    pub sub: usize,
    /// A pattern's params (name, type, required) or a function's params (name, type, true).
    pub params: Vec<(String, Ty, bool)>,
    /// A pattern's output names.
    pub outputs: Vec<String>,
    /// For a `use` with `source`: its module's link ([`use_link`]).
    pub module: String,
}

/// Everything one file declares, in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileSignature {
    /// The declarations.
    pub decls: Vec<Decl>,
}

/// The type of a literal expression (a variable's default); `any` for anything that is
/// not a literal.
fn literal_expr_ty(expr: &Expr) -> Ty {
    match &expr.kind {
        ExprKind::Number(_) => Ty::Number,
        ExprKind::Bool(_) => Ty::Bool,
        ExprKind::Template(t) if t.as_literal().is_some() => Ty::String,
        ExprKind::Heredoc(h) if h.template.as_literal().is_some() => Ty::String,
        ExprKind::Tuple(items) => {
            let mut tys = items.iter().map(literal_expr_ty);
            match tys.next() {
                None => Ty::List(Box::new(Ty::Any)),
                Some(first) => {
                    let elem = tys.fold(first, |a, b| crate::types::join(&a, &b));
                    Ty::List(Box::new(elem))
                }
            }
        }
        ExprKind::Object(items) => {
            let mut attrs = BTreeMap::new();
            for item in items {
                let Some(key) = crate::types::object_key(&item.key) else {
                    return Ty::Any;
                };
                attrs.insert(
                    key,
                    mcpo_schema::Attr::new(literal_expr_ty(&item.value), true),
                );
            }
            Ty::object(attrs)
        }
        ExprKind::Parens(inner) => literal_expr_ty(inner),
        _ => Ty::Any,
    }
}

/// The literal string an attribute holds.
fn literal_attr(block: &Block, name: &str) -> Option<String> {
    match attr(block, name).map(|e| &e.kind) {
        Some(ExprKind::Template(t)) => t.as_literal(),
        _ => None,
    }
}

/// What a `use` block's `source` names, as the front end that loads modules and the
/// checker both key it: the source (a local path normalised to `./dir`), then ` @ ` and
/// the `version` constraint when there is one, then the `servers` mapping when it renames
/// any (` [aws=aws_eu]`). `None` without a literal `source`.
pub fn use_link(block: &Block) -> Option<String> {
    let source = literal_attr(block, "source")?;
    let mut link = match local_source_dir(&source) {
        Some(dir) if source.trim().starts_with("./") => format!("./{dir}"),
        Some(dir) => dir,
        None => source.trim().to_string(),
    };
    if let Some(v) = literal_attr(block, "version") {
        link.push_str(" @ ");
        link.push_str(v.trim());
    }
    let renamed: Vec<String> = use_servers(block)
        .unwrap_or_default()
        .into_iter()
        .filter(|(from, to)| from != to)
        .map(|(from, to)| format!("{from}={to}"))
        .collect();
    if !renamed.is_empty() {
        link.push_str(&format!(" [{}]", renamed.join(",")));
    }
    Some(link)
}

/// A `use` block's `servers = { aws = aws_eu }`: the pattern's server name mapped to the
/// workspace's, in name order. Empty without the attribute; `Err` with the span of what
/// is not a name (the checker reports it).
pub fn use_servers(block: &Block) -> Result<BTreeMap<String, String>, mcpo_diagnostics::Span> {
    let mut out = BTreeMap::new();
    let Some(e) = attr(block, "servers") else {
        return Ok(out);
    };
    let ExprKind::Object(items) = &e.kind else {
        return Err(e.span);
    };
    for i in items {
        let key = crate::types::object_key(&i.key).ok_or(i.key.span)?;
        let value = match &i.value.kind {
            ExprKind::Variable(id) => id.name.clone(),
            ExprKind::Template(t) => t.as_literal().ok_or(i.value.span)?,
            _ => return Err(i.value.span),
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// A relative module directory as written in `source` (`./modules/web/`), normalised to
/// `modules/web`; None for sources that are not local paths (stdlib, git, registry).
pub fn local_source_dir(source: &str) -> Option<String> {
    let s = source.trim();
    if !(s.starts_with("./") || s.starts_with("../")) {
        return None;
    }
    let s = s.trim_start_matches("./").trim_end_matches('/');
    (!s.is_empty()).then(|| s.to_string())
}

/// The labels of a block as strings.
pub(crate) fn labels(block: &Block) -> Vec<&str> {
    block.labels.iter().map(|l| l.value()).collect()
}

/// The attribute called `name` in a block's body.
pub(crate) fn attr<'a>(block: &'a Block, name: &str) -> Option<&'a Expr> {
    block.body.items.iter().find_map(|i| match i {
        BodyItem::Attribute(a) if a.name.name == name => Some(&a.value),
        _ => None,
    })
}

/// Whether the `sensitive` attribute is the literal `true`.
fn is_sensitive(block: &Block) -> bool {
    matches!(
        attr(block, "sensitive").map(|e| &e.kind),
        Some(ExprKind::Bool(true))
    )
}

/// Splits a `"server.type"` label at its first dot.
pub(crate) fn split_type(label: &str) -> Option<(&str, &str)> {
    let (s, t) = label.split_once('.')?;
    if s.is_empty() || t.is_empty() {
        return None;
    }
    Some((s, t))
}

/// What a file declares (memoized; equal signatures are backdated).
#[salsa::tracked(returns(ref))]
pub fn signature(db: &dyn salsa::Database, file: SourceFile) -> FileSignature {
    let parsed = parse(db, file);
    let mut decls = Vec::new();
    for (item, body_item) in parsed.file.body.items.iter().enumerate() {
        let BodyItem::Block(block) = body_item else {
            continue;
        };
        let labels = labels(block);
        let mut base = Decl {
            kind: DeclKind::Server,
            key: String::new(),
            server: String::new(),
            type_name: String::new(),
            ty: Ty::Any,
            sensitive: is_sensitive(block),
            repeat: Repeat::One,
            deps: Vec::new(),
            item,
            sub: 0,
            params: Vec::new(),
            outputs: Vec::new(),
            module: String::new(),
        };
        match (block.ty.name.as_str(), labels.as_slice()) {
            ("locals", _) => {
                for (sub, it) in block.body.items.iter().enumerate() {
                    if let BodyItem::Attribute(a) = it {
                        let mut d = base.clone();
                        d.kind = DeclKind::Local;
                        d.key = format!("local.{}", a.name.name);
                        d.sub = sub;
                        d.sensitive = false;
                        d.deps = expr_deps(&a.value);
                        decls.push(d);
                    }
                }
                continue;
            }
            ("server", [name]) => {
                base.kind = DeclKind::Server;
                base.key = format!("server.{name}");
            }
            ("variable", [name]) => {
                base.kind = DeclKind::Variable;
                base.key = format!("var.{name}");
                base.ty = match (attr(block, "type"), attr(block, "default")) {
                    (Some(t), _) => parse_type_expr(t).unwrap_or(Ty::Any),
                    // Without `type`, a literal default gives the type (as in Terraform).
                    (None, Some(d)) => literal_expr_ty(d),
                    (None, None) => Ty::Any,
                };
                if base.sensitive {
                    base.ty = Ty::Sensitive(Box::new(base.ty));
                }
            }
            ("resource" | "data", [ty, name]) => {
                let Some((server, t)) = split_type(ty) else {
                    continue;
                };
                base.kind = if block.ty.name == "resource" {
                    DeclKind::Resource
                } else {
                    DeclKind::Data
                };
                base.server = server.to_string();
                base.type_name = t.to_string();
                base.key = if base.kind == DeclKind::Resource {
                    format!("{server}.{t}.{name}")
                } else {
                    format!("data.{server}.{t}.{name}")
                };
            }
            ("task", [tool, name]) => {
                let Some((server, t)) = split_type(tool) else {
                    continue;
                };
                base.kind = DeclKind::Task;
                base.server = server.to_string();
                base.type_name = t.to_string();
                base.key = format!("task.{server}.{t}.{name}");
            }
            ("output", [name]) => {
                base.kind = DeclKind::Output;
                base.key = format!("output.{name}");
            }
            ("pattern", [name]) => {
                base.kind = DeclKind::Pattern;
                base.key = format!("pattern.{name}");
                for it in &block.body.items {
                    if let BodyItem::Block(b) = it {
                        match (b.ty.name.as_str(), labels_of(b).as_slice()) {
                            ("param", [p]) => {
                                let ty = attr(b, "type")
                                    .and_then(|t| parse_type_expr(t).ok())
                                    .unwrap_or(Ty::Any);
                                let required = attr(b, "default").is_none();
                                base.params.push((p.to_string(), ty, required));
                            }
                            ("output", [o]) => base.outputs.push(o.to_string()),
                            _ => {}
                        }
                    }
                }
                base.deps = Vec::new();
                decls.push(base);
                continue;
            }
            ("function", [name]) => {
                base.kind = DeclKind::Function;
                base.key = format!("function.{name}");
                if let Some(Expr {
                    kind: ExprKind::Object(items),
                    ..
                }) = attr(block, "params")
                {
                    for i in items {
                        if let Some(k) = crate::types::object_key(&i.key) {
                            let ty = parse_type_expr(&i.value).unwrap_or(Ty::Any);
                            base.params.push((k, ty, true));
                        }
                    }
                }
            }
            ("use", [name]) => {
                base.kind = DeclKind::Use;
                base.key = format!("module.{name}");
                // The pattern it instantiates, when named by a literal.
                if let Some(ExprKind::Template(t)) = attr(block, "pattern").map(|e| &e.kind) {
                    base.type_name = t.as_literal().unwrap_or_default();
                }
                if let Some(link) = use_link(block) {
                    base.module = link;
                }
            }
            ("runbook", [name]) => {
                base.kind = DeclKind::Runbook;
                base.key = format!("runbook.{name}");
            }
            ("adapter", [server, t]) => {
                base.kind = DeclKind::Adapter;
                base.server = server.to_string();
                base.type_name = t.to_string();
                base.key = format!("adapter.{server}.{t}");
                base.ty = match attr(block, "inputs") {
                    Some(t) => parse_type_expr(t).unwrap_or(Ty::Any),
                    None => Ty::Any,
                };
                if let Some(ExprKind::Object(items)) = attr(block, "outputs").map(|e| &e.kind) {
                    base.outputs = items
                        .iter()
                        .filter_map(|i| crate::types::object_key(&i.key))
                        .collect();
                }
            }
            _ => continue,
        }
        if let Some(Expr {
            kind: ExprKind::Number(_) | ExprKind::Variable(_) | ExprKind::GetAttr { .. },
            ..
        }) = attr(block, "count")
        {
            base.repeat = Repeat::Count;
        } else if attr(block, "count").is_some() {
            base.repeat = Repeat::Count;
        }
        if attr(block, "for_each").is_some() {
            base.repeat = Repeat::ForEach;
        }
        if matches!(
            base.kind,
            DeclKind::Resource
                | DeclKind::Data
                | DeclKind::Task
                | DeclKind::Output
                | DeclKind::Use
                | DeclKind::Variable
        ) {
            let mut deps = Vec::new();
            body_deps(&block.body.items, &mut deps);
            deps.sort();
            deps.dedup();
            // A variable's validation reads the variable itself: not a dependency, and
            // not a use.
            if base.kind == DeclKind::Variable {
                deps.retain(|d| *d != base.key);
            }
            base.deps = deps;
        }
        decls.push(base);
    }
    FileSignature { decls }
}

fn labels_of(block: &Block) -> Vec<&str> {
    labels(block)
}

/// The workspace's name table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Index {
    /// Every declaration by address, with where it is: (file, index in its signature).
    /// More than one entry means a duplicate.
    pub decls: BTreeMap<String, Vec<(SourceFile, usize)>>,
    /// Every variable used anywhere (`var.x` in any expression).
    pub used: std::collections::BTreeSet<String>,
}

impl Index {
    /// The first declaration of `key`.
    pub fn get<'db>(&self, db: &'db dyn salsa::Database, key: &str) -> Option<&'db Decl> {
        let (file, i) = self.decls.get(key)?.first()?;
        signature(db, *file).decls.get(*i)
    }

    /// The keys starting with `prefix`, without it (sorted).
    pub fn names_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> {
        self.decls
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, _)| k.get(prefix.len()..).unwrap_or(""))
    }
}

/// The name table of a workspace (memoized; re-runs when a signature changes).
#[salsa::tracked(returns(ref))]
pub fn index(db: &dyn salsa::Database, ws: Workspace) -> Index {
    let mut out = Index::default();
    for file in ws.files(db) {
        for (i, d) in signature(db, *file).decls.iter().enumerate() {
            out.decls.entry(d.key.clone()).or_default().push((*file, i));
            for dep in &d.deps {
                if dep.starts_with("var.") {
                    out.used.insert(dep.clone());
                }
            }
        }
    }
    out
}

/// Roots of references that are not servers.
pub(crate) const RESERVED_ROOTS: &[&str] = &[
    "var", "local", "data", "task", "module", "self", "count", "each", "path", "param", "step",
    "result",
];

/// A traversal flattened: `a.b[0].c` is root `a` and steps `.b`, `[0]`, `.c`.
pub(crate) struct Traversal<'a> {
    /// The root name.
    pub root: &'a Ident,
    /// The steps after it.
    pub steps: Vec<Step<'a>>,
}

/// One step of a traversal.
pub(crate) enum Step<'a> {
    /// `.name`
    Attr(&'a Ident),
    /// `[expr]`
    Index(&'a Expr),
    /// `.0`
    Legacy,
    /// `[*]` or `.*`
    Splat,
}

/// Flattens an expression that is a traversal from a name.
pub(crate) fn traversal(expr: &Expr) -> Option<Traversal<'_>> {
    match chain(expr) {
        (
            Expr {
                kind: ExprKind::Variable(root),
                ..
            },
            steps,
        ) => Some(Traversal { root, steps }),
        _ => None,
    }
}

/// Splits a postfix chain into its base and its steps: `f(x).a[0]` is the base `f(x)`
/// with the steps `.a`, `[0]`; an expression that is no postfix step is its own base.
fn chain(expr: &Expr) -> (&Expr, Vec<Step<'_>>) {
    let mut steps = Vec::new();
    let mut cur = expr;
    loop {
        match &cur.kind {
            ExprKind::GetAttr { object, name } => {
                steps.push(Step::Attr(name));
                cur = object;
            }
            ExprKind::Index { collection, key } => {
                steps.push(Step::Index(key));
                cur = collection;
            }
            ExprKind::LegacyIndex { collection, .. } => {
                steps.push(Step::Legacy);
                cur = collection;
            }
            ExprKind::Splat { collection, .. } => {
                steps.push(Step::Splat);
                cur = collection;
            }
            _ => {
                steps.reverse();
                return (cur, steps);
            }
        }
    }
}

/// Calls `f` once on every traversal from a name inside `expr`, at its outermost node
/// (`a.b[0].c`, not again on `a.b[0]`, `a.b` and `a`), and looks inside index keys and
/// the bases of other chains. Linear in the size of `expr`: resolving every inner node
/// of a chain again would make a chain of n steps cost n².
pub(crate) fn for_each_traversal<'a>(expr: &'a Expr, f: &mut dyn FnMut(&Traversal<'a>)) {
    let mut todo = vec![expr];
    while let Some(e) = todo.pop() {
        visit(e, &mut |e| {
            if !matches!(
                e.kind,
                ExprKind::Variable(_)
                    | ExprKind::GetAttr { .. }
                    | ExprKind::Index { .. }
                    | ExprKind::LegacyIndex { .. }
                    | ExprKind::Splat { .. }
            ) {
                return true;
            }
            let (base, steps) = chain(e);
            todo.extend(steps.iter().filter_map(|s| match s {
                Step::Index(key) => Some(*key),
                _ => None,
            }));
            match &base.kind {
                ExprKind::Variable(root) => f(&Traversal { root, steps }),
                _ => todo.push(base),
            }
            false
        });
    }
}

/// How many names after a reference's root make the address of the declaration it
/// names: one for `var.x`, `local.x`, `module.x`, `param.x`; three for `data.s.t.n` and
/// `task.s.t.n`; two for a resource (`s.t.n`, the root being its server). `None` for the
/// other reserved roots (`self`, `count`, `each`, ...). The evaluator and the checker
/// both read references by this rule.
pub fn declaration_len(root: &str) -> Option<usize> {
    match root {
        "var" | "local" | "module" | "param" => Some(1),
        "data" | "task" => Some(3),
        r if RESERVED_ROOTS.contains(&r) => None,
        _ => Some(2),
    }
}

/// The address a traversal refers to, if it names a declaration (`param.x` is resolved
/// by the pattern it is in, not the workspace's index).
pub(crate) fn address(t: &Traversal<'_>) -> Option<String> {
    let root = t.root.name.as_str();
    if root == "param" {
        return None;
    }
    let n = declaration_len(root)?;
    let names: Vec<&str> = t
        .steps
        .iter()
        .map_while(|s| match s {
            Step::Attr(i) => Some(i.name.as_str()),
            _ => None,
        })
        .take(n)
        .collect();
    (names.len() == n).then(|| format!("{root}.{}", names.join(".")))
}

/// Calls `f` on `expr` and every expression inside it (templates included), outermost
/// first. Bounded by the parser's nesting limit. (Public for the language server, which
/// finds references with it.)
pub fn walk<'a>(expr: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    visit(expr, &mut |e| {
        f(e);
        true
    });
}

/// Calls `f` on `expr` and, where it returns true, on the expressions inside it.
fn visit<'a>(expr: &'a Expr, f: &mut dyn FnMut(&'a Expr) -> bool) {
    if !f(expr) {
        return;
    }
    let walk = visit;
    match &expr.kind {
        ExprKind::Template(t) => walk_parts(&t.parts, f),
        ExprKind::Heredoc(h) => walk_parts(&h.template.parts, f),
        ExprKind::Tuple(items) => items.iter().for_each(|i| walk(i, f)),
        ExprKind::Object(items) => {
            for i in items {
                walk(&i.key, f);
                walk(&i.value, f);
            }
        }
        ExprKind::FunctionCall(c) => c.args.iter().for_each(|a| walk(a, f)),
        ExprKind::GetAttr { object, .. } => walk(object, f),
        ExprKind::Index { collection, key } => {
            walk(collection, f);
            walk(key, f);
        }
        ExprKind::LegacyIndex { collection, .. } | ExprKind::Splat { collection, .. } => {
            walk(collection, f)
        }
        ExprKind::Unary { operand, .. } => walk(operand, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            walk(lhs, f);
            walk(rhs, f);
        }
        ExprKind::Conditional {
            condition,
            then,
            otherwise,
        } => {
            walk(condition, f);
            walk(then, f);
            walk(otherwise, f);
        }
        ExprKind::For(fe) => {
            walk(&fe.collection, f);
            if let Some(k) = &fe.key_expr {
                walk(k, f);
            }
            walk(&fe.value_expr, f);
            if let Some(c) = &fe.condition {
                walk(c, f);
            }
        }
        ExprKind::Parens(inner) => walk(inner, f),
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::Variable(_)
        | ExprKind::Error => {}
    }
}

fn walk_parts<'a>(parts: &'a [TemplatePart], f: &mut dyn FnMut(&'a Expr) -> bool) {
    let walk = visit;
    for p in parts {
        match p {
            TemplatePart::Literal { .. } => {}
            TemplatePart::Interpolation { expr, .. } => walk(expr, f),
            TemplatePart::If(i) => {
                walk(&i.condition, f);
                walk_parts(&i.then, f);
                if let Some(o) = &i.otherwise {
                    walk_parts(o, f);
                }
            }
            TemplatePart::For(d) => {
                walk(&d.collection, f);
                walk_parts(&d.body, f);
            }
        }
    }
}

/// The declaration a reference expression names, as the checker resolves it: its address
/// (`aws.vpc.main` for `aws.vpc.main.id[0]`) and the span of the identifier that names the
/// declaration (`main`). For the language server (definition, references, rename).
pub fn reference(expr: &Expr) -> Option<(String, mcpo_diagnostics::Span)> {
    let t = traversal(expr)?;
    let key = address(&t)?;
    let at = match t.root.name.as_str() {
        "var" | "local" | "module" => 0,
        "data" | "task" => 2,
        _ => 1,
    };
    match t.steps.get(at) {
        Some(Step::Attr(name)) => Some((key, name.span)),
        _ => None,
    }
}

/// The addresses referenced by one expression, sorted and unique.
pub(crate) fn expr_deps(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    for_each_traversal(expr, &mut |t| out.extend(address(t)));
    out.sort();
    out.dedup();
    out
}

/// The addresses referenced anywhere in a body (nested blocks included).
pub(crate) fn body_deps(items: &[BodyItem], out: &mut Vec<String>) {
    for it in items {
        match it {
            BodyItem::Attribute(a) => out.extend(expr_deps(&a.value)),
            BodyItem::Block(b) => body_deps(&b.body.items, out),
            BodyItem::Error(_) => {}
        }
    }
}
