//! Tool calls and resource operations as every part of the executor makes them: a call
//! with retries of transient failures, and an operation on a resource through its type's
//! driver (`mcpo_plan::driver`), which says which tool to call and what the answer means.

use crate::events::{EventKind, Events};
use crate::retry::{not_found, retryable, said_transient, salt};
use crate::{Connections, ExecError, RetryPolicy};
use mcpo_diagnostics::codes;
use mcpo_mcp::{CallOptions, ErrorKind, McpError};
use mcpo_plan::driver::{Call, Driver, Drivers, Op, Reading, ResultError, Target};
use serde_json::Value;
use std::sync::Arc;

/// A failed call or operation: the error, and what is known of its effect.
pub(crate) struct CallError {
    pub(crate) error: ExecError,
    /// The call certainly did nothing (the tool ran and said it failed, the server refused
    /// the request, or nothing was called).
    pub(crate) certain: bool,
    /// The server said the resource does not exist.
    pub(crate) gone: bool,
    /// The message of the tool's own error (`isError`), when that is how the call failed.
    pub(crate) tool_message: Option<String>,
}

impl CallError {
    /// A failure before anything was called.
    fn before_calling(error: ExecError) -> CallError {
        CallError {
            error,
            certain: true,
            gone: false,
            tool_message: None,
        }
    }
}

/// Whether a failed call certainly did nothing (the tool ran and said it failed, or the
/// server refused the request).
fn certainly_failed(e: &McpError) -> bool {
    matches!(
        e.kind,
        ErrorKind::ToolFailed { .. } | ErrorKind::Rejected { .. }
    )
}

/// A tool's result as a value: its structured content, else its text parsed as JSON when
/// it is JSON, else the text itself (LANGUAGE.md, section 4).
pub(crate) fn result_value(out: mcpo_mcp::ToolOutput) -> Value {
    match out.structured {
        Some(v) => v,
        None => {
            let text = out.text();
            serde_json::from_str::<Value>(text.trim()).unwrap_or(Value::String(text))
        }
    }
}

/// The error of a call to a tool the server does not have: a configuration error (the
/// server is not the one the workspace was checked against), never "already gone".
pub(crate) fn no_such_tool(server: &str, tool: &str) -> ExecError {
    ExecError::new(
        codes::E0616,
        format!("server `{server}` has no tool `{tool}`; nothing was called"),
    )
    .with_help(format!(
        "the server is not the one the workspace was checked against: run `mcpoc schema pull --server {server}` and `mcpoc check`"
    ))
}

/// Calls `tool` of `server` for the step at `address`, retrying transient failures. A tool
/// the connected server does not list is refused before calling ([`no_such_tool`]).
pub(crate) async fn call_tool(
    conns: &Connections,
    policy: RetryPolicy,
    events: &Events,
    address: &str,
    server: &str,
    tool: &str,
    args: &Value,
) -> Result<Value, CallError> {
    let conn = conns
        .get(server)
        .map_err(|e| CallError::before_calling(e.at(address)))?;
    if conns.lacks(server, tool) {
        return Err(CallError::before_calling(
            no_such_tool(server, tool).at(address),
        ));
    }
    let idempotent = conns.idempotent(server, tool);
    let mut attempt = 1u32;
    loop {
        match conn
            .call_tool(tool, args.clone(), CallOptions::default())
            .await
        {
            Ok(out) => return Ok(result_value(out)),
            Err(e) => {
                if attempt < policy.max_attempts && retryable(&e, idempotent) {
                    events.send(
                        address,
                        EventKind::Retrying {
                            attempt,
                            error: e.to_string(),
                        },
                    );
                    tokio::time::sleep(policy.pause(attempt, salt(address))).await;
                    attempt += 1;
                    continue;
                }
                let certain = certainly_failed(&e);
                let tool_message = match &e.kind {
                    ErrorKind::ToolFailed { message } => Some(message.clone()),
                    _ => None,
                };
                let error = if attempt > 1 && (said_transient(&e) || e.is_transient()) {
                    ExecError::new(codes::E0613, format!("{e} (failed {attempt} times)"))
                } else {
                    ExecError::from_mcp(&e)
                };
                return Err(CallError {
                    error: error.at(address),
                    certain,
                    gone: not_found(&e),
                    tool_message,
                });
            }
        }
    }
}

/// The resource at `address` of `server`'s type `type_name`, and how to reach it.
pub(crate) struct Resource<'a> {
    pub(crate) address: &'a str,
    pub(crate) server: &'a str,
    pub(crate) type_name: &'a str,
}

/// What a resource operation needs of the run.
#[derive(Clone, Copy)]
pub(crate) struct Runner<'a> {
    pub(crate) conns: &'a Connections,
    pub(crate) drivers: &'a Drivers,
    pub(crate) retry: RetryPolicy,
    pub(crate) events: &'a Events,
}

impl Runner<'_> {
    /// The driver of the resource's type, and the call it makes for `op`.
    pub(crate) fn prepare(
        &self,
        r: &Resource<'_>,
        op: Op,
        target: &Target<'_>,
    ) -> Result<(Arc<dyn Driver>, Call), CallError> {
        let driver = self.drivers.get(r.server, r.type_name);
        match driver.call(op, target) {
            Ok(Some(call)) => Ok((driver, call)),
            Err(why) => Err(CallError::before_calling(
                ExecError::new(
                    codes::E0607,
                    format!("the {op} call cannot be computed: {why}; nothing was called"),
                )
                .at(r.address),
            )),
            Ok(None) => Err(CallError::before_calling(
                ExecError::new(
                    codes::E0616,
                    format!(
                        "`{}.{}` has no `{op}` operation on server `{}`; nothing was called",
                        r.server, r.type_name, r.server
                    ),
                )
                .at(r.address)
                .with_help(
                    "the server's tools do not cover this operation for the type: check the server and its pulled schema (`mcpoc schema pull`)",
                ),
            )),
        }
    }

    /// Makes `call` (prepared for `op` by `driver`) and reads its result.
    pub(crate) async fn finish(
        &self,
        r: &Resource<'_>,
        driver: &dyn Driver,
        op: Op,
        target: &Target<'_>,
        call: &Call,
    ) -> Result<Reading, CallError> {
        let out = call_tool(
            self.conns,
            self.retry,
            self.events,
            r.address,
            &call.server,
            &call.tool,
            &call.args,
        )
        .await
        .map_err(|mut e| {
            // The type may say how its server's errors tell that the resource is gone.
            if let Some(gone) = e
                .tool_message
                .as_deref()
                .and_then(|m| driver.gone_on_error(op, target, m))
            {
                e.gone = gone;
            }
            e
        })?;
        driver.read_result(op, target, out).map_err(|e| match e {
            ResultError::Failed(m) => CallError {
                error: ExecError::new(
                    codes::E0600,
                    format!(
                        "server `{}`, tool `{}`: the result says the call failed: {m}",
                        call.server, call.tool
                    ),
                )
                .at(r.address),
                certain: true,
                gone: false,
                tool_message: None,
            },
            ResultError::Unusable(m) => CallError {
                error: ExecError::new(codes::E0604, m).at(r.address),
                certain: false,
                gone: false,
                tool_message: None,
            },
        })
    }

    /// Performs `op` on the resource: prepares the call, makes it, reads its result.
    pub(crate) async fn perform(
        &self,
        r: &Resource<'_>,
        op: Op,
        target: &Target<'_>,
    ) -> Result<Reading, CallError> {
        let (driver, call) = self.prepare(r, op, target)?;
        self.finish(r, driver.as_ref(), op, target, &call).await
    }
}
