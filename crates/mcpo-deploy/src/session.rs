//! The deployment session: a checked workspace, its state held under the lock, the server
//! connections of one run; refresh, plan, approval and execution on top of them.
//!
//! Every front end (the CLI, `mcpoc serve`, runbooks) drives the same sequence:
//!
//! ```text
//! load (check) -> Session::open (lock, read state) -> connect -> refresh -> plan
//!     -> apply (approval, then exactly the approved steps) -> close
//! ```
//!
//! Nothing is printed: results come back as values, progress as executor events on the
//! caller's channel.

use crate::approve::{Approval, ApprovalRequest, Approver};
use crate::error::{DeployError, Problem};
use crate::io::WorkspaceIo;
use crate::load::Checked;
use mcpo_diagnostics::codes;
use mcpo_exec::{
    ApplyOptions, CancellationToken, Connections, Event, PlanEvaluator, RefreshOptions,
    RefreshReport, RestoreEvaluator, Summary,
};
use mcpo_mcp::{ConnectOptions, ServerSpec};
use mcpo_plan::{Drivers, Plan, PlanInputs, PlanMode, PlanSource, Program};
use mcpo_state::{Backend, LockGuard, LockInfo, State};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// A plan and what its steps' arguments come from: the lowered program it was made from
/// (the executor evaluates each step's arguments with it once the steps it depends on are
/// done), or, for a rollback, the earlier version of the state it goes back to.
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// Whether the plan was saved (and so approved) before this run.
    pub saved: bool,
    source: Source,
}

enum Source {
    Program(Box<Program>),
    Restore(Box<State>),
}

impl Planned {
    fn of_program(program: Program, plan: Plan, saved: bool) -> Planned {
        Planned {
            plan,
            saved,
            source: Source::Program(Box::new(program)),
        }
    }

    /// The lowered workspace (none for a rollback plan, which goes back to a state).
    pub fn program(&self) -> Option<&Program> {
        match &self.source {
            Source::Program(p) => Some(p),
            Source::Restore(_) => None,
        }
    }
}

/// How to execute a plan.
#[derive(Debug, Clone)]
pub struct Execution {
    /// At most this many steps in flight.
    pub parallelism: usize,
    /// Undo this run's steps when one fails.
    pub rollback_on_failure: bool,
}

impl Default for Execution {
    fn default() -> Self {
        Execution {
            parallelism: 10,
            rollback_on_failure: false,
        }
    }
}

/// What became of a plan given to [`Session::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The plan changes nothing; nothing ran.
    NoChanges,
    /// The person said no; nothing changed.
    Declined,
    /// The approved plan ran: what happened to its steps.
    Ran(Summary),
}

/// What a refresh is for, for [`refresh_refusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reading what exists before a plan.
    Plan,
    /// Reading what exists before an apply.
    Apply,
}

/// Why nothing may be planned or applied after `report`: some resources could not be
/// read, so a plan would be a guess (E0636); `None` when every read succeeded.
pub fn refresh_refusal(report: &RefreshReport, purpose: Purpose) -> Option<Problem> {
    if report.errors.is_empty() {
        return None;
    }
    Some(match purpose {
        Purpose::Plan => Problem::new(
            codes::E0636,
            "some resources could not be read from their servers (above), so the plan would be a guess",
        )
        .help("fix the servers and plan again, or plan from the recorded state with `--no-refresh`"),
        Purpose::Apply => Problem::new(
            codes::E0636,
            "some resources could not be read from their servers (above); nothing was changed",
        )
        .help("fix the servers and apply again"),
    })
}

/// A workspace open for deployment: checked, its state locked and read.
pub struct Session {
    checked: Checked,
    backend: Arc<dyn Backend>,
    state: State,
    vars: BTreeMap<String, String>,
    io: WorkspaceIo,
    drivers: Drivers,
    specs: BTreeMap<String, ServerSpec>,
    conns: Option<Arc<Connections>>,
    /// Last, so that it is released after the servers are shut down (fields drop in
    /// order): the next holder never finds them still running.
    lock: LockGuard,
}

