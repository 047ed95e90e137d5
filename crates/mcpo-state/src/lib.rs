//! What exists: the state data model and its backends.
//!
//! [`State`] records every resource mcpo manages (its server, type, id, the inputs it was
//! created with and the outputs its server last reported), the outputs of the workspace,
//! and the *intents* of operations in flight: an intent is written (and fsynced) before a
//! `create` or `delete` is sent, so a process killed at any moment leaves a state from
//! which the next run can tell what may exist.
//!
//! Every place a state can live is a [`Backend`]: read, compare-and-swap write, a lock
//! naming its holder (released on drop and when the holder dies), history. The local file
//! backend [`LocalBackend`] (atomic write, fsync, versions kept) is the default;
//! [`MemoryBackend`] and [`Discard`] keep no file. Errors are [`StateError`]s, each with a
//! diagnostic code (`E0500`-`E0519`), the same for every backend.
//!
//! This crate knows nothing of MCP or of the mcpo language: it stores JSON values under
//! addresses (`mcpo_address`), which only [`State::rm`] looks into.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

mod backend;
pub mod codec;
pub mod crypt;
mod error;
mod journal;
mod local;
mod lock;

pub use backend::{Backend, Discard, MemoryBackend};
pub use error::StateError;
pub use local::{HISTORY_KEPT, LocalBackend, new_lineage};
pub use lock::{LockGuard, LockInfo, rfc3339};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What [`ResourceState::redacted`] and [`OutputState::redacted`] show instead of a
/// sensitive value.
pub const REDACTED: &str = "(sensitive value)";

/// The state format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Everything mcpo knows exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// A random id given when the state is first created; a saved plan names it.
    pub lineage: String,
    /// Incremented on every write; a saved plan refuses to apply when it changed.
    pub serial: u64,
    /// Managed resources (and data reads) by address (`aws.vpc.main`, `aws.vpc.web[0]`,
    /// `aws.vpc.web["a"]`, `module.shop.aws.vpc.main`, `data.aws.vpc.x`), sorted.
    pub resources: BTreeMap<String, ResourceState>,
    /// The workspace's outputs after the last apply.
    pub outputs: BTreeMap<String, OutputState>,
    /// Operations that were started but whose result is not recorded yet.
    pub intents: Vec<Intent>,
    /// The journals of the last runbook runs (`mcpoc run`), oldest first: each step's
    /// start, end, result and error, so that `--resume` continues an interrupted run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunRecord>,
}

impl State {
    /// An empty state with the given lineage.
    pub fn new(lineage: impl Into<String>) -> State {
        State {
            version: FORMAT_VERSION,
            lineage: lineage.into(),
            serial: 0,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            intents: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Forgets the resource at `address` and every resource under it: its instances
    /// (`address[0]`, `address["a"]`) and, for a module (`module.shop`), everything inside
    /// it (`module.shop.aws.vpc.main`). Intents about those addresses are dropped too.
    /// Returns what was removed, sorted by address (empty when nothing matched).
    pub fn rm(&mut self, address: &str) -> Vec<(String, ResourceState)> {
        let Ok(selector) = mcpo_address::Selector::parse(address) else {
            return Vec::new();
        };
        let matches = |a: &str| selector.matches_text(a);
        let addresses: Vec<String> = self
            .resources
            .keys()
            .filter(|a| matches(a))
            .cloned()
            .collect();
        self.intents.retain(|i| !matches(&i.address));
        addresses
            .into_iter()
            .filter_map(|a| self.resources.remove(&a).map(|r| (a, r)))
            .collect()
    }
}

/// How many finished runbook runs a state keeps (unfinished ones are always kept).
pub const RUNS_KEPT: usize = 20;

/// One run of a runbook, as the state journals it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique among the runs of this state.
    pub id: String,
    /// The runbook's name.
    pub runbook: String,
    /// The parameters it ran with (a JSON object).
    pub params: Value,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it ended, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// How it stands.
    pub status: RunStatus,
    /// Each step that started, by name.
    #[serde(default)]
    pub steps: BTreeMap<String, StepRecord>,
}

/// How a runbook run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not ended (or its process died): `--resume` continues it.
    Running,
    /// Every step succeeded, was skipped, or failed with `on_failure = "continue"`.
    Succeeded,
    /// A step failed (its compensation, if any, ran).
    Failed,
    /// A person declined an approval step.
    Declined,
    /// Interrupted (Ctrl-C) before every step started: `--resume` continues it.
    Cancelled,
}

