//! The resource convention, once: a resource type is a [`Kind`] (typed inputs, outputs and
//! rules) and [`TypeDef`] turns it into the five tools and their JSON handling.

use crate::store::{Record, World};
use rmcp::handler::server::common::{schema_for_input, schema_for_output};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// What a resource type knows about itself.
pub(crate) trait Kind: 'static {
    /// Arguments of `T.create` (and, with an `id`, of `T.update`).
    type Input: DeserializeOwned + Serialize + JsonSchema;
    /// What `T.create`, `T.read`, `T.update` return.
    type Output: Serialize + JsonSchema;
    /// The resource type name, e.g. `vpc`.
    const TYPE: &'static str;
    /// One sentence about the type, used in tool descriptions.
    const ABOUT: &'static str;
    /// Input fields that cannot change in place. `None`: the real system has no update at
    /// all, so the twin has no `T.update` tool (a change means replace).
    const IMMUTABLE: Option<&'static [&'static str]>;

    /// Checks `input` against the rest of the world. `this` is the id on update.
    fn check(world: &World, input: &Self::Input, this: Option<&str>) -> Result<(), String>;

    /// Computes the id and the attributes of a new resource (called after `check`).
    fn create(
        world: &mut World,
        input: &Self::Input,
    ) -> Result<(String, Map<String, Value>), String>;

    /// Adjusts computed attributes on update (after `check`); returns true when the update
    /// starts a new transition (e.g. a deployment rollout).
    fn update(
        _world: &mut World,
        _record: &Record,
        _input: &Self::Input,
        _attrs: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        Ok(false)
    }

    /// Checks that the resource may be deleted now (e.g. no dependents left).
    fn check_delete(_world: &World, _record: &Record) -> Result<(), String> {
        Ok(())
    }

    /// Other resources deleted together with this one (`(type, id)`), e.g. a namespace's
    /// contents.
    fn cascade(_world: &World, _record: &Record) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The state as the real system would report it at time `now`.
    fn output(world: &World, record: &Record, input: Self::Input, now: u64) -> Self::Output;
}

/// Arguments naming one resource.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct IdArgs {
    /// The id of the resource, as returned by create.
    pub id: String,
}

/// Arguments of `T.update`: the id plus the desired inputs. Its published schema leaves out
/// the type's immutable fields (that is how a client learns which attributes force a
/// replacement); the twin fills them in from the stored record before parsing.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct UpdateArgs<I> {
    /// The id of the resource to update, as returned by create.
    pub id: String,
    /// The desired inputs (the fields of create that can change in place).
    #[serde(flatten)]
    pub inputs: I,
}

/// Arguments of `T.list` (none).
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ListArgs {}

/// Result of `T.list`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ListOutput<O> {
    /// Every resource of this type, ordered by id.
    pub items: Vec<O>,
}

/// Result of `T.delete`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteOutput {
    /// The id of the deleted resource.
    pub id: String,
    /// Always true: the resource no longer exists.
    pub deleted: bool,
}

/// One operation: of the convention, or an operational tool of the type (`Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Create,
    Read,
    Update,
    Delete,
    List,
    /// The type's operational tool with this verb (e.g. `promote`).
    Action(&'static str),
}

impl Op {
    /// Parses the part of a tool name after the last dot.
    pub(crate) fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "create" => Op::Create,
            "read" => Op::Read,
            "update" => Op::Update,
            "delete" => Op::Delete,
            "list" => Op::List,
            _ => return None,
        })
    }
}

/// The outcome of a mutating operation: the tool result and the resources it changed.
pub(crate) struct Done {
    /// The tool's structured result.
    pub value: Value,
    /// `(type, id)` of every resource created, changed or deleted.
    pub touched: Vec<(String, String)>,
}

/// What an operational tool does with its parsed arguments at time `now`.
type ActionFn = Box<dyn Fn(&mut World, Value, u64) -> Result<Done, String> + Send + Sync>;

