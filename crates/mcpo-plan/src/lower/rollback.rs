//! Rollback: a plan that brings the managed resources back to what an earlier version of
//! the state recorded (`mcpoc rollback`), and the arguments its steps are called with.
//!
//! The earlier version is the configuration: each resource it records is diffed against
//! the current (refreshed) state by the same rule as a normal plan ([`diff_resource`]):
//! created when it is gone, updated in place where its driver can, replaced otherwise;
//! what the current state holds and the earlier version does not is deleted, dependents
//! first. Nothing can bring back a deleted resource's id: it comes back as a new one,
//! and the resources that recorded the old id (its dependents) are given the new one.
//! The plan says so in its notes, with the other things a rollback does not restore
//! (tasks that ran, data reads, the workspace's files).

use super::diff::{diff_resource, removal_change};
use super::{InstanceKey, Kind, Node, Repeat};
use crate::Val;
use crate::driver::resource_value;
use crate::driver::{Drivers, id_of};
use crate::plan::{Action, Change, OutputChange, PLAN_FORMAT_VERSION, Plan, PlanMode};
use mcpo_state::{ResourceState, State};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A managed resource's address (not a data read, not a task).
fn managed(address: &str) -> bool {
    matches!(
        mcpo_address::Address::parse(address).map(|a| a.kind),
        Ok(mcpo_address::Kind::Resource)
    )
}

fn is_task(address: &str) -> bool {
    matches!(
        mcpo_address::Address::parse(address).map(|a| a.kind),
        Ok(mcpo_address::Kind::Task)
    )
}

/// The values of `r` that a new instance of it would not keep: its id and the string
/// outputs it computed (not among its inputs, which the rollback sends again).
fn volatile(r: &ResourceState) -> Vec<(String, String)> {
    let mut out = vec![("id".to_string(), r.id.clone())];
    if let Some(o) = r.outputs.as_object() {
        let inputs = r.inputs.as_object();
        for (k, v) in o {
            if k == "id" || inputs.is_some_and(|i| i.contains_key(k)) {
                continue;
            }
            if let Value::String(s) = v
                && !s.is_empty()
            {
                out.push((k.clone(), s.clone()));
            }
        }
    }
    out
}

/// Whether `v` holds the string `s` anywhere.
fn holds(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => x == s,
        Value::Array(items) => items.iter().any(|i| holds(i, s)),
        Value::Object(m) => m.values().any(|i| holds(i, s)),
        _ => false,
    }
}

/// `v` with every string equal to a `from` replaced by its `to`.
fn substitute(v: &Value, pairs: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(pairs.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, pairs)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, i)| (k.clone(), substitute(i, pairs)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The resources of `state` in an order where each comes after what it recorded depending
/// on (a recorded cycle, which apply never leaves, is broken by address order).
fn dependency_order(resources: &BTreeMap<&String, &ResourceState>) -> Vec<String> {
    let mut waiting: BTreeMap<&str, BTreeSet<&str>> = resources
        .iter()
        .map(|(a, r)| {
            let deps = r
                .deps
                .iter()
                .map(String::as_str)
                .filter(|d| *d != a.as_str() && resources.contains_key(&d.to_string()))
                .collect();
            (a.as_str(), deps)
        })
        .collect();
    let mut order = Vec::new();
    while !waiting.is_empty() {
        let ready: Vec<&str> = waiting
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(a, _)| *a)
            .collect();
        let next: Vec<&str> = if ready.is_empty() {
            waiting.keys().take(1).copied().collect()
        } else {
            ready
        };
        for a in next {
            waiting.remove(a);
            for deps in waiting.values_mut() {
                deps.remove(a);
            }
            order.push(a.to_string());
        }
    }
    order
}

fn bare_node(r: &ResourceState) -> Node {
    Node {
        key: String::new(),
        kind: Kind::Resource,
        prefix: String::new(),
        file: mcpo_diagnostics::FileId::default(),
        span: mcpo_diagnostics::Span::default(),
        expr: None,
        block: None,
        server: r.server.clone(),
        type_name: r.type_name.clone(),
        refs: BTreeSet::new(),
        repeat: Repeat::One,
        instances: Vec::new(),
        sensitive: false,
        inst: InstanceKey::One,
    }
}

