//! Shared helpers for the twin tests: start `mcpoc twin ...` over stdio or streamable HTTP,
//! talk to it with rmcp's client, and check every result against the tool's outputSchema.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ReadResourceRequestParams, ResourceContents,
    ResourceUpdatedNotificationParam, Tool,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// Path of the binary under test.
pub const MCPOC: &str = env!("CARGO_BIN_EXE_mcpoc");

/// How long any single step may take before the test fails instead of hanging.
pub const STEP: Duration = Duration::from_secs(20);

/// Which transport a test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The twin is a child process speaking MCP on stdin/stdout.
    Stdio,
    /// The twin serves streamable HTTP on a free local port.
    Http,
}

/// A client handler that forwards `notifications/resources/updated` URIs (and
/// [`LIST_CHANGED`] for `notifications/resources/list_changed`) to a channel.
#[derive(Clone)]
pub struct Updates {
    tx: mpsc::UnboundedSender<String>,
}

impl ClientHandler for Updates {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.tx.send(params.uri);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.tx.send(LIST_CHANGED.to_string());
    }
}

/// What [`Updates`] records for `notifications/resources/list_changed`.
pub const LIST_CHANGED: &str = "(resources/list_changed)";

/// A connected twin.
pub struct Twin {
    /// The rmcp client session.
    pub client: RunningService<RoleClient, Updates>,
    /// URIs of resources the server reported as updated.
    pub updates: mpsc::UnboundedReceiver<String>,
    /// The HTTP server process (stdio children belong to the transport).
    server: Option<tokio::process::Child>,
    tools: BTreeMap<String, Tool>,
}

/// Starts `mcpoc twin <kind> <args...>` and connects to it.
pub async fn start(kind: &str, transport: Transport, args: &[&str]) -> Twin {
    let (tx, updates) = mpsc::unbounded_channel();
    let handler = Updates { tx };
    let (client, server) = match transport {
        Transport::Stdio => {
            let cmd = tokio::process::Command::new(MCPOC).configure(|c| {
                c.arg("twin").arg(kind).args(args);
            });
            let child = TokioChildProcess::new(cmd).expect("spawn the twin");
            let client = tokio::time::timeout(STEP, handler.serve(child))
                .await
                .expect("the twin answered initialize in time")
                .expect("the MCP session started");
            (client, None)
        }
        Transport::Http => {
            let (server, url) = spawn_http(kind, args).await;
            let transport = StreamableHttpClientTransport::from_uri(url);
            let client = tokio::time::timeout(STEP, handler.serve(transport))
                .await
                .expect("the twin answered initialize in time")
                .expect("the MCP session started");
            (client, Some(server))
        }
    };
    finish(client, updates, server).await
}

/// Connects one more client session to an HTTP twin that is already running.
pub async fn connect_http(url: &str) -> Twin {
    let (tx, updates) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_uri(url.to_string());
    let client = tokio::time::timeout(STEP, Updates { tx }.serve(transport))
        .await
        .expect("the twin answered initialize in time")
        .expect("the MCP session started");
    finish(client, updates, None).await
}

async fn finish(
    client: RunningService<RoleClient, Updates>,
    updates: mpsc::UnboundedReceiver<String>,
    server: Option<tokio::process::Child>,
) -> Twin {
    let tools = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| (t.name.to_string(), t))
        .collect();
    Twin {
        client,
        updates,
        server,
        tools,
    }
}

/// Starts an HTTP twin on a free port and returns the process and its MCP URL, read from
/// the line it prints on stderr.
pub async fn spawn_http(kind: &str, args: &[&str]) -> (tokio::process::Child, String) {
    spawn_http_env(kind, args, &[]).await
}

/// [`spawn_http`] with `env` added to the twin's environment (its fault switches).
pub async fn spawn_http_env(
    kind: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(MCPOC)
        .arg("twin")
        .arg(kind)
        .args(args)
        .args(["--http", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the HTTP twin");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = tokio::time::timeout(STEP, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(pos) = line.find("http://") {
                return line[pos..].trim().to_string();
            }
        }
        panic!("the HTTP twin exited before printing its address");
    })
    .await
    .expect("the HTTP twin printed its address in time");
    // Keep draining stderr so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

impl Twin {
    /// The tool list, by name.
    pub fn tools(&self) -> &BTreeMap<String, Tool> {
        &self.tools
    }

