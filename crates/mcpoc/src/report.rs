//! Errors of the deployment commands for people: a code, what went wrong, the specifics,
//! and what to do. Printed on stderr as
//!
//! ```text
//! error[E0631]: the saved plan is out of date
//!   the plan was made from state serial 3; the state is now at serial 5
//!   help: run `mcpoc plan --out plan.json` again and apply the new plan
//! ```

use crate::output::{self, Format};
use mcpo_deploy::{DeployError, Problem};

/// Prints a problem on stderr; returns the exit code (2 for usage errors, else 1).
pub fn problem(p: &Problem) -> u8 {
    eprint!("{}", mcpo_deploy::render::problem(p));
    if p.usage {
        crate::EXIT_USAGE
    } else {
        crate::EXIT_ERRORS
    }
}

/// Prints whatever stopped a session operation; returns the exit code.
pub fn deploy_error(e: DeployError) -> u8 {
    match e {
        DeployError::Diagnostics {
            mut diagnostics,
            sources,
            then,
        } => {
            output::print(&mut diagnostics, &sources, Format::Human);
            match then {
                Some(p) => problem(&p),
                None => crate::EXIT_ERRORS,
            }
        }
        DeployError::Problem(p) => problem(&p),
        DeployError::State(e) => {
            eprintln!("{}", e.render());
            crate::EXIT_ERRORS
        }
        DeployError::Exec(e) => {
            eprintln!("{e}");
            crate::EXIT_ERRORS
        }
    }
}
