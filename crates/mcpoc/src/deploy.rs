//! `mcpoc plan`, `apply`, `destroy`, `graph`, `refresh` and `import`: wiring the checked
//! workspace (`mcpo-sema`), the state (`mcpo-state`), planning (`mcpo-plan`) and the
//! executor (`mcpo-exec`) together, and printing what happens. No rule lives here.

use crate::output::{self, Format};
use crate::progress::{Event as ProgressEvent, Progress, Verb};
use crate::report::CliError;
use clap::{Args, ValueEnum};
use mcpo_diagnostics::{Diagnostic, FileId, SourceMap, Sources, codes};
use mcpo_exec::{
    Action, ApplyOptions, Connections, Evaluator, EventKind, ExecError, PlanEvaluator,
    RefreshOptions, RefreshReport, StateStore, Step,
};
use mcpo_mcp::{ConnectOptions, ServerSpec};
use mcpo_plan::{Plan, PlanInputs, PlanMode, PlanSource, Program, render};
use mcpo_sema::{Database, Workspace};
use mcpo_state::{LocalBackend, LockGuard, LockInfo, State};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where the workspace is.
#[derive(Debug, Clone, Args)]
pub struct WorkspaceArg {
    /// The workspace directory (default: the current directory).
    #[arg(long = "dir", short = 'C', value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl WorkspaceArg {
    /// The workspace root: `--dir`, else the current directory.
    pub fn root(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| PathBuf::from("."))
    }
}

/// Input variables from the command line, files and the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct VarArgs {
    /// Set a variable: `--var name=value` (also `-var name=value`). Repeatable; wins over
    /// `--var-file` and `MCPO_VAR_<name>`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a file: JSON (`{"name": value}`) or `name = value` lines in
    /// mcpo syntax. Repeatable; later files win.
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PlanFormat {
    /// For people: the changes grouped in waves, attribute by attribute.
    #[default]
    Text,
    /// The plan document as JSON on stdout.
    Json,
}

/// How the graph is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`mcpoc graph | dot -Tsvg > graph.svg`).
    #[default]
    Dot,
    /// A Mermaid flowchart (renders in Markdown on most forges).
    Mermaid,
}

/// Arguments of `mcpoc plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub ws: WorkspaceArg,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Also save the plan to this file, to apply exactly it later with `mcpoc apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there is nothing to change, 2 when there are changes, 1 on errors.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan from the recorded state without reading the resources from their servers.
    #[arg(long)]
    pub no_refresh: bool,
}

/// Arguments of `mcpoc apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `mcpoc plan --out FILE`: apply exactly it (no question asked). It
    /// is refused when the state changed since it was made.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub ws: WorkspaceArg,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// At most this many operations in flight at once (each server's `max_concurrency`
    /// also applies).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: u32,
    /// When a step fails, undo the steps of this run that succeeded (in reverse order)
    /// so the servers are left as they were.
    #[arg(long)]
    pub rollback_on_failure: bool,
}

/// Arguments of `mcpoc destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub ws: WorkspaceArg,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Destroy without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// At most this many operations in flight at once.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: u32,
}

/// Arguments of `mcpoc graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub ws: WorkspaceArg,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: GraphFormat,
}

/// Arguments of `mcpoc refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub ws: WorkspaceArg,
    #[command(flatten)]
    pub vars: VarArgs,
}

/// Arguments of `mcpoc import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The address to record the resource under, as declared in the workspace
    /// (`aws.vpc.main`, `aws.vpc.web[0]`).
    #[arg(value_name = "ADDR")]
    pub address: String,
    /// The resource's id on its server.
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub ws: WorkspaceArg,
    #[command(flatten)]
    pub vars: VarArgs,
}

/// Rewrites Terraform-style single-dash long options (`-var x=1`, `-var-file f`,
/// `-var=x=1`) into clap's `--var` form, so both spellings work.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            for opt in ["-var", "-var-file"] {
                if a == opt {
                    return format!("-{a}");
                }
                if let Some(rest) = a.strip_prefix(opt)
                    && rest.starts_with('=')
                {
                    return format!("-{opt}{rest}");
                }
            }
            a
        })
        .collect()
}

/// A checked workspace, ready to be lowered.
pub struct Checked {
    /// The workspace root.
    pub root: PathBuf,
    /// The salsa database holding the files and schemas.
    pub db: Database,
    /// The workspace input.
    pub workspace: Workspace,
    /// The source texts, for rendering diagnostics.
    pub sources: Sources,
    /// `(name, text)` of every source file, for saved plans.
    pub texts: Vec<(String, String)>,
    /// The servers the workspace declares, by name (discovered declarations for `server`
    /// blocks without a transport).
    pub servers: BTreeMap<String, ServerSpec>,
}

/// Loads, parses and checks the workspace at `root` exactly as `mcpoc check` does. With
/// errors, prints them (warnings too) and returns the exit code; warnings alone are
/// printed and loading goes on.
pub fn load_checked(root: &Path) -> Result<Checked, u8> {
    let files = match crate::files::collect(&[root.to_path_buf()]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(crate::EXIT_USAGE);
        }
    };
    if files.is_empty() {
        return Err(CliError::new(
            codes::E0630,
            format!("no .mcpo files under `{}`", root.display()),
        )
        .help("run the command in a workspace directory, or name one with --dir")
        .exit(crate::EXIT_USAGE)
        .report());
    }
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let loaded = match crate::source::load(&files, &mut sources, &mut diags) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(crate::EXIT_USAGE);
        }
    };
    // Deployment templates (`*.mcpo.json`) are planned as the source they convert to.
    let mut ids: Vec<FileId> = Vec::with_capacity(loaded.len());
    for f in &loaded {
        if !crate::files::is_template(&f.path) {
            ids.push(f.id);
            continue;
        }
        let json = sources.text(f.id).to_string();
        match crate::typecheck::template_source(root, &json) {
            Ok(text) => {
                let name = format!("{} (as .mcpo)", sources.name(f.id));
                ids.push(sources.add(name, text));
            }
            Err(e) => diags.push(
                Diagnostic::error(
                    codes::E0014,
                    f.id,
                    mcpo_diagnostics::Span::new(0, 0),
                    "invalid deployment template",
                )
                .with_primary_label(e),
            ),
        }
    }
    check_loaded(root, sources, ids, diags)
}

