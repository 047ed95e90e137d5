//! The diff of each instance against the state: create, update (what the driver can
//! change in place), replace, delete, forget, read, run; and the order of deletes.

use super::*;

pub(super) fn output_attrs(
    catalog: Option<&Catalog>,
    type_name: &str,
) -> Option<BTreeMap<String, Ty>> {
    let rt = catalog?.resource_types.get(type_name)?;
    match rt.output.strip_sensitive() {
        Ty::Object(o) => Some(
            o.attrs
                .iter()
                .map(|(k, a)| (k.clone(), a.ty.clone()))
                .collect(),
        ),
        _ => None,
    }
}

pub(super) fn known_json(v: &Val) -> serde_json::Value {
    v.to_json().unwrap_or(serde_json::Value::Null)
}

pub(super) fn args_json(args: &BTreeMap<String, Val>) -> (serde_json::Value, Vec<String>) {
    let mut obj = serde_json::Map::new();
    let mut unknown = Vec::new();
    for (k, v) in args {
        match v.to_json() {
            Some(j) => {
                obj.insert(k.clone(), j);
            }
            None => {
                unknown.push(k.clone());
                obj.insert(k.clone(), serde_json::Value::Null);
            }
        }
    }
    (serde_json::Value::Object(obj), unknown)
}

