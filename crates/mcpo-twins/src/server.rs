//! The MCP face of a twin: tools, resources and subscriptions over any rmcp transport.

use crate::faults::{Faults, Verdict};
use crate::kind::{Op, TypeDef};
use crate::store::{World, now_ms};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, ResourceUpdatedNotificationParam, ServerCapabilities,
    ServerConfig, SubscribeRequestParams, SubscriptionFilter, Tool, ToolAnnotations,
    UnsubscribeRequestParams,
};
use rmcp::service::{
    NotificationContext, Peer, RequestContext, SubscriptionContext, SubscriptionSink,
};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How often timed transitions (pending -> running, ...) are checked for subscribers.
const WATCH_INTERVAL: Duration = Duration::from_millis(50);

/// State shared by every connection to one twin process.
pub(crate) struct Shared {
    twin: &'static str,
    title: &'static str,
    types: Vec<TypeDef>,
    tools: Vec<Tool>,
    world: Mutex<World>,
    faults: Faults,
    subs: Mutex<Subs>,
    /// Who hears `notifications/resources/list_changed`: every initialized session and
    /// every `subscriptions/listen` stream that asked for it.
    listeners: Mutex<Vec<(u64, Target)>>,
    changed: tokio::sync::Notify,
    owners: AtomicU64,
    /// What each URI looked like when a `subscriptions/listen` request was accepted, kept
    /// until its `listen` handler registers the subscription. rmcp acknowledges a listen
    /// request before it calls the handler; a change in between would otherwise be missed.
    baselines: Mutex<Vec<(String, Option<Value>)>>,
    /// Counts list changes (creates and deletes), so that a `subscriptions/listen` for list
    /// changes can tell whether one happened between its acknowledgment and its handler.
    list_changes: AtomicU64,
    /// `list_changes` as it was when each pending list-change listen request was accepted.
    list_baselines: Mutex<Vec<u64>>,
}

/// Subscriptions: who wants to hear about which URI, and what each URI looked like when
/// subscribers were last told.
#[derive(Default)]
struct Subs {
    list: Vec<Sub>,
    last: BTreeMap<String, Option<Value>>,
}

struct Sub {
    uri: String,
    owner: u64,
    target: Target,
}

/// Where an update notification goes: a legacy session (`resources/subscribe`) or a
/// 2026-07-28 `subscriptions/listen` stream.
#[derive(Clone)]
enum Target {
    Peer(Peer<RoleServer>),
    Sink(SubscriptionSink),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Builds the shared state of a twin from its resource types.
    pub(crate) fn new(
        twin: &'static str,
        title: &'static str,
        types: Vec<TypeDef>,
        world: World,
        faults: Faults,
    ) -> Arc<Shared> {
        let tools = types.iter().flat_map(tools_of).collect();
        Arc::new(Shared {
            twin,
            title,
            types,
            tools,
            world: Mutex::new(world),
            faults,
            subs: Mutex::new(Subs::default()),
            listeners: Mutex::new(Vec::new()),
            changed: tokio::sync::Notify::new(),
            owners: AtomicU64::new(1),
            baselines: Mutex::new(Vec::new()),
            list_changes: AtomicU64::new(0),
            list_baselines: Mutex::new(Vec::new()),
        })
    }

    fn def(&self, ty: &str) -> Option<&TypeDef> {
        self.types.iter().find(|d| d.name == ty)
    }

    fn next_owner(&self) -> u64 {
        self.owners.fetch_add(1, Ordering::Relaxed)
    }

    /// The current view of a resource URI (`None` when it does not exist).
    fn view_uri(&self, world: &World, uri: &str, now: u64) -> Option<Value> {
        let (ty, id) = parse_uri(uri)?;
        self.def(ty)?.view(world, id, now)
    }

    /// Registers a subscriber. `baseline` is what the subscriber is known to have seen
    /// (the state when its request was accepted); without one, the current state.
    fn subscribe(&self, uri: &str, owner: u64, target: Target, baseline: Option<Option<Value>>) {
        let current = baseline.unwrap_or_else(|| self.view_uri(&lock(&self.world), uri, now_ms()));
        let mut subs = lock(&self.subs);
        subs.last.entry(uri.to_string()).or_insert(current);
        subs.list.push(Sub {
            uri: uri.to_string(),
            owner,
            target,
        });
    }

