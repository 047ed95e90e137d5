//! Helpers of the executor's tests: twins started through the `mcpoc` binary (real MCP
//! servers over stdio), a durable file store, and event collection.

#![allow(dead_code)]

use mcpo_exec::{Connections, Event, EventKind, StateStore};
use mcpo_mcp::{ConnectOptions, ServerSpec};
use mcpo_state::State;
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

/// A state file written atomically and fsynced, like the local backend.
pub struct FileStore {
    pub path: PathBuf,
}

impl FileStore {
    pub fn new(dir: &Path) -> FileStore {
        FileStore {
            path: dir.join("state.json"),
        }
    }

    pub fn read(&self) -> State {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_else(|_| State::new("test"))
    }
}

impl StateStore for FileStore {
    fn write(&self, state: &mut State) -> Result<(), String> {
        use std::io::Write;
        state.serial += 1;
        let tmp = self.path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
        f.write_all(&text).map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &self.path).map_err(|e| e.to_string())
    }
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