impl Session {
    /// Takes the state lock of `backend` (naming `command` as its holder) and reads the
    /// state. Nothing is started before the lock is held: the servers' own state is only
    /// touched by the holder. `vars` are the variable values as given (see
    /// [`crate::vars`]).
    pub fn open(
        checked: Checked,
        vars: BTreeMap<String, String>,
        backend: Arc<dyn Backend>,
        command: &str,
    ) -> Result<Session, DeployError> {
        Session::open_waiting(checked, vars, backend, command, std::time::Duration::ZERO)
    }

    /// [`Session::open`] on the backend the workspace declares (its `backend` block, else
    /// the local file).
    pub fn open_declared(
        checked: Checked,
        vars: BTreeMap<String, String>,
        command: &str,
    ) -> Result<Session, DeployError> {
        let backend = crate::backend::of_checked(&checked)?;
        Session::open(checked, vars, backend, command)
    }

    /// [`Session::open`], waiting up to `lock_timeout` for another holder of the lock to
    /// release it (zero: fail at once, naming the holder).
    pub fn open_waiting(
        checked: Checked,
        vars: BTreeMap<String, String>,
        backend: Arc<dyn Backend>,
        command: &str,
        lock_timeout: std::time::Duration,
    ) -> Result<Session, DeployError> {
        let lock = backend.lock_wait(LockInfo::current(command), lock_timeout)?;
        let state = backend.read()?;
        let io = WorkspaceIo::new(checked.root.clone());
        let drivers = mcpo_plan::driver::workspace_drivers(&checked.db, checked.workspace);
        let specs = checked.servers.clone();
        Ok(Session {
            checked,
            backend,
            lock,
            state,
            vars,
            io,
            drivers,
            specs,
            conns: None,
        })
    }

    /// The local state backend of the workspace at `root` (`.mcpo/state/`), whatever its
    /// `backend` block says ([`crate::backend::of_checked`] opens the declared one).
    pub fn local_backend(root: &std::path::Path) -> Arc<dyn Backend> {
        crate::backend::local(root)
    }

    /// What the state's backend noticed when it read the state that a person should be
    /// told (a state read as plaintext where encryption is configured).
    pub fn backend_notice(&self) -> Option<String> {
        self.backend.notice()
    }

    /// The checked workspace.
    pub fn checked(&self) -> &Checked {
        &self.checked
    }

    /// The state as it is now.
    pub fn state(&self) -> &State {
        &self.state
    }

    pub(crate) fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    pub(crate) fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub(crate) fn io(&self) -> &WorkspaceIo {
        &self.io
    }

    /// Who holds the lock (this session).
    pub fn lock_holder(&self) -> &LockInfo {
        self.lock.info()
    }

    /// The declarations of the servers the workspace uses.
    pub fn specs(&self) -> &BTreeMap<String, ServerSpec> {
        &self.specs
    }

    /// The drivers of the workspace's resource types.
    pub fn drivers(&self) -> &Drivers {
        &self.drivers
    }

    /// Connects (concurrently) to every server the workspace declares or the state
    /// mentions. A server that cannot be connected fails only the steps on it.
    pub async fn connect(&mut self) {
        let needed = self.all_servers();
        self.connect_to(needed).await;
    }

    /// Every server the workspace declares or the state mentions: what a plan and an
    /// apply of the whole workspace may call.
    pub(crate) fn all_servers(&self) -> BTreeSet<String> {
        let mut needed: BTreeSet<String> = self.specs.keys().cloned().collect();
        needed.extend(self.state.resources.values().map(|r| r.server.clone()));
        needed.extend(self.state.intents.iter().map(|i| i.server.clone()));
        needed
    }

    pub(crate) async fn connect_to(&mut self, needed: BTreeSet<String>) {
        let conns = Connections::connect(
            &self.specs,
            needed.iter().map(String::as_str),
            &ConnectOptions::default(),
        )
        .await;
        if let Some(old) = self.conns.replace(Arc::new(conns))
            && let Ok(old) = Arc::try_unwrap(old)
        {
            old.shutdown().await;
        }
    }