/// Checks a workspace given as `(name, text)` pairs (the sources embedded in a saved
/// plan), with the schemas pulled under `root`.
pub fn load_checked_texts(root: &Path, texts: Vec<(String, String)>) -> Result<Checked, u8> {
    let mut sources = Sources::new();
    let ids = texts
        .into_iter()
        .map(|(name, text)| sources.add(name, text))
        .collect();
    check_loaded(root, sources, ids, Vec::new())
}

fn check_loaded(
    root: &Path,
    sources: Sources,
    ids: Vec<FileId>,
    mut diags: Vec<Diagnostic>,
) -> Result<Checked, u8> {
    for id in &ids {
        diags.extend(mcpo_syntax::parse(sources.text(*id), *id).diagnostics);
    }
    let (db, workspace, registry) = crate::typecheck::database(root, &ids, &sources);
    diags.extend(mcpo_sema::check_semantics(&db, workspace));
    let specs =
        crate::workspace::server_specs(mcpo_sema::servers(&db, workspace), &registry, &sources);
    diags.extend(specs.diagnostics());
    let servers = specs.by_name();
    if !diags.is_empty() {
        output::print(&mut diags, &sources, Format::Human);
    }
    if diags.iter().any(Diagnostic::is_error) {
        return Err(CliError::new(
            codes::E0630,
            "the workspace has errors (above); nothing was planned or changed",
        )
        .help("fix them (`mcpoc check` shows the same list), then run the command again")
        .report());
    }
    let texts = ids
        .iter()
        .map(|id| (sources.name(*id).to_string(), sources.text(*id).to_string()))
        .collect();
    Ok(Checked {
        root: root.to_path_buf(),
        db,
        workspace,
        sources,
        texts,
        servers,
    })
}

/// A variable's value as given, before conversion to the declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum RawVar {
    /// From `--var` or the environment: text, converted by the variable's type.
    Text(String),
    /// From a variable file: already a value.
    Json(serde_json::Value),
}

/// Collects input variables: `MCPO_VAR_<name>` from the environment, then `--var-file`s
/// in order, then `--var`s in order (later wins).
pub fn collect_vars(
    args: &VarArgs,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, RawVar>, CliError> {
    let mut out = BTreeMap::new();
    for (k, v) in env {
        if let Some(name) = k.strip_prefix("MCPO_VAR_")
            && !name.is_empty()
        {
            out.insert(name.to_string(), RawVar::Text(v));
        }
    }
    for file in &args.var_files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            CliError::new(
                codes::E0633,
                format!(
                    "cannot read the variable file `{}`: {}",
                    file.display(),
                    crate::files::io_reason(&e)
                ),
            )
            .exit(crate::EXIT_USAGE)
        })?;
        for (name, value) in parse_var_file(file, &text)? {
            out.insert(name, RawVar::Json(value));
        }
    }
    for v in &args.vars {
        let Some((name, value)) = v.split_once('=') else {
            return Err(
                CliError::new(codes::E0633, format!("`--var {v}` has no `=`"))
                    .help("write `--var name=value`")
                    .exit(crate::EXIT_USAGE),
            );
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(
                CliError::new(codes::E0633, format!("`--var {v}` names no variable"))
                    .help("write `--var name=value`")
                    .exit(crate::EXIT_USAGE),
            );
        }
        out.insert(name.to_string(), RawVar::Text(value.to_string()));
    }
    Ok(out)
}

fn parse_var_file(path: &Path, text: &str) -> Result<Vec<(String, serde_json::Value)>, CliError> {
    let bad = |why: String| {
        CliError::new(
            codes::E0633,
            format!("the variable file `{}` {why}", path.display()),
        )
        .help("write a JSON object `{\"name\": value}`, or `name = value` lines")
        .exit(crate::EXIT_USAGE)
    };
    if path.extension().is_some_and(|e| e == "json") {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("is not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(bad("is not a JSON object".into()));
        };
        return Ok(map.into_iter().collect());
    }
    let parsed = mcpo_syntax::parse(text, FileId(0));
    if let Some(d) = parsed.diagnostics.iter().find(|d| d.is_error()) {
        let line = text
            .get(..d.span.start as usize)
            .map_or(1, |t| t.matches('\n').count() + 1);
        return Err(bad(format!(
            "has a syntax error on line {line}: {}",
            d.message
        )));
    }
    let mut out = Vec::new();
    for item in &parsed.file.body.items {
        match item {
            mcpo_syntax::ast::BodyItem::Attribute(a) => {
                let value = literal(&a.value).ok_or_else(|| {
                    bad(format!(
                        "sets `{}` to an expression; only literal values can be used",
                        a.name.name
                    ))
                })?;
                out.push((a.name.name.clone(), value));
            }
            mcpo_syntax::ast::BodyItem::Block(b) => {
                return Err(bad(format!(
                    "has a `{}` block; it may only set variables",
                    b.ty.name
                )));
            }
            mcpo_syntax::ast::BodyItem::Error(_) => {
                return Err(bad("cannot be read".into()));
            }
        }
    }
    Ok(out)
}

