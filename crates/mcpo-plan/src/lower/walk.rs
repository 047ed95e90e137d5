//! The walk in dependency order: the config graph's order (a cycle is an error), the
//! instances of repeated blocks (`count`, `for_each`), their arguments, and the
//! instance-level dependencies of each change.

use super::*;

pub(super) fn topo_order(nodes: &BTreeMap<String, Node>) -> Result<Vec<String>, Vec<String>> {
    // Iterative DFS with colours; a back edge is a cycle.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut order = Vec::with_capacity(nodes.len());
    for start in nodes.keys() {
        if state.contains_key(start.as_str()) {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start.as_str(), deps_of(nodes, start))];
        state.insert(start, 1);
        while let Some((key, pending)) = stack.last_mut() {
            if let Some(next) = pending.pop() {
                match state.get(next) {
                    None => {
                        state.insert(next, 1);
                        let d = deps_of(nodes, next);
                        stack.push((next, d));
                    }
                    Some(1) => {
                        let mut cycle: Vec<String> =
                            stack.iter().map(|(k, _)| k.to_string()).collect();
                        if let Some(pos) = cycle.iter().position(|k| k == next) {
                            cycle.drain(..pos);
                        }
                        return Err(cycle);
                    }
                    _ => {}
                }
            } else {
                let key = *key;
                state.insert(key, 2);
                order.push(key.to_string());
                stack.pop();
            }
        }
    }
    Ok(order)
}

pub(super) fn deps_of<'a>(nodes: &'a BTreeMap<String, Node>, key: &str) -> Vec<&'a str> {
    nodes
        .get(key)
        .map(|n| {
            n.refs
                .iter()
                .filter(|r| *r != key)
                .filter_map(|r| nodes.get_key_value(r.as_str()).map(|(k, _)| k.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// The instances of a resource, data or task block.
#[expect(
    clippy::result_large_err,
    reason = "called once per block; the diagnostic is the error"
)]
pub(super) fn expand(
    node: &Node,
    scope: &Scope<'_>,
) -> Result<Vec<(String, InstanceKey)>, Diagnostic> {
    let Some(block) = &node.block else {
        return Ok(Vec::new());
    };
    let unknown = |e: &Expr, what: &str| {
        Diagnostic::error(codes::E0407, node.file, e.span, "instances depend on unknown values")
            .with_primary_label(format!("`{what}` must be known when planning, but this depends on values known only after apply"))
            .with_help("use variables or locals that do not depend on resources, or apply the resources it depends on first (`mcpoc apply` with a smaller workspace)")
    };
    match node.repeat {
        Repeat::One => Ok(vec![(node.key.clone(), InstanceKey::One)]),
        Repeat::Count => {
            let Some(e) = attr(block, "count") else {
                return Ok(Vec::new());
            };
            let v = eval::eval(e, scope).map_err(|err| eval_diag(node.file, err))?;
            match v.unmarked() {
                Val::Unknown => Err(unknown(e, "count")),
                Val::Number(n) if *n >= 0.0 && n.fract() == 0.0 && *n <= 100_000.0 => {
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "checked range"
                    )]
                    let n = *n as usize;
                    Ok((0..n)
                        .map(|i| (format!("{}[{i}]", node.key), InstanceKey::Index(i)))
                        .collect())
                }
                other => Err(eval_diag(
                    node.file,
                    EvalError {
                        message: format!(
                            "`count` must be a whole number from 0 to 100000, not {}",
                            other.display()
                        ),
                        span: e.span,
                    },
                )),
            }
        }
        Repeat::ForEach => {
            let Some(e) = attr(block, "for_each") else {
                return Ok(Vec::new());
            };
            let v = eval::eval(e, scope).map_err(|err| eval_diag(node.file, err))?;
            if !v.is_known() {
                return Err(unknown(e, "for_each"));
            }
            let pairs: Vec<(String, Val)> = match v.unmarked() {
                Val::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                Val::List(items) => {
                    let mut out = Vec::new();
                    for i in items {
                        match eval::to_str(i) {
                            Some(s) => out.push((s.clone(), Val::String(s))),
                            None => {
                                return Err(eval_diag(
                                    node.file,
                                    EvalError {
                                        message:
                                            "a `for_each` list must hold strings (a set of keys)"
                                                .into(),
                                        span: e.span,
                                    },
                                ));
                            }
                        }
                    }
                    out
                }
                other => {
                    return Err(eval_diag(
                        node.file,
                        EvalError {
                            message: format!(
                                "`for_each` takes a map or a set of strings, not {}",
                                other.kind_name()
                            ),
                            span: e.span,
                        },
                    ));
                }
            };
            Ok(pairs
                .into_iter()
                .map(|(k, v)| {
                    let addr = format!("{}[{}]", node.key, serde_json::Value::String(k.clone()));
                    (addr, InstanceKey::Key(k, v))
                })
                .collect())
        }
    }
}

