//! One connection to one MCP server, over rmcp. No rmcp type leaves this module.
//!
//! A [`Connection`] is shared by reference: many calls run on it concurrently, at most
//! `max_concurrency` at a time (a semaphore). Each call has a timeout; dropping a call's
//! future cancels it (a `notifications/cancelled` is sent). Progress notifications of a
//! call go to the channel given in [`CallOptions::progress`]; resource updates go to the
//! receiver returned by [`Connection::subscribe`].

use crate::child::ServerProcess;
use crate::error::{ErrorKind, McpError};
use crate::spec::{
    DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_MESSAGE_BYTES, ServerSpec, Transport,
};
use mcpo_schema::{ResourceTemplate, ServerInfo, ToolSchema};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotification, CancelledNotificationParam,
    ClientCapabilities, ClientConfig, ClientNotification, ClientRequest, ElicitRequestParams,
    ElicitResult, ElicitationAction, ElicitationCapability, Implementation,
    ProgressNotificationParam, ProgressToken, ProtocolVersion, RequestId,
    ResourceUpdatedNotificationParam, ServerNotification, ServerResult, SubscribeRequestParams,
    SubscriptionFilter,
};
use rmcp::service::{
    NotificationContext, PeerRequestOptions, RequestContext, RoleClient, RunningService,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, Peer, ServiceError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};

/// Which protocol generation to start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifecycle {
    /// Offer the stateless 2026-07-28 revision (`server/discover`) and fall back to the
    /// `initialize` handshake when the server does not speak it. A server that neither
    /// answers nor rejects the probe within [`ConnectOptions::discover_timeout`] is
    /// restarted (stdio) or reconnected (HTTP) with `initialize`.
    #[default]
    Auto,
    /// Only the `initialize` handshake (protocol 2025-11-25 and earlier).
    Initialize,
    /// Only the stateless revision.
    Stateless,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Protocol generation.
    pub lifecycle: Lifecycle,
    /// How long the whole handshake may take.
    pub handshake_timeout: Duration,
    /// In [`Lifecycle::Auto`], how long to wait for an answer to the discover probe
    /// before giving up on it and starting over with `initialize`.
    pub discover_timeout: Duration,
    /// Answer for elicitation requests (servers asking the user for input).
    pub elicitation: ElicitationPolicy,
    /// The largest message accepted from a server, in bytes, unless its
    /// [`ServerSpec::max_message_bytes`] says otherwise. A bigger answer fails its call
    /// at once ([`ErrorKind::BadAnswer`]) without being held in memory.
    pub max_message_bytes: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            lifecycle: Lifecycle::Auto,
            handshake_timeout: Duration::from_secs(30),
            discover_timeout: Duration::from_secs(5),
            elicitation: ElicitationPolicy::Decline,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// What mcpo answers when a server asks for user input. Non-interactive runs decline;
/// the conformance driver accepts the schema's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ElicitationPolicy {
    /// Decline every request.
    #[default]
    Decline,
    /// Accept, answering each requested field with its schema default.
    AcceptDefaults,
}

/// Per-call options.
#[derive(Debug, Default)]
pub struct CallOptions {
    /// Overrides the server's timeout for this call.
    pub timeout: Option<Duration>,
    /// Where progress notifications of this call go.
    pub progress: Option<mpsc::UnboundedSender<Progress>>,
    /// Skip checking `structuredContent` against the tool's `outputSchema`.
    pub skip_output_validation: bool,
}

/// A progress notification of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Progress so far.
    pub progress: f64,
    /// Total, when known.
    pub total: Option<f64>,
    /// A message, when given.
    pub message: Option<String>,
}

/// The successful result of a tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// `structuredContent`, when the tool returned one.
    pub structured: Option<Value>,
    /// The content blocks, as JSON.
    pub content: Vec<Value>,
}

impl ToolOutput {
    /// The text blocks joined by newlines.
    pub fn text(&self) -> String {
        content_text(&self.content)
    }
}