/// An operational tool of a resource type beyond the five of the convention, such as
/// `rds_read_replica.promote`: what a real system offers for running what exists.
pub(crate) struct Action {
    /// The part of the tool name after the type, e.g. `promote`.
    pub verb: &'static str,
    /// The tool's description.
    pub description: &'static str,
    /// Whether it only reads (a dry run may call it).
    pub read_only: bool,
    /// Whether calling it twice with the same arguments does what calling it once does.
    pub idempotent: bool,
    /// Input schema.
    pub input_schema: Arc<JsonObject>,
    /// Output schema.
    pub output_schema: Arc<JsonObject>,
    run: ActionFn,
}

impl Action {
    /// An action taking `A` and answering `O` (its schemas come from the types).
    pub(crate) fn new<A, O>(
        ty: &'static str,
        verb: &'static str,
        description: &'static str,
        read_only: bool,
        idempotent: bool,
        run: fn(&mut World, A, u64) -> Result<Done, String>,
    ) -> Result<Action, String>
    where
        A: DeserializeOwned + JsonSchema + 'static,
        O: JsonSchema + 'static,
    {
        Ok(Action {
            verb,
            description,
            read_only,
            idempotent,
            input_schema: closed(schema_for_input::<A>()?),
            output_schema: schema_for_output::<O>(),
            run: Box::new(move |world, args, now| run(world, parse(ty, verb, args)?, now)),
        })
    }
}

/// A resource type as a table entry: schemas and type-erased operations.
pub(crate) struct TypeDef {
    /// The resource type name.
    pub name: &'static str,
    /// One sentence about the type.
    pub about: &'static str,
    /// Whether `T.update` exists.
    pub updatable: bool,
    /// Fields `T.update` refuses to change.
    pub immutable: &'static [&'static str],
    /// Input schema of create.
    pub create_schema: Arc<JsonObject>,
    /// Input schema of update.
    pub update_schema: Arc<JsonObject>,
    /// Input schema of read and delete.
    pub id_schema: Arc<JsonObject>,
    /// Input schema of list.
    pub list_schema: Arc<JsonObject>,
    /// Output schema of create, read and update.
    pub output_schema: Arc<JsonObject>,
    /// Output schema of list.
    pub list_output_schema: Arc<JsonObject>,
    /// Output schema of delete.
    pub delete_output_schema: Arc<JsonObject>,
    create: fn(&mut World, Value, u64) -> Result<Done, String>,
    update: fn(&mut World, Value, u64) -> Result<Done, String>,
    delete: fn(&mut World, &str) -> Result<Done, String>,
    view: fn(&World, &Record, u64) -> Result<Value, String>,
    /// Operational tools beyond the convention.
    pub actions: Vec<Action>,
}

impl TypeDef {
    /// Builds the table entry of `K`.
    pub(crate) fn of<K: Kind>() -> Result<TypeDef, String> {
        Ok(TypeDef {
            name: K::TYPE,
            about: K::ABOUT,
            updatable: K::IMMUTABLE.is_some(),
            immutable: K::IMMUTABLE.unwrap_or(&[]),
            create_schema: closed(schema_for_input::<K::Input>()?),
            update_schema: closed(without(
                schema_for_input::<UpdateArgs<K::Input>>()?,
                K::IMMUTABLE.unwrap_or(&[]),
            )),
            id_schema: closed(schema_for_input::<IdArgs>()?),
            list_schema: closed(schema_for_input::<ListArgs>()?),
            output_schema: schema_for_output::<K::Output>(),
            list_output_schema: schema_for_output::<ListOutput<K::Output>>(),
            delete_output_schema: schema_for_output::<DeleteOutput>(),
            create: create::<K>,
            update: update::<K>,
            delete: delete::<K>,
            view: view::<K>,
            actions: Vec::new(),
        })
    }

    /// Adds an operational tool.
    pub(crate) fn with(mut self, action: Result<Action, String>) -> Result<TypeDef, String> {
        self.actions.push(action?);
        Ok(self)
    }

