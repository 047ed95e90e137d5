//! The executor: refresh, apply, destroy and import over MCP tool calls.
//!
//! Every node of a plan starts the moment all its dependencies are done (waves are only
//! for display), bounded by a global parallelism and each server's concurrency limit;
//! values from finished nodes flow into the arguments of the next; state is written after
//! every step, with intents recorded before `create`/`update`/`delete` are sent.
//!
//! - [`Connections`]: one connection per server per run, connected concurrently;
//! - [`apply`]: eager scheduling of [`Step`]s, retries, readiness waits, rollback;
//! - [`refresh`]: reads every resource of the state, reports drift and resources deleted
//!   outside mcpo, reconciles the intents a crashed apply left behind;
//! - [`import`].
//!
//! How each resource type is created, read, updated, deleted and listed is its driver's
//! business (`mcpo_plan::driver`): the executor asks it for the call, makes the call with
//! retries, and asks it what the result means.
//!
//! **Architecture invariant:** the only crate that calls tools to change the world; it
//! never prints (progress goes out as [`Event`]s on a channel, results as values).

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

mod apply;
mod conns;
mod error;
mod events;
mod observe;
mod ops;
mod program;
mod refresh;
mod retry;
pub mod runbook;
mod schedule;
mod store;

pub use apply::{ApplyOptions, Schedule, Summary, apply};
pub use conns::Connections;
pub use error::ExecError;
pub use events::{Event, EventKind};
pub use observe::{Unmanaged, health, unmanaged};
pub use program::{PlanEvaluator, RestoreEvaluator, steps_of};
pub use refresh::{Drift, Gone, RefreshOptions, RefreshReport, import, refresh};
pub use retry::RetryPolicy;
pub use tokio_util::sync::CancellationToken;

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The values of finished nodes: address -> value (for a resource, the object its server
/// returned, including `id`).
pub type Values = BTreeMap<String, Value>;

/// What a step does: the plan's action (`Action::verb` names it in messages and events).
pub use mcpo_plan::Action;

/// One node of the work: what to do to which address, and what it waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The address (`aws.vpc.main`, `task.opnsense.apply_changes.fw`, ...).
    pub address: String,
    /// What to do.
    pub action: Action,
    /// The server's name.
    pub server: String,
    /// The resource type (`vpc`, also of a data read); for a task, the tool to call.
    pub type_name: String,
    /// The id of an existing resource (update, replace, delete); taken from the state
    /// when absent.
    pub id: Option<String>,
    /// Addresses of steps that must be done before this one starts.
    pub deps: Vec<String>,
    /// The inputs `T.update` takes (an update sends `id` and these); all of the evaluated
    /// arguments when empty.
    pub update_attrs: Vec<String>,
    /// Top-level attributes whose values are sensitive (recorded, never shown).
    pub sensitive: Vec<String>,
}

impl Step {
    /// A step with no dependencies, no id, nothing sensitive.
    pub fn new(
        address: impl Into<String>,
        action: Action,
        server: impl Into<String>,
        type_name: impl Into<String>,
    ) -> Step {
        Step {
            address: address.into(),
            action,
            server: server.into(),
            type_name: type_name.into(),
            id: None,
            deps: Vec::new(),
            update_attrs: Vec::new(),
            sensitive: Vec::new(),
        }
    }

    /// The same step, waiting for `deps`.
    pub fn after<I, S>(mut self, deps: I) -> Step
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.deps.extend(deps.into_iter().map(Into::into));
        self
    }
}

/// A `wait_for` block of a resource: how long its condition may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitFor {
    /// Give up (and taint the resource) after this long.
    pub timeout: Duration,
}

/// What the executor asks of the program being applied: the arguments of each step,
/// evaluated with the values of finished steps, and readiness conditions. Implemented over
/// `mcpo_plan::Program` by the CLI, and by [`Closures`] for programs built in code.
pub trait Evaluator: Send + Sync {
    /// The arguments of the create/update of a resource, a task's call or a data read.
    fn args(&self, address: &str, values: &Values) -> Result<Value, String>;

    /// The `wait_for` block of a resource, if it has one.
    fn wait_for(&self, _address: &str) -> Option<WaitFor> {
        None
    }

