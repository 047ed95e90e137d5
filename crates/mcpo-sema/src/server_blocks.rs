//! `server` blocks: where each server is and how to start it, and whether its pulled
//! schema is still the one `mcpo.lock` records.
//!
//! A block's attributes are evaluated by the evaluator ([`crate::eval`]) before anything
//! else exists: literals, templates, `env("NAME")` (read from [`Workspace::env`]) and
//! the built-in functions that need neither files nor a clock. A reference (`var.x`,
//! `local.x`, a resource), a tool call or a function that reads files is E0303, as is an
//! attribute of the wrong kind or a block with both `command` and `url`.
//!
//! [`servers`] is what the deployment session starts: every valid block as a
//! [`ServerDecl`] (a neutral type: this crate knows no MCP client). [`server_diagnostics`]
//! adds E0301 (no usable pulled schema) and E0302 (the declaration changed since the pull)
//! by comparing each declaration's identity ([`mcpo_schema::ServerIdentity::declared`],
//! the rule `schema pull` uses too) with `.mcpo/schemas/<server>.json` and `mcpo.lock`.
//! A block without `command` and `url` is checked against [`Workspace::discovered`].

use crate::eval::{self, Scope};
use crate::names::{address, traversal};
use crate::value::{Val, number_json};
use crate::{EnvVars, Io, SchemaFile, SourceFile, Workspace, functions, parse};
use mcpo_diagnostics::{Diagnostic, FileId, Span, codes};
use mcpo_schema::{
    DeclaredTransport, Freshness, Lockfile, Pulled, PulledSchema, ServerIdentity, schema_path,
};
use mcpo_syntax::ast::{Block, BlockLabel, BodyItem, Expr, ExprKind, TemplateFor, TemplatePart};
use std::collections::{BTreeMap, BTreeSet};

/// One valid `server` block, evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDecl {
    /// The label (`"aws"`).
    pub name: String,
    /// The file that declares it.
    pub file: FileId,
    /// The block's first line (`server "aws"`), where its diagnostics point.
    pub header: Span,
    /// How to reach it; `None` when the block names neither `command` nor `url` (the
    /// server then comes from discovery).
    pub transport: Option<ServerTransport>,
    /// `max_concurrency`: calls in flight at once.
    pub max_concurrency: Option<u64>,
    /// `timeout_ms`: the timeout of one call.
    pub timeout_ms: Option<u64>,
    /// `read_only_tools`: tools declared read-only (data blocks may call them).
    pub read_only_tools: Vec<String>,
}

/// How a declared server is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTransport {
    /// A child process speaking MCP on stdin/stdout.
    Stdio {
        /// `command`: the program.
        command: String,
        /// `args`.
        args: Vec<String>,
        /// `env`: variables set for it.
        env: BTreeMap<String, Setting>,
        /// `cwd`: its working directory.
        cwd: Option<String>,
    },
    /// Streamable HTTP.
    Http {
        /// `url`: the endpoint.
        url: String,
        /// `headers`: sent with every request.
        headers: BTreeMap<String, Setting>,
    },
}

/// The value of one entry of a server's `env` or `headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// The value.
    Value(String),
    /// Not known where the workspace was checked: it reads an environment variable that
    /// is not set there. Only its name counts for the schema, so checking goes on;
    /// starting the server needs the value.
    Unset {
        /// Which variable, for a person (the evaluator's message).
        message: String,
        /// The `env(...)` call.
        span: Span,
    },
}

impl ServerDecl {
    /// What its pulled schema depends on; `None` without a transport (discovery decides).
    pub fn identity(&self) -> Option<ServerIdentity> {
        Some(ServerIdentity::declared(match self.transport.as_ref()? {
            ServerTransport::Stdio {
                command, args, env, ..
            } => DeclaredTransport::Stdio {
                command,
                args,
                env_names: env.keys().map(String::as_str).collect(),
            },
            ServerTransport::Http { url, headers } => DeclaredTransport::Http {
                url,
                header_names: headers.keys().map(String::as_str).collect(),
            },
        }))
    }
}

/// The `server` blocks of one file and their E0303 diagnostics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileServers {
    /// The valid blocks, in source order.
    pub decls: Vec<ServerDecl>,
    /// Why the others are invalid.
    pub diagnostics: Vec<Diagnostic>,
}