/// Plans the managed resources of `current` back to what `target` (an earlier version of
/// the same state) recorded. Errors name a resource that cannot be deleted.
pub fn rollback(target: &State, current: &State, drivers: &Drivers) -> Result<Plan, String> {
    let wanted: BTreeMap<&String, &ResourceState> = target
        .resources
        .iter()
        .filter(|(a, _)| managed(a))
        .collect();
    let mut changes: Vec<Change> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut recreated: BTreeSet<String> = BTreeSet::new();
    // What each resource is now, as a dependent reads it.
    let now: BTreeMap<String, Value> = current
        .resources
        .iter()
        .map(|(a, r)| {
            let mut v = resource_value(&r.inputs, &r.outputs);
            if let Value::Object(m) = &mut v {
                m.insert("id".into(), Value::String(r.id.clone()));
            }
            (a.clone(), v)
        })
        .collect();
    for address in dependency_order(&wanted) {
        let Some(t) = target.resources.get(&address) else {
            continue;
        };
        let prior = current.resources.get(&address);
        // What a recreated dependency computed comes back different: known after apply.
        let stale: Vec<String> = t
            .deps
            .iter()
            .filter(|d| recreated.contains(*d))
            .filter_map(|d| target.resources.get(d))
            .flat_map(|r| volatile(r).into_iter().map(|(_, v)| v))
            .collect();
        // A dependency that is another resource now than then (replaced since) is given
        // under its current values.
        let kept = t.deps.iter().filter(|d| !recreated.contains(*d));
        let inputs = substitute(&t.inputs, &renewed(target, kept, &now));
        let mut args: BTreeMap<String, Val> = BTreeMap::new();
        for (k, v) in inputs.as_object().into_iter().flatten() {
            let val = if stale.iter().any(|s| holds(v, s)) {
                Val::Unknown
            } else {
                Val::from_json(v)
            };
            let val = if t.sensitive.contains(k) {
                val.mark_sensitive()
            } else {
                val
            };
            args.insert(k.clone(), val);
        }
        let driver = drivers.get(&t.server, &t.type_name);
        let (change, _) = diff_resource(
            &bare_node(t),
            &address,
            &Val::Map(args),
            prior,
            None,
            driver.as_ref(),
        );
        let Some(mut change) = change else {
            continue;
        };
        change.sensitive.extend(t.sensitive.iter().cloned());
        change.sensitive.sort();
        change.sensitive.dedup();
        match change.action {
            Action::Create => {
                recreated.insert(address.clone());
                notes.push(format!(
                    "{address} comes back as a new resource: it had id `{}`, and its server gives the new one another id",
                    t.id
                ));
            }
            Action::Replace => {
                recreated.insert(address.clone());
                notes.push(format!(
                    "{address} is replaced: the new one gets a new id (the recorded version had `{}`)",
                    t.id
                ));
            }
            _ => {}
        }
        change.deps = t
            .deps
            .iter()
            .filter(|d| wanted.contains_key(d))
            .cloned()
            .collect();
        changes.push(change);
    }
    // What exists now and did not then is deleted after every change of what depends on
    // it now (its dependents' deletes, and the updates that stop them using it).
    let mut deleting: Vec<Change> = Vec::new();
    for (address, r) in &current.resources {
        if !managed(address) || wanted.contains_key(address) {
            continue;
        }
        deleting.push(removal_change(address, r, drivers)?);
    }
    let acting: BTreeSet<String> = changes
        .iter()
        .chain(&deleting)
        .filter(|c| c.action != Action::NoOp)
        .map(|c| c.address.clone())
        .collect();
    for c in &mut deleting {
        c.deps = current
            .resources
            .iter()
            .filter(|(a, r)| acting.contains(*a) && *a != &c.address && r.deps.contains(&c.address))
            .map(|(a, _)| a.clone())
            .collect();
    }
    changes.extend(deleting);
    // Tasks and data reads are not resources to restore.
    let tasks: BTreeSet<&String> = target
        .resources
        .keys()
        .chain(current.resources.keys())
        .filter(|a| is_task(a))
        .collect();
    for task in tasks {
        match (target.resources.get(task), current.resources.get(task)) {
            (Some(t), Some(c)) if t.inputs == c.inputs => {}
            (_, Some(_)) => notes.push(format!(
                "{task} ran after that version; a rollback does not undo a task (its `undo`, if any, runs when the workspace stops declaring it)"
            )),
            (Some(_), None) => notes.push(format!(
                "{task} is not run again; apply the workspace to run its tasks"
            )),
            (None, None) => {}
        }
    }
    for i in &target.intents {
        notes.push(format!(
            "that version recorded an unfinished {} of {}: it is not repeated",
            format!("{:?}", i.op).to_lowercase(),
            i.address
        ));
    }
    notes.push(
        "the workspace's files are not changed: until they describe this version again, `mcpoc plan` proposes the later one"
            .to_string(),
    );
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let outputs = restored_output_changes(target, current);
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        mode: PlanMode::Normal,
        lineage: current.lineage.clone(),
        serial: current.serial,
        sources: Vec::new(),
        variables: BTreeMap::new(),
        changes,
        outputs,
        notes,
    })
}

