//! `mcpoc state list|show|rm` and `mcpoc output`: reading and editing the recorded state
//! through `mcpo-state`'s local backend. Sensitive values are redacted everywhere except
//! an output asked for by name.

use crate::deploy::{PlanFormat, WorkspaceArg};
use crate::report::CliError;
use crate::{EXIT_ERRORS, EXIT_OK};
use clap::{Args, Subcommand};
use mcpo_diagnostics::codes;
use mcpo_state::{Backend, LocalBackend, LockInfo, State, StateError};
use serde_json::Value;

/// `mcpoc state ...`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses of everything in the state, one per line.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Show one resource: its server, type, id, inputs and outputs (sensitive values
    /// redacted).
    Show {
        /// The address (`aws.vpc.main`, `aws.vpc.web[0]`).
        #[arg(value_name = "ADDR")]
        address: String,
        #[command(flatten)]
        ws: WorkspaceArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: PlanFormat,
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
}

/// Arguments of `mcpoc output`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output: its value alone (strings without quotes), printed even when it is
    /// sensitive. Default: every output, sensitive ones redacted.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub ws: WorkspaceArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
}

/// Prints a state error with its code; exit 1.
pub fn state_error(e: &StateError) -> u8 {
    eprintln!("{}", e.render());
    EXIT_ERRORS
}

fn read(ws: &WorkspaceArg) -> Result<State, u8> {
    LocalBackend::new(ws.root())
        .read()
        .map_err(|e| state_error(&e))
}

fn not_in_state(address: &str, state: &State) -> CliError {
    let near: Vec<&String> = state
        .resources
        .keys()
        .filter(|a| {
            let last = |s: &str| s.rsplit('.').next().unwrap_or_default().to_string();
            a.contains(address) || address.contains(a.as_str()) || last(a) == last(address)
        })
        .take(3)
        .collect();
    let help = if state.resources.is_empty() {
        "the state is empty: nothing was applied in this workspace yet".to_string()
    } else if near.is_empty() {
        "`mcpoc state list` shows the addresses in the state".to_string()
    } else {
        format!(
            "did you mean {}? (`mcpoc state list` shows them all)",
            near.iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    CliError::new(codes::E0635, format!("`{address}` is not in the state")).help(help)
}

/// A value as written in `.mcpo` source: strings quoted, lists and objects inline.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{} = {}", show_key(k), show_value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Object(_) => "{}".into(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show_value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

fn show_key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn show_attrs(out: &mut String, title: &str, attrs: &Value) {
    let Some(map) = attrs.as_object() else {
        return;
    };
    out.push_str(&format!("  {title}:\n"));
    let width = map.keys().map(|k| show_key(k).len()).max().unwrap_or(0);
    for (k, v) in map {
        out.push_str(&format!(
            "    {:<width$} = {}\n",
            show_key(k),
            show_value(v)
        ));
    }
}

/// `mcpoc state ...`.
pub fn state(command: StateCommand) -> u8 {
    match command {
        StateCommand::List { ws } => {
            let state = match read(&ws) {
                Ok(s) => s,
                Err(code) => return code,
            };
            for (address, r) in &state.resources {
                if r.tainted {
                    println!("{address} (tainted)");
                } else {
                    println!("{address}");
                }
            }
            if !state.intents.is_empty() {
                eprintln!(
                    "note: {} operation(s) were interrupted before their result was recorded; the next `mcpoc plan` or `mcpoc refresh` settles them",
                    state.intents.len()
                );
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
            let Some(r) = state.resources.get(&address) else {
                return not_in_state(&address, &state).report();
            };
            let shown = r.redacted();
            match format {
                PlanFormat::Json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&shown).unwrap_or_default()
                    );
                }
                PlanFormat::Text => {
                    let mut out = format!("{address}\n");
                    out.push_str(&format!("  server: {}\n", r.server));
                    out.push_str(&format!("  type:   {}\n", r.type_name));
                    out.push_str(&format!("  id:     {}\n", r.id));
                    if r.tainted {
                        out.push_str("  tainted: the next apply replaces it\n");
                    }
                    if !r.deps.is_empty() {
                        out.push_str(&format!("  depends on: {}\n", r.deps.join(", ")));
                    }
                    show_attrs(&mut out, "inputs", &shown["inputs"]);
                    show_attrs(&mut out, "outputs", &shown["outputs"]);
                    print!("{out}");
                }
            }
            EXIT_OK
        }
        StateCommand::Rm { addresses, ws } => state_rm(&addresses, &ws),
    }
}

fn state_rm(addresses: &[String], ws: &WorkspaceArg) -> u8 {
    let backend = LocalBackend::new(ws.root());
    let _lock = match backend.lock(LockInfo::current("mcpoc state rm")) {
        Ok(guard) => guard,
        Err(e) => return state_error(&e),
    };
    let mut state = match backend.read() {
        Ok(s) => s,
        Err(e) => return state_error(&e),
    };
    let mut removed = Vec::new();
    for address in addresses {
        let gone = state.rm(address);
        if gone.is_empty() {
            // Nothing is written when any address is wrong: fix the command and rerun.
            return not_in_state(address, &state)
                .help("nothing was removed; `mcpoc state list` shows the addresses in the state")
                .report();
        }
        removed.extend(gone);
    }
    if let Err(e) = backend.write(&mut state) {
        return state_error(&e);
    }
    for (address, r) in &removed {
        println!(
            "removed {address} (id {}) from the state; it still exists on server `{}`",
            r.id, r.server
        );
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
            let Some(o) = state.outputs.get(name) else {
                let known: Vec<String> = state.outputs.keys().map(|k| format!("`{k}`")).collect();
                let help = if known.is_empty() {
                    "there are no outputs: declare `output` blocks and run `mcpoc apply`".into()
                } else {
                    format!("the outputs are {}", known.join(", "))
                };
                return CliError::new(codes::E0635, format!("no output `{name}` in the state"))
                    .help(help)
                    .report();
            };
            match (args.format, &o.value) {
                (PlanFormat::Text, Value::String(s)) => println!("{s}"),
                (PlanFormat::Text, v) => println!("{}", show_value(v)),
                (PlanFormat::Json, v) => println!("{v}"),
            }
        }
        None => match args.format {
            PlanFormat::Json => {
                let doc: serde_json::Map<String, Value> = state
                    .outputs
                    .iter()
                    .map(|(k, o)| (k.clone(), o.redacted()))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default()
                );
            }
            PlanFormat::Text => {
                let width = state.outputs.keys().map(String::len).max().unwrap_or(0);
                for (k, o) in &state.outputs {
                    let shown = if o.sensitive {
                        mcpo_state::REDACTED.to_string()
                    } else {
                        show_value(&o.value)
                    };
                    println!("{k:<width$} = {shown}");
                }
            }
        },
    }
    EXIT_OK
}
