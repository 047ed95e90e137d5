//! The resource-driver seam: how a resource type is created, read, updated, deleted and
//! listed, decided in one place.
//!
//! A [`Driver`] turns an operation on one resource (its inputs, its id) into the tool
//! [`Call`] that performs it, and reads the tool's result back ([`Reading`]). It never
//! calls anything itself: planning (data reads) and the executor (apply, refresh, import,
//! destroy, rollback, readiness waits) make the calls, with their own retries, limits and
//! durability, and ask the driver what to call and what the answer means.
//!
//! [`Drivers`] holds the driver of every `(server, type)` of a workspace. The mcpo resource
//! convention ([`Convention`]: `T.create`, `T.read`, `T.update`, `T.delete`, `T.list`) is
//! the driver of every type that has no other; an `adapter` block's [`Adapter`] maps a type
//! onto the tools a server really has; [`ToolRead`] reads a `data` block through one
//! read-only tool.

pub(crate) mod adapter;

pub use adapter::{
    ADAPTER_ATTRS, ADAPTER_OPS, Adapter, AdapterEnv, brief, called_servers, failed_when,
};

use mcpo_schema::Ty;
use mcpo_sema::Catalog;
use mcpo_syntax::ast::{Block, BodyItem, Expr};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// An operation on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Make a new resource from its inputs.
    Create,
    /// Read what exists now, by id.
    Read,
    /// Change an existing resource in place.
    Update,
    /// Delete it.
    Delete,
    /// List every resource of the type (adoption after a crash, data reads).
    List,
}

impl Op {
    /// The operation's name, as in the convention's tool names (`create`, `read`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Read => "read",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::List => "list",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tool call a driver asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The server to call (an adapter may use another server than the resource's).
    pub server: String,
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub args: Value,
}

/// The resource an operation is about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Its inputs: the arguments of a create or update, or what the state recorded.
    pub inputs: &'a Value,
    /// Its id, once it exists.
    pub id: Option<&'a str>,
    /// What the state recorded of it before (an update's result may not say everything).
    pub outputs: Option<&'a Value>,
}

impl<'a> Target<'a> {
    /// A resource that does not exist yet.
    pub fn new(inputs: &'a Value) -> Target<'a> {
        Target {
            inputs,
            id: None,
            outputs: None,
        }
    }

    /// An existing resource.
    pub fn existing(inputs: &'a Value, id: &'a str) -> Target<'a> {
        Target {
            inputs,
            id: Some(id),
            outputs: None,
        }
    }

    /// The same resource, with what the state recorded of it.
    pub fn recorded(self, outputs: Option<&'a Value>) -> Target<'a> {
        Target { outputs, ..self }
    }
}

/// What a tool's result means.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// The resource as the server reports it: its id (known after create, read and
    /// update) and the object references read from.
    Resource {
        /// The id.
        id: String,
        /// What the server reports.
        outputs: Value,
    },
    /// The resource does not exist (a read that found nothing).
    Gone,
    /// The items of a list: each one's id and state.
    Items(Vec<(String, Value)>),
    /// Done; nothing to record (a delete).
    Done,
}

/// What a resource's health check says (`mcpoc watch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The check passed.
    Healthy,
    /// The check failed, and why (what the result said, shortened).
    Unhealthy(String),
}

/// Why a result cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultError {
    /// The server says in the result's body that the call failed.
    Failed(String),
    /// The result lacks what the driver needs (an id, an object).
    Unusable(String),
}

impl fmt::Display for ResultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResultError::Failed(m) | ResultError::Unusable(m) => f.write_str(m),
        }
    }
}

/// How a data read finds its object.
#[derive(Debug, Clone, PartialEq)]
pub enum DataQuery {
    /// One call whose result is the object.
    Call(Call),
    /// List, then keep the one item that has every attribute of `filter`.
    Filter {
        /// The list call.
        call: Call,
        /// The attributes the item must have, with these values.
        filter: Map<String, Value>,
        /// What is read, for messages (`aws.vpc_subnet`).
        what: String,
    },
}

