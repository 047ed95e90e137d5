//! Adapters: resource types that an `adapter` block maps onto the tools a server really
//! has, as a [`Driver`].
//!
//! Each operation (`create`, `read`, `update`, `delete`, `list`) is an expression that
//! makes one tool call, `server::tool({...})`, evaluated with `self` (the resource's inputs
//! plus `id`); the call may be on any server of the workspace. What a result means is the
//! adapter's to say, because real servers report failure in the body, return ids in odd
//! places and describe their results poorly:
//!
//! - `failed_when`: judged on every result (else the default of the called server's
//!   `server` block); true makes the call a failure;
//! - `gone_when`: judged on a read's result, and on the text of a read's tool error
//!   (`isError`); true means the resource does not exist (an empty list, a 404 in the
//!   body, `ENOENT`), so deletions outside mcpo are seen;
//! - `id`: evaluated on the create result (`result` and `self`);
//! - `outputs`: an object of expressions evaluated on read results; an adapter with a
//!   `read` reads the resource after each create and update (as Terraform providers do:
//!   a write's result often says little), one without evaluates them on the create
//!   result (after an update, each output the update's result cannot give keeps its value);
//! - `items`: a list result's items as objects with an `id` (default: the result when it
//!   is a list, else its `items`);
//! - `forget_on_delete = true`: without a `delete`, removing the resource forgets it
//!   (it stays on its server); without either, destroying it is refused;
//! - `health` and `healthy_when`: the health check `mcpoc watch` runs, a call (by
//!   default the `read`) and a condition on its result; either one declares it.
//!
//! A missing operation has one meaning: no `read`, no drift detection (the plan says so);
//! no `update`, every change replaces; no `list`, an interrupted create is looked up through
//! `read` by the id its inputs give (`id` reading only `self`), else not at all.
//! An update changes in place exactly the inputs its expression reads (`self.<input>`;
//! `self` as a whole reads all of them); a change to any other input replaces.

use super::{Call, DataQuery, Driver, Health, Op, Reading, ResultError, Target, id_of};
use crate::eval::{self, Scope, ToolCaller, UserFn};
use crate::{Io, Val};
use mcpo_schema::Ty;
use mcpo_syntax::ast::{Block, BodyItem, Expr, ExprKind};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

pub use mcpo_sema::ADAPTER_ATTRS;

/// The operation attributes of an `adapter` block, with their operations.
pub const ADAPTER_OPS: &[(&str, Op)] = &[
    ("create", Op::Create),
    ("read", Op::Read),
    ("update", Op::Update),
    ("delete", Op::Delete),
    ("list", Op::List),
];

/// What an adapter's expressions may use besides `self` and `result`: the workspace's
/// functions, and the default `failed_when` of each server (its `server` block's).
#[derive(Clone, Default)]
pub struct AdapterEnv {
    /// User functions (`function` blocks).
    pub functions: Arc<BTreeMap<String, UserFn>>,
    /// Each server's default `failed_when`.
    pub failed_when: Arc<BTreeMap<String, Expr>>,
}

impl fmt::Debug for AdapterEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterEnv")
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .field("failed_when", &self.failed_when.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A resource type defined by an `adapter` block.
#[derive(Clone)]
pub struct Adapter {
    server: String,
    type_name: String,
    ops: BTreeMap<Op, Expr>,
    failed_when: Option<Expr>,
    gone_when: Option<Expr>,
    id: Option<Expr>,
    outputs: Vec<(String, Expr)>,
    items: Option<Expr>,
    forget: bool,
    /// The health check's call (`None`: the `read`, when `healthy_when` is declared).
    health: Option<Expr>,
    /// The health check's condition on the call's result.
    healthy_when: Option<Expr>,
    /// The inputs the type takes (`None`: its `inputs` is not an object type).
    inputs: Option<BTreeSet<String>>,
    /// What the update can change (`None`: no update).
    update_attrs: Option<UpdateAttrs>,
    /// The types of what references read: inputs, outputs and `id`.
    output_types: BTreeMap<String, Ty>,
    env: AdapterEnv,
    /// For an adapter a `use` imports: the package's server names its tool calls use,
    /// mapped to the workspace's (only those the `use` renames).
    servers: BTreeMap<String, String>,
}

/// The inputs an update can change.
#[derive(Debug, Clone)]
enum UpdateAttrs {
    /// `self` is used as a whole.
    All,
    /// These inputs (`self.<name>`).
    Some(BTreeSet<String>),
}

impl fmt::Debug for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adapter")
            .field("server", &self.server)
            .field("type_name", &self.type_name)
            .field("ops", &self.ops.keys().collect::<Vec<_>>())
            .field("forget", &self.forget)
            .finish()
    }
}