fn content_text(content: &[Value]) -> String {
    content
        .iter()
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Updates of subscribed resources: each item is the URI of a resource that changed.
#[derive(Debug)]
pub struct ResourceUpdates {
    rx: mpsc::UnboundedReceiver<String>,
}

impl ResourceUpdates {
    /// The next updated URI; `None` when the connection closed.
    pub async fn next(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}

/// State shared between the connection and its notification handler.
#[derive(Default)]
struct Shared {
    progress: Mutex<HashMap<ProgressToken, mpsc::UnboundedSender<Progress>>>,
    /// Progress that arrived before its call registered (a fast server can notify
    /// before `send_request` returns); bounded.
    early_progress: Mutex<Vec<(ProgressToken, Progress)>>,
    resources: Mutex<HashMap<String, Vec<mpsc::UnboundedSender<String>>>>,
    elicitation: Mutex<ElicitationPolicy>,
}

const EARLY_PROGRESS_LIMIT: usize = 256;

impl Shared {
    fn register_progress(
        self: &Arc<Self>,
        token: ProgressToken,
        tx: mpsc::UnboundedSender<Progress>,
    ) -> ProgressRegistration {
        if let Ok(mut early) = self.early_progress.lock() {
            early.retain(|(t, p)| {
                if *t == token {
                    let _ = tx.send(p.clone());
                    false
                } else {
                    true
                }
            });
        }
        if let Ok(mut map) = self.progress.lock() {
            map.insert(token.clone(), tx);
        }
        ProgressRegistration {
            shared: Arc::clone(self),
            token,
        }
    }
}

struct ProgressRegistration {
    shared: Arc<Shared>,
    token: ProgressToken,
}

impl Drop for ProgressRegistration {
    fn drop(&mut self) {
        if let Ok(mut map) = self.shared.progress.lock() {
            map.remove(&self.token);
        }
    }
}

struct Handler {
    shared: Arc<Shared>,
}

fn client_config() -> ClientConfig {
    let mut caps = ClientCapabilities::default();
    caps.elicitation = Some(ElicitationCapability::new());
    ClientConfig::new(caps, Implementation::new("mcpo", env!("CARGO_PKG_VERSION")))
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
}

fn defaults_of(schema: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            if let Some(d) = v.get("default") {
                out.insert(k.clone(), d.clone());
            }
        }
    }
    Value::Object(out)
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        client_config()
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let p = Progress {
            progress: params.progress,
            total: params.total,
            message: params.message.clone(),
        };
        let sender = self
            .shared
            .progress
            .lock()
            .ok()
            .and_then(|m| m.get(&params.progress_token).cloned());
        match sender {
            Some(tx) => {
                let _ = tx.send(p);
            }
            None => {
                if let Ok(mut early) = self.shared.early_progress.lock() {
                    if early.len() >= EARLY_PROGRESS_LIMIT {
                        early.remove(0);
                    }
                    early.push((params.progress_token, p));
                }
            }
        }
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Ok(mut map) = self.shared.resources.lock()
            && let Some(senders) = map.get_mut(&params.uri)
        {
            senders.retain(|tx| tx.send(params.uri.clone()).is_ok());
        }
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let policy = self
            .shared
            .elicitation
            .lock()
            .map(|p| *p)
            .unwrap_or_default();
        match (policy, request) {
            (
                ElicitationPolicy::AcceptDefaults,
                ElicitRequestParams::FormElicitationParams {
                    requested_schema, ..
                },
            ) => {
                let schema = serde_json::to_value(&requested_schema).unwrap_or(Value::Null);
                Ok(ElicitResult::new(ElicitationAction::Accept).with_content(defaults_of(&schema)))
            }
            _ => Ok(ElicitResult::new(ElicitationAction::Decline)),
        }
    }
}

/// A tool as cached by the connection, with its compiled output validator.
struct ToolEntry {
    schema: ToolSchema,
    validator: OnceLock<Option<jsonschema::Validator>>,
}

