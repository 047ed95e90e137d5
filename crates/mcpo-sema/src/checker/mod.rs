//! Checking one file: blocks against their schemas, expressions against their types.
//!
//! The checker walks the file's tree once. Types of things declared elsewhere come from
//! the workspace [`Index`](crate::Index) (variables, resources, ...), the server
//! [`catalog`](crate::catalog)s (resource and tool types) and, for local values, adapters'
//! and patterns' outputs, from queries that infer their expressions in their own scope
//! ([`decl_types`]).

mod blocks;
mod decl_types;

pub use decl_types::{DeclKey, adapter_type, adapter_types, local_type, pattern_output_type};
mod expect;
mod infer;
mod references;
mod schemas;
mod uses;

pub use uses::{pattern_block, pattern_servers, rule_site};

use crate::builtins::P;
use crate::names::{self, Index, Repeat, labels, split_type};
use crate::server_catalog::Catalog;
use crate::{SourceFile, Workspace, index, parse};
use mcpo_diagnostics::{Diagnostic, FileId, Fix, Span};
use mcpo_schema::{Attr, Ty};
use mcpo_syntax::ast::{Block, BodyItem, Expr, ExprKind, UnaryOp};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Expressions nested deeper than this are not checked (typed `any`).
const MAX_EXPR_DEPTH: usize = 48;

/// The top-level block types.
pub const TOP_BLOCKS: &[&str] = &[
    "adapter", "backend", "data", "function", "locals", "output", "pattern", "resource", "runbook",
    "server", "task", "use", "variable",
];

/// The attributes an `adapter` block may hold.
pub const ADAPTER_ATTRS: &[&str] = &[
    "inputs",
    "create",
    "read",
    "update",
    "delete",
    "list",
    "failed_when",
    "gone_when",
    "id",
    "outputs",
    "items",
    "forget_on_delete",
    "health",
    "healthy_when",
];

/// Attributes and blocks every resource may have besides its schema's.
pub const RESOURCE_META: &[&str] = &["count", "depends_on", "for_each", "lifecycle", "wait_for"];

/// Checks one file.
pub(crate) fn check_file(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
) -> Vec<Diagnostic> {
    let parsed = parse(db, file);
    let mut cx = Cx::new(db, ws, file.id(db));
    for item in &parsed.file.body.items {
        if let BodyItem::Block(b) = item {
            cx.top_block(b);
        }
    }
    cx.diags
}

/// The type the checker gives the innermost expression around byte `offset` of `file`,
/// with that expression's span (hover in the language server). Runs the checker on the
/// top-level block holding `offset`, silently; `None` outside any checked expression.
pub fn type_at(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    offset: u32,
) -> Option<(Span, Ty)> {
    let parsed = parse(db, file);
    let mut cx = Cx::new(db, ws, file.id(db));
    cx.quiet = 1;
    cx.probe = Some(offset);
    for item in &parsed.file.body.items {
        if let BodyItem::Block(b) = item
            && b.span.start <= offset
            && offset <= b.span.end
        {
            cx.top_block(b);
        }
    }
    cx.found
}

/// A resolved `"<server>.<type>"`: server, type, and (input, output, where the inputs come
/// from) when known.
type ResolvedType = (String, String, Option<(Ty, Ty, String)>);

/// What names an expression can see besides the workspace's.
#[derive(Debug, Clone, Default)]
struct Scope {
    /// `self` (inside a resource): its input and output types, merged when used.
    self_parts: Option<(Ty, Ty)>,
    /// `count.index` is available.
    count: bool,
    /// `each.value`'s type, when `for_each` is set.
    each: Option<Ty>,
    /// `param.x` (inside a pattern or runbook).
    params: Option<BTreeMap<String, Ty>>,
    /// Bare names: `for` variables and function parameters (innermost last).
    vars: Vec<(String, Ty)>,
    /// Tool calls are allowed (tasks, data, runbook steps, adapters).
    tool_calls: bool,
    /// Inside a `data` block: tool calls must be read-only.
    in_data: bool,
    /// Inside a runbook: the steps before this one and their results' types.
    steps: Option<BTreeMap<String, Ty>>,
    /// Resource addresses declared inside the pattern being checked.
    pattern_resources: BTreeMap<String, (String, String, Repeat)>,
}

