//! Runbooks (`mcpoc run`): the steps of a workspace's `runbook` block run on the
//! executor's scheduler, journalled in the state.
//!
//! - **Order.** A step runs after the steps it reads and its `depends_on`; one that reads
//!   no step runs after every step declared before it (`mcpo_plan::runbook`). Independent
//!   steps run at once, within each server's limits.
//! - **Each step**: `when`; `retries` with a `backoff` that doubles; a `timeout` per
//!   attempt; `wait_for`, a condition polled on a read-only tool; `on_failure`: stop (the
//!   default), continue, or run named compensating steps and stop.
//! - **Approval steps** ask the run's [`Approver`] (the terminal prompt,
//!   `--auto-approve`, an MCP client through `mcpoc serve`), which may take its time: a
//!   client of the 2026-07-28 protocol answers in a later tool call. A no fails the step
//!   with its `on_failure`. When the run is interrupted (`cancel`) before the answer came,
//!   the step is left unfinished (journalled as running) and `--resume` asks again.
//! - **Apply steps** (`apply = { variable = value }`) plan the whole workspace again with
//!   those variables changed over the run's own, against the state as it is then
//!   (refreshed), show the plan, ask the approver, and apply it with the session's own
//!   plan and apply ([`crate::session`]), one at a time. The run holds the state (its
//!   journal is in it): the apply writes through the run's state and the session's
//!   backend and lock ([`RunStore`]), so the journal and the apply never overwrite each
//!   other. The result counts what was created, updated, replaced and deleted.
//! - **Journal.** The run and every step's start, end, attempts, result and error are
//!   written to the state ([`mcpo_state::RunRecord`]) before and after each call, so
//!   `--resume` continues an interrupted run: a finished step is never called again, and a
//!   step that started but did not finish is called again only if its tool is idempotent
//!   (or the step says `idempotent = true`). An apply step is always run again: planning
//!   again picks up where the interrupted apply stopped.
//! - **Dry run.** Only read-only tools (by annotation or `read_only_tools`) are called; the
//!   others are reported with the arguments they would get; an apply step shows its plan
//!   and applies nothing. Nothing is journalled or written.