/// The value of a literal expression (strings without interpolation, numbers, bools,
/// null, lists and objects of literals).
fn literal(expr: &mcpo_syntax::ast::Expr) -> Option<serde_json::Value> {
    use mcpo_syntax::ast::{ExprKind, TemplatePart};
    use serde_json::Value;
    Some(match &expr.kind {
        ExprKind::Null => Value::Null,
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Number(n) => serde_json::from_str::<serde_json::Number>(n)
            .ok()
            .map(Value::Number)?,
        ExprKind::Template(t) => {
            let mut s = String::new();
            for part in &t.parts {
                match part {
                    TemplatePart::Literal { value, .. } => s.push_str(value),
                    _ => return None,
                }
            }
            Value::String(s)
        }
        ExprKind::Tuple(items) => Value::Array(items.iter().map(literal).collect::<Option<_>>()?),
        ExprKind::Object(items) => {
            let mut map = serde_json::Map::new();
            for item in items {
                let key = match &item.key.kind {
                    ExprKind::Variable(id) => id.name.clone(),
                    _ => match literal(&item.key)? {
                        Value::String(s) => s,
                        _ => return None,
                    },
                };
                map.insert(key, literal(&item.value)?);
            }
            Value::Object(map)
        }
        ExprKind::Parens(inner) => literal(inner)?,
        _ => return None,
    })
}

/// A variable value as `mcpo-plan` takes it: text in HCL syntax, where a string is
/// given bare (its declared type decides how the text is read).
fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// [`collect_vars`]' values as `mcpo-plan` takes them.
fn var_texts(vars: BTreeMap<String, RawVar>) -> BTreeMap<String, String> {
    vars.into_iter()
        .map(|(k, v)| match v {
            RawVar::Text(t) => (k, t),
            RawVar::Json(j) => (k, value_text(&j)),
        })
        .collect()
}

/// Asks "Do you want to ... ? Only 'yes' will be accepted." on a terminal. Without a
/// terminal on stdin the answer cannot be given: that is an error telling to pass
/// `--auto-approve`.
pub fn confirm(question: &str) -> Result<bool, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::new(
            codes::E0634,
            "standard input is not a terminal, so the changes cannot be confirmed",
        )
        .help("review the plan with `mcpoc plan`, then pass `--auto-approve` (or apply a saved plan file)"));
    }
    eprint!("\n{question}\n  Only 'yes' will be accepted.\n\n  Enter a value: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() {
        return Ok(false);
    }
    Ok(line.trim() == "yes")
}

/// Files, environment and clock for evaluation, over the real system, relative to the
/// workspace root.
struct RealIo {
    root: PathBuf,
}

impl mcpo_plan::Io for RealIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.root.join(path))
            .map_err(|e| format!("cannot read `{path}`: {}", crate::files::io_reason(&e)))
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.root.join(path))
            .map_err(|e| format!("cannot read `{path}`: {}", crate::files::io_reason(&e)))
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn now_rfc3339(&self) -> String {
        mcpo_state::rfc3339(std::time::SystemTime::now())
    }
}

/// The state backend as the executor's store.
struct Store(Arc<LocalBackend>);

impl StateStore for Store {
    fn write(&self, state: &mut State) -> Result<(), String> {
        self.0.write(state).map_err(|e| e.render())
    }
}

/// The executor's view of the program (`mcpo-exec`'s [`PlanEvaluator`]), refusing to
/// start steps once Ctrl-C was pressed: those fail with "interrupted" and their
/// dependents are skipped, while calls in flight finish and are recorded.
struct Interruptible<'a> {
    inner: PlanEvaluator<'a>,
    interrupted: &'a AtomicBool,
}

impl Evaluator for Interruptible<'_> {
    fn args(&self, address: &str, values: &mcpo_exec::Values) -> Result<Value, String> {
        if self.interrupted.load(Ordering::SeqCst) {
            return Err(INTERRUPTED.into());
        }
        self.inner.args(address, values)
    }

    fn wait_for(&self, address: &str) -> Option<mcpo_exec::WaitFor> {
        self.inner.wait_for(address)
    }

    fn ready(
        &self,
        address: &str,
        current: &Value,
        values: &mcpo_exec::Values,
    ) -> Result<bool, String> {
        self.inner.ready(address, current, values)
    }

    fn outputs(&self, values: &mcpo_exec::Values) -> BTreeMap<String, (Value, bool)> {
        self.inner.outputs(values)
    }

    fn value_changed(&self, address: &str, value: Option<&Value>) {
        self.inner.value_changed(address, value);
    }

    fn recorded_inputs(&self, address: &str, args: &Value, values: &mcpo_exec::Values) -> Value {
        self.inner.recorded_inputs(address, args, values)
    }
}

/// Why a step was refused after Ctrl-C.
const INTERRUPTED: &str = "not started: the run was interrupted (Ctrl-C)";

/// An executor error as printed: `error[E0600]: aws.vpc.main: ...` and its help.
fn render_exec(e: &ExecError) -> String {
    let mut out = format!("error[{}]: ", e.code);
    if let Some(a) = &e.address {
        out.push_str(&format!("{a}: "));
    }
    out.push_str(&e.message);
    if let Some(h) = &e.help {
        out.push_str(&format!("\n  help: {h}"));
    }
    out
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            crate::EXIT_USAGE
        })
}

/// Everything a deployment command works with: the checked workspace, the locked state,
/// and the runtime the server connections live on.
struct Session {
    checked: Checked,
    backend: Arc<LocalBackend>,
    _lock: LockGuard,
    state: State,
    rt: tokio::runtime::Runtime,
    io: RealIo,
    vars: BTreeMap<String, String>,
}

/// Checks the workspace, takes the state lock (naming `command` as the holder) and reads
/// the state. Nothing is started before the lock is held: the servers' own state (twins
/// keep theirs in the workspace) is only touched by the holder.
fn open(root: &Path, vars: &VarArgs, command: &str) -> Result<Session, u8> {
    let vars = var_texts(collect_vars(vars, std::env::vars()).map_err(|e| e.report())?);
    let checked = load_checked(root)?;
    open_checked(checked, vars, command)
}