pub(super) fn set_instance(scope: &mut Scope<'_>, key: &InstanceKey) {
    match key {
        InstanceKey::One => {}
        InstanceKey::Index(i) => scope.count_index = Some(Val::Number(*i as f64)),
        InstanceKey::Key(k, v) => scope.each = Some((Val::String(k.clone()), v.clone())),
    }
}

/// A block's arguments: its attributes and nested blocks, without meta-arguments.
pub(super) fn block_args(block: &Block, kind: &Kind, scope: &Scope<'_>) -> Result<Val, EvalError> {
    let meta = if *kind == Kind::Task {
        TASK_META
    } else {
        RESOURCE_META
    };
    let mut out = BTreeMap::new();
    let mut nested: BTreeMap<String, Vec<Val>> = BTreeMap::new();
    for item in &block.body.items {
        match item {
            BodyItem::Attribute(a) if !meta.contains(&a.name.name.as_str()) => {
                out.insert(a.name.name.clone(), eval::eval(&a.value, scope)?);
            }
            BodyItem::Block(b) if !META_BLOCKS.contains(&b.ty.name.as_str()) => {
                let v = block_args(b, &Kind::Resource, scope)?;
                nested.entry(b.ty.name.clone()).or_default().push(v);
            }
            _ => {}
        }
    }
    for (name, mut vs) in nested {
        let v = if vs.len() == 1 {
            vs.remove(0)
        } else {
            Val::List(vs)
        };
        out.insert(name, v);
    }
    Ok(Val::Map(out))
}

pub(super) fn aggregate(repeat: Repeat, mut values: Vec<(InstanceKey, Val)>) -> Val {
    match repeat {
        Repeat::One => values.pop().map_or(Val::Unknown, |(_, v)| v),
        Repeat::Count => Val::List(values.into_iter().map(|(_, v)| v).collect()),
        Repeat::ForEach => Val::Map(
            values
                .into_iter()
                .filter_map(|(k, v)| match k {
                    InstanceKey::Key(k, _) => Some((k, v)),
                    _ => None,
                })
                .collect(),
        ),
    }
}

/// The resource/data/task instances a config node depends on, through locals, params,
/// outputs and modules.
pub(super) fn instance_deps(
    program: &Program,
    key: &str,
    memo: &mut BTreeMap<String, BTreeSet<String>>,
    depth: usize,
) -> BTreeSet<String> {
    if let Some(d) = memo.get(key) {
        return d.clone();
    }
    let mut out = BTreeSet::new();
    if let Some(node) = program.nodes.get(key)
        && depth < 512
    {
        for r in &node.refs {
            let Some(dep) = program.nodes.get(r) else {
                continue;
            };
            if r == key {
                continue;
            }
            match dep.kind {
                Kind::Resource | Kind::Data | Kind::Task => {
                    out.extend(dep.instances.iter().map(|(a, _)| a.clone()));
                }
                _ => out.extend(instance_deps(program, r, memo, depth + 1)),
            }
        }
    }
    memo.insert(key.to_string(), out.clone());
    out
}

