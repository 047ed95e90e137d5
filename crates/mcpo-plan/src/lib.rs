//! From a checked program to a plan: lowering to the resource graph, the diff against
//! state, and the plan format.
//!
//! - [`value`], [`functions`], [`eval`]: runtime values, the built-in functions and the
//!   evaluator. They live in `mcpo-sema` (the checker evaluates `server` blocks with them)
//!   and are re-exported here under their old paths;
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
pub mod lower;
pub mod plan;
pub mod render;

pub use mcpo_sema::{Io, Val, eval, functions, value};

pub use driver::{Driver, Drivers};
pub use eval::{EvalError, Lookup, ToolCaller};
pub use lower::{
    PlanInputs, Program, Values, WaitFor, parse_duration, plan, rollback, runbook, task_inputs,
    task_undo,
};
pub use plan::{Action, AttrChange, Change, NodeKind, OutputChange, Plan, PlanMode, PlanSource};
