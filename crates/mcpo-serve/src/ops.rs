//! What each tool does, over the deployment session of `mcpo-deploy`: checking a
//! proposed file, planning the workspace with it (or with a pattern's `use` block added,
//! or a `use` block's params changed, or everything destroyed), applying a stored plan
//! once a person approved it, and reading the state. No MCP type appears here: the server
//! (`server.rs`) decides how approval is asked and turns results into tool results.

use crate::source;
use crate::store::{
    self, AppliedRecord, AuditEntry, FailedStep, FileWrite, Store, StoredPlan, now,
};
use crate::tools::{
    ApplyOut, CheckOut, Diag, DiagLabel, ErrorInfo, PlanOut, QueryOut, ResourceOut, RunbookInfo,
    RunbookOut, RunbookParam, RunbookStepOut, RunbooksOut, ServerHealth, ToolError,
    TroubleshootOut,
};
use mcpo_deploy::patterns::{self, Origin};
use mcpo_deploy::{Applied, AutoApprove, DeployError, Execution, Problem, Purpose, Session};
use mcpo_diagnostics::{Diagnostic, Severity, SourceMap, codes};
use mcpo_exec::{CancellationToken, ExecError};
use mcpo_mcp::ServerSpec;
use mcpo_plan::{PlanMode, render};
use mcpo_sema::{BackendKind, Setting};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Component, Path, PathBuf};

/// The holder named on the state lock while `serve` plans or applies.
const LOCK_HOLDER: &str = "mcpoc serve";

/// A `run_runbook` call: what to run, and for whom.
#[derive(Debug, Clone)]
pub struct RunbookCall {
    /// The runbook.
    pub name: String,
    /// Its params, as the client gave them.
    pub params: Map<String, Value>,
    /// Call only read-only tools.
    pub dry_run: bool,
    /// Who approved the run (none for a dry run), for the audit journal.
    pub approved_by: Option<String>,
    /// The client, for the audit journal.
    pub client: String,
}

/// A tool's failure: the error result's `structuredContent` and its text.
#[derive(Debug)]
pub struct Fail {
    /// The structured error.
    pub error: Box<ToolError>,
    /// The same for people.
    pub text: String,
}

impl Fail {
    /// A failure from a problem.
    pub fn problem(p: &Problem) -> Fail {
        Fail {
            error: Box::new(ToolError {
                error: ErrorInfo {
                    code: p.code.map(|c| c.as_str().to_string()),
                    message: p.detail.clone(),
                    help: p.help.clone(),
                },
                diagnostics: Vec::new(),
                plan_id: None,
            }),
            text: mcpo_deploy::render::problem(p),
        }
    }

    /// The same failure, about plan `id`.
    pub fn about(mut self, id: &str) -> Fail {
        self.error.plan_id = Some(id.to_string());
        self
    }

    fn exec(e: &ExecError) -> Fail {
        Fail {
            error: Box::new(ToolError {
                error: ErrorInfo {
                    code: Some(e.code.as_str().to_string()),
                    message: e.message.clone(),
                    help: e.help.clone(),
                },
                diagnostics: Vec::new(),
                plan_id: None,
            }),
            text: e.to_string(),
        }
    }
}

impl From<Problem> for Fail {
    fn from(p: Problem) -> Fail {
        Fail::problem(&p)
    }
}

impl From<DeployError> for Fail {
    fn from(e: DeployError) -> Fail {
        match e {
            DeployError::Problem(p) => Fail::problem(&p),
            DeployError::Exec(e) => Fail::exec(&e),
            DeployError::State(e) => Fail {
                error: Box::new(ToolError {
                    error: ErrorInfo {
                        code: Some(e.code().as_str().to_string()),
                        message: e.to_string(),
                        help: None,
                    },
                    diagnostics: Vec::new(),
                    plan_id: None,
                }),
                text: e.render(),
            },
            DeployError::Diagnostics {
                mut diagnostics,
                sources,
                then,
            } => {
                mcpo_diagnostics::sort(&mut diagnostics);
                let then = then.unwrap_or_else(|| {
                    Problem::new(
                        codes::E0630,
                        "the workspace has errors; nothing was planned",
                    )
                });
                let mut fail = Fail::problem(&then);
                fail.text = format!(
                    "{}{}",
                    mcpo_diagnostics::render::render(&diagnostics, &sources, Default::default()),
                    fail.text
                );
                fail.error.diagnostics = diags(&diagnostics, &sources);
                fail
            }
        }
    }
}