/// The `server` blocks of one file (memoized; re-runs when the file changes).
#[salsa::tracked(returns(ref))]
pub fn file_servers(db: &dyn salsa::Database, ws: Workspace, file: SourceFile) -> FileServers {
    let mut out = FileServers::default();
    let id = file.id(db);
    for item in &parse(db, file).file.body.items {
        if let BodyItem::Block(b) = item
            && b.ty.name == "server"
            && let Some(decl) = server_block(ws.env(db), id, b, &mut out.diagnostics)
        {
            out.decls.push(decl);
        }
    }
    out
}

/// Every valid `server` block of the workspace, in file order: what the deployment
/// session starts (mapped to the MCP client's declarations by the front end, which also
/// merges discovery for blocks without a transport).
#[salsa::tracked(returns(ref))]
pub fn servers(db: &dyn salsa::Database, ws: Workspace) -> Vec<ServerDecl> {
    ws.files(db)
        .iter()
        .flat_map(|f| file_servers(db, ws, *f).decls.iter().cloned())
        .collect()
}

/// The tools each server's block declares read-only (the first block of a name counts).
/// Without spans, so that moving a `server` block re-checks nothing that calls tools.
#[salsa::tracked(returns(ref))]
pub fn read_only_tools(
    db: &dyn salsa::Database,
    ws: Workspace,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in servers(db, ws) {
        out.entry(d.name.clone())
            .or_insert_with(|| d.read_only_tools.iter().cloned().collect());
    }
    out
}

/// E0301, E0302 and E0303 for the whole workspace (memoized; re-runs when a `server`
/// block, a pulled schema, `mcpo.lock` or the discovered servers change).
#[salsa::tracked(returns(ref))]
pub fn server_diagnostics(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = ws
        .files(db)
        .iter()
        .flat_map(|f| file_servers(db, ws, *f).diagnostics.iter().cloned())
        .collect();
    let decls = servers(db, ws);
    if decls.is_empty() {
        return out;
    }
    let lock = lockfile(db, ws);
    for decl in decls {
        let identity = match decl.identity() {
            Some(i) => i,
            None => match ws.discovered(db).get(&decl.name) {
                Some(i) => i.clone(),
                None => {
                    out.push(
                        Diagnostic::error(
                            codes::E0301,
                            decl.file,
                            decl.header,
                            "server schema not pulled",
                        )
                        .with_primary_label(format!(
                            "server `{}` has no `command` or `url` and was not found by discovery",
                            decl.name
                        ))
                        .with_help(
                            "add `command` or `url`, or declare it in mcpo.toml, then run `mcpoc schema pull`",
                        ),
                    );
                    continue;
                }
            },
        };
        let schema = ws
            .schemas(db)
            .iter()
            .find(|s| *s.server(db) == decl.name)
            .map(|s| pulled_schema(db, *s).as_ref().map_err(String::as_str));
        let pulled = Pulled {
            schema,
            lock: lock.as_ref().map(|l| l.as_ref().map_err(String::as_str)),
        };
        match mcpo_schema::judge(&decl.name, &identity, pulled) {
            Freshness::Fresh => {}
            Freshness::Missing { reason } => out.push(
                Diagnostic::error(
                    codes::E0301,
                    decl.file,
                    decl.header,
                    "server schema not pulled",
                )
                .with_primary_label(format!("no pulled schema for `{}`: {reason}", decl.name))
                .with_help(format!("run `{}`", Freshness::fix_command(&decl.name))),
            ),
            Freshness::Stale { changes } => out.push(
                Diagnostic::error(
                    codes::E0302,
                    decl.file,
                    decl.header,
                    "server schema is stale",
                )
                .with_primary_label(format!(
                    "the schema of `{}` was pulled with a different declaration: {}",
                    decl.name,
                    changes.join("; ")
                ))
                .with_help(format!("run `{}`", Freshness::fix_command(&decl.name))),
            ),
        }
    }
    out
}