fn open_checked(
    checked: Checked,
    vars: BTreeMap<String, String>,
    command: &str,
) -> Result<Session, u8> {
    let backend = Arc::new(LocalBackend::new(checked.root.clone()));
    let lock = backend
        .lock(LockInfo::current(command))
        .map_err(|e| crate::state_cmd::state_error(&e))?;
    let state = backend
        .read()
        .map_err(|e| crate::state_cmd::state_error(&e))?;
    let rt = runtime()?;
    let io = RealIo {
        root: checked.root.clone(),
    };
    Ok(Session {
        checked,
        backend,
        _lock: lock,
        state,
        rt,
        io,
        vars,
    })
}

impl Session {
    /// The declarations of the servers the workspace uses (discovered ones for `server`
    /// blocks without a transport).
    fn specs(&self) -> BTreeMap<String, ServerSpec> {
        self.checked.servers.clone()
    }

    /// Connects to every server the workspace declares or the state mentions.
    fn connect(&self) -> Connections {
        let specs = self.specs();
        let mut needed: BTreeSet<String> = specs.keys().cloned().collect();
        needed.extend(self.state.resources.values().map(|r| r.server.clone()));
        needed.extend(self.state.intents.iter().map(|i| i.server.clone()));
        let options = ConnectOptions::default();
        self.rt.block_on(Connections::connect(
            &specs,
            needed.iter().map(String::as_str),
            &options,
        ))
    }

    /// Reads every resource of the state from its server; prints what changed outside
    /// mcpo. Returns false (after printing them) when reads failed.
    fn refresh(&mut self, conns: &Connections, quiet: bool) -> bool {
        if self.state.resources.is_empty() && self.state.intents.is_empty() {
            return true;
        }
        let report = self.rt.block_on(mcpo_exec::refresh(
            conns,
            &mut self.state,
            &RefreshOptions::default(),
        ));
        print_refresh(
            &report,
            if quiet {
                RefreshShow::Quiet
            } else {
                RefreshShow::Notes
            },
        );
        report.errors.is_empty()
    }

    /// Saves the state when it differs from what is on disk.
    fn save_if_changed(&mut self, before: &State) -> Result<(), u8> {
        if &self.state == before {
            return Ok(());
        }
        self.backend
            .write(&mut self.state)
            .map_err(|e| crate::state_cmd::state_error(&e))
    }

    /// Lowers and plans the workspace against the (refreshed) state.
    fn plan(&self, conns: Option<&Connections>, mode: PlanMode) -> Result<(Program, Plan), u8> {
        let sources = self
            .checked
            .texts
            .iter()
            .map(|(name, text)| PlanSource {
                name: name.clone(),
                text: text.clone(),
            })
            .collect();
        let inputs = PlanInputs {
            variables: self.vars.clone(),
            state: &self.state,
            reader: conns.map(|c| c as &dyn mcpo_plan::ToolCaller),
            io: &self.io,
            mode,
            sources,
        };
        // Data reads call servers from inside planning (synchronous code): entering the
        // runtime lets them block on the calls.
        let _enter = self.rt.enter();
        mcpo_plan::plan(&self.checked.db, self.checked.workspace, &inputs).map_err(|mut diags| {
            output::print(&mut diags, &self.checked.sources, Format::Human);
            crate::EXIT_ERRORS
        })
    }
}

/// How much of a refresh report to show, and where.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RefreshShow {
    /// Before a plan: what changed the state, on stderr; drift is left to the plan.
    Quiet,
    /// Before a plan that shows drift too: everything on stderr.
    Notes,
    /// `mcpoc refresh`: the report is the output, on stdout; errors on stderr.
    Report,
}

fn print_refresh(report: &RefreshReport, show: RefreshShow) {
    let mut lines = Vec::new();
    for (address, id) in &report.adopted {
        lines.push(format!(
            "{address}: found the resource an interrupted create made (id {id}); it is now in the state"
        ));
    }
    for (address, what) in &report.resolved {
        lines.push(format!(
            "{address}: an interrupted operation was settled: {what}"
        ));
    }
    for g in &report.gone {
        lines.push(format!(
            "{}: deleted outside mcpo (server `{}` has no {} `{}`); removed from the state",
            g.address, g.server, g.type_name, g.id
        ));
    }
    if show != RefreshShow::Quiet {
        for d in &report.drift {
            lines.push(format!(
                "{}: `{}` changed outside mcpo: {} -> {}",
                d.address, d.attribute, d.recorded, d.live
            ));
        }
    }
    for line in lines {
        if show == RefreshShow::Report {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
    for e in &report.errors {
        eprintln!("{}", render_exec(e));
    }
}

fn write_plan_file(path: &Path, plan: &Plan) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(plan)
        .map_err(|e| CliError::new(codes::E0632, format!("the plan cannot be encoded: {e}")))?;
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        // A saved plan holds variable values, sensitive ones included: owner-only.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    })();
    result.map_err(|e| {
        CliError::new(
            codes::E0632,
            format!(
                "cannot write the plan to `{}`: {}",
                path.display(),
                crate::files::io_reason(&e)
            ),
        )
        .exit(crate::EXIT_USAGE)
    })
}

fn read_plan_file(path: &Path) -> Result<Plan, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            codes::E0632,
            format!(
                "cannot read the plan `{}`: {}",
                path.display(),
                crate::files::io_reason(&e)
            ),
        )
        .exit(crate::EXIT_USAGE)
    })?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            codes::E0632,
            format!(
                "`{}` is not a plan saved by `mcpoc plan --out`: {e}",
                path.display()
            ),
        )
        .help("save a plan with `mcpoc plan --out FILE`")
    })?;
    if plan.format_version != mcpo_plan::plan::PLAN_FORMAT_VERSION {
        return Err(CliError::new(
            codes::E0632,
            format!(
                "`{}` has plan format {}, this mcpoc reads format {}",
                path.display(),
                plan.format_version,
                mcpo_plan::plan::PLAN_FORMAT_VERSION
            ),
        )
        .help("make the plan again with this mcpoc: `mcpoc plan --out FILE`"));
    }
    Ok(plan)
}