/// Diagnostics in the tools' shape.
pub fn diags(diagnostics: &[Diagnostic], sources: &dyn SourceMap) -> Vec<Diag> {
    mcpo_diagnostics::json::document(diagnostics, sources)
        .diagnostics
        .into_iter()
        .map(|d| Diag {
            code: d.code,
            severity: d.severity.to_string(),
            file: d.file,
            line: d.line,
            column: d.column,
            end_line: d.end_line,
            end_column: d.end_column,
            message: d.message,
            help: d.help,
            labels: d
                .labels
                .into_iter()
                .map(|l| DiagLabel {
                    file: l.file,
                    line: l.line,
                    column: l.column,
                    message: l.message,
                })
                .collect(),
        })
        .collect()
}

/// Runs a session operation on a thread of its own: the checker's database is not
/// `Sync`, so a future holding a session cannot move between the server's threads.
async fn on_own_thread<T, F, Fut>(f: F) -> Result<T, Fail>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Fail>>,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(f()))
        .await
        .map_err(|e| Fail::problem(&Problem::uncoded(format!("the operation stopped: {e}"))))?
}

/// The variables of a plan: `MCPO_VAR_<name>` from the server's environment.
fn variables() -> Result<BTreeMap<String, String>, Problem> {
    mcpo_deploy::vars::collect_vars(&mcpo_deploy::VarSources::default(), std::env::vars())
        .map(mcpo_deploy::vars::var_texts)
}

/// A workspace file name a client gave: relative, inside the workspace, a `.mcpo` file.
pub fn file_name(file: Option<&str>) -> Result<String, Problem> {
    let name = file.unwrap_or("main.mcpo").trim();
    let path = Path::new(name);
    let inside = !name.is_empty()
        && path.components().all(|c| matches!(c, Component::Normal(_)))
        && !name.split('/').any(|part| part.starts_with('.'));
    if !inside || !name.ends_with(".mcpo") || name.len() <= ".mcpo".len() {
        return Err(Problem::uncoded(format!(
            "`{name}` is not a workspace source file: give a relative `.mcpo` path inside the workspace (e.g. `main.mcpo`, `network/vlans.mcpo`), without `..` or hidden directories"
        ))
        .usage());
    }
    Ok(name.to_string())
}