pub(super) fn diff_resource(
    node: &Node,
    addr: &str,
    args: &Val,
    prior: Option<&ResourceState>,
    catalog: Option<&Catalog>,
    driver: &dyn Driver,
) -> (Option<Change>, Val) {
    let args_map = object(args);
    let out_types = driver
        .output_types()
        .or_else(|| output_attrs(catalog, &node.type_name));
    let updatable = driver.update_attrs(&args_map.keys().cloned().collect());
    let sensitive_out: BTreeSet<String> = out_types
        .iter()
        .flatten()
        .filter(|(_, t)| matches!(t, Ty::Sensitive(_)))
        .map(|(k, _)| k.clone())
        .collect();
    let sensitive_in: BTreeSet<String> = catalog
        .and_then(|c| c.resource_types.get(&node.type_name))
        .and_then(|rt| match rt.input.strip_sensitive() {
            Ty::Object(o) => Some(
                o.attrs
                    .iter()
                    .filter(|(_, a)| matches!(a.ty, Ty::Sensitive(_)))
                    .map(|(k, _)| k.clone())
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    let mut sensitive: BTreeSet<String> = args_map
        .iter()
        .filter(|(_, v)| v.is_sensitive())
        .map(|(k, _)| k.clone())
        .collect();
    sensitive.extend(sensitive_out.iter().cloned());
    sensitive.extend(sensitive_in);
    if let Some(p) = prior {
        sensitive.extend(p.sensitive.iter().cloned());
    }
    let (after, after_unknown) = args_json(args_map);
    let mut change = Change {
        address: addr.to_string(),
        kind: NodeKind::Resource,
        action: Action::Create,
        server: node.server.clone(),
        type_name: node.type_name.clone(),
        id: prior.map(|p| p.id.clone()),
        deps: Vec::new(),
        after,
        after_unknown,
        attrs: Vec::new(),
        reasons: Vec::new(),
        update_attrs: updatable.iter().flatten().cloned().collect(),
        sensitive: sensitive.iter().cloned().collect(),
    };
    let show = |name: &str, v: &Val| {
        if sensitive.contains(name) || v.is_sensitive() {
            "(sensitive value)".to_string()
        } else {
            v.display()
        }
    };
    // What a new instance looks like before it exists: known inputs, unknown outputs.
    let fresh = || {
        let mut m: BTreeMap<String, Val> = BTreeMap::new();
        if let Some(types) = &out_types {
            for k in types.keys() {
                m.insert(k.clone(), Val::Unknown);
            }
        }
        // Every input is readable on the resource, as in Terraform.
        for (k, v) in args_map {
            m.insert(k.clone(), v.clone());
        }
        m.insert("id".into(), Val::Unknown);
        mark_attrs(m, &sensitive)
    };
    let Some(prior) = prior else {
        change.attrs = args_map
            .iter()
            .map(|(k, v)| AttrChange {
                name: k.clone(),
                before: None,
                after: Some(show(k, v)),
                force_new: false,
                sensitive: sensitive.contains(k),
            })
            .collect();
        return (Some(change), fresh());
    };
    let prior_in = prior.inputs.as_object();
    let prior_out = prior.outputs.as_object();
    let mut names: BTreeSet<&String> = args_map.keys().collect();
    if let Some(pi) = prior_in {
        names.extend(pi.keys());
    }
    let mut changed_force_new = Vec::new();
    for name in names {
        let before = prior_out
            .and_then(|o| o.get(name))
            .or_else(|| prior_in.and_then(|i| i.get(name)))
            .map(Val::from_json);
        let after = args_map.get(name);
        let same = match (&before, after) {
            // The server may fill defaults inside nested values (a port's protocol): what
            // is declared must be part of what it reports, and equal to what was last
            // sent (so that removing a nested key is still a change).
            (Some(b), Some(a)) => {
                a.is_known()
                    && declared_in(a, b)
                    && prior_in
                        .and_then(|i| i.get(name))
                        .is_none_or(|sent| equal(a, &Val::from_json(sent)))
            }
            (None, None) => true,
            // Set before only as a computed output, never sent: not ours to manage.
            (Some(_), None) => !prior_in.is_some_and(|i| i.contains_key(name)),
            (None, Some(a)) => matches!(a, Val::Null),
        };
        if same {
            continue;
        }
        let force_new = updatable
            .as_ref()
            .is_none_or(|u| !u.contains(name.as_str()));
        if force_new {
            changed_force_new.push(name.clone());
        }
        change.attrs.push(AttrChange {
            name: name.clone(),
            before: before.as_ref().map(|b| show(name, b)),
            after: after.map(|a| show(name, a)),
            force_new,
            sensitive: sensitive.contains(name.as_str()),
        });
    }
    let type_changed = prior.type_name != node.type_name || prior.server != node.server;
    if prior.tainted || type_changed || !changed_force_new.is_empty() {
        change.action = Action::Replace;
        if prior.tainted {
            change
                .reasons
                .push("the resource is tainted (its last create or update did not finish)".into());
        }
        if type_changed {
            change.reasons.push(format!(
                "its type changed from {}.{}",
                prior.server, prior.type_name
            ));
        }
        if updatable.is_none() && !changed_force_new.is_empty() {
            change.reasons.push(format!(
                "{}.{} has no update tool",
                node.server, node.type_name
            ));
        } else {
            for a in &changed_force_new {
                change.reasons.push(format!("`{a}` cannot change in place"));
            }
        }
        return (Some(change), fresh());
    }
    let mut current: BTreeMap<String, Val> = match Val::from_json(&crate::driver::resource_value(
        &prior.inputs,
        &prior.outputs,
    )) {
        Val::Map(m) => m,
        _ => BTreeMap::new(),
    };
    current.insert("id".into(), Val::String(prior.id.clone()));
    if change.attrs.is_empty() {
        change.action = Action::NoOp;
        return (Some(change), mark_attrs(current, &sensitive));
    }
    change.action = Action::Update;
    for (k, v) in args_map {
        current.insert(k.clone(), v.clone());
    }
    (Some(change), mark_attrs(current, &sensitive))
}

/// Whether a declared value is found in what the server reports: equal, except that
/// objects may hold more keys (defaults the server filled in), at any depth.
pub(super) fn declared_in(declared: &Val, live: &Val) -> bool {
    match (declared.unmarked(), live.unmarked()) {
        (Val::Map(d), Val::Map(l)) => d.iter().all(|(k, v)| match l.get(k) {
            Some(lv) => declared_in(v, lv),
            None => matches!(v.unmarked(), Val::Null),
        }),
        (Val::List(d), Val::List(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| declared_in(a, b))
        }
        _ => equal(declared, live),
    }
}

/// The attributes of an object value (none for anything else).
pub(super) fn object(v: &Val) -> &BTreeMap<String, Val> {
    static EMPTY: BTreeMap<String, Val> = BTreeMap::new();
    match v {
        Val::Map(m) => m,
        _ => &EMPTY,
    }
}

pub(super) fn mark_attrs(m: BTreeMap<String, Val>, sensitive: &BTreeSet<String>) -> Val {
    Val::Map(
        m.into_iter()
            .map(|(k, v)| {
                let v = if sensitive.contains(&k) {
                    v.mark_sensitive()
                } else {
                    v
                };
                (k, v)
            })
            .collect(),
    )
}

/// What state records as a task's inputs: its arguments and triggers.
pub fn task_inputs(args: &serde_json::Value, triggers: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "args": args, "triggers": triggers })
}

/// The undo call a task recorded when it ran (`undo` in its recorded inputs), if any.
pub fn task_undo(inputs: &serde_json::Value) -> Option<crate::driver::Call> {
    let u = inputs.get("undo")?;
    Some(crate::driver::Call {
        server: u.get("server")?.as_str()?.to_string(),
        tool: u.get("tool")?.as_str()?.to_string(),
        args: u.get("args").cloned().unwrap_or(serde_json::Value::Null),
    })
}

pub(super) fn diff_task(
    node: &Node,
    addr: &str,
    args: &Val,
    triggers: &Val,
    prior: Option<&ResourceState>,
) -> (Option<Change>, Val) {
    let args_map = object(args);
    let (after, after_unknown) = args_json(args_map);
    let recorded = task_inputs(&after, &known_json(triggers));
    // The undo call recorded beside them is not part of what makes a task run again.
    let same = prior.is_some_and(|p| {
        args.is_known()
            && triggers.is_known()
            && p.inputs.get("args") == recorded.get("args")
            && p.inputs.get("triggers") == recorded.get("triggers")
            && !p.tainted
    });
    let mut change = Change {
        address: addr.to_string(),
        kind: NodeKind::Task,
        action: if same { Action::NoOp } else { Action::Run },
        server: node.server.clone(),
        type_name: node.type_name.clone(),
        id: prior.map(|p| p.id.clone()),
        deps: Vec::new(),
        after,
        after_unknown,
        attrs: Vec::new(),
        reasons: Vec::new(),
        update_attrs: Vec::new(),
        sensitive: args_map
            .iter()
            .filter(|(_, v)| v.is_sensitive())
            .map(|(k, _)| k.clone())
            .collect(),
    };
    if same {
        let v = prior.map_or(Val::Unknown, |p| Val::from_json(&p.outputs));
        return (Some(change), v);
    }
    if prior.is_some() {
        change
            .reasons
            .push("its arguments or triggers changed".into());
    }
    change.attrs = args_map
        .iter()
        .map(|(k, v)| AttrChange {
            name: k.clone(),
            before: None,
            after: Some(if v.is_sensitive() {
                "(sensitive value)".into()
            } else {
                v.display()
            }),
            force_new: false,
            sensitive: v.is_sensitive(),
        })
        .collect();
    (Some(change), Val::Unknown)
}

pub(super) fn data_change(node: &Node, addr: &str, args: &Val) -> Change {
    let args_map = object(args);
    let (after, after_unknown) = args_json(args_map);
    Change {
        after,
        after_unknown,
        reasons: vec!["its arguments are known only after apply".into()],
        ..Change::new(
            addr,
            NodeKind::Data,
            Action::Read,
            &node.server,
            &node.type_name,
        )
    }
}

/// Reads a data source now, as its type's driver says; `None` when it must wait for apply
/// (no reader, or arguments known only then).
pub(super) fn read_data(
    args: &Val,
    driver: &dyn Driver,
    reader: Option<&dyn ToolCaller>,
) -> Result<Option<Val>, String> {
    let Some(reader) = reader else {
        return Ok(None);
    };
    let Some(json) = args.to_json() else {
        return Ok(None);
    };
    let query = driver
        .data_query(&json)?
        .ok_or_else(|| "the type has no tool that reads it".to_string())?;
    let call = query.call();
    let result = reader.call(&call.server, &call.tool, call.args.clone())?;
    driver
        .data_result(&query, &json, result)
        .map(|v| Some(Val::from_json(&v)))
}

/// What becomes of something in the state that is no longer declared, or is destroyed: a
/// resource is deleted (or forgotten, when its type has no delete and its adapter says
/// it may be forgotten); a data read is forgotten; a task runs the undo call it recorded,
/// or is forgotten when it has none.
///
/// A resource whose adapter has no delete and may not be forgotten is an error (E0409).
pub(super) fn removal_change(
    addr: &str,
    r: &ResourceState,
    drivers: &Drivers,
) -> Result<Change, String> {
    let kind = match mcpo_address::Address::parse(addr).map(|a| a.kind) {
        Ok(mcpo_address::Kind::Data) => NodeKind::Data,
        Ok(mcpo_address::Kind::Task) => NodeKind::Task,
        _ => NodeKind::Resource,
    };
    let (action, reason) = match kind {
        NodeKind::Resource => {
            let driver = drivers.get(&r.server, &r.type_name);
            // A type the server's tools should cover (the convention) is deleted through
            // them; when the tool is missing the executor says so and calls nothing.
            if driver.supports(crate::driver::Op::Delete) || !driver.declared() {
                (Action::Delete, None)
            } else if driver.forgets() {
                (
                    Action::Forget,
                    Some(
                        "its adapter has no `delete` (`forget_on_delete`): it stays on the server",
                    ),
                )
            } else {
                return Err(format!(
                    "{addr} cannot be deleted: `{}.{}` has no `delete`",
                    r.server, r.type_name
                ));
            }
        }
        NodeKind::Data => (Action::Forget, Some("a data read leaves nothing to delete")),
        NodeKind::Task if crate::lower::task_undo(&r.inputs).is_some() => {
            (Action::Delete, Some("runs its recorded `undo` call"))
        }
        NodeKind::Task => (
            Action::Forget,
            Some("a task without `undo` is not undone, only forgotten"),
        ),
    };
    Ok(Change {
        id: Some(r.id.clone()),
        sensitive: r.sensitive.clone(),
        reasons: reason.map(str::to_string).into_iter().collect(),
        ..Change::new(addr, kind, action, &r.server, &r.type_name)
    })
}

/// Orders the deletes of a plan: a resource is deleted only after everything that depends
/// on it is deleted, by what the state recorded when it was applied and by what the
/// workspace declares (directly or through locals, params and outputs); a resource adopted
/// after an interrupted run has no recorded dependencies.
pub(super) fn order_deletes(changes: &mut [Change], state: &State, program: &Program) {
    let deleting: BTreeSet<String> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.address.clone())
        .collect();
    // The declared block of each address being deleted.
    let block_of = |address: &str| -> String {
        program.instances.get(address).cloned().unwrap_or_else(|| {
            mcpo_address::Address::parse(address)
                .map(|a| a.config().to_string())
                .unwrap_or_else(|_| address.to_string())
        })
    };
    let mut by_block: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &deleting {
        by_block.entry(block_of(a)).or_default().push(a.clone());
    }
    // The resource blocks each block depends on, looking through other nodes (memoized).
    let mut memo: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut resource_deps = |key: &str| -> BTreeSet<String> {
        if let Some(found) = memo.get(key) {
            return found.clone();
        }
        let mut found = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = program
            .nodes
            .get(key)
            .map(|n| n.refs.iter().cloned().collect())
            .unwrap_or_default();
        while let Some(k) = todo.pop() {
            if !seen.insert(k.clone()) {
                continue;
            }
            match program.nodes.get(&k) {
                Some(n) if n.kind == Kind::Resource => {
                    found.insert(k);
                }
                Some(n) => todo.extend(n.refs.iter().cloned()),
                None => {}
            }
        }
        memo.insert(key.to_string(), found.clone());
        found
    };
    // address -> the deletes that must finish before it.
    let mut waits: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, r) in &state.resources {
        if !deleting.contains(a) {
            continue;
        }
        for d in &r.deps {
            if deleting.contains(d) && d != a {
                waits.entry(d.clone()).or_default().insert(a.clone());
            }
        }
    }
    for (block, dependents) in &by_block {
        for dep_block in resource_deps(block) {
            for target in by_block.get(&dep_block).into_iter().flatten() {
                for a in dependents {
                    if a != target {
                        waits.entry(target.clone()).or_default().insert(a.clone());
                    }
                }
            }
        }
    }
    for c in changes.iter_mut().filter(|c| c.action == Action::Delete) {
        c.deps = waits
            .remove(&c.address)
            .map(|w| w.into_iter().collect())
            .unwrap_or_default();
    }
}