/// Where an expected type comes from, for messages: the MCP detail (`text`, "the
/// inputSchema of `aws` tool `vpc.create`") and, for a block's own attributes, what the
/// user wrote (`subject`, "`aws.vpc`"), so that messages speak the user's terms first.
#[derive(Debug, Clone)]
struct Origin {
    text: String,
    subject: Option<String>,
    /// What the subject's names are: attributes, or a tool's arguments.
    noun: &'static str,
    /// The names are the language's own (a block's attributes), always worth listing;
    /// a schema's are listed only when they are few.
    language: bool,
}

impl Origin {
    fn new(text: impl Into<String>) -> Self {
        Origin {
            text: text.into(),
            subject: None,
            noun: "attribute",
            language: false,
        }
    }

    /// The same origin, for names the language defines (listed however many they are).
    fn language(mut self) -> Self {
        self.language = true;
        self
    }

    /// The same origin, naming a tool whose arguments are being checked.
    fn about_tool(mut self, tool: impl Into<String>) -> Self {
        self.subject = Some(format!("the tool `{}`", tool.into()));
        self.noun = "argument";
        self
    }

    /// The same origin, naming what the user wrote (`` `aws.vpc` ``).
    fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The origin for a value nested inside (an object attribute, a nested block): the
    /// subject no longer names what holds the attributes.
    fn nested(&self) -> Origin {
        Origin::new(self.text.clone())
    }
}

struct Cx<'db> {
    db: &'db dyn salsa::Database,
    ws: Workspace,
    file: FileId,
    index: &'db Index,
    diags: Vec<Diagnostic>,
    /// While > 0, diagnostics are dropped (inferring a type without checking: another
    /// declaration's, [`type_at`], a union's members).
    quiet: usize,
    scope: Scope,
    catalogs: HashMap<String, Option<&'db Catalog>>,
    /// Current nesting of `infer`/`against`.
    depth: usize,
    /// For [`type_at`]: the offset whose innermost inferred expression is wanted.
    probe: Option<u32>,
    /// For [`type_at`]: the innermost expression around `probe` seen so far, and its type.
    found: Option<(Span, Ty)>,
}

impl<'db> Cx<'db> {
    fn new(db: &'db dyn salsa::Database, ws: Workspace, file: FileId) -> Self {
        Cx {
            db,
            ws,
            file,
            index: index(db, ws),
            diags: Vec::new(),
            quiet: 0,
            scope: Scope::default(),
            catalogs: HashMap::new(),
            depth: 0,
            probe: None,
            found: None,
        }
    }

    fn report(&mut self, d: Diagnostic) {
        if self.quiet == 0 {
            self.diags.push(d);
        }
    }

    fn error(
        &mut self,
        code: mcpo_diagnostics::Code,
        span: Span,
        msg: impl Into<String>,
    ) -> DiagBuilder<'_, 'db> {
        DiagBuilder {
            cx: self,
            diag: Some(Diagnostic::error(code, FileId::default(), span, msg)),
        }
    }
}

/// Builds one diagnostic fluently and reports it on `emit`.
struct DiagBuilder<'a, 'db> {
    cx: &'a mut Cx<'db>,
    diag: Option<Diagnostic>,
}

impl DiagBuilder<'_, '_> {
    fn map(mut self, f: impl FnOnce(Diagnostic) -> Diagnostic) -> Self {
        self.diag = self.diag.take().map(f);
        self
    }

    fn label(self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.map(|d| d.with_primary_label(text))
    }

    fn secondary(self, span: Span, text: impl Into<String>) -> Self {
        let text = text.into();
        self.map(|d| d.with_label(span, text))
    }

    fn help(self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.map(|d| d.with_help(text))
    }