impl DataQuery {
    /// The call to make.
    pub fn call(&self) -> &Call {
        match self {
            DataQuery::Call(c) | DataQuery::Filter { call: c, .. } => c,
        }
    }

    /// The object read, from the call's result (for [`DataQuery::Filter`], exactly one item
    /// must match).
    pub fn pick(&self, result: Value) -> Result<Value, String> {
        if matches!(self, DataQuery::Call(_)) {
            return Ok(result);
        }
        let items = result
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.pick_from(items)
    }

    /// The one item of `items` that matches a [`DataQuery::Filter`]; for a
    /// [`DataQuery::Call`], an error (it reads one object, not a list).
    pub fn pick_from(&self, items: Vec<Value>) -> Result<Value, String> {
        let DataQuery::Filter { filter, what, .. } = self else {
            return Err("a data read by one call reads one object, not a list".into());
        };
        let total = items.len();
        let mut matching: Vec<Value> = items
            .into_iter()
            .filter(|item| filter.iter().all(|(k, v)| item.get(k) == Some(v)))
            .collect();
        let wanted = Value::Object(filter.clone());
        match matching.len() {
            1 => Ok(matching.remove(0)),
            0 => Err(format!("no {what} matches {wanted}; {total} exist")),
            n => Err(format!(
                "{n} {what} match {wanted}; add arguments that single one out"
            )),
        }
    }
}