/// The servers the workspace declares, by name, with the files in `overrides` holding
/// the given texts.
fn declared_servers(
    root: &Path,
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<BTreeMap<String, ServerSpec>, Problem> {
    use mcpo_deploy::servers;
    let (sources, decls, _) = servers::load_with(&[root.to_path_buf()], overrides)
        .map_err(|e| Problem::uncoded(e).usage())?;
    let registry = servers::discover_if_needed(&decls, root);
    Ok(servers::server_specs(&decls, &registry, &sources, root).by_name())
}

/// Whether two declarations start the same server the same way (where their blocks are
/// written does not matter).
fn same_server(a: &ServerSpec, b: &ServerSpec) -> bool {
    a.transport == b.transport
        && a.max_concurrency == b.max_concurrency
        && a.timeout == b.timeout
        && a.max_message_bytes == b.max_message_bytes
}

/// A source an AI client proposed (`file`) must leave the workspace's `server` and
/// `backend` blocks as they are on disk: planning starts every declared server, so a block
/// the model added or changed would run a program, or call a URL with its headers, that no
/// person chose, before anyone approved anything; and a changed backend would read and
/// write the state somewhere else (E0641). The schema lock refuses most such blocks too
/// (not pulled, E0301; stale, E0302), but this rule does not depend on what it records. `overrides` holds the proposed file. This is
/// judged before the workspace is checked, so the model learns of it first.
fn same_servers(
    root: &Path,
    overrides: &BTreeMap<PathBuf, String>,
    file: &str,
) -> Result<(), Problem> {
    let on_disk = declared_servers(root, &BTreeMap::new())?;
    let proposed = declared_servers(root, overrides)?;
    let names: BTreeSet<&String> = on_disk.keys().chain(proposed.keys()).collect();
    let mut changes: Vec<String> = names
        .into_iter()
        .filter_map(|name| match (on_disk.get(name), proposed.get(name)) {
            (Some(a), Some(b)) if same_server(a, b) => None,
            (Some(_), Some(_)) => Some(format!("`{name}` is changed")),
            (None, _) => Some(format!("`{name}` is new")),
            (_, None) => Some(format!("`{name}` is removed")),
        })
        .collect();
    let backend = |overrides: &BTreeMap<PathBuf, String>| {
        mcpo_deploy::servers::backend_with(&[root.to_path_buf()], overrides)
            .map(|kind| kind.as_ref().map(backend_text))
            .map_err(|e| Problem::uncoded(e).usage())
    };
    match (backend(&BTreeMap::new())?, backend(overrides)?) {
        (a, b) if a == b => {}
        (None, Some(_)) => changes.push("a `backend` block is added".into()),
        (Some(_), None) => changes.push("the `backend` block is removed".into()),
        _ => changes.push("the `backend` block is changed".into()),
    }
    if changes.is_empty() {
        return Ok(());
    }
    Err(Problem::new(
        codes::E0641,
        format!(
            "`{file}` changes what the workspace connects to: {}; nothing was planned and no server was started",
            changes.join(", ")
        ),
    )
    .help("propose the file with the workspace's `server` and `backend` blocks as they are; a new or changed server or state backend is for a person to write"))
}

/// A backend block's kind and settings, for comparing two of them (where the block is
/// written does not matter).
fn backend_text(kind: &BackendKind) -> String {
    match kind {
        BackendKind::Local => "local".into(),
        BackendKind::Postgres { url, name } => {
            let url = match url {
                Setting::Value(v) => v.clone(),
                Setting::Unset { message, .. } => format!("(unset: {message})"),
            };
            format!("postgres {url} {name}")
        }
    }
}

/// The workspace `serve` serves.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
    store: Store,
}

/// A stored plan ready to run once approved, or the answer when it must not run again.
pub enum Prepared {
    /// It may run after approval.
    Ready(Box<StoredPlan>),
    /// It ran already: a second apply does nothing.
    Done(Box<ApplyOut>),
}

impl Workspace {
    /// The workspace at `root`.
    pub fn new(root: PathBuf) -> Workspace {
        let store = Store::new(&root);
        Workspace { root, store }
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `serve`'s files.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn audit(&self, entry: AuditEntry) {
        if let Err(p) = self.store.audit(&entry) {
            eprintln!(
                "mcpo serve: the audit journal could not be written: {}",
                p.detail
            );
        }
    }

    /// `check`: the workspace's diagnostics with `source` as file `file`.
    pub fn check(&self, source: &str, file: Option<&str>) -> Result<CheckOut, Fail> {
        let file = file_name(file)?;
        let overrides = BTreeMap::from([(self.root.join(&file), source.to_string())]);
        let mut report =
            mcpo_deploy::load::check_paths(std::slice::from_ref(&self.root), false, &overrides)?;
        mcpo_diagnostics::sort(&mut report.diagnostics);
        let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
        let warnings = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        Ok(CheckOut {
            ok: errors == 0,
            errors,
            warnings,
            diagnostics: diags(&report.diagnostics, &report.sources),
        })
    }

    /// `plan` of a source file.
    pub async fn plan_source(
        &self,
        source: String,
        file: Option<&str>,
        client: &str,
    ) -> Result<PlanOut, Fail> {
        let file = file_name(file)?;
        let request = format!("plan {file}");
        self.make_plan(
            Some(FileWrite { file, text: source }),
            PlanMode::Normal,
            request,
            client,
        )
        .await
    }