/// `mcpo.lock`, parsed: `None` when there is none, `Some(Err(why))` when it cannot be read.
#[salsa::tracked(returns(ref))]
fn lockfile(db: &dyn salsa::Database, ws: Workspace) -> Option<Result<Lockfile, String>> {
    ws.lock(db)
        .as_ref()
        .map(|text| Lockfile::from_file_text(text).map_err(|e| e.to_string()))
}

/// The identity and hash of one pulled schema (memoized per file: reading and hashing a
/// big schema is the expensive part of the freshness check).
#[salsa::tracked(returns(ref))]
fn pulled_schema(db: &dyn salsa::Database, schema: SchemaFile) -> Result<PulledSchema, String> {
    let shown = schema_path(schema.server(db)).display().to_string();
    PulledSchema::from_file_text(&shown, schema.text(db))
}

/// What `env("NAME")` reads in a `server` block: the workspace's environment input, and
/// nothing else (the pre-pass refuses functions that read files or the clock).
pub(crate) struct EnvIo<'a>(pub(crate) &'a EnvVars);

impl Io for EnvIo<'_> {
    fn read_file(&self, path: &str) -> Result<String, String> {
        Err(format!(
            "cannot read {path:?}: a server block reads no files"
        ))
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!(
            "cannot read {path:?}: a server block reads no files"
        ))
    }
    fn env(&self, name: &str) -> Option<String> {
        self.0.0.get(name).cloned()
    }
    fn now_rfc3339(&self) -> String {
        String::new()
    }
}

const HELP: &str = "server blocks take literals, templates, `env(\"NAME\")` and built-in functions";

/// Which block is evaluated before anything else: the messages say why it may not use
/// what it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Early {
    /// A `server` block.
    Server,
    /// The `backend` block.
    Backend,
}

impl Early {
    fn what(self) -> &'static str {
        match self {
            Early::Server => "a server block",
            Early::Backend => "a backend block",
        }
    }

    fn why(self) -> &'static str {
        match self {
            Early::Server => "servers are declared before anything is evaluated",
            Early::Backend => "the backend is read before anything is evaluated",
        }
    }

    fn why_tools(self) -> &'static str {
        match self {
            Early::Server => "servers are declared before any is started",
            Early::Backend => "the backend is read before any server is started",
        }
    }

    fn stable(self) -> &'static str {
        match self {
            Early::Server => "a server's declaration must stay the same",
            Early::Backend => "the backend must be the same on every run",
        }
    }
}

/// One evaluated attribute.
struct Evaluated<'a> {
    val: Val,
    /// The whole attribute (`name = value`), where shape errors point.
    span: Span,
    value: &'a Expr,
}

fn server_block(
    env: &EnvVars,
    file: FileId,
    b: &Block,
    diags: &mut Vec<Diagnostic>,
) -> Option<ServerDecl> {
    let header =
        b.ty.span
            .cover(b.labels.last().map(BlockLabel::span).unwrap_or(b.ty.span));
    let [label] = b.labels.as_slice() else {
        diags.push(
            Diagnostic::error(codes::E0303, file, header, "invalid server block")
                .with_primary_label("a server block has exactly one label, its name")
                .with_help("write `server \"name\" { ... }`"),
        );
        return None;
    };
    let name = label.value().to_string();
    if let Err(e) = mcpo_schema::validate_server_name(&name) {
        diags.push(
            Diagnostic::error(codes::E0303, file, label.span(), "invalid server block")
                .with_primary_label(e),
        );
        return None;
    }
    let io = EnvIo(env);
    let mut attrs: BTreeMap<&str, Evaluated<'_>> = BTreeMap::new();
    let mut failed = false;
    for item in &b.body.items {
        let BodyItem::Attribute(a) = item else {
            continue;
        };
        // A condition on each tool result, judged when the server is called (the checker
        // checks it; it has nothing to do with how the server is reached).
        if a.name.name == "failed_when" {
            continue;
        }
        match evaluate(&a.value, &io, Early::Server) {
            Ok(val) => {
                attrs.insert(
                    &a.name.name,
                    Evaluated {
                        val,
                        span: a.span,
                        value: &a.value,
                    },
                );
            }
            Err((span, why)) => {
                diags.push(
                    Diagnostic::error(codes::E0303, file, span, "invalid server block")
                        .with_primary_label(why)
                        .with_help(HELP),
                );
                failed = true;
            }
        }
    }
    if failed {
        return None;
    }
    match to_decl(name, file, header, attrs, &io) {
        Ok(decl) => Some(decl),
        Err((span, why)) => {
            diags.push(
                Diagnostic::error(
                    codes::E0303,
                    file,
                    span.unwrap_or(header),
                    "invalid server block",
                )
                .with_primary_label(why),
            );
            None
        }
    }
}