    /// The operational tool with this verb.
    pub(crate) fn action(&self, verb: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.verb == verb)
    }

    /// Runs one operation; `Err` is a message for a person (a tool error).
    pub(crate) fn run(
        &self,
        world: &mut World,
        op: Op,
        args: Value,
        now: u64,
    ) -> Result<Done, String> {
        let (schema, verb) = match op {
            Op::Action(verb) => {
                let action = self
                    .action(verb)
                    .ok_or_else(|| format!("{} has no operation {verb}", self.name))?;
                reject_unknown(
                    &format!("{}.{verb}", self.name),
                    &action.input_schema,
                    &[],
                    &args,
                )?;
                return (action.run)(world, args, now);
            }
            Op::Create => (&self.create_schema, "create"),
            Op::Update => (&self.update_schema, "update"),
            Op::Read => (&self.id_schema, "read"),
            Op::Delete => (&self.id_schema, "delete"),
            Op::List => (&self.list_schema, "list"),
        };
        // Immutable fields are not in the update schema, but a caller that sends one gets
        // the clear "cannot be changed in place" error from `update` (or nothing, when the
        // value is unchanged) rather than "unknown argument".
        let tolerated = if op == Op::Update {
            self.immutable
        } else {
            &[]
        };
        reject_unknown(&format!("{}.{verb}", self.name), schema, tolerated, &args)?;
        match op {
            Op::Create => (self.create)(world, args, now),
            Op::Update if self.updatable => (self.update)(world, args, now),
            Op::Update => Err(format!(
                "{} cannot be updated in place; replace it",
                self.name
            )),
            Op::Read => {
                let id = parse::<IdArgs>(self.name, "read", args)?.id;
                let record = find(world, self.name, &id)?;
                Ok(Done {
                    value: (self.view)(world, record, now)?,
                    touched: Vec::new(),
                })
            }
            Op::Delete => {
                let id = parse::<IdArgs>(self.name, "delete", args)?.id;
                (self.delete)(world, &id)
            }
            Op::Action(verb) => Err(format!("{} has no operation {verb}", self.name)),
            Op::List => {
                parse::<ListArgs>(self.name, "list", args)?;
                let items = world
                    .all(self.name)
                    .map(|r| (self.view)(world, r, now))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Done {
                    value: serde_json::json!({ "items": items }),
                    touched: Vec::new(),
                })
            }
        }
    }

    /// The current state of one resource, or None when it does not exist.
    pub(crate) fn view(&self, world: &World, id: &str, now: u64) -> Option<Value> {
        world
            .get(self.name, id)
            .and_then(|r| (self.view)(world, r, now).ok())
    }
}

/// Marks a tool's arguments as closed: like the real APIs, the twins reject arguments they
/// do not know instead of silently ignoring a misspelt one.
fn closed(schema: Arc<JsonObject>) -> Arc<JsonObject> {
    let mut schema = (*schema).clone();
    schema.insert("additionalProperties".into(), Value::Bool(false));
    Arc::new(schema)
}

/// Removes `fields` from a schema's `properties` and `required`.
fn without(schema: Arc<JsonObject>, fields: &[&str]) -> Arc<JsonObject> {
    if fields.is_empty() {
        return schema;
    }
    let mut schema = (*schema).clone();
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for field in fields {
            properties.remove(*field);
        }
    }
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|r| !r.as_str().is_some_and(|r| fields.contains(&r)));
    }
    Arc::new(schema)
}

