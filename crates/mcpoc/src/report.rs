//! Errors of the deployment commands for people: a code, what went wrong, the specifics,
//! and what to do. Printed on stderr as
//!
//! ```text
//! error[E0631]: the saved plan is out of date
//!   the plan was made from state serial 3; the state is now at serial 5
//!   help: run `mcpoc plan --out plan.json` again and apply the new plan
//! ```

use mcpo_diagnostics::Code;

/// One error of a deployment command.
#[derive(Debug, Clone)]
pub struct CliError {
    /// Its code (the summary printed comes from the registry).
    pub code: Code,
    /// The specifics: names, paths, numbers.
    pub detail: String,
    /// What to do about it.
    pub help: Option<String>,
    /// The exit code it leads to.
    pub exit: u8,
}

impl CliError {
    /// An error with `detail`, exiting 1.
    pub fn new(code: Code, detail: impl Into<String>) -> CliError {
        CliError {
            code,
            detail: detail.into(),
            help: None,
            exit: crate::EXIT_ERRORS,
        }
    }

    /// Adds what to do.
    pub fn help(mut self, help: impl Into<String>) -> CliError {
        self.help = Some(help.into());
        self
    }

    /// Sets the exit code.
    pub fn exit(mut self, code: u8) -> CliError {
        self.exit = code;
        self
    }

    /// The error as printed.
    pub fn render(&self) -> String {
        let summary = self.code.info().map_or("error", |i| i.summary);
        let mut out = format!("error[{}]: {summary}\n", self.code);
        for line in self.detail.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        out
    }

    /// Prints it on stderr and returns the exit code.
    pub fn report(&self) -> u8 {
        eprint!("{}", self.render());
        self.exit
    }
}