use crate::approve::{Approval, ApprovalRequest, Approver};
use crate::error::{DeployError, Problem};
use crate::io::WorkspaceIo;
use crate::load::Checked;
use crate::session::{Execution, Purpose, Session};
use mcpo_diagnostics::codes;
use mcpo_exec::{CancellationToken, Connections, ExecError, RefreshOptions, Summary};
use mcpo_plan::runbook::{Bindings, OnFailure, RunStep, Runbook, StepAction};
use mcpo_plan::{Action, Drivers, PlanMode, Program, Val};
use mcpo_state::{
    Backend, LockGuard, LockInfo, RunRecord, RunStatus, State, StateError, StepRecord, StepStatus,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How to run a runbook.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--param name=value`, as given (parsed like `--var` values).
    pub params: Vec<(String, String)>,
    /// Call only read-only tools; journal nothing.
    pub dry_run: bool,
    /// Continue the last unfinished run of the runbook.
    pub resume: bool,
    /// At most this many steps at once.
    pub parallelism: usize,
    /// Ask the approver before the first step (for front ends where the request to run
    /// is not itself the person's say-so, such as an AI client through `mcpoc serve`);
    /// never for a dry run, which changes nothing.
    pub approve_run: bool,
}

/// Something that happened to a step, for a front end to show.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// An attempt started.
    Started {
        /// The step.
        step: String,
        /// 1, then 2 for the first retry, ...
        attempt: u32,
    },
    /// An attempt failed; the next starts after `pause`.
    Retrying {
        /// The step.
        step: String,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
        /// The pause before the next attempt.
        pause: Duration,
    },
    /// Polling the step's `wait_for` condition.
    Waiting {
        /// The step.
        step: String,
    },
    /// The step succeeded.
    Done {
        /// The step.
        step: String,
        /// What it returned.
        result: Value,
        /// How long it took.
        elapsed: Duration,
    },
    /// The step had succeeded in the run being resumed: not called again.
    Reused {
        /// The step.
        step: String,
    },
    /// The step did not run.
    Skipped {
        /// The step.
        step: String,
        /// Why.
        why: String,
    },
    /// The step failed (after its retries).
    Failed {
        /// The step.
        step: String,
        /// Why.
        error: String,
    },
    /// Dry run: the step's tool is not read-only and was not called.
    WouldCall {
        /// The step.
        step: String,
        /// `server::tool`.
        call: String,
        /// The arguments it would get, as text (`(known after the steps before it)` parts).
        args: String,
    },
    /// The run was interrupted while an approval step waited for its answer; the step is
    /// unfinished, and `--resume` asks again.
    Unanswered {
        /// The approval step.
        step: String,
    },
    /// An apply step planned the workspace: the plan it applies once approved (or, in a
    /// dry run, would apply). A front end shows it unless its approver does.
    Planned {
        /// The step.
        step: String,
        /// The plan.
        plan: Box<mcpo_plan::Plan>,
    },
    /// A line of an apply step's progress (a resource created, updated, failed, ...).
    Applying {
        /// The step.
        step: String,
        /// The line, as `mcpoc apply` prints it: `aws.vpc.main: created in 0.4s`.
        line: String,
    },
    /// A compensating step starts because `failed` failed.
    Compensating {
        /// The compensating step.
        step: String,
        /// The step that failed.
        failed: String,
    },
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The run's id in the journal.
    pub id: String,
    /// The runbook.
    pub runbook: String,
    /// How it ended.
    pub status: RunStatus,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Whether it continued an earlier run.
    pub resumed: bool,
    /// The steps that ran, were skipped or failed, in declaration order.
    pub steps: Vec<(String, StepRecord)>,
    /// The steps that never started (the run stopped first).
    pub not_started: Vec<String>,
    /// Every failure of the run, with its code and step, in the order they happened.
    pub errors: Vec<ExecError>,
}

/// A step's failure, and whether it was a person declining or the run being interrupted
/// while the step ran (an apply step stopped by Ctrl-C: journalled as still running, so
/// `--resume` runs it again).
struct StepFailure {
    error: ExecError,
    declined: bool,
    /// The run was interrupted while the step waited (for a person's answer, or an apply
    /// stopped by Ctrl-C): it is unfinished, journalled as running, run again by `--resume`.
    interrupted: bool,
}

impl From<ExecError> for StepFailure {
    fn from(error: ExecError) -> Self {
        StepFailure {
            error,
            declined: false,
            interrupted: false,
        }
    }
}

fn now() -> String {
    mcpo_state::rfc3339(std::time::SystemTime::now())
}

/// What an approver is shown for a runbook's question: no changes, only `notes`.
fn approval_plan(state: &State, notes: Vec<String>) -> mcpo_plan::Plan {
    mcpo_plan::Plan {
        format_version: mcpo_plan::plan::PLAN_FORMAT_VERSION,
        mode: mcpo_plan::PlanMode::Normal,
        lineage: state.lineage.clone(),
        serial: state.serial,
        sources: Vec::new(),
        variables: BTreeMap::new(),
        changes: Vec::new(),
        outputs: Vec::new(),
        notes,
    }
}

/// What an approval of `step` lets happen, for the person asked: the steps that wait for
/// it (through `depends_on`, what they read, or their order), each with what it calls.
fn what_follows(book: &Runbook, step: &RunStep) -> Vec<String> {
    let mut after: BTreeSet<&str> = BTreeSet::from([step.name.as_str()]);
    // Edges may point either way in declaration order: grow the set until it holds.
    loop {
        let before = after.len();
        for s in book.steps.iter().filter(|s| !s.compensation) {
            if s.deps
                .iter()
                .chain(&s.reads)
                .any(|d| after.contains(d.as_str()))
            {
                after.insert(s.name.as_str());
            }
        }
        if after.len() == before {
            break;
        }
    }
    let then: Vec<String> = book
        .steps
        .iter()
        .filter(|s| s.name != step.name && after.contains(s.name.as_str()))
        .map(|s| match &s.action {
            StepAction::Call { server, tool, .. } => format!("{} ({server}::{tool})", s.name),
            StepAction::Approve(_) => format!("{} (another approval)", s.name),
            StepAction::Apply(_) => format!("{} (plans and applies the workspace)", s.name),
            StepAction::Value(_) => s.name.clone(),
        })
        .collect();
    if then.is_empty() {
        Vec::new()
    } else {
        vec![format!("once approved, then: {}", then.join(", "))]
    }
}

fn fail(code: mcpo_diagnostics::Code, step: &str, message: impl Into<String>) -> ExecError {
    ExecError::new(code, message).at(format!("step.{step}"))
}

/// Everything the steps of one run share.
struct Run<'a> {
    book: &'a Runbook,
    program: &'a Program,
    io: &'a WorkspaceIo,
    /// The resources as the state records them (what runbook expressions read); read
    /// again after an apply step.
    values: Mutex<mcpo_plan::Values>,
    conns: &'a Connections,
    /// What apply steps plan and apply: the checked workspace, the run's variable values
    /// (as given), the connections (to every server the workspace uses when a step
    /// applies), and at most this many changes at once.
    checked: &'a Checked,
    vars: &'a BTreeMap<String, String>,
    shared_conns: Arc<Connections>,
    parallelism: usize,
    /// Held by the apply step that runs: one at a time, each planning against what the
    /// one before it left.
    applying: tokio::sync::Mutex<()>,
    drivers: &'a Drivers,
    read_only: &'a BTreeMap<String, BTreeSet<String>>,
    approver: &'a dyn Approver,
    events: Option<UnboundedSender<RunEvent>>,
    dry_run: bool,
    /// Cancelled when a step stops the run (or the caller cancels).
    stop: CancellationToken,
    /// The caller's token: cancelled, the run is interrupted (Ctrl-C, an approval that
    /// was never answered), and can be resumed.
    interrupt: CancellationToken,
    /// A step was interrupted (an approval left unanswered, an apply stopped): the run
    /// ends cancelled, to be resumed.
    interrupted: Mutex<bool>,
    params: BTreeMap<String, Val>,
    results: Mutex<BTreeMap<String, Val>>,
    failed: Mutex<BTreeSet<String>>,
    declined: Mutex<bool>,
    stopped_by_failure: Mutex<bool>,
    /// Every failure of the run, in the order they happened.
    errors: Mutex<Vec<ExecError>>,
    /// The journal: the state (its `runs` holds this run's record) and where it is written.
    /// Shared with the [`RunStore`] an apply step writes through.
    state: Arc<Mutex<State>>,
    backend: Arc<dyn Backend>,
    id: String,
    /// The steps of the run being resumed, as they were.
    prior: BTreeMap<String, StepRecord>,
    /// This run's steps (also in the state, unless a dry run).
    record: Mutex<BTreeMap<String, StepRecord>>,
}

impl Run<'_> {
    fn emit(&self, ev: RunEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(ev);
        }
    }

    fn bindings(&self, result: Option<Val>) -> Bindings {
        Bindings {
            params: self.params.clone(),
            steps: self
                .results
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            result,
        }
    }

    fn eval(
        &self,
        step: &str,
        e: &mcpo_syntax::ast::Expr,
        result: Option<Val>,
    ) -> Result<Val, ExecError> {
        let bound = self.bindings(result);
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        self.program
            .eval_runbook(e, &bound, &values, self.io)
            .map_err(|e| {
                fail(
                    codes::E0607,
                    step,
                    format!("cannot be evaluated: {}", e.message),
                )
            })
    }

    /// Records `step` in the journal (and writes it, unless a dry run).
    fn journal(&self, step: &str, update: impl FnOnce(&mut StepRecord)) -> Result<(), ExecError> {
        let mut record = self.record.lock().unwrap_or_else(|p| p.into_inner());
        let entry = record
            .entry(step.to_string())
            .or_insert_with(|| StepRecord {
                status: StepStatus::Running,
                started: now(),
                ended: None,
                attempts: 0,
                result: Value::Null,
                error: None,
                idempotent: false,
            });
        update(entry);
        let entry = entry.clone();
        drop(record);
        if self.dry_run {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = state.runs.iter_mut().find(|r| r.id == self.id) {
            run.steps.insert(step.to_string(), entry);
        }
        self.backend.write(&mut state).map_err(|e| {
            ExecError::new(
                codes::E0609,
                format!("the run's journal could not be saved: {e}"),
            )
        })
    }

    fn set_result(&self, step: &str, v: Val) {
        self.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(step.to_string(), v);
    }

    fn has_failed(&self, step: &str) -> bool {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(step)
    }

    fn skip(&self, step: &str, why: String) -> Result<(), ExecError> {
        self.set_result(step, Val::Null);
        self.journal(step, |r| {
            r.status = StepStatus::Skipped;
            r.ended = Some(now());
            r.error = Some(why.clone());
        })?;
        self.emit(RunEvent::Skipped {
            step: step.to_string(),
            why,
        });
        Ok(())
    }

    /// Runs one scheduled step (what the scheduler calls).
    async fn node(&self, step: &RunStep) -> Result<(), ExecError> {
        let name = step.name.as_str();
        if let Some(prior) = self.prior.get(name) {
            match prior.status {
                StepStatus::Done => {
                    self.set_result(name, Val::from_json(&prior.result));
                    self.record
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.to_string(), prior.clone());
                    self.emit(RunEvent::Reused {
                        step: name.to_string(),
                    });
                    return Ok(());
                }
                StepStatus::Skipped => {
                    self.set_result(name, Val::Null);
                    self.record
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.to_string(), prior.clone());
                    return Ok(());
                }
                StepStatus::Running if !prior.idempotent => {
                    let e = fail(
                        codes::E0663,
                        name,
                        "started before the run was interrupted and may have run; its tool is not idempotent, so it is not called again",
                    )
                    .with_help("check on its server whether it ran, then run the runbook again without `--resume` (every step runs again)");
                    self.failed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.to_string());
                    self.record_failure(name, &e)?;
                    *self
                        .stopped_by_failure
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = true;
                    self.stop.cancel();
                    return Err(e);
                }
                _ => {}
            }
        }
        if let Some(bad) = step.reads.iter().find(|r| self.has_failed(r)) {
            self.failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_string());
            return self.skip(name, format!("it reads step `{bad}`, which failed"));
        }
        if let Some(w) = &step.when {
            match self.eval(name, w, None) {
                Ok(v) if matches!(v.unmarked(), Val::Bool(false) | Val::Null) => {
                    return self.skip(name, "its `when` is false".into());
                }
                Ok(_) => {}
                Err(e) => return self.failed_step(step, e.into()).await,
            }
        }
        let started = Instant::now();
        match self.attempts(step).await {
            Ok(v) => {
                let json = v.to_json().unwrap_or(Value::Null);
                self.set_result(name, v);
                if !self.dry_run || json != Value::Null {
                    self.journal(name, |r| {
                        r.status = StepStatus::Done;
                        r.ended = Some(now());
                        r.result = json.clone();
                        r.error = None;
                    })?;
                }
                // A dry run's call that was only shown has no result to show.
                if !(self.dry_run && json == Value::Null) {
                    self.emit(RunEvent::Done {
                        step: name.to_string(),
                        result: json,
                        elapsed: started.elapsed(),
                    });
                }
                Ok(())
            }
            Err(f) => self.failed_step(step, f).await,
        }
    }

    /// A step's failure: kept for the run's report, journalled, and shown.
    fn record_failure(&self, name: &str, e: &ExecError) -> Result<(), ExecError> {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(e.clone());
        self.journal(name, |r| {
            r.status = StepStatus::Failed;
            r.ended = Some(now());
            r.error = Some(e.message.clone());
        })?;
        self.emit(RunEvent::Failed {
            step: name.to_string(),
            error: e.message.clone(),
        });
        Ok(())
    }

    /// A step failed: journal it, then stop, go on, or compensate and stop.
    /// A declined approval is a failure like any other: its `on_failure` says what follows
    /// (the run ends as declined unless that is `continue`).
    async fn failed_step(&self, step: &RunStep, f: StepFailure) -> Result<(), ExecError> {
        let name = step.name.as_str();
        if f.interrupted && matches!(step.action, StepAction::Approve(_)) {
            // Unfinished, not failed: the journal keeps it running, so `--resume` asks again.
            *self.interrupted.lock().unwrap_or_else(|p| p.into_inner()) = true;
            self.emit(RunEvent::Unanswered {
                step: name.to_string(),
            });
            self.stop.cancel();
            return Err(f.error);
        }
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string());
        if f.interrupted {
            // Journalled as running: `--resume` plans and applies again.
            self.errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(f.error.clone());
            self.emit(RunEvent::Failed {
                step: name.to_string(),
                error: f.error.message.clone(),
            });
            *self.interrupted.lock().unwrap_or_else(|p| p.into_inner()) = true;
            self.stop.cancel();
            return Err(f.error);
        }
        self.record_failure(name, &f.error)?;
        if f.declined && !matches!(step.on_failure, OnFailure::Continue) {
            *self.declined.lock().unwrap_or_else(|p| p.into_inner()) = true;
        }
        match &step.on_failure {
            OnFailure::Continue => return Ok(()),
            OnFailure::Stop => {}
            OnFailure::Compensate(names) => {
                for c in names {
                    let Some(cstep) = self.book.step(c) else {
                        continue;
                    };
                    self.emit(RunEvent::Compensating {
                        step: c.clone(),
                        failed: name.to_string(),
                    });
                    // A compensating step never compensates in turn.
                    let started = Instant::now();
                    match self.attempts(cstep).await {
                        Ok(v) => {
                            let json = v.to_json().unwrap_or(Value::Null);
                            self.set_result(c, v);
                            self.journal(c, |r| {
                                r.status = StepStatus::Done;
                                r.ended = Some(now());
                                r.result = json.clone();
                            })?;
                            self.emit(RunEvent::Done {
                                step: c.clone(),
                                result: json,
                                elapsed: started.elapsed(),
                            });
                        }
                        Err(cf) => self.record_failure(c, &cf.error)?,
                    }
                }
            }
        }
        *self
            .stopped_by_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.cancel();
        Err(f.error)
    }

    /// The step's action, with its retries; then its `wait_for`.
    async fn attempts(&self, step: &RunStep) -> Result<Val, StepFailure> {
        let name = step.name.as_str();
        match &step.action {
            StepAction::Value(e) => Ok(self.eval(name, e, None)?),
            StepAction::Approve(q) => self.approve(step, q).await,
            StepAction::Apply(changed) => {
                let result = self.apply(step, changed).await?;
                self.wait_for(step, result).await
            }
            StepAction::Call { server, tool, args } => {
                let args = match args {
                    Some(a) => self.eval(name, a, None)?,
                    None => Val::Map(BTreeMap::new()),
                };
                let read_only = mcpo_exec::runbook::read_only(
                    self.conns,
                    self.read_only.get(server),
                    server,
                    tool,
                );
                let call = format!("{server}::{tool}");
                // In a dry run, a call whose arguments wait on a call not made is shown too.
                if self.dry_run && (!read_only || !args.is_known()) {
                    self.emit(RunEvent::WouldCall {
                        step: name.to_string(),
                        call,
                        args: args.display(),
                    });
                    return Ok(Val::Unknown);
                }
                let Some(json) = args.to_json() else {
                    return Err(fail(
                        codes::E0607,
                        name,
                        "its arguments are still unknown after the steps before it",
                    )
                    .into());
                };
                let idempotent = read_only
                    || step.idempotent.unwrap_or_else(|| {
                        mcpo_exec::runbook::idempotent(self.conns, server, tool)
                    });
                self.journal(name, |r| {
                    r.status = StepStatus::Running;
                    r.idempotent = idempotent;
                })?;
                let mut attempt = 1u32;
                let result = loop {
                    self.emit(RunEvent::Started {
                        step: name.to_string(),
                        attempt,
                    });
                    if attempt > 1 {
                        self.journal(name, |r| r.attempts = attempt)?;
                    } else {
                        self.journal(name, |r| r.attempts = 1)?;
                    }
                    match mcpo_exec::runbook::call_step(
                        self.conns,
                        self.drivers,
                        server,
                        tool,
                        &json,
                        step.timeout,
                    )
                    .await
                    {
                        Ok(v) => break Val::from_json(&v),
                        Err(e) if attempt <= step.retries && !self.stop.is_cancelled() => {
                            let pause = step.backoff.saturating_mul(1 << (attempt - 1).min(16));
                            self.emit(RunEvent::Retrying {
                                step: name.to_string(),
                                attempt,
                                error: e.message.clone(),
                                pause,
                            });
                            tokio::time::sleep(pause).await;
                            attempt += 1;
                        }
                        Err(e) => {
                            let tries = if attempt > 1 {
                                format!(" (after {attempt} attempts)")
                            } else {
                                String::new()
                            };
                            return Err(fail(
                                e.code,
                                name,
                                format!("{call}: {}{tries}", e.message),
                            )
                            .into());
                        }
                    }
                };
                self.wait_for(step, result).await
            }
        }
    }

    async fn approve(
        &self,
        step: &RunStep,
        q: &mcpo_syntax::ast::Expr,
    ) -> Result<Val, StepFailure> {
        let name = step.name.as_str();
        let question = match self.eval(name, q, None)? {
            Val::String(s) => s,
            other => other.display(),
        };
        if self.dry_run {
            self.emit(RunEvent::WouldCall {
                step: name.to_string(),
                call: "approval".into(),
                args: question,
            });
            return Ok(Val::Unknown);
        }
        self.journal(name, |r| {
            r.status = StepStatus::Running;
            r.attempts = 1;
            r.idempotent = true;
        })?;
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut notes = vec![format!("runbook `{}`, step `{name}`", self.book.name)];
        if let Some(d) = &step.description {
            notes.push(d.clone());
        }
        notes.extend(what_follows(self.book, step));
        let plan = approval_plan(&state, notes);
        let declined_note = match &step.on_failure {
            OnFailure::Stop => "the run stops here".to_string(),
            OnFailure::Continue => "the run goes on (`on_failure = \"continue\"`)".to_string(),
            OnFailure::Compensate(c) => format!(
                "the compensating steps run ({}), then the run stops",
                c.join(", ")
            ),
        };
        match self.ask(&plan, &question).await {
            None => Err(StepFailure {
                error: fail(
                    codes::E0634,
                    name,
                    "the run was interrupted before the approval was answered",
                )
                .with_help(format!(
                    "`mcpoc run {} --resume` asks again and continues the run",
                    self.book.name
                )),
                declined: false,
                interrupted: true,
            }),
            Some(Approval::Approved) => Ok(Val::Bool(true)),
            Some(Approval::Declined) => Err(StepFailure {
                error: fail(
                    codes::E0639,
                    name,
                    format!("the approval was declined; {declined_note}"),
                ),
                declined: true,
                interrupted: false,
            }),
            Some(Approval::Unavailable(p)) => Err(unavailable(name, &p).into()),
        }
    }

    /// Asks the run's approver to approve `plan`; `None` when the run is interrupted
    /// (`cancel` of [`Session::run_runbook`]) before the answer came. An answer other than
    /// yes given once the run is interrupted is no answer either: an approver that stops
    /// waiting (a person who never answered) cancels the run, then gives up. Every
    /// question a run asks (approval steps, plans applied by steps) goes through here.
    async fn ask(&self, plan: &mcpo_plan::Plan, question: &str) -> Option<Approval> {
        let asked = self.approver.approve(ApprovalRequest { plan, question });
        let answer = tokio::select! {
            answer = asked => answer,
            () = self.interrupt.cancelled() => return None,
        };
        if answer != Approval::Approved && self.interrupt.is_cancelled() {
            return None;
        }
        Some(answer)
    }

    /// An apply step (see the module docs): plan with the step's variables, show, approve,
    /// apply; the result counts what the apply did.
    async fn apply(
        &self,
        step: &RunStep,
        changed: &mcpo_syntax::ast::Expr,
    ) -> Result<Val, StepFailure> {
        let name = step.name.as_str();
        let changed = self.eval(name, changed, None)?;
        if self.dry_run && !changed.is_known() {
            self.emit(RunEvent::WouldCall {
                step: name.to_string(),
                call: "apply".into(),
                args: changed.display(),
            });
            return Ok(Val::Unknown);
        }
        let Val::Map(changed) = changed.unmarked() else {
            return Err(fail(
                codes::E0607,
                name,
                "`apply` is not an object of the workspace's variables",
            )
            .into());
        };
        let mut vars = self.vars.clone();
        for (k, v) in changed {
            let Some(json) = v.to_json() else {
                return Err(fail(
                    codes::E0607,
                    name,
                    format!("variable `{k}` is still unknown after the steps before it"),
                )
                .into());
            };
            vars.insert(k.clone(), crate::vars::value_text(&json));
        }
        let _one_at_a_time = self.applying.lock().await;
        if !self.dry_run {
            self.journal(name, |r| {
                r.status = StepStatus::Running;
                r.attempts = 1;
                r.idempotent = true;
            })?;
        }
        self.emit(RunEvent::Started {
            step: name.to_string(),
            attempt: 1,
        });
        let store = Arc::new(RunStore {
            shared: Arc::clone(&self.state),
            inner: Arc::clone(&self.backend),
        });
        let mut state = store.current();
        // What exists now, read as a plan reads it (a dry run keeps what it read to itself).
        if !(state.resources.is_empty() && state.intents.is_empty()) {
            let before = state.clone();
            let report = mcpo_exec::refresh(
                &self.shared_conns,
                self.drivers,
                &mut state,
                &RefreshOptions::default(),
            )
            .await;
            if !self.dry_run && state != before {
                store.write(&mut state).map_err(|e| {
                    fail(e.code(), name, format!("the state could not be saved: {e}"))
                })?;
            }
            if let Some(p) = crate::session::refresh_refusal(&report, Purpose::Apply) {
                self.errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(report.errors.iter().cloned());
                return Err(problem_failure(name, &p).into());
            }
        }
        let planned = crate::session::plan_state(
            self.checked,
            Some(Arc::clone(&self.shared_conns)),
            state.clone(),
            vars,
            self.io,
            PlanMode::Normal,
        )
        .await
        .map_err(|e| deploy_failure(name, e))?;
        self.emit(RunEvent::Planned {
            step: name.to_string(),
            plan: Box::new(planned.plan.clone()),
        });
        // Lets the front end show the event before the approver asks.
        tokio::task::yield_now().await;
        if self.dry_run {
            return Ok(Val::Unknown);
        }
        if !planned.plan.has_changes() {
            return Ok(apply_result(&Summary::default()));
        }
        let question = format!(
            "Do you want to perform these actions (step `{name}` of runbook `{}`)?",
            self.book.name
        );
        match self.ask(&planned.plan, &question).await {
            None => {
                return Err(StepFailure {
                    error: fail(
                        codes::E0634,
                        name,
                        "the run was interrupted before its plan was approved; nothing was changed",
                    )
                    .with_help(format!(
                        "`mcpoc run {} --resume` plans again and asks again",
                        self.book.name
                    )),
                    declined: false,
                    interrupted: true,
                });
            }
            Some(Approval::Approved) => {}
            Some(Approval::Declined) => {
                return Err(fail(
                    codes::E0639,
                    name,
                    "the plan was declined; nothing was changed",
                )
                .into());
            }
            Some(Approval::Unavailable(p)) => return Err(unavailable(name, &p).into()),
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<mcpo_exec::Event>();
        let how = Execution {
            parallelism: self.parallelism,
            rollback_on_failure: false,
        };
        let applying = crate::session::run_planned(
            &planned,
            &how,
            Some(tx),
            self.stop.child_token(),
            (&self.shared_conns, self.drivers, self.io),
            state,
            store,
        );
        let forward = async {
            let mut lines = crate::render::EventLines::default();
            while let Some(ev) = rx.recv().await {
                if let Some(line) = lines.line(&ev) {
                    self.emit(RunEvent::Applying {
                        step: name.to_string(),
                        line: line.text,
                    });
                }
            }
        };
        let ((_, summary), ()) = tokio::join!(applying, forward);
        // Later steps read the resources as the apply left them.
        let now = values_of(&self.state.lock().unwrap_or_else(|p| p.into_inner()));
        *self.values.lock().unwrap_or_else(|p| p.into_inner()) = now;
        if summary.ok() {
            return Ok(apply_result(&summary));
        }
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(summary.failed.iter().cloned());
        let done: usize = summary.done.values().sum();
        if summary.cancelled {
            return Err(StepFailure {
                error: fail(
                    codes::E0663,
                    name,
                    format!(
                        "interrupted during its apply: {done} changes done, {} not started",
                        summary.not_started.len()
                    ),
                )
                .with_help(format!(
                    "the state records what was done; `mcpoc run {} --resume` plans and applies the rest",
                    self.book.name
                )),
                declined: false,
                interrupted: true,
            });
        }
        let code = summary.failed.first().map_or(codes::E0609, |e| e.code);
        Err(fail(
            code,
            name,
            format!(
                "the apply failed: {} changes failed, {} skipped, {} not started, {done} done",
                summary.failed.len(),
                summary.skipped.len(),
                summary.not_started.len()
            ),
        )
        .with_help("the state records what was done; fix the cause (above), then run the runbook again: its apply step plans and applies the rest")
        .into())
    }

    /// Polls the step's `wait_for` condition until it holds (then the step's result is
    /// what it returned), or fails after its timeout.
    async fn wait_for(&self, step: &RunStep, result: Val) -> Result<Val, StepFailure> {
        let Some(w) = &step.wait_for else {
            return Ok(result);
        };
        let name = step.name.as_str();
        if self.dry_run {
            return Ok(result);
        }
        self.emit(RunEvent::Waiting {
            step: name.to_string(),
        });
        // The condition may read the step's own result as `step.<name>`.
        self.set_result(name, result.clone());
        let deadline = Instant::now() + w.timeout;
        loop {
            let polled = match &w.call {
                Some((server, tool, args)) => {
                    let args = match args {
                        Some(a) => self.eval(name, a, None)?,
                        None => Val::Map(BTreeMap::new()),
                    };
                    let json = args.to_json().unwrap_or(Value::Null);
                    let v = mcpo_exec::runbook::call_step(
                        self.conns,
                        self.drivers,
                        server,
                        tool,
                        &json,
                        step.timeout,
                    )
                    .await
                    .map_err(|e| {
                        fail(
                            e.code,
                            name,
                            format!("wait_for: {server}::{tool}: {}", e.message),
                        )
                    })?;
                    Val::from_json(&v)
                }
                None => result.clone(),
            };
            if matches!(
                self.eval(name, &w.condition, Some(polled))?.unmarked(),
                Val::Bool(true)
            ) {
                return Ok(result);
            }
            if Instant::now() >= deadline || self.stop.is_cancelled() {
                return Err(fail(
                    codes::E0605,
                    name,
                    format!(
                        "not ready after {}: the wait_for condition is still false",
                        mcpo_deploy_duration(w.timeout)
                    ),
                )
                .into());
            }
            tokio::time::sleep(w.interval).await;
        }
    }
}

