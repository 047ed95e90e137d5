//! Refresh (read every resource through its server: drift, deletions outside mcpo, and
//! the intents a crashed apply left behind) and import.

use crate::events::Events;
use crate::ops::{CallError, Resource, Runner};
use crate::{Connections, ExecError, RetryPolicy};
use futures::StreamExt;
use mcpo_diagnostics::codes;
use mcpo_plan::Drivers;
use mcpo_plan::driver::{Op, Reading, Target};
use mcpo_state::{Intent, IntentOp, ResourceState, State};
use serde_json::Value;
use std::collections::BTreeSet;

/// How to refresh.
#[derive(Debug, Clone, Copy)]
pub struct RefreshOptions {
    /// Reads in flight at once, across all servers (each server also has its own limit).
    pub parallelism: usize,
    /// Retries of transient failures (reads are idempotent).
    pub retry: RetryPolicy,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        RefreshOptions {
            parallelism: 64,
            retry: RetryPolicy::default(),
        }
    }
}

/// A resource that no longer exists on its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    /// Its address.
    pub address: String,
    /// Its server.
    pub server: String,
    /// Its type.
    pub type_name: String,
    /// Its id.
    pub id: String,
}

/// An attribute changed outside mcpo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The resource's address.
    pub address: String,
    /// The attribute.
    pub attribute: String,
    /// The value mcpo recorded (JSON, or `(sensitive)`).
    pub recorded: String,
    /// The value the server reports now (JSON, or `(sensitive)`).
    pub live: String,
}

/// What a refresh found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshReport {
    /// Resources read.
    pub read: usize,
    /// Resources deleted outside mcpo (removed from the state).
    pub gone: Vec<Gone>,
    /// Attributes changed outside mcpo (the state now holds the live values, so the next
    /// plan changes them back).
    pub drift: Vec<Drift>,
    /// Pending creates whose resource was found and adopted: (address, id).
    pub adopted: Vec<(String, String)>,
    /// Intents resolved without adopting anything: (address, what was found).
    pub resolved: Vec<(String, String)>,
    /// Reads that failed (the recorded state is kept) and ambiguous intents (kept).
    pub errors: Vec<ExecError>,
}

enum Read {
    Live(Value),
    Gone,
    Failed(ExecError),
}

/// Reads resource `id` at `address` through its type's driver.
async fn read(runner: Runner<'_>, r: &Resource<'_>, id: &str, inputs: &Value) -> Read {
    match runner
        .perform(r, Op::Read, &Target::existing(inputs, id))
        .await
    {
        Ok(Reading::Resource { outputs, .. }) => Read::Live(outputs),
        Ok(_) | Err(CallError { gone: true, .. }) => Read::Gone,
        Err(CallError { error, .. }) => Read::Failed(error),
    }
}

fn show(v: Option<&Value>, sensitive: bool) -> String {
    if sensitive {
        return "(sensitive)".into();
    }
    v.map_or_else(|| "null".into(), Value::to_string)
}

/// Reads every resource of `state` through its server (concurrently, bounded), as each
/// type's driver in `drivers` says, updates the state to what exists, and reconciles
/// pending intents. Data reads and tasks are not read back. The caller writes the state.
pub async fn refresh(
    conns: &Connections,
    drivers: &Drivers,
    state: &mut State,
    opts: &RefreshOptions,
) -> RefreshReport {
    let mut report = RefreshReport::default();
    let events = Events::default();
    let runner = Runner {
        conns,
        drivers,
        retry: opts.retry,
        events: &events,
    };
    reconcile_intents(runner, state, &mut report).await;
    // A type without a read (an adapter that declares none) is left as recorded: it has
    // no drift detection, and the plan says so. A convention type whose server lacks the
    // tool is read, so that the missing tool is reported (E0615).
    let targets: Vec<(String, ResourceState)> = state
        .resources
        .iter()
        .filter(|(a, r)| {
            let driver = drivers.get(&r.server, &r.type_name);
            is_resource(a) && (driver.supports(Op::Read) || !driver.declared())
        })
        .map(|(a, r)| (a.clone(), r.clone()))
        .collect();
    let reads: Vec<(String, ResourceState, Read)> = futures::stream::iter(targets)
        .map(|(address, r)| async move {
            let at = Resource {
                address: &address,
                server: &r.server,
                type_name: &r.type_name,
            };
            let result = read(runner, &at, &r.id, &r.inputs).await;
            (address, r, result)
        })
        .buffered(opts.parallelism.max(1))
        .collect()
        .await;
    for (address, r, result) in reads {
        match result {
            Read::Live(live) => {
                report.read += 1;
                let mut inputs = r.inputs.clone();
                if let Some(obj) = inputs.as_object_mut() {
                    for (k, recorded) in obj.iter_mut() {
                        let Some(now) = live.get(k) else { continue };
                        if !same_as_recorded(recorded, now) {
                            let sensitive = r.sensitive.iter().any(|s| s == k);
                            report.drift.push(Drift {
                                address: address.clone(),
                                attribute: k.clone(),
                                recorded: show(Some(recorded), sensitive),
                                live: show(Some(now), sensitive),
                            });
                            *recorded = now.clone();
                        }
                    }
                }
                if let Some(entry) = state.resources.get_mut(&address) {
                    entry.inputs = inputs;
                    entry.outputs = live;
                }
            }
            Read::Gone => {
                report.read += 1;
                state.resources.remove(&address);
                report.gone.push(Gone {
                    address,
                    server: r.server,
                    type_name: r.type_name,
                    id: r.id,
                });
            }
            Read::Failed(e) => report.errors.push(ExecError {
                code: codes::E0615,
                message: format!("refresh: {}", e.message),
                ..e
            }),
        }
    }
    report
}