    /// Reads every resource of the state from its server: drift, deletions outside mcpo,
    /// interrupted operations settled. The state is saved when it changed. Read failures
    /// are in the report (and leave the recorded state as it was).
    pub async fn refresh(&mut self) -> Result<RefreshReport, DeployError> {
        if self.state.resources.is_empty() && self.state.intents.is_empty() {
            return Ok(RefreshReport::default());
        }
        let conns = self.connections();
        let before = self.state.clone();
        let report = mcpo_exec::refresh(
            &conns,
            &self.drivers,
            &mut self.state,
            &RefreshOptions::default(),
        )
        .await;
        self.save_if_changed(&before)?;
        Ok(report)
    }

    /// The connections of this run (none yet: an empty set, every call fails with "not
    /// connected").
    pub(crate) fn connections(&self) -> Arc<Connections> {
        self.conns.clone().unwrap_or_default()
    }

    fn save_if_changed(&mut self, before: &State) -> Result<(), DeployError> {
        if &self.state != before {
            self.backend.write(&mut self.state)?;
        }
        Ok(())
    }

    /// Plans the workspace against the (refreshed) state. Data blocks are read through
    /// the connected servers (without connections they are read during apply).
    pub async fn plan(&self, mode: PlanMode) -> Result<Planned, DeployError> {
        plan_state(
            &self.checked,
            self.conns.clone(),
            self.state.clone(),
            self.vars.clone(),
            &self.io,
            mode,
        )
        .await
    }

    /// The plan saved earlier (`plan --out`), ready to apply: refused when the state
    /// moved on since it was made (checked again before it runs).
    pub async fn plan_saved(&self, saved: Plan) -> Result<Planned, DeployError> {
        crate::planfile::still_fits(&saved, &self.state)?;
        let fresh = self.plan(saved.mode).await?;
        match fresh.source {
            Source::Program(program) => Ok(Planned::of_program(*program, saved, true)),
            Source::Restore(_) => Err(Problem::uncoded("a saved plan is not a rollback").into()),
        }
    }

    /// Runs a plan: asks `approver` first, unless the plan changes nothing or was saved
    /// (approved when it was saved), then runs exactly the plan's steps, with progress on
    /// `events`. After `cancel`, no step starts; the steps in flight finish and are
    /// recorded, and the others are listed as not started. The state is written after
    /// every step.
    pub async fn apply(
        &mut self,
        planned: &Planned,
        how: &Execution,
        approver: &dyn Approver,
        events: Option<UnboundedSender<Event>>,
        cancel: CancellationToken,
    ) -> Result<Applied, DeployError> {
        let plan = &planned.plan;
        let destroy = plan.mode == PlanMode::Destroy;
        if planned.saved {
            crate::planfile::still_fits(plan, &self.state)?;
        } else {
            let acts = plan.actions().next().is_some();
            if !destroy && !plan.has_changes() {
                return Ok(Applied::NoChanges);
            }
            if acts || !destroy {
                let question = if destroy {
                    "Do you really want to destroy all resources?"
                } else {
                    "Do you want to perform these actions?"
                };
                match approver.approve(ApprovalRequest { plan, question }).await {
                    Approval::Approved => {}
                    Approval::Declined => return Ok(Applied::Declined),
                    Approval::Unavailable(p) => return Err(p.into()),
                }
            }
        }
        let conns = self.connections();
        let (state, summary) = run_planned(
            planned,
            how,
            events,
            cancel,
            (&*conns, &self.drivers, &self.io),
            self.state.clone(),
            Arc::clone(&self.backend),
        )
        .await;
        self.state = state;
        let nothing_to_output =
            destroy || matches!(&planned.source, Source::Restore(t) if t.outputs.is_empty());
        if nothing_to_output && summary.ok() && !self.state.outputs.is_empty() {
            // Nothing is left to output (destroy), or the version gone back to had none.
            self.state.outputs.clear();
            self.backend.write(&mut self.state)?;
        }
        Ok(Applied::Ran(summary))
    }

