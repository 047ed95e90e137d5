//! `mcpoc plan`, `apply`, `destroy`, `graph`, `refresh` and `import`: arguments, the
//! terminal prompt, and the rendering of what the deployment session (`mcpo-deploy`)
//! reports. No rule lives here.

use crate::output::{self, Format};
use crate::report;
use clap::{Args, ValueEnum};
use mcpo_deploy::interrupt::{self, Seen};
use mcpo_deploy::live::{Progress, RefreshShow, print_refresh, print_summary};
use mcpo_deploy::{
    Applied, Approver, AutoApprove, Execution, Planned, Purpose, Session, TerminalPrompt,
};
use mcpo_exec::{Action, CancellationToken};
use mcpo_plan::{PlanMode, render};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Where the workspace is, and how long to wait for its state lock.
#[derive(Debug, Clone, Args)]
pub struct WorkspaceArg {
    #[command(flatten)]
    pub dir: DirArg,
    /// How long to wait for another command holding the state lock (`30s`, `5m`); by
    /// default fail at once, naming the holder.
    #[arg(long = "lock-timeout", value_name = "DURATION", value_parser = mcpo_deploy::backend::lock_timeout, default_value = "0s")]
    pub lock_timeout: std::time::Duration,
}

impl WorkspaceArg {
    /// The workspace root: `--dir`, else the current directory.
    pub fn root(&self) -> PathBuf {
        self.dir.root()
    }
}

/// Where the workspace is, for a command that reads the state without taking its lock
/// (`graph`, `watch`): no `--lock-timeout`, since there is nothing to wait for.
#[derive(Debug, Clone, Args)]
pub struct DirArg {
    /// The workspace directory (default: the current directory).
    #[arg(long = "dir", short = 'C', value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl DirArg {
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

/// How a plan, a state query or a watch is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PlanFormat {
    /// For people (a plan: its changes in waves, attribute by attribute).
    #[default]
    Text,
    /// JSON on stdout (a plan: the plan document; `watch`: one object per line).
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
    pub ws: DirArg,
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

/// Arguments of `mcpoc watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub ws: DirArg,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Output format: a line per event, or a JSON object per line for log pipelines.
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// One pass, then exit: 0 fine, 3 unhealthy, else 2 drifted, else 1 unreadable.
    #[arg(long)]
    pub once: bool,
    /// How often every resource is read (subscribed ones too, to catch lost updates).
    #[arg(long, value_name = "DURATION", value_parser = mcpo_deploy::backend::lock_timeout, default_value = "30s")]
    pub interval: std::time::Duration,
    /// Do not subscribe to the servers' resource updates: only read every `--interval`.
    #[arg(long)]
    pub no_subscribe: bool,
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

/// Arguments of `mcpoc rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub ws: WorkspaceArg,
    /// The state version to go back to (`--list` shows them); by default the version
    /// before the last apply that changed the resources.
    #[arg(long, value_name = "SERIAL")]
    pub to: Option<u64>,
    /// List the versions kept (serial, resources) and change nothing.
    #[arg(long)]
    pub list: bool,
    /// Roll back without asking for confirmation (the plan is still shown).
    #[arg(long)]
    pub auto_approve: bool,
}

/// The variables of a command as the session takes them.
fn variables(args: &VarArgs) -> Result<BTreeMap<String, String>, u8> {
    let (vars, files) = (args.vars.clone(), args.var_files.clone());
    mcpo_deploy::vars::collect_vars(&mcpo_deploy::VarSources { vars, files }, std::env::vars())
        .map(mcpo_deploy::vars::var_texts)
        .map_err(|p| report::problem(&p))
}

/// The async runtime of a command; a message and exit 2 when it cannot start.
pub fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            crate::EXIT_USAGE
        })
}

/// Checks the workspace (printing its warnings) as `mcpoc check` does.
fn load(root: &Path) -> Result<mcpo_deploy::Checked, u8> {
    let checked = mcpo_deploy::load::load(root).map_err(report::deploy_error)?;
    show_warnings(&checked);
    Ok(checked)
}

