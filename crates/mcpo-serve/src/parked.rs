//! Runbook runs waiting for a person's answer, for clients of the 2026-07-28 protocol.
//!
//! Such a client cannot be asked in the middle of a tool call: the server answers the call
//! with an `input_required` result and the client calls the tool again with the answer
//! (Multi Round-Trip Request). A run cannot be rebuilt from what the client echoes back
//! (it holds the state lock, its journal entry, the results of the steps done), so it is
//! not: it goes on in the server, parked on the question, and the request state the client
//! round-trips is only the key (random, used once) to the parked run. The next call with
//! that key and the answer wakes the same run, which goes on to its next question or its
//! end.
//!
//! A client that never comes back must not hold the state lock for ever: a question not
//! answered within the approval timeout (`mcpoc serve --approval-timeout`, 15 minutes by
//! default) interrupts the run. An unanswered approval step stays unfinished in the
//! journal, the run is journalled as interrupted and the lock is released; `mcpoc run NAME
//! --resume` in a terminal asks again and finishes it. A request state that names no
//! waiting run (made up, answered already, expired, from before a restart) is E0642.

use crate::ops::Fail;
use crate::tools::RunbookOut;
use mcpo_deploy::approve::BoxFuture;
use mcpo_deploy::{Approval, ApprovalRequest, Approver, Problem};
use mcpo_diagnostics::codes;
use mcpo_exec::CancellationToken;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How many expired request states are remembered, to say why they no longer work.
const EXPIRED_KEPT: usize = 256;

/// What a run in the server does next, for the tool call waiting on it.
#[derive(Debug)]
pub enum Turn {
    /// It asks a person.
    Ask {
        /// The request state that answers it.
        state: String,
        /// The question with what approving it does.
        question: String,
        /// Where the answer goes.
        answer: oneshot::Sender<Approval>,
    },
    /// It ended (or never started).
    Done(Result<RunbookOut, Fail>),
}

/// A run waiting for an answer.
#[derive(Debug)]
pub struct Parked {
    /// Which call it answers: the runbook and its params, as the retry must repeat them.
    pub call: String,
    /// The question asked.
    pub question: String,
    /// Where the answer goes.
    pub answer: oneshot::Sender<Approval>,
    /// The run's next turns.
    pub turns: mpsc::UnboundedReceiver<Turn>,
}

#[derive(Debug, Default)]
struct Inner {
    parked: BTreeMap<String, Parked>,
    /// Request states whose question expired, with what that did, oldest first.
    expired: VecDeque<(String, String)>,
}

/// The runs of one `serve` process that wait for an answer, by request state.
#[derive(Debug)]
pub struct Runs {
    inner: Mutex<Inner>,
    /// How long a question waits for its answer.
    pub timeout: Duration,
}

