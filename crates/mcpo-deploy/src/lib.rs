//! The deployment engine as a library: one path under every front end.
//!
//! The CLI (`mcpoc plan|apply|destroy|refresh|import|state|output`), mcpo served as an MCP
//! server and runbooks all drive the same session:
//!
//! - [`load`]: find, read and check a workspace (source files, deployment templates,
//!   pulled schemas, `server` blocks) exactly as `mcpoc check` does;
//! - [`vars`]: input variables from settings, variable files and the environment;
//! - [`Session`]: the state backend and its lock, the server connections of one run,
//!   refresh, plan, and apply of a plan ([`Session::apply`]): an [`Approver`] is asked
//!   first (the terminal prompt, `--auto-approve`, an MCP client's elicitation), then
//!   exactly the approved steps run, with progress as events on a channel and a
//!   cancellation token;
//! - [`planfile`]: saved plans and the rule that a saved plan fits only the state it was
//!   made from;
//! - [`query`]: what the state holds;
//! - [`patterns`]: the patterns a workspace can `use`, with their params and outputs;
//! - [`pull`]: the servers a workspace knows, their schemas pulled and locked, their
//!   health;
//! - [`interrupt`]: Ctrl-C while steps run; `live` (feature `live`): their progress on a
//!   terminal;
//! - [`scaffold`]: a new workspace; [`fix`]: the checker's suggestions applied.
//!
//! **Architecture invariant:** never prints and never exits. Results are values,
//! problems are [`DeployError`]s (diagnostics with their sources, or coded problems), and
//! each front end renders them its own way.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod approve;
pub mod backend;
mod error;
pub mod files;
pub mod fix;
pub mod interrupt;
mod io;
#[cfg(feature = "live")]
pub mod live;
pub mod load;
pub mod patterns;
pub mod planfile;
pub mod pull;
pub mod query;
pub mod render;
pub mod runbook;
pub mod scaffold;
pub mod servers;
mod session;
pub mod vars;

pub use approve::{Approval, ApprovalRequest, Approver, AutoApprove, TerminalPrompt};
pub use error::{DeployError, Problem};
pub use io::WorkspaceIo;
pub use load::Checked;
pub use runbook::{RunEvent, RunOptions, RunReport};
pub use session::{Applied, Execution, Planned, Purpose, Session, program, refresh_refusal};
pub use vars::{RawVar, VarSources};
