//! The MCP server: the tools with their schemas, approval by a person, prompts and
//! resources. Every tool result carries `structuredContent` (its output type, or
//! [`ToolError`] when `isError`), and a text block for people.
//!
//! Approval of `apply` and `destroy`, in order:
//! 1. `mcpoc approve PLAN_ID`, run by a person in a terminal, recorded for exactly that
//!    plan (its digest) and used once;
//! 2. elicitation: a question to the person through the client: a server-to-client
//!    `elicitation/create` request on 2025-06-18 / 2025-11-25 sessions, an
//!    `input_required` result (Multi Round-Trip Request) on 2026-07-28 ones, whose answer
//!    counts only when it comes back with the request state this server issued for that
//!    plan;
//! 3. otherwise the apply is refused (E0634) and says how to approve in a terminal.
//!
//! Nothing the model sees or sends counts as approval: no token appears in any result.

use crate::ops::{Fail, Prepared, RunbookCall, Workspace, plan_out};
use crate::parked::{Parked, Relay, Runs, Turn};
use crate::store::StoredPlan;
use crate::tools::{
    ApplyArgs, ApplyOut, CheckArgs, CheckOut, DescribePatternArgs, DescribeTypeArgs,
    DescribeTypeOut, ModifyArgs, NoArgs, PatternsOut, PlanArgs, PlanOut, QueryArgs, QueryOut,
    RunRunbookArgs, RunbookOut, RunbooksOut, ToolError, TroubleshootOut,
};
use mcpo_deploy::approve::BoxFuture;
use mcpo_deploy::patterns::{self, PatternInfo};
use mcpo_deploy::{Approval, ApprovalRequest, Approver, Problem};
use mcpo_diagnostics::codes;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ElicitRequest,
    ElicitRequestParams, ElicitationAction, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, InputRequest, InputRequests, InputRequiredResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{ElicitationMode, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The key of the approval question in an `input_required` result.
const APPROVAL_KEY: &str = "mcpo_approval";
/// How long a person has to answer an approval dialog unless `--approval-timeout` says.
pub const APPROVAL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What every session of one `serve` process shares.
#[derive(Debug)]
pub struct Shared {
    ws: Workspace,
    /// Approval questions asked through `input_required` results: request state -> plan id.
    asked: Mutex<BTreeMap<String, String>>,
    /// Runbook runs waiting for an answer through `input_required` results.
    runs: Arc<Runs>,
}

impl Shared {
    /// The shared part of a server of the workspace `ws`; a person has `approval_timeout`
    /// to answer an approval dialog.
    pub fn new(ws: Workspace, approval_timeout: Duration) -> Arc<Shared> {
        Arc::new(Shared {
            ws,
            asked: Mutex::new(BTreeMap::new()),
            runs: Arc::new(Runs::new(approval_timeout)),
        })
    }

    /// The runbook runs waiting for an answer.
    pub fn runs(&self) -> &Runs {
        &self.runs
    }
}

/// One MCP session's handler.
#[derive(Debug, Clone)]
pub struct McpoServer {
    shared: Arc<Shared>,
}

impl McpoServer {
    /// A handler over `shared`.
    pub fn new(shared: Arc<Shared>) -> McpoServer {
        McpoServer { shared }
    }

    fn ws(&self) -> &Workspace {
        &self.shared.ws
    }
}

fn tool<I: JsonSchema + 'static, O: JsonSchema + 'static>(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    annotations: ToolAnnotations,
) -> Tool {
    Tool::new(name, description, Arc::new(serde_json::Map::new()))
        .with_input_schema::<I>()
        .with_output_schema::<O>()
        .with_title(title)
        .with_annotations(annotations)
}

fn reads() -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

/// Every tool, with its input and output schemas.
pub fn tools() -> Vec<Tool> {
    vec![
        tool::<NoArgs, PatternsOut>(
            "list_patterns",
            "List patterns",
            "The patterns this workspace can deploy (the standard library's and its own), each with its description, params (types, defaults), outputs, resources and an example `use` block.",
            reads(),
        ),
        tool::<DescribePatternArgs, PatternInfo>(
            "describe_pattern",
            "Describe a pattern",
            "One pattern: its params with types, defaults and descriptions, its outputs, the resources it makes, and an example `use` block.",
            reads(),
        ),
        tool::<DescribeTypeArgs, DescribeTypeOut>(
            "describe_type",
            "Describe a resource type",
            "A resource type of a server, from its pulled schema: every input with its type, whether it is required, its description, enum values and constraints; the outputs other blocks can read; what can change in place; an example block. Use it before writing a `resource` block.",
            reads(),
        ),
        tool::<CheckArgs, CheckOut>(
            "check",
            "Check source",
            "Type-checks `source` as the workspace file `file` (default `main.mcpo`) together with the rest of the workspace, without writing anything. Returns every diagnostic with its code, line, column, message and help. Fix the errors and check again before planning.",
            reads(),
        ),
        tool::<PlanArgs, PlanOut>(
            "plan",
            "Plan",
            "Plans the workspace with `source` as file `file` (default `main.mcpo`), or with a `use` block of `pattern` with `params` added (file `<name>.mcpo`). Nothing changes and nothing is written: returns a `plan_id`, counts, the plan as text (show it to the person) and the structured changes. `apply` runs it after the person approves.",
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(false)
                .open_world(true),
        ),
        tool::<ApplyArgs, ApplyOut>(
            "apply",
            "Apply a plan",
            "Runs the plan `plan_id`, only after a person approves that exact plan (the client's approval dialog, or `mcpoc approve PLAN_ID` in a terminal). Writes the plan's file into the workspace, then makes exactly the planned changes. Refused when the workspace or its state changed since the plan was made; a second apply of the same plan does nothing.",
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(true)
                .open_world(true),
        ),
        tool::<NoArgs, ApplyOut>(
            "destroy",
            "Destroy everything",
            "Plans the deletion of every resource in the state and, once a person approves that plan, deletes them (dependents first). Without an approval dialog the error names the plan id for `mcpoc approve`; then call `apply` with it.",
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(false)
                .open_world(true),
        ),
        tool::<QueryArgs, QueryOut>(
            "query",
            "Query the state",
            "What the last apply recorded: every resource (address, server, type, id) and the outputs, or one resource with its inputs and outputs. Sensitive values read \"(sensitive value)\".",
            reads(),
        ),
        tool::<ModifyArgs, PlanOut>(
            "modify",
            "Modify a deployed pattern",
            "Plans a change of the params of a `use` block of the workspace (a deployed pattern): the block is edited where it is written and the workspace planned. Returns a plan like `plan`; `apply` runs it after approval.",
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(false)
                .open_world(true),
        ),
        tool::<NoArgs, RunbooksOut>(
            "list_runbooks",
            "List runbooks",
            "The workspace's runbooks (day-2 operations such as a failover): each with its description, params (types, which are required) and steps. `run_runbook` runs one.",
            reads(),
        ),
        tool::<RunRunbookArgs, RunbookOut>(
            "run_runbook",
            "Run a runbook",
            "Runs the runbook `name` with `params`, only after a person approves the run in the client's approval dialog; its approval steps are asked the same way. Without an approval dialog the error gives the `mcpoc run` command for a terminal. With `dry_run`, only read-only tools are called and nothing needs approval. Returns every step's status, attempts, result and error.",
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .idempotent(false)
                .open_world(true),
        ),
        tool::<NoArgs, TroubleshootOut>(
            "troubleshoot",
            "Troubleshoot",
            "Server health (does each server answer, how fast, how many tools), drift (what changed outside mcpo, reads that failed), the steps that failed in the last apply with their codes and errors, and what to do next.",
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(true),
        ),
    ]
}

fn structured<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A successful result: `value` as `structuredContent`, `text` for people.
fn done<T: Serialize>(value: &T, text: String) -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = Some(structured(value));
    r
}

fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// An error result: [`ToolError`] as `structuredContent`.
fn failed(f: Fail) -> CallToolResult {
    let mut r = CallToolResult::error(vec![ContentBlock::text(f.text)]);
    r.structured_content = Some(structured::<ToolError>(&f.error));
    r
}

fn args<T: DeserializeOwned>(tool: &str, request: &CallToolRequestParams) -> Result<T, Fail> {
    let value = Value::Object(request.arguments.clone().unwrap_or_default());
    serde_json::from_value(value).map_err(|e| {
        Fail::problem(
            &Problem::uncoded(format!("invalid arguments for `{tool}`: {e}"))
                .help("the tool's inputSchema lists what it takes")
                .usage(),
        )
    })
}

fn client_name(ctx: &RequestContext<RoleServer>) -> String {
    ctx.client_info().map_or_else(
        || "unknown client".to_string(),
        |i| format!("{} {}", i.name, i.version),
    )
}

/// What the person said.
enum Answer {
    Approved(&'static str),
    Declined,
    Ask(InputRequiredResult),
    Unavailable,
}

fn approval_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "approve": {
                "type": "boolean",
                "title": "Apply this plan",
                "description": "Yes runs exactly the plan shown; no changes nothing.",
                "default": false
            }
        },
        "required": ["approve"]
    })
}