/// A step that could not ask its approver (no terminal, a client without elicitation).
fn unavailable(step: &str, p: &Problem) -> ExecError {
    fail(p.code.unwrap_or(codes::E0634), step, p.detail.clone())
        .with_help(p.help.clone().unwrap_or_default())
}

fn problem_failure(step: &str, p: &Problem) -> ExecError {
    let e = fail(p.code.unwrap_or(codes::E0630), step, p.detail.clone());
    match &p.help {
        Some(h) => e.with_help(h.clone()),
        None => e,
    }
}

/// Why an apply step's plan could not be made, as the step's error: each error of the
/// plan with where it is (`main.mcpo:3:11`), for diagnostics.
fn deploy_failure(step: &str, e: DeployError) -> ExecError {
    match e {
        DeployError::Diagnostics {
            diagnostics,
            sources,
            then,
        } => {
            use mcpo_diagnostics::SourceMap;
            let errors: Vec<&mcpo_diagnostics::Diagnostic> =
                diagnostics.iter().filter(|d| d.is_error()).collect();
            let shown: Vec<String> = errors
                .iter()
                .map(|d| {
                    let text = sources.text(d.file);
                    let at = mcpo_diagnostics::LineIndex::new(text)
                        .line_col(text, d.span.start as usize);
                    let mut line = format!(
                        "{}:{}:{}: [{}] {}",
                        sources.name(d.file),
                        at.line,
                        at.column,
                        d.code,
                        d.message
                    );
                    if !d.primary_label.is_empty() {
                        line.push_str(&format!(" ({})", d.primary_label));
                    }
                    line
                })
                .collect();
            let code = errors.first().map_or(codes::E0630, |d| d.code);
            fail(
                code,
                step,
                format!(
                    "the workspace cannot be planned with the step's variables: {}",
                    shown.join("; ")
                ),
            )
            .with_help(then.and_then(|p| p.help).unwrap_or_else(|| {
                "give the step values the workspace's variables accept".to_string()
            }))
        }
        DeployError::Problem(p) => problem_failure(step, &p),
        DeployError::State(e) => fail(e.code(), step, e.to_string()),
        DeployError::Exec(e) => e.at(format!("step.{step}")),
    }
}

