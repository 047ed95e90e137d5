//! One connection per server per run: every needed server connected at once, its tool list
//! (for idempotency annotations and update schemas) and resource templates (for
//! subscriptions) loaded, failures kept per server so that only the steps on a failed
//! server fail.

use crate::ExecError;
use mcpo_diagnostics::codes;
use mcpo_mcp::{CallOptions, ConnectOptions, Connection, ServerSpec};
use mcpo_schema::ToolSchema;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The connected servers of one run.
#[derive(Debug, Default)]
pub struct Connections {
    conns: BTreeMap<String, Connection>,
    failed: BTreeMap<String, ExecError>,
    tools: BTreeMap<String, BTreeMap<String, ToolSchema>>,
    templates: BTreeMap<String, Vec<String>>,
}

impl Connections {
    /// Connects to each server in `needed` (concurrently), using its spec from `specs`.
    /// Never fails as a whole: a server that cannot be connected (or is not declared) is
    /// remembered with its error, and every step on it fails with that error.
    pub async fn connect<'a>(
        specs: &BTreeMap<String, ServerSpec>,
        needed: impl IntoIterator<Item = &'a str>,
        options: &ConnectOptions,
    ) -> Connections {
        let names: BTreeSet<&str> = needed.into_iter().collect();
        let attempts = names.into_iter().map(|name| async move {
            let Some(spec) = specs.get(name) else {
                return (
                    name.to_string(),
                    Err(ExecError::new(
                        codes::E0601,
                        format!("server `{name}` is not declared"),
                    )
                    .with_help(
                        "declare it with a `server` block or in mcpo.toml; `mcpoc servers` lists the known ones",
                    )),
                );
            };
            match Connection::connect(spec, options).await {
                Ok(conn) => {
                    let (tools, templates) =
                        futures::join!(conn.list_tools(), conn.list_resource_templates());
                    let tools = tools
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| (t.name.clone(), t))
                        .collect();
                    let templates = templates
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| t.uri_template)
                        .collect();
                    (name.to_string(), Ok((conn, tools, templates)))
                }
                Err(e) => (name.to_string(), Err(ExecError::from_mcp(&e))),
            }
        });
        let mut out = Connections::default();
        for (name, result) in futures::future::join_all(attempts).await {
            match result {
                Ok((conn, tools, templates)) => {
                    out.conns.insert(name.clone(), conn);
                    out.tools.insert(name.clone(), tools);
                    out.templates.insert(name, templates);
                }
                Err(e) => {
                    out.failed.insert(name, e);
                }
            }
        }
        out
    }

    /// The connection to `server`, or why there is none.
    pub fn get(&self, server: &str) -> Result<&Connection, ExecError> {
        if let Some(c) = self.conns.get(server) {
            return Ok(c);
        }
        Err(self.failed.get(server).cloned().unwrap_or_else(|| {
            ExecError::new(
                codes::E0601,
                format!("server `{server}` was not connected for this run"),
            )
        }))
    }

    /// The servers that could not be connected, with why.
    pub fn failures(&self) -> &BTreeMap<String, ExecError> {
        &self.failed
    }

    /// The tool `tool` of `server`, as listed when connecting.
    pub fn tool(&self, server: &str, tool: &str) -> Option<&ToolSchema> {
        self.tools.get(server)?.get(tool)
    }

    /// Whether the connected `server` lists tools and `tool` is not among them: calling it
    /// would be a configuration error, never a sign that a resource is gone.
    pub fn lacks(&self, server: &str, tool: &str) -> bool {
        self.tools
            .get(server)
            .is_some_and(|tools| !tools.is_empty() && !tools.contains_key(tool))
    }

    /// The convention's drivers over the tools the connected servers listed (for runs that
    /// have no pulled schemas, such as programs built in code).
    pub fn drivers(&self) -> mcpo_plan::Drivers {
        mcpo_plan::Drivers::new(
            self.tools
                .iter()
                .map(|(server, tools)| {
                    (
                        server.clone(),
                        mcpo_plan::driver::tool_inputs_of_schemas(tools.values()),
                    )
                })
                .collect(),
        )
    }

    /// Whether `tool` may be called twice with the same effect as once: its server marks it
    /// `idempotentHint` or `readOnlyHint`.
    pub fn idempotent(&self, server: &str, tool: &str) -> bool {
        let Some(a) = self.tool(server, tool).and_then(|t| t.annotations.as_ref()) else {
            return false;
        };
        let flag = |k: &str| a.get(k).and_then(Value::as_bool) == Some(true);
        flag("idempotentHint") || flag("readOnlyHint")
    }

    /// The top-level properties `tool` takes, if its input schema lists them.
    pub fn input_properties(&self, server: &str, tool: &str) -> Option<Vec<String>> {
        let props = self
            .tool(server, tool)?
            .input_schema
            .get("properties")?
            .as_object()?;
        Some(props.keys().cloned().collect())
    }

    /// Whether `server` publishes resources of `type_name` as `mcpo://<type>/<id>` that can
    /// be subscribed to.
    pub fn subscribable(&self, server: &str, type_name: &str) -> bool {
        let prefix = format!("mcpo://{type_name}/");
        self.templates
            .get(server)
            .is_some_and(|ts| ts.iter().any(|t| t.starts_with(&prefix)))
    }

    /// Calls `tool` from synchronous code running inside `tokio::task::spawn_blocking`
    /// (planning reads data blocks this way); returns the structured result, or the text
    /// of the result as a JSON string when there is none.
    pub fn call_blocking(&self, server: &str, tool: &str, args: Value) -> Result<Value, String> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| "no async runtime to call the server from".to_string())?;
        let conn = self.get(server).map_err(|e| e.message)?;
        let out = handle
            .block_on(conn.call_tool(tool, args, CallOptions::default()))
            .map_err(|e| e.to_string())?;
        let text = out.text();
        Ok(out.structured.unwrap_or(Value::String(text)))
    }

    /// Closes every connection and stops the server processes.
    pub async fn shutdown(self) {
        futures::future::join_all(self.conns.into_values().map(Connection::shutdown)).await;
    }
}