fn approval_message(stored: &StoredPlan) -> String {
    let out = plan_out(stored);
    format!(
        "mcpo asks you to approve plan {} ({}), requested by {}.\n\n{}",
        stored.id, stored.request, stored.client, out.text
    )
}

fn elicitation(message: String) -> Option<ElicitRequestParams> {
    let schema = serde_json::from_value(approval_schema()).ok()?;
    Some(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema: schema,
    })
}

/// The answer in an elicitation result: accepted with `approve: true`, or not.
fn judge(action: &ElicitationAction, content: Option<&Value>) -> Answer {
    let yes = content
        .and_then(|c| c.get("approve"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if *action == ElicitationAction::Accept && yes {
        Answer::Approved("elicitation")
    } else {
        Answer::Declined
    }
}

impl McpoServer {
    async fn ask(
        &self,
        stored: &StoredPlan,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Answer {
        if self.ws().store().approval(stored).is_some() {
            return Answer::Approved("terminal");
        }
        let modern = ctx
            .protocol_version()
            .is_some_and(|v| v.as_str() >= "2026-07-28");
        if modern {
            if ctx
                .client_capabilities()
                .is_none_or(|c| c.elicitation.is_none())
            {
                return Answer::Unavailable;
            }
            // The retry of a call this server answered with an approval question.
            if let (Some(state), Some(responses)) =
                (&request.request_state, &request.input_responses)
            {
                let asked = self
                    .shared
                    .asked
                    .lock()
                    .map(|mut a| a.remove(state))
                    .ok()
                    .flatten();
                if asked.as_deref() == Some(stored.id.as_str()) {
                    let answer = responses.get(APPROVAL_KEY);
                    let action = answer
                        .and_then(|a| a.get("action"))
                        .and_then(|a| serde_json::from_value::<ElicitationAction>(a.clone()).ok());
                    return match action {
                        Some(action) => judge(&action, answer.and_then(|a| a.get("content"))),
                        None => Answer::Declined,
                    };
                }
            }
            let Some(params) = elicitation(approval_message(stored)) else {
                return Answer::Unavailable;
            };
            let state = format!(
                "{}{}",
                crate::store::new_id(&stored.plan),
                crate::store::new_id(&stored.plan)
            );
            if let Ok(mut asked) = self.shared.asked.lock() {
                asked.insert(state.clone(), stored.id.clone());
            }
            let mut requests = InputRequests::new();
            requests.insert(
                APPROVAL_KEY.to_string(),
                InputRequest::Elicitation(ElicitRequest::new(params)),
            );
            return Answer::Ask(InputRequiredResult::new(Some(requests), Some(state)));
        }
        if !ctx
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
        {
            return Answer::Unavailable;
        }
        let Some(params) = elicitation(approval_message(stored)) else {
            return Answer::Unavailable;
        };
        match ctx
            .peer
            .create_elicitation_with_timeout(params, Some(self.shared.runs.timeout))
            .await
        {
            Ok(result) => judge(&result.action, result.content.as_ref()),
            Err(e) => {
                eprintln!("mcpo serve: the approval dialog failed: {e}");
                Answer::Declined
            }
        }
    }

    /// Approval, then the run, of a stored plan.
    async fn approve_and_run(
        &self,
        id: &str,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let client = client_name(ctx);
        let stored = match self.ws().prepare(id) {
            Err(f) => return failed(f).into(),
            Ok(Prepared::Done(out)) => {
                let text = out.headline.clone();
                return done(&*out, text).into();
            }
            Ok(Prepared::Ready(stored)) => *stored,
        };
        match self.ask(&stored, request, ctx).await {
            Answer::Ask(question) => question.into(),
            Answer::Declined => {
                self.ws().refused(&stored, &client, "declined");
                failed(
                    Fail::problem(
                        &Problem::new(
                            codes::E0639,
                            format!(
                                "the approval of plan `{id}` was declined; nothing was changed"
                            ),
                        )
                        .help("ask the person what to change, make a new plan and ask again"),
                    )
                    .about(id),
                )
                .into()
            }
            Answer::Unavailable => {
                self.ws().refused(&stored, &client, "not approved");
                let plan = plan_out(&stored);
                let mut fail = Fail::problem(
                    &Problem::new(
                        codes::E0634,
                        format!(
                            "plan `{id}` needs a person's approval, and this client cannot ask for it; nothing was changed"
                        ),
                    )
                    .help(format!(
                        "show the plan to the person and ask them to run `mcpoc approve {id}` in a terminal in the workspace, then call `apply` with plan_id \"{id}\" again"
                    )),
                )
                .about(id);
                fail.text = format!("{}\n{}", fail.text, plan.text);
                failed(fail).into()
            }
            Answer::Approved(by) => match self.ws().run(stored, by, &client).await {
                Ok(out) => {
                    let text = format!("{}\n{}", out.headline, json_text(&out.failed));
                    let mut r = done(&out, text);
                    if out.outcome == "failed" {
                        r.is_error = Some(false);
                    }
                    r.into()
                }
                Err(f) => failed(f).into(),
            },
        }
    }

    /// `run_runbook`: the person approves the run (unless it is a dry run), then it runs;
    /// its approval steps are asked in the same dialog. A 2026-07-28 client is asked
    /// through `input_required` results: the run waits in the server for each answer (see
    /// [`crate::parked`]).
    async fn run_runbook(
        &self,
        a: RunRunbookArgs,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let client = client_name(ctx);
        let params = a.params.unwrap_or_default();
        let call = serde_json::to_string(&json!({
            "name": a.name,
            "params": params,
            "dry_run": a.dry_run,
        }))
        .unwrap_or_default();
        // The retry of a call answered with a question: the answer goes to the run.
        if let Some(state) = &request.request_state {
            let parked = match self.shared.runs.take(state, &call) {
                Ok(p) => p,
                Err(f) => return failed(f).into(),
            };
            let Some(answer) = request
                .input_responses
                .as_ref()
                .and_then(|r| r.get(APPROVAL_KEY))
            else {
                // No answer to the question: it is asked again.
                return self.park(state.clone(), parked);
            };
            let action = answer
                .get("action")
                .and_then(|a| serde_json::from_value::<ElicitationAction>(a.clone()).ok());
            let approval = match action.map(|act| judge(&act, answer.get("content"))) {
                Some(Answer::Approved(_)) => Approval::Approved,
                _ => Approval::Declined,
            };
            if parked.answer.send(approval).is_err() {
                return failed(Fail::problem(
                    &Problem::new(
                        codes::E0642,
                        "the question asked with this request state was not answered in time; the run stopped before the answer came",
                    )
                    .help(format!(
                        "a person continues it in a terminal: `mcpoc run {} --resume`",
                        a.name
                    )),
                ))
                .into();
            }
            return self.next_turn(parked.call, parked.turns).await;
        }
        let command = run_command(&a.name, &params);
        let modern = ctx
            .protocol_version()
            .is_some_and(|v| v.as_str() >= "2026-07-28");
        let elicits = ctx
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some());
        // The run itself is approved in the session, once its params check.
        let approved_by = (!a.dry_run).then(|| "elicitation".to_string());
        if modern && elicits && !a.dry_run {
            let (turns, rx) = tokio::sync::mpsc::unbounded_channel();
            let cancel = mcpo_exec::CancellationToken::new();
            let relay = Arc::new(Relay {
                runs: Arc::clone(&self.shared.runs),
                turns: turns.clone(),
                cancel: cancel.clone(),
                runbook: a.name.clone(),
                command,
                asked: std::sync::atomic::AtomicUsize::new(0),
            });
            let ws = self.ws().clone();
            tokio::spawn(async move {
                let run = RunbookCall {
                    name: a.name,
                    params,
                    dry_run: false,
                    approved_by,
                    client,
                };
                let out = ws.run_runbook(run, relay, cancel).await;
                let _ = turns.send(Turn::Done(out));
            });
            return self.next_turn(call, rx).await;
        }
        // Older clients answer the server's own approval dialog during the call.
        let can_ask = !modern
            && ctx
                .peer
                .supported_elicitation_modes()
                .contains(&ElicitationMode::Form);
        let elicit = Arc::new(Elicit {
            peer: can_ask.then(|| ctx.peer.clone()),
            timeout: self.shared.runs.timeout,
            command,
        });
        let cancel = mcpo_exec::CancellationToken::new();
        let run = RunbookCall {
            name: a.name,
            params,
            dry_run: a.dry_run,
            approved_by,
            client,
        };
        let out = self.ws().run_runbook(run, elicit, cancel).await;
        runbook_result(out)
    }

    /// Waits for what the run does next: a question (parked, and asked through an
    /// `input_required` result), or its end.
    async fn next_turn(
        &self,
        call: String,
        mut turns: tokio::sync::mpsc::UnboundedReceiver<Turn>,
    ) -> CallToolResponse {
        match turns.recv().await {
            Some(Turn::Ask {
                state,
                question,
                answer,
            }) => self.park(
                state,
                Parked {
                    call,
                    question,
                    answer,
                    turns,
                },
            ),
            Some(Turn::Done(out)) => runbook_result(out),
            None => failed(Fail::problem(&Problem::uncoded(
                "the run stopped without a report; `mcpoc state show` and the audit journal say how far it went",
            )))
            .into(),
        }
    }

    /// Parks the run on its question under `state` and asks it.
    fn park(&self, state: String, parked: Parked) -> CallToolResponse {
        let Some(params) = elicitation(parked.question.clone()) else {
            return failed(Fail::problem(&Problem::uncoded(
                "the approval question could not be made",
            )))
            .into();
        };
        if let Err(f) = self.shared.runs.park(&state, parked) {
            return failed(f).into();
        }
        let mut requests = InputRequests::new();
        requests.insert(
            APPROVAL_KEY.to_string(),
            InputRequest::Elicitation(ElicitRequest::new(params)),
        );
        InputRequiredResult::new(Some(requests), Some(state)).into()
    }

    async fn dispatch(
        &self,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, Fail> {
        let ws = self.ws();
        let name = request.name.as_ref();
        let result = match name {
            "list_patterns" => {
                args::<NoArgs>(name, request)?;
                let out = PatternsOut {
                    patterns: patterns::list(ws.root()),
                };
                let text = json_text(&out);
                done(&out, text)
            }
            "describe_pattern" => {
                let a: DescribePatternArgs = args(name, request)?;
                let all = patterns::list(ws.root());
                let p = patterns::find(&all, &a.name).map_err(|near| {
                    Problem::new(codes::E0113, format!("there is no pattern `{}`", a.name)).help(
                        if near.is_empty() {
                            "the workspace has no patterns".to_string()
                        } else {
                            format!("the patterns are: {}", near.join(", "))
                        },
                    )
                })?;
                done(p, format!("{}\n\n{}", json_text(p), p.example))
            }
            "describe_type" => {
                let a: DescribeTypeArgs = args(name, request)?;
                let out = crate::describe::describe_type(ws.root(), &a.server, &a.type_name)?;
                let text = format!("{}\n\n{}", json_text(&out), out.example);
                done(&out, text)
            }
            "check" => {
                let a: CheckArgs = args(name, request)?;
                let out = ws.check(&a.source, a.file.as_deref())?;
                let text = if out.ok {
                    format!(
                        "no errors ({} warnings)\n{}",
                        out.warnings,
                        json_text(&out.diagnostics)
                    )
                } else {
                    format!(
                        "{} errors, {} warnings\n{}",
                        out.errors,
                        out.warnings,
                        json_text(&out.diagnostics)
                    )
                };
                done(&out, text)
            }
            "plan" => {
                let a: PlanArgs = args(name, request)?;
                let client = client_name(ctx);
                let out = match (a.source, a.pattern) {
                    (Some(source), None) if a.params.is_none() && a.name.is_none() => {
                        ws.plan_source(source, a.file.as_deref(), &client).await?
                    }
                    (None, Some(pattern)) if a.file.is_none() => {
                        ws.plan_pattern(
                            &pattern,
                            &a.params.unwrap_or_default(),
                            a.name.as_deref(),
                            &client,
                        )
                        .await?
                    }
                    _ => {
                        return Err(Fail::problem(
                            &Problem::uncoded("`plan` takes either `source` (and `file`) or `pattern` (with `params` and `name`)")
                                .usage(),
                        ));
                    }
                };
                let text = format!("{}\n{}", out.text, out.next);
                done(&out, text)
            }
            "modify" => {
                let a: ModifyArgs = args(name, request)?;
                let out = ws.modify(&a.use_name, &a.params, &client_name(ctx)).await?;
                let text = format!("{}\n{}", out.text, out.next);
                done(&out, text)
            }
            "apply" => {
                let a: ApplyArgs = args(name, request)?;
                return Ok(self.approve_and_run(&a.plan_id, request, ctx).await);
            }
            "destroy" => {
                args::<NoArgs>(name, request)?;
                // The retry of an approval question goes on with the plan it asked about.
                let resumed = request
                    .request_state
                    .as_ref()
                    .and_then(|s| self.shared.asked.lock().ok()?.get(s).cloned());
                let id = match resumed {
                    Some(id) => id,
                    None => ws.plan_destroy(&client_name(ctx)).await?.plan_id,
                };
                return Ok(self.approve_and_run(&id, request, ctx).await);
            }
            "query" => {
                let a: QueryArgs = args(name, request)?;
                let out = ws.query(a.address.as_deref())?;
                let text = json_text(&out);
                done(&out, text)
            }
            "list_runbooks" => {
                args::<NoArgs>(name, request)?;
                let out = ws.list_runbooks()?;
                let text = json_text(&out);
                done(&out, text)
            }
            "run_runbook" => {
                let a: RunRunbookArgs = args(name, request)?;
                return Ok(self.run_runbook(a, request, ctx).await);
            }
            "troubleshoot" => {
                args::<NoArgs>(name, request)?;
                let out = ws.troubleshoot().await?;
                let text = format!(
                    "{}\n\nNext steps:\n- {}",
                    json_text(&out),
                    out.next_steps.join("\n- ")
                );
                done(&out, text)
            }
            other => {
                return Err(Fail::problem(
                    &Problem::uncoded(format!("there is no tool `{other}`")).usage(),
                ));
            }
        };
        Ok(result.into())
    }
}

/// A prompt's argument: name, description, required.
type PromptArg = (&'static str, &'static str, bool);

/// The prompts: name, description, arguments.
const PROMPTS: &[(&str, &str, &[PromptArg])] = &[
    (
        "deploy",
        "Deploy something with mcpo: find a pattern or write source, check, plan, show the plan, apply after approval.",
        &[(
            "request",
            "What the person wants deployed, in their words.",
            true,
        )],
    ),
    (
        "troubleshoot",
        "Find out why a deployment misbehaves: server health, drift, failed steps, and what to do.",
        &[("symptom", "What the person noticed, if anything.", false)],
    ),
    (
        "modify",
        "Change the params of a deployed pattern and apply the change after approval.",
        &[
            (
                "use",
                "The name of the deployed pattern's `use` block.",
                true,
            ),
            ("change", "What should change, in the person's words.", true),
        ],
    ),
];

fn prompt_text(name: &str, args: &serde_json::Map<String, Value>) -> Option<String> {
    let arg = |k: &str| {
        args.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let rules = "Rules: only `apply` changes anything, and only after the person approves the exact plan (in the approval dialog, or by running `mcpoc approve PLAN_ID` in a terminal). Never say something was deployed unless `apply` returned outcome `applied`. Sensitive values are shown as \"(sensitive value)\"; never ask the person to paste secrets into the chat.";
    Some(match name {
        "deploy" => format!(
            "The person asks: {}\n\nUse mcpo's tools in this loop:\n1. `list_patterns`; if one fits, `describe_pattern` and fill its params (ask the person for what you cannot infer).\n2. Otherwise write `.mcpo` source: `describe_type` for each resource type you use, so attribute names and types are right.\n3. `check` the source; fix every error (each has a code, a line and a help) and check again until `ok` is true.\n4. `plan` (with `source`, or `pattern` and `params`), then show the plan's `text` to the person.\n5. `apply` with the `plan_id`; the person approves or declines. If approval is not possible in this client, tell them to run `mcpoc approve PLAN_ID` in a terminal, then call `apply` again.\n6. `query` to report what exists and the outputs.\n\n{rules}",
            arg("request")
        ),
        "troubleshoot" => format!(
            "The person reports: {}\n\nCall `troubleshoot` and explain its findings: servers that do not answer, drift, failed steps with their codes (`mcpoc explain CODE` in a terminal explains a code). `query` shows what the state holds. Propose the next steps it lists; to repair, `plan` and `apply` as usual.\n\n{rules}",
            if arg("symptom").is_empty() {
                "nothing specific".to_string()
            } else {
                arg("symptom")
            }
        ),
        "modify" => format!(
            "Change the deployed pattern `{}`: {}\n\n1. `query` and `list_patterns` / `describe_pattern` to see its current params and what they mean.\n2. `modify` with `use` and only the params that change; show the returned plan's `text` and explain each change (replacements especially).\n3. `apply` with the `plan_id` once the person agrees; they approve it in the dialog or with `mcpoc approve PLAN_ID`.\n\n{rules}",
            arg("use"),
            arg("change")
        ),
        _ => return None,
    })
}

fn resource_json<T: Serialize>(uri: &str, value: &T) -> ReadResourceResponse {
    ReadResourceResponse::Complete(ReadResourceResult::new(vec![
        ResourceContents::text(json_text(value), uri.to_string())
            .with_mime_type("application/json"),
    ]))
}

impl ServerHandler for McpoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_server_info(
            Implementation::new("mcpo", env!("CARGO_PKG_VERSION")).with_title("mcpo: deploy across MCP servers"),
        )
        .with_instructions(
            "mcpo deploys infrastructure declared in .mcpo files through MCP servers. You propose, a person approves: \
             `check` and `plan` never change anything; `apply` runs a plan only after the person approves that exact plan. \
             Loop: list_patterns / describe_pattern / describe_type -> write source -> check -> fix -> plan -> show the plan -> apply -> query. \
             The `deploy`, `modify` and `troubleshoot` prompts walk through it.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        Ok(match self.dispatch(&request, &context).await {
            Ok(r) => r,
            Err(f) => failed(f).into(),
        })
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let prompts = PROMPTS
            .iter()
            .map(|(name, description, args)| {
                let args = args
                    .iter()
                    .map(|(n, d, required)| {
                        PromptArgument::new(*n)
                            .with_description(*d)
                            .with_required(*required)
                    })
                    .collect();
                Prompt::new(*name, Some(*description), Some(args))
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let args = request.arguments.clone().unwrap_or_default();
        let Some(text) = prompt_text(&request.name, &args) else {
            return Err(McpError::invalid_params(
                format!("there is no prompt `{}`", request.name),
                None,
            ));
        };
        let description = PROMPTS
            .iter()
            .find(|(n, _, _)| *n == request.name)
            .map(|(_, d, _)| d.to_string());
        let mut result = GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]);
        result.description = description;
        Ok(GetPromptResponse::Complete(result))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let ws = self.ws();
        let mut out = vec![
            Resource::new("mcpo://state", "state")
                .with_description("What the last apply recorded: resources and outputs (sensitive values redacted)")
                .with_mime_type("application/json"),
            Resource::new("mcpo://audit", "audit")
                .with_description("The audit journal: every plan and apply made through this server")
                .with_mime_type("application/json"),
        ];
        for p in ws.store().pending() {
            out.push(
                Resource::new(format!("mcpo://plans/{}", p.id), format!("plan {}", p.id))
                    .with_description(format!("A plan waiting for approval: {}", p.request))
                    .with_mime_type("application/json"),
            );
        }
        for p in patterns::list(ws.root()) {
            out.push(
                Resource::new(
                    format!("mcpo://patterns/{}", p.name),
                    format!("pattern {}", p.name),
                )
                .with_description(
                    p.description
                        .unwrap_or_else(|| format!("The pattern {}", p.name)),
                )
                .with_mime_type("application/json"),
            );
        }
        for (server, _, _) in mcpo_schema::read_pulled_schemas(ws.root()) {
            out.push(
                Resource::new(
                    format!("mcpo://schemas/{server}"),
                    format!("schema {server}"),
                )
                .with_description(format!(
                    "The tools of server `{server}` as pulled by `mcpoc schema pull`"
                ))
                .with_mime_type("application/json"),
            );
        }
        Ok(ListResourcesResult::with_all_items(out))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let templates = [
            (
                "mcpo://plans/{plan_id}",
                "plan",
                "A plan made through this server",
            ),
            (
                "mcpo://patterns/{name}",
                "pattern",
                "A pattern the workspace can use",
            ),
            (
                "mcpo://schemas/{server}",
                "schema",
                "A server's pulled schema",
            ),
            (
                "mcpo://state/{address}",
                "resource",
                "One resource of the state (sensitive values redacted)",
            ),
        ]
        .into_iter()
        .map(|(uri, name, d)| {
            ResourceTemplate::new(uri, name)
                .with_description(d)
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
        let ws = self.ws();
        let uri = request.uri.as_str();
        let not_found =
            |why: String| McpError::resource_not_found(why, Some(json!({ "uri": uri })));
        let rest = uri
            .strip_prefix("mcpo://")
            .ok_or_else(|| not_found(format!("`{uri}` is not an mcpo:// resource")))?;
        let (kind, name) = rest.split_once('/').unwrap_or((rest, ""));
        match (kind, name) {
            ("state", "") => ws
                .query(None)
                .map(|q| resource_json(uri, &q))
                .map_err(|f| not_found(f.text)),
            ("state", address) => ws
                .query(Some(address))
                .map(|q| resource_json(uri, &q))
                .map_err(|f| not_found(f.text)),
            ("audit", "") => Ok(resource_json(uri, &ws.store().journal())),
            ("plans", id) => ws
                .store()
                .load(id)
                .map(|p| resource_json(uri, &plan_out(&p)))
                .map_err(|p| not_found(p.detail)),
            ("patterns", name) => {
                let all = patterns::list(ws.root());
                match patterns::find(&all, name) {
                    Ok(p) => Ok(resource_json(uri, p)),
                    Err(_) => Err(not_found(format!("there is no pattern `{name}`"))),
                }
            }
            ("schemas", server) => mcpo_schema::read_pulled_schemas(ws.root())
                .into_iter()
                .find(|(s, _, _)| s == server)
                .map(|(_, _, text)| {
                    ReadResourceResponse::Complete(ReadResourceResult::new(vec![
                        ResourceContents::text(text, uri.to_string())
                            .with_mime_type("application/json"),
                    ]))
                })
                .ok_or_else(|| not_found(format!("no schema of server `{server}` is pulled"))),
            _ => Err(not_found(format!("there is no resource `{uri}`"))),
        }
    }
}

/// The approval dialog of a runbook run: the client's form elicitation, when it has one.
struct Elicit {
    peer: Option<rmcp::Peer<RoleServer>>,
    /// How long the person has to answer.
    timeout: Duration,
    /// The `mcpoc run` command that runs the same in a terminal.
    command: String,
}

impl Elicit {
    async fn ask(&self, message: String) -> Approval {
        let Some(peer) = &self.peer else {
            return Approval::Unavailable(
                Problem::new(
                    codes::E0634,
                    "the runbook needs a person's approval, and this client cannot ask for it during the run; nothing was called",
                )
                .help(format!(
                    "ask the person to run it in a terminal in the workspace: {} (or call `run_runbook` with `dry_run` to see what it would call)",
                    self.command
                )),
            );
        };
        let Some(params) = elicitation(message) else {
            return Approval::Declined;
        };
        match peer
            .create_elicitation_with_timeout(params, Some(self.timeout))
            .await
        {
            Ok(result) => match judge(&result.action, result.content.as_ref()) {
                Answer::Approved(_) => Approval::Approved,
                _ => Approval::Declined,
            },
            Err(e) => {
                eprintln!("mcpo serve: the approval dialog failed: {e}");
                Approval::Declined
            }
        }
    }
}

impl Approver for Elicit {
    fn approve<'a>(&'a self, request: ApprovalRequest<'a>) -> BoxFuture<'a, Approval> {
        let mut message = request.question.to_string();
        for note in &request.plan.notes {
            message.push_str(&format!("\n{note}"));
        }
        Box::pin(self.ask(message))
    }
}

/// The result of `run_runbook`.
fn runbook_result(out: Result<RunbookOut, Fail>) -> CallToolResponse {
    match out {
        Ok(out) => {
            let text = format!("{}\n{}", out.headline, json_text(&out.steps));
            done(&out, text).into()
        }
        Err(f) => failed(f).into(),
    }
}

/// The `mcpoc run` command that runs the same runbook in a terminal.
fn run_command(name: &str, params: &serde_json::Map<String, Value>) -> String {
    let mut command = format!("mcpoc run {name}");
    for (k, v) in params {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        command.push_str(&format!(" --param '{k}={}'", text.replace('\'', "'\\''")));
    }
    command
}