fn restored_output_changes(target: &State, current: &State) -> Vec<OutputChange> {
    let names: BTreeSet<&String> = target
        .outputs
        .keys()
        .chain(current.outputs.keys())
        .collect();
    names
        .into_iter()
        .map(|name| {
            let t = target.outputs.get(name);
            let c = current.outputs.get(name);
            let sensitive = t.is_some_and(|o| o.sensitive) || c.is_some_and(|o| o.sensitive);
            let display = match t {
                _ if sensitive => "(sensitive value)".to_string(),
                Some(o) => Val::from_json(&o.value).display(),
                None => "(removed)".to_string(),
            };
            OutputChange {
                name: name.clone(),
                display,
                value: t.map(|o| o.value.clone()),
                sensitive,
                changed: t.map(|o| &o.value) != c.map(|o| &o.value),
            }
        })
        .collect()
}

/// The pairs (old value -> new value) of the resources of `target` that came back with
/// other values: the id and computed outputs `values` (the finished steps' values) hold
/// now for what the earlier version recorded. Only `among` are looked at.
fn renewed<'a>(
    target: &State,
    among: impl IntoIterator<Item = &'a String>,
    values: &BTreeMap<String, Value>,
) -> BTreeMap<String, String> {
    let mut pairs = BTreeMap::new();
    for address in among {
        let (Some(old), Some(new)) = (target.resources.get(address), values.get(address)) else {
            continue;
        };
        for (key, was) in volatile(old) {
            let now = if key == "id" {
                id_of(new)
            } else {
                new.get(&key).and_then(Value::as_str).map(str::to_string)
            };
            if let Some(now) = now
                && now != was
            {
                pairs.insert(was, now);
            }
        }
    }
    pairs
}

/// The arguments a rollback sends for `address`: the inputs `target` recorded, with the
/// ids (and computed values) of the dependencies that came back as new resources
/// replaced by theirs. `None` when `target` does not record `address`.
pub fn restored_inputs(
    target: &State,
    address: &str,
    values: &BTreeMap<String, Value>,
) -> Option<Value> {
    let t = target.resources.get(address)?;
    let pairs = renewed(target, &t.deps, values);
    Some(substitute(&t.inputs, &pairs))
}

/// The workspace outputs `target` recorded, with the values of resources that came back as
/// new ones replaced: name -> (value, sensitive).
pub fn restored_outputs(
    target: &State,
    values: &BTreeMap<String, Value>,
) -> BTreeMap<String, (Value, bool)> {
    let pairs = renewed(target, target.resources.keys(), values);
    target
        .outputs
        .iter()
        .map(|(k, o)| (k.clone(), (substitute(&o.value, &pairs), o.sensitive)))
        .collect()
}