/// How one resource type maps onto tools.
pub trait Driver: Send + Sync + fmt::Debug {
    /// The call that performs `op` on `target`; `None` when the type has no such operation
    /// (no update: changes replace; no read: no drift detection; ...); an error when the
    /// call's arguments cannot be computed (nothing is called).
    fn call(&self, op: Op, target: &Target<'_>) -> Result<Option<Call>, String>;

    /// What the result of `op` on `target` means.
    fn read_result(
        &self,
        op: Op,
        target: &Target<'_>,
        result: Value,
    ) -> Result<Reading, ResultError>;

    /// Which of `inputs` an update can change in place (`None`: there is no update, every
    /// change replaces). A change to any other input forces a replacement.
    fn update_attrs(&self, inputs: &BTreeSet<String>) -> Option<BTreeSet<String>>;

    /// The inputs the type takes, when known: an imported resource records these of what
    /// it reads.
    fn input_attrs(&self) -> Option<BTreeSet<String>>;

    /// How a data block with `args` reads its object; `None` when the type cannot be read.
    fn data_query(&self, args: &Value) -> Result<Option<DataQuery>, String>;

    /// The object a data block reads, from the result of `query`'s call.
    fn data_result(
        &self,
        query: &DataQuery,
        _args: &Value,
        result: Value,
    ) -> Result<Value, String> {
        query.pick(result)
    }

    /// Whether the type has the operation at all (a type without `read` has no drift
    /// detection; refresh leaves it as recorded).
    fn supports(&self, _op: Op) -> bool {
        true
    }

    /// Whether a resource of the type, which has no delete, may be forgotten instead
    /// (it stays on its server). Without a delete and without this, destroy refuses.
    fn forgets(&self) -> bool {
        false
    }

    /// Whether the type's operations are declared in the workspace (an adapter), so that
    /// a missing one is a decision the plan honours (no `delete`: E0409 before anything
    /// runs), not a tool the server lacks (reported when the executor would call it).
    fn declared(&self) -> bool {
        false
    }

    /// The id a create with `inputs` gives, when the type computes it from the inputs
    /// alone (an adapter whose `id` reads only `self`); `None` when it comes from the
    /// create's result. Lets an interrupted create be looked up without a list.
    fn id_from_inputs(&self, _inputs: &Value) -> Option<String> {
        None
    }

    /// The types of what references read on the resource (inputs, outputs and `id`),
    /// when the driver knows them better than the server's schema (adapters).
    fn output_types(&self) -> Option<BTreeMap<String, Ty>> {
        None
    }

    /// Whether a create or update is followed by a read, whose result gives the
    /// resource's outputs (the write's result gives only its id).
    fn reads_after_write(&self) -> bool {
        false
    }

    /// Whether a tool error (`isError`, its text `message`) of `op` on `target` means that
    /// the resource does not exist; `None` leaves it to the executor's reading of common
    /// messages ("not found", "does not exist", "no such").
    fn gone_on_error(&self, _op: Op, _target: &Target<'_>, _message: &str) -> Option<bool> {
        None
    }

    /// The call that tells whether the resource is healthy (`mcpoc watch`): an adapter's
    /// `health` call, else its `read` when it declares `healthy_when`; `None` when the
    /// type declares no health check.
    fn health_call(&self, _target: &Target<'_>) -> Result<Option<Call>, String> {
        Ok(None)
    }

    /// What the result of [`Driver::health_call`] says: `healthy_when` judged on it (a
    /// `failed_when` that is true, or no `healthy_when` and a call that failed, is
    /// unhealthy too).
    fn health_of(&self, _target: &Target<'_>, _result: Value) -> Result<Health, ResultError> {
        Ok(Health::Healthy)
    }
}

/// What references read on a resource: its inputs, overlaid by what its server reports
/// (every input is readable, as in Terraform; the server's value wins).
pub fn resource_value(inputs: &Value, outputs: &Value) -> Value {
    match (inputs, outputs) {
        (Value::Object(i), Value::Object(o)) => {
            let mut m = i.clone();
            for (k, v) in o {
                m.insert(k.clone(), v.clone());
            }
            Value::Object(m)
        }
        (Value::Object(i), Value::Null) => Value::Object(i.clone()),
        _ => outputs.clone(),
    }
}

/// The id in a convention result: a string `id`, or a number shown as text.
pub fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The tools of one server as the convention needs them: each tool's name, and the
/// properties its input takes besides `id` (`None` when its input schema lists none).
pub type ToolInputs = BTreeMap<String, Option<BTreeSet<String>>>;

/// The properties (besides `id`) of an object type.
fn properties(ty: &Ty) -> Option<BTreeSet<String>> {
    match ty.strip_sensitive() {
        Ty::Object(o) => Some(o.attrs.keys().filter(|k| *k != "id").cloned().collect()),
        _ => None,
    }
}

/// A server's tools from its pulled schema, as the checker typed them.
pub fn tool_inputs_of_catalog(catalog: &Catalog) -> ToolInputs {
    catalog
        .tools
        .iter()
        .map(|(name, t)| (name.clone(), properties(&t.input)))
        .collect()
}

/// A server's tools from the list it gave when connected.
pub fn tool_inputs_of_schemas<'a>(
    tools: impl IntoIterator<Item = &'a mcpo_schema::ToolSchema>,
) -> ToolInputs {
    tools
        .into_iter()
        .map(|t| {
            let props = t
                .input_schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().filter(|k| *k != "id").cloned().collect());
            (t.name.clone(), props)
        })
        .collect()
}

/// The mcpo resource convention for one type `T` of one server: `T.create` takes the
/// inputs and returns the resource with its `id`; `T.read`, `T.delete` take `{id}`;
/// `T.update` takes `id` and the inputs it lists; `T.list` returns `{items: [...]}`.
#[derive(Debug, Clone)]
pub struct Convention {
    server: String,
    type_name: String,
    /// What the server's tool list says of this type, when it is known (`None`: assume
    /// all five tools exist and `T.update` takes every input).
    tools: Option<ConventionTools>,
}

/// What a server's tool list says of a convention type.
#[derive(Debug, Clone, Default)]
struct ConventionTools {
    has: BTreeSet<Op>,
    /// The properties `T.update` takes besides `id` (`None`: not listed, so all inputs).
    update: Option<BTreeSet<String>>,
    /// The properties `T.create` takes.
    create: Option<BTreeSet<String>>,
}