    /// Whether the resource at `address`, whose current server state is `current`, is
    /// ready (its `wait_for` condition holds).
    fn ready(&self, _address: &str, _current: &Value, _values: &Values) -> Result<bool, String> {
        Ok(true)
    }

    /// The workspace outputs, with the final values: name -> (value, sensitive).
    fn outputs(&self, _values: &Values) -> BTreeMap<String, (Value, bool)> {
        BTreeMap::new()
    }

    /// Told whenever the value of `address` is set (`Some`) or removed (`None`), before
    /// the steps that depend on it start: an evaluator may keep its own form of the values.
    fn value_changed(&self, _address: &str, _value: Option<&Value>) {}

    /// What the state records as the inputs of a task or data read called with `args`
    /// (the plan compares against it next time).
    fn recorded_inputs(&self, _address: &str, args: &Value, _values: &Values) -> Value {
        args.clone()
    }

    /// Whether a task's `result` says its call failed (its `failed_when`, else its
    /// server's default): `Ok(Some(why))` when it failed.
    fn task_failed(
        &self,
        _address: &str,
        _args: &Value,
        _result: &Value,
        _values: &Values,
    ) -> Result<Option<String>, String> {
        Ok(None)
    }

    /// The undo call of a task that ran with `args` and gave `result`, when it declares
    /// one (recorded in the state, made when the task is removed or destroyed).
    fn task_undo(
        &self,
        _address: &str,
        _args: &Value,
        _result: &Value,
        _values: &Values,
    ) -> Result<Option<mcpo_plan::driver::Call>, String> {
        Ok(None)
    }
}

/// Arguments computed by a closure of the finished values.
pub type ArgsFn = Box<dyn Fn(&Values) -> Result<Value, String> + Send + Sync>;
/// A readiness condition: the resource's current state and the finished values.
pub type ReadyFn = Box<dyn Fn(&Value, &Values) -> Result<bool, String> + Send + Sync>;

/// An [`Evaluator`] made of closures, one per address: for programs built in code (tests,
/// benchmarks, runbooks).
#[derive(Default)]
pub struct Closures {
    args: BTreeMap<String, ArgsFn>,
    waits: BTreeMap<String, (WaitFor, ReadyFn)>,
}

impl Closures {
    /// No closures yet.
    pub fn new() -> Closures {
        Closures::default()
    }

    /// Sets the arguments of `address`.
    pub fn args(
        &mut self,
        address: impl Into<String>,
        f: impl Fn(&Values) -> Result<Value, String> + Send + Sync + 'static,
    ) -> &mut Closures {
        self.args.insert(address.into(), Box::new(f));
        self
    }

    /// Gives `address` a readiness condition and its timeout.
    pub fn wait_for(
        &mut self,
        address: impl Into<String>,
        timeout: Duration,
        ready: impl Fn(&Value, &Values) -> Result<bool, String> + Send + Sync + 'static,
    ) -> &mut Closures {
        self.waits
            .insert(address.into(), (WaitFor { timeout }, Box::new(ready)));
        self
    }
}

impl Evaluator for Closures {
    fn args(&self, address: &str, values: &Values) -> Result<Value, String> {
        match self.args.get(address) {
            Some(f) => f(values),
            None => Ok(Value::Object(serde_json::Map::new())),
        }
    }

    fn wait_for(&self, address: &str) -> Option<WaitFor> {
        self.waits.get(address).map(|(w, _)| *w)
    }

    fn ready(&self, address: &str, current: &Value, values: &Values) -> Result<bool, String> {
        match self.waits.get(address) {
            Some((_, f)) => f(current, values),
            None => Ok(true),
        }
    }
}

/// The attribute `attr` of the finished node at `address`, for [`Closures`]:
/// `get(values, "docker.volume.a", "id")`.
pub fn get<'v>(values: &'v Values, address: &str, attr: &str) -> Result<&'v Value, String> {
    values
        .get(address)
        .ok_or_else(|| format!("{address} has no value yet"))?
        .get(attr)
        .ok_or_else(|| format!("{address} has no attribute `{attr}`"))
}