    /// The versions of the state kept, oldest first, then the current one: one line each
    /// (serial, how many resources, the operations it recorded in flight).
    pub fn versions(&self) -> Result<Vec<String>, DeployError> {
        let line = |s: &State, what: &str| {
            let mut l = format!("{:>6}  {} resources", s.serial, s.resources.len());
            if !s.intents.is_empty() {
                l.push_str(&format!(", {} operations in flight", s.intents.len()));
            }
            l.push_str(what);
            l
        };
        let mut out = Vec::new();
        for serial in self.backend.history()? {
            out.push(line(&self.backend.read_version(serial)?, ""));
        }
        out.push(line(&self.state, "  (current)"));
        Ok(out)
    }

    /// Plans the managed resources back to what version `to` of the state recorded (see
    /// [`mcpo_plan::rollback`]); by default the version before the last apply that
    /// changed them: the newest kept version, written between runs (it records no
    /// operation in flight), whose resources differ from the current ones. Refresh first,
    /// so the plan starts from what exists. The plan is applied like any other, with
    /// [`Session::apply`]; its notes say what cannot be restored.
    pub fn rollback_plan(&self, to: Option<u64>) -> Result<Planned, DeployError> {
        let target = match to {
            Some(serial) => self.backend.read_version(serial)?,
            None => self.version_before_last_change()?,
        };
        if target.lineage != self.state.lineage {
            return Err(Problem::new(
                codes::E0514,
                format!(
                    "version {} belongs to another state (lineage {}, the current one is {})",
                    target.serial, target.lineage, self.state.lineage
                ),
            )
            .help("roll back to a version of this state: `mcpoc rollback --list` lists them")
            .into());
        }
        let mut plan = mcpo_plan::rollback::rollback(&target, &self.state, &self.drivers)
            .map_err(|e| Problem::new(codes::E0514, e))?;
        plan.notes.insert(
            0,
            format!(
                "this plan goes back to state version {} (the current one is {})",
                target.serial, self.state.serial
            ),
        );
        Ok(Planned {
            plan,
            saved: false,
            source: Source::Restore(Box::new(target)),
        })
    }

    fn version_before_last_change(&self) -> Result<State, DeployError> {
        let same = |a: &State| {
            let key = |s: &State| -> Vec<(String, String, String, String, serde_json::Value)> {
                s.resources
                    .iter()
                    .map(|(k, r)| {
                        (
                            k.clone(),
                            r.server.clone(),
                            r.type_name.clone(),
                            r.id.clone(),
                            r.inputs.clone(),
                        )
                    })
                    .collect()
            };
            key(a) == key(&self.state)
        };
        for serial in self.backend.history()?.into_iter().rev() {
            let version = self.backend.read_version(serial)?;
            if version.intents.is_empty() && !same(&version) {
                return Ok(version);
            }
        }
        Err(Problem::new(
            codes::E0514,
            "no earlier version of the state records other resources than the current one",
        )
        .help("`mcpoc rollback --list` lists the versions kept; name one with `--to SERIAL`")
        .into())
    }

    /// Reads resource `id` through the server of `address`' type and records it there;
    /// `address` must be a managed resource the workspace declares.
    pub async fn import(&mut self, address: &str, id: &str) -> Result<(), DeployError> {
        let not_declared = |why: &str| {
            Problem::new(codes::E0637, format!("`{address}` {why}"))
                .help("import to the address of a `resource` block of the workspace, e.g. `aws.vpc.main` or `aws.vpc.web[0]`; `mcpoc graph` lists them")
        };
        let parsed = mcpo_address::Address::parse(address)
            .ok()
            .filter(mcpo_address::Address::is_resource)
            .ok_or_else(|| not_declared("is not the address of a managed resource"))?;
        let planned = self.plan(PlanMode::Normal).await?;
        if !planned.program().is_some_and(|p| p.has_instance(address)) {
            return Err(not_declared("is not declared in the workspace").into());
        }
        self.connect_to(BTreeSet::from([parsed.server.clone()]))
            .await;
        let conns = self.connections();
        mcpo_exec::import(
            &conns,
            &self.drivers,
            &mut self.state,
            address,
            &parsed.server,
            &parsed.type_name,
            id,
        )
        .await?;
        self.backend.write(&mut self.state)?;
        Ok(())
    }