/// `mcpoc plan`.
pub fn plan(args: PlanArgs) -> u8 {
    let root = args.ws.root();
    let mut s = match open(&root, &args.vars, "mcpoc plan") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let conns = s.connect();
    if !args.no_refresh && !s.refresh(&conns, false) {
        s.rt.block_on(conns.shutdown());
        return CliError::new(
            codes::E0636,
            "some resources could not be read from their servers (above), so the plan would be a guess",
        )
        .help("fix the servers and plan again, or plan from the recorded state with `--no-refresh`")
        .report();
    }
    let planned = s.plan(Some(&conns), PlanMode::Normal);
    s.rt.block_on(conns.shutdown());
    let (_program, plan) = match planned {
        Ok(p) => p,
        Err(code) => return code,
    };
    match args.format {
        PlanFormat::Text => print!("{}", render::plan_text(&plan)),
        PlanFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render::plan_json(&plan)).unwrap_or_default()
        ),
    }
    if let Some(out) = &args.out {
        if let Err(e) = write_plan_file(out, &plan) {
            return e.report();
        }
        if args.format == PlanFormat::Text {
            println!(
                "\nSaved the plan to {}; `mcpoc apply {}` applies exactly it.",
                out.display(),
                out.display()
            );
        }
    }
    if args.detailed_exitcode && plan.has_changes() {
        // `--detailed-exitcode`: 2 means "there are changes" (not a usage error).
        2
    } else {
        crate::EXIT_OK
    }
}

/// Options of one execution (apply or destroy).
struct Execution {
    parallelism: u32,
    rollback_on_failure: bool,
    title: &'static str,
    /// Destroy clears the outputs once everything is deleted.
    destroy: bool,
}

/// Runs `steps` with live progress, writes the state, prints the summary and the
/// outputs. Returns the exit code: 0 when every step succeeded, 1 if not, 130 after
/// Ctrl-C.
fn execute(
    s: &mut Session,
    conns: &Connections,
    program: &Program,
    plan: &Plan,
    steps: &[Step],
    how: &Execution,
) -> u8 {
    let interrupted = AtomicBool::new(false);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<mcpo_exec::Event>();
    let opts = ApplyOptions {
        parallelism: how.parallelism as usize,
        rollback_on_failure: how.rollback_on_failure,
        events: Some(tx),
        ..ApplyOptions::default()
    };
    let acting = steps.iter().filter(|st| st.action != Action::NoOp).count();
    let live = std::io::stderr().is_terminal();
    let mut progress = Progress::new(acting, live);
    let eval = Interruptible {
        inner: PlanEvaluator::new(program, plan, &s.io),
        interrupted: &interrupted,
    };
    let state = s.state.clone();
    let store: Arc<dyn StateStore> = Arc::new(Store(Arc::clone(&s.backend)));
    let (state, summary) = s.rt.block_on(async {
        let run = mcpo_exec::apply(steps, &eval, conns, state, store, &opts);
        tokio::pin!(run);
        let mut shown = Shown::default();
        let mut ctrl_c = 0u32;
        loop {
            tokio::select! {
                done = &mut run => {
                    // Show what is left in the channel before the summary.
                    while let Ok(ev) = rx.try_recv() {
                        show_event(&mut progress, &mut shown, ev, interrupted.load(Ordering::SeqCst));
                    }
                    return done;
                }
                Some(ev) = rx.recv() => show_event(&mut progress, &mut shown, ev, interrupted.load(Ordering::SeqCst)),
                _ = tokio::signal::ctrl_c() => {
                    ctrl_c += 1;
                    if ctrl_c == 1 {
                        interrupted.store(true, Ordering::SeqCst);
                        progress.println("interrupted: no new step starts; waiting for the calls in flight, then saving the state (Ctrl-C again to stop at once)");
                    } else {
                        // The state holds an intent for every call in flight: the next
                        // plan settles them.
                        eprintln!("interrupted again: stopping now; run `mcpoc plan` to see where things are");
                        std::process::exit(130);
                    }
                }
            }
        }
    });
    progress.finish();
    s.state = state;
    if how.destroy && summary.ok() && !s.state.outputs.is_empty() {
        // Nothing is left to output.
        s.state.outputs.clear();
        if let Err(e) = s.backend.write(&mut s.state) {
            return crate::state_cmd::state_error(&e);
        }
    }
    print_summary(&summary, how.title, &s.state, progress.elapsed());
    if interrupted.load(Ordering::SeqCst) {
        130
    } else if summary.ok() {
        crate::EXIT_OK
    } else {
        crate::EXIT_ERRORS
    }
}

/// What the display remembers between events.
#[derive(Default)]
struct Shown {
    /// What each started step does (failures name it).
    verbs: BTreeMap<String, Verb>,
    /// Steps refused because of Ctrl-C.
    interrupted: BTreeSet<String>,
}

fn show_event(progress: &mut Progress, shown: &mut Shown, ev: mcpo_exec::Event, stopping: bool) {
    let verb_of = |a: Action| match a {
        Action::Create => Verb::Create,
        Action::Update => Verb::Update,
        Action::Replace => Verb::Replace,
        Action::Delete => Verb::Delete,
        Action::Read | Action::NoOp => Verb::Read,
        Action::Run => Verb::Run,
    };
    let address = ev.address;
    let event = match ev.kind {
        EventKind::Started { action } => {
            shown.verbs.insert(address.clone(), verb_of(action));
            // After Ctrl-C a step is refused as it starts: it never really starts.
            if action == Action::NoOp || stopping {
                return;
            }
            ProgressEvent::Started {
                address,
                verb: verb_of(action),
            }
        }
        EventKind::Progress(message) => ProgressEvent::Note { address, message },
        EventKind::Waiting => ProgressEvent::Note {
            address,
            message: "waiting until it is ready".into(),
        },
        EventKind::Retrying { attempt, error } => ProgressEvent::Note {
            address,
            message: format!("attempt {attempt} failed ({error}); retrying"),
        },
        EventKind::Done { action, .. } => {
            if action == Action::NoOp {
                return;
            }
            ProgressEvent::Done {
                address,
                verb: verb_of(action),
                id: None,
            }
        }
        EventKind::Failed { error } if error.message.contains(INTERRUPTED) => {
            shown.interrupted.insert(address.clone());
            ProgressEvent::Skipped {
                address,
                reason: "not started: the run was interrupted".into(),
            }
        }
        EventKind::Failed { error } => {
            let verb = shown.verbs.get(&address).copied().unwrap_or(Verb::Create);
            // One line here; the whole error (stderr tail, help) is in the summary.
            let first = error.message.lines().next().unwrap_or_default();
            ProgressEvent::Failed {
                address,
                verb,
                error: format!("error[{}]: {first}", error.code),
            }
        }
        EventKind::Skipped { because } => ProgressEvent::Skipped {
            address,
            reason: if shown.interrupted.contains(&because) {
                "not started: the run was interrupted".into()
            } else {
                format!("depends on {because}, which failed")
            },
        },
        EventKind::RolledBack { action: _ } => ProgressEvent::Done {
            address,
            verb: Verb::Rollback,
            id: None,
        },
    };
    progress.event(&event);
}

