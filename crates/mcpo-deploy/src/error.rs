//! What can go wrong in a deployment session, as values a front end renders its own way.

use mcpo_diagnostics::{Code, Diagnostic, Sources};
use mcpo_exec::ExecError;
use mcpo_state::StateError;

/// A problem that is not tied to a place in the source: a code (most have one), what
/// went wrong with the specifics, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The code; its summary is the first line a front end shows.
    pub code: Option<Code>,
    /// The specifics: names, paths, numbers.
    pub detail: String,
    /// What to do about it.
    pub help: Option<String>,
    /// The request itself was wrong (a bad argument, a missing file): the CLI exits 2.
    pub usage: bool,
}

impl Problem {
    /// A problem with `code` and `detail`.
    pub fn new(code: Code, detail: impl Into<String>) -> Problem {
        Problem {
            code: Some(code),
            detail: detail.into(),
            help: None,
            usage: false,
        }
    }

    /// A problem without a code (an I/O error reading the workspace, say).
    pub fn uncoded(detail: impl Into<String>) -> Problem {
        Problem {
            code: None,
            detail: detail.into(),
            help: None,
            usage: false,
        }
    }

    /// Adds what to do.
    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    /// Marks it as a usage error (a wrong request rather than a failure).
    pub fn usage(mut self) -> Problem {
        self.usage = true;
        self
    }
}

/// Why a session operation did not happen.
#[derive(Debug, Clone)]
pub enum DeployError {
    /// The workspace or its plan has errors, located in the sources: the diagnostics
    /// (warnings included, unsorted) and what they mean for the operation, if anything
    /// more is to be said.
    Diagnostics {
        /// The diagnostics.
        diagnostics: Vec<Diagnostic>,
        /// The sources they point into.
        sources: Sources,
        /// What follows from them (`E0630`: nothing was planned).
        then: Option<Problem>,
    },
    /// A problem of the request or the workspace.
    Problem(Problem),
    /// The state could not be read, written or locked.
    State(StateError),
    /// A server call failed outside any step (an import's read).
    Exec(ExecError),
}

impl From<Problem> for DeployError {
    fn from(p: Problem) -> DeployError {
        DeployError::Problem(p)
    }
}

impl From<StateError> for DeployError {
    fn from(e: StateError) -> DeployError {
        DeployError::State(e)
    }
}

impl From<ExecError> for DeployError {
    fn from(e: ExecError) -> DeployError {
        DeployError::Exec(e)
    }
}