impl Convention {
    /// The convention for `server`'s type `type_name`, with what `tools` (the server's
    /// tool list, when known) says of it.
    pub fn new(server: &str, type_name: &str, tools: Option<&ToolInputs>) -> Convention {
        let tools = tools.map(|all| {
            let tool = |op: Op| all.get(&Convention::tool_name(type_name, op));
            let mut t = ConventionTools::default();
            for op in [Op::Create, Op::Read, Op::Update, Op::Delete, Op::List] {
                if tool(op).is_some() {
                    t.has.insert(op);
                }
            }
            t.update = tool(Op::Update).cloned().flatten();
            t.create = tool(Op::Create).cloned().flatten();
            t
        });
        Convention {
            server: server.to_string(),
            type_name: type_name.to_string(),
            tools,
        }
    }

    /// The convention's tool for `op` on `type_name`: `vpc.create`, `vpc.read`, ...
    pub fn tool_name(type_name: &str, op: Op) -> String {
        format!("{type_name}.{}", op.name())
    }

    fn has(&self, op: Op) -> bool {
        self.tools.as_ref().is_none_or(|t| t.has.contains(&op))
    }

    fn call_of(&self, op: Op, args: Value) -> Call {
        Call {
            server: self.server.clone(),
            tool: Convention::tool_name(&self.type_name, op),
            args,
        }
    }

    fn with_id(id: &str) -> Value {
        serde_json::json!({ "id": id })
    }
}

impl Driver for Convention {
    fn call(&self, op: Op, target: &Target<'_>) -> Result<Option<Call>, String> {
        Ok(self.convention_call(op, target))
    }

    fn read_result(
        &self,
        op: Op,
        target: &Target<'_>,
        result: Value,
    ) -> Result<Reading, ResultError> {
        self.convention_result(op, target, result)
    }

    fn update_attrs(&self, inputs: &BTreeSet<String>) -> Option<BTreeSet<String>> {
        let tools = self.tools.as_ref()?;
        if !tools.has.contains(&Op::Update) {
            return None;
        }
        // An update whose schema lists no properties is taken to accept every input.
        Some(match &tools.update {
            Some(takes) => takes.clone(),
            None => inputs.clone(),
        })
    }

    fn input_attrs(&self) -> Option<BTreeSet<String>> {
        self.tools.as_ref()?.create.clone()
    }

    fn data_query(&self, args: &Value) -> Result<Option<DataQuery>, String> {
        let obj = args.as_object().cloned().unwrap_or_default();
        let by_id = obj.len() == 1 && obj.contains_key("id");
        if (by_id || !self.has(Op::List)) && self.has(Op::Read) {
            return Ok(Some(DataQuery::Call(self.call_of(Op::Read, args.clone()))));
        }
        if !self.has(Op::List) {
            return Ok(None);
        }
        Ok(Some(DataQuery::Filter {
            call: self.call_of(Op::List, Value::Object(Map::new())),
            filter: obj,
            what: format!("{}.{}", self.server, self.type_name),
        }))
    }

    fn supports(&self, op: Op) -> bool {
        self.has(op)
    }
}

