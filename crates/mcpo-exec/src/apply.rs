//! Apply: each step's tool calls, state written around them, readiness waits, rollback.
//!
//! Durability: the intent of a `create`/`update`/`delete` is durable before its tool is
//! called. The result replaces the intent in memory and becomes durable with the next
//! write, which happens before any later call that changes the world (the next intent, a
//! task's call, a rollback step) and at the end of the run. A crash in between leaves the
//! intent on disk, from which `refresh` recovers the result (adopts the created resource,
//! drops the deleted one, reads the updated one), so nothing created is forgotten, and a
//! chain of steps costs one fsync per step instead of two.

use crate::events::{EventKind, Events};
use crate::ops::{CallError, Resource, Runner, call_tool};
use crate::schedule::{self, Outcome};
use crate::store::StateCell;
use crate::{Action, Connections, Evaluator, Event, ExecError, RetryPolicy, Step, Values};
use mcpo_diagnostics::codes;
use mcpo_plan::Drivers;
use mcpo_plan::driver::{Op, Reading, Target, resource_value};
use mcpo_state::{Intent, IntentOp, ResourceState, State};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

pub use crate::schedule::Schedule;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Steps in flight at once, across all servers (each server also has its own limit).
    pub parallelism: usize,
    /// Eager (default) or barrier waves (for comparison only).
    pub schedule: Schedule,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Undo what this apply created or changed when a step fails.
    pub rollback_on_failure: bool,
    /// First pause between two reads while polling for readiness (grows to 2 s).
    pub poll_interval: Duration,
    /// Wait for readiness on resource updates when the server offers subscriptions
    /// (else, or when false, poll).
    pub subscribe: bool,
    /// Where progress goes.
    pub events: Option<UnboundedSender<Event>>,
    /// Once cancelled, no step starts (the steps running finish and are recorded); the
    /// steps that never started are listed in [`Summary::not_started`].
    pub cancel: CancellationToken,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 64,
            schedule: Schedule::Eager,
            retry: RetryPolicy::default(),
            rollback_on_failure: false,
            poll_interval: Duration::from_millis(100),
            subscribe: true,
            events: None,
            cancel: CancellationToken::new(),
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Steps done, by action.
    pub done: BTreeMap<Action, usize>,
    /// Steps that failed, each error naming its address.
    pub failed: Vec<ExecError>,
    /// Steps skipped: (address, address of the failed step it depended on).
    pub skipped: Vec<(String, String)>,
    /// Steps never started because the run stopped: it was cancelled ([`Summary::cancelled`]),
    /// or the state could not be saved.
    pub not_started: Vec<String>,
    /// The run was cancelled before every step started.
    pub cancelled: bool,
    /// Addresses undone by `rollback_on_failure`, in the order they were undone.
    pub rolled_back: Vec<String>,
    /// Undo steps that failed.
    pub rollback_failed: Vec<ExecError>,
    /// Wall time.
    pub elapsed: Duration,
    /// Number of state writes (group commit makes it less than the number of changes).
    pub state_writes: u64,
}

impl Summary {
    /// Whether every step succeeded.
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.not_started.is_empty()
    }

    /// Number of steps done with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.done.get(&action).copied().unwrap_or(0)
    }

    /// Every problem as an error to show: failures, skipped steps (E0606, naming the
    /// failed dependency) and failed undo steps.
    pub fn errors(&self) -> Vec<ExecError> {
        let mut out = self.failed.clone();
        out.extend(self.skipped.iter().map(|(address, because)| {
            ExecError::new(codes::E0606, format!("skipped because {because} failed")).at(address)
        }));
        let why = if self.cancelled {
            "not started: the run was cancelled"
        } else {
            "not started: the run stopped after the state could not be saved"
        };
        out.extend(
            self.not_started
                .iter()
                .map(|address| ExecError::new(codes::E0606, why).at(address)),
        );
        out.extend(self.rollback_failed.iter().cloned());
        out
    }
}