impl Runs {
    /// No run waits yet; questions wait `timeout` for their answer.
    pub fn new(timeout: Duration) -> Runs {
        Runs {
            inner: Mutex::new(Inner::default()),
            timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Parks a run on its question under `state`; refused when the question expired
    /// already (the answer can never come).
    pub fn park(&self, state: &str, parked: Parked) -> Result<(), Fail> {
        let mut inner = self.lock();
        if let Some((_, what)) = inner.expired.iter().find(|(s, _)| s == state) {
            return Err(expired(what));
        }
        inner.parked.insert(state.to_string(), parked);
        Ok(())
    }

    /// The run waiting on `state`, for an answer to the call `call`. A state of another
    /// call is refused and stays parked; an unknown or expired one is E0642.
    pub fn take(&self, state: &str, call: &str) -> Result<Parked, Fail> {
        let mut inner = self.lock();
        if let Some(p) = inner.parked.remove(state) {
            if p.call == call {
                return Ok(p);
            }
            inner.parked.insert(state.to_string(), p);
            return Err(Fail::problem(
                &Problem::new(
                    codes::E0642,
                    "the request state belongs to another call: a retry repeats the runbook and params of the call that was answered with `input_required`; nothing was run",
                )
                .help("call `run_runbook` again with the same `name` and `params`, the answer and this request state"),
            ));
        }
        if let Some((_, what)) = inner.expired.iter().find(|(s, _)| s == state) {
            return Err(expired(what));
        }
        Err(Fail::problem(
            &Problem::new(
                codes::E0642,
                "the request state names no question this server is waiting on (it was answered already, made up, or issued before the server restarted); nothing was run",
            )
            .help("call `run_runbook` without a request state to start a run; a person continues an interrupted one with `mcpoc run NAME --resume` in a terminal"),
        ))
    }

    /// The question asked under `state` expired: forget the run waiting on it, and
    /// remember `what` happened to say it to a late answer.
    pub fn expire(&self, state: &str, what: String) {
        let mut inner = self.lock();
        inner.parked.remove(state);
        inner.expired.push_back((state.to_string(), what));
        while inner.expired.len() > EXPIRED_KEPT {
            inner.expired.pop_front();
        }
    }

    /// How many runs wait for an answer.
    pub fn waiting(&self) -> usize {
        self.lock().parked.len()
    }
}

fn expired(what: &str) -> Fail {
    Fail::problem(
        &Problem::new(
            codes::E0642,
            format!("the question asked with this request state was not answered in time: {what}"),
        )
        .help("ask the person to run it in a terminal as the message says, or call `run_runbook` again"),
    )
}

/// A request state nobody can guess: 24 random bytes in hex.
pub fn new_state() -> Result<String, Fail> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            Fail::problem(&Problem::uncoded(format!(
                "cannot read random bytes for a request state: {e}"
            )))
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else if s > 0 {
        format!("{s}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The approver of a run for a 2026-07-28 client: each question goes to the tool call
/// waiting on the run as a [`Turn::Ask`] and the run waits for the answer, at most the
/// approval timeout; then it cancels the run (`cancel`, the token the run was started
/// with), which leaves the question unanswered and the run interrupted.
pub struct Relay {
    /// The registry the question is parked in (and expired from).
    pub runs: Arc<Runs>,
    /// Where the run's turns go.
    pub turns: mpsc::UnboundedSender<Turn>,
    /// The run's cancellation token.
    pub cancel: CancellationToken,
    /// The runbook.
    pub runbook: String,
    /// The `mcpoc run` command that runs the same in a terminal.
    pub command: String,
    /// Questions asked so far: the first is the run's own approval.
    pub asked: AtomicUsize,
}

impl Relay {
    async fn ask(&self, question: String) -> Approval {
        let first = self.asked.fetch_add(1, Ordering::SeqCst) == 0;
        let state = match new_state() {
            Ok(s) => s,
            Err(f) => return Approval::Unavailable(Problem::uncoded(f.error.error.message)),
        };
        let (tx, rx) = oneshot::channel();
        let sent = self.turns.send(Turn::Ask {
            state: state.clone(),
            question,
            answer: tx,
        });
        let answered = match sent {
            Ok(()) => tokio::time::timeout(self.runs.timeout, rx)
                .await
                .ok()
                .and_then(Result::ok),
            // Nobody waits on the run any more (the client went away mid-call).
            Err(_) => None,
        };
        if let Some(answer) = answered {
            return answer;
        }
        let waited = duration_text(self.runs.timeout);
        let what = if first {
            format!(
                "the run of runbook `{}` was not approved within {waited}; nothing was called",
                self.runbook
            )
        } else {
            format!(
                "no answer within {waited}, so the run of runbook `{}` stopped there: it is journalled as interrupted and the state lock is released; `{} --resume` in a terminal asks again and finishes it",
                self.runbook,
                self.command_name()
            )
        };
        self.runs.expire(&state, what.clone());
        self.cancel.cancel();
        Approval::Unavailable(Problem::new(codes::E0642, what).help(format!(
            "run it in a terminal in the workspace: {}",
            if first {
                self.command.clone()
            } else {
                format!("{} --resume", self.command_name())
            }
        )))
    }

    /// `mcpoc run NAME`, without the params (a resumed run keeps its own).
    fn command_name(&self) -> String {
        format!("mcpoc run {}", self.runbook)
    }
}

impl Approver for Relay {
    fn approve<'a>(&'a self, request: ApprovalRequest<'a>) -> BoxFuture<'a, Approval> {
        let mut message = request.question.to_string();
        for note in &request.plan.notes {
            message.push_str(&format!("\n{note}"));
        }
        Box::pin(self.ask(message))
    }
}