fn show_warnings(checked: &mcpo_deploy::Checked) {
    for note in &checked.notes {
        eprintln!("warning: {note}");
    }
    if !checked.warnings.is_empty() {
        let mut warnings = checked.warnings.clone();
        output::print(&mut warnings, &checked.sources, Format::Human);
    }
}

/// Checks the workspace, takes the state lock (naming `command`) and reads the state.
fn open(
    checked: mcpo_deploy::Checked,
    vars: BTreeMap<String, String>,
    command: &str,
    lock_timeout: std::time::Duration,
) -> Result<Session, u8> {
    let backend = mcpo_deploy::backend::of_checked(&checked).map_err(report::deploy_error)?;
    let s = Session::open_waiting(checked, vars, backend, command, lock_timeout)
        .map_err(report::deploy_error)?;
    if let Some(notice) = s.backend_notice() {
        eprintln!("note: {notice}");
    }
    Ok(s)
}

/// The runtime and a session on the workspace's state for `command`: variables collected,
/// the workspace checked (warnings shown), the lock taken, the state read.
pub(crate) fn session(
    ws: &WorkspaceArg,
    vars: &VarArgs,
    command: &str,
) -> Result<(tokio::runtime::Runtime, Session), u8> {
    let rt = runtime()?;
    let vars = variables(vars)?;
    let checked = load(&ws.root())?;
    Ok((rt, open(checked, vars, command, ws.lock_timeout)?))
}

/// The approver of a command: none needed with `--auto-approve`, else the terminal.
pub(crate) fn approver(auto: bool) -> &'static dyn Approver {
    if auto { &AutoApprove } else { &TerminalPrompt }
}

/// `mcpoc approve [PLAN_ID]`: a person approves a plan made through `mcpoc serve`.
pub fn approve(args: &mcpo_serve::ApproveArgs) -> u8 {
    match runtime().map(|rt| rt.block_on(mcpo_serve::approve(args, &TerminalPrompt))) {
        Ok(Ok(answer)) => println!("{}", answer.text()),
        Ok(Err(p)) => return report::problem(&p),
        Err(code) => return code,
    }
    crate::EXIT_OK
}

