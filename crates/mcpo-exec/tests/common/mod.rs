//! Helpers of the executor's tests: twins started through the `mcpoc` binary (real MCP
//! servers over stdio), a durable file store, and event collection.

#![allow(dead_code)]

use mcpo_exec::{Connections, Event, EventKind};
use mcpo_mcp::{ConnectOptions, ServerSpec};
use mcpo_state::{Backend, State};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The `mcpoc` binary built for this test run (it runs the twins).
pub fn mcpoc() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug/mcpoc")
}

/// A twin of `kind` named `name`, with extra flags.
pub fn twin(name: &str, kind: &str, flags: &[&str]) -> ServerSpec {
    let mut args = vec!["twin", kind];
    args.extend_from_slice(flags);
    ServerSpec::stdio(name, mcpoc().display().to_string(), &args)
}

/// Connects every spec.
pub async fn connect(specs: Vec<ServerSpec>) -> Connections {
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let map: BTreeMap<String, ServerSpec> =
        specs.into_iter().map(|s| (s.name.clone(), s)).collect();
    let opts = ConnectOptions {
        lifecycle: mcpo_mcp::Lifecycle::Initialize,
        ..ConnectOptions::default()
    };
    let conns = Connections::connect(&map, names.iter().map(String::as_str), &opts).await;
    assert!(conns.failures().is_empty(), "{:?}", conns.failures());
    conns
}

/// What the local state backend in `root` holds now (a fresh backend, as the next run
/// would read it).
pub fn read_state(root: &Path) -> State {
    mcpo_state::LocalBackend::new(root)
        .read()
        .expect("the state file reads")
}

/// Every event sent so far.
pub fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

/// When the event matching `pred` for `address` happened.
pub fn when(events: &[Event], address: &str, pred: impl Fn(&EventKind) -> bool) -> Option<Instant> {
    events
        .iter()
        .find(|e| e.address == address && pred(&e.kind))
        .map(|e| e.at)
}

pub fn started(k: &EventKind) -> bool {
    matches!(k, EventKind::Started { .. })
}

pub fn done(k: &EventKind) -> bool {
    matches!(k, EventKind::Done { .. })
}
