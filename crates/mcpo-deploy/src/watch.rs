//! Watching what runs (`mcpoc watch`): the resources of the state are read from their
//! servers as they change, and every difference from the state (drift, a resource deleted
//! outside mcpo, an output the server changed), every change of a server's health or of a
//! resource's (where its type declares a health check: an adapter's `health` and
//! `healthy_when`), and every resource of a managed type that exists on its server but not
//! in the state is reported once, as it happens.
//!
//! Resources whose server publishes them as `mcpo://<type>/<id>` are subscribed to and read
//! again as soon as the server says they changed; every resource (subscribed or not) is
//! also read every `interval`, which is how servers without subscriptions are watched and
//! how a lost notification is caught up. Reads go through the refresh of `mcpo-exec` on a
//! copy of the state, so adapters and convention types are read alike, and the state is
//! never written nor locked: the watch reads it again on every pass, so an apply made while
//! it runs is picked up (its new resources subscribed to).
//!
//! Nothing is printed here: events go to the caller's channel, each with the time it was
//! noticed ([`Noticed`]); the text and JSON lines are [`crate::render::watch_line`] and
//! [`crate::render::watch_json`].

use crate::error::DeployError;
use crate::load::Checked;
use mcpo_exec::{CancellationToken, Connections, RefreshOptions};
use mcpo_mcp::ConnectOptions;
use mcpo_plan::Drivers;
use mcpo_plan::driver::Health;
use mcpo_state::{Backend, State};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

/// An event with the time the watch noticed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Noticed {
    /// When.
    pub time: SystemTime,
    /// What.
    pub event: WatchEvent,
}

impl Noticed {
    /// `event`, noticed now.
    pub fn now(event: WatchEvent) -> Noticed {
        Noticed {
            time: SystemTime::now(),
            event,
        }
    }
}

/// Sends `event`, stamped with the time now (a closed channel is the caller's choice).
fn emit(events: &UnboundedSender<Noticed>, event: WatchEvent) {
    let _ = events.send(Noticed::now(event));
}

/// How to watch.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// How often every resource is read (subscribed ones too, in case a notification was
    /// lost).
    pub interval: Duration,
    /// One pass, then stop (no subscriptions).
    pub once: bool,
    /// Subscribe where the servers offer it (`false`: read only every `interval`).
    pub subscribe: bool,
}

impl WatchOptions {
    /// Options with every field given: read every `interval`, stop after one pass when
    /// `once`, subscribe where the servers offer it when `subscribe`.
    pub fn new(interval: Duration, once: bool, subscribe: bool) -> WatchOptions {
        WatchOptions {
            interval,
            once,
            subscribe,
        }
    }
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            interval: Duration::from_secs(30),
            once: false,
            subscribe: true,
        }
    }
}

/// Something the watch noticed, reported once when it happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// The first pass is done and the watch is waiting for changes.
    Watching {
        /// Resources in the state.
        resources: usize,
        /// Of those, read when their server says they changed.
        subscribed: usize,
        /// Seconds between passes that read every resource.
        interval_secs: f64,
    },
    /// A server was connected or read from (`healthy`), or could not be.
    Health {
        /// The server's name in the workspace.
        server: String,
        /// Whether it answers.
        healthy: bool,
        /// Why not (empty when healthy).
        #[serde(skip_serializing_if = "String::is_empty")]
        message: String,
    },
    /// An attribute the workspace sets differs from what the state recorded.
    Drift {
        /// The resource's address.
        address: String,
        /// The attribute.
        attribute: String,
        /// What the state recorded (JSON, or `(sensitive)`).
        recorded: String,
        /// What the server reports now (JSON, or `(sensitive)`).
        live: String,
        /// What depends on the resource.
        dependents: Vec<String>,
    },
    /// The resource no longer exists on its server.
    Gone {
        /// The resource's address.
        address: String,
        /// Its server.
        server: String,
        /// Its id.
        id: String,
        /// What depends on the resource.
        dependents: Vec<String>,
    },
    /// An attribute the server computes (not one the workspace sets) changed.
    OutputChanged {
        /// The resource's address.
        address: String,
        /// The attribute.
        attribute: String,
        /// What the state recorded (JSON, or `(sensitive)`).
        recorded: String,
        /// What the server reports now (JSON, or `(sensitive)`).
        live: String,
        /// What depends on the resource (and so reads the changed value).
        dependents: Vec<String>,
    },
    /// A resource reported drifted or gone matches the state again.
    InSync {
        /// The resource's address.
        address: String,
    },
    /// The health check of a resource (its type's `health` and `healthy_when`) passed or
    /// failed: reported at the first check, then when it changes.
    ResourceHealth {
        /// The resource's address.
        address: String,
        /// Whether the check passed.
        healthy: bool,
        /// Why not (empty when healthy).
        #[serde(skip_serializing_if = "String::is_empty")]
        reason: String,
        /// What depends on the resource.
        dependents: Vec<String>,
    },
    /// A resource of a type the state holds exists on its server but not in the state
    /// (made outside mcpo, or dropped with `mcpoc state rm`): reported once.
    Unmanaged {
        /// Its server.
        server: String,
        /// Its type.
        #[serde(rename = "type")]
        type_name: String,
        /// Its id.
        id: String,
    },
    /// The watch stopped: by a signal (`SIGINT` for Ctrl-C, `SIGTERM`), or at the end of
    /// its run.
    Stopped {
        /// The signal, when one stopped it.
        #[serde(skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
    },
}

