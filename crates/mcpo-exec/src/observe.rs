//! What `mcpoc watch` asks of the servers besides a refresh: the health of the resources
//! whose type declares a health check, and the resources of the workspace's types that
//! exist on their servers but not in the state.

use crate::events::Events;
use crate::ops::{Resource, Runner, call_tool};
use crate::refresh::RefreshOptions;
use crate::{Connections, ExecError};
use futures::StreamExt;
use mcpo_diagnostics::codes;
use mcpo_plan::Drivers;
use mcpo_plan::driver::{Health, Op, Reading, ResultError, Target};
use mcpo_state::State;
use std::collections::BTreeSet;

/// Runs the health check of each resource of `state` (those in `only`, or all) whose type
/// declares one (`Driver::health_call`), concurrently within `opts.parallelism`. A tool
/// error of the check is an unhealthy resource (the check ran and failed); a call that
/// could not be made (the server does not answer, a timeout) is an error: the resource's
/// health is unknown.
pub async fn health(
    conns: &Connections,
    drivers: &Drivers,
    state: &State,
    only: Option<&BTreeSet<String>>,
    opts: &RefreshOptions,
) -> Vec<(String, Result<Health, ExecError>)> {
    let events = Events::default();
    let targets: Vec<_> = state
        .resources
        .iter()
        .filter(|(a, _)| only.is_none_or(|o| o.contains(*a)))
        .filter(|(a, _)| mcpo_address::Address::parse(a).is_ok_and(|x| x.is_resource()))
        .collect();
    let checked: Vec<Option<(String, Result<Health, ExecError>)>> = futures::stream::iter(targets)
        .map(|(address, r)| {
            let events = &events;
            async move {
                let driver = drivers.get(&r.server, &r.type_name);
                let target = Target::existing(&r.inputs, &r.id).recorded(Some(&r.outputs));
                let call = match driver.health_call(&target) {
                    Ok(Some(call)) => call,
                    Ok(None) => return None,
                    Err(why) => {
                        return Some((
                            address.clone(),
                            Err(ExecError::new(
                                codes::E0607,
                                format!("the health call cannot be computed: {why}"),
                            )
                            .at(address)),
                        ));
                    }
                };
                let out = call_tool(
                    conns,
                    opts.retry,
                    events,
                    address,
                    &call.server,
                    &call.tool,
                    &call.args,
                )
                .await;
                let health = match out {
                    Ok(result) => driver.health_of(&target, result).map_err(|e| match e {
                        ResultError::Failed(m) | ResultError::Unusable(m) => {
                            ExecError::new(codes::E0604, m).at(address)
                        }
                    }),
                    Err(e) => match e.tool_message {
                        Some(message) => Ok(Health::Unhealthy(format!(
                            "server `{}`, tool `{}` failed: {message}",
                            call.server, call.tool
                        ))),
                        None => Err(e.error),
                    },
                };
                Some((address.clone(), health))
            }
        })
        .buffered(opts.parallelism.max(1))
        .collect()
        .await;
    checked.into_iter().flatten().collect()
}

/// A resource that exists on its server but not in the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmanaged {
    /// Its server.
    pub server: String,
    /// Its type.
    pub type_name: String,
    /// Its id.
    pub id: String,
}

/// Lists every `(server, type)` of `types` whose driver has a `list` and returns the items
/// whose ids the state does not record for that server and type. A list that fails is an
/// error (its type is skipped).
pub async fn unmanaged(
    conns: &Connections,
    drivers: &Drivers,
    state: &State,
    types: &BTreeSet<(String, String)>,
    opts: &RefreshOptions,
) -> (Vec<Unmanaged>, Vec<ExecError>) {
    let events = Events::default();
    let runner = Runner {
        conns,
        drivers,
        retry: opts.retry,
        events: &events,
    };
    let listable: Vec<&(String, String)> = types
        .iter()
        .filter(|(s, t)| drivers.get(s, t).supports(Op::List))
        .collect();
    let empty = serde_json::json!({});
    let lists: Vec<_> = futures::stream::iter(listable)
        .map(|(server, type_name)| {
            let empty = &empty;
            async move {
                let label = format!("{server}.{type_name}");
                let at = Resource {
                    address: &label,
                    server,
                    type_name,
                };
                let listed = runner.perform(&at, Op::List, &Target::new(empty)).await;
                (server, type_name, listed)
            }
        })
        .buffered(opts.parallelism.max(1))
        .collect()
        .await;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (server, type_name, listed) in lists {
        let items = match listed {
            Ok(Reading::Items(items)) => items,
            Ok(_) => continue,
            Err(e) => {
                errors.push(e.error);
                continue;
            }
        };
        let known: BTreeSet<&str> = state
            .resources
            .values()
            .filter(|r| r.server == *server && r.type_name == *type_name)
            .map(|r| r.id.as_str())
            .chain(
                state
                    .intents
                    .iter()
                    .filter(|i| i.server == *server && i.type_name == *type_name)
                    .filter_map(|i| i.id.as_deref()),
            )
            .collect();
        for (id, _) in items {
            if !known.contains(id.as_str()) {
                found.push(Unmanaged {
                    server: server.clone(),
                    type_name: type_name.clone(),
                    id,
                });
            }
        }
    }
    (found, errors)
}
