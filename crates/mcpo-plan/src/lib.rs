//! From a checked program to a plan: lowering to the resource graph, evaluation of
//! expressions, the diff against state, and the plan format.
//!
//! - [`value`]: runtime values ([`Val`]) with unknown and sensitive marks;
//! - [`functions`]: the built-in function library's implementations (the checker in
//!   `mcpo-sema` holds their typed signatures);
//! - [`eval`]: evaluation of syntax-tree expressions in a [`eval::Scope`];
//! - [`lower`]: the workspace as a [`Program`]: one node per resource instance (each
//!   `count`/`for_each` instance), data read, task, local, output, pattern instance;
//!   edges from references and `depends_on`;
//! - [`diff`]: a [`Plan`] from a program and the (refreshed) state;
//! - [`render`]: a plan as text grouped in waves, as JSON; the graph as DOT or Mermaid;
//! - [`driver`]: the resource-driver seam: which tool call creates, reads, updates,
//!   deletes and lists a resource type, and what its result means ([`Drivers`]).
//!
//! **Architecture invariant:** no I/O. Files (`file()`, `templatefile()`) and the
//! environment (`env()`) come in through the [`Io`] trait; the state comes in as a value.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod driver;
pub mod eval;
pub mod functions;
pub mod lower;
pub mod plan;
pub mod render;
pub mod value;

pub use driver::{Driver, Drivers};
pub use eval::{EvalError, Lookup, ToolCaller};
pub use lower::{PlanInputs, Program, Values, WaitFor, parse_duration, plan, task_inputs};
pub use plan::{Action, AttrChange, Change, NodeKind, OutputChange, Plan, PlanMode, PlanSource};
pub use value::Val;

/// What evaluation may ask of the world: files relative to the workspace, environment
/// variables, the clock. The CLI implements it over the real file system; tests in memory.
pub trait Io: Send + Sync {
    /// The text of a file, relative to the workspace root (or absolute).
    fn read_file(&self, path: &str) -> Result<String, String>;
    /// The bytes of a file (for `filebase64`, `filesha256`).
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String>;
    /// An environment variable.
    fn env(&self, name: &str) -> Option<String>;
    /// The current time as RFC 3339 (for `timestamp()`).
    fn now_rfc3339(&self) -> String;
}