pub(crate) type EvalFailure = (Span, String);

/// Evaluates one attribute's value: what a server block may not use is refused first,
/// with a message saying why; then the evaluator runs (an unset environment variable
/// gives an unknown value, see [`Scope::unset_env_unknown`]).
pub(crate) fn evaluate(expr: &Expr, io: &EnvIo<'_>, kind: Early) -> Result<Val, EvalFailure> {
    if let Some(f) = forbidden(expr, &mut Vec::new(), kind) {
        return Err(f);
    }
    run(expr, io, true)
}

fn run(expr: &Expr, io: &EnvIo<'_>, unset_env_unknown: bool) -> Result<Val, EvalFailure> {
    let lookup: BTreeMap<String, Val> = BTreeMap::new();
    let servers = BTreeSet::new();
    let functions = BTreeMap::new();
    let mut scope = Scope::new(&lookup, &servers, &functions, io);
    scope.unset_env_unknown = unset_env_unknown;
    eval::eval(expr, &scope).map_err(|e| (e.span, e.message))
}

/// Why `expr` is unknown: evaluated again with unset variables as errors, it says which.
pub(crate) fn why_unknown(expr: &Expr, io: &EnvIo<'_>) -> EvalFailure {
    match run(expr, io, false) {
        Err(f) => f,
        Ok(_) => (expr.span, "this value is not known".to_string()),
    }
}

/// The first thing in `expr` that a server block may not use. `bound` holds the names
/// of the enclosing `for` expressions.
fn forbidden(expr: &Expr, bound: &mut Vec<String>, kind: Early) -> Option<EvalFailure> {
    if let Some(t) = traversal(expr) {
        if !bound.contains(&t.root.name) {
            let shown = address(&t).unwrap_or_else(|| t.root.name.clone());
            return Some((
                expr.span,
                format!("{} cannot refer to `{shown}`: {}", kind.what(), kind.why()),
            ));
        }
        for step in &t.steps {
            if let crate::names::Step::Index(key) = step
                && let Some(f) = forbidden(key, bound, kind)
            {
                return Some(f);
            }
        }
        return None;
    }
    match &expr.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::Variable(_)
        | ExprKind::Error => None,
        ExprKind::Template(t) => forbidden_parts(&t.parts, bound, kind),
        ExprKind::Heredoc(h) => forbidden_parts(&h.template.parts, bound, kind),
        ExprKind::Tuple(items) => items.iter().find_map(|i| forbidden(i, bound, kind)),
        ExprKind::Object(items) => items.iter().find_map(|i| {
            // A bare name as a key is the key itself, not a reference.
            let key = match crate::types::object_key(&i.key) {
                Some(_) => None,
                None => forbidden(&i.key, bound, kind),
            };
            key.or_else(|| forbidden(&i.value, bound, kind))
        }),
        ExprKind::FunctionCall(c) => {
            let name = c.name.name.as_str();
            if let Some(ns) = c.namespace.first() {
                return Some((
                    expr.span,
                    format!(
                        "{} cannot call tools (`{}::{name}`): {}",
                        kind.what(),
                        ns.name,
                        kind.why_tools()
                    ),
                ));
            }
            let why = if !functions::exists(name) {
                Some(format!(
                    "`{name}` is not a built-in function: {} can call built-in functions only",
                    kind.what()
                ))
            } else if matches!(
                name,
                "file" | "filebase64" | "fileexists" | "filesha256" | "templatefile"
            ) {
                Some(format!(
                    "`{name}` reads files: {} reads the environment only (`env(\"NAME\")`)",
                    kind.what()
                ))
            } else if functions::impure(name) {
                Some(format!(
                    "`{name}` gives a new result on every call: {}",
                    kind.stable()
                ))
            } else {
                None
            };
            if let Some(why) = why {
                return Some((c.name.span, why));
            }
            c.args.iter().find_map(|a| forbidden(a, bound, kind))
        }
        ExprKind::GetAttr { object, .. } => forbidden(object, bound, kind),
        ExprKind::Index { collection, key } => {
            forbidden(collection, bound, kind).or_else(|| forbidden(key, bound, kind))
        }
        ExprKind::LegacyIndex { collection, .. } | ExprKind::Splat { collection, .. } => {
            forbidden(collection, bound, kind)
        }
        ExprKind::Unary { operand, .. } => forbidden(operand, bound, kind),
        ExprKind::Binary { lhs, rhs, .. } => {
            forbidden(lhs, bound, kind).or_else(|| forbidden(rhs, bound, kind))
        }
        ExprKind::Conditional {
            condition,
            then,
            otherwise,
        } => forbidden(condition, bound, kind)
            .or_else(|| forbidden(then, bound, kind))
            .or_else(|| forbidden(otherwise, bound, kind)),
        ExprKind::For(f) => {
            if let Some(e) = forbidden(&f.collection, bound, kind) {
                return Some(e);
            }
            let depth = bound.len();
            bound.extend(f.key_var.iter().map(|k| k.name.clone()));
            bound.push(f.value_var.name.clone());
            let found = f
                .key_expr
                .as_ref()
                .and_then(|k| forbidden(k, bound, kind))
                .or_else(|| forbidden(&f.value_expr, bound, kind))
                .or_else(|| f.condition.as_ref().and_then(|c| forbidden(c, bound, kind)));
            bound.truncate(depth);
            found
        }
        ExprKind::Parens(inner) => forbidden(inner, bound, kind),
    }
}