/// A live connection to one server.
pub struct Connection {
    name: String,
    running: Option<RunningService<RoleClient, Handler>>,
    peer: Peer<RoleClient>,
    shared: Arc<Shared>,
    limiter: Arc<Semaphore>,
    process: Option<ServerProcess>,
    timeout: Duration,
    protocol_version: String,
    stateless: bool,
    server_info: Option<ServerInfo>,
    handshake_time: Duration,
    tools: tokio::sync::OnceCell<HashMap<String, Arc<ToolEntry>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.name)
            .field("protocol_version", &self.protocol_version)
            .finish_non_exhaustive()
    }
}

enum Attempt {
    Done(Box<Connection>),
    /// The discover probe got no answer; start over with `initialize`.
    DiscoverSilent,
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

const KNOWN_VERSIONS: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

impl Connection {
    /// Connects to `spec`: starts the process or opens the HTTP session and completes the
    /// handshake.
    pub async fn connect(spec: &ServerSpec, options: &ConnectOptions) -> Result<Self, McpError> {
        let started = Instant::now();
        let first = match options.lifecycle {
            Lifecycle::Auto => Some(options.discover_timeout),
            Lifecycle::Stateless => None,
            Lifecycle::Initialize => None,
        };
        let mode = match options.lifecycle {
            Lifecycle::Initialize => Mode::Initialize,
            Lifecycle::Stateless => Mode::Discover,
            Lifecycle::Auto => Mode::Auto,
        };
        let attempt = match Self::attempt(spec, options, mode, first).await {
            // Some servers answer the discover probe with something that is neither a
            // discover result nor an error (e.g. an empty result). They still speak
            // `initialize`: start over with it once.
            Err(McpError {
                kind: ErrorKind::Handshake { .. },
                ..
            }) if mode == Mode::Auto => Attempt::DiscoverSilent,
            other => other?,
        };
        let mut conn = match attempt {
            Attempt::Done(c) => *c,
            Attempt::DiscoverSilent => {
                match Self::attempt(spec, options, Mode::Initialize, None).await? {
                    Attempt::Done(c) => *c,
                    Attempt::DiscoverSilent => {
                        return Err(McpError::new(
                            &spec.name,
                            ErrorKind::Handshake {
                                reason: "no answer".into(),
                                stderr_tail: String::new(),
                            },
                        ));
                    }
                }
            }
        };
        conn.handshake_time = started.elapsed();
        Ok(conn)
    }