/// How a watch ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Some resource drifted or was gone.
    pub drifted: bool,
    /// Some resource's health check failed.
    pub unhealthy: bool,
    /// Some read failed or some server could not be connected.
    pub errors: bool,
    /// The signal that stopped the watch (`SIGINT`, `SIGTERM`), if one did.
    pub signal: Option<String>,
}

impl Outcome {
    /// The exit code of `mcpoc watch`. A watch stopped by a signal did what it was started
    /// for: 0. A single pass (`--once`) says what it found, the most serious first: 3 when
    /// a resource is unhealthy, else 2 when something drifted or is gone, else 1 when
    /// something could not be read, else 0 (resources found outside the state are not
    /// drift: they change no exit code).
    pub fn exit_code(&self) -> u8 {
        if self.signal.is_some() {
            0
        } else if self.unhealthy {
            3
        } else if self.drifted {
            2
        } else {
            u8::from(self.errors)
        }
    }
}

/// What was last reported of one resource.
#[derive(Debug, Clone, Default, PartialEq)]
struct Findings {
    drift: BTreeMap<String, (String, String)>,
    gone: bool,
    outputs: BTreeMap<String, String>,
}

/// A workspace being watched.
pub struct Watch {
    backend: Arc<dyn Backend>,
    checked: Checked,
    drivers: Drivers,
    /// Each node of the workspace's graph and what it depends on, with its kind.
    graph: Vec<(String, &'static str, Vec<String>)>,
    seen: BTreeMap<String, Findings>,
    health: BTreeMap<String, bool>,
    /// Each health-checked resource's last result (healthy, and the reason when not).
    resource_health: BTreeMap<String, (bool, String)>,
    /// Resources found on servers but not in the state, already reported.
    unmanaged: BTreeSet<(String, String, String)>,
    outcome: Outcome,
}

impl Watch {
    /// Prepares a watch of the checked workspace with variables `vars` (used only to
    /// build the graph that names dependents; when it cannot be built, dependents come
    /// from what the state recorded at the last apply).
    pub fn open(checked: Checked, vars: BTreeMap<String, String>) -> Result<Watch, DeployError> {
        let backend = crate::backend::of_checked(&checked)?;
        let drivers = mcpo_plan::driver::workspace_drivers(&checked.db, checked.workspace);
        let graph = crate::program(&checked, vars)
            .map(|p| p.graph())
            .unwrap_or_default();
        Ok(Watch {
            backend,
            checked,
            drivers,
            graph,
            seen: BTreeMap::new(),
            health: BTreeMap::new(),
            resource_health: BTreeMap::new(),
            unmanaged: BTreeSet::new(),
            outcome: Outcome::default(),
        })
    }

