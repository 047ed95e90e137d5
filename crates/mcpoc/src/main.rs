//! `mcpoc`: the mcpo compiler and interpreter.
//!
//! This crate only parses arguments, calls the library crates and prints (the deployment
//! commands through the session of `mcpo-deploy`). Every rule lives in a library crate.

mod commands;
mod completions;
mod conformance;
mod deploy;
mod fix;
mod init;
mod lsp;
mod modules;
mod output;
mod report;
mod run;
mod servers;
mod state_cmd;
mod typecheck;

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code: success, nothing to report.
pub const EXIT_OK: u8 = 0;
/// Exit code: diagnostics with errors (or `fmt --check` found unformatted files).
pub const EXIT_ERRORS: u8 = 1;
/// Exit code: usage or I/O error.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "mcpoc",
    version,
    about = "Deploy across MCP servers from declarative .mcpo files",
    long_about = "mcpoc checks and formats .mcpo programs that describe infrastructure \
                  behind MCP servers (firewalls, clouds, container engines, clusters), \
                  against the schemas those servers publish, then plans and applies them \
                  through the servers' tools.\n\nExit codes: 0 success, 1 diagnostics with errors \
                  or a failed step, 2 usage or I/O error (`plan --detailed-exitcode`: 2 when \
                  there are changes), 130 interrupted."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and check files or directories of .mcpo/.tf/.hcl sources.
    Check {
        /// Files or directories (searched recursively). Default: the current directory.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Only check syntax (no names, types or schemas).
        #[arg(long)]
        syntax_only: bool,
        /// Output format of the diagnostics (`github`: workflow annotations; `sarif`: a
        /// SARIF 2.1.0 log for code scanning).
        #[arg(long, value_enum, default_value_t)]
        format: output::CheckFormat,
    },
    /// Apply every machine-applicable suggestion of `check` (did-you-mean renames of
    /// attributes, types, references and functions), then report what is left.
    Fix(fix::FixArgs),
    /// Create a workspace: `server` blocks for the four twin servers and a small example,
    /// or with --from-discovery for the servers discovery finds.
    Init(init::InitArgs),
    /// Print a shell completion script, e.g. `mcpoc completions bash > ~/.local/share/bash-completion/completions/mcpoc`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Print the manual page (roff), or write one page per command into a directory.
    Man {
        /// Write `mcpoc.1` and `mcpoc-<command>.1` into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Rewrite files in the canonical layout (2-space indent, aligned `=`).
    Fmt {
        /// Files or directories (searched recursively), or `-` for stdin to stdout.
        /// Default: the current directory.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Change nothing; list files that are not formatted and exit 1 if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Explain a diagnostic code, e.g. `mcpoc explain E0002`.
    Explain {
        /// The code (E0001, W0001, ...). Without one, list every code.
        code: Option<String>,
    },
    /// Run a twin MCP server (a simulated OPNsense, AWS, Docker or Kubernetes).
    Twin(mcpo_twins::TwinArgs),
    /// Convert a JSON deployment template (`*.mcpo.json`) to `.mcpo` source, written beside
    /// it (`x.mcpo.json` -> `x.mcpo`), using the workspace's pulled schemas for names.
    Convert {
        /// The template.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print the source on stdout instead of writing the file.
        #[arg(long)]
        stdout: bool,
    },
    /// List declared and discovered MCP servers and where each came from.
    Servers(servers::ServersArgs),
    /// Run the language server on stdin/stdout (editors start it; see the book's editor page).
    Lsp {
        /// Accepted for editors that pass it (VS Code's client does); stdio is the only
        /// transport.
        #[arg(long)]
        stdio: bool,
    },
    /// Pull server schemas (`mcpoc schema pull`).
    Schema {
        #[command(subcommand)]
        command: servers::SchemaCommand,
    },
    /// Show what `apply` would change: read the resources in the state from their servers,
    /// compare them with the workspace, and print the changes grouped in waves.
    Plan(deploy::PlanArgs),
    /// Make the servers match the workspace: plan, confirm, then create, update, replace
    /// and delete through the servers' tools. Exit 0 when every step succeeded, 1 if not.
    Apply(deploy::ApplyArgs),
    /// Delete everything in the state, dependents first.
    Destroy(deploy::DestroyArgs),
    /// Run a runbook of the workspace: its steps in order (at once where they do not read
    /// each other), with retries, approvals and compensation, journalled in the state.
    /// Exit 0 when it succeeded, 1 if not, 130 when interrupted (`--resume` continues).
    Run(run::RunArgs),
    /// Plan the resources back to an earlier version of the state (the last 50 are kept),
    /// show the plan and what cannot be restored, confirm, and apply it.
    Rollback(deploy::RollbackArgs),
    /// Print the resource graph (what depends on what) as DOT or Mermaid.
    Graph(deploy::GraphArgs),
    /// Read every resource in the state from its server, record what changed outside
    /// mcpo (drift) and report it.
    Refresh(deploy::RefreshArgs),
    /// Report drift, changed outputs (with their dependents), health and resources made
    /// outside mcpo as they happen; `--once` for CI (exit 2 drifted, 3 unhealthy).
    Watch(deploy::WatchArgs),
    /// Record an existing resource in the state under an address of the workspace.
    Import(deploy::ImportArgs),
    /// Inspect or edit the state: `list`, `show ADDR`, `rm ADDR`, ...; `audit` of `mcpoc serve`.
    State {
        #[command(subcommand)]
        command: state_cmd::StateCommand,
    },
    /// Print the workspace's outputs from the last apply.
    Output(state_cmd::OutputArgs),
    /// Render a module (its patterns' params, rules, outputs and resources) as Markdown.
    Doc(modules::DocArgs),
    /// Fetch the git and registry modules the workspace's `use` blocks name into
    /// `.mcpo/modules/`, and pin each in mcpo.lock (exact version and content hash).
    Get(modules::GetArgs),
    /// Publish a module directory into a registry directory: a versioned archive, its
    /// checksum, and the static JSON index.
    Publish(modules::PublishArgs),
    /// Serve this workspace to AI clients as an MCP server (stdio, or `--http`); a person
    /// approves every apply. See the book's "AI clients" page.
    Serve(mcpo_serve::ServeArgs),
    /// Approve a plan an AI client made through `mcpoc serve` (shows it, asks for `yes`).
    Approve(mcpo_serve::ApproveArgs),
    /// Run the MCP conformance scenario named in `MCP_CONFORMANCE_SCENARIO` against URL.
    #[command(hide = true)]
    McpConformanceClient {
        /// The conformance test server's URL.
        url: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(mcpo_deploy::vars::normalize_args(
        std::env::args_os().map(|a| a.to_string_lossy().into_owned()),
    )) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with exit 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let code = match cli.command {
        Command::Check {
            paths,
            syntax_only,
            format,
        } => commands::check(&default_paths(paths), syntax_only, format),
        Command::Fmt { paths, check } => commands::fmt(&default_paths(paths), check),
        Command::Fix(args) => fix::fix_command(args),
        Command::Init(args) => init::init(args),
        Command::Completions { shell } => completions::completions(Cli::command(), shell),
        Command::Man { dir } => completions::man(Cli::command(), dir.as_deref()),
        Command::Explain { code } => commands::explain(code.as_deref()),
        Command::Convert { file, stdout } => typecheck::convert(&file, stdout),
        Command::Servers(args) => servers::servers(args),
        Command::Lsp { stdio: _ } => lsp::run(),
        Command::Schema { command } => servers::schema(command),
        Command::McpConformanceClient { url } => conformance::run(&url),
        Command::Plan(args) => deploy::plan(args),
        Command::Apply(args) => deploy::apply(args),
        Command::Destroy(args) => deploy::destroy(args),
        Command::Graph(args) => deploy::graph(args),
        Command::Rollback(args) => deploy::rollback(args),
        Command::Run(args) => run::run(args),
        Command::Refresh(args) => deploy::refresh(args),
        Command::Watch(args) => deploy::watch(args),
        Command::Import(args) => deploy::import(args),
        Command::State { command } => state_cmd::state(command),
        Command::Output(args) => state_cmd::output(args),
        Command::Doc(args) => modules::doc(args),
        Command::Get(args) => modules::get(args),
        Command::Publish(args) => modules::publish(args),
        Command::Serve(args) => mcpo_serve::run(args),
        Command::Approve(args) => deploy::approve(&args),
        Command::Twin(args) => match mcpo_twins::run(args) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("error: {e:#}");
                EXIT_USAGE
            }
        },
    };
    ExitCode::from(code)
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}