    /// Adds "did you mean" help and a fix replacing `span`, when there is a suggestion.
    fn suggest(self, hint: Option<String>, span: Span) -> Self {
        match hint {
            Some(h) => self.map(|d| {
                d.with_help(format!("did you mean `{h}`?")).with_fix(Fix {
                    title: format!("replace with `{h}`"),
                    span,
                    replacement: h.clone(),
                })
            }),
            None => self,
        }
    }

    fn emit(mut self) {
        if let Some(mut d) = self.diag.take() {
            let file = self.cx.file;
            d.file = file;
            for l in &mut d.labels {
                l.file = file;
            }
            self.cx.report(d);
        }
    }
}

/// The resources and data blocks declared inside a pattern, by address.
fn pattern_resources(pattern: &Block) -> BTreeMap<String, (String, String, Repeat)> {
    let mut out = BTreeMap::new();
    for it in &pattern.body.items {
        let BodyItem::Block(blk) = it else { continue };
        let l = labels(blk);
        let (kind, [t, n]) = (blk.ty.name.as_str(), l.as_slice()) else {
            continue;
        };
        if kind != "resource" && kind != "data" {
            continue;
        }
        let Some((s, ty)) = split_type(t) else {
            continue;
        };
        let key = if kind == "resource" {
            format!("{s}.{ty}.{n}")
        } else {
            format!("data.{s}.{ty}.{n}")
        };
        let rep = if names::attr(blk, "count").is_some() {
            Repeat::Count
        } else if names::attr(blk, "for_each").is_some() {
            Repeat::ForEach
        } else {
            Repeat::One
        };
        out.insert(key, (s.to_string(), ty.to_string(), rep));
    }
    out
}

fn obj(attrs: &[(&str, Ty)]) -> Ty {
    let mut m = BTreeMap::new();
    for (n, t) in attrs {
        m.insert((*n).to_string(), Attr::new(t.clone(), false));
    }
    Ty::object(m)
}

/// The inputs and outputs together (what `self` can read).
fn merge_objects(a: &Ty, b: &Ty) -> Ty {
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => {
            let mut attrs = x.attrs.clone();
            for (k, v) in &y.attrs {
                attrs.insert(k.clone(), v.clone());
            }
            Ty::object(attrs)
        }
        _ => Ty::Any,
    }
}

/// Every attribute optional (a data block's filters).
fn optional_all(t: &Ty) -> Ty {
    match t.as_object() {
        Some(o) => {
            let mut o = o.clone();
            for a in o.attrs.values_mut() {
                a.required = false;
            }
            Ty::Object(Arc::new(o))
        }
        None => Ty::Any,
    }
}

/// A literal expression's value (`"x"`, `1`, `true`, `-1`).
fn literal(e: &Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Bool(b) => Some(Value::Bool(*b)),
        ExprKind::Number(n) => serde_json::from_str::<Value>(n).ok().or_else(|| {
            n.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        }),
        ExprKind::Template(t) => t.as_literal().map(Value::String),
        ExprKind::Parens(inner) => literal(inner),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
            ..
        } => match literal(operand)? {
            Value::Number(n) => n
                .as_f64()
                .and_then(|x| serde_json::Number::from_f64(-x))
                .map(Value::Number),
            _ => None,
        },
        _ => None,
    }
}

fn chars(n: u64) -> String {
    if n == 1 {
        "1 character".to_string()
    } else {
        format!("{n} characters")
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn list_names(names: &[&str]) -> String {
    let shown: Vec<String> = names.iter().take(10).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 10 {
        format!(" and {} more", names.len() - 10)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

fn arg_count(min: usize, max: Option<usize>) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match max {
        Some(m) if m == min => format!("{min} {}", plural(min)),
        Some(m) => format!("{min} to {m} arguments"),
        None => format!("at least {min} {}", plural(min)),
    }
}

fn param_desc(p: P) -> &'static str {
    match p {
        P::Str => "a string",
        P::Num => "a number",
        P::Any => "any value",
        P::List => "a list",
        P::Map => "a map or object",
        P::Coll => "a collection or string",
    }
}

/// A type for a label: objects abbreviated.
fn short(t: &Ty) -> String {
    let s = t.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}