/// What an apply step returns: how many resources it created, updated, replaced and
/// deleted (the checker types it the same way).
fn apply_result(summary: &Summary) -> Val {
    let n = |a: Action| Val::Number(summary.count(a) as f64);
    Val::Map(BTreeMap::from([
        ("created".to_string(), n(Action::Create)),
        ("updated".to_string(), n(Action::Update)),
        ("replaced".to_string(), n(Action::Replace)),
        ("deleted".to_string(), n(Action::Delete)),
    ]))
}

/// The resources of `state` as runbook expressions read them: inputs, outputs and `id`.
fn values_of(state: &State) -> mcpo_plan::Values {
    state
        .resources
        .iter()
        .map(|(a, r)| {
            let mut v = mcpo_plan::driver::resource_value(&r.inputs, &r.outputs);
            if let Value::Object(m) = &mut v {
                m.entry("id").or_insert_with(|| Value::String(r.id.clone()));
            }
            (a.clone(), Val::from_json(&v))
        })
        .collect()
}

/// The backend an apply step's executor writes through: the run's own state, which holds
/// the run's journal, written through the session's backend (whose lock the session
/// holds). A write takes the resources, their intents and the outputs from the
/// executor's state into the run's state and writes that, so a journal entry written by
/// a step running meanwhile and the apply's changes never overwrite each other, and
/// there is one lock and one writer.
pub(crate) struct RunStore {
    shared: Arc<Mutex<State>>,
    inner: Arc<dyn Backend>,
}