/// Whether `address` names a managed resource (data reads and tasks are not read back).
fn is_resource(address: &str) -> bool {
    mcpo_address::Address::parse(address).is_ok_and(|a| a.is_resource())
}

/// Whether a live value still matches what was recorded: servers fill in defaults inside
/// nested objects (`ports[0].protocol = "TCP"`), which is not a change made outside mcpo.
/// Objects match when every recorded key matches (keys only the server reports are
/// ignored), lists when they have the same length and match item by item.
fn same_as_recorded(recorded: &Value, live: &Value) -> bool {
    match (recorded, live) {
        (Value::Object(r), Value::Object(l)) => r
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| same_as_recorded(v, lv))),
        (Value::Array(r), Value::Array(l)) => {
            r.len() == l.len() && r.iter().zip(l).all(|(a, b)| same_as_recorded(a, b))
        }
        _ => recorded == live,
    }
}

/// Whether `item` has every argument of a create with the same value.
fn matches_args(item: &Value, args: &Value) -> bool {
    match args.as_object() {
        Some(obj) => obj
            .iter()
            .all(|(k, v)| item.get(k).unwrap_or(&Value::Null) == v || v.is_null()),
        None => true,
    }
}

async fn reconcile_intents(runner: Runner<'_>, state: &mut State, report: &mut RefreshReport) {
    let intents = std::mem::take(&mut state.intents);
    for intent in intents {
        if let Some(keep) = reconcile(runner, state, report, &intent).await {
            state.intents.push(keep);
        }
    }
}

/// Resolves a pending create of an adapter's type that has no `list`: read by the id its
/// inputs give (adopted when found, forgotten when not); when the id comes only from the
/// create's result it cannot be looked up, and the intent is dropped with a note saying
/// that a resource may have been made (the plan creates the resource again).
async fn reconcile_unlisted_create(
    runner: Runner<'_>,
    state: &mut State,
    report: &mut RefreshReport,
    intent: &Intent,
    at: &Resource<'_>,
) -> Option<Intent> {
    let address = &intent.address;
    let driver = runner.drivers.get(&intent.server, &intent.type_name);
    let id = driver
        .id_from_inputs(&intent.args)
        .filter(|_| driver.supports(Op::Read));
    let Some(id) = id else {
        report.resolved.push((
            address.clone(),
            format!(
                "the interrupted create cannot be looked up (`{}.{}` has no `list`, and its id comes from the create's result): if it made a resource, that one is not managed; the plan creates it again",
                intent.server, intent.type_name
            ),
        ));
        return None;
    };
    match read(runner, at, &id, &intent.args).await {
        Read::Live(live) => {
            state.resources.insert(
                address.clone(),
                ResourceState {
                    server: intent.server.clone(),
                    type_name: intent.type_name.clone(),
                    id: id.clone(),
                    inputs: intent.args.clone(),
                    outputs: live,
                    sensitive: Vec::new(),
                    deps: Vec::new(),
                    tainted: false,
                },
            );
            report.adopted.push((address.clone(), id));
            None
        }
        Read::Gone => {
            report
                .resolved
                .push((address.clone(), "the create never happened".into()));
            None
        }
        Read::Failed(e) => {
            report.errors.push(e);
            Some(intent.clone())
        }
    }
}

