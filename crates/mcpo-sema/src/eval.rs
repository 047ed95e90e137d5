//! Evaluation of expressions to [`Val`]s.
//!
//! References are resolved through a [`Lookup`] keyed by declaration address (`var.x`,
//! `local.x`, `aws.vpc.main`, `data.aws.vpc.x`, `task.s.t.n`, `module.x`, `param.x`),
//! so the same evaluator serves planning (where a resource not created yet is an object of
//! unknowns) and apply (where it is what its server returned). Unknown values propagate:
//! an operation on an unknown is unknown. Sensitive marks propagate to every value
//! computed from a sensitive one.

use crate::functions;
use crate::value::Val;
use mcpo_diagnostics::Span;
use mcpo_syntax::ast::{
    BinaryOp, Expr, ExprKind, ForExpr, TemplateFor, TemplateIf, TemplatePart, UnaryOp,
};
use std::collections::{BTreeMap, BTreeSet};

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    /// What went wrong, for a person.
    pub message: String,
    /// The expression that failed.
    pub span: Span,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What evaluation may ask of the world: files relative to the workspace, environment
/// variables, the clock. The CLI implements it over the real file system; the checker
/// over its inputs (server blocks read the environment only); tests in memory.
pub trait Io: Send + Sync {
    /// The text of a file, relative to the workspace root (or absolute).
    fn read_file(&self, path: &str) -> Result<String, String>;
    /// The bytes of a file (for `filebase64`, `filesha256`).
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String>;
    /// An environment variable.
    fn env(&self, name: &str) -> Option<String>;
    /// The current time as RFC 3339 (for `timestamp()`).
    fn now_rfc3339(&self) -> String;
}

fn err<T>(span: Span, message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        message: message.into(),
        span,
    })
}

/// Values of declarations, by address.
pub trait Lookup {
    /// The value of the declaration at `key` (`var.x`, `aws.vpc.main`, ...), if any.
    fn get(&self, key: &str) -> Option<Val>;
}

impl Lookup for BTreeMap<String, Val> {
    fn get(&self, key: &str) -> Option<Val> {
        BTreeMap::get(self, key).cloned()
    }
}

/// Calls a tool for a `server::tool({...})` expression (data blocks at plan time, tasks
/// and runbook steps at apply time).
pub trait ToolCaller {
    /// Calls `tool` on `server` with `args`; the result as JSON.
    fn call(
        &self,
        server: &str,
        tool: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, String>;
}

/// A user function: `function "f" { params = { a = string }, result = expr }`.
#[derive(Debug, Clone)]
pub struct UserFn {
    /// Parameter names in order.
    pub params: Vec<String>,
    /// The result expression.
    pub result: Expr,
}

/// Everything an expression may see.
pub struct Scope<'a> {
    /// Declarations by address.
    pub lookup: &'a dyn Lookup,
    /// Server names (a traversal rooted at one is a resource reference).
    pub servers: &'a BTreeSet<String>,
    /// User functions.
    pub functions: &'a BTreeMap<String, UserFn>,
    /// Files, environment, clock.
    pub io: &'a dyn Io,
    /// Tool calls; without one a tool call is unknown (known after apply).
    pub tools: Option<&'a dyn ToolCaller>,
    /// Prefix of addresses inside a pattern instance (`module.shop.`), else empty.
    pub prefix: String,
    /// `self` inside a resource (`wait_for`, adapters).
    pub self_val: Option<Val>,
    /// `each.key` / `each.value` inside a `for_each` block.
    pub each: Option<(Val, Val)>,
    /// `count.index` inside a `count` block.
    pub count_index: Option<Val>,
    /// Names bound by `for` expressions and function parameters, innermost last.
    pub bound: Vec<(String, Val)>,
    /// How many user-function calls deep we are (recursion is cut off).
    pub depth: usize,
    /// Planning: functions whose result changes on every call (`timestamp`, `uuid`,
    /// `bcrypt`) are known only after apply, as in Terraform.
    pub impure_unknown: bool,
    /// `env("X")` (without a default) of a variable that is not set is unknown instead of
    /// an error. The checker evaluates `server` blocks this way: it may run where the
    /// servers are not started (an editor), and a value needed only to start one (a token)
    /// need not be set there.
    pub unset_env_unknown: bool,
}