impl RunStore {
    fn shared(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The run's state as it is now.
    fn current(&self) -> State {
        self.shared().clone()
    }
}

impl Backend for RunStore {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn read(&self) -> Result<State, StateError> {
        Ok(self.current())
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let mut shared = self.shared();
        let mut next = shared.clone();
        next.resources = state.resources.clone();
        next.intents = state.intents.clone();
        next.outputs = state.outputs.clone();
        self.inner.write(&mut next)?;
        state.serial = next.serial;
        *shared = next;
        Ok(())
    }

    fn write_delta(
        &self,
        _lineage: &str,
        _serial: u64,
        delta: &mcpo_state::Delta,
    ) -> Result<Option<u64>, StateError> {
        let mut shared = self.shared();
        let lineage = shared.lineage.clone();
        let written = self.inner.write_delta(&lineage, shared.serial, delta)?;
        if let Some(serial) = written {
            delta.clone().apply_to(&mut shared);
            shared.serial = serial;
        }
        Ok(written)
    }

    fn lock(&self, info: LockInfo) -> Result<LockGuard, StateError> {
        // The session holds the lock for the whole run; nothing in it locks again.
        self.inner.lock(info)
    }

    fn history(&self) -> Result<Vec<u64>, StateError> {
        self.inner.history()
    }