    /// Closes every connection and stops the server processes; the lock is released.
    pub async fn close(mut self) {
        if let Some(conns) = self.conns.take()
            && let Ok(conns) = Arc::try_unwrap(conns)
        {
            conns.shutdown().await;
        }
    }
}

/// Plans `checked` with the variable values `vars` (as given, see [`crate::vars`])
/// against `state`; data blocks are read through `conns` when there are connections.
/// What [`Session::plan`] does, for a caller that holds the state itself (a runbook's
/// `apply` step, whose run holds the state and its journal).
pub(crate) async fn plan_state(
    checked: &Checked,
    conns: Option<Arc<Connections>>,
    state: State,
    vars: BTreeMap<String, String>,
    io: &WorkspaceIo,
    mode: PlanMode,
) -> Result<Planned, DeployError> {
    let db = checked.db.clone();
    let ws = checked.workspace;
    let io = io.clone();
    let sources: Vec<PlanSource> = checked
        .texts
        .iter()
        .map(|(name, text)| PlanSource {
            name: name.clone(),
            text: text.clone(),
        })
        .collect();
    // Planning is synchronous and may block on data reads: off the async threads.
    let planned = tokio::task::spawn_blocking(move || {
        let inputs = PlanInputs {
            variables: vars,
            state: &state,
            reader: conns.as_deref().map(|c| c as &dyn mcpo_plan::ToolCaller),
            io: &io,
            mode,
            sources,
        };
        mcpo_plan::plan(&db, ws, &inputs)
    })
    .await
    .map_err(|e| Problem::uncoded(format!("planning stopped: {e}")))?;
    match planned {
        Ok((program, plan)) => Ok(Planned::of_program(program, plan, false)),
        Err(diagnostics) => Err(DeployError::Diagnostics {
            diagnostics,
            sources: checked.sources.clone(),
            then: None,
        }),
    }
}

/// Runs exactly the steps of an approved plan from `state` on the connections, drivers
/// and files of `at`, writing the state through `store` after every step. Returns the
/// final state and what happened. What [`Session::apply`] does once the plan is
/// approved, for a caller that holds the state itself (a runbook's `apply` step).
pub(crate) async fn run_planned(
    planned: &Planned,
    how: &Execution,
    events: Option<UnboundedSender<Event>>,
    cancel: CancellationToken,
    at: (&Connections, &Drivers, &WorkspaceIo),
    state: State,
    store: Arc<dyn Backend>,
) -> (State, Summary) {
    let (conns, drivers, io) = at;
    let plan = &planned.plan;
    let steps = mcpo_exec::steps_of(plan);
    let opts = ApplyOptions {
        parallelism: how.parallelism.max(1),
        rollback_on_failure: how.rollback_on_failure && plan.mode != PlanMode::Destroy,
        events,
        cancel,
        ..ApplyOptions::default()
    };
    match &planned.source {
        Source::Program(program) => {
            let eval = PlanEvaluator::new(program, plan, io);
            mcpo_exec::apply(&steps, &eval, conns, program.drivers(), state, store, &opts).await
        }
        Source::Restore(target) => {
            let eval = RestoreEvaluator::new((**target).clone());
            mcpo_exec::apply(&steps, &eval, conns, drivers, state, store, &opts).await
        }
    }
}

/// The program of a workspace planned against nothing (for `mcpoc graph`): no state, no
/// lock, no server.
pub fn program(checked: &Checked, vars: BTreeMap<String, String>) -> Result<Program, DeployError> {
    let io = WorkspaceIo::new(checked.root.clone());
    let empty = State::new("graph");
    let inputs = PlanInputs {
        variables: vars,
        state: &empty,
        reader: None,
        io: &io,
        mode: PlanMode::Normal,
        sources: Vec::new(),
    };
    mcpo_plan::plan(&checked.db, checked.workspace, &inputs)
        .map(|(program, _)| program)
        .map_err(|diagnostics| DeployError::Diagnostics {
            diagnostics,
            sources: checked.sources.clone(),
            then: None,
        })
}
