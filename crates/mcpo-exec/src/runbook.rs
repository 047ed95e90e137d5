//! What runbooks (`mcpoc run`) need of the executor: one step's tool call (bounded by its
//! timeout, failures reported in the body judged by the server's `failed_when`), whether a
//! tool may be called in a dry run, and the DAG scheduler the steps run on.

use crate::events::Events;
use crate::ops::{no_such_tool, result_value};
use crate::retry::retryable;
use crate::schedule::{self, Schedule};
use crate::{Connections, ExecError, RetryPolicy};
use mcpo_diagnostics::codes;
use mcpo_mcp::CallOptions;
use mcpo_plan::Drivers;
use serde_json::Value;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use crate::schedule::{Outcome, edges};

/// Calls `tool` of `server` once for a runbook step (transient failures the server
/// reports are retried as everywhere; the step's own `retries` are its caller's): the
/// result, or why it failed. A tool the server does not list is refused before calling;
/// a result its server's `failed_when` judges failed is an error (E0600).
pub async fn call_step(
    conns: &Connections,
    drivers: &Drivers,
    server: &str,
    tool: &str,
    args: &Value,
    timeout: Option<Duration>,
) -> Result<Value, ExecError> {
    let conn = conns.get(server)?;
    if conns.lacks(server, tool) {
        return Err(no_such_tool(server, tool));
    }
    let idempotent = conns.idempotent(server, tool);
    let policy = RetryPolicy::default();
    let mut attempt = 1u32;
    let options = || CallOptions {
        timeout,
        ..CallOptions::default()
    };
    loop {
        match conn.call_tool(tool, args.clone(), options()).await {
            Ok(out) => {
                let value = result_value(out);
                return match drivers.server_failed(server, &value) {
                    Ok(None) => Ok(value),
                    Ok(Some(why)) => Err(ExecError::new(
                        codes::E0600,
                        format!("server `{server}`, tool `{tool}`: {why}"),
                    )),
                    Err(e) => Err(ExecError::new(codes::E0604, e)),
                };
            }
            Err(e) if attempt < policy.max_attempts && retryable(&e, idempotent) => {
                tokio::time::sleep(policy.pause(attempt, attempt as u64)).await;
                attempt += 1;
            }
            Err(e) => return Err(ExecError::from_mcp(&e)),
        }
    }
}

/// Whether `tool` of `server` only reads: its server marks it `readOnlyHint`, or the
/// workspace declares it in the server block's `read_only_tools` (`declared`).
pub fn read_only(
    conns: &Connections,
    declared: Option<&std::collections::BTreeSet<String>>,
    server: &str,
    tool: &str,
) -> bool {
    if declared.is_some_and(|d| d.contains(tool)) {
        return true;
    }
    conns
        .tool(server, tool)
        .and_then(|t| t.annotations.as_ref())
        .and_then(|a| a.get("readOnlyHint"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// Whether calling `tool` twice has the effect of calling it once (its annotations say
/// `idempotentHint` or `readOnlyHint`).
pub fn idempotent(conns: &Connections, server: &str, tool: &str) -> bool {
    conns.idempotent(server, tool)
}

/// Runs `node(i)` for every node of the DAG `deps` (indices that must be done first) on
/// the executor's scheduler: a node starts the moment its dependencies are done, at most
/// `parallelism` at once; a failed node's dependents are skipped; after `cancel` no node
/// starts. Returns each node's outcome.
pub async fn run_dag<F, Fut>(
    names: &[String],
    deps: &[Vec<usize>],
    parallelism: usize,
    cancel: &CancellationToken,
    node: F,
) -> Vec<Outcome>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), ExecError>>,
{
    schedule::run(
        names,
        deps,
        parallelism.max(1),
        Schedule::Eager,
        &Events(None),
        cancel,
        node,
    )
    .await
}