    fn read_version(&self, serial: u64) -> Result<State, StateError> {
        self.inner.read_version(serial)
    }

    fn restore(&self, serial: u64) -> Result<State, StateError> {
        self.inner.restore(serial)
    }

    fn start_fresh(&self) -> Result<Option<String>, StateError> {
        self.inner.start_fresh()
    }

    fn adopt(&self, history: &[State], current: &State) -> Result<(), StateError> {
        self.inner.adopt(history, current)
    }

    fn keeps(&self) -> bool {
        self.inner.keeps()
    }
}

fn mcpo_deploy_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{}ms", d.as_millis())
    } else if s < 120.0 {
        format!("{:.1}s", s)
    } else {
        format!("{}m", (s / 60.0).round())
    }
}

/// The `--param NAME=VALUE` arguments of a run as (name, value text) pairs, values parsed
/// later like `--var` values; an argument without `=` is a usage error (E0633).
pub fn param_pairs(args: &[String]) -> Result<Vec<(String, String)>, Problem> {
    args.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
            None => Err(
                Problem::new(codes::E0633, format!("`--param {p}` has no `=`"))
                    .help("write `--param name=value`")
                    .usage(),
            ),
        })
        .collect()
}

/// The runbooks a workspace declares, by name.
pub fn runbooks(checked: &crate::Checked) -> BTreeMap<String, Runbook> {
    mcpo_plan::runbook::runbooks(&checked.db, checked.workspace)
}

/// `mcpoc run` without a name: the workspace at `root`'s runbooks as text, a few lines
/// each: the name that always runs it (and the short one, for a module's runbook that has
/// it), where it comes from, its description, params and steps.
pub fn listing(root: &std::path::Path) -> Result<String, DeployError> {
    let books = runbooks(&crate::load::load(root)?);
    if books.is_empty() {
        return Ok("The workspace has no runbooks: declare one with a `runbook \"NAME\"` block, or bring one with a `use` of a module that has runbooks.\n".to_string());
    }
    let short = mcpo_plan::runbook::names(&books);
    let mut out = Vec::new();
    for b in books.values() {
        let mut head = b.name.clone();
        if let Some(m) = &b.module {
            let also = if short.contains(&m.name) {
                format!("also `{}`; ", m.name)
            } else {
                String::new()
            };
            head.push_str(&format!(
                " ({also}from `{}` by `use \"{}\"`)",
                m.origin, m.via
            ));
        }
        out.push(head);
        if let Some(d) = &b.description {
            out.push(format!("  {d}"));
        }
        let params: Vec<String> = b
            .params
            .iter()
            .map(|p| match p.default {
                Some(_) => format!("{} ({}, has a default)", p.name, p.ty),
                None => format!("{} ({})", p.name, p.ty),
            })
            .collect();
        if !params.is_empty() {
            out.push(format!("  params: {}", params.join(", ")));
        }
        let steps: Vec<&str> = b.steps.iter().map(|s| s.name.as_str()).collect();
        out.push(format!("  steps: {}", steps.join(", ")));
    }
    Ok(out.iter().map(|l| format!("{l}\n")).collect())
}

