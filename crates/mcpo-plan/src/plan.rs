//! The plan format: what `mcpoc plan` shows, `--out plan.json` saves and `apply` executes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The plan format version written by this build.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What will happen to one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `T.create`.
    Create,
    /// `T.update` in place.
    Update,
    /// `T.delete` then `T.create` (a force-new attribute changed, the type has no update,
    /// or the resource is tainted).
    Replace,
    /// `T.delete` (no longer declared, or `destroy`).
    Delete,
    /// A data read deferred to apply (its arguments are known only then).
    Read,
    /// A task's tool call (first run, or its arguments or triggers changed).
    Run,
    /// Remove from the state without calling anything: a data read or a task that is no
    /// longer declared (or is destroyed) has nothing on a server to delete.
    Forget,
    /// Nothing to do.
    NoOp,
}

impl Action {
    /// The symbol shown in front of the address (`+`, `~`, `-/+`, `-`, `<=`, `>`, `x`).
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Read => "<=",
            Action::Run => ">",
            Action::Forget => "x",
            Action::NoOp => " ",
        }
    }

    /// The verb used in summaries ("create", "update", ...).
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Read => "read",
            Action::Run => "run",
            Action::Forget => "forget",
            Action::NoOp => "no-op",
        }
    }
}

/// What kind of node a change is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A managed resource instance.
    Resource,
    /// A data read.
    Data,
    /// A task (one tool call).
    Task,
}

/// One attribute's change, already rendered for display (sensitive values redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrChange {
    /// The attribute.
    pub name: String,
    /// Its value now (None: not set).
    pub before: Option<String>,
    /// Its value after apply (None: removed); `(known after apply)` when unknown.
    pub after: Option<String>,
    /// Changing it forces a replacement.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_new: bool,
    /// The value is sensitive (both sides are redacted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// One node's planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The instance address (`aws.vpc.main`, `aws.vpc.web[0]`, `data.aws.vpc.x`, ...).
    pub address: String,
    /// Resource, data or task.
    pub kind: NodeKind,
    /// What will happen.
    pub action: Action,
    /// The server's name.
    pub server: String,
    /// The resource type (or the tool of a task).
    pub type_name: String,
    /// The id in state, for update, replace and delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Addresses of the changes that must finish first.
    #[serde(default)]
    pub deps: Vec<String>,
    /// The planned arguments (unknown parts are `null` here and listed in
    /// `after_unknown`); the executor evaluates them again with real values.
    #[serde(default)]
    pub after: Value,
    /// Top-level arguments known only after apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_unknown: Vec<String>,
    /// The attribute changes, for display.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attrs: Vec<AttrChange>,
    /// Why a replace is needed (force-new attributes, no update tool, tainted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The inputs `T.update` takes (an update sends only these, plus `id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub update_attrs: Vec<String>,
    /// Top-level attributes whose values are sensitive (never printed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
}

impl Change {
    /// A change with nothing planned beyond its action: no arguments, diffs or reasons.
    pub fn new(
        address: &str,
        kind: NodeKind,
        action: Action,
        server: &str,
        type_name: &str,
    ) -> Change {
        Change {
            address: address.to_string(),
            kind,
            action,
            server: server.to_string(),
            type_name: type_name.to_string(),
            id: None,
            deps: Vec::new(),
            after: Value::Null,
            after_unknown: Vec::new(),
            attrs: Vec::new(),
            reasons: Vec::new(),
            update_attrs: Vec::new(),
            sensitive: Vec::new(),
        }
    }
}

/// A workspace output's planned value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    /// The output's name.
    pub name: String,
    /// The value for display (`(known after apply)`, `(sensitive value)`).
    pub display: String,
    /// The value when known at plan time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// `sensitive = true` (or computed from a sensitive value).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// Whether it differs from the value in state.
    pub changed: bool,
}

/// One source file as it was when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSource {
    /// The file's path relative to the workspace root.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// `plan` or `destroy`.
    pub mode: PlanMode,
    /// The lineage of the state the plan was made against.
    pub lineage: String,
    /// The serial of that state: `apply` refuses the plan if the state moved on.
    pub serial: u64,
    /// The workspace's sources (a saved plan is applied against exactly these).
    #[serde(default)]
    pub sources: Vec<PlanSource>,
    /// The variables' values (sensitive ones included: a saved plan is a secret).
    #[serde(default)]
    pub variables: BTreeMap<String, Value>,
    /// Every node's change, in a stable order (waves, then address); no-ops included.
    pub changes: Vec<Change>,
    /// The outputs.
    #[serde(default)]
    pub outputs: Vec<OutputChange>,
    /// What the plan cannot do for some resources, said once per type (a type whose
    /// adapter has no `read` has no drift detection).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Bring the world to the declared state.
    Normal,
    /// Delete everything in state.
    Destroy,
}

impl Plan {
    /// The changes that do something.
    pub fn actions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action != Action::NoOp)
    }

    /// Whether applying would change anything (outputs included).
    pub fn has_changes(&self) -> bool {
        self.actions().next().is_some() || self.outputs.iter().any(|o| o.changed)
    }

    /// How many changes of each action.
    pub fn counts(&self) -> BTreeMap<Action, usize> {
        let mut out = BTreeMap::new();
        for c in self.actions() {
            *out.entry(c.action).or_insert(0) += 1;
        }
        out
    }

    /// The changes that do something, grouped in waves: wave 0 depends on nothing that
    /// changes, wave n on something in wave n-1. For display only: the executor starts
    /// each node as soon as its own dependencies are done.
    pub fn waves(&self) -> Vec<Vec<&Change>> {
        let acting: BTreeMap<&str, &Change> =
            self.actions().map(|c| (c.address.as_str(), c)).collect();
        let mut level: BTreeMap<&str, usize> = BTreeMap::new();
        fn depth<'a>(
            addr: &'a str,
            acting: &BTreeMap<&'a str, &'a Change>,
            level: &mut BTreeMap<&'a str, usize>,
            guard: usize,
        ) -> usize {
            if let Some(l) = level.get(addr) {
                return *l;
            }
            let Some(c) = acting.get(addr) else {
                return 0;
            };
            let mut l = 0;
            if guard < 10_000 {
                for d in &c.deps {
                    if acting.contains_key(d.as_str()) {
                        l = l.max(depth(d, acting, level, guard + 1) + 1);
                    }
                }
            }
            level.insert(addr, l);
            l
        }
        let mut waves: Vec<Vec<&Change>> = Vec::new();
        for c in self.actions() {
            let l = depth(&c.address, &acting, &mut level, 0);
            while waves.len() <= l {
                waves.push(Vec::new());
            }
            if let Some(w) = waves.get_mut(l) {
                w.push(c);
            }
        }
        waves
    }
}