    fn unsubscribe(&self, uri: Option<&str>, owner: u64) {
        let mut subs = lock(&self.subs);
        subs.list
            .retain(|s| !(s.owner == owner && uri.is_none_or(|u| u == s.uri)));
        let live: Vec<String> = subs.list.iter().map(|s| s.uri.clone()).collect();
        subs.last.retain(|uri, _| live.contains(uri));
    }

    /// Sends `notifications/resources/updated` for every subscribed URI whose state changed
    /// since subscribers were last told, including changes that come from time passing.
    async fn notify_changes(&self) {
        let uris: Vec<String> = {
            let subs = lock(&self.subs);
            subs.last.keys().cloned().collect()
        };
        if uris.is_empty() {
            return;
        }
        let now = now_ms();
        let views: Vec<(String, Option<Value>)> = {
            let world = lock(&self.world);
            uris.into_iter()
                .map(|u| {
                    let v = self.view_uri(&world, &u, now);
                    (u, v)
                })
                .collect()
        };
        let mut outbox = Vec::new();
        {
            let mut subs = lock(&self.subs);
            for (uri, view) in views {
                if subs.last.get(&uri).is_some_and(|old| *old != view) {
                    subs.last.insert(uri.clone(), view);
                    outbox.extend(
                        subs.list
                            .iter()
                            .filter(|s| s.uri == uri)
                            .map(|s| (uri.clone(), s.owner, s.target.clone())),
                    );
                }
            }
        }
        for (uri, owner, target) in outbox {
            let sent = match &target {
                Target::Peer(peer) => peer
                    .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri.clone()))
                    .await
                    .is_ok(),
                Target::Sink(sink) => sink.notify_resource_updated(uri.clone()).await.is_ok(),
            };
            if !sent {
                self.unsubscribe(Some(&uri), owner);
            }
        }
    }

    /// Sends `notifications/resources/list_changed` to every listener (a resource was
    /// created or deleted), forgetting listeners that are gone.
    async fn announce_list_changed(&self) {
        self.list_changes.fetch_add(1, Ordering::SeqCst);
        let listeners: Vec<(u64, Target)> = lock(&self.listeners).clone();
        let mut gone = Vec::new();
        for (owner, target) in listeners {
            let sent = match &target {
                Target::Peer(peer) => peer.notify_resource_list_changed().await.is_ok(),
                Target::Sink(sink) => sink.notify_resource_list_changed().await.is_ok(),
            };
            if !sent {
                gone.push(owner);
            }
        }
        if !gone.is_empty() {
            lock(&self.listeners).retain(|(o, _)| !gone.contains(o));
        }
    }

    /// Runs forever: wakes on every change and every [`WATCH_INTERVAL`].
    pub(crate) async fn watch(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = self.changed.notified() => {}
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
            }
            self.notify_changes().await;
        }
    }
}

/// Splits `mcpo://<type>/<id>` (ids may contain `/`, e.g. `default/web`).
fn parse_uri(uri: &str) -> Option<(&str, &str)> {
    uri.strip_prefix("mcpo://")?.split_once('/')
}

pub(crate) fn tools_of(def: &TypeDef) -> Vec<Tool> {
    let name = def.name;
    let about = def.about;
    let mut tools = vec![
        Tool::new(
            format!("{name}.create"),
            format!(
                "Create {about}. Returns the new resource's state; its `id` names it in read, update and delete."
            ),
            def.create_schema.clone(),
        )
        .with_raw_output_schema(def.output_schema.clone())
        .with_annotations(ToolAnnotations::new().read_only(false).destructive(false).idempotent(false).open_world(false)),
        Tool::new(
            format!("{name}.read"),
            format!("Read the current state of {about}."),
            def.id_schema.clone(),
        )
        .with_raw_output_schema(def.output_schema.clone())
        .with_annotations(ToolAnnotations::new().read_only(true).idempotent(true).open_world(false)),
    ];
    if def.updatable {
        let fixed = if def.immutable.is_empty() {
            String::new()
        } else {
            format!(
                " These fields cannot change in place and are not taken here (changing them means replacing the resource): {}.",
                def.immutable.join(", ")
            )
        };
        tools.push(
            Tool::new(
                format!("{name}.update"),
                format!("Update {about} in place: pass its `id` and the desired inputs.{fixed}"),
                def.update_schema.clone(),
            )
            .with_raw_output_schema(def.output_schema.clone())
            .with_annotations(
                ToolAnnotations::new()
                    .read_only(false)
                    .destructive(false)
                    .idempotent(true)
                    .open_world(false),
            ),
        );
    }
    tools.push(
        Tool::new(
            format!("{name}.delete"),
            format!("Delete {about}."),
            def.id_schema.clone(),
        )
        .with_raw_output_schema(def.delete_output_schema.clone())
        .with_annotations(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(true)
                .open_world(false),
        ),
    );
    tools.push(
        Tool::new(
            format!("{name}.list"),
            format!("List every {name} (for import)."),
            def.list_schema.clone(),
        )
        .with_raw_output_schema(def.list_output_schema.clone())
        .with_annotations(
            ToolAnnotations::new()
                .read_only(true)
                .idempotent(true)
                .open_world(false),
        ),
    );
    for action in &def.actions {
        tools.push(
            Tool::new(
                format!("{name}.{}", action.verb),
                action.description,
                action.input_schema.clone(),
            )
            .with_raw_output_schema(action.output_schema.clone())
            .with_annotations(
                ToolAnnotations::new()
                    .read_only(action.read_only)
                    .destructive(false)
                    .idempotent(action.idempotent)
                    .open_world(false),
            ),
        );
    }
    tools
}