impl Session {
    /// Runs the runbook `name` (see the module docs): parameters are parsed and checked
    /// before anything is called; steps run on the executor's scheduler, with progress on
    /// `events`; after `cancel` no step starts. The run is journalled in the state unless
    /// it is a dry run.
    pub async fn run_runbook(
        &mut self,
        name: &str,
        opts: &RunOptions,
        approver: &dyn Approver,
        events: Option<UnboundedSender<RunEvent>>,
        cancel: CancellationToken,
    ) -> Result<RunReport, DeployError> {
        let books = runbooks(self.checked());
        let book = match mcpo_plan::runbook::find(&books, name) {
            Ok(b) => b,
            Err(mcpo_plan::runbook::NotFound::Ambiguous(names)) => {
                let shown: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                return Err(Problem::new(
                    codes::E0660,
                    format!("`{name}` names several runbooks that `use` blocks bring"),
                )
                .help(format!("name one of them: {}", shown.join(", ")))
                .into());
            }
            Err(mcpo_plan::runbook::NotFound::Unknown(known)) => {
                let mut p = Problem::new(
                    codes::E0660,
                    format!("the workspace declares no runbook `{name}`"),
                );
                p = match mcpo_sema::suggest::best(name, known.iter().map(String::as_str)) {
                    Some(s) => p.help(format!("did you mean `{s}`?")),
                    None if known.is_empty() => p.help(
                        "declare one with a `runbook \"NAME\" { step ... }` block, or bring one with a `use` of a module that has runbooks",
                    ),
                    None => p.help(format!("the runbooks are: {}", known.join(", "))),
                };
                return Err(p.into());
            }
        };
        // The journal and every message name the runbook by the name that always runs it.
        let name = book.name.as_str();
        let program = crate::session::program(self.checked(), self.vars().clone())?;
        let values = values_of(self.state());
        // What to continue, and with which params.
        let prior = if opts.resume {
            let found = self
                .state()
                .runs
                .iter()
                .rev()
                .find(|r| {
                    r.runbook == name
                        && matches!(r.status, RunStatus::Running | RunStatus::Cancelled)
                })
                .cloned();
            match found {
                Some(r) => Some(r),
                None => {
                    return Err(Problem::new(
                        codes::E0662,
                        format!("runbook `{name}` has no unfinished run to resume"),
                    )
                    .help(format!("start a new run with `mcpoc run {name}`"))
                    .into());
                }
            }
        } else {
            None
        };
        let params = self.runbook_params(book, &program, &values, opts, prior.as_ref())?;
        if opts.approve_run && !opts.dry_run {
            let shown: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k} = {}", v.display()))
                .collect();
            let mut notes = vec![format!("runbook `{name}`")];
            notes.extend(book.description.clone());
            notes.push(format!("params: {}", shown.join(", ")));
            let steps: Vec<&str> = book.steps.iter().map(|s| s.name.as_str()).collect();
            notes.push(format!("steps: {}", steps.join(", ")));
            let plan = approval_plan(self.state(), notes);
            let question = format!(
                "Run runbook `{name}`? Its steps call tools that may change the infrastructure."
            );
            match approver
                .approve(ApprovalRequest {
                    plan: &plan,
                    question: &question,
                })
                .await
            {
                Approval::Approved => {}
                Approval::Declined => {
                    return Err(Problem::new(
                        codes::E0639,
                        format!("the run of runbook `{name}` was declined; nothing was called"),
                    )
                    .help("ask the person what to change, then ask again")
                    .into());
                }
                Approval::Unavailable(p) => return Err(p.into()),
            }
        }
        // The servers the steps call.
        let mut servers: BTreeSet<String> = BTreeSet::new();
        for s in &book.steps {
            if let StepAction::Call { server, .. } = &s.action {
                servers.insert(server.clone());
            }
            if let Some((server, _, _)) = s.wait_for.as_ref().and_then(|w| w.call.as_ref()) {
                servers.insert(server.clone());
            }
            // An apply step plans and applies the whole workspace.
            if matches!(s.action, StepAction::Apply(_)) {
                servers.extend(self.all_servers());
            }
        }
        self.connect_to(servers).await;
        let conns = self.connections();
        let read_only =
            mcpo_sema::read_only_tools(&self.checked().db, self.checked().workspace).clone();
        // The journal.
        let mut state = std::mem::replace(self.state_mut(), State::new(""));
        let params_json = Value::Object(
            params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json().unwrap_or(Value::Null)))
                .collect(),
        );
        let (id, prior_steps) = match &prior {
            Some(r) => (r.id.clone(), r.steps.clone()),
            None => (next_run_id(&state, name), BTreeMap::new()),
        };
        if !opts.dry_run {
            // A new run supersedes an unfinished one of the same runbook.
            for r in state.runs.iter_mut() {
                if r.runbook == name && r.status == RunStatus::Running && r.id != id {
                    r.status = RunStatus::Cancelled;
                    r.ended.get_or_insert_with(now);
                }
            }
            match state.runs.iter_mut().find(|r| r.id == id) {
                Some(r) => r.status = RunStatus::Running,
                None => state.runs.push(RunRecord {
                    id: id.clone(),
                    runbook: name.to_string(),
                    params: params_json,
                    started: now(),
                    ended: None,
                    status: RunStatus::Running,
                    steps: BTreeMap::new(),
                }),
            }
            prune_runs(&mut state);
            if let Err(e) = self.backend().write(&mut state) {
                *self.state_mut() = state;
                return Err(e.into());
            }
        }
        let stop = cancel.child_token();
        let run = Run {
            book,
            program: &program,
            io: self.io(),
            values: Mutex::new(values),
            conns: &conns,
            checked: self.checked(),
            vars: self.vars(),
            shared_conns: Arc::clone(&conns),
            parallelism: opts.parallelism.max(1),
            applying: tokio::sync::Mutex::new(()),
            drivers: self.drivers(),
            read_only: &read_only,
            approver,
            events,
            dry_run: opts.dry_run,
            stop: stop.clone(),
            interrupt: cancel.clone(),
            interrupted: Mutex::new(false),
            params,
            results: Mutex::new(BTreeMap::new()),
            failed: Mutex::new(BTreeSet::new()),
            declined: Mutex::new(false),
            stopped_by_failure: Mutex::new(false),
            errors: Mutex::new(Vec::new()),
            state: Arc::new(Mutex::new(state)),
            backend: Arc::clone(self.backend()),
            id: id.clone(),
            prior: prior_steps,
            record: Mutex::new(BTreeMap::new()),
        };
        let scheduled: Vec<&RunStep> = book.steps.iter().filter(|s| !s.compensation).collect();
        let names: Vec<String> = scheduled.iter().map(|s| s.name.clone()).collect();
        let deps = mcpo_exec::runbook::edges(&names, scheduled.iter().map(|s| s.deps.as_slice()));
        let outcomes =
            mcpo_exec::runbook::run_dag(&names, &deps, opts.parallelism.max(1), &stop, |i| {
                let run = &run;
                let step = scheduled.get(i).copied();
                async move {
                    match step {
                        Some(s) => run.node(s).await,
                        None => Ok(()),
                    }
                }
            })
            .await;
        let not_started: Vec<String> = outcomes
            .iter()
            .zip(&names)
            .filter(|(o, _)| {
                matches!(
                    o,
                    mcpo_exec::runbook::Outcome::NotStarted
                        | mcpo_exec::runbook::Outcome::Skipped(_)
                )
            })
            .map(|(_, n)| n.clone())
            .collect();
        let declined = *run.declined.lock().unwrap_or_else(|p| p.into_inner());
        let stopped = *run
            .stopped_by_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let interrupted = *run.interrupted.lock().unwrap_or_else(|p| p.into_inner());
        let status = if declined {
            RunStatus::Declined
        } else if stopped {
            RunStatus::Failed
        } else if interrupted || !not_started.is_empty() {
            RunStatus::Cancelled
        } else {
            RunStatus::Succeeded
        };
        let errors = run.errors.into_inner().unwrap_or_else(|p| p.into_inner());
        let record = run.record.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut state = std::mem::replace(
            &mut *run.state.lock().unwrap_or_else(|p| p.into_inner()),
            State::new(""),
        );
        let mut result = Ok(());
        if !opts.dry_run {
            if let Some(r) = state.runs.iter_mut().find(|r| r.id == id) {
                r.status = status;
                r.ended = Some(now());
            }
            result = self.backend().write(&mut state);
        }
        *self.state_mut() = state;
        result?;
        let steps = book
            .steps
            .iter()
            .filter_map(|s| record.get(&s.name).map(|r| (s.name.clone(), r.clone())))
            .collect();
        Ok(RunReport {
            id,
            runbook: name.to_string(),
            status,
            dry_run: opts.dry_run,
            resumed: prior.is_some(),
            steps,
            not_started,
            errors,
        })
    }

    /// The params of a run: given on the command line (or by the run resumed), else their
    /// defaults; each converted to its type. Every problem is reported before any call.
    fn runbook_params(
        &self,
        book: &Runbook,
        program: &Program,
        values: &mcpo_plan::Values,
        opts: &RunOptions,
        prior: Option<&RunRecord>,
    ) -> Result<BTreeMap<String, Val>, DeployError> {
        let declared: Vec<&str> = book.params.iter().map(|p| p.name.as_str()).collect();
        let mut given: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &opts.params {
            if !declared.contains(&k.as_str()) {
                let mut p = Problem::new(
                    codes::E0661,
                    format!("runbook `{}` has no param `{k}`", book.name),
                );
                p = match mcpo_sema::suggest::best(k, declared.iter().copied()) {
                    Some(s) => p.help(format!("did you mean `{s}`?")),
                    None => p.help(format!("its params are: {}", declared.join(", "))),
                };
                return Err(p.into());
            }
            given.insert(k.as_str(), v.as_str());
        }
        if let Some(r) = prior
            && !given.is_empty()
        {
            return Err(Problem::new(
                codes::E0661,
                format!(
                    "`--resume` continues run {} with the params it started with",
                    r.id
                ),
            )
            .help("leave out `--param` when resuming, or start a new run without `--resume`")
            .into());
        }
        let mut out = BTreeMap::new();
        let mut problems = Vec::new();
        for p in &book.params {
            let bound = Bindings {
                params: out.clone(),
                ..Bindings::default()
            };
            let value = if let Some(r) = prior {
                Ok(Val::from_json(
                    r.params.get(&p.name).unwrap_or(&Value::Null),
                ))
            } else if let Some(raw) = given.get(p.name.as_str()) {
                mcpo_plan::runbook::param_from_text(raw, p, self.io())
            } else {
                match program.param_default(p, &bound, values, self.io()) {
                    Some(v) => v,
                    None => Err("it has no default; give it with `--param`".to_string()),
                }
            };
            match value {
                Ok(v) => {
                    out.insert(p.name.clone(), v);
                }
                Err(why) => problems.push(format!("param `{}`: {why}", p.name)),
            }
        }
        if !problems.is_empty() {
            return Err(Problem::new(codes::E0661, problems.join("; "))
                .help(format!("give each with `--param NAME=VALUE` (`mcpoc run {} --param ...`); nothing was called", book.name))
                .into());
        }
        Ok(out)
    }
}