    async fn attempt(
        spec: &ServerSpec,
        options: &ConnectOptions,
        mode: Mode,
        discover_timeout: Option<Duration>,
    ) -> Result<Attempt, McpError> {
        let name = spec.name.clone();
        let err = |kind| McpError::new(&name, kind);
        let shared = Arc::new(Shared::default());
        if let Ok(mut p) = shared.elicitation.lock() {
            *p = options.elicitation;
        }
        let handler = Handler {
            shared: Arc::clone(&shared),
        };
        let lifecycle = match mode {
            Mode::Initialize => ClientLifecycleMode::Initialize,
            Mode::Discover => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
            Mode::Auto => ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: Some(ProtocolVersion::LATEST_WITH_INITIALIZE),
            },
        };
        // In auto mode the probe gets `discover_timeout`; a server that answers it (either
        // way) then has the rest of the handshake timeout.
        let limit = discover_timeout.unwrap_or(options.handshake_timeout);
        let max_message = spec
            .max_message_bytes
            .unwrap_or(options.max_message_bytes)
            .max(1);
        let (process, serve) = match &spec.transport {
            Transport::Stdio(stdio) => {
                let (process, stdout, stdin) = ServerProcess::spawn(stdio).map_err(&err)?;
                let wire = crate::wire::StdioWire::new(stdout, stdin, max_message);
                let fut = handler.serve_with_lifecycle(wire, lifecycle);
                (
                    Some(process),
                    Box::pin(timed(limit, options.handshake_timeout, fut)) as _,
                )
            }
            Transport::Http(http) => {
                let mut headers = HashMap::new();
                for (k, v) in &http.headers {
                    let name = http::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                        err(ErrorKind::Unreachable {
                            url: http.url.clone(),
                            reason: format!("`{k}` is not a valid header name"),
                        })
                    })?;
                    let value = http::HeaderValue::from_str(v).map_err(|_| {
                        err(ErrorKind::Unreachable {
                            url: http.url.clone(),
                            reason: format!("the value of header `{k}` is not valid"),
                        })
                    })?;
                    headers.insert(name, value);
                }
                let mut config = StreamableHttpClientTransportConfig::with_uri(http.url.as_str())
                    .custom_headers(headers);
                config.max_sse_event_size = max_message;
                config.max_json_response_size = max_message;
                let transport = StreamableHttpClientTransport::from_config(config);
                let fut = handler.serve_with_lifecycle(transport, lifecycle);
                let boxed: std::pin::Pin<Box<dyn Future<Output = _> + Send>> =
                    Box::pin(timed(limit, options.handshake_timeout, fut));
                (None, boxed)
            }
        };
        let outcome = serve.await;
        let running = match outcome {
            Timed::Done(Ok(r)) => r,
            Timed::Done(Err(e)) => {
                return Err(err(handshake_failure(
                    spec,
                    &process,
                    &e.to_string(),
                    Some(&e),
                )
                .await));
            }
            Timed::ProbeSilent if mode == Mode::Auto => {
                if let Some(mut p) = process {
                    p.stop(Duration::from_millis(0)).await;
                }
                return Ok(Attempt::DiscoverSilent);
            }
            Timed::ProbeSilent | Timed::Expired => {
                let reason = format!(
                    "no answer to the handshake within {}",
                    crate::error::show_duration(options.handshake_timeout.min(limit))
                );
                let kind = handshake_failure(spec, &process, &reason, None).await;
                return Err(err(kind));
            }
        };
        let peer = running.peer().clone();
        let info = running.peer_info();
        let (protocol_version, server_info) = match &info {
            Some(i) => (
                i.protocol_version.as_str().to_string(),
                i.server_info.as_ref().map(|s| ServerInfo {
                    name: s.name.clone(),
                    version: s.version.clone(),
                }),
            ),
            None => (String::new(), None),
        };
        if !protocol_version.is_empty() && !KNOWN_VERSIONS.contains(&protocol_version.as_str()) {
            let _ = running.cancel().await;
            return Err(err(ErrorKind::UnsupportedProtocol {
                offered: KNOWN_VERSIONS.iter().map(|v| v.to_string()).collect(),
                supported: vec![protocol_version],
            }));
        }
        let stateless = info
            .as_ref()
            .is_some_and(|i| !i.protocol_version.has_initialize());
        let limit = spec
            .max_concurrency
            .unwrap_or(DEFAULT_MAX_CONCURRENCY)
            .max(1);
        Ok(Attempt::Done(Box::new(Connection {
            name: spec.name.clone(),
            running: Some(running),
            peer,
            shared,
            limiter: Arc::new(Semaphore::new(limit)),
            process,
            timeout: spec.timeout.unwrap_or(DEFAULT_CALL_TIMEOUT),
            protocol_version,
            stateless,
            server_info,
            handshake_time: Duration::ZERO,
            tools: tokio::sync::OnceCell::new(),
        })))
    }

    /// The server's name in the workspace.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol version in use (e.g. `2025-06-18`).
    pub fn protocol_version(&self) -> &str {
        &self.protocol_version
    }

    /// Whether the connection uses the stateless 2026-07-28 lifecycle.
    pub fn is_stateless(&self) -> bool {
        self.stateless
    }

    /// The server's own name and version, if it reported them.
    pub fn server_info(&self) -> Option<&ServerInfo> {
        self.server_info.as_ref()
    }

    /// How long connecting took (process start + handshake).
    pub fn handshake_time(&self) -> Duration {
        self.handshake_time
    }

    /// The server process id (stdio servers).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(ServerProcess::pid)
    }

    fn error(&self, kind: ErrorKind) -> McpError {
        McpError::new(&self.name, kind)
    }

    async fn service_error(&self, e: ServiceError) -> ErrorKind {
        match e {
            ServiceError::McpError(data) if crate::wire::is_bad_message(&data) => {
                ErrorKind::BadAnswer {
                    reason: data.message.to_string(),
                }
            }
            ServiceError::McpError(data) => ErrorKind::Rejected {
                code: data.code.0,
                message: data.message.to_string(),
            },
            ServiceError::Timeout { timeout } => ErrorKind::Timeout { after: timeout },
            ServiceError::Cancelled { .. } => ErrorKind::Cancelled,
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
                let detail = if let ServiceError::TransportSend(t) = &e {
                    chain(t)
                } else {
                    String::new()
                };
                match &self.process {
                    Some(p) => {
                        let status = p
                            .exit_status(Duration::from_millis(500))
                            .await
                            .unwrap_or_else(|| "closed the connection".into());
                        ErrorKind::Crashed {
                            status,
                            stderr_tail: p.stderr_tail(),
                        }
                    }
                    None => ErrorKind::Crashed {
                        status: if detail.is_empty() {
                            "closed the connection".into()
                        } else {
                            format!("closed the connection ({detail})")
                        },
                        stderr_tail: String::new(),
                    },
                }
            }
            other => ErrorKind::Protocol {
                message: chain(&other),
            },
        }
    }

    /// Every tool (`tools/list`, all pages), sorted by name.
    pub async fn list_tools(&self) -> Result<Vec<ToolSchema>, McpError> {
        let _permit = self.limiter.acquire().await;
        let fut = self.peer.list_all_tools();
        let tools = match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(self.error(self.service_error(e).await)),
            Err(_) => {
                return Err(self.error(ErrorKind::Timeout {
                    after: self.timeout,
                }));
            }
        };
        let mut out = Vec::with_capacity(tools.len());
        for t in tools {
            let value = serde_json::to_value(&t).map_err(|e| {
                self.error(ErrorKind::Protocol {
                    message: format!("cannot read tool `{}`: {e}", t.name),
                })
            })?;
            let schema: ToolSchema = serde_json::from_value(value).map_err(|e| {
                self.error(ErrorKind::Protocol {
                    message: format!("cannot read tool `{}`: {e}", t.name),
                })
            })?;
            out.push(schema);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Every resource template; empty when the server has no resources.
    pub async fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>, McpError> {
        let has_resources = self
            .peer
            .peer_info()
            .is_some_and(|i| i.capabilities.resources.is_some());
        if !has_resources {
            return Ok(Vec::new());
        }
        let _permit = self.limiter.acquire().await;
        let fut = self.peer.list_all_resource_templates();
        let templates = match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(t)) => t,
            // Servers with resources but no templates often answer "method not found".
            Ok(Err(ServiceError::McpError(_))) => return Ok(Vec::new()),
            Ok(Err(e)) => return Err(self.error(self.service_error(e).await)),
            Err(_) => {
                return Err(self.error(ErrorKind::Timeout {
                    after: self.timeout,
                }));
            }
        };
        let mut out = Vec::new();
        for t in templates {
            if let Ok(v) = serde_json::to_value(&t)
                && let Ok(rt) = serde_json::from_value::<ResourceTemplate>(v)
            {
                out.push(rt);
            }
        }
        out.sort_by(|a, b| a.uri_template.cmp(&b.uri_template));
        Ok(out)
    }

    async fn tool_entry(&self, tool: &str) -> Option<Arc<ToolEntry>> {
        let map = self
            .tools
            .get_or_try_init(|| async {
                let list = self.list_tools().await?;
                Ok::<_, McpError>(
                    list.into_iter()
                        .map(|t| {
                            (
                                t.name.clone(),
                                Arc::new(ToolEntry {
                                    schema: t,
                                    validator: OnceLock::new(),
                                }),
                            )
                        })
                        .collect(),
                )
            })
            .await
            .ok()?;
        map.get(tool).cloned()
    }

    /// Calls `tool` with `arguments` (a JSON object, or null for none). Waits for a
    /// permit of the server's concurrency limit, then for the answer up to the timeout.
    /// Dropping the returned future cancels the call on the server.
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: Value,
        options: CallOptions,
    ) -> Result<ToolOutput, McpError> {
        let fail = |kind| self.error(kind).with_tool(tool);
        let args = match arguments {
            Value::Object(m) => m,
            Value::Null => serde_json::Map::new(),
            other => {
                return Err(fail(ErrorKind::Protocol {
                    message: format!("arguments must be a JSON object, not {other}"),
                }));
            }
        };
        let entry = if options.skip_output_validation {
            None
        } else {
            self.tool_entry(tool).await
        };
        let _permit = self.limiter.acquire().await;
        let timeout = options.timeout.unwrap_or(self.timeout);
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(
            CallToolRequestParams::new(tool.to_string()).with_arguments(args),
        ));
        let handle = match self
            .peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
        {
            Ok(h) => h,
            Err(e) => return Err(fail(self.service_error(e).await)),
        };
        let _progress = options.progress.map(|tx| {
            self.shared
                .register_progress(handle.progress_token.clone(), tx)
        });
        let mut guard = CancelOnDrop {
            peer: self.peer.clone(),
            id: Some(handle.id.clone()),
        };
        let answer = tokio::time::timeout(timeout, handle.await_response()).await;
        let result = match answer {
            Err(_) => return Err(fail(ErrorKind::Timeout { after: timeout })),
            Ok(r) => {
                guard.id = None;
                r
            }
        };
        let result = match result {
            Ok(ServerResult::CallToolResult(r)) => r,
            Ok(ServerResult::InputRequiredResult(_)) => {
                return Err(fail(ErrorKind::Protocol {
                    message: "the tool asked for more input, which mcpo does not support yet"
                        .into(),
                }));
            }
            Ok(_) => {
                return Err(fail(ErrorKind::Protocol {
                    message: "the server answered with something that is not a tool result".into(),
                }));
            }
            Err(e) => return Err(fail(self.service_error(e).await)),
        };
        let content: Vec<Value> = result
            .content
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect();
        if result.is_error == Some(true) {
            let mut message = content_text(&content);
            if message.trim().is_empty() {
                message = result
                    .structured_content
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_else(|| "(no message)".into());
            }
            return Err(fail(ErrorKind::ToolFailed { message }));
        }
        if let Some(entry) = entry
            && let Some(schema) = &entry.schema.output_schema
        {
            check_output(&entry, schema, result.structured_content.as_ref()).map_err(fail)?;
        }
        Ok(ToolOutput {
            structured: result.structured_content,
            content,
        })
    }

    /// Subscribes to updates of the resource `uri`.
    pub async fn subscribe(&self, uri: &str) -> Result<ResourceUpdates, McpError> {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.stateless {
            let filter = SubscriptionFilter::builder()
                .resource_subscription(uri)
                .build();
            let mut sub = match self.peer.listen(filter).await {
                Ok(s) => s,
                Err(e) => return Err(self.error(self.service_error(e).await)),
            };
            tokio::spawn(async move {
                while let Ok(Some(n)) = sub.next().await {
                    if let ServerNotification::ResourceUpdatedNotification(n) = n
                        && tx.send(n.params.uri.clone()).is_err()
                    {
                        break;
                    }
                }
            });
        } else {
            if let Ok(mut map) = self.shared.resources.lock() {
                map.entry(uri.to_string()).or_default().push(tx);
            }
            // Legacy servers (protocol <= 2025-11-25) only know `resources/subscribe`.
            #[expect(
                deprecated,
                reason = "the legacy path is what initialize-era servers speak"
            )]
            let subscribed = self.peer.subscribe(SubscribeRequestParams::new(uri)).await;
            if let Err(e) = subscribed {
                return Err(self.error(self.service_error(e).await));
            }
        }
        Ok(ResourceUpdates { rx })
    }

    /// Reads the resource `uri`; returns its contents as JSON.
    pub async fn read_resource(&self, uri: &str) -> Result<Value, McpError> {
        let _permit = self.limiter.acquire().await;
        let fut = self
            .peer
            .read_resource(rmcp::model::ReadResourceRequestParams::new(uri));
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(r)) => Ok(serde_json::to_value(&r).unwrap_or(Value::Null)),
            Ok(Err(e)) => Err(self.error(self.service_error(e).await)),
            Err(_) => Err(self.error(ErrorKind::Timeout {
                after: self.timeout,
            })),
        }
    }

    /// Closes the connection and stops the server process (its whole process group),
    /// waiting briefly for it to exit by itself first.
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), running.cancel()).await;
        }
        if let Some(mut p) = self.process.take() {
            p.stop(Duration::from_millis(500)).await;
        }
    }
}