/// Rejects top-level arguments that the tool's input schema does not list, except the
/// `tolerated` ones.
fn reject_unknown(
    tool: &str,
    schema: &JsonObject,
    tolerated: &[&str],
    args: &Value,
) -> Result<(), String> {
    let known = schema.get("properties").and_then(Value::as_object);
    let Some(args) = args.as_object() else {
        return Err(format!("the arguments of {tool} must be an object"));
    };
    let unknown: Vec<&str> = args
        .keys()
        .filter(|k| !known.is_some_and(|p| p.contains_key(*k)))
        .filter(|k| !tolerated.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let expected: Vec<&str> = known
        .into_iter()
        .flat_map(|p| p.keys())
        .map(String::as_str)
        .collect();
    Err(format!(
        "unknown argument{} {} for {tool}; it takes: {}",
        if unknown.len() > 1 { "s" } else { "" },
        unknown.join(", "),
        if expected.is_empty() {
            "no arguments".to_string()
        } else {
            expected.join(", ")
        }
    ))
}

fn parse<T: DeserializeOwned>(ty: &str, op: &str, args: Value) -> Result<T, String> {
    serde_json::from_value(args).map_err(|e| format!("invalid arguments for {ty}.{op}: {e}"))
}

/// The record `id` of type `ty`, or the error a tool answers with.
pub(crate) fn find<'w>(world: &'w World, ty: &str, id: &str) -> Result<&'w Record, String> {
    world
        .get(ty, id)
        .ok_or_else(|| format!("{ty} {id} does not exist"))
}

/// The state of `record` as `K.read` returns it.
pub(crate) fn view<K: Kind>(world: &World, record: &Record, now: u64) -> Result<Value, String> {
    let input: K::Input = serde_json::from_value(record.inputs.clone()).map_err(|e| {
        format!(
            "the stored state of {} {} is damaged: {e}",
            K::TYPE,
            record.id
        )
    })?;
    serde_json::to_value(K::output(world, record, input, now))
        .map_err(|e| format!("cannot encode {} {}: {e}", K::TYPE, record.id))
}

fn create<K: Kind>(world: &mut World, args: Value, now: u64) -> Result<Done, String> {
    let input: K::Input = parse(K::TYPE, "create", args)?;
    K::check(world, &input, None)?;
    let (id, attrs) = K::create(world, &input)?;
    if world.get(K::TYPE, &id).is_some() {
        return Err(format!("{} {id} already exists", K::TYPE));
    }
    let record = Record {
        id: id.clone(),
        created_ms: now,
        changed_ms: now,
        ready_ms: now.saturating_add(world.ready_delay_ms),
        inputs: serde_json::to_value(&input).map_err(|e| e.to_string())?,
        attrs,
    };
    let value = view::<K>(world, &record, now)?;
    world.put(K::TYPE, record);
    Ok(Done {
        value,
        touched: vec![(K::TYPE.to_string(), id)],
    })
}

fn update<K: Kind>(world: &mut World, mut args: Value, now: u64) -> Result<Done, String> {
    let id = parse::<IdArgs>(K::TYPE, "update", args.clone())?.id;
    let record = find(world, K::TYPE, &id)?.clone();
    // The update schema leaves the immutable fields out: keep the stored values for those
    // the caller did not send. Sent ones are compared below like any other input.
    if let Some(sent) = args.as_object_mut() {
        for field in K::IMMUTABLE.unwrap_or(&[]) {
            if let (false, Some(stored)) = (sent.contains_key(*field), record.inputs.get(*field)) {
                sent.insert((*field).to_string(), stored.clone());
            }
        }
    }
    let UpdateArgs { id, inputs } = parse::<UpdateArgs<K::Input>>(K::TYPE, "update", args)?;
    let new_inputs = serde_json::to_value(&inputs).map_err(|e| e.to_string())?;
    for field in K::IMMUTABLE.unwrap_or(&[]) {
        let (old, new) = (record.inputs.get(*field), new_inputs.get(*field));
        if old.unwrap_or(&Value::Null) != new.unwrap_or(&Value::Null) {
            return Err(format!(
                "{field} of {} {id} cannot be changed in place (from {} to {}); replace the resource instead",
                K::TYPE,
                old.unwrap_or(&Value::Null),
                new.unwrap_or(&Value::Null)
            ));
        }
    }
    K::check(world, &inputs, Some(&id))?;
    let mut attrs = record.attrs.clone();
    let restart = K::update(world, &record, &inputs, &mut attrs)?;
    let mut updated = Record {
        inputs: new_inputs,
        attrs,
        ..record
    };
    if restart {
        updated.changed_ms = now;
        updated.ready_ms = now.saturating_add(world.ready_delay_ms);
    }
    let value = view::<K>(world, &updated, now)?;
    world.put(K::TYPE, updated);
    Ok(Done {
        value,
        touched: vec![(K::TYPE.to_string(), id)],
    })
}