    /// `plan` of a pattern: a `use` block added in `<name>.mcpo`.
    pub async fn plan_pattern(
        &self,
        pattern: &str,
        params: &Map<String, Value>,
        name: Option<&str>,
        client: &str,
    ) -> Result<PlanOut, Fail> {
        let all = patterns::list(&self.root);
        let info = patterns::find(&all, pattern).map_err(|near| {
            let help = if near.is_empty() {
                "the workspace declares no patterns (`list_patterns` lists what there is)"
                    .to_string()
            } else {
                format!("the patterns are: {}", near.join(", "))
            };
            Problem::new(codes::E0113, format!("there is no pattern `{pattern}`")).help(help)
        })?;
        let name = name.unwrap_or(pattern);
        if !source::is_name(name) {
            return Err(
                Problem::uncoded(format!("`{name}` is not a valid `use` name"))
                    .usage()
                    .into(),
            );
        }
        let missing: Vec<&str> = info
            .params
            .iter()
            .filter(|p| p.required && !params.contains_key(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Problem::new(
                codes::E0103,
                format!(
                    "pattern `{pattern}` needs the params {}",
                    missing.join(", ")
                ),
            )
            .help("`describe_pattern` lists its params with their types")
            .usage()
            .into());
        }
        let file = format!("{name}.mcpo");
        if self.root.join(&file).exists() {
            return Err(Problem::uncoded(format!("`{file}` exists already"))
                .help(format!("to change the params of a deployed pattern use `modify` with `use = \"{name}\"`, or pick another `name`"))
                .usage()
                .into());
        }
        let origin = match info.origin {
            Origin::Workspace => ("pattern", info.name.clone()),
            Origin::Stdlib => ("source", format!("stdlib/{}", info.name)),
        };
        let text = source::use_block(name, origin, params)?;
        let request = format!("plan pattern {pattern} as {name}");
        self.make_plan(
            Some(FileWrite { file, text }),
            PlanMode::Normal,
            request,
            client,
        )
        .await
    }

    /// `modify`: the params of `use "<name>"` changed where it is written.
    pub async fn modify(
        &self,
        name: &str,
        params: &Map<String, Value>,
        client: &str,
    ) -> Result<PlanOut, Fail> {
        let found = mcpo_deploy::files::collect(std::slice::from_ref(&self.root))
            .map_err(|e| Problem::uncoded(e.0))?;
        let mut files = Vec::new();
        for path in found {
            if mcpo_deploy::files::is_template(&path) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let rel = path.strip_prefix(&self.root).unwrap_or(&path);
            files.push((rel.to_string_lossy().into_owned(), text));
        }
        let (file, text) = source::modify_use(&files, name, params)?;
        let request = format!("modify use {name}");
        self.make_plan(
            Some(FileWrite { file, text }),
            PlanMode::Normal,
            request,
            client,
        )
        .await
    }

    /// The plan of `destroy`.
    pub async fn plan_destroy(&self, client: &str) -> Result<PlanOut, Fail> {
        self.make_plan(None, PlanMode::Destroy, "destroy".into(), client)
            .await
    }

    async fn make_plan(
        &self,
        write: Option<FileWrite>,
        mode: PlanMode,
        request: String,
        client: &str,
    ) -> Result<PlanOut, Fail> {
        let root = self.root.clone();
        let overrides: BTreeMap<PathBuf, String> = write
            .iter()
            .map(|w| (root.join(&w.file), w.text.clone()))
            .collect();
        let digest = store::workspace_digest(&root)?;
        let written = write.as_ref().map(|w| w.file.clone());
        let plan = on_own_thread(move || async move {
            if let Some(file) = &written {
                same_servers(&root, &overrides, file)?;
            }
            let checked = mcpo_deploy::load::load_with(&root, &overrides)?;
            let vars = variables()?;
            let mut s = Session::open_declared(checked, vars, LOCK_HOLDER)?;
            s.connect().await;
            let planned = async {
                let report = s.refresh().await?;
                if let Some(p) = mcpo_deploy::refresh_refusal(&report, Purpose::Plan) {
                    let mut lines: Vec<String> =
                        report.errors.iter().map(ToString::to_string).collect();
                    lines.push(p.detail.clone());
                    return Err(DeployError::from(Problem {
                        detail: lines.join("\n"),
                        ..p
                    }));
                }
                s.plan(mode).await
            }
            .await;
            s.close().await;
            Ok(planned?.plan)
        })
        .await?;
        let stored = StoredPlan {
            id: store::new_id(&plan),
            created: now(),
            client: client.to_string(),
            request,
            write,
            workspace: digest,
            plan,
            applied: None,
        };
        self.store.save(&stored)?;
        let out = plan_out(&stored);
        self.audit(AuditEntry {
            at: stored.created,
            client: client.to_string(),
            action: if mode == PlanMode::Destroy {
                "destroy"
            } else {
                "plan"
            }
            .into(),
            plan_id: stored.id.clone(),
            summary: format!("{}: {}", stored.request, counts_line(&out.counts)),
            approval: None,
            outcome: "planned".into(),
            failed: Vec::new(),
        });
        Ok(out)
    }