impl Convention {
    fn convention_call(&self, op: Op, target: &Target<'_>) -> Option<Call> {
        // Without a schema, a missing tool shows when it is called; the executor then
        // reports it as a configuration error.
        if self.tools.is_some() && !self.has(op) {
            return None;
        }
        let args = match op {
            Op::Create => target.inputs.clone(),
            Op::Read | Op::Delete => Convention::with_id(target.id?),
            Op::Update => {
                let takes = self.tools.as_ref().and_then(|t| t.update.as_ref());
                let mut out = Map::new();
                if let Some(obj) = target.inputs.as_object() {
                    for (k, v) in obj {
                        if k != "id" && takes.is_none_or(|t| t.contains(k)) {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                }
                out.insert("id".into(), Value::String(target.id?.to_string()));
                Value::Object(out)
            }
            Op::List => Value::Object(Map::new()),
        };
        Some(self.call_of(op, args))
    }

    fn convention_result(
        &self,
        op: Op,
        target: &Target<'_>,
        result: Value,
    ) -> Result<Reading, ResultError> {
        match op {
            Op::Create | Op::Read | Op::Update => {
                let known = if op == Op::Create { None } else { target.id };
                let id = id_of(&result)
                    .or_else(|| known.map(str::to_string))
                    .ok_or_else(|| {
                        ResultError::Unusable(format!(
                            "server `{}`, tool `{}`: the result has no string `id`",
                            self.server,
                            Convention::tool_name(&self.type_name, op)
                        ))
                    })?;
                Ok(Reading::Resource {
                    id,
                    outputs: result,
                })
            }
            Op::Delete => Ok(Reading::Done),
            Op::List => Ok(Reading::Items(
                result
                    .get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|item| id_of(item).map(|id| (id, item.clone())))
                    .collect(),
            )),
        }
    }
}

/// A `data` block on a read-only tool (`data "fs.read_text_file" "motd" { path = ... }`):
/// its attributes are the tool's arguments and its value the tool's result. It has no
/// resource operations.
#[derive(Debug, Clone)]
pub struct ToolRead {
    server: String,
    tool: String,
    failed_when: Option<Expr>,
    functions: Arc<BTreeMap<String, crate::eval::UserFn>>,
}

impl Driver for ToolRead {
    fn call(&self, _op: Op, _target: &Target<'_>) -> Result<Option<Call>, String> {
        Ok(None)
    }

    fn read_result(
        &self,
        op: Op,
        _target: &Target<'_>,
        _result: Value,
    ) -> Result<Reading, ResultError> {
        Err(ResultError::Unusable(format!(
            "`{}.{}` is a tool, not a resource type: it has no {op}",
            self.server, self.tool
        )))
    }

    fn update_attrs(&self, _inputs: &BTreeSet<String>) -> Option<BTreeSet<String>> {
        None
    }

    fn input_attrs(&self) -> Option<BTreeSet<String>> {
        None
    }

    fn data_query(&self, args: &Value) -> Result<Option<DataQuery>, String> {
        Ok(Some(DataQuery::Call(Call {
            server: self.server.clone(),
            tool: self.tool.clone(),
            args: args.clone(),
        })))
    }

    fn data_result(
        &self,
        _query: &DataQuery,
        _args: &Value,
        result: Value,
    ) -> Result<Value, String> {
        if let Some(cond) = &self.failed_when {
            let judged = failed_when(cond, &result, |e, r| judge_eval(e, r, &self.functions))
                .map_err(|m| format!("the `failed_when` of server `{}`: {m}", self.server))?;
            if let Some(why) = judged {
                return Err(why);
            }
        }
        Ok(result)
    }