/// One step of a runbook run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// How it stands.
    pub status: StepStatus,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// Calls made (1 plus the retries).
    #[serde(default)]
    pub attempts: u32,
    /// Its result (null until it is done).
    #[serde(default)]
    pub result: Value,
    /// Why it failed, or why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether calling it again has the same effect as once (its tool says so, or the
    /// step does): a step started but not finished is repeated on `--resume` only then.
    #[serde(default)]
    pub idempotent: bool,
}

/// How a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Its call was made (or is about to be) and its end is not recorded.
    Running,
    /// Succeeded; `result` holds what it returned.
    Done,
    /// Failed after its retries.
    Failed,
    /// Not run: its `when` was false, or a step it reads failed.
    Skipped,
}

/// What changed from one version of a state to the next, for a backend that keeps versions
/// as a journal of changes ([`Backend::write_delta`]) rather than rewriting the whole state
/// on every step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Resources recorded (`Some`) or forgotten (`None`), by address.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, Option<ResourceState>>,
    /// Every intent of the new version (they are few: the operations in flight).
    #[serde(default)]
    pub intents: Vec<Intent>,
    /// The workspace's outputs, when they changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<BTreeMap<String, OutputState>>,
}

impl Delta {
    /// The change that brings a version of `state` to what it is now for the resources
    /// at `addresses` (the ones that changed), its intents, and its outputs when
    /// `outputs_changed`.
    pub fn of<'a>(
        state: &State,
        addresses: impl IntoIterator<Item = &'a String>,
        outputs_changed: bool,
    ) -> Delta {
        Delta {
            resources: addresses
                .into_iter()
                .map(|a| (a.clone(), state.resources.get(a).cloned()))
                .collect(),
            intents: state.intents.clone(),
            outputs: outputs_changed.then(|| state.outputs.clone()),
        }
    }

    /// Applies this change to `state` (its serial is left to the caller).
    pub fn apply_to(self, state: &mut State) {
        for (address, resource) in self.resources {
            match resource {
                Some(r) => {
                    state.resources.insert(address, r);
                }
                None => {
                    state.resources.remove(&address);
                }
            }
        }
        state.intents = self.intents;
        if let Some(outputs) = self.outputs {
            state.outputs = outputs;
        }
    }
}

/// One managed resource instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    /// The server's name in the workspace.
    pub server: String,
    /// The resource type (`vpc`), or the tool of a task.
    pub type_name: String,
    /// The id the server gave it (the `id` of the create result).
    pub id: String,
    /// The arguments it was last created or updated with (JSON object).
    pub inputs: Value,
    /// What the server last reported (the create/read/update result, JSON object).
    pub outputs: Value,
    /// Top-level attribute names (of inputs or outputs) whose values are sensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
    /// Addresses this resource depended on when it was last applied (destroy order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
    /// A create or update that did not finish (readiness timed out, ...): the next plan
    /// replaces it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tainted: bool,
}

impl ResourceState {
    /// A JSON copy of this resource for showing (logs, `mcpoc state show`): the values of
    /// its sensitive attributes, in `inputs` and in `outputs`, read [`REDACTED`].
    pub fn redacted(&self) -> Value {
        let mut copy = self.clone();
        for name in &self.sensitive {
            for attrs in [&mut copy.inputs, &mut copy.outputs] {
                if let Some(v) = attrs.as_object_mut().and_then(|o| o.get_mut(name)) {
                    *v = Value::String(REDACTED.to_string());
                }
            }
        }
        serde_json::to_value(copy).unwrap_or(Value::Null)
    }
}

/// A workspace output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    /// The value.
    pub value: Value,
    /// Never printed unless asked for by name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

impl OutputState {
    /// The value for showing: [`REDACTED`] when sensitive.
    pub fn redacted(&self) -> Value {
        if self.sensitive {
            Value::String(REDACTED.to_string())
        } else {
            self.value.clone()
        }
    }
}

/// What an intent was about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentOp {
    /// `T.create` with `args`; the id is not known yet.
    Create,
    /// `T.delete` of `id`.
    Delete,
    /// `T.update` of `id` with `args`.
    Update,
}

/// An operation in flight, recorded before the tool is called.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// What is being done.
    pub op: IntentOp,
    /// The resource's address.
    pub address: String,
    /// Its server.
    pub server: String,
    /// Its type.
    pub type_name: String,
    /// The arguments sent (create, update).
    #[serde(default)]
    pub args: Value,
    /// The id (delete, update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}