impl<'a> Scope<'a> {
    /// A scope with only declarations, servers, functions and I/O.
    pub fn new(
        lookup: &'a dyn Lookup,
        servers: &'a BTreeSet<String>,
        functions: &'a BTreeMap<String, UserFn>,
        io: &'a dyn Io,
    ) -> Self {
        Scope {
            lookup,
            servers,
            functions,
            io,
            tools: None,
            prefix: String::new(),
            self_val: None,
            each: None,
            count_index: None,
            bound: Vec::new(),
            depth: 0,
            impure_unknown: false,
            unset_env_unknown: false,
        }
    }

    fn bound(&self, name: &str) -> Option<&Val> {
        self.bound
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn child(&self) -> Scope<'a> {
        Scope {
            lookup: self.lookup,
            servers: self.servers,
            functions: self.functions,
            io: self.io,
            tools: self.tools,
            prefix: self.prefix.clone(),
            self_val: self.self_val.clone(),
            each: self.each.clone(),
            count_index: self.count_index.clone(),
            bound: self.bound.clone(),
            depth: self.depth,
            impure_unknown: self.impure_unknown,
            unset_env_unknown: self.unset_env_unknown,
        }
    }
}

/// One step of a traversal.
enum Step<'e> {
    Attr(&'e str, Span),
    Index(&'e Expr),
    Legacy(&'e str, Span),
    Splat,
}

/// Splits `a.b[c].d` into its root name and steps; None when the root is not a name.
fn traversal(expr: &Expr) -> Option<(&str, Span, Vec<Step<'_>>)> {
    let mut steps = Vec::new();
    let mut cur = expr;
    loop {
        match &cur.kind {
            ExprKind::GetAttr { object, name } => {
                steps.push(Step::Attr(&name.name, name.span));
                cur = object;
            }
            ExprKind::Index { collection, key } => {
                steps.push(Step::Index(key));
                cur = collection;
            }
            ExprKind::LegacyIndex {
                collection,
                index,
                index_span,
            } => {
                steps.push(Step::Legacy(index, *index_span));
                cur = collection;
            }
            ExprKind::Splat { collection, .. } => {
                steps.push(Step::Splat);
                cur = collection;
            }
            ExprKind::Variable(id) => {
                steps.reverse();
                return Some((&id.name, id.span, steps));
            }
            _ => return None,
        }
    }
}

/// How many attribute steps after the root name make a declaration's address
/// ([`crate::names::declaration_len`]); a resource's root must be a known server.
fn key_len(root: &str, servers: &BTreeSet<String>) -> Option<usize> {
    crate::names::declaration_len(root).filter(|n| *n != 2 || servers.contains(root))
}

/// The declaration addresses an expression refers to (`var.x`, `aws.vpc.main`, ...),
/// without the pattern prefix, sorted and unique.
pub fn references(expr: &Expr, servers: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_refs(expr, servers, &mut out, None);
    out
}

/// The names `expr` reads under `root` (`step` -> the steps `step.<name>...` names), sorted
/// and unique.
pub fn members_of(expr: &Expr, root: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_refs(expr, &BTreeSet::new(), &mut out, Some(root));
    out
}

fn collect_refs(
    expr: &Expr,
    servers: &BTreeSet<String>,
    out: &mut BTreeSet<String>,
    only: Option<&str>,
) {
    if let Some((root, _, steps)) = traversal(expr) {
        if let Some(wanted) = only {
            if root == wanted
                && let Some(Step::Attr(name, _)) = steps.first()
            {
                out.insert((*name).to_string());
            }
        } else if let Some(n) = key_len(root, servers) {
            let mut key = root.to_string();
            for step in steps.iter().take(n) {
                match step {
                    Step::Attr(a, _) => {
                        key.push('.');
                        key.push_str(a);
                    }
                    _ => break,
                }
            }
            if key.matches('.').count() == n {
                out.insert(key);
            }
        }
        for step in &steps {
            if let Step::Index(e) = step {
                collect_refs(e, servers, out, only);
            }
        }
        return;
    }
    match &expr.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::Variable(_)
        | ExprKind::Error => {}
        ExprKind::Template(t) => collect_template_refs(&t.parts, servers, out, only),
        ExprKind::Heredoc(h) => collect_template_refs(&h.template.parts, servers, out, only),
        ExprKind::Tuple(items) => items
            .iter()
            .for_each(|e| collect_refs(e, servers, out, only)),
        ExprKind::Object(items) => {
            for i in items {
                collect_refs(&i.key, servers, out, only);
                collect_refs(&i.value, servers, out, only);
            }
        }
        ExprKind::FunctionCall(c) => c
            .args
            .iter()
            .for_each(|e| collect_refs(e, servers, out, only)),
        ExprKind::GetAttr { object, .. } => collect_refs(object, servers, out, only),
        ExprKind::Index { collection, key } => {
            collect_refs(collection, servers, out, only);
            collect_refs(key, servers, out, only);
        }
        ExprKind::LegacyIndex { collection, .. } | ExprKind::Splat { collection, .. } => {
            collect_refs(collection, servers, out, only)
        }
        ExprKind::Unary { operand, .. } => collect_refs(operand, servers, out, only),
        ExprKind::Binary { lhs, rhs, .. } => {
            collect_refs(lhs, servers, out, only);
            collect_refs(rhs, servers, out, only);
        }
        ExprKind::Conditional {
            condition,
            then,
            otherwise,
        } => {
            collect_refs(condition, servers, out, only);
            collect_refs(then, servers, out, only);
            collect_refs(otherwise, servers, out, only);
        }
        ExprKind::For(f) => {
            collect_refs(&f.collection, servers, out, only);
            if let Some(k) = &f.key_expr {
                collect_refs(k, servers, out, only);
            }
            collect_refs(&f.value_expr, servers, out, only);
            if let Some(c) = &f.condition {
                collect_refs(c, servers, out, only);
            }
        }
        ExprKind::Parens(e) => collect_refs(e, servers, out, only),
    }
}

fn collect_template_refs(
    parts: &[TemplatePart],
    servers: &BTreeSet<String>,
    out: &mut BTreeSet<String>,
    only: Option<&str>,
) {
    for p in parts {
        match p {
            TemplatePart::Literal { .. } => {}
            TemplatePart::Interpolation { expr, .. } => collect_refs(expr, servers, out, only),
            TemplatePart::If(i) => {
                collect_refs(&i.condition, servers, out, only);
                collect_template_refs(&i.then, servers, out, only);
                if let Some(o) = &i.otherwise {
                    collect_template_refs(o, servers, out, only);
                }
            }
            TemplatePart::For(f) => {
                collect_refs(&f.collection, servers, out, only);
                collect_template_refs(&f.body, servers, out, only);
            }
        }
    }
}

/// Evaluates an expression.
pub fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Val, EvalError> {
    match &expr.kind {
        ExprKind::Null => Ok(Val::Null),
        ExprKind::Bool(b) => Ok(Val::Bool(*b)),
        ExprKind::Number(text) => parse_number(text)
            .map(Val::Number)
            .ok_or_else(|| EvalError {
                message: format!("`{text}` is not a number"),
                span: expr.span,
            }),
        ExprKind::Template(t) => template(&t.parts, scope),
        ExprKind::Heredoc(h) => template(&h.template.parts, scope),
        ExprKind::Tuple(items) => Ok(Val::List(
            items
                .iter()
                .map(|e| eval(e, scope))
                .collect::<Result<_, _>>()?,
        )),
        ExprKind::Object(items) => {
            let mut out = BTreeMap::new();
            let mut sensitive = false;
            for item in items {
                let key = match crate::types::object_key(&item.key) {
                    Some(k) => Val::String(k),
                    None => eval(&item.key, scope)?,
                };
                let key = match key.unmarked() {
                    Val::Unknown => return Ok(Val::Unknown),
                    k => {
                        sensitive |= key.is_sensitive();
                        to_str(k).ok_or_else(|| EvalError {
                            message: format!(
                                "an object key must be a string, not {}",
                                k.kind_name()
                            ),
                            span: item.key.span,
                        })?
                    }
                };
                out.insert(key, eval(&item.value, scope)?);
            }
            Ok(mark(Val::Map(out), sensitive))
        }
        ExprKind::FunctionCall(call) => function_call(expr, call, scope),
        ExprKind::Variable(_)
        | ExprKind::GetAttr { .. }
        | ExprKind::Index { .. }
        | ExprKind::LegacyIndex { .. }
        | ExprKind::Splat { .. } => reference(expr, scope),
        ExprKind::Unary {
            op,
            operand,
            op_span,
        } => {
            let v = eval(operand, scope)?;
            let s = v.is_sensitive();
            let r = match (op, v.unmarked()) {
                (_, Val::Unknown) => Val::Unknown,
                (UnaryOp::Neg, x) => Val::Number(-num(x, operand.span)?),
                (UnaryOp::Not, x) => Val::Bool(!boolean(x, operand.span)?),
            };
            let _ = op_span;
            Ok(mark(r, s))
        }
        ExprKind::Binary { op, lhs, rhs, .. } => binary(*op, lhs, rhs, scope),
        ExprKind::Conditional {
            condition,
            then,
            otherwise,
        } => {
            let c = eval(condition, scope)?;
            match c.unmarked() {
                Val::Unknown => Ok(Val::Unknown),
                x => {
                    let chosen = if boolean(x, condition.span)? {
                        eval(then, scope)?
                    } else {
                        eval(otherwise, scope)?
                    };
                    Ok(mark(chosen, c.is_sensitive()))
                }
            }
        }
        ExprKind::For(f) => for_expr(f, expr.span, scope),
        ExprKind::Parens(e) => eval(e, scope),
        ExprKind::Error => err(expr.span, "this expression has a syntax error"),
    }
}

fn mark(v: Val, sensitive: bool) -> Val {
    if sensitive { v.mark_sensitive() } else { v }
}

/// Parses an HCL number literal (decimal, with exponent).
pub fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// The string form of a primitive (HCL converts numbers and bools to strings).
pub fn to_str(v: &Val) -> Option<String> {
    match v.unmarked() {
        Val::String(s) => Some(s.clone()),
        Val::Number(n) => Some(crate::value::number_json(*n).to_string()),
        Val::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn num(v: &Val, span: Span) -> Result<f64, EvalError> {
    match v.unmarked() {
        Val::Number(n) => Ok(*n),
        Val::String(s) => parse_number(s.trim()).ok_or_else(|| EvalError {
            message: format!("a number is required, but \"{s}\" is not one"),
            span,
        }),
        other => err(
            span,
            format!("a number is required, not {}", other.kind_name()),
        ),
    }
}

fn boolean(v: &Val, span: Span) -> Result<bool, EvalError> {
    match v.unmarked() {
        Val::Bool(b) => Ok(*b),
        Val::String(s) if s == "true" => Ok(true),
        Val::String(s) if s == "false" => Ok(false),
        other => err(
            span,
            format!("a bool is required, not {}", other.kind_name()),
        ),
    }
}

fn template(parts: &[TemplatePart], scope: &Scope<'_>) -> Result<Val, EvalError> {
    // A template that is a single interpolation keeps the value's type (HCL).
    if let [TemplatePart::Interpolation { expr, .. }] = parts {
        return eval(expr, scope);
    }
    let mut out = String::new();
    let mut sensitive = false;
    if !render_parts(parts, scope, &mut out, &mut sensitive)? {
        return Ok(mark(Val::Unknown, sensitive));
    }
    Ok(mark(Val::String(out), sensitive))
}

/// Renders template parts; false when an unknown value makes the result unknown.
fn render_parts(
    parts: &[TemplatePart],
    scope: &Scope<'_>,
    out: &mut String,
    sensitive: &mut bool,
) -> Result<bool, EvalError> {
    for p in parts {
        match p {
            TemplatePart::Literal { value, .. } => out.push_str(value),
            TemplatePart::Interpolation { expr, .. } => {
                let v = eval(expr, scope)?;
                *sensitive |= v.is_sensitive();
                match v.unmarked() {
                    Val::Unknown => return Ok(false),
                    Val::Null => {
                        return err(
                            expr.span,
                            "a null value cannot be interpolated into a string",
                        );
                    }
                    x => match to_str(x) {
                        Some(s) => out.push_str(&s),
                        None => {
                            return err(
                                expr.span,
                                format!("a {} cannot be interpolated into a string", x.kind_name()),
                            );
                        }
                    },
                }
            }
            TemplatePart::If(i) => {
                let TemplateIf {
                    condition,
                    then,
                    otherwise,
                    ..
                } = &**i;
                let c = eval(condition, scope)?;
                *sensitive |= c.is_sensitive();
                match c.unmarked() {
                    Val::Unknown => return Ok(false),
                    x => {
                        if boolean(x, condition.span)? {
                            if !render_parts(then, scope, out, sensitive)? {
                                return Ok(false);
                            }
                        } else if let Some(o) = otherwise
                            && !render_parts(o, scope, out, sensitive)?
                        {
                            return Ok(false);
                        }
                    }
                }
            }
            TemplatePart::For(f) => {
                let TemplateFor {
                    key_var,
                    value_var,
                    collection,
                    body,
                    ..
                } = &**f;
                let c = eval(collection, scope)?;
                *sensitive |= c.is_sensitive();
                let Some(items) = iterate(&c, collection.span)? else {
                    return Ok(false);
                };
                for (k, v) in items {
                    let mut inner = scope.child();
                    if let Some(kv) = key_var {
                        inner.bound.push((kv.name.clone(), k));
                    }
                    inner.bound.push((value_var.name.clone(), v));
                    if !render_parts(body, &inner, out, sensitive)? {
                        return Ok(false);
                    }
                }
            }
        }
    }
    Ok(true)
}

/// The (key, value) pairs of a collection; None when unknown.
fn iterate(v: &Val, span: Span) -> Result<Option<Vec<(Val, Val)>>, EvalError> {
    let sensitive = v.is_sensitive();
    match v.unmarked() {
        Val::Unknown => Ok(None),
        Val::List(items) => Ok(Some(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| (Val::Number(i as f64), mark(x.clone(), sensitive)))
                .collect(),
        )),
        Val::Map(m) => Ok(Some(
            m.iter()
                .map(|(k, x)| (Val::String(k.clone()), mark(x.clone(), sensitive)))
                .collect(),
        )),
        Val::Null => err(span, "cannot iterate over null"),
        other => err(span, format!("cannot iterate over a {}", other.kind_name())),
    }
}

fn for_expr(f: &ForExpr, span: Span, scope: &Scope<'_>) -> Result<Val, EvalError> {
    let c = eval(&f.collection, scope)?;
    let sensitive = c.is_sensitive();
    let Some(items) = iterate(&c, f.collection.span)? else {
        return Ok(Val::Unknown);
    };
    let mut list = Vec::new();
    let mut map: BTreeMap<String, Val> = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<Val>> = BTreeMap::new();
    for (k, v) in items {
        let mut inner = scope.child();
        if let Some(kv) = &f.key_var {
            inner.bound.push((kv.name.clone(), k));
        }
        inner.bound.push((f.value_var.name.clone(), v));
        if let Some(cond) = &f.condition {
            let c = eval(cond, &inner)?;
            match c.unmarked() {
                Val::Unknown => return Ok(Val::Unknown),
                x => {
                    if !boolean(x, cond.span)? {
                        continue;
                    }
                }
            }
        }
        let value = eval(&f.value_expr, &inner)?;
        if f.is_object {
            let Some(key_expr) = &f.key_expr else {
                return err(span, "an object `for` expression needs `key => value`");
            };
            let key = eval(key_expr, &inner)?;
            if matches!(key.unmarked(), Val::Unknown) {
                return Ok(Val::Unknown);
            }
            let Some(key) = to_str(&key) else {
                return err(
                    key_expr.span,
                    format!("an object key must be a string, not {}", key.kind_name()),
                );
            };
            if f.grouping {
                groups.entry(key).or_default().push(value);
            } else if map.insert(key.clone(), value).is_some() {
                return err(
                    key_expr.span,
                    format!(
                        "duplicate key \"{key}\" in a `for` expression; add `...` after the value to group values by key"
                    ),
                );
            }
        } else {
            list.push(value);
        }
    }
    let out = if f.is_object {
        if f.grouping {
            Val::Map(groups.into_iter().map(|(k, v)| (k, Val::List(v))).collect())
        } else {
            Val::Map(map)
        }
    } else {
        Val::List(list)
    };
    Ok(mark(out, sensitive))
}

fn binary(op: BinaryOp, lhs: &Expr, rhs: &Expr, scope: &Scope<'_>) -> Result<Val, EvalError> {
    let l = eval(lhs, scope)?;
    // Short-circuit like HCL's logical operators on known values.
    if let Val::Bool(b) = l.unmarked()
        && ((op == BinaryOp::And && !b) || (op == BinaryOp::Or && *b))
    {
        return Ok(l);
    }
    let r = eval(rhs, scope)?;
    let sensitive = l.is_sensitive() || r.is_sensitive();
    let (lu, ru) = (l.unmarked(), r.unmarked());
    if matches!(lu, Val::Unknown) || matches!(ru, Val::Unknown) {
        return Ok(mark(Val::Unknown, sensitive));
    }
    let v = match op {
        BinaryOp::Eq => Val::Bool(equal(lu, ru)),
        BinaryOp::Ne => Val::Bool(!equal(lu, ru)),
        BinaryOp::And => Val::Bool(boolean(lu, lhs.span)? && boolean(ru, rhs.span)?),
        BinaryOp::Or => Val::Bool(boolean(lu, lhs.span)? || boolean(ru, rhs.span)?),
        BinaryOp::Gt => Val::Bool(num(lu, lhs.span)? > num(ru, rhs.span)?),
        BinaryOp::Ge => Val::Bool(num(lu, lhs.span)? >= num(ru, rhs.span)?),
        BinaryOp::Lt => Val::Bool(num(lu, lhs.span)? < num(ru, rhs.span)?),
        BinaryOp::Le => Val::Bool(num(lu, lhs.span)? <= num(ru, rhs.span)?),
        BinaryOp::Add => Val::Number(num(lu, lhs.span)? + num(ru, rhs.span)?),
        BinaryOp::Sub => Val::Number(num(lu, lhs.span)? - num(ru, rhs.span)?),
        BinaryOp::Mul => Val::Number(num(lu, lhs.span)? * num(ru, rhs.span)?),
        BinaryOp::Div => {
            let d = num(ru, rhs.span)?;
            if d == 0.0 {
                return err(rhs.span, "division by zero");
            }
            Val::Number(num(lu, lhs.span)? / d)
        }
        BinaryOp::Mod => {
            let d = num(ru, rhs.span)?;
            if d == 0.0 {
                return err(rhs.span, "modulo by zero");
            }
            Val::Number(num(lu, lhs.span)? % d)
        }
    };
    Ok(mark(v, sensitive))
}

/// Deep equality, ignoring sensitive marks (numbers compare numerically).
pub fn equal(a: &Val, b: &Val) -> bool {
    match (a.unmarked(), b.unmarked()) {
        (Val::List(x), Val::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Val::Map(x), Val::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && equal(va, vb))
        }
        (x, y) => x == y,
    }
}

fn reference(expr: &Expr, scope: &Scope<'_>) -> Result<Val, EvalError> {
    let Some((root, root_span, steps)) = traversal(expr) else {
        // The base is not a name: `(expr).attr`, `f(x)[0]`.
        return match &expr.kind {
            ExprKind::GetAttr { object, name } => {
                let base = eval(object, scope)?;
                apply_steps(base, &[Step::Attr(&name.name, name.span)], scope)
            }
            ExprKind::Index { collection, key } => {
                let base = eval(collection, scope)?;
                apply_steps(base, &[Step::Index(key)], scope)
            }
            ExprKind::LegacyIndex {
                collection,
                index,
                index_span,
            } => {
                let base = eval(collection, scope)?;
                apply_steps(base, &[Step::Legacy(index, *index_span)], scope)
            }
            ExprKind::Splat { collection, .. } => {
                let base = eval(collection, scope)?;
                apply_steps(base, &[Step::Splat], scope)
            }
            _ => err(expr.span, "not a reference"),
        };
    };
    if let Some(v) = scope.bound(root) {
        return apply_steps(v.clone(), &steps, scope);
    }
    let (base, rest): (Val, &[Step<'_>]) = match root {
        "self" => match &scope.self_val {
            Some(v) => (v.clone(), &steps),
            None => {
                return err(
                    root_span,
                    "`self` is only available inside `wait_for` and adapters",
                );
            }
        },
        "each" => {
            let Some((k, v)) = &scope.each else {
                return err(
                    root_span,
                    "`each` is only available in a block with `for_each`",
                );
            };
            match steps.first() {
                Some(Step::Attr("key", _)) => (k.clone(), steps.get(1..).unwrap_or(&[])),
                Some(Step::Attr("value", _)) => (v.clone(), steps.get(1..).unwrap_or(&[])),
                _ => return err(root_span, "use `each.key` or `each.value`"),
            }
        }
        "count" => {
            let Some(i) = &scope.count_index else {
                return err(
                    root_span,
                    "`count` is only available in a block with `count`",
                );
            };
            match steps.first() {
                Some(Step::Attr("index", _)) => (i.clone(), steps.get(1..).unwrap_or(&[])),
                _ => return err(root_span, "use `count.index`"),
            }
        }
        _ => {
            let Some(n) = key_len(root, scope.servers) else {
                return err(root_span, format!("unknown name `{root}`"));
            };
            let mut key = root.to_string();
            for i in 0..n {
                match steps.get(i) {
                    Some(Step::Attr(a, _)) => {
                        key.push('.');
                        key.push_str(a);
                    }
                    _ => return err(expr.span, format!("`{key}` is not a complete reference")),
                }
            }
            let full = format!("{}{key}", scope.prefix);
            let value = scope.lookup.get(&full).unwrap_or(Val::Unknown);
            (value, steps.get(n..).unwrap_or(&[]))
        }
    };
    apply_steps(base, rest, scope)
}

fn apply_steps(mut cur: Val, steps: &[Step<'_>], scope: &Scope<'_>) -> Result<Val, EvalError> {
    for (i, step) in steps.iter().enumerate() {
        let sensitive = cur.is_sensitive();
        if matches!(cur.unmarked(), Val::Unknown) {
            // Index expressions must still be valid, but the result is unknown.
            return Ok(mark(Val::Unknown, sensitive));
        }
        cur = match step {
            Step::Attr(name, s) => match cur.unmarked() {
                Val::Map(m) => match m.get(*name) {
                    Some(v) => mark(v.clone(), sensitive),
                    None => return err(*s, format!("there is no attribute `{name}` here")),
                },
                Val::Null => return err(*s, format!("cannot read `{name}` of null")),
                other => {
                    return err(
                        *s,
                        format!("cannot read `{name}` of a {}", other.kind_name()),
                    );
                }
            },
            Step::Index(key) => {
                let k = eval(key, scope)?;
                index(&cur, &k, key.span)?
            }
            Step::Legacy(text, s) => {
                let n = parse_number(text).unwrap_or(0.0);
                index(&cur, &Val::Number(n), *s)?
            }
            Step::Splat => {
                let rest = steps.get(i + 1..).unwrap_or(&[]);
                let items = match cur.unmarked() {
                    Val::List(items) => items.clone(),
                    Val::Null => Vec::new(),
                    other => vec![other.clone()],
                };
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(apply_steps(item, rest, scope)?);
                }
                return Ok(mark(Val::List(out), sensitive));
            }
        };
    }
    Ok(cur)
}

fn index(cur: &Val, key: &Val, span: Span) -> Result<Val, EvalError> {
    let sensitive = cur.is_sensitive() || key.is_sensitive();
    if matches!(key.unmarked(), Val::Unknown) {
        return Ok(mark(Val::Unknown, sensitive));
    }
    let v = match cur.unmarked() {
        Val::List(items) => {
            let n = num(key, span)?;
            if n < 0.0 || n.fract() != 0.0 {
                return err(
                    span,
                    format!("index {} is not a whole number from 0", key.display()),
                );
            }
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked whole and non-negative"
            )]
            let i = n as usize;
            match items.get(i) {
                Some(v) => v.clone(),
                None => {
                    return err(
                        span,
                        format!(
                            "index {i} is out of range: the list has {} element(s)",
                            items.len()
                        ),
                    );
                }
            }
        }
        Val::Map(m) => {
            let Some(k) = to_str(key) else {
                return err(
                    span,
                    format!("a map key must be a string, not {}", key.kind_name()),
                );
            };
            match m.get(&k) {
                Some(v) => v.clone(),
                None => return err(span, format!("there is no key \"{k}\" here")),
            }
        }
        other => return err(span, format!("a {} cannot be indexed", other.kind_name())),
    };
    Ok(mark(v, sensitive))
}

