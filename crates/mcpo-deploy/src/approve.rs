//! Approval: before anything changes, a person says yes to the exact plan that will run.
//! The session decides when to ask (never for a plan without changes or a saved plan,
//! which was approved when it was saved); an [`Approver`] asks: the terminal prompt, the
//! `--auto-approve` flag, an MCP client's elicitation. The terminal prompt is here, not in
//! a front end, because every command that changes anything (apply, destroy, a runbook's
//! approval step) asks the same question the same way.

use crate::error::Problem;
use mcpo_plan::Plan;
use std::future::Future;
use std::pin::Pin;

/// What the person said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Yes: run exactly this plan.
    Approved,
    /// No: nothing changes.
    Declined,
    /// Nobody could be asked (no terminal, a client without elicitation).
    Unavailable(Problem),
}

/// What is asked.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalRequest<'a> {
    /// The plan that runs if approved.
    pub plan: &'a Plan,
    /// The question, e.g. "Do you want to perform these actions?".
    pub question: &'a str,
}

/// A boxed future, for trait methods that may wait on a person.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Asks a person to approve a plan.
pub trait Approver: Send + Sync {
    /// Shows the plan and asks the question; resolves with the answer.
    fn approve<'a>(&'a self, request: ApprovalRequest<'a>) -> BoxFuture<'a, Approval>;
}

/// Approves everything without asking (`--auto-approve`: the person approved in advance).
#[derive(Debug, Clone, Copy, Default)]
pub struct AutoApprove;

impl Approver for AutoApprove {
    fn approve<'a>(&'a self, _request: ApprovalRequest<'a>) -> BoxFuture<'a, Approval> {
        Box::pin(async { Approval::Approved })
    }
}

/// Asks "Do you want to ... ? Only 'yes' will be accepted." on a terminal, after showing
/// the plan on stdout. Without a terminal on stdin nobody can answer: E0634.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalPrompt;

impl Approver for TerminalPrompt {
    fn approve<'a>(&'a self, request: ApprovalRequest<'a>) -> BoxFuture<'a, Approval> {
        use std::io::{BufRead, IsTerminal, Write};
        let plan = mcpo_plan::render::plan_text(request.plan);
        let question = request.question.to_string();
        Box::pin(async move {
            print!("{plan}");
            let _ = std::io::stdout().flush();
            if !std::io::stdin().is_terminal() {
                return Approval::Unavailable(
                    Problem::new(
                        mcpo_diagnostics::codes::E0634,
                        "standard input is not a terminal, so the changes cannot be confirmed",
                    )
                    .help("review the plan with `mcpoc plan`, then pass `--auto-approve` (or apply a saved plan file)"),
                );
            }
            let answer = tokio::task::spawn_blocking(move || {
                eprint!("\n{question}\n  Only 'yes' will be accepted.\n\n  Enter a value: ");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                line.trim() == "yes"
            })
            .await
            .unwrap_or(false);
            if answer {
                Approval::Approved
            } else {
                Approval::Declined
            }
        })
    }
}