    /// Watches until `cancel` is cancelled (or after one pass with `once`), sending what it
    /// notices to `events`. The servers it started are shut down before it returns.
    pub async fn run(
        mut self,
        opts: WatchOptions,
        events: UnboundedSender<Noticed>,
        cancel: CancellationToken,
    ) -> Result<Outcome, DeployError> {
        let mut state = self.backend.read()?;
        let mut needed: BTreeSet<String> = self.checked.servers.keys().cloned().collect();
        needed.extend(state.resources.values().map(|r| r.server.clone()));
        let conns = Arc::new(
            Connections::connect(
                &self.checked.servers,
                needed.iter().map(String::as_str),
                &ConnectOptions::default(),
            )
            .await,
        );
        for server in &needed {
            let failed = conns.failures().get(server).map(|e| e.message.clone());
            self.set_health(server, failed, &events);
        }
        self.pass(&conns, &state, None, &events).await;
        if opts.once {
            shutdown(conns).await;
            return Ok(self.outcome);
        }
        let (tx, mut updates) = unbounded_channel::<(String, String)>();
        let mut subscribed = BTreeSet::new();
        self.subscribe(&conns, &state, &mut subscribed, &tx, opts.subscribe)
            .await;
        emit(
            &events,
            WatchEvent::Watching {
                resources: count_resources(&state),
                subscribed: subscribed.len(),
                interval_secs: opts.interval.as_secs_f64(),
            },
        );
        let mut tick = tokio::time::interval(opts.interval.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                Some((server, uri)) = updates.recv() => {
                    let mut changed = vec![(server, uri)];
                    while let Ok(more) = updates.try_recv() {
                        changed.push(more);
                    }
                    state = self.backend.read().unwrap_or(state);
                    let only: BTreeSet<String> = state
                        .resources
                        .iter()
                        .filter(|(_, r)| changed.iter().any(|(s, u)| {
                            *s == r.server && *u == uri_of(&r.type_name, &r.id)
                        }))
                        .map(|(a, _)| a.clone())
                        .collect();
                    if !only.is_empty() {
                        self.pass(&conns, &state, Some(&only), &events).await;
                    }
                }
                _ = tick.tick() => {
                    state = self.backend.read().unwrap_or(state);
                    self.subscribe(&conns, &state, &mut subscribed, &tx, opts.subscribe).await;
                    // A pass waits for slow servers; Ctrl-C does not.
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = self.pass(&conns, &state, None, &events) => {}
                    }
                }
            }
        }
        drop(updates);
        shutdown(conns).await;
        Ok(self.outcome)
    }

    /// Subscribes to the resources of `state` not subscribed to yet whose server offers
    /// it; each update is forwarded to `tx` as (server, URI).
    async fn subscribe(
        &self,
        conns: &Arc<Connections>,
        state: &State,
        subscribed: &mut BTreeSet<(String, String)>,
        tx: &UnboundedSender<(String, String)>,
        enabled: bool,
    ) {
        if !enabled {
            return;
        }
        for (address, r) in &state.resources {
            let uri = uri_of(&r.type_name, &r.id);
            let key = (r.server.clone(), uri.clone());
            if !is_resource(address)
                || subscribed.contains(&key)
                || !conns.subscribable(&r.server, &r.type_name)
            {
                continue;
            }
            let Ok(conn) = conns.get(&r.server) else {
                continue;
            };
            let Ok(mut updates) = conn.subscribe(&uri).await else {
                continue;
            };
            let tx = tx.clone();
            let server = r.server.clone();
            tokio::spawn(async move {
                while let Some(uri) = updates.next().await {
                    if tx.send((server.clone(), uri)).is_err() {
                        break;
                    }
                }
            });
            subscribed.insert(key);
        }
    }

    /// Reads the resources of `state` (those in `only`, or all) and reports what changed
    /// since the last pass: drift, deletions and changed outputs, the health of the
    /// resources whose type declares a health check, and (on a pass over all of them) the
    /// resources of the state's types that exist on their servers but not in the state.
    async fn pass(
        &mut self,
        conns: &Connections,
        state: &State,
        only: Option<&BTreeSet<String>>,
        events: &UnboundedSender<Noticed>,
    ) {
        let opts = RefreshOptions::default();
        let mut copy = state.clone();
        copy.intents.clear();
        copy.resources
            .retain(|a, _| is_resource(a) && only.is_none_or(|o| o.contains(a)));
        let checked: Vec<String> = copy.resources.keys().cloned().collect();
        let report = mcpo_exec::refresh(conns, &self.drivers, &mut copy, &opts).await;
        let failed_addresses: BTreeSet<String> = report
            .errors
            .iter()
            .filter_map(|e| e.address.clone())
            .collect();
        // The health checks of what was read and is still there.
        let healthy_now: BTreeSet<String> = checked
            .iter()
            .filter(|a| !failed_addresses.contains(*a) && copy.resources.contains_key(*a))
            .cloned()
            .collect();
        let health =
            mcpo_exec::health(conns, &self.drivers, state, Some(&healthy_now), &opts).await;
        let (unmanaged, list_errors) = if only.is_none() {
            let types: BTreeSet<(String, String)> = state
                .resources
                .iter()
                .filter(|(a, _)| is_resource(a))
                .map(|(_, r)| (r.server.clone(), r.type_name.clone()))
                .collect();
            mcpo_exec::unmanaged(conns, &self.drivers, state, &types, &opts).await
        } else {
            (Vec::new(), Vec::new())
        };

        // A server is healthy when every call made to it this pass could be made.
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let server_of = |address: &str| state.resources.get(address).map(|r| r.server.clone());
        let health_errors = health.iter().filter_map(|(_, h)| h.as_ref().err());
        for e in report.errors.iter().chain(health_errors) {
            if let Some(server) = e.address.as_deref().and_then(server_of) {
                failed.entry(server).or_insert_with(|| e.message.clone());
            }
        }
        for e in &list_errors {
            // A list's "address" is its `server.type`.
            if let Some((server, _)) = e.address.as_deref().and_then(|a| a.split_once('.')) {
                failed
                    .entry(server.to_string())
                    .or_insert_with(|| e.message.clone());
            }
        }
        let servers: BTreeSet<String> = checked.iter().filter_map(|a| server_of(a)).collect();
        for server in servers {
            let message = failed.get(&server).cloned();
            self.set_health(&server, message, events);
        }

        for address in checked {
            if failed_addresses.contains(&address) {
                continue;
            }
            let Some(recorded) = state.resources.get(&address) else {
                continue;
            };
            self.compare(
                &address,
                recorded,
                copy.resources.get(&address),
                &report,
                state,
                events,
            );
        }

        for (address, result) in health {
            let Ok(h) = result else { continue };
            let now = match h {
                Health::Healthy => (true, String::new()),
                Health::Unhealthy(reason) => (false, reason),
            };
            self.outcome.unhealthy |= !now.0;
            let last = self.resource_health.insert(address.clone(), now.clone());
            // A reason that changes while the resource stays unhealthy is no news.
            if last.as_ref().map(|l| l.0) != Some(now.0) {
                emit(
                    events,
                    WatchEvent::ResourceHealth {
                        dependents: self.dependents(&address, state),
                        address,
                        healthy: now.0,
                        reason: now.1,
                    },
                );
            }
        }

        if only.is_none() {
            let found: BTreeSet<(String, String, String)> = unmanaged
                .into_iter()
                .map(|u| (u.server, u.type_name, u.id))
                .collect();
            for key in found.difference(&self.unmanaged) {
                emit(
                    events,
                    WatchEvent::Unmanaged {
                        server: key.0.clone(),
                        type_name: key.1.clone(),
                        id: key.2.clone(),
                    },
                );
            }
            // One imported or deleted since is forgotten: it is reported again if it
            // comes back.
            self.unmanaged = found;
        }
    }

    /// Compares one resource as read (`live`, `None` when gone) with what the state
    /// recorded and reports what changed since the last pass.
    fn compare(
        &mut self,
        address: &str,
        recorded: &mcpo_state::ResourceState,
        live: Option<&mcpo_state::ResourceState>,
        report: &mcpo_exec::RefreshReport,
        state: &State,
        events: &UnboundedSender<Noticed>,
    ) {
        let mut now = Findings {
            gone: report.gone.iter().any(|g| g.address == address),
            ..Findings::default()
        };
        for d in report.drift.iter().filter(|d| d.address == address) {
            now.drift
                .insert(d.attribute.clone(), (d.recorded.clone(), d.live.clone()));
        }
        let mut output_changes = Vec::new();
        if let (Some(live), Some(before)) = (
            live.and_then(|r| r.outputs.as_object()),
            recorded.outputs.as_object(),
        ) {
            for (k, v) in live {
                let set_by_workspace = recorded.inputs.get(k).is_some();
                let Some(old) = before.get(k) else { continue };
                if set_by_workspace || old == v {
                    continue;
                }
                let sensitive = recorded.sensitive.iter().any(|s| s == k);
                let shown = show(v, sensitive);
                now.outputs.insert(k.clone(), shown.clone());
                output_changes.push((k.clone(), show(old, sensitive), shown));
            }
        }
        let last = self.seen.remove(address).unwrap_or_default();
        if now.gone {
            // A resource that is gone has no health to check.
            self.resource_health.remove(address);
        }
        let dependents = || self.dependents(address, state);
        if now.gone && !last.gone {
            emit(
                events,
                WatchEvent::Gone {
                    address: address.to_string(),
                    server: recorded.server.clone(),
                    id: recorded.id.clone(),
                    dependents: dependents(),
                },
            );
        }
        for (attribute, (was, live)) in &now.drift {
            if last.drift.get(attribute) != Some(&(was.clone(), live.clone())) {
                emit(
                    events,
                    WatchEvent::Drift {
                        address: address.to_string(),
                        attribute: attribute.clone(),
                        recorded: was.clone(),
                        live: live.clone(),
                        dependents: dependents(),
                    },
                );
            }
        }
        for (attribute, was, live) in output_changes {
            if last.outputs.get(&attribute) != Some(&live) {
                emit(
                    events,
                    WatchEvent::OutputChanged {
                        address: address.to_string(),
                        attribute,
                        recorded: was,
                        live,
                        dependents: dependents(),
                    },
                );
            }
        }
        let off = |f: &Findings| f.gone || !f.drift.is_empty();
        if off(&last) && !off(&now) {
            emit(
                events,
                WatchEvent::InSync {
                    address: address.to_string(),
                },
            );
        }
        self.outcome.drifted |= off(&now);
        self.seen.insert(address.to_string(), now);
    }

    /// Records whether `server` answers (`failed`: why not), reporting a change.
    fn set_health(
        &mut self,
        server: &str,
        failed: Option<String>,
        events: &UnboundedSender<Noticed>,
    ) {
        let healthy = failed.is_none();
        self.outcome.errors |= !healthy;
        if self.health.insert(server.to_string(), healthy) != Some(healthy) {
            emit(
                events,
                WatchEvent::Health {
                    server: server.to_string(),
                    healthy,
                    message: failed.unwrap_or_default(),
                },
            );
        }
    }

    /// What depends on the resource at `address`, directly or through others: resources,
    /// data reads, tasks and outputs of the workspace's graph, else (when the graph could
    /// not be built or does not hold it) the resources whose recorded dependencies name it.
    fn dependents(&self, address: &str, state: &State) -> Vec<String> {
        let block = block_of(address);
        let in_graph = self
            .graph
            .iter()
            .any(|(key, _, _)| *key == address || *key == block);
        let mut found = BTreeSet::new();
        let mut todo = vec![address.to_string(), block];
        while let Some(node) = todo.pop() {
            let next: Vec<String> = if in_graph {
                self.graph
                    .iter()
                    .filter(|(_, _, deps)| deps.contains(&node))
                    .map(|(key, _, _)| key.clone())
                    .collect()
            } else {
                state
                    .resources
                    .iter()
                    .filter(|(_, r)| r.deps.contains(&node))
                    .map(|(a, _)| a.clone())
                    .collect()
            };
            for n in next {
                if found.insert(n.clone()) {
                    todo.push(n);
                }
            }
        }
        let shown = |n: &String| {
            !in_graph
                || self.graph.iter().any(|(key, kind, _)| {
                    key == n && matches!(*kind, "resource" | "data" | "task" | "output")
                })
        };
        found
            .into_iter()
            .filter(|n| shown(n) && n != address)
            .collect()
    }
}

