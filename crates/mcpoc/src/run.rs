//! `mcpoc run NAME`: a runbook of the workspace, through `mcpo_deploy::runbook`; its
//! steps as lines while they run, then how the run ended.

use crate::deploy::{VarArgs, WorkspaceArg, approver, session};
use crate::report;
use clap::Args;
use mcpo_deploy::interrupt::{self, Seen};
use mcpo_deploy::{RunEvent, RunOptions};
use mcpo_exec::CancellationToken;
use mcpo_state::RunStatus;

/// Arguments of `mcpoc run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The runbook's name (`USE.NAME` for one a `use` brings from a module, or `NAME` alone
    /// when no other runbook has it). Without it, lists the runbooks.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// A parameter: `--param name=value`, parsed like `--var` values (strings, numbers,
    /// bools, lists, objects). Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Call only read-only tools; print what the others would be called with. Nothing is
    /// journalled.
    #[arg(long)]
    pub dry_run: bool,
    /// Approve the approval steps and the plans of apply steps without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Continue the last interrupted run of this runbook from its first unfinished step;
    /// finished steps are not called again.
    #[arg(long)]
    pub resume: bool,
    /// At most this many steps at once.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: u32,
    #[command(flatten)]
    pub ws: WorkspaceArg,
    #[command(flatten)]
    pub vars: VarArgs,
}

/// `mcpoc run`.
pub fn run(args: RunArgs) -> u8 {
    let Some(name) = args.name.clone() else {
        let listed = mcpo_deploy::runbook::listing(&args.ws.root());
        return listed.map_or_else(report::deploy_error, |t| (print!("{t}"), crate::EXIT_OK).1);
    };
    let params = match mcpo_deploy::runbook::param_pairs(&args.params) {
        Ok(p) => p,
        Err(p) => return report::problem(&p),
    };
    let (rt, mut s) = match session(&args.ws, &args.vars, "mcpoc run") {
        Ok(x) => x,
        Err(code) => return code,
    };
    let opts = RunOptions {
        params,
        dry_run: args.dry_run,
        resume: args.resume,
        parallelism: args.parallelism as usize,
        // Typing `mcpoc run` is the person's say-so; approval steps still ask.
        approve_run: false,
    };
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
    let running = s.run_runbook(
        &name,
        &opts,
        approver(args.auto_approve),
        Some(tx),
        cancel.clone(),
    );
    let ran = rt.block_on(interrupt::drive(running, &mut rx, &cancel, |seen| match seen {
        // The terminal prompt shows the plan it asks about.
        Seen::Event(ev) => print!("{}", ev.text(!args.auto_approve && !args.dry_run)),
        Seen::Interrupted => eprintln!(
            "interrupted: no new step starts; waiting for the steps in flight (Ctrl-C again to stop at once)"
        ),
        Seen::InterruptedAgain => {
            eprintln!("interrupted again: stopping now; `mcpoc run {name} --resume` continues");
            std::process::exit(130);
        }
    }));
    rt.block_on(s.close());
    let report = match ran {
        Ok(r) => r,
        Err(e) => return report::deploy_error(e),
    };
    report.errors.iter().for_each(|e| eprintln!("{e}"));
    report.lines().iter().for_each(|l| println!("{l}"));
    match report.status {
        RunStatus::Succeeded => crate::EXIT_OK,
        RunStatus::Cancelled => 130,
        _ => crate::EXIT_ERRORS,
    }
}