/// No files, no environment, no clock: an adapter's expressions see `self` and `result`.
struct NoIo;

impl Io for NoIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        Err(format!(
            "an adapter cannot read files (`{path}`): pass the content as an input"
        ))
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        self.read_file(path).map(String::into_bytes)
    }
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
    fn now_rfc3339(&self) -> String {
        String::new()
    }
}

/// Records the tool calls an operation's expression makes instead of making them.
#[derive(Default)]
struct Capture(RefCell<Vec<Call>>);

impl ToolCaller for Capture {
    fn call(&self, server: &str, tool: &str, args: Value) -> Result<Value, String> {
        self.0.borrow_mut().push(Call {
            server: server.to_string(),
            tool: tool.to_string(),
            args,
        });
        Ok(Value::Null)
    }
}

fn attr<'a>(block: &'a Block, name: &str) -> Option<&'a Expr> {
    block.body.items.iter().find_map(|i| match i {
        BodyItem::Attribute(a) if a.name.name == name => Some(&a.value),
        _ => None,
    })
}

/// The names of the object type's attributes.
fn attr_names(ty: &Ty) -> Option<BTreeSet<String>> {
    match ty.strip_sensitive() {
        Ty::Object(o) => Some(o.attrs.keys().cloned().collect()),
        _ => None,
    }
}

/// The inputs `expr` reads through `self.<name>`; `None` when it uses `self` otherwise
/// (as a whole, or indexed by an expression).
fn self_reads(expr: &Expr) -> Option<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let mut whole = false;
    let mut parts: BTreeSet<*const Expr> = BTreeSet::new();
    mcpo_sema::walk(expr, &mut |e| {
        if let ExprKind::GetAttr { object, name } = &e.kind
            && matches!(&object.kind, ExprKind::Variable(v) if v.name == "self")
        {
            names.insert(name.name.clone());
            parts.insert(std::ptr::from_ref::<Expr>(object));
        }
    });
    mcpo_sema::walk(expr, &mut |e| {
        if matches!(&e.kind, ExprKind::Variable(v) if v.name == "self")
            && !parts.contains(&std::ptr::from_ref::<Expr>(e))
        {
            whole = true;
        }
    });
    (!whole).then_some(names)
}

/// The servers whose tools `expr` calls.
pub fn called_servers(expr: &Expr) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    mcpo_sema::walk(expr, &mut |e| {
        if let ExprKind::FunctionCall(c) = &e.kind
            && let [server] = c.namespace.as_slice()
        {
            out.insert(server.name.clone());
        }
    });
    out
}