    /// The plan `id` if it may still run: known, not run yet, made from the workspace's
    /// files and state as they are now.
    pub fn prepare(&self, id: &str) -> Result<Prepared, Fail> {
        let stored = self
            .store
            .load(id)
            .map_err(|p| Fail::problem(&p).about(id))?;
        if let Some(done) = &stored.applied {
            return Ok(Prepared::Done(Box::new(ApplyOut {
                plan_id: stored.id.clone(),
                outcome: "already applied".into(),
                approved_by: Some(done.approved_by.clone()),
                file_written: None,
                done: BTreeMap::new(),
                failed: Vec::new(),
                skipped: Vec::new(),
                headline: format!(
                    "Plan {} was applied already ({}); nothing was done this time.",
                    stored.id, done.headline
                ),
                outputs: BTreeMap::new(),
            })));
        }
        self.still_current(&stored)?;
        let state = mcpo_deploy::backend::for_workspace(&self.root)
            .and_then(|b| Ok(b.read()?))
            .map_err(Fail::from)?;
        mcpo_deploy::planfile::still_fits(&stored.plan, &state)
            .map_err(|p| Fail::problem(&p.help("make a new plan and apply that")).about(id))?;
        Ok(Prepared::Ready(Box::new(stored)))
    }

    fn still_current(&self, stored: &StoredPlan) -> Result<(), Fail> {
        if store::workspace_digest(&self.root)? != stored.workspace {
            return Err(Fail::problem(
                &Problem::new(
                    codes::E0640,
                    format!(
                        "the workspace's files changed after plan `{}` was made; nothing was changed",
                        stored.id
                    ),
                )
                .help("make a new plan and apply that"),
            )
            .about(&stored.id));
        }
        Ok(())
    }

    /// Records a refusal (declined, no approval) in the journal.
    pub fn refused(&self, stored: &StoredPlan, client: &str, outcome: &str) {
        self.audit(AuditEntry {
            at: now(),
            client: client.to_string(),
            action: action_of(stored).into(),
            plan_id: stored.id.clone(),
            summary: stored.request.clone(),
            approval: None,
            outcome: outcome.into(),
            failed: Vec::new(),
        });
    }