/// The URI a server publishes a resource under.
fn uri_of(type_name: &str, id: &str) -> String {
    format!("mcpo://{type_name}/{id}")
}

/// The block an instance address belongs to (`aws.vpc.web[0]` -> `aws.vpc.web`).
fn block_of(address: &str) -> String {
    let mut out = String::new();
    let (mut depth, mut quoted) = (0usize, false);
    for c in address.chars() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether `address` names a managed resource (data reads and tasks are not watched).
fn is_resource(address: &str) -> bool {
    mcpo_address::Address::parse(address).is_ok_and(|a| a.is_resource())
}

fn count_resources(state: &State) -> usize {
    state.resources.keys().filter(|a| is_resource(a)).count()
}

fn show(v: &Value, sensitive: bool) -> String {
    if sensitive {
        "(sensitive)".into()
    } else {
        v.to_string()
    }
}

async fn shutdown(conns: Arc<Connections>) {
    if let Ok(conns) = Arc::try_unwrap(conns) {
        conns.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_addresses_belong_to_their_block() {
        assert_eq!(block_of("aws.vpc.web[0]"), "aws.vpc.web");
        assert_eq!(block_of("aws.vpc.web[\"a]\"]"), "aws.vpc.web");
        assert_eq!(
            block_of("module.shop[1].aws.vpc.main"),
            "module.shop.aws.vpc.main"
        );
    }

    #[test]
    fn unhealthy_exits_3_drift_2_read_errors_1_and_a_signal_stop_0() {
        let code = |unhealthy, drifted, errors| {
            Outcome {
                unhealthy,
                drifted,
                errors,
                signal: None,
            }
            .exit_code()
        };
        assert_eq!(code(false, false, false), 0);
        assert_eq!(code(false, false, true), 1);
        assert_eq!(code(false, true, true), 2);
        assert_eq!(code(true, true, true), 3);
        let stopped = Outcome {
            drifted: true,
            signal: Some("SIGTERM".into()),
            ..Outcome::default()
        };
        assert_eq!(stopped.exit_code(), 0);
    }
}