/// What to undo on rollback, in completion order.
#[derive(Debug, Clone)]
enum Undo {
    Created {
        address: String,
        server: String,
        type_name: String,
        id: String,
    },
    Updated {
        address: String,
        prior: ResourceState,
    },
    Deleted {
        address: String,
        prior: ResourceState,
    },
}

struct Ctx<'a> {
    conns: &'a Connections,
    drivers: &'a Drivers,
    eval: &'a dyn Evaluator,
    state: StateCell,
    values: Mutex<Values>,
    events: Events,
    opts: &'a ApplyOptions,
    journal: Mutex<Vec<Undo>>,
}

/// Applies `steps` (in any order; `deps` give the order) starting from `state`, writing
/// the state to `store` after every step; each resource type is created, updated and
/// deleted as its driver in `drivers` says. Returns the final state and what happened.
/// Never fails as a whole: failures are in the summary, and the state is true.
pub async fn apply(
    steps: &[Step],
    eval: &dyn Evaluator,
    conns: &Connections,
    drivers: &Drivers,
    state: State,
    store: Arc<dyn mcpo_state::Backend>,
    opts: &ApplyOptions,
) -> (State, Summary) {
    let started = Instant::now();
    let values: Values = state
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), value_of(a, r)))
        .collect();
    for (a, v) in &values {
        eval.value_changed(a, Some(v));
    }
    let ctx = Ctx {
        conns,
        drivers,
        eval,
        state: StateCell::new(state, store),
        values: Mutex::new(values),
        events: Events(opts.events.clone()),
        opts,
        journal: Mutex::new(Vec::new()),
    };
    let addresses: Vec<String> = steps.iter().map(|s| s.address.clone()).collect();
    let deps = schedule::edges(&addresses, steps.iter().map(|s| s.deps.as_slice()));
    let outcomes = schedule::run(
        &addresses,
        &deps,
        opts.parallelism,
        opts.schedule,
        &ctx.events,
        &opts.cancel,
        |i| {
            let ctx = &ctx;
            let step = steps.get(i);
            async move {
                match step {
                    Some(step) => ctx.run_step(step).await,
                    None => Ok(()),
                }
            }
        },
    )
    .await;

    let mut summary = Summary::default();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let address = addresses.get(i).cloned().unwrap_or_default();
        match outcome {
            Outcome::Done => {
                if let Some(s) = steps.get(i)
                    && s.action != Action::NoOp
                {
                    *summary.done.entry(s.action).or_default() += 1;
                }
            }
            Outcome::Failed(e) => summary.failed.push(e),
            Outcome::Skipped(j) => {
                summary
                    .skipped
                    .push((address, addresses.get(j).cloned().unwrap_or_default()));
            }
            Outcome::NotStarted => summary.not_started.push(address),
        }
    }
    summary.cancelled = opts.cancel.is_cancelled() && !summary.not_started.is_empty();
    // A cancelled run is not a failed one: what was done stays.
    let failed = !summary.failed.is_empty() || !summary.skipped.is_empty();
    if failed && opts.rollback_on_failure {
        ctx.rollback(&mut summary).await;
    }
    if summary.ok() {
        let outputs = {
            let values = ctx.values.lock().unwrap_or_else(|p| p.into_inner());
            ctx.eval.outputs(&values)
        };
        if !outputs.is_empty() {
            ctx.state.change_outputs(|s| {
                s.outputs = outputs
                    .into_iter()
                    .map(|(k, (value, sensitive))| {
                        (k, mcpo_state::OutputState { value, sensitive })
                    })
                    .collect();
            });
        }
    }
    if let Err(e) = ctx.state.finish().await {
        summary.failed.push(e);
    }
    summary.state_writes = ctx.state.writes();
    summary.elapsed = started.elapsed();
    (ctx.state.into_state(), summary)
}

fn drop_intent(s: &mut State, address: &str, op: IntentOp) {
    s.intents.retain(|i| !(i.address == address && i.op == op));
}

