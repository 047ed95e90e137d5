//! The executor: refresh, apply, destroy and import over MCP tool calls.
//!
//! Every node of a plan starts the moment all its dependencies are done (waves are only
//! for display), bounded by a global parallelism and each server's concurrency limit;
//! values from finished nodes flow into the arguments of the next; state is written after
//! every step, with intents recorded before `create`/`delete` are sent.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]
