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
//! the driver of every type that has no other.

use mcpo_schema::Ty;
use mcpo_sema::Catalog;
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
}

impl<'a> Target<'a> {
    /// A resource that does not exist yet.
    pub fn new(inputs: &'a Value) -> Target<'a> {
        Target { inputs, id: None }
    }

    /// An existing resource.
    pub fn existing(inputs: &'a Value, id: &'a str) -> Target<'a> {
        Target {
            inputs,
            id: Some(id),
        }
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
        let DataQuery::Filter { filter, what, .. } = self else {
            return Ok(result);
        };
        let items = result
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
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
    /// (no update: changes replace; no read: no drift detection; ...).
    fn call(&self, op: Op, target: &Target<'_>) -> Option<Call>;

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
    fn data_query(&self, args: &Value) -> Option<DataQuery>;
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
    fn call(&self, op: Op, target: &Target<'_>) -> Option<Call> {
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

    fn read_result(
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

    fn data_query(&self, args: &Value) -> Option<DataQuery> {
        let obj = args.as_object().cloned().unwrap_or_default();
        let by_id = obj.len() == 1 && obj.contains_key("id");
        if (by_id || !self.has(Op::List)) && self.has(Op::Read) {
            return Some(DataQuery::Call(self.call_of(Op::Read, args.clone())));
        }
        if !self.has(Op::List) {
            return None;
        }
        Some(DataQuery::Filter {
            call: self.call_of(Op::List, Value::Object(Map::new())),
            filter: obj,
            what: format!("{}.{}", self.server, self.type_name),
        })
    }
}

/// The driver of every resource type of a workspace: the types given their own driver
/// (adapters), and the convention for all others.
#[derive(Debug, Clone, Default)]
pub struct Drivers {
    own: BTreeMap<(String, String), Arc<dyn Driver>>,
    tools: BTreeMap<String, ToolInputs>,
}

impl Drivers {
    /// The convention over what each server's tools are (by server name).
    pub fn new(tools: BTreeMap<String, ToolInputs>) -> Drivers {
        Drivers {
            own: BTreeMap::new(),
            tools,
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

    /// The driver of `server`'s type `type_name`.
    pub fn get(&self, server: &str, type_name: &str) -> Arc<dyn Driver> {
        if let Some(d) = self.own.get(&(server.to_string(), type_name.to_string())) {
            return Arc::clone(d);
        }
        Arc::new(Convention::new(server, type_name, self.tools.get(server)))
    }
}

/// The drivers of a checked workspace: the convention over each server's pulled schema.
pub fn workspace_drivers(db: &dyn salsa::Database, ws: mcpo_sema::Workspace) -> Drivers {
    Drivers::new(
        ws.schemas(db)
            .iter()
            .map(|s| {
                let c = mcpo_sema::catalog(db, *s);
                (c.server.clone(), tool_inputs_of_catalog(c))
            })
            .collect(),
    )
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
        let create = d.call(Op::Create, &Target::new(&inputs)).expect("create");
        assert_eq!(
            (create.tool.as_str(), &create.args),
            ("vpc.create", &inputs)
        );
        let t = Target::existing(&inputs, "vpc-1");
        let update = d.call(Op::Update, &t).expect("update");
        assert_eq!(update.args, json!({"id": "vpc-1", "name": "a"}));
        assert_eq!(
            d.call(Op::Delete, &t).map(|c| c.args),
            Some(json!({"id": "vpc-1"}))
        );
        assert_eq!(d.call(Op::List, &t), None, "the schema has no vpc.list");
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
        let by_id = d.data_query(&json!({"id": "vpc-1"})).expect("query");
        assert_eq!(by_id.call().tool, "vpc.read");
        let q = d.data_query(&json!({"name": "b"})).expect("query");
        assert_eq!(q.call().tool, "vpc.list");
        let listed = json!({"items": [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]});
        assert_eq!(q.pick(listed), Ok(json!({"id": "2", "name": "b"})));
        let none = q.pick(json!({"items": []})).expect_err("nothing matches");
        assert_eq!(none, r#"no aws.vpc matches {"name":"b"}; 0 exist"#);
    }
}
