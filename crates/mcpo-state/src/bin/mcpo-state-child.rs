//! A helper process for mcpo-state's tests: it must be a separate process so that the tests
//! can SIGKILL it in the middle of a write, or while it holds the lock.
//!
//! ```text
//! mcpo-state-child write-loop ROOT N     write a state of N resources again and again
//! mcpo-state-child hold-lock ROOT CMD MS take the lock as CMD, print "locked", hold it MS ms
//! ```
//!
//! Every state `write-loop` writes is self-consistent: each resource's `inputs.gen` equals
//! the output `gen`, so a reader can tell a complete state from a mix of two.

use mcpo_state::{Backend, LocalBackend, LockInfo, OutputState, ResourceState};
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["write-loop", root, n] => write_loop(root, n.parse().unwrap_or(100)),
        ["hold-lock", root, command, ms] => hold_lock(root, command, ms.parse().unwrap_or(0)),
        _ => Err("usage: mcpo-state-child write-loop ROOT N | hold-lock ROOT CMD MS".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcpo-state-child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_loop(root: &str, n: usize) -> Result<(), String> {
    let backend = LocalBackend::new(root);
    let mut state = backend.read().map_err(|e| e.render())?;
    let mut generation = state
        .outputs
        .get("gen")
        .and_then(|o| o.value.as_u64())
        .unwrap_or(0);
    loop {
        generation += 1;
        state.outputs.insert(
            "gen".into(),
            OutputState {
                value: json!(generation),
                sensitive: false,
            },
        );
        for k in 0..n {
            state.resources.insert(
                format!("twin.thing.r[{k}]"),
                ResourceState {
                    server: "twin".into(),
                    type_name: "thing".into(),
                    id: format!("thing-{k}"),
                    inputs: json!({ "gen": generation, "k": k, "name": format!("resource number {k}") }),
                    outputs: json!({ "id": format!("thing-{k}"), "gen": generation }),
                    sensitive: Vec::new(),
                    deps: Vec::new(),
                    tainted: false,
                },
            );
        }
        backend.write(&mut state).map_err(|e| e.render())?;
    }
}

fn hold_lock(root: &str, command: &str, ms: u64) -> Result<(), String> {
    let backend = LocalBackend::new(root);
    let guard = backend
        .lock(LockInfo::current(command))
        .map_err(|e| e.render())?;
    let mut out = std::io::stdout();
    writeln!(out, "locked").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(ms));
    drop(guard);
    Ok(())
}