/// A result shortened for a message.
pub fn brief(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out: String = text.chars().take(300).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

impl Adapter {
    /// The adapter an `adapter "<server>" "<type>"` block defines. `inputs` and `outputs`
    /// are its types as the checker inferred them (`mcpo_sema::adapter_type`), when known.
    pub fn from_block(
        server: &str,
        type_name: &str,
        block: &Block,
        types: Option<&(Ty, Ty)>,
        env: AdapterEnv,
    ) -> Adapter {
        let ops: BTreeMap<Op, Expr> = ADAPTER_OPS
            .iter()
            .filter_map(|(name, op)| attr(block, name).map(|e| (*op, e.clone())))
            .collect();
        let outputs = match attr(block, "outputs").map(|e| &e.kind) {
            Some(ExprKind::Object(items)) => items
                .iter()
                .filter_map(|i| mcpo_sema::types::object_key(&i.key).map(|k| (k, i.value.clone())))
                .collect(),
            _ => Vec::new(),
        };
        let update_attrs = ops.get(&Op::Update).map(|u| match self_reads(u) {
            Some(names) => UpdateAttrs::Some(names),
            None => UpdateAttrs::All,
        });
        let mut output_types = BTreeMap::new();
        if let Some((input, output)) = types {
            for t in [input, output] {
                if let Ty::Object(o) = t.strip_sensitive() {
                    for (k, a) in &o.attrs {
                        output_types.insert(k.clone(), a.ty.clone());
                    }
                }
            }
        }
        output_types.insert("id".into(), Ty::String);
        Adapter {
            server: server.to_string(),
            type_name: type_name.to_string(),
            ops,
            failed_when: attr(block, "failed_when").cloned(),
            gone_when: attr(block, "gone_when").cloned(),
            id: attr(block, "id").cloned(),
            outputs,
            items: attr(block, "items").cloned(),
            forget: matches!(
                attr(block, "forget_on_delete").map(|e| &e.kind),
                Some(ExprKind::Bool(true))
            ),
            health: attr(block, "health").cloned(),
            healthy_when: attr(block, "healthy_when").cloned(),
            inputs: types.and_then(|(i, _)| attr_names(i)),
            update_attrs,
            output_types,
            env,
            servers: BTreeMap::new(),
        }
    }

    /// The same adapter with its tool calls' servers renamed: `servers` maps the names
    /// its block uses (a package's) to the workspace's.
    #[must_use]
    pub fn with_servers(mut self, servers: BTreeMap<String, String>) -> Adapter {
        self.servers = servers;
        self
    }

    /// The call of the health check: `health`, else the `read` when `healthy_when` is
    /// declared; `None` without either.
    fn health_expr(&self) -> Option<&Expr> {
        self.health.as_ref().or_else(|| {
            self.healthy_when
                .as_ref()
                .and_then(|_| self.ops.get(&Op::Read))
        })
    }

    /// The workspace's name of server `name` as the adapter's block writes it.
    fn server_name<'s>(&'s self, name: &'s str) -> &'s str {
        self.servers.get(name).map_or(name, String::as_str)
    }

    fn what(&self) -> String {
        format!("adapter `{}.{}`", self.server, self.type_name)
    }

    /// `self`: the inputs (absent optional inputs as `null`) plus `id` when known.
    fn self_val(&self, target: &Target<'_>) -> Val {
        let mut m = match Val::from_json(target.inputs) {
            Val::Map(m) => m,
            _ => BTreeMap::new(),
        };
        for name in self.inputs.iter().flatten() {
            m.entry(name.clone()).or_insert(Val::Null);
        }
        if let Some(id) = target.id {
            m.insert("id".into(), Val::String(id.to_string()));
        }
        Val::Map(m)
    }

    /// Evaluates `expr` with `self` and (when given) `result`; tool calls are captured.
    fn eval(
        &self,
        expr: &Expr,
        self_val: &Val,
        result: Option<&Val>,
        capture: Option<&dyn ToolCaller>,
    ) -> Result<Val, String> {
        let lookup: BTreeMap<String, Val> = BTreeMap::new();
        let servers = BTreeSet::new();
        let mut scope = Scope::new(&lookup, &servers, &self.env.functions, &NoIo);
        scope.self_val = Some(self_val.clone());
        scope.impure_unknown = true;
        scope.tools = capture;
        if let Some(r) = result {
            scope.bound.push(("result".into(), r.clone()));
        }
        eval::eval(expr, &scope).map_err(|e| e.message)
    }

    /// Whether a result says the call failed: the adapter's `failed_when`, else the
    /// default of the server the operation calls.
    fn judge(&self, op: Op, self_val: &Val, result: &Value) -> Result<(), ResultError> {
        self.judge_call(self.ops.get(&op), self_val, result)
    }

    /// [`Adapter::judge`] for the result of the call `call` makes.
    fn judge_call(
        &self,
        call: Option<&Expr>,
        self_val: &Val,
        result: &Value,
    ) -> Result<(), ResultError> {
        let default;
        let cond = match &self.failed_when {
            Some(c) => c,
            None => {
                let servers = call.map(called_servers).unwrap_or_default();
                let mut defaults = servers
                    .iter()
                    .filter_map(|s| self.env.failed_when.get(self.server_name(s)));
                match (defaults.next(), defaults.next()) {
                    (Some(d), None) => {
                        default = d.clone();
                        &default
                    }
                    _ => return Ok(()),
                }
            }
        };
        failed_when(cond, result, |e, r| self.eval(e, self_val, Some(r), None))
            .map_err(|m| ResultError::Unusable(format!("{}: `failed_when`: {m}", self.what())))?
            .map_or(Ok(()), |why| Err(ResultError::Failed(why)))
    }

    /// The outputs evaluated on `result`, over `base` (the inputs, and for an update the
    /// outputs recorded before: an output the update's result cannot give keeps them).
    fn outputs_of(
        &self,
        op: Op,
        self_val: &Val,
        result: &Val,
        base: Map<String, Value>,
    ) -> Result<Map<String, Value>, ResultError> {
        let mut out = base;
        if op != Op::Read && self.reads_after_write() {
            // The read that follows gives the outputs (a write's result often says little).
            return Ok(out);
        }
        for (name, expr) in &self.outputs {
            match self.eval(expr, self_val, Some(result), None) {
                Ok(v) => {
                    out.insert(name.clone(), v.to_json().unwrap_or(Value::Null));
                }
                Err(_) if op == Op::Update => {}
                Err(m) => {
                    return Err(ResultError::Unusable(format!(
                        "{}: output `{name}` cannot be evaluated on the {op} result: {m}",
                        self.what()
                    )));
                }
            }
        }
        Ok(out)
    }

    /// The items of a list result, each with its id.
    fn items_of(&self, result: &Value) -> Result<Vec<(String, Value)>, ResultError> {
        let items = match &self.items {
            Some(expr) => {
                let v = self
                    .eval(
                        expr,
                        &Val::Map(BTreeMap::new()),
                        Some(&Val::from_json(result)),
                        None,
                    )
                    .map_err(|m| ResultError::Unusable(format!("{}: `items`: {m}", self.what())))?;
                v.to_json().unwrap_or(Value::Null)
            }
            None => match result {
                Value::Array(_) => result.clone(),
                other => other.get("items").cloned().unwrap_or(Value::Null),
            },
        };
        let Value::Array(items) = items else {
            return Err(ResultError::Unusable(format!(
                "{}: the list result has no list of items (say where they are with `items`)",
                self.what()
            )));
        };
        Ok(items
            .into_iter()
            .filter_map(|item| id_of(&item).map(|id| (id, item)))
            .collect())
    }

    /// The id a create result gives: the adapter's `id`, else the result's `id`.
    fn created_id(&self, self_val: &Val, result: &Value) -> Result<String, ResultError> {
        let unusable = |m: String| ResultError::Unusable(format!("{}: {m}", self.what()));
        let Some(expr) = &self.id else {
            return id_of(result).ok_or_else(|| {
                unusable("the create result has no `id`; say where it is with `id = ...`".into())
            });
        };
        let v = self
            .eval(expr, self_val, Some(&Val::from_json(result)), None)
            .map_err(|m| unusable(format!("`id`: {m}")))?;
        match v.unmarked() {
            Val::String(s) if !s.is_empty() => Ok(s.clone()),
            Val::Number(_) => Ok(eval::to_str(&v).unwrap_or_default()),
            other => Err(unusable(format!(
                "`id` is {} on the create result, not a string",
                other.kind_name()
            ))),
        }
    }
}

/// A tool error's text as `result` sees it: parsed when it is JSON, else the text.
fn error_value(message: &str) -> Value {
    serde_json::from_str(message.trim()).unwrap_or_else(|_| Value::String(message.to_string()))
}

/// Judges a result against a `failed_when` condition; `Ok(Some(why))` when it says the
/// call failed. `eval` evaluates the condition with `result` bound.
pub fn failed_when(
    cond: &Expr,
    result: &Value,
    eval: impl Fn(&Expr, &Val) -> Result<Val, String>,
) -> Result<Option<String>, String> {
    let v = eval(cond, &Val::from_json(result))?;
    match v.unmarked() {
        Val::Bool(true) => Ok(Some(format!(
            "`failed_when` is true for the result: {}",
            brief(result)
        ))),
        Val::Bool(false) | Val::Null => Ok(None),
        other => Err(format!(
            "the condition is {}, not a bool",
            other.kind_name()
        )),
    }
}

/// The one tool call that evaluating an expression makes (with `eval`, given a tool caller
/// that records calls instead of making them). `what` names the expression for messages.
pub(crate) fn one_call(
    what: &str,
    eval: impl FnOnce(&dyn ToolCaller) -> Result<Val, String>,
) -> Result<Call, String> {
    let capture = Capture::default();
    eval(&capture).map_err(|m| format!("{what}: {m}"))?;
    let mut calls = capture.0.into_inner();
    match (calls.pop(), calls.is_empty()) {
        (Some(call), true) => Ok(call),
        (None, _) => Err(format!(
            "{what} made no tool call (its arguments are not all known)"
        )),
        (Some(_), false) => Err(format!(
            "{what} makes {} tool calls; it must make exactly one",
            calls.len() + 1
        )),
    }
}

impl Driver for Adapter {
    fn call(&self, op: Op, target: &Target<'_>) -> Result<Option<Call>, String> {
        let Some(expr) = self.ops.get(&op) else {
            return Ok(None);
        };
        let self_val = self.self_val(target);
        one_call(&format!("{}: `{op}`", self.what()), |tools| {
            self.eval(expr, &self_val, None, Some(tools))
        })
        .map(|mut call| {
            call.server = self.server_name(&call.server).to_string();
            Some(call)
        })
    }

    fn read_result(
        &self,
        op: Op,
        target: &Target<'_>,
        result: Value,
    ) -> Result<Reading, ResultError> {
        let mut self_val = self.self_val(target);
        self.judge(op, &self_val, &result)?;
        let inputs = target.inputs.as_object().cloned().unwrap_or_default();
        match op {
            Op::Create => {
                let id = self.created_id(&self_val, &result)?;
                if let Val::Map(m) = &mut self_val {
                    m.insert("id".into(), Val::String(id.clone()));
                }
                let mut outputs =
                    self.outputs_of(op, &self_val, &Val::from_json(&result), inputs)?;
                outputs.insert("id".into(), Value::String(id.clone()));
                Ok(Reading::Resource {
                    id,
                    outputs: Value::Object(outputs),
                })
            }
            Op::Read | Op::Update => {
                let r = Val::from_json(&result);
                if op == Op::Read
                    && let Some(g) = &self.gone_when
                {
                    let gone = self.eval(g, &self_val, Some(&r), None).map_err(|m| {
                        ResultError::Unusable(format!("{}: `gone_when`: {m}", self.what()))
                    })?;
                    if matches!(gone.unmarked(), Val::Bool(true)) {
                        return Ok(Reading::Gone);
                    }
                }
                let Some(id) = target.id.map(str::to_string) else {
                    return Err(ResultError::Unusable(format!(
                        "{}: a {op} needs the resource's id",
                        self.what()
                    )));
                };
                let mut base = inputs;
                if op == Op::Update
                    && let Some(Value::Object(before)) = target.outputs
                {
                    for (k, v) in before {
                        base.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                    // The new inputs win over what was recorded before.
                    for (k, v) in target.inputs.as_object().into_iter().flatten() {
                        base.insert(k.clone(), v.clone());
                    }
                }
                let mut outputs = self.outputs_of(op, &self_val, &r, base)?;
                outputs.insert("id".into(), Value::String(id.clone()));
                Ok(Reading::Resource {
                    id,
                    outputs: Value::Object(outputs),
                })
            }
            Op::Delete => Ok(Reading::Done),
            Op::List => Ok(Reading::Items(self.items_of(&result)?)),
        }
    }

    fn update_attrs(&self, inputs: &BTreeSet<String>) -> Option<BTreeSet<String>> {
        match self.update_attrs.as_ref()? {
            UpdateAttrs::All => Some(inputs.clone()),
            UpdateAttrs::Some(names) => Some(names.clone()),
        }
    }

    fn input_attrs(&self) -> Option<BTreeSet<String>> {
        self.inputs.clone()
    }

    fn data_query(&self, args: &Value) -> Result<Option<DataQuery>, String> {
        let obj = args.as_object().cloned().unwrap_or_default();
        let id = obj.get("id").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        if self.ops.contains_key(&Op::Read) {
            let target = Target {
                inputs: args,
                id: id.as_deref(),
                outputs: None,
            };
            return Ok(self.call(Op::Read, &target)?.map(DataQuery::Call));
        }
        let Some(call) = self.call(Op::List, &Target::new(args))? else {
            return Ok(None);
        };
        Ok(Some(DataQuery::Filter {
            call,
            filter: obj,
            what: format!("{}.{}", self.server, self.type_name),
        }))
    }

    fn data_result(&self, query: &DataQuery, args: &Value, result: Value) -> Result<Value, String> {
        match query {
            DataQuery::Call(_) => {
                let id = args.get("id").and_then(|v| v.as_str()).unwrap_or("");
                let target = Target {
                    inputs: args,
                    id: Some(id),
                    outputs: None,
                };
                match self.read_result(Op::Read, &target, result) {
                    Ok(Reading::Resource { mut outputs, .. }) => {
                        // A data read by name has no id of its own unless the adapter's
                        // outputs give one.
                        if id.is_empty()
                            && let Some(o) = outputs.as_object_mut()
                        {
                            o.remove("id");
                        }
                        Ok(outputs)
                    }
                    Ok(_) => Err(format!(
                        "no {}.{} matches {}",
                        self.server,
                        self.type_name,
                        Value::Object(args.as_object().cloned().unwrap_or_default())
                    )),
                    Err(e) => Err(e.to_string()),
                }
            }
            DataQuery::Filter { .. } => {
                self.judge(Op::List, &Val::Map(BTreeMap::new()), &result)
                    .map_err(|e| e.to_string())?;
                let items = self.items_of(&result).map_err(|e| e.to_string())?;
                query.pick_from(items.into_iter().map(|(_, v)| v).collect())
            }
        }
    }

    fn supports(&self, op: Op) -> bool {
        self.ops.contains_key(&op)
    }

    fn forgets(&self) -> bool {
        self.forget && !self.ops.contains_key(&Op::Delete)
    }

    fn declared(&self) -> bool {
        true
    }

    fn id_from_inputs(&self, inputs: &Value) -> Option<String> {
        // Evaluated without `result`: an `id` that reads the create's result fails here.
        let expr = self.id.as_ref()?;
        let v = self
            .eval(expr, &self.self_val(&Target::new(inputs)), None, None)
            .ok()?;
        match v.unmarked() {
            Val::String(s) if !s.is_empty() => Some(s.clone()),
            Val::Number(_) => eval::to_str(&v),
            _ => None,
        }
    }

    fn output_types(&self) -> Option<BTreeMap<String, Ty>> {
        Some(self.output_types.clone())
    }

    fn gone_on_error(&self, op: Op, target: &Target<'_>, message: &str) -> Option<bool> {
        // `gone_when` also judges the text of a read's tool error; a condition that cannot
        // be evaluated on a text leaves the error to the executor's reading.
        let cond = self.gone_when.as_ref().filter(|_| op == Op::Read)?;
        let self_val = self.self_val(target);
        let result = Val::from_json(&error_value(message));
        match self.eval(cond, &self_val, Some(&result), None) {
            Ok(v) => match v.unmarked() {
                Val::Bool(b) => Some(*b),
                _ => None,
            },
            Err(_) => None,
        }
    }

    fn reads_after_write(&self) -> bool {
        self.ops.contains_key(&Op::Read)
    }

    fn health_call(&self, target: &Target<'_>) -> Result<Option<Call>, String> {
        let Some(expr) = self.health_expr() else {
            return Ok(None);
        };
        let self_val = self.self_val(target);
        one_call(&format!("{}: `health`", self.what()), |tools| {
            self.eval(expr, &self_val, None, Some(tools))
        })
        .map(|mut call| {
            call.server = self.server_name(&call.server).to_string();
            Some(call)
        })
    }

    fn health_of(&self, target: &Target<'_>, result: Value) -> Result<Health, ResultError> {
        let self_val = self.self_val(target);
        match self.judge_call(self.health_expr(), &self_val, &result) {
            Ok(()) => {}
            Err(ResultError::Failed(why)) => return Ok(Health::Unhealthy(why)),
            Err(e) => return Err(e),
        }
        let Some(cond) = &self.healthy_when else {
            return Ok(Health::Healthy);
        };
        let v = self
            .eval(cond, &self_val, Some(&Val::from_json(&result)), None)
            .map_err(|m| ResultError::Unusable(format!("{}: `healthy_when`: {m}", self.what())))?;
        match v.unmarked() {
            Val::Bool(true) => Ok(Health::Healthy),
            Val::Bool(false) | Val::Null => Ok(Health::Unhealthy(format!(
                "`healthy_when` is false for the result: {}",
                brief(&result)
            ))),
            other => Err(ResultError::Unusable(format!(
                "{}: `healthy_when` is {}, not a bool",
                self.what(),
                other.kind_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The adapter the first `adapter` block of `src` defines.
    fn adapter(src: &str) -> Adapter {
        let parsed = mcpo_syntax::parse(src, mcpo_diagnostics::FileId(0));
        let block = parsed
            .file
            .body
            .items
            .iter()
            .find_map(|i| match i {
                BodyItem::Block(b) if b.ty.name == "adapter" => Some(b.clone()),
                _ => None,
            })
            .expect("an adapter block");
        Adapter::from_block("svc", "thing", &block, None, AdapterEnv::default())
    }

    const BASE: &str = r#"
  create = svc::make({ name = self.name })
  read   = svc::get({ id = self.id })
  id     = self.name
"#;

    #[test]
    fn a_health_call_is_judged_by_healthy_when() {
        let a = adapter(&format!(
            "adapter \"svc\" \"thing\" {{{BASE}  health = svc::probe({{ id = self.id, deep = true }})\n  healthy_when = result.status == \"ok\"\n}}"
        ));
        let inputs = json!({"name": "a"});
        let target = Target::existing(&inputs, "a");
        let call = a.health_call(&target).expect("computed").expect("a call");
        assert_eq!(call.tool, "probe");
        assert_eq!(call.args, json!({"id": "a", "deep": true}));
        assert_eq!(
            a.health_of(&target, json!({"status": "ok"})),
            Ok(Health::Healthy)
        );
        assert_eq!(
            a.health_of(&target, json!({"status": "down"})),
            Ok(Health::Unhealthy(
                "`healthy_when` is false for the result: {\"status\":\"down\"}".into()
            ))
        );
        assert!(matches!(
            a.health_of(&target, json!({"other": 1})),
            Err(ResultError::Unusable(_))
        ));
    }

    #[test]
    fn healthy_when_alone_judges_the_read_and_neither_means_no_check() {
        let a = adapter(&format!(
            "adapter \"svc\" \"thing\" {{{BASE}  healthy_when = result.state == \"running\"\n}}"
        ));
        let inputs = json!({"name": "a"});
        let target = Target::existing(&inputs, "a");
        let call = a.health_call(&target).expect("computed").expect("a call");
        assert_eq!((call.tool.as_str(), call.args), ("get", json!({"id": "a"})));
        assert_eq!(
            a.health_of(&target, json!({"state": "running"})),
            Ok(Health::Healthy)
        );

        let none = adapter(&format!("adapter \"svc\" \"thing\" {{{BASE}}}"));
        assert_eq!(none.health_call(&target), Ok(None));
    }

    #[test]
    fn a_health_call_without_healthy_when_is_healthy_unless_it_failed() {
        let a = adapter(&format!(
            "adapter \"svc\" \"thing\" {{{BASE}  health = svc::ping({{}})\n  failed_when = result.error != null\n}}"
        ));
        let inputs = json!({"name": "a"});
        let target = Target::existing(&inputs, "a");
        assert_eq!(
            a.health_of(&target, json!({"error": null})),
            Ok(Health::Healthy)
        );
        assert!(matches!(
            a.health_of(&target, json!({"error": "refused"})),
            Ok(Health::Unhealthy(why)) if why.contains("refused")
        ));
    }
}