fn check_output(
    entry: &ToolEntry,
    schema: &Value,
    structured: Option<&Value>,
) -> Result<(), ErrorKind> {
    let Some(value) = structured else {
        return Err(ErrorKind::OutputMismatch {
            path: String::new(),
            reason: "the tool declares an outputSchema but returned no structuredContent".into(),
        });
    };
    let validator = entry
        .validator
        .get_or_init(|| jsonschema::validator_for(schema).ok());
    let Some(validator) = validator else {
        // An output schema we cannot compile is the server's problem; do not fail calls.
        return Ok(());
    };
    if let Some(e) = validator.iter_errors(value).next() {
        return Err(ErrorKind::OutputMismatch {
            path: e.instance_path().to_string(),
            reason: e.to_string(),
        });
    }
    Ok(())
}

/// Sends `notifications/cancelled` for a request whose caller went away.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    id: Option<RequestId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let peer = self.peer.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let params =
                    CancelledNotificationParam::new(Some(id), Some("cancelled by mcpo".into()));
                let n = CancelledNotification::new(params);
                let _ = peer
                    .send_notification(ClientNotification::CancelledNotification(n))
                    .await;
            });
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Initialize,
    Discover,
    Auto,
}

enum Timed<T> {
    Done(T),
    /// Nothing at all came back within the probe window.
    ProbeSilent,
    Expired,
}

