//! The standing reliability suite: what an adversarial run broke (issue 13), one test per
//! case, each saying in its doc comment what happened before the fix and what happens now.
//!
//! It runs the real `mcpoc` binary (and the real language server over stdio) wherever the
//! case was found through it, drives the MCP client against the hostile server fixture
//! (`tests/reliability/hostile_mcp.py`), and ends with a short, deterministic mutation
//! pass over the examples and corpora through parse, fmt and check, and a scan for a
//! sensitive value in everything mcpo prints and writes
//! (`MCPO_FUZZ_SEED` and `MCPO_FUZZ_CASES` override its seed and size). `cargo test -p
//! mcpoc --test reliability` runs it alone; CI runs it with the rest.

#[path = "../deploy_support/mod.rs"]
mod deploy_support;
#[path = "../lsp_support/mod.rs"]
mod lsp_support;
#[path = "../twins_support/mod.rs"]
mod twins_support;

mod depth;
mod fmt;
mod hostile;
mod lsp_framing;
mod memory;
mod mutation;
mod secrets;
mod state_files;
mod support;