fn print_summary(
    summary: &mcpo_exec::Summary,
    title: &str,
    state: &State,
    elapsed: std::time::Duration,
) {
    let n = |a: Action| summary.count(a);
    let mut parts = vec![
        format!("{} created", n(Action::Create)),
        format!("{} updated", n(Action::Update)),
        format!("{} replaced", n(Action::Replace)),
        format!("{} deleted", n(Action::Delete)),
    ];
    if n(Action::Run) > 0 {
        parts.push(format!("{} tasks run", n(Action::Run)));
    }
    // Steps refused after Ctrl-C are not failures: they were not started.
    let (stopped, failed): (Vec<&ExecError>, Vec<&ExecError>) = summary
        .failed
        .iter()
        .partition(|e| e.message.contains(INTERRUPTED));
    let stopped: BTreeSet<&str> = stopped
        .iter()
        .filter_map(|e| e.address.as_deref())
        .collect();
    let (skipped_stop, skipped): (Vec<_>, Vec<_>) = summary
        .skipped
        .iter()
        .partition(|(_, because)| stopped.contains(because.as_str()));
    if !failed.is_empty() {
        parts.push(format!("{} failed", failed.len()));
    }
    if !skipped.is_empty() {
        parts.push(format!("{} skipped", skipped.len()));
    }
    let not_started = summary.not_started.len() + stopped.len() + skipped_stop.len();
    if not_started > 0 {
        parts.push(format!("{not_started} not started"));
    }
    if !failed.is_empty() {
        eprintln!();
        for e in &failed {
            eprintln!("{}", render_exec(e));
        }
    }
    for (address, because) in &skipped {
        eprintln!("{address}: skipped: depends on {because}, which failed");
    }
    if !summary.rolled_back.is_empty() {
        eprintln!(
            "rolled back {} step(s) of this run: {}",
            summary.rolled_back.len(),
            summary.rolled_back.join(", ")
        );
    }
    for e in &summary.rollback_failed {
        eprintln!("{} (while rolling back)", render_exec(e));
    }
    let outcome = if summary.ok() { "complete" } else { "failed" };
    println!(
        "\n{title} {outcome} in {}: {}.",
        crate::progress::show_elapsed(elapsed),
        parts.join(", ")
    );
    if summary.ok() && !state.outputs.is_empty() {
        println!("\nOutputs:");
        let width = state.outputs.keys().map(String::len).max().unwrap_or(0);
        for (k, o) in &state.outputs {
            let shown = if o.sensitive {
                mcpo_state::REDACTED.to_string()
            } else {
                crate::state_cmd::show_value(&o.value)
            };
            println!("  {k:<width$} = {shown}");
        }
    }
}

/// `mcpoc apply`.
pub fn apply(args: ApplyArgs) -> u8 {
    let root = args.ws.root();
    let saved = match &args.plan {
        Some(path) => match read_plan_file(path) {
            Ok(p) => Some(p),
            Err(e) => return e.report(),
        },
        None => None,
    };
    let mut s = match &saved {
        // A saved plan is applied against the sources and variables it was made from.
        Some(p) => {
            let texts: Vec<(String, String)> = p
                .sources
                .iter()
                .map(|src| (src.name.clone(), src.text.clone()))
                .collect();
            let checked = match load_checked_texts(&root, texts) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let vars = p
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), value_text(v)))
                .collect();
            match open_checked(checked, vars, "mcpoc apply") {
                Ok(s) => s,
                Err(code) => return code,
            }
        }
        None => match open(&root, &args.vars, "mcpoc apply") {
            Ok(s) => s,
            Err(code) => return code,
        },
    };
    // A plan made before anything was ever saved (serial 0) has the lineage of a state
    // that was never written: any other unsaved state is the same empty state.
    let unsaved = |serial: u64| serial == 0;
    if let Some(p) = &saved
        && !(unsaved(p.serial) && unsaved(s.state.serial))
        && (p.lineage != s.state.lineage || p.serial != s.state.serial)
    {
        let what = if unsaved(p.serial) {
            format!(
                "the plan was made before anything was applied in this workspace; the state is now at serial {}",
                s.state.serial
            )
        } else if p.lineage != s.state.lineage {
            format!(
                "the plan was made for another state (lineage {}; this workspace's state has lineage {})",
                p.lineage, s.state.lineage
            )
        } else {
            format!(
                "the plan was made from state serial {}; the state is now at serial {}",
                p.serial, s.state.serial
            )
        };
        return CliError::new(codes::E0631, format!("{what}; nothing was changed"))
            .help("make a new plan with `mcpoc plan --out FILE`, review it, and apply that")
            .report();
    }
    let conns = s.connect();
    let before = s.state.clone();
    let refreshed = saved.is_some() || s.refresh(&conns, true);
    if let Err(code) = s.save_if_changed(&before) {
        s.rt.block_on(conns.shutdown());
        return code;
    }
    if !refreshed {
        s.rt.block_on(conns.shutdown());
        return CliError::new(
            codes::E0636,
            "some resources could not be read from their servers (above); nothing was changed",
        )
        .help("fix the servers and apply again")
        .report();
    }
    let code = apply_planned(&mut s, &conns, saved, &args);
    s.rt.block_on(conns.shutdown());
    code
}