    /// Calls a tool and returns the raw result.
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        let Value::Object(args) = args else {
            panic!("tool arguments must be an object")
        };
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args);
        tokio::time::timeout(STEP, self.client.call_tool(params))
            .await
            .unwrap_or_else(|_| panic!("{tool} answered in time"))
            .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
    }

    /// Calls a tool that must succeed; checks the result against its outputSchema and
    /// returns the structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let result = self.call(tool, args.clone()).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{tool}({args}) failed: {}",
            text_of(&result)
        );
        let value = result
            .structured_content
            .clone()
            .unwrap_or_else(|| panic!("{tool} returned no structuredContent"));
        let schema = self
            .tools
            .get(tool)
            .and_then(|t| t.output_schema.clone())
            .unwrap_or_else(|| panic!("{tool} has no outputSchema"));
        let validator = jsonschema::validator_for(&Value::Object((*schema).clone()))
            .unwrap_or_else(|e| panic!("{tool}'s outputSchema is not a valid schema: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{tool} result violates its outputSchema: {errors:?}\n{value:#}"
        );
        let text: Value = serde_json::from_str(&text_of(&result)).expect("the text block is JSON");
        assert_eq!(
            text, value,
            "{tool}: the text block and structuredContent differ"
        );
        value
    }

    /// Calls a tool that must fail with `isError: true`; returns the message.
    pub async fn err(&self, tool: &str, args: Value) -> String {
        let result = self.call(tool, args.clone()).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{tool}({args}) should have failed, got {:?}",
            result.structured_content
        );
        text_of(&result)
    }

    /// Reads `mcpo://<ty>/<id>` as JSON.
    pub async fn read_resource(&self, uri: &str) -> Value {
        let result = tokio::time::timeout(
            STEP,
            self.client
                .read_resource(ReadResourceRequestParams::new(uri.to_string())),
        )
        .await
        .expect("resources/read answered in time")
        .unwrap_or_else(|e| panic!("resources/read {uri}: {e}"));
        match result.contents.first() {
            Some(ResourceContents::TextResourceContents { text, .. }) => {
                serde_json::from_str(text).expect("resource text is JSON")
            }
            other => panic!("unexpected resource contents {other:?}"),
        }
    }

    /// Subscribes to `uri` with the legacy `resources/subscribe`.
    pub async fn subscribe(&self, uri: &str) {
        #[allow(
            deprecated,
            reason = "sessions negotiated with initialize subscribe this way"
        )]
        let request = self
            .client
            .subscribe(rmcp::model::SubscribeRequestParams::new(uri.to_string()));
        tokio::time::timeout(STEP, request)
            .await
            .expect("resources/subscribe answered in time")
            .unwrap_or_else(|e| panic!("resources/subscribe {uri}: {e}"));
    }

    /// Waits for an update notification about `uri` (or [`LIST_CHANGED`]).
    pub async fn next_update(&mut self, uri: &str) {
        let found = tokio::time::timeout(STEP, async {
            while let Some(got) = self.updates.recv().await {
                if got == uri {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(
            found,
            Ok(true),
            "no notifications/resources/updated for {uri}"
        );
    }

    /// Disconnects and stops the server.
    pub async fn stop(mut self) {
        let _ = self.client.cancel().await;
        if let Some(mut server) = self.server.take() {
            let _ = server.kill().await;
        }
    }
}

/// The text of a tool result's first content block.
pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

/// Runs create, read, update (with `patch` merged into the create arguments), list and
/// returns the created state. Checks that update exists exactly when `patch` is given.
pub async fn crud(t: &Twin, ty: &str, args: Value, patch: Option<Value>) -> Value {
    let created = t.ok(&format!("{ty}.create"), args.clone()).await;
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{ty}.create returned no id"))
        .to_string();
    let read = t.ok(&format!("{ty}.read"), json!({ "id": id })).await;
    assert_eq!(read["id"], json!(id));
    assert_eq!(
        t.tools().contains_key(&format!("{ty}.update")),
        patch.is_some(),
        "{ty}.update should exist exactly when the type updates in place"
    );
    if let Some(patch) = patch {
        let mut full = args.clone();
        if let (Some(full), Some(patch)) = (full.as_object_mut(), patch.as_object()) {
            for (k, v) in patch {
                full.insert(k.clone(), v.clone());
            }
            full.insert("id".into(), json!(id));
        }
        let updated = t.ok(&format!("{ty}.update"), full).await;
        for (k, v) in patch.as_object().into_iter().flatten() {
            if let Some(got) = updated.get(k) {
                assert_eq!(got, v, "{ty}.update did not apply {k}");
            }
        }
        let reread = t.ok(&format!("{ty}.read"), json!({ "id": id })).await;
        assert_eq!(reread["id"], json!(id));
    }
    let list = t.ok(&format!("{ty}.list"), json!({})).await;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items.iter().any(|i| i["id"] == json!(id)),
        "{ty}.list misses {id}"
    );
    created
}

/// Deletes a resource and checks it is gone.
pub async fn delete(t: &Twin, ty: &str, id: &Value) {
    let done = t.ok(&format!("{ty}.delete"), json!({ "id": id })).await;
    assert_eq!(done["deleted"], json!(true));
    let gone = t.err(&format!("{ty}.read"), json!({ "id": id })).await;
    assert!(gone.contains("does not exist"), "{gone}");
}

/// A fresh temporary state directory.
pub fn state_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// `--state-dir DIR` as owned strings.
pub fn dir_arg(dir: &Path) -> String {
    dir.display().to_string()
}
