//! `mcpoc state list|show|rm` and `mcpoc output`: what the state holds (through
//! `mcpo-deploy`'s queries), rendered. Sensitive values are redacted everywhere except an
//! output asked for by name.

use crate::deploy::{DirArg, PlanFormat, WorkspaceArg};
use crate::report;
use crate::{EXIT_ERRORS, EXIT_OK};
use clap::{Args, Subcommand};
use mcpo_deploy::backend::{OldKey, migrate, rekey};
use mcpo_deploy::{query, render};
use mcpo_state::{State, StateError};
use serde_json::Value;

/// `mcpoc state ...`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses of everything in the state, one per line.
    List {
        #[command(flatten)]
        ws: DirArg,
    },
    /// Show one resource: its server, type, id, inputs and outputs (sensitive values
    /// redacted).
    Show {
        /// The address (`aws.vpc.main`, `aws.vpc.web[0]`).
        #[arg(value_name = "ADDR")]
        address: String,
        #[command(flatten)]
        ws: DirArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: PlanFormat,
    },
    /// Bring back a missing or damaged state from the versions kept in
    /// `.mcpo/state/history/`, or start a new, empty one.
    Restore {
        /// The version to make current again (`ls .mcpo/state/history/`).
        #[arg(value_name = "SERIAL", required_unless_present = "fresh")]
        serial: Option<u64>,
        /// Start a new, empty state instead; the old versions are set aside, never
        /// overwritten.
        #[arg(long, conflicts_with = "serial")]
        fresh: bool,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Forget resources: remove them from the state without deleting them on their
    /// servers (mcpo no longer manages them; `mcpoc import` takes one back). An address
    /// without an index removes all its instances.
    Rm {
        /// The addresses.
        #[arg(value_name = "ADDR", required = true)]
        addresses: Vec<String>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Encrypt every version of the state (the current one and its history) with the key
    /// the `backend` block's `encryption` block names now. Put the new key there first,
    /// and give the old one here (none: the state was not encrypted yet).
    Rekey {
        /// The environment variable holding the old passphrase.
        #[arg(long, value_name = "NAME", conflicts_with = "old_key_file")]
        old_passphrase_env: Option<String>,
        /// The file holding the old key.
        #[arg(long, value_name = "PATH")]
        old_key_file: Option<std::path::PathBuf>,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Move the state and its history to (or from) the `backend "postgres"` database; the
    /// target must hold none, the source is left as it is.
    Migrate {
        /// `postgres` (from `.mcpo/state/`) or `local` (from the database).
        #[arg(long, value_name = "BACKEND")]
        to: mcpo_deploy::backend::MigrateTo,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// `mcpoc serve`'s audit journal: AI clients' plans and applies, approvals, outcomes.
    Audit {
        #[command(flatten)]
        ws: DirArg,
    },
}

/// Arguments of `mcpoc output`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output: its value alone (strings without quotes), printed even when it is
    /// sensitive. Default: every output, sensitive ones redacted.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub ws: DirArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
}

/// Prints a state error with its code; exit 1.
pub fn state_error(e: &StateError) -> u8 {
    eprintln!("{}", e.render());
    EXIT_ERRORS
}

/// The workspace's state backend (its `backend` block, else the local file).
fn backend(ws: &DirArg) -> Result<std::sync::Arc<dyn mcpo_state::Backend>, u8> {
    mcpo_deploy::backend::for_workspace(&ws.root()).map_err(report::deploy_error)
}

fn read(ws: &DirArg) -> Result<State, u8> {
    let backend = backend(ws)?;
    let state = backend.read().map_err(|e| state_error(&e))?;
    if let Some(notice) = backend.notice() {
        eprintln!("note: {notice}");
    }
    Ok(state)
}

/// `mcpoc state ...`.
pub fn state(command: StateCommand) -> u8 {
    match command {
        StateCommand::Audit { ws } => {
            print!("{}", mcpo_serve::audit_journal(&ws.root()));
            EXIT_OK
        }
        StateCommand::List { ws } => {
            let state = match read(&ws) {
                Ok(s) => s,
                Err(code) => return code,
            };
            for line in render::addresses(&state) {
                println!("{line}");
            }
            if let Some(note) = render::interrupted(&state) {
                eprintln!("{note}");
            }
            EXIT_OK
        }
        StateCommand::Show {
            address,
            ws,
            format,
        } => {
            let state = match read(&ws) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let r = match query::resource(&state, &address) {
                Ok(r) => r,
                Err(p) => return report::problem(&p),
            };
            let shown = r.redacted();
            match format {
                PlanFormat::Json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&shown).unwrap_or_default()
                    );
                }
                PlanFormat::Text => print!("{}", render::resource(&address, r)),
            }
            EXIT_OK
        }
        StateCommand::Rm { addresses, ws } => state_rm(&addresses, &ws),
        StateCommand::Restore { serial, fresh, ws } => match backend(&ws.dir) {
            Ok(b) => printed(
                query::restore(b.as_ref(), serial.filter(|_| !fresh), ws.lock_timeout)
                    .map(|r| render::restored(&r)),
            ),
            Err(code) => code,
        },
        StateCommand::Rekey {
            old_passphrase_env,
            old_key_file,
            ws,
        } => {
            let old = OldKey::given(old_passphrase_env, old_key_file);
            printed(rekey(&ws.root(), &old, ws.lock_timeout))
        }
        StateCommand::Migrate { to, ws } => printed(migrate(&ws.root(), to, ws.lock_timeout)),
    }
}

/// Prints what a state command did, or its error.
fn printed(done: Result<impl std::fmt::Display, mcpo_deploy::DeployError>) -> u8 {
    match done {
        Ok(d) => {
            println!("{d}");
            EXIT_OK
        }
        Err(e) => report::deploy_error(e),
    }
}

fn state_rm(addresses: &[String], ws: &WorkspaceArg) -> u8 {
    let forgot = backend(&ws.dir).map(|b| query::forget(b.as_ref(), addresses, ws.lock_timeout));
    let removed = match forgot {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return report::deploy_error(e),
        Err(code) => return code,
    };
    for line in render::forgotten(&removed) {
        println!("{line}");
    }
    EXIT_OK
}

/// `mcpoc output`.
pub fn output(args: OutputArgs) -> u8 {
    let state = match read(&args.ws) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match &args.name {
        Some(name) => {
            let o = match query::output(&state, name) {
                Ok(o) => o,
                Err(p) => return report::problem(&p),
            };
            match (args.format, &o.value) {
                (PlanFormat::Text, Value::String(s)) => println!("{s}"),
                (PlanFormat::Text, v) => println!("{}", render::value(v)),
                (PlanFormat::Json, v) => println!("{v}"),
            }
        }
        None => match args.format {
            PlanFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&render::outputs_json(&state)).unwrap_or_default()
            ),
            PlanFormat::Text => {
                for line in render::outputs(&state) {
                    println!("{line}");
                }
            }
        },
    }
    EXIT_OK
}