impl<'a> Ctx<'a> {
    fn lock_values(&self) -> std::sync::MutexGuard<'_, Values> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_value(&self, address: &str, value: Value) {
        self.eval.value_changed(address, Some(&value));
        self.lock_values().insert(address.to_string(), value);
    }

    fn remove_value(&self, address: &str) {
        self.eval.value_changed(address, None);
        self.lock_values().remove(address);
    }

    /// `e` without the step's sensitive values (a server may quote what it rejects).
    fn redact(&self, step: &Step, e: ExecError) -> ExecError {
        if step.sensitive.is_empty() {
            return e;
        }
        match self.args(step) {
            Ok(args) => e.redact(&args, &step.sensitive),
            Err(_) => e,
        }
    }

    fn args(&self, step: &Step) -> Result<Value, ExecError> {
        let values = self.lock_values();
        self.eval.args(&step.address, &values).map_err(|e| {
            ExecError::new(
                codes::E0607,
                format!("the arguments cannot be evaluated: {e}"),
            )
            .at(&step.address)
        })
    }

    async fn run_step(&self, step: &Step) -> Result<(), ExecError> {
        if step.action == Action::NoOp {
            return Ok(());
        }
        let t0 = Instant::now();
        self.events.send(
            &step.address,
            EventKind::Started {
                action: step.action,
            },
        );
        let result = match step.action {
            Action::Create => self.create(step).await,
            Action::Update => self.update(step).await,
            Action::Replace => {
                self.events.send(
                    &step.address,
                    EventKind::Progress("deleting the old resource".into()),
                );
                match self.delete(step).await {
                    Ok(()) => {
                        self.events.send(
                            &step.address,
                            EventKind::Progress("creating the new resource".into()),
                        );
                        self.create(step).await
                    }
                    Err(e) => Err(e),
                }
            }
            Action::Delete => self.delete(step).await,
            Action::Read | Action::Run => self.run_tool(step).await,
            Action::Forget => {
                self.forget(step).await;
                Ok(())
            }
            Action::NoOp => Ok(()),
        };
        let result = result.map_err(|e| self.redact(step, e));
        match &result {
            Ok(()) => self.events.send(
                &step.address,
                EventKind::Done {
                    action: step.action,
                    elapsed: t0.elapsed(),
                },
            ),
            Err(e) => self
                .events
                .send(&step.address, EventKind::Failed { error: e.clone() }),
        }
        result
    }

    fn runner(&self) -> Runner<'_> {
        Runner {
            conns: self.conns,
            drivers: self.drivers,
            retry: self.opts.retry,
            events: &self.events,
        }
    }

    async fn create(&self, step: &Step) -> Result<(), ExecError> {
        let args = self.args(step)?;
        let address = &step.address;
        let r = resource_of(step);
        let (id, out, unread) = self.create_journalled(&r, &args).await?;
        let record = ResourceState {
            server: step.server.clone(),
            type_name: step.type_name.clone(),
            id: id.clone(),
            inputs: args,
            outputs: out.clone(),
            sensitive: step.sensitive.clone(),
            deps: step.deps.clone(),
            tainted: false,
        };
        let value = resource_value(&record.inputs, &out);
        self.state.change(address, |s| {
            drop_intent(s, address, IntentOp::Create);
            s.resources.insert(address.clone(), record);
        });
        self.set_value(address, value);
        self.push_undo(Undo::Created {
            address: address.clone(),
            server: step.server.clone(),
            type_name: step.type_name.clone(),
            id: id.clone(),
        });
        if let Some(e) = unread {
            return Err(e.with_help(
                "the resource was created and is recorded; `mcpoc refresh` reads it again",
            ));
        }
        self.wait_ready(step, &id).await
    }

    /// The outputs of resource `id` read back after a write, when its driver reads after
    /// writing (`None` when it does not).
    async fn read_back(
        &self,
        r: &Resource<'_>,
        driver: &dyn mcpo_plan::Driver,
        id: &str,
        inputs: &Value,
    ) -> Result<Option<Value>, ExecError> {
        if !driver.reads_after_write() {
            return Ok(None);
        }
        let target = Target::existing(inputs, id);
        match self.runner().perform(r, Op::Read, &target).await {
            Ok(Reading::Resource { outputs, .. }) => Ok(Some(outputs)),
            Ok(_) => Err(ExecError::new(
                codes::E0604,
                format!(
                    "`{}.{}` `{id}` was written, but reading it back found nothing",
                    r.server, r.type_name
                ),
            )
            .at(r.address)),
            Err(e) => Err(e.error),
        }
    }

    /// Removes a data read or task from the state; nothing is called.
    async fn forget(&self, step: &Step) {
        self.state.change(&step.address, |s| {
            s.resources.remove(&step.address);
        });
        self.remove_value(&step.address);
    }

    fn recorded(&self, address: &str) -> Option<ResourceState> {
        self.state.lock().resources.get(address).cloned()
    }

    async fn update(&self, step: &Step) -> Result<(), ExecError> {
        let address = &step.address;
        let Some(prior) = self.recorded(address) else {
            return Err(missing(address, "update"));
        };
        let id = step.id.clone().unwrap_or_else(|| prior.id.clone());
        let args = self.args(step)?;
        let out = self.update_to(&resource_of(step), &id, &args).await?;
        self.state.change(address, |s| {
            if let Some(r) = s.resources.get_mut(address) {
                r.inputs = args.clone();
                r.outputs = out.clone();
                r.deps = step.deps.clone();
                r.sensitive = step.sensitive.clone();
                r.tainted = false;
            }
        });
        self.set_value(address, resource_value(&args, &out));
        self.push_undo(Undo::Updated {
            address: address.clone(),
            prior,
        });
        self.wait_ready(step, &id).await
    }

    /// Updates resource `id` in place to `inputs` (the intent first); returns what the
    /// server reports.
    async fn update_to(
        &self,
        r: &Resource<'_>,
        id: &str,
        inputs: &Value,
    ) -> Result<Value, ExecError> {
        let address = r.address;
        let before = self.recorded(address).map(|p| p.outputs);
        let target = Target::existing(inputs, id).recorded(before.as_ref());
        let (driver, call) = self
            .runner()
            .prepare(r, Op::Update, &target)
            .map_err(|e| e.error)?;
        self.state
            .commit(address, |s| {
                s.intents.push(Intent {
                    op: IntentOp::Update,
                    address: address.to_string(),
                    server: r.server.to_string(),
                    type_name: r.type_name.to_string(),
                    args: call.args.clone(),
                    id: Some(id.to_string()),
                })
            })
            .await
            .map_err(|e| e.at(address))?;
        let reading = self
            .runner()
            .finish(r, driver.as_ref(), Op::Update, &target, &call)
            .await;
        match reading {
            Ok(reading) => {
                self.state
                    .change(address, |s| drop_intent(s, address, IntentOp::Update));
                let written = match reading {
                    Reading::Resource { outputs, .. } => outputs,
                    _ => Value::Object(serde_json::Map::new()),
                };
                Ok(self
                    .read_back(r, driver.as_ref(), id, inputs)
                    .await?
                    .unwrap_or(written))
            }
            Err(CallError { error, certain, .. }) => {
                if certain {
                    self.state
                        .change(address, |s| drop_intent(s, address, IntentOp::Update));
                }
                Err(error)
            }
        }
    }

    async fn delete(&self, step: &Step) -> Result<(), ExecError> {
        let address = &step.address;
        if is_task(address) {
            return self.undo_task(step).await;
        }
        let prior = self.recorded(address);
        let driver = self.drivers.get(&step.server, &step.type_name);
        if !driver.supports(Op::Delete) && driver.forgets() {
            // The adapter has no delete and says its resources may be forgotten: the old
            // resource stays on its server (a replace then creates a new one).
            self.events.send(
                address,
                EventKind::Progress("forgotten (the adapter has no delete)".into()),
            );
            self.forget(step).await;
            return Ok(());
        }
        let Some(id) = step
            .id
            .clone()
            .or_else(|| prior.as_ref().map(|p| p.id.clone()))
        else {
            return Err(missing(address, "delete"));
        };
        let inputs = prior.as_ref().map_or(Value::Null, |p| p.inputs.clone());
        self.delete_id(&resource_of(step), &id, &inputs).await?;
        if let Some(prior) = prior {
            self.push_undo(Undo::Deleted {
                address: address.clone(),
                prior,
            });
        }
        Ok(())
    }

    /// Deletes `id` (a "not found" answer counts as deleted) and forgets its address.
    async fn delete_id(&self, r: &Resource<'_>, id: &str, inputs: &Value) -> Result<(), ExecError> {
        let address = r.address;
        let target = Target::existing(inputs, id);
        let (driver, call) = self
            .runner()
            .prepare(r, Op::Delete, &target)
            .map_err(|e| e.error)?;
        self.state
            .commit(address, |s| {
                s.intents.push(Intent {
                    op: IntentOp::Delete,
                    address: address.to_string(),
                    server: r.server.to_string(),
                    type_name: r.type_name.to_string(),
                    args: Value::Null,
                    id: Some(id.to_string()),
                })
            })
            .await
            .map_err(|e| e.at(address))?;
        let reading = self
            .runner()
            .finish(r, driver.as_ref(), Op::Delete, &target, &call)
            .await;
        if let Err(CallError {
            error,
            certain,
            gone,
            ..
        }) = reading
        {
            // Only a "not found" answer means it is gone already.
            if !gone {
                if certain {
                    self.state
                        .change(address, |s| drop_intent(s, address, IntentOp::Delete));
                }
                return Err(error);
            }
        }
        self.state.change(address, |s| {
            drop_intent(s, address, IntentOp::Delete);
            if s.resources.get(address).is_some_and(|r| r.id == id) {
                s.resources.remove(address);
            }
        });
        self.remove_value(address);
        Ok(())
    }

    /// A task's call or a data read: the result is recorded and flows on.
    async fn run_tool(&self, step: &Step) -> Result<(), ExecError> {
        let address = &step.address;
        let args = self.args(step)?;
        let mut undo = None;
        let out = if step.action == Action::Read {
            self.read_data(step, &args).await?
        } else {
            // A task changes the world: what was done so far is durable first.
            self.state.flush().await.map_err(|e| e.at(address))?;
            let out = call_tool(
                self.conns,
                self.opts.retry,
                &self.events,
                address,
                &step.server,
                &step.type_name,
                &args,
            )
            .await
            .map_err(|e| e.error)?;
            let (failed, undo_call) = {
                let values = self.lock_values();
                (
                    self.eval.task_failed(address, &args, &out, &values),
                    self.eval.task_undo(address, &args, &out, &values),
                )
            };
            match failed {
                Ok(None) => {}
                Ok(Some(why)) => {
                    return Err(ExecError::new(
                        codes::E0600,
                        format!(
                            "server `{}`, tool `{}`: the result says the call failed: {why}",
                            step.server, step.type_name
                        ),
                    )
                    .at(address)
                    .with_help("the task is not recorded as run; the next plan runs it again"));
                }
                Err(m) => {
                    return Err(ExecError::new(
                        codes::E0607,
                        format!("the result cannot be judged: {m}"),
                    )
                    .at(address));
                }
            }
            // The undo call is computed now, while its `self` and `result` are known, and
            // recorded: the task's block may be gone when it is undone.
            undo = undo_call.map_err(|m| {
                ExecError::new(
                    codes::E0607,
                    format!("the task ran, but its `undo` call cannot be computed: {m}"),
                )
                .at(address)
            })?;
            out
        };
        let mut inputs = {
            let values = self.lock_values();
            self.eval.recorded_inputs(address, &args, &values)
        };
        if let (Some(u), Some(obj)) = (undo, inputs.as_object_mut()) {
            obj.insert(
                "undo".into(),
                serde_json::json!({ "server": u.server, "tool": u.tool, "args": u.args }),
            );
        }
        let record = ResourceState {
            server: step.server.clone(),
            type_name: step.type_name.clone(),
            id: mcpo_plan::driver::id_of(&out).unwrap_or_else(|| address.clone()),
            inputs,
            outputs: out.clone(),
            sensitive: step.sensitive.clone(),
            deps: step.deps.clone(),
            tainted: false,
        };
        self.state.change(address, |s| {
            s.resources.insert(address.clone(), record);
        });
        self.set_value(address, out);
        Ok(())
    }

    /// Runs the undo call a removed or destroyed task recorded, then forgets the task.
    async fn undo_task(&self, step: &Step) -> Result<(), ExecError> {
        let address = &step.address;
        let Some(call) = self
            .recorded(address)
            .and_then(|r| mcpo_plan::task_undo(&r.inputs))
        else {
            self.forget(step).await;
            return Ok(());
        };
        self.state.flush().await.map_err(|e| e.at(address))?;
        let out = call_tool(
            self.conns,
            self.opts.retry,
            &self.events,
            address,
            &call.server,
            &call.tool,
            &call.args,
        )
        .await
        .map_err(|e| e.error)?;
        match self.drivers.server_failed(&call.server, &out) {
            Ok(None) => {}
            Ok(Some(why)) | Err(why) => {
                return Err(ExecError::new(
                    codes::E0600,
                    format!(
                        "server `{}`, tool `{}` (the task's undo): the result says the call failed: {why}",
                        call.server, call.tool
                    ),
                )
                .at(address)
                .with_help("the task stays in the state; the next plan runs its undo again"));
            }
        }
        self.forget(step).await;
        Ok(())
    }

    /// A data read, by the same rules as at plan time (the type's driver says how).
    async fn read_data(&self, step: &Step, args: &Value) -> Result<Value, ExecError> {
        let address = &step.address;
        let driver = self.drivers.get(&step.server, &step.type_name);
        let query = driver.data_query(args).map_err(|m| {
            ExecError::new(
                codes::E0607,
                format!("the read cannot be computed: {m}; nothing was called"),
            )
            .at(address)
        })?;
        let Some(query) = query else {
            return Err(ExecError::new(
                codes::E0616,
                format!(
                    "`{}.{}` cannot be read on server `{}`; nothing was called",
                    step.server, step.type_name, step.server
                ),
            )
            .at(address));
        };
        let call = query.call();
        let out = call_tool(
            self.conns,
            self.opts.retry,
            &self.events,
            address,
            &call.server,
            &call.tool,
            &call.args,
        )
        .await
        .map_err(|e| e.error)?;
        driver
            .data_result(&query, args, out)
            .map_err(|m| ExecError::new(codes::E0600, m).at(address))
    }

    fn push_undo(&self, undo: Undo) {
        self.journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(undo);
    }

    fn is_ready(&self, step: &Step, current: &Value) -> Result<bool, ExecError> {
        let values = self.lock_values();
        self.eval
            .ready(&step.address, current, &values)
            .map_err(|e| {
                ExecError::new(
                    codes::E0607,
                    format!("the wait_for condition cannot be evaluated: {e}"),
                )
                .at(&step.address)
            })
    }

    /// Waits for the `wait_for` condition of `step` (resource `id`): on resource updates
    /// when the server offers subscriptions, else by polling the type's read.
    async fn wait_ready(&self, step: &Step, id: &str) -> Result<(), ExecError> {
        let Some(wait) = self.eval.wait_for(&step.address) else {
            return Ok(());
        };
        let address = &step.address;
        let deadline = Instant::now() + wait.timeout;
        let mut current = self.lock_values().get(address).cloned().unwrap_or_default();
        if self.is_ready(step, &current)? {
            return Ok(());
        }
        self.events.send(address, EventKind::Waiting);
        let conn = self.conns.get(&step.server).map_err(|e| e.at(address))?;
        let mut updates =
            if self.opts.subscribe && self.conns.subscribable(&step.server, &step.type_name) {
                conn.subscribe(&format!("mcpo://{}/{id}", step.type_name))
                    .await
                    .ok()
            } else {
                None
            };
        let inputs = self.recorded(address).map_or(Value::Null, |r| r.inputs);
        let target = Target::existing(&inputs, id);
        let r = resource_of(step);
        let mut pause = self.opts.poll_interval;
        loop {
            // With a subscription, read as soon as the server says the resource changed
            // (and every few seconds in case a notification was lost); else poll.
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let left = deadline - now;
            match updates.as_mut() {
                Some(u) => {
                    let fallback = Duration::from_secs(5).min(left);
                    if let Ok(None) = tokio::time::timeout(fallback, u.next()).await {
                        updates = None;
                    }
                }
                None => {
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause.mul_f64(1.5)).min(Duration::from_secs(2));
                }
            }
            match self.runner().perform(&r, Op::Read, &target).await {
                Ok(Reading::Resource { outputs, .. }) => current = outputs,
                Ok(_) => {
                    return Err(ExecError::new(
                        codes::E0605,
                        "the resource disappeared while waiting for it to be ready",
                    )
                    .at(address));
                }
                Err(e) => return Err(e.error),
            }
            if self.is_ready(step, &current)? {
                self.state.change(address, |s| {
                    if let Some(r) = s.resources.get_mut(address) {
                        r.outputs = current.clone();
                    }
                });
                self.set_value(address, resource_value(&inputs, &current));
                return Ok(());
            }
        }
        self.state.change(address, |s| {
            if let Some(r) = s.resources.get_mut(address) {
                r.outputs = current.clone();
                r.tainted = true;
            }
        });
        Err(ExecError::new(
            codes::E0605,
            format!(
                "not ready after {}: the wait_for condition is still false",
                mcpo_mcp::show_duration(wait.timeout)
            ),
        )
        .at(address)
        .with_help("the resource is recorded as tainted; the next plan replaces it"))
    }

    /// Undoes the journal in reverse completion order.
    async fn rollback(&self, summary: &mut Summary) {
        let journal = std::mem::take(&mut *self.journal.lock().unwrap_or_else(|p| p.into_inner()));
        for undo in journal.into_iter().rev() {
            let (address, action, result) = match undo {
                Undo::Created {
                    address,
                    server,
                    type_name,
                    id,
                } => {
                    let r = Resource {
                        address: &address,
                        server: &server,
                        type_name: &type_name,
                    };
                    let inputs = self.recorded(&address).map_or(Value::Null, |p| p.inputs);
                    let result = self.delete_id(&r, &id, &inputs).await;
                    (address.clone(), Action::Delete, result)
                }
                Undo::Updated { address, prior } => {
                    let r = self.restore(&address, &prior).await;
                    (address, Action::Update, r)
                }
                Undo::Deleted { address, prior } => {
                    let r = self.recreate(&address, &prior).await;
                    (address, Action::Create, r)
                }
            };
            match result {
                Ok(()) => {
                    self.events.send(&address, EventKind::RolledBack { action });
                    summary.rolled_back.push(address);
                }
                Err(e) => summary.rollback_failed.push(ExecError {
                    code: codes::E0610,
                    message: format!("rollback: {}", e.message),
                    ..e
                }),
            }
        }
    }

    /// Updates a resource back to the inputs it had before this apply.
    async fn restore(&self, address: &str, prior: &ResourceState) -> Result<(), ExecError> {
        let r = Resource {
            address,
            server: &prior.server,
            type_name: &prior.type_name,
        };
        let out = self.update_to(&r, &prior.id, &prior.inputs).await?;
        let mut restored = prior.clone();
        restored.outputs = out;
        self.state.change(address, |s| {
            s.resources.insert(address.to_string(), restored);
        });
        Ok(())
    }

    /// Creates resource `r` with `args`, recorded first as an intent in the state. It
    /// returns the new id and outputs (read back when the driver's write results say
    /// little) and the read-back's error, if any: the resource exists either way, so the
    /// caller records it before reporting that. When the create certainly failed the intent
    /// is dropped; when it may have happened (a crash, a timeout) the intent stays for
    /// refresh to resolve.
    async fn create_journalled(
        &self,
        r: &Resource<'_>,
        args: &Value,
    ) -> Result<(String, Value, Option<ExecError>), ExecError> {
        let address = r.address;
        let target = Target::new(args);
        let (driver, call) = self
            .runner()
            .prepare(r, Op::Create, &target)
            .map_err(|e| e.error)?;
        self.state
            .commit(address, |s| {
                s.intents.push(Intent {
                    op: IntentOp::Create,
                    address: address.to_string(),
                    server: r.server.to_string(),
                    type_name: r.type_name.to_string(),
                    args: args.clone(),
                    id: None,
                })
            })
            .await
            .map_err(|e| e.at(address))?;
        let reading = self
            .runner()
            .finish(r, driver.as_ref(), Op::Create, &target, &call)
            .await;
        let (id, out) = match reading {
            Ok(Reading::Resource { id, outputs }) => (id, outputs),
            Ok(_) => {
                return Err(ExecError::new(
                    codes::E0604,
                    format!(
                        "server `{}`, tool `{}`: the create returned no resource",
                        call.server, call.tool
                    ),
                )
                .at(address)
                .with_help(
                    "this is a bug in the server or its adapter; the intent stays in the state",
                ));
            }
            Err(CallError { error, certain, .. }) => {
                if certain {
                    self.state
                        .change(address, |s| drop_intent(s, address, IntentOp::Create));
                    return Err(error);
                }
                // The create may have happened: the intent stays for refresh to resolve.
                let help = if error.code == codes::E0604 {
                    "this is a bug in the server; the intent stays in the state"
                } else {
                    "the resource may exist: `mcpoc refresh` looks it up and adopts it"
                };
                return Err(error.with_help(help));
            }
        };
        match self.read_back(r, driver.as_ref(), &id, args).await {
            Ok(Some(read)) => Ok((id, read, None)),
            Ok(None) => Ok((id, out, None)),
            Err(e) => Ok((id, out, Some(e))),
        }
    }

    /// Creates again a resource this apply deleted, with its former inputs.
    async fn recreate(&self, address: &str, prior: &ResourceState) -> Result<(), ExecError> {
        let r = Resource {
            address,
            server: &prior.server,
            type_name: &prior.type_name,
        };
        let (id, outputs, unread) = self.create_journalled(&r, &prior.inputs).await?;
        let mut again = prior.clone();
        again.id = id;
        again.outputs = outputs;
        self.state.change(address, |s| {
            drop_intent(s, address, IntentOp::Create);
            s.resources.insert(address.to_string(), again);
        });
        match unread {
            Some(e) => Err(e.with_help(
                "the resource was created again and is recorded; `mcpoc refresh` reads it again",
            )),
            None => Ok(()),
        }
    }
}

/// Whether `address` names a task.
fn is_task(address: &str) -> bool {
    mcpo_address::Address::parse(address).is_ok_and(|a| a.kind == mcpo_address::Kind::Task)
}

/// What references read on what the state recorded at `address`: a resource's inputs and
/// outputs (every input is readable), a task's result, a data read's object.
fn value_of(address: &str, r: &ResourceState) -> Value {
    if mcpo_address::Address::parse(address).is_ok_and(|a| a.is_resource()) {
        resource_value(&r.inputs, &r.outputs)
    } else {
        r.outputs.clone()
    }
}

/// The resource a step is about.
fn resource_of(step: &Step) -> Resource<'_> {
    Resource {
        address: &step.address,
        server: &step.server,
        type_name: &step.type_name,
    }
}

fn missing(address: &str, what: &str) -> ExecError {
    ExecError::new(
        codes::E0614,
        format!("not in state, so there is no id to {what}"),
    )
    .at(address)
    .with_help("make a new plan (`mcpoc plan`)")
}