fn delete<K: Kind>(world: &mut World, id: &str) -> Result<Done, String> {
    let record = find(world, K::TYPE, id)?;
    K::check_delete(world, record)?;
    let cascade = K::cascade(world, record);
    let mut touched = vec![(K::TYPE.to_string(), id.to_string())];
    for (ty, other) in cascade {
        world.remove(ty, &other);
        touched.push((ty.to_string(), other));
    }
    world.remove(K::TYPE, id);
    Ok(Done {
        value: serde_json::json!({ "id": id, "deleted": true }),
        touched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all_types() -> Result<Vec<TypeDef>, String> {
        let mut all = crate::opnsense::types()?;
        all.extend(crate::aws::types()?);
        all.extend(crate::docker::types()?);
        all.extend(crate::kubernetes::types()?);
        Ok(all)
    }

    fn names(schema: &JsonObject, key: &str) -> Vec<String> {
        match schema.get(key) {
            Some(Value::Object(o)) => o.keys().cloned().collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The published contract: an attribute that create takes and update does not is
    /// force-new, and that set is exactly the type's immutable fields.
    #[test]
    fn update_schemas_leave_out_exactly_the_immutable_fields() -> Result<(), String> {
        for def in all_types()? {
            let create = names(&def.create_schema, "properties");
            let update = names(&def.update_schema, "properties");
            let forced: Vec<&String> = create.iter().filter(|f| !update.contains(f)).collect();
            let mut expected: Vec<&str> = def.immutable.to_vec();
            expected.sort_unstable();
            let mut forced: Vec<&str> = forced.iter().map(|s| s.as_str()).collect();
            forced.sort_unstable();
            assert_eq!(forced, expected, "{}", def.name);
            assert!(update.contains(&"id".to_string()), "{}", def.name);
            for r in names(&def.update_schema, "required") {
                assert!(
                    update.contains(&r),
                    "{}: required {r} not a property",
                    def.name
                );
            }
        }
        Ok(())
    }

    #[test]
    fn update_keeps_immutable_fields_and_refuses_to_change_them() -> Result<(), String> {
        let defs = crate::opnsense::types()?;
        let vlan = defs
            .iter()
            .find(|d| d.name == "network_vlan")
            .ok_or("no network_vlan")?;
        let mut w = World::load(None, "opnsense", 1, 0).map_err(|e| e.to_string())?;
        let made = vlan
            .run(
                &mut w,
                Op::Create,
                json!({"interface": "igb1", "tag": 10, "description": "a"}),
                0,
            )?
            .value;
        let id = made["id"].as_str().unwrap_or_default().to_string();

        // Without the immutable fields: they keep their stored values.
        let updated = vlan
            .run(&mut w, Op::Update, json!({"id": id, "description": "b"}), 0)?
            .value;
        assert_eq!(updated["description"], "b");
        assert_eq!(updated["interface"], "igb1");
        assert_eq!(updated["tag"], 10);

        // The same value again is accepted; a different one is the clear error.
        vlan.run(
            &mut w,
            Op::Update,
            json!({"id": id, "tag": 10, "description": "c"}),
            0,
        )?;
        let err = vlan
            .run(&mut w, Op::Update, json!({"id": id, "tag": 11}), 0)
            .err()
            .unwrap_or_default();
        assert_eq!(
            err,
            format!(
                "tag of network_vlan {id} cannot be changed in place (from 10 to 11); replace the resource instead"
            )
        );

        // Unknown arguments are still refused.
        let err = vlan
            .run(&mut w, Op::Update, json!({"id": id, "colour": "red"}), 0)
            .err()
            .unwrap_or_default();
        assert!(
            err.starts_with("unknown argument colour for network_vlan.update"),
            "{err}"
        );
        Ok(())
    }
}