    /// Runs an approved plan: its file written, then exactly its steps.
    pub async fn run(
        &self,
        stored: StoredPlan,
        approved_by: &str,
        client: &str,
    ) -> Result<ApplyOut, Fail> {
        let id = stored.id.clone();
        let this = self.clone();
        let approved = approved_by.to_string();
        let client_name = client.to_string();
        on_own_thread(move || async move {
            let (checked, vars) = mcpo_deploy::planfile::workspace(&this.root, &stored.plan)?;
            let mut s = Session::open_declared(checked, vars, LOCK_HOLDER)?;
            // Under the lock: nothing may have moved since the approval was asked.
            mcpo_deploy::planfile::still_fits(&stored.plan, s.state())
                .map_err(|p| Fail::problem(&p.help("make a new plan and apply that")))?;
            this.still_current(&stored)?;
            if let Some(w) = &stored.write {
                let path = this.root.join(&w.file);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Problem::uncoded(format!("cannot create `{}`: {e}", dir.display()))
                    })?;
                }
                mcpo_deploy::files::write_atomically(&path, &w.text).map_err(|e| {
                    Problem::uncoded(format!(
                        "cannot write `{}`: {}; nothing was changed",
                        w.file,
                        mcpo_deploy::files::io_reason(&e)
                    ))
                })?;
            }
            s.connect().await;
            let result = async {
                let planned = s.plan_saved(stored.plan.clone()).await?;
                s.apply(
                    &planned,
                    &Execution::default(),
                    &AutoApprove,
                    None,
                    CancellationToken::new(),
                )
                .await
            }
            .await;
            let state = s.state().clone();
            s.close().await;
            let applied = result?;
            this.store.consume_approval(&stored.id);
            let mut out = ApplyOut {
                plan_id: stored.id.clone(),
                outcome: "no changes".into(),
                approved_by: Some(approved.clone()),
                file_written: stored.write.as_ref().map(|w| w.file.clone()),
                done: BTreeMap::new(),
                failed: Vec::new(),
                skipped: Vec::new(),
                headline: "No changes. The infrastructure matches the configuration.".into(),
                outputs: state
                    .outputs
                    .iter()
                    .map(|(k, o)| (k.clone(), o.redacted()))
                    .collect(),
            };
            let mut ok = true;
            if let Applied::Ran(summary) = &applied {
                let title = if stored.plan.mode == PlanMode::Destroy {
                    "Destroy"
                } else {
                    "Apply"
                };
                let text = mcpo_deploy::render::summary(summary, title, &state, summary.elapsed);
                ok = summary.ok();
                out.outcome = if ok { "applied" } else { "failed" }.into();
                out.headline = text.headline;
                out.done = summary
                    .done
                    .iter()
                    .map(|(a, n)| (a.verb().to_string(), *n))
                    .collect();
                out.failed = summary.failed.iter().map(failed_step).collect();
                out.skipped = summary.skipped.iter().map(|(a, _)| a.clone()).collect();
            }
            let mut record = stored.clone();
            record.applied = Some(AppliedRecord {
                at: now(),
                approved_by: approved.clone(),
                ok,
                headline: out.headline.clone(),
            });
            this.store.save(&record)?;
            this.audit(AuditEntry {
                at: now(),
                client: client_name,
                action: action_of(&stored).into(),
                plan_id: stored.id.clone(),
                summary: format!("{}: {}", stored.request, out.headline),
                approval: Some(approved),
                outcome: out.outcome.clone(),
                failed: out.failed.clone(),
            });
            Ok(out)
        })
        .await
        .map_err(|f| f.about(&id))
    }

    /// `list_runbooks`: the workspace's runbooks with their params and steps.
    pub fn list_runbooks(&self) -> Result<RunbooksOut, Fail> {
        let checked = mcpo_deploy::load::load_with(&self.root, &BTreeMap::new())?;
        let runbooks = mcpo_deploy::runbook::runbooks(&checked)
            .into_values()
            .map(|b| RunbookInfo {
                name: b.name,
                module: b.module.map(|m| m.origin),
                description: b.description,
                params: b
                    .params
                    .into_iter()
                    .map(|p| RunbookParam {
                        name: p.name,
                        type_name: p.ty.to_string(),
                        required: p.default.is_none(),
                        description: p.description,
                    })
                    .collect(),
                steps: b.steps.into_iter().map(|s| s.name).collect(),
            })
            .collect();
        Ok(RunbooksOut { runbooks })
    }

    /// `run_runbook`: runs the runbook `name` (approved by `approved_by` unless it is a dry
    /// run); its approval steps ask `approver`; after `cancel` no step starts and an
    /// unanswered approval is left for `--resume`. Journalled in the state like `mcpoc
    /// run`, and in the audit journal.
    pub async fn run_runbook(
        &self,
        call: RunbookCall,
        approver: std::sync::Arc<dyn mcpo_deploy::Approver>,
        cancel: CancellationToken,
    ) -> Result<RunbookOut, Fail> {
        let this = self.clone();
        let RunbookCall {
            name,
            params,
            dry_run,
            approved_by,
            client,
        } = call;
        on_own_thread(move || async move {
            let checked = mcpo_deploy::load::load_with(&this.root, &BTreeMap::new())?;
            let vars = variables()?;
            let mut s = Session::open_declared(checked, vars, LOCK_HOLDER)?;
            let opts = mcpo_deploy::runbook::RunOptions {
                params: params
                    .iter()
                    .map(|(k, v)| (k.clone(), param_text(v)))
                    .collect(),
                dry_run,
                resume: false,
                parallelism: 10,
                approve_run: true,
            };
            // The run connects to the servers its steps call.
            let ran = s
                .run_runbook(&name, &opts, approver.as_ref(), None, cancel)
                .await;
            s.close().await;
            let report = ran?;
            let out = RunbookOut {
                run_id: if dry_run {
                    String::new()
                } else {
                    report.id.clone()
                },
                runbook: report.runbook.clone(),
                outcome: json_word(&report.status),
                dry_run,
                approved_by: approved_by.clone(),
                steps: report
                    .steps
                    .iter()
                    .map(|(n, r)| RunbookStepOut {
                        name: n.clone(),
                        status: json_word(&r.status),
                        attempts: r.attempts,
                        result: r.result.clone(),
                        error: r.error.clone(),
                    })
                    .collect(),
                not_started: report.not_started.clone(),
                failed: report.errors.iter().map(failed_step).collect(),
                headline: report.lines().join("\n"),
            };
            if !dry_run {
                this.audit(AuditEntry {
                    at: now(),
                    client,
                    action: "run_runbook".into(),
                    plan_id: report.id.clone(),
                    summary: format!("runbook `{name}`: {}", out.headline),
                    approval: approved_by,
                    outcome: out.outcome.clone(),
                    failed: out.failed.clone(),
                });
            }
            Ok(out)
        })
        .await
    }

    /// `query`: what the state holds (sensitive values redacted).
    pub fn query(&self, address: Option<&str>) -> Result<QueryOut, Fail> {
        let state = mcpo_deploy::backend::for_workspace(&self.root)
            .and_then(|b| Ok(b.read()?))
            .map_err(Fail::from)?;
        let resources = match address {
            Some(a) => {
                let r = mcpo_deploy::query::resource(&state, a)?;
                let shown = r.redacted();
                vec![ResourceOut {
                    address: a.to_string(),
                    server: r.server.clone(),
                    type_name: r.type_name.clone(),
                    id: r.id.clone(),
                    tainted: r.tainted,
                    inputs: shown.get("inputs").cloned(),
                    outputs: shown.get("outputs").cloned(),
                    depends_on: Some(r.deps.clone()),
                }]
            }
            None => state
                .resources
                .iter()
                .map(|(a, r)| ResourceOut {
                    address: a.clone(),
                    server: r.server.clone(),
                    type_name: r.type_name.clone(),
                    id: r.id.clone(),
                    tainted: r.tainted,
                    inputs: None,
                    outputs: None,
                    depends_on: None,
                })
                .collect(),
        };
        Ok(QueryOut {
            serial: state.serial,
            resources,
            outputs: state
                .outputs
                .iter()
                .map(|(k, o)| (k.clone(), o.redacted()))
                .collect(),
        })
    }

    /// `troubleshoot`: server health, drift, the last failed steps, what to do next.
    pub async fn troubleshoot(&self) -> Result<TroubleshootOut, Fail> {
        let root = self.root.clone();
        let (servers, drift, load_problem) = on_own_thread(move || async move {
            let checked = match mcpo_deploy::load::load(&root) {
                Ok(c) => c,
                Err(e) => {
                    let fail = Fail::from(e);
                    return Ok((Vec::new(), Vec::new(), Some(fail.text)));
                }
            };
            let mut servers = Vec::new();
            let checks = checked.servers.values().map(|spec| async move {
                (spec.name.clone(), mcpo_deploy::pull::health(spec).await)
            });
            for (name, health) in futures::future::join_all(checks).await {
                servers.push(match health {
                    Ok((_, tools, rtt)) => ServerHealth {
                        name,
                        ok: true,
                        tools: Some(tools),
                        latency_ms: Some(u64::try_from(rtt.as_millis()).unwrap_or(u64::MAX)),
                        error: None,
                    },
                    Err(e) => ServerHealth {
                        name,
                        ok: false,
                        tools: None,
                        latency_ms: None,
                        error: Some(e.to_string()),
                    },
                });
            }
            let vars = variables()?;
            let mut s = Session::open_declared(checked, vars, LOCK_HOLDER)?;
            s.connect().await;
            let report = s.refresh().await;
            s.close().await;
            let report = report?;
            let mut drift = mcpo_deploy::render::refresh_notes(&report, true);
            drift.extend(report.errors.iter().map(ToString::to_string));
            Ok((servers, drift, None))
        })
        .await?;
        let journal = self.store.journal();
        let failed_steps = journal
            .iter()
            .rev()
            .find(|e| e.action != "plan" && e.approval.is_some())
            .map(|e| e.failed.clone())
            .unwrap_or_default();
        let mut next_steps = Vec::new();
        if let Some(text) = load_problem {
            next_steps.push(format!(
                "the workspace does not check; fix it first (`check` shows the same):\n{text}"
            ));
        }
        for s in servers.iter().filter(|s| !s.ok) {
            next_steps.push(format!(
                "server `{}` does not answer: check its `server` block (command, URL) and that it runs; `mcpoc servers --health` in a terminal shows the same",
                s.name
            ));
        }
        if !drift.is_empty() {
            next_steps.push(
                "something changed outside mcpo: `plan` shows what applying puts back".into(),
            );
        }
        for f in &failed_steps {
            let help = f
                .help
                .clone()
                .unwrap_or_else(|| format!("`mcpoc explain {}` says more", f.code));
            next_steps.push(format!(
                "{} failed with {}: {help}; then `plan` again",
                f.address, f.code
            ));
        }
        if next_steps.is_empty() {
            next_steps.push("nothing is wrong: every server answers, nothing drifted and the last apply succeeded".into());
        }
        let recent = journal.iter().rev().take(10).rev().cloned().collect();
        Ok(TroubleshootOut {
            servers,
            drift,
            failed_steps,
            recent,
            next_steps,
        })
    }
}