/// Resolves one intent; returns it when it must stay (unresolved).
async fn reconcile(
    runner: Runner<'_>,
    state: &mut State,
    report: &mut RefreshReport,
    intent: &Intent,
) -> Option<Intent> {
    let address = &intent.address;
    let at = Resource {
        address,
        server: &intent.server,
        type_name: &intent.type_name,
    };
    match intent.op {
        IntentOp::Create
            if runner
                .drivers
                .get(&intent.server, &intent.type_name)
                .declared()
                && !runner
                    .drivers
                    .get(&intent.server, &intent.type_name)
                    .supports(Op::List) =>
        {
            reconcile_unlisted_create(runner, state, report, intent, &at).await
        }
        IntentOp::Create => {
            let listed = runner
                .perform(&at, Op::List, &Target::new(&intent.args))
                .await;
            let items = match listed {
                Ok(Reading::Items(items)) => items,
                Ok(_) => Vec::new(),
                Err(e) => {
                    report.errors.push(e.error);
                    return Some(intent.clone());
                }
            };
            let known: BTreeSet<&str> = state
                .resources
                .values()
                .filter(|r| r.server == intent.server && r.type_name == intent.type_name)
                .map(|r| r.id.as_str())
                .collect();
            let candidates: Vec<(String, Value)> = items
                .into_iter()
                .filter(|(id, item)| {
                    !known.contains(id.as_str()) && matches_args(item, &intent.args)
                })
                .collect();
            match candidates.as_slice() {
                [] => {
                    report
                        .resolved
                        .push((address.clone(), "the create never happened".into()));
                    None
                }
                [(id, item)] => {
                    state.resources.insert(
                        address.clone(),
                        ResourceState {
                            server: intent.server.clone(),
                            type_name: intent.type_name.clone(),
                            id: id.clone(),
                            inputs: intent.args.clone(),
                            outputs: item.clone(),
                            sensitive: Vec::new(),
                            deps: Vec::new(),
                            tainted: false,
                        },
                    );
                    report.adopted.push((address.clone(), id.clone()));
                    None
                }
                many => {
                    let ids: Vec<&str> = many.iter().map(|(id, _)| id.as_str()).collect();
                    report.errors.push(
                        ExecError::new(
                            codes::E0608,
                            format!(
                                "the pending create matches {} resources not in state: {}",
                                many.len(),
                                ids.join(", ")
                            ),
                        )
                        .at(address)
                        .with_help(
                            "import the right one with `mcpoc import ADDRESS ID`; the intent is kept until then",
                        ),
                    );
                    Some(intent.clone())
                }
            }
        }
        IntentOp::Delete | IntentOp::Update => {
            let id = intent
                .id
                .clone()
                .or_else(|| state.resources.get(address).map(|r| r.id.clone()))?;
            let inputs = state
                .resources
                .get(address)
                .map_or(Value::Null, |r| r.inputs.clone());
            match read(runner, &at, &id, &inputs).await {
                Read::Gone => {
                    if state.resources.get(address).is_some_and(|r| r.id == id) {
                        state.resources.remove(address);
                    }
                    report
                        .resolved
                        .push((address.clone(), "the resource is gone".into()));
                    None
                }
                Read::Live(live) => {
                    if let Some(r) = state.resources.get_mut(address)
                        && r.id == id
                    {
                        r.outputs = live;
                    }
                    let what = match intent.op {
                        IntentOp::Delete => "the delete did not happen",
                        _ => "the resource was read again",
                    };
                    report.resolved.push((address.clone(), what.into()));
                    None
                }
                Read::Failed(e) => {
                    report.errors.push(e);
                    Some(intent.clone())
                }
            }
        }
    }
}

/// Reads resource `id` of `type_name` through `server` and records it at `address`: its
/// inputs are the attributes its type takes (as its driver says), so the next plan diffs
/// against them.
pub async fn import(
    conns: &Connections,
    drivers: &Drivers,
    state: &mut State,
    address: &str,
    server: &str,
    type_name: &str,
    id: &str,
) -> Result<(), ExecError> {
    if let Some(r) = state.resources.get(address) {
        return Err(
            ExecError::new(codes::E0612, format!("already in state with id `{}`", r.id))
                .at(address)
                .with_help(
                    "remove it first with `mcpoc state rm ADDRESS`, or import to another address",
                ),
        );
    }
    let events = Events::default();
    let runner = Runner {
        conns,
        drivers,
        retry: RetryPolicy::default(),
        events: &events,
    };
    let at = Resource {
        address,
        server,
        type_name,
    };
    let driver = drivers.get(server, type_name);
    let found = if driver.supports(Op::Read) || !driver.supports(Op::List) {
        read(runner, &at, id, &Value::Null).await
    } else {
        // Without a read, the type's list finds it.
        match runner
            .perform(&at, Op::List, &Target::new(&Value::Null))
            .await
        {
            Ok(Reading::Items(items)) => items
                .into_iter()
                .find(|(i, _)| i == id)
                .map_or(Read::Gone, |(_, v)| Read::Live(v)),
            Ok(_) => Read::Gone,
            Err(e) => Read::Failed(e.error),
        }
    };
    let live = match found {
        Read::Live(v) => v,
        Read::Gone => {
            return Err(ExecError::new(
                codes::E0611,
                format!("server `{server}` has no {type_name} with id `{id}`"),
            )
            .at(address)
            .with_help(format!("the server's list of `{type_name}` shows the ids")));
        }
        Read::Failed(e) => return Err(e),
    };
    let takes = driver.input_attrs();
    let inputs: serde_json::Map<String, Value> = live
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| match &takes {
            Some(t) => t.contains(k.as_str()),
            None => k.as_str() != "id",
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    state.intents.retain(|i| i.address != address);
    state.resources.insert(
        address.to_string(),
        ResourceState {
            server: server.to_string(),
            type_name: type_name.to_string(),
            id: id.to_string(),
            inputs: Value::Object(inputs),
            outputs: live,
            sensitive: Vec::new(),
            deps: Vec::new(),
            tainted: false,
        },
    );
    Ok(())
}