fn next_run_id(state: &State, name: &str) -> String {
    let n = state.runs.len() + 1;
    let mut id = format!("{name}-{}", state.serial + 1);
    let mut k = n;
    while state.runs.iter().any(|r| r.id == id) {
        k += 1;
        id = format!("{name}-{}-{k}", state.serial + 1);
    }
    id
}

/// Keeps the unfinished runs and the last [`mcpo_state::RUNS_KEPT`] finished ones.
fn prune_runs(state: &mut State) {
    let finished = state
        .runs
        .iter()
        .filter(|r| r.status != RunStatus::Running)
        .count();
    let mut drop = finished.saturating_sub(mcpo_state::RUNS_KEPT);
    state.runs.retain(|r| {
        if drop > 0 && r.status != RunStatus::Running {
            drop -= 1;
            false
        } else {
            true
        }
    });
}

/// A short text of a value for a line of progress: JSON, cut at 120 characters.
fn brief(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 120 {
        let cut: String = text.chars().take(117).collect();
        format!("{cut}...")
    } else {
        text
    }
}

impl std::fmt::Display for RunEvent {
    /// One line per event, as a terminal or a log shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunEvent::Started { step, attempt: 1 } => write!(f, "step {step}: started"),
            RunEvent::Started { step, attempt } => {
                write!(f, "step {step}: attempt {attempt}")
            }
            RunEvent::Retrying {
                step,
                attempt,
                error,
                pause,
            } => write!(
                f,
                "step {step}: attempt {attempt} failed: {error}; retrying in {}",
                duration_text(*pause)
            ),
            RunEvent::Waiting { step } => write!(f, "step {step}: waiting for its condition"),
            RunEvent::Done {
                step,
                result,
                elapsed,
            } => write!(
                f,
                "step {step}: done in {}: {}",
                duration_text(*elapsed),
                brief(result)
            ),
            RunEvent::Reused { step } => {
                write!(
                    f,
                    "step {step}: done in the interrupted run, not called again"
                )
            }
            RunEvent::Skipped { step, why } => write!(f, "step {step}: skipped: {why}"),
            RunEvent::Failed { step, error } => write!(f, "step {step}: failed: {error}"),
            RunEvent::WouldCall { step, call, args } => {
                write!(f, "step {step}: would call {call}({args})")
            }
            RunEvent::Planned { step, plan } => {
                let counts = plan.counts();
                let n = |a: Action| counts.get(&a).copied().unwrap_or(0);
                write!(
                    f,
                    "step {step}: planned: {} to create, {} to update, {} to replace, {} to delete",
                    n(Action::Create),
                    n(Action::Update),
                    n(Action::Replace),
                    n(Action::Delete)
                )
            }
            RunEvent::Applying { step, line } => write!(f, "step {step}: {line}"),
            RunEvent::Compensating { step, failed } => {
                write!(f, "step {step}: compensating for {failed}")
            }
            RunEvent::Unanswered { step } => write!(
                f,
                "step {step}: interrupted while waiting for approval; `--resume` asks again"
            ),
        }
    }
}

impl RunEvent {
    /// The event as a terminal shows it: its line, then, for an apply step's plan, the
    /// plan as `mcpoc plan` prints it, unless `asked` (the approver is asked about the
    /// plan and shows it itself; a plan that changes nothing is never asked about).
    pub fn text(&self, asked: bool) -> String {
        match self {
            RunEvent::Planned { plan, .. } if !asked || !plan.has_changes() => {
                format!("{self}\n{}", mcpo_plan::render::plan_text(plan))
            }
            _ => format!("{self}\n"),
        }
    }
}

impl RunReport {
    /// The closing lines for a person: how the run ended, what failed, what never started.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let count = |s: StepStatus| self.steps.iter().filter(|(_, r)| r.status == s).count();
        let how = match self.status {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Declined => "stopped: an approval was declined",
            RunStatus::Cancelled => "interrupted",
            RunStatus::Running => "still running",
        };
        let mut head = format!(
            "Runbook {} {how}: {} done, {} skipped, {} failed",
            self.runbook,
            count(StepStatus::Done),
            count(StepStatus::Skipped),
            count(StepStatus::Failed)
        );
        if !self.not_started.is_empty() {
            head.push_str(&format!(", {} not started", self.not_started.len()));
        }
        head.push('.');
        if self.dry_run {
            head = format!(
                "Dry run: {head} Only read-only tools were called; nothing was journalled."
            );
        } else {
            head.push_str(&format!(" (run {}", self.id));
            if self.resumed {
                head.push_str(", resumed");
            }
            head.push(')');
        }
        out.push(head);
        if !self.not_started.is_empty() {
            out.push(format!("Not started: {}", self.not_started.join(", ")));
        }
        if self.status == RunStatus::Cancelled && !self.dry_run {
            out.push(format!(
                "`mcpoc run {} --resume` continues it from its first unfinished step.",
                self.runbook
            ));
        }
        out
    }
}

fn duration_text(d: Duration) -> String {
    mcpo_deploy_duration(d)
}