fn function_call(
    expr: &Expr,
    call: &mcpo_syntax::ast::FunctionCall,
    scope: &Scope<'_>,
) -> Result<Val, EvalError> {
    let name = call.name.name.as_str();
    if let [server] = call.namespace.as_slice() {
        return tool_call(expr, &server.name, name, call, scope);
    }
    if !call.namespace.is_empty() {
        return err(expr.span, "a tool call is written `server::tool({...})`");
    }
    match name {
        "try" => {
            let mut last = None;
            for a in &call.args {
                match eval(a, scope) {
                    Ok(v) => return Ok(v),
                    Err(e) => last = Some(e),
                }
            }
            return Err(last.unwrap_or(EvalError {
                message: "try needs at least one argument".into(),
                span: expr.span,
            }));
        }
        "can" => {
            let [a] = call.args.as_slice() else {
                return err(expr.span, "can takes exactly one argument");
            };
            return Ok(match eval(a, scope) {
                Ok(v) if !v.is_known() => Val::Unknown,
                Ok(_) => Val::Bool(true),
                Err(_) => Val::Bool(false),
            });
        }
        _ => {}
    }
    let mut args = Vec::with_capacity(call.args.len());
    for a in &call.args {
        args.push(eval(a, scope)?);
    }
    if call.expand_final
        && let Some(last) = args.pop()
    {
        match last.unmarked() {
            Val::List(items) => args.extend(items.iter().cloned()),
            Val::Unknown => return Ok(Val::Unknown),
            other => {
                return err(
                    expr.span,
                    format!("`...` expands a list, not a {}", other.kind_name()),
                );
            }
        }
    }
    if let Some(f) = scope.functions.get(name) {
        return user_call(expr, name, f, args, scope);
    }
    if scope.impure_unknown && functions::impure(name) {
        return Ok(Val::Unknown);
    }
    if name == "templatefile" {
        return templatefile(expr, args, scope);
    }
    if name == "env"
        && scope.unset_env_unknown
        && let [var] = args.as_slice()
        && let Some(var) = to_str(var)
        && scope.io.env(&var).is_none()
    {
        return Ok(Val::Unknown);
    }
    functions::call(name, args, scope.io).map_err(|message| EvalError {
        message,
        span: expr.span,
    })
}