fn apply_planned(
    s: &mut Session,
    conns: &Connections,
    saved: Option<Plan>,
    args: &ApplyArgs,
) -> u8 {
    let (program, fresh) = match s.plan(Some(conns), PlanMode::Normal) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = match saved {
        Some(p) => p,
        None => {
            if !fresh.has_changes() {
                println!("No changes. The infrastructure matches the configuration.");
            } else if !args.auto_approve {
                print!("{}", render::plan_text(&fresh));
                match confirm("Do you want to perform these actions?") {
                    Ok(true) => {}
                    Ok(false) => {
                        eprintln!("Apply cancelled; nothing was changed.");
                        return crate::EXIT_ERRORS;
                    }
                    Err(e) => return e.report(),
                }
            }
            fresh
        }
    };
    let steps = mcpo_exec::steps_of(&plan);
    execute(
        s,
        conns,
        &program,
        &plan,
        &steps,
        &Execution {
            parallelism: args.parallelism,
            rollback_on_failure: args.rollback_on_failure,
            title: "Apply",
            destroy: false,
        },
    )
}

/// `mcpoc destroy`.
pub fn destroy(args: DestroyArgs) -> u8 {
    let root = args.ws.root();
    let mut s = match open(&root, &args.vars, "mcpoc destroy") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let conns = s.connect();
    let before = s.state.clone();
    s.refresh(&conns, true);
    if let Err(code) = s.save_if_changed(&before) {
        s.rt.block_on(conns.shutdown());
        return code;
    }
    let code = destroy_planned(&mut s, &conns, &args);
    s.rt.block_on(conns.shutdown());
    code
}

fn destroy_planned(s: &mut Session, conns: &Connections, args: &DestroyArgs) -> u8 {
    let (program, plan) = match s.plan(Some(conns), PlanMode::Destroy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut steps = mcpo_exec::destroy_steps(&s.state);
    order_by_declarations(&mut steps, &program);
    if steps.is_empty() {
        println!("Nothing to destroy: the state holds no resources.");
    } else if !args.auto_approve {
        print!("{}", render::plan_text(&plan));
        match confirm("Do you really want to destroy all resources?") {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("Destroy cancelled; nothing was changed.");
                return crate::EXIT_ERRORS;
            }
            Err(e) => return e.report(),
        }
    }
    execute(
        s,
        conns,
        &program,
        &plan,
        &steps,
        &Execution {
            parallelism: args.parallelism,
            rollback_on_failure: false,
            title: "Destroy",
            destroy: true,
        },
    )
}

/// The block an instance address belongs to: `aws.vpc.web[0]` -> `aws.vpc.web`.
fn config_key(address: &str) -> &str {
    match address.strip_suffix(']').and_then(|a| a.rfind('[')) {
        Some(i) => address.get(..i).unwrap_or(address),
        None => address,
    }
}

/// Adds to the delete steps of `destroy` the order the workspace declares: a resource is
/// deleted only after every resource that refers to it (directly or through locals and
/// outputs) is gone. The state records each resource's dependencies too, but a resource
/// adopted after an interrupted run may not have them.
fn order_by_declarations(steps: &mut [Step], program: &Program) {
    let graph: BTreeMap<String, (&'static str, Vec<String>)> = program
        .graph()
        .into_iter()
        .map(|(key, kind, deps)| (key, (kind, deps)))
        .collect();
    // The resources each block depends on, looking through non-resource nodes.
    let resource_deps = |key: &str| -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = graph.get(key).map(|(_, d)| d.clone()).unwrap_or_default();
        while let Some(k) = todo.pop() {
            if !seen.insert(k.clone()) {
                continue;
            }
            match graph.get(&k) {
                Some(("resource", _)) => {
                    found.insert(k);
                }
                Some((_, deps)) => todo.extend(deps.iter().cloned()),
                None => {}
            }
        }
        found
    };
    // The graph is keyed by block; accept instance addresses too.
    let key_of = |address: &str| -> String {
        if graph.contains_key(address) {
            address.to_string()
        } else {
            config_key(address).to_string()
        }
    };
    let by_key: Vec<(String, String)> = steps
        .iter()
        .map(|st| (st.address.clone(), key_of(&st.address)))
        .collect();
    for (address, key) in &by_key {
        for dep_key in resource_deps(key) {
            for st in steps.iter_mut() {
                if (st.address == dep_key || config_key(&st.address) == dep_key)
                    && st.address != *address
                    && !st.deps.contains(address)
                {
                    st.deps.push(address.clone());
                }
            }
        }
    }
}