/// `mcpoc plan`.
pub fn plan(args: PlanArgs) -> u8 {
    let (rt, mut s) = match session(&args.ws, &args.vars, "mcpoc plan") {
        Ok(x) => x,
        Err(code) => return code,
    };
    let planned = rt.block_on(async {
        s.connect().await;
        if !args.no_refresh {
            let report = s.refresh().await?;
            print_refresh(&report, RefreshShow::Notes);
            if let Some(p) = mcpo_deploy::refresh_refusal(&report, Purpose::Plan) {
                return Err(p.into());
            }
        }
        s.plan(PlanMode::Normal).await
    });
    rt.block_on(s.close());
    let plan = match planned {
        Ok(p) => p.plan,
        Err(e) => return report::deploy_error(e),
    };
    match args.format {
        PlanFormat::Text => print!("{}", render::plan_text(&plan)),
        PlanFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render::plan_json(&plan)).unwrap_or_default()
        ),
    }
    if let Some(out) = &args.out {
        // Sealed with the state's key when the workspace encrypts its state.
        if let Err(e) = mcpo_deploy::planfile::write_in(&args.ws.root(), out, &plan) {
            return report::deploy_error(e);
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

/// `mcpoc apply`.
pub fn apply(args: ApplyArgs) -> u8 {
    let Ok(rt) = runtime() else {
        return crate::EXIT_USAGE;
    };
    let root = args.ws.root();
    let saved = match &args.plan {
        Some(path) => match mcpo_deploy::planfile::read_in(&root, path) {
            Ok(p) => Some(p),
            Err(e) => return report::deploy_error(e),
        },
        None => None,
    };
    // A saved plan is applied against the sources and variables it was made from.
    let (checked, vars) = match &saved {
        Some(p) => match mcpo_deploy::planfile::workspace(&root, p) {
            Ok(x) => x,
            Err(e) => return report::deploy_error(e),
        },
        None => {
            let vars = match variables(&args.vars) {
                Ok(v) => v,
                Err(code) => return code,
            };
            match load(&root) {
                Ok(c) => (c, vars),
                Err(code) => return code,
            }
        }
    };
    let mut s = match open(checked, vars, "mcpoc apply", args.ws.lock_timeout) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(p) = &saved
        && let Err(p) = mcpo_deploy::planfile::still_fits(p, s.state())
    {
        return report::problem(&p);
    }
    let planned = rt.block_on(async {
        s.connect().await;
        match saved {
            Some(plan) => s.plan_saved(plan).await,
            None => {
                let report = s.refresh().await?;
                print_refresh(&report, RefreshShow::Quiet);
                if let Some(p) = mcpo_deploy::refresh_refusal(&report, Purpose::Apply) {
                    return Err(p.into());
                }
                s.plan(PlanMode::Normal).await
            }
        }
    });
    let planned = match planned {
        Ok(p) => p,
        Err(e) => {
            rt.block_on(s.close());
            return report::deploy_error(e);
        }
    };
    let how = Execution {
        parallelism: args.parallelism as usize,
        rollback_on_failure: args.rollback_on_failure,
    };
    let code = execute(
        &rt,
        &mut s,
        &planned,
        &how,
        approver(args.auto_approve),
        "Apply",
    );
    rt.block_on(s.close());
    code
}

/// `mcpoc destroy`.
pub fn destroy(args: DestroyArgs) -> u8 {
    let (rt, mut s) = match session(&args.ws, &args.vars, "mcpoc destroy") {
        Ok(x) => x,
        Err(code) => return code,
    };
    let planned = rt.block_on(async {
        s.connect().await;
        let report = s.refresh().await?;
        print_refresh(&report, RefreshShow::Quiet);
        s.plan(PlanMode::Destroy).await
    });
    let code = match planned {
        Ok(planned) => {
            if planned.plan.actions().next().is_none() {
                println!("Nothing to destroy: the state holds no resources.");
            }
            let how = Execution {
                parallelism: args.parallelism as usize,
                rollback_on_failure: false,
            };
            execute(
                &rt,
                &mut s,
                &planned,
                &how,
                approver(args.auto_approve),
                "Destroy",
            )
        }
        Err(e) => report::deploy_error(e),
    };
    rt.block_on(s.close());
    code
}

/// Runs an approved plan with live progress; Ctrl-C stops new steps from starting (a
/// second one exits at once). Prints the summary and the outputs. Returns the exit code:
/// 0 when every step succeeded, 1 if not (or declined), 130 after Ctrl-C.
fn execute(
    rt: &tokio::runtime::Runtime,
    s: &mut Session,
    planned: &Planned,
    how: &Execution,
    approver: &dyn Approver,
    title: &str,
) -> u8 {
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<mcpo_exec::Event>();
    let acting = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .count();
    let live = std::io::stderr().is_terminal();
    let mut progress: Option<Progress> = None;
    let started = std::time::Instant::now();
    let run = s.apply(planned, how, approver, Some(tx), cancel.clone());
    let applied = rt.block_on(interrupt::drive(run, &mut rx, &cancel, |seen| {
        match seen {
            // The live display starts with the first step, after the approval prompt.
            Seen::Event(ev) => progress
                .get_or_insert_with(|| Progress::new(acting, live))
                .event(ev),
            Seen::Interrupted => {
                let line = "interrupted: no new step starts; waiting for the calls in flight, then saving the state (Ctrl-C again to stop at once)";
                match progress.as_mut() {
                    Some(p) => p.println(line),
                    None => eprintln!("{line}"),
                }
            }
            Seen::InterruptedAgain => {
                // The state holds an intent for every call in flight: the next plan
                // settles them.
                eprintln!("interrupted again: stopping now; run `mcpoc plan` to see where things are");
                std::process::exit(130);
            }
        }
    }));
    let elapsed = progress
        .as_ref()
        .map_or_else(|| started.elapsed(), Progress::elapsed);
    if let Some(p) = progress.as_mut() {
        p.finish();
    }
    match applied {
        Err(e) => report::deploy_error(e),
        Ok(Applied::NoChanges) => {
            println!("No changes. The infrastructure matches the configuration.");
            crate::EXIT_OK
        }
        Ok(Applied::Declined) => {
            eprintln!("{title} cancelled; nothing was changed.");
            crate::EXIT_ERRORS
        }
        Ok(Applied::Ran(summary)) => {
            print_summary(&summary, title, s.state(), elapsed);
            if summary.cancelled {
                130
            } else if summary.ok() {
                crate::EXIT_OK
            } else {
                crate::EXIT_ERRORS
            }
        }
    }
}

/// `mcpoc rollback`.
pub fn rollback(args: RollbackArgs) -> u8 {
    let (rt, mut s) = match session(&args.ws, &VarArgs::default(), "mcpoc rollback") {
        Ok(x) => x,
        Err(code) => return code,
    };
    if args.list {
        return match s.versions() {
            Ok(lines) => {
                lines.iter().for_each(|l| println!("{l}"));
                crate::EXIT_OK
            }
            Err(e) => report::deploy_error(e),
        };
    }
    let planned = rt.block_on(async {
        s.connect().await;
        let report = s.refresh().await?;
        print_refresh(&report, RefreshShow::Quiet);
        if let Some(p) = mcpo_deploy::refresh_refusal(&report, Purpose::Apply) {
            return Err(p.into());
        }
        s.rollback_plan(args.to)
    });
    let code = match planned {
        Ok(planned) => {
            if args.auto_approve {
                print!("{}", render::plan_text(&planned.plan));
            }
            let how = Execution::default();
            execute(
                &rt,
                &mut s,
                &planned,
                &how,
                approver(args.auto_approve),
                "Rollback",
            )
        }
        Err(e) => report::deploy_error(e),
    };
    rt.block_on(s.close());
    code
}

/// `mcpoc graph`.
pub fn graph(args: GraphArgs) -> u8 {
    let vars = match variables(&args.vars) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let checked = match load(&args.ws.root()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let program = match mcpo_deploy::program(&checked, vars) {
        Ok(p) => p,
        Err(e) => return report::deploy_error(e),
    };
    match args.format {
        GraphFormat::Dot => print!("{}", render::graph_dot(&program)),
        GraphFormat::Mermaid => print!("{}", render::graph_mermaid(&program)),
    }
    crate::EXIT_OK
}

/// `mcpoc refresh`.
pub fn refresh(args: RefreshArgs) -> u8 {
    let (rt, mut s) = match session(&args.ws, &args.vars, "mcpoc refresh") {
        Ok(x) => x,
        Err(code) => return code,
    };
    let report = rt.block_on(async {
        s.connect().await;
        s.refresh().await
    });
    rt.block_on(s.close());
    let report = match report {
        Ok(r) => r,
        Err(e) => return report::deploy_error(e),
    };
    print_refresh(&report, RefreshShow::Report);
    if report.errors.is_empty() {
        crate::EXIT_OK
    } else {
        crate::EXIT_ERRORS
    }
}

/// `mcpoc import`.
pub fn import(args: ImportArgs) -> u8 {
    let (rt, mut s) = match session(&args.ws, &args.vars, "mcpoc import") {
        Ok(x) => x,
        Err(code) => return code,
    };
    let result = rt.block_on(s.import(&args.address, &args.id));
    rt.block_on(s.close());
    if let Err(e) = result {
        return report::deploy_error(e);
    }
    println!(
        "Imported {} (id {}); `mcpoc plan` shows how it differs from its block.",
        args.address, args.id
    );
    crate::EXIT_OK
}

/// `mcpoc watch`.
pub fn watch(args: WatchArgs) -> u8 {
    let (rt, w) = match runtime().and_then(|rt| {
        let vars = variables(&args.vars)?;
        let w = mcpo_deploy::watch::Watch::open(load(&args.ws.root())?, vars);
        Ok((rt, w.map_err(report::deploy_error)?))
    }) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let opts = mcpo_deploy::watch::WatchOptions::new(args.interval, args.once, !args.no_subscribe);
    let json = args.format == PlanFormat::Json;
    rt.block_on(mcpo_deploy::live::watch(w, opts, json))
        .map_or_else(report::deploy_error, |o| o.exit_code())
}