fn user_call(
    expr: &Expr,
    name: &str,
    f: &UserFn,
    args: Vec<Val>,
    scope: &Scope<'_>,
) -> Result<Val, EvalError> {
    if scope.depth >= 64 {
        return err(
            expr.span,
            format!("`{name}` calls itself more than 64 levels deep"),
        );
    }
    if args.len() != f.params.len() {
        return err(
            expr.span,
            format!(
                "`{name}` takes {} argument(s), {} given",
                f.params.len(),
                args.len()
            ),
        );
    }
    let mut inner = Scope::new(scope.lookup, scope.servers, scope.functions, scope.io);
    inner.depth = scope.depth + 1;
    inner.impure_unknown = scope.impure_unknown;
    inner.unset_env_unknown = scope.unset_env_unknown;
    inner.bound = f.params.iter().cloned().zip(args).collect();
    eval(&f.result, &inner).map_err(|e| EvalError {
        message: format!("in function `{name}`: {}", e.message),
        span: expr.span,
    })
}

fn templatefile(expr: &Expr, args: Vec<Val>, scope: &Scope<'_>) -> Result<Val, EvalError> {
    let [path, vars] = args.as_slice() else {
        return err(
            expr.span,
            "templatefile takes a path and an object of variables",
        );
    };
    if !path.is_known() || !vars.is_known() {
        return Ok(Val::Unknown);
    }
    let Some(path) = to_str(path) else {
        return err(expr.span, "templatefile's path must be a string");
    };
    let text = scope.io.read_file(&path).map_err(|e| EvalError {
        message: format!("templatefile: {e}"),
        span: expr.span,
    })?;
    // The file is a template: parse it as the body of a heredoc whose end marker cannot
    // occur in it.
    let mut marker = String::from("MCPO_TEMPLATE_END");
    while text.contains(&marker) {
        marker.push('X');
    }
    let src = format!("t = <<{marker}\n{text}\n{marker}\n");
    let parsed = mcpo_syntax::parse(&src, mcpo_diagnostics::FileId(0));
    if let Some(d) = parsed.diagnostics.first() {
        return err(
            expr.span,
            format!(
                "templatefile: {path} is not a valid template: {}",
                d.message
            ),
        );
    }
    let Some(mcpo_syntax::ast::BodyItem::Attribute(a)) = parsed.file.body.items.first() else {
        return err(
            expr.span,
            format!("templatefile: {path} is not a valid template"),
        );
    };
    let mut inner = Scope::new(scope.lookup, scope.servers, scope.functions, scope.io);
    inner.impure_unknown = scope.impure_unknown;
    inner.unset_env_unknown = scope.unset_env_unknown;
    if let Val::Map(m) = vars.unmarked() {
        inner.bound = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    let v = eval(&a.value, &inner)?;
    // The heredoc adds the final newline before the marker; the file had none there.
    Ok(match v {
        Val::String(mut s) if !text.ends_with('\n') && s.ends_with('\n') => {
            s.pop();
            Val::String(s)
        }
        other => other,
    })
}

fn tool_call(
    expr: &Expr,
    server: &str,
    tool: &str,
    call: &mcpo_syntax::ast::FunctionCall,
    scope: &Scope<'_>,
) -> Result<Val, EvalError> {
    let arg = match call.args.as_slice() {
        [] => Val::Map(BTreeMap::new()),
        [a] => eval(a, scope)?,
        _ => return err(expr.span, "a tool call takes one object of arguments"),
    };
    let Some(caller) = scope.tools else {
        return Ok(Val::Unknown);
    };
    let Some(json) = arg.to_json() else {
        return Ok(Val::Unknown);
    };
    caller
        .call(server, tool, json)
        .map(|v| Val::from_json(&v))
        .map_err(|message| EvalError {
            message: format!("{server}::{tool}: {message}"),
            span: expr.span,
        })
}