/// `mcpoc graph`.
pub fn graph(args: GraphArgs) -> u8 {
    let vars = match collect_vars(&args.vars, std::env::vars()) {
        Ok(v) => v,
        Err(e) => return e.report(),
    };
    let checked = match load_checked(&args.ws.root()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let io = RealIo {
        root: checked.root.clone(),
    };
    let empty = State::new("graph");
    let inputs = PlanInputs {
        variables: var_texts(vars),
        state: &empty,
        reader: None,
        io: &io,
        mode: PlanMode::Normal,
        sources: Vec::new(),
    };
    let program = match mcpo_plan::plan(&checked.db, checked.workspace, &inputs) {
        Ok((program, _)) => program,
        Err(mut diags) => {
            output::print(&mut diags, &checked.sources, Format::Human);
            return crate::EXIT_ERRORS;
        }
    };
    match args.format {
        GraphFormat::Dot => print!("{}", render::graph_dot(&program)),
        GraphFormat::Mermaid => print!("{}", render::graph_mermaid(&program)),
    }
    crate::EXIT_OK
}

/// `mcpoc refresh`.
pub fn refresh(args: RefreshArgs) -> u8 {
    let root = args.ws.root();
    let mut s = match open(&root, &args.vars, "mcpoc refresh") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let conns = s.connect();
    let before = s.state.clone();
    let report = s.rt.block_on(mcpo_exec::refresh(
        &conns,
        &mut s.state,
        &RefreshOptions::default(),
    ));
    s.rt.block_on(conns.shutdown());
    print_refresh(&report, RefreshShow::Report);
    if let Err(code) = s.save_if_changed(&before) {
        return code;
    }
    let changed = report.drift.len() + report.gone.len() + report.adopted.len();
    println!(
        "Read {} resource(s): {}.",
        report.read,
        if changed == 0 && report.errors.is_empty() {
            "no drift".to_string()
        } else {
            format!(
                "{} attribute(s) changed outside mcpo, {} deleted outside mcpo, {} interrupted create(s) adopted, {} read(s) failed",
                report.drift.len(),
                report.gone.len(),
                report.adopted.len(),
                report.errors.len()
            )
        }
    );
    if !report.drift.is_empty() {
        println!(
            "The next `mcpoc apply` changes the drifted attributes back to the configuration."
        );
    }
    if report.errors.is_empty() {
        crate::EXIT_OK
    } else {
        crate::EXIT_ERRORS
    }
}

/// `server` and `type` of a resource address (`module.x.aws.vpc.main[0]` -> `aws`, `vpc`).
fn server_and_type(address: &str) -> Option<(String, String)> {
    let mut rest = address;
    while let Some(r) = rest.strip_prefix("module.") {
        rest = r.split_once('.')?.1;
    }
    if rest.starts_with("data.") || rest.starts_with("task.") || rest.starts_with("output.") {
        return None;
    }
    let mut parts = rest.splitn(3, '.');
    let server = parts.next()?;
    let ty = parts.next()?;
    let name = parts.next()?;
    (!server.is_empty() && !ty.is_empty() && !name.is_empty())
        .then(|| (server.to_string(), ty.to_string()))
}

/// `mcpoc import`.
pub fn import(args: ImportArgs) -> u8 {
    let root = args.ws.root();
    let mut s = match open(&root, &args.vars, "mcpoc import") {
        Ok(s) => s,
        Err(code) => return code,
    };
    let not_declared = |why: &str| {
        CliError::new(
            codes::E0637,
            format!("`{}` {why}", args.address),
        )
        .help("import to the address of a `resource` block of the workspace, e.g. `aws.vpc.main` or `aws.vpc.web[0]`; `mcpoc graph` lists them")
        .report()
    };
    let Some((server, type_name)) = server_and_type(&args.address) else {
        return not_declared("is not the address of a managed resource");
    };
    let (program, _) = match s.plan(None, PlanMode::Normal) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !program.has_instance(&args.address) {
        return not_declared("is not declared in the workspace");
    }
    let specs = s.specs();
    let conns = s.rt.block_on(Connections::connect(
        &specs,
        [server.as_str()],
        &ConnectOptions::default(),
    ));
    let result = s.rt.block_on(mcpo_exec::import(
        &conns,
        &mut s.state,
        &args.address,
        &server,
        &type_name,
        &args.id,
    ));
    s.rt.block_on(conns.shutdown());
    if let Err(e) = result {
        eprintln!("{}", render_exec(&e));
        return crate::EXIT_ERRORS;
    }
    if let Err(e) = s.backend.write(&mut s.state) {
        return crate::state_cmd::state_error(&e);
    }
    println!(
        "Imported {} (id {}); `mcpoc plan` shows how it differs from its block.",
        args.address, args.id
    );
    crate::EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_dash_var_options_become_double_dash() {
        let args = [
            "mcpoc",
            "plan",
            "-var",
            "a=1",
            "-var=b=2",
            "-var-file",
            "x.json",
            "-v",
        ]
        .map(String::from);
        assert_eq!(
            normalize_args(args),
            [
                "mcpoc",
                "plan",
                "--var",
                "a=1",
                "--var=b=2",
                "--var-file",
                "x.json",
                "-v"
            ]
        );
    }

    #[test]
    fn vars_flags_win_over_files_and_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let json = dir.path().join("v.json");
        std::fs::write(&json, r#"{"a": 1, "b": [true]}"#).expect("write");
        let hcl = dir.path().join("v.mcpovars");
        std::fs::write(&hcl, "b = \"two\"\nc = { k = [1, 2] }\n").expect("write");
        let args = VarArgs {
            vars: vec!["c=3".into(), "d=x=y".into()],
            var_files: vec![json, hcl],
        };
        let env = [
            ("MCPO_VAR_a".to_string(), "env".to_string()),
            ("MCPO_VAR_e".to_string(), "5".to_string()),
            ("HOME".to_string(), "/".to_string()),
        ];
        let vars = collect_vars(&args, env).expect("vars");
        assert_eq!(vars.get("a"), Some(&RawVar::Json(serde_json::json!(1))));
        assert_eq!(vars.get("b"), Some(&RawVar::Json(serde_json::json!("two"))));
        assert_eq!(vars.get("c"), Some(&RawVar::Text("3".into())));
        assert_eq!(vars.get("d"), Some(&RawVar::Text("x=y".into())));
        assert_eq!(vars.get("e"), Some(&RawVar::Text("5".into())));
        assert_eq!(vars.len(), 5);
    }

    #[test]
    fn bad_vars_are_e0633() {
        let args = VarArgs {
            vars: vec!["novalue".into()],
            var_files: vec![],
        };
        let e = collect_vars(&args, []).err().map(|e| e.render());
        assert_eq!(
            e.as_deref(),
            Some(
                "error[E0633]: invalid input variable\n  `--var novalue` has no `=`\n  help: write `--var name=value`\n"
            )
        );
    }
}