async fn timed<F: Future>(probe: Duration, total: Duration, fut: F) -> Timed<F::Output> {
    let fut = std::pin::pin!(fut);
    match tokio::time::timeout(probe.min(total), fut).await {
        Ok(v) => Timed::Done(v),
        Err(_) if probe < total => Timed::ProbeSilent,
        Err(_) => Timed::Expired,
    }
}

async fn handshake_failure(
    spec: &ServerSpec,
    process: &Option<ServerProcess>,
    reason: &str,
    error: Option<&rmcp::service::ClientInitializeError>,
) -> ErrorKind {
    use rmcp::service::ClientInitializeError as E;
    if let Some(E::NoCompatibleProtocolVersion {
        client_supported,
        server_supported,
    }) = error
    {
        return ErrorKind::UnsupportedProtocol {
            offered: client_supported.iter().map(|v| v.to_string()).collect(),
            supported: server_supported.iter().map(|v| v.to_string()).collect(),
        };
    }
    match (process, &spec.transport) {
        (Some(p), _) => {
            if let Some(status) = p.exit_status(Duration::from_millis(500)).await {
                return ErrorKind::ExitedAtStart {
                    status,
                    stderr_tail: p.stderr_tail(),
                };
            }
            ErrorKind::Handshake {
                reason: error.map_or_else(|| reason.to_string(), |e| chain(e)),
                stderr_tail: p.stderr_tail(),
            }
        }
        (None, Transport::Http(h)) => match error {
            Some(E::TransportError { error, .. }) => ErrorKind::Unreachable {
                url: h.url.clone(),
                reason: chain(error),
            },
            Some(e) => ErrorKind::Handshake {
                reason: chain(e),
                stderr_tail: String::new(),
            },
            None => ErrorKind::Handshake {
                reason: reason.to_string(),
                stderr_tail: String::new(),
            },
        },
        (None, Transport::Stdio(_)) => ErrorKind::Handshake {
            reason: reason.to_string(),
            stderr_tail: String::new(),
        },
    }
}