/// One connection's handler (HTTP creates one per session; they share [`Shared`]).
#[derive(Clone)]
pub(crate) struct Twin {
    shared: Arc<Shared>,
    owner: u64,
}

impl Twin {
    /// A handler for a new connection.
    pub(crate) fn new(shared: Arc<Shared>) -> Twin {
        let owner = shared.next_owner();
        Twin { shared, owner }
    }

    fn run_tool(&self, def: &TypeDef, op: Op, args: Value) -> CallToolResult {
        let now = now_ms();
        let outcome = {
            let mut world = lock(&self.shared.world);
            match def.run(&mut world, op, args, now) {
                Ok(done) if done.touched.is_empty() => Ok(done.value),
                Ok(done) => match world.save() {
                    Ok(()) => Ok(done.value),
                    Err(e) => Err(format!("the change was made but could not be saved: {e}")),
                },
                Err(e) => Err(e),
            }
        };
        let reads = match op {
            Op::Read | Op::List => true,
            Op::Action(verb) => def.action(verb).is_some_and(|a| a.read_only),
            _ => false,
        };
        if !reads {
            self.shared.changed.notify_one();
        }
        match outcome {
            Ok(value) => CallToolResult::structured(value),
            Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
        }
    }
}

impl ServerHandler for Twin {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_resources_list_changed()
                .build(),
        )
        .with_server_info(
            Implementation::new(
                format!("mcpo-twin-{}", self.shared.twin),
                env!("CARGO_PKG_VERSION"),
            )
            .with_title(self.shared.title),
        )
        .with_instructions(format!(
            "{}: a simulated system for tests. Each resource type T has tools T.create, T.read, \
             T.update (where the real system updates in place), T.delete and T.list; each resource \
             is also the MCP resource mcpo://<type>/<id>, subscribable for state changes.",
            self.shared.title
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.shared.tools.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let target = name.rsplit_once('.').and_then(|(ty, op)| {
            let def = self.shared.def(ty)?;
            let op = Op::parse(op).or_else(|| def.action(op).map(|a| Op::Action(a.verb)))?;
            (op != Op::Update || def.updatable).then_some((def, op))
        });
        let Some((def, op)) = target else {
            return Err(McpError::invalid_params(
                format!("the {} twin has no tool named {name}", self.shared.twin),
                None,
            ));
        };
        let (verdict, latency) = self.shared.faults.judge(&name);
        match verdict {
            Verdict::Crash => {
                eprintln!(
                    "mcpo twin {}: crashing on tool call {} as asked by --crash-after",
                    self.shared.twin,
                    self.shared.faults.calls()
                );
                std::process::exit(70);
            }
            Verdict::Hang => {
                eprintln!(
                    "mcpo twin {}: {name} hangs as asked by --hang-tool",
                    self.shared.twin
                );
                std::future::pending::<()>().await;
            }
            Verdict::Run | Verdict::Fail => {}
        }
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if verdict == Verdict::Fail {
            return Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                ContentBlock::text(format!(
                    "ServiceUnavailable: {name} failed with an injected transient error (--fail-rate); nothing was changed, retrying may succeed"
                )),
            ])));
        }
        let args = Value::Object(request.arguments.unwrap_or_default());
        let result = self.run_tool(def, op, args);
        if matches!(op, Op::Create | Op::Delete) && result.is_error != Some(true) {
            self.shared.announce_list_changed().await;
        }
        Ok(CallToolResponse::Complete(result))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let world = lock(&self.shared.world);
        let resources = world
            .everything()
            .map(|(ty, r)| {
                Resource::new(format!("mcpo://{ty}/{}", r.id), format!("{ty}/{}", r.id))
                    .with_description(format!("Live state of {ty} {}", r.id))
                    .with_mime_type("application/json")
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let templates = self
            .shared
            .types
            .iter()
            .map(|d| {
                ResourceTemplate::new(format!("mcpo://{}/{{id}}", d.name), d.name)
                    .with_description(format!("Live state of {}, by id", d.about))
                    .with_mime_type("application/json")
            })
            .collect();
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let view = self
            .shared
            .view_uri(&lock(&self.shared.world), &request.uri, now_ms());
        match view {
            Some(v) => Ok(ReadResourceResponse::Complete(ReadResourceResult::new(
                vec![
                    ResourceContents::text(v.to_string(), request.uri)
                        .with_mime_type("application/json"),
                ],
            ))),
            None => Err(McpError::resource_not_found(
                format!(
                    "{} does not exist on the {} twin",
                    request.uri, self.shared.twin
                ),
                None,
            )),
        }
    }

    #[allow(
        deprecated,
        reason = "legacy sessions (protocol <= 2025-11-25) still subscribe this way"
    )]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if parse_uri(&request.uri)
            .and_then(|(ty, _)| self.shared.def(ty))
            .is_none()
        {
            return Err(McpError::resource_not_found(
                format!(
                    "{} is not a resource of the {} twin",
                    request.uri, self.shared.twin
                ),
                None,
            ));
        }
        self.shared
            .subscribe(&request.uri, self.owner, Target::Peer(context.peer), None);
        Ok(())
    }

    #[allow(
        deprecated,
        reason = "legacy sessions (protocol <= 2025-11-25) still unsubscribe this way"
    )]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared.unsubscribe(Some(&request.uri), self.owner);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let uris: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|u| {
                parse_uri(u)
                    .and_then(|(ty, _)| self.shared.def(ty))
                    .is_some()
            })
            .cloned()
            .collect();
        {
            let now = now_ms();
            let views: Vec<(String, Option<Value>)> = {
                let world = lock(&self.shared.world);
                uris.iter()
                    .map(|u| (u.clone(), self.shared.view_uri(&world, u, now)))
                    .collect()
            };
            let mut pending = lock(&self.shared.baselines);
            pending.extend(views);
            // A request accepted but never established must not grow this forever.
            let excess = pending.len().saturating_sub(4096);
            pending.drain(..excess);
        }
        let mut accepted = SubscriptionFilter::builder().resource_subscriptions(uris);
        if requested.resources_list_changed == Some(true) {
            let mut pending = lock(&self.shared.list_baselines);
            pending.push(self.shared.list_changes.load(Ordering::SeqCst));
            let excess = pending.len().saturating_sub(4096);
            pending.drain(..excess);
            accepted = accepted.resources_list_changed();
        }
        Some(accepted.build())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        lock(&self.shared.listeners).push((self.owner, Target::Peer(context.peer)));
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let owner = self.shared.next_owner();
        for uri in context.accepted().resource_subscriptions.iter().flatten() {
            let baseline = {
                let mut pending = lock(&self.shared.baselines);
                pending
                    .iter()
                    .position(|(u, _)| u == uri)
                    .map(|i| pending.remove(i).1)
            };
            self.shared
                .subscribe(uri, owner, Target::Sink(context.sink().clone()), baseline);
        }
        // Tell the new subscriber about anything that changed since it was acknowledged.
        self.shared.notify_changes().await;
        if context.accepted().resources_list_changed == Some(true) {
            lock(&self.shared.listeners).push((owner, Target::Sink(context.sink().clone())));
            // The oldest pending baseline is the most conservative: at worst one extra
            // list_changed, never a missed one.
            let baseline = {
                let mut pending = lock(&self.shared.list_baselines);
                (!pending.is_empty()).then(|| pending.remove(0))
            };
            if baseline.is_some_and(|b| self.shared.list_changes.load(Ordering::SeqCst) > b) {
                let _ = context.sink().notify_resource_list_changed().await;
            }
        }
        context.cancelled().await;
        self.shared.unsubscribe(None, owner);
        lock(&self.shared.listeners).retain(|(o, _)| *o != owner);
        Ok(())
    }
}