/// A param's JSON value as `--param` text: a string as it is, anything else as its JSON
/// (which reads as the same list, object, number or bool).
fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The serialized name of a unit enum value (`succeeded`, `done`, ...).
fn json_word<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn failed_step(e: &ExecError) -> FailedStep {
    FailedStep {
        address: e.address.clone().unwrap_or_default(),
        code: e.code.as_str().to_string(),
        message: e.message.clone(),
        help: e.help.clone(),
    }
}

fn action_of(stored: &StoredPlan) -> &'static str {
    if stored.plan.mode == PlanMode::Destroy {
        "destroy"
    } else {
        "apply"
    }
}

fn counts_line(counts: &BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "no changes".into();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} to {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A stored plan as the `plan` tool returns it.
pub fn plan_out(stored: &StoredPlan) -> PlanOut {
    let plan = &stored.plan;
    let json = render::plan_json(plan);
    let counts: BTreeMap<String, usize> = plan
        .counts()
        .into_iter()
        .map(|(a, n)| (a.verb().to_string(), n))
        .collect();
    let mut text = String::new();
    if let Some(w) = &stored.write {
        text.push_str(&format!(
            "Applying this plan writes `{}` into the workspace first.\n\n",
            w.file
        ));
    }
    text.push_str(&render::plan_text(plan));
    PlanOut {
        plan_id: stored.id.clone(),
        mode: if plan.mode == PlanMode::Destroy {
            "destroy"
        } else {
            "normal"
        }
        .into(),
        has_changes: plan.has_changes(),
        counts,
        file: stored.write.as_ref().map(|w| w.file.clone()),
        text,
        changes: json
            .get("changes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        outputs: json
            .get("outputs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        next: format!(
            "Show this plan to the person, then call `apply` with plan_id \"{}\": it runs only once they approve it (in this client's approval dialog, or with `mcpoc approve {}` in a terminal).",
            stored.id, stored.id
        ),
    }
}