fn forbidden_parts(
    parts: &[TemplatePart],
    bound: &mut Vec<String>,
    kind: Early,
) -> Option<EvalFailure> {
    for p in parts {
        let found = match p {
            TemplatePart::Literal { .. } => None,
            TemplatePart::Interpolation { expr, .. } => forbidden(expr, bound, kind),
            TemplatePart::If(i) => forbidden(&i.condition, bound, kind)
                .or_else(|| forbidden_parts(&i.then, bound, kind))
                .or_else(|| {
                    i.otherwise
                        .as_ref()
                        .and_then(|o| forbidden_parts(o, bound, kind))
                }),
            TemplatePart::For(f) => {
                let TemplateFor {
                    key_var,
                    value_var,
                    collection,
                    body,
                    ..
                } = &**f;
                if let Some(e) = forbidden(collection, bound, kind) {
                    return Some(e);
                }
                let depth = bound.len();
                bound.extend(key_var.iter().map(|k| k.name.clone()));
                bound.push(value_var.name.clone());
                let found = forbidden_parts(body, bound, kind);
                bound.truncate(depth);
                found
            }
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// A shape error: where (the attribute; the block's header when `None`) and why.
type ShapeError = (Option<Span>, String);

fn unknown_error(e: &Evaluated<'_>, io: &EnvIo<'_>) -> ShapeError {
    let (span, why) = why_unknown(e.value, io);
    (Some(span), why)
}

/// A primitive as text (numbers and bools convert, as in templates).
fn text_of(v: &Val) -> Option<String> {
    match v.unmarked() {
        Val::String(s) => Some(s.clone()),
        Val::Number(n) => Some(number_json(*n).to_string()),
        _ => None,
    }
}

fn take_string(
    attrs: &mut BTreeMap<&str, Evaluated<'_>>,
    key: &str,
    io: &EnvIo<'_>,
) -> Result<Option<String>, ShapeError> {
    let Some(e) = attrs.remove(key) else {
        return Ok(None);
    };
    match e.val.unmarked() {
        Val::String(s) => Ok(Some(s.clone())),
        Val::Unknown => Err(unknown_error(&e, io)),
        _ => Err((Some(e.span), format!("`{key}` must be a string"))),
    }
}

fn take_strings(
    attrs: &mut BTreeMap<&str, Evaluated<'_>>,
    key: &str,
    io: &EnvIo<'_>,
) -> Result<Vec<String>, ShapeError> {
    let Some(e) = attrs.remove(key) else {
        return Ok(Vec::new());
    };
    let wrong = || (Some(e.span), format!("`{key}` must be a list of strings"));
    match e.val.unmarked() {
        Val::List(items) => items
            .iter()
            .map(|v| match v.unmarked() {
                Val::Unknown => Err(unknown_error(&e, io)),
                other => text_of(other).ok_or_else(wrong),
            })
            .collect(),
        Val::Unknown => Err(unknown_error(&e, io)),
        _ => Err(wrong()),
    }
}

fn take_map(
    attrs: &mut BTreeMap<&str, Evaluated<'_>>,
    key: &str,
    io: &EnvIo<'_>,
) -> Result<BTreeMap<String, Setting>, ShapeError> {
    let Some(e) = attrs.remove(key) else {
        return Ok(BTreeMap::new());
    };
    match e.val.unmarked() {
        Val::Map(m) => Ok(m
            .iter()
            .map(|(k, v)| {
                let setting = match v.unmarked() {
                    Val::String(s) => Some(s.clone()),
                    Val::Null => Some(String::new()),
                    other => other.to_json().map(|j| j.to_string()),
                };
                let setting = setting.map(Setting::Value).unwrap_or_else(|| {
                    // Evaluate the entry's own expression again when it is written out,
                    // so the message names its variable.
                    let entry = match &e.value.kind {
                        ExprKind::Object(items) => items
                            .iter()
                            .find(|i| crate::types::object_key(&i.key).as_deref() == Some(k))
                            .map(|i| &i.value),
                        _ => None,
                    };
                    let (span, message) = why_unknown(entry.unwrap_or(e.value), io);
                    Setting::Unset { message, span }
                });
                (k.clone(), setting)
            })
            .collect()),
        Val::Unknown => Err(unknown_error(&e, io)),
        _ => Err((
            Some(e.span),
            format!("`{key}` must be an object of strings"),
        )),
    }
}

fn take_count(
    attrs: &mut BTreeMap<&str, Evaluated<'_>>,
    key: &str,
    io: &EnvIo<'_>,
) -> Result<Option<u64>, ShapeError> {
    let Some(e) = attrs.remove(key) else {
        return Ok(None);
    };
    match e.val.unmarked() {
        Val::Number(n) if *n >= 1.0 && n.fract() == 0.0 && *n <= 9.007_199_254_740_992e15 =>
        {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked whole, positive and exactly representable"
            )]
            Ok(Some(*n as u64))
        }
        Val::Number(_) => Err((
            Some(e.span),
            format!("`{key}` must be a positive whole number"),
        )),
        Val::Unknown => Err(unknown_error(&e, io)),
        _ => Err((Some(e.span), format!("`{key}` must be a number"))),
    }
}

fn to_decl(
    name: String,
    file: FileId,
    header: Span,
    mut attrs: BTreeMap<&str, Evaluated<'_>>,
    io: &EnvIo<'_>,
) -> Result<ServerDecl, ShapeError> {
    let command_span = attrs.get("command").map(|e| e.span);
    let command = take_string(&mut attrs, "command", io)?;
    let url = take_string(&mut attrs, "url", io)?;
    let args = take_strings(&mut attrs, "args", io)?;
    let env = take_map(&mut attrs, "env", io)?;
    let headers = take_map(&mut attrs, "headers", io)?;
    let cwd = take_string(&mut attrs, "cwd", io)?;
    let max_concurrency = take_count(&mut attrs, "max_concurrency", io)?;
    let timeout_ms = take_count(&mut attrs, "timeout_ms", io)?;
    let read_only_tools = take_strings(&mut attrs, "read_only_tools", io)?;
    let transport = match (command, url) {
        (Some(command), None) => Some(ServerTransport::Stdio {
            command,
            args,
            env,
            cwd,
        }),
        (None, Some(url)) => Some(ServerTransport::Http { url, headers }),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err((
                command_span,
                "a server has either `command` (stdio) or `url` (HTTP), not both".into(),
            ));
        }
    };
    Ok(ServerDecl {
        name,
        file,
        header,
        transport,
        max_concurrency,
        timeout_ms,
        read_only_tools,
    })
}