    fn supports(&self, _op: Op) -> bool {
        false
    }
}

/// Evaluates a `failed_when` condition with `result` bound (and nothing else: a server's
/// default sees only the result).
pub fn judge_eval(
    cond: &Expr,
    result: &crate::Val,
    functions: &BTreeMap<String, crate::eval::UserFn>,
) -> Result<crate::Val, String> {
    struct Nothing;
    impl crate::Io for Nothing {
        fn read_file(&self, path: &str) -> Result<String, String> {
            Err(format!("`failed_when` cannot read files (`{path}`)"))
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
    let lookup: BTreeMap<String, crate::Val> = BTreeMap::new();
    let servers = BTreeSet::new();
    let mut scope = crate::eval::Scope::new(&lookup, &servers, functions, &Nothing);
    scope.impure_unknown = true;
    scope.bound.push(("result".into(), result.clone()));
    crate::eval::eval(cond, &scope).map_err(|e| e.message)
}

/// The driver of every resource type of a workspace: the types given their own driver
/// (adapters), data reads through a read-only tool, and the convention for all others.
#[derive(Debug, Clone, Default)]
pub struct Drivers {
    own: BTreeMap<(String, String), Arc<dyn Driver>>,
    tools: BTreeMap<String, ToolInputs>,
    env: AdapterEnv,
}

impl Drivers {
    /// The convention over what each server's tools are (by server name).
    pub fn new(tools: BTreeMap<String, ToolInputs>) -> Drivers {
        Drivers {
            own: BTreeMap::new(),
            tools,
            env: AdapterEnv::default(),
        }
    }

    /// Gives `server`'s type `type_name` its own driver.
    pub fn insert(&mut self, server: &str, type_name: &str, driver: Arc<dyn Driver>) {
        self.own
            .insert((server.to_string(), type_name.to_string()), driver);
    }

    /// Adds (or replaces) what `server`'s tools are.
    pub fn set_tools(&mut self, server: &str, tools: ToolInputs) {
        self.tools.insert(server.to_string(), tools);
    }

    /// Whether the tools of `server` are known.
    pub fn knows(&self, server: &str) -> bool {
        self.tools.contains_key(server)
    }

    /// What adapters and `failed_when` conditions see: functions, servers' defaults.
    pub fn env(&self) -> &AdapterEnv {
        &self.env
    }

    /// Sets what adapters and `failed_when` conditions see.
    pub fn set_env(&mut self, env: AdapterEnv) {
        self.env = env;
    }

    /// Whether a result of `server` says the call failed, by the server's default
    /// `failed_when` (its `server` block's): `Ok(Some(why))` when it does.
    pub fn server_failed(&self, server: &str, result: &Value) -> Result<Option<String>, String> {
        let Some(cond) = self.env.failed_when.get(server) else {
            return Ok(None);
        };
        failed_when(cond, result, |e, r| judge_eval(e, r, &self.env.functions))
            .map_err(|m| format!("the `failed_when` of server `{server}`: {m}"))
    }

    /// The driver of `server`'s type `type_name`.
    pub fn get(&self, server: &str, type_name: &str) -> Arc<dyn Driver> {
        if let Some(d) = self.own.get(&(server.to_string(), type_name.to_string())) {
            return Arc::clone(d);
        }
        if let Some(tools) = self.tools.get(server) {
            let convention = [Op::Create, Op::Read, Op::List]
                .iter()
                .any(|op| tools.contains_key(&Convention::tool_name(type_name, *op)));
            if !convention && tools.contains_key(type_name) {
                return Arc::new(ToolRead {
                    server: server.to_string(),
                    tool: type_name.to_string(),
                    failed_when: self.env.failed_when.get(server).cloned(),
                    functions: Arc::clone(&self.env.functions),
                });
            }
        }
        Arc::new(Convention::new(server, type_name, self.tools.get(server)))
    }
}

/// The drivers of a checked workspace: each `adapter` block's [`Adapter`] (its own, then
/// those its `use` blocks bring: imported from packages of adapters, or along with a
/// module's pattern, see [`mcpo_sema::adapter_imports`]), and the convention over each
/// server's pulled schema.
pub fn workspace_drivers(db: &dyn salsa::Database, ws: mcpo_sema::Workspace) -> Drivers {
    let mut drivers = Drivers::new(
        ws.schemas(db)
            .iter()
            .map(|s| {
                let c = mcpo_sema::catalog(db, *s);
                (c.server.clone(), tool_inputs_of_catalog(c))
            })
            .collect(),
    );
    let mut defaults = BTreeMap::new();
    let mut adapters: Vec<(String, String, &Block)> = Vec::new();
    let files: Vec<&mcpo_syntax::ast::SourceFile> = ws
        .files(db)
        .iter()
        .map(|f| &mcpo_sema::parse(db, *f).file)
        .collect();
    for file in &files {
        for item in &file.body.items {
            let BodyItem::Block(b) = item else { continue };
            let labels: Vec<&str> = b.labels.iter().map(|l| l.value()).collect();
            match (b.ty.name.as_str(), labels.as_slice()) {
                ("adapter", [server, ty]) => {
                    adapters.push(((*server).to_string(), (*ty).to_string(), b));
                }
                ("server", [name]) => {
                    if let Some(cond) = block_attr(b, "failed_when") {
                        defaults
                            .entry((*name).to_string())
                            .or_insert_with(|| cond.clone());
                    }
                }
                _ => {}
            }
        }
    }
    let defaults = Arc::new(defaults);
    let env = AdapterEnv {
        functions: Arc::new(functions(db, ws)),
        failed_when: defaults.clone(),
    };
    for (server, ty, block) in adapters {
        let address = format!("adapter.{server}.{ty}");
        if drivers.own.contains_key(&(server.clone(), ty.clone())) {
            continue;
        }
        let types = mcpo_sema::adapter_type(db, ws, mcpo_sema::DeclKey::new(db, address)).clone();
        let adapter = Adapter::from_block(&server, &ty, block, types.as_ref(), env.clone());
        drivers.insert(&server, &ty, Arc::new(adapter));
    }
    // The adapters `use` blocks bring, under the workspace's server names (their tool
    // calls renamed the same way): imported from packages of adapters, and those the
    // modules whose patterns are used have (their own and their imports). Each calls the
    // functions of the module that declares it; the servers' default `failed_when` are
    // the workspace's.
    let imports = mcpo_sema::adapter_imports(db, ws);
    let mut module_functions: Vec<(
        mcpo_sema::Workspace,
        Arc<BTreeMap<String, crate::eval::UserFn>>,
    )> = Vec::new();
    for (address, imported) in imports.adapters.iter().chain(&imports.with_patterns) {
        let Some((server, ty)) = address
            .strip_prefix("adapter.")
            .and_then(|rest| rest.split_once('.'))
        else {
            continue;
        };
        if drivers
            .own
            .contains_key(&(server.to_string(), ty.to_string()))
        {
            continue;
        }
        let Some(block) = declared_block(db, imported.module, &imported.address) else {
            continue;
        };
        let key = mcpo_sema::DeclKey::new(db, imported.address.clone());
        let types = mcpo_sema::adapter_type(db, imported.module, key).clone();
        let functions = match module_functions.iter().find(|(w, _)| *w == imported.module) {
            Some((_, f)) => f.clone(),
            None => {
                let f = Arc::new(functions(db, imported.module));
                module_functions.push((imported.module, f.clone()));
                f
            }
        };
        let env = AdapterEnv {
            functions,
            failed_when: defaults.clone(),
        };
        let adapter = Adapter::from_block(server, ty, block, types.as_ref(), env)
            .with_servers(imported.servers.clone());
        drivers.insert(server, ty, Arc::new(adapter));
    }
    drivers.set_env(env);
    drivers
}

/// The `function` blocks of `ws`, for the adapters declared there to call.
fn functions(
    db: &dyn salsa::Database,
    ws: mcpo_sema::Workspace,
) -> BTreeMap<String, crate::eval::UserFn> {
    let mut out = BTreeMap::new();
    for file in ws.files(db) {
        for item in &mcpo_sema::parse(db, *file).file.body.items {
            let BodyItem::Block(b) = item else { continue };
            let (true, Some(name)) = (b.ty.name == "function", b.labels.first()) else {
                continue;
            };
            let params = match block_attr(b, "params").map(|e| &e.kind) {
                Some(mcpo_syntax::ast::ExprKind::Object(items)) => items
                    .iter()
                    .filter_map(|i| mcpo_sema::types::object_key(&i.key))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(result) = block_attr(b, "result") {
                out.entry(name.value().to_string())
                    .or_insert_with(|| crate::eval::UserFn {
                        params,
                        result: result.clone(),
                    });
            }
        }
    }
    out
}

/// The block that declares `address` in `ws`.
fn declared_block<'db>(
    db: &'db dyn salsa::Database,
    ws: mcpo_sema::Workspace,
    address: &str,
) -> Option<&'db Block> {
    let &(file, i) = mcpo_sema::index(db, ws).decls.get(address)?.first()?;
    let d = mcpo_sema::signature(db, file).decls.get(i)?;
    match mcpo_sema::parse(db, file).file.body.items.get(d.item) {
        Some(BodyItem::Block(b)) => Some(b),
        _ => None,
    }
}

fn block_attr<'a>(block: &'a Block, name: &str) -> Option<&'a Expr> {
    block.body.items.iter().find_map(|i| match i {
        BodyItem::Attribute(a) if a.name.name == name => Some(&a.value),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog_with(tools: &[(&str, Value)]) -> Catalog {
        let mut c = Catalog {
            server: "aws".into(),
            ..Catalog::default()
        };
        for (name, input) in tools {
            c.tools.insert(
                (*name).to_string(),
                mcpo_sema::ToolInfo {
                    input: mcpo_schema::convert(input).ty,
                    output: Ty::Any,
                    read_only: false,
                    description: None,
                },
            );
        }
        c
    }

    #[test]
    fn the_convention_calls_its_five_tools() {
        let catalog = catalog_with(&[
            (
                "vpc.create",
                json!({"type": "object", "properties": {"cidr": {"type": "string"}, "name": {"type": "string"}}}),
            ),
            ("vpc.read", json!({"type": "object"})),
            (
                "vpc.update",
                json!({"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}),
            ),
            ("vpc.delete", json!({"type": "object"})),
        ]);
        let d = Convention::new("aws", "vpc", Some(&tool_inputs_of_catalog(&catalog)));
        let inputs = json!({"cidr": "10.0.0.0/16", "name": "a"});
        let create = d
            .call(Op::Create, &Target::new(&inputs))
            .ok()
            .flatten()
            .expect("create");
        assert_eq!(
            (create.tool.as_str(), &create.args),
            ("vpc.create", &inputs)
        );
        let t = Target::existing(&inputs, "vpc-1");
        let update = d.call(Op::Update, &t).ok().flatten().expect("update");
        assert_eq!(update.args, json!({"id": "vpc-1", "name": "a"}));
        assert_eq!(
            d.call(Op::Delete, &t).ok().flatten().map(|c| c.args),
            Some(json!({"id": "vpc-1"}))
        );
        assert_eq!(d.call(Op::List, &t), Ok(None), "the schema has no vpc.list");
        let all = BTreeSet::from(["cidr".to_string(), "name".to_string()]);
        assert_eq!(
            d.update_attrs(&all),
            Some(BTreeSet::from(["name".to_string()]))
        );
        assert_eq!(
            d.input_attrs(),
            Some(BTreeSet::from(["cidr".to_string(), "name".to_string()]))
        );
        assert_eq!(
            d.read_result(Op::Create, &Target::new(&inputs), json!({"name": "a"})),
            Err(ResultError::Unusable(
                "server `aws`, tool `vpc.create`: the result has no string `id`".into()
            ))
        );
        let no_update = Convention::new(
            "aws",
            "vpc",
            Some(&tool_inputs_of_catalog(&catalog_with(&[(
                "vpc.create",
                json!({}),
            )]))),
        );
        assert_eq!(
            no_update.update_attrs(&all),
            None,
            "no update tool: changes replace"
        );
    }

    #[test]
    fn data_reads_by_id_or_by_a_filtered_list() {
        let d = Convention::new("aws", "vpc", None);
        let by_id = d
            .data_query(&json!({"id": "vpc-1"}))
            .ok()
            .flatten()
            .expect("query");
        assert_eq!(by_id.call().tool, "vpc.read");
        let q = d
            .data_query(&json!({"name": "b"}))
            .ok()
            .flatten()
            .expect("query");
        assert_eq!(q.call().tool, "vpc.list");
        let listed = json!({"items": [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]});
        assert_eq!(q.pick(listed), Ok(json!({"id": "2", "name": "b"})));
        let none = q.pick(json!({"items": []})).expect_err("nothing matches");
        assert_eq!(none, r#"no aws.vpc matches {"name":"b"}; 0 exist"#);
    }
}