/// Walks the config nodes in dependency order: evaluates each one with the values
/// planned before it, expands resources, data reads and tasks into instances, reads data
/// that can be read now, and diffs each instance against the state. Returns the changes;
/// problems go to `diags`.
pub(super) fn walk(
    program: &mut Program,
    nodes: &mut BTreeMap<String, Node>,
    order: &[String],
    catalogs: &BTreeMap<String, &Catalog>,
    inputs: &PlanInputs<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Change> {
    let mut changes: Vec<Change> = Vec::new();
    for key in order {
        let Some(mut node) = nodes.remove(key) else {
            continue;
        };
        let value = {
            let lookup = &program.planned;
            let mut scope = Scope::new(lookup, &program.servers, &program.functions, inputs.io);
            scope.prefix = node.prefix.clone();
            scope.impure_unknown = true;
            // A param of a repeated `use` sees its instance's `count.index` / `each`.
            set_instance(&mut scope, &node.inst);
            match &node.kind {
                Kind::Var => program.vars.get(key).cloned().unwrap_or(Val::Unknown),
                Kind::Local | Kind::Param | Kind::Output => match &node.expr {
                    Some(e) => match eval::eval(e, &scope) {
                        Ok(v) if node.sensitive => v.mark_sensitive(),
                        Ok(v) => v,
                        Err(e) => {
                            diags.push(eval_diag(node.file, e));
                            Val::Unknown
                        }
                    },
                    None => Val::Null,
                },
                Kind::Module { outputs } => Val::Map(
                    outputs
                        .iter()
                        .map(|o| {
                            let v = lookup
                                .get(&format!("{key}.output.{o}"))
                                .cloned()
                                .unwrap_or(Val::Unknown);
                            (o.clone(), v)
                        })
                        .collect(),
                ),
                Kind::ModuleSet { members } => aggregate(
                    node.repeat,
                    members
                        .iter()
                        .map(|(k, m)| (k.clone(), lookup.get(m).cloned().unwrap_or(Val::Unknown)))
                        .collect(),
                ),
                Kind::Resource | Kind::Data | Kind::Task => {
                    match expand(&node, &scope) {
                        Ok(instances) => node.instances = instances,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    }
                    let mut per_instance = Vec::new();
                    for (addr, ik) in &node.instances {
                        let mut s =
                            Scope::new(lookup, &program.servers, &program.functions, inputs.io);
                        s.prefix = node.prefix.clone();
                        s.impure_unknown = true;
                        s.tools = inputs.reader;
                        set_instance(&mut s, ik);
                        let args = match node.block.as_ref().map(|b| block_args(b, &node.kind, &s))
                        {
                            Some(Ok(a)) => a,
                            Some(Err(e)) => {
                                diags.push(eval_diag(node.file, e));
                                continue;
                            }
                            None => continue,
                        };
                        let catalog = catalogs.get(&node.server).copied();
                        let driver = program.drivers.get(&node.server, &node.type_name);
                        let (change, value) = match node.kind {
                            Kind::Resource => diff_resource(
                                &node,
                                addr,
                                &args,
                                inputs.state.resources.get(addr),
                                catalog,
                                driver.as_ref(),
                            ),
                            Kind::Task => {
                                let triggers = node
                                    .block
                                    .as_ref()
                                    .and_then(|b| attr(b, "triggers"))
                                    .map(|t| eval::eval(t, &s))
                                    .transpose();
                                let triggers = match triggers {
                                    Ok(t) => t.unwrap_or(Val::Null),
                                    Err(e) => {
                                        diags.push(eval_diag(node.file, e));
                                        continue;
                                    }
                                };
                                diff_task(
                                    &node,
                                    addr,
                                    &args,
                                    &triggers,
                                    inputs.state.resources.get(addr),
                                )
                            }
                            _ => match read_data(&args, driver.as_ref(), inputs.reader) {
                                Ok(Some(v)) => (None, v),
                                Ok(None) => (Some(data_change(&node, addr, &args)), Val::Unknown),
                                Err(message) => {
                                    diags.push(
                                        Diagnostic::error(
                                            codes::E0402,
                                            node.file,
                                            node.span,
                                            "data read failed",
                                        )
                                        .with_primary_label(message),
                                    );
                                    continue;
                                }
                            },
                        };
                        if let Some(c) = change {
                            changes.push(c);
                        }
                        program
                            .planned_instances
                            .insert(addr.clone(), value.clone());
                        per_instance.push((ik.clone(), value));
                    }
                    aggregate(node.repeat, per_instance)
                }
            }
        };
        program.planned.insert(key.clone(), value);
        for (addr, _) in &node.instances {
            program.instances.insert(addr.clone(), key.clone());
        }
        program.nodes.insert(key.clone(), node);
    }
    changes
}
