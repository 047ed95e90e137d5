//! What the state holds, for `state list|show|rm` and `output`: reading it, forgetting
//! resources under the lock, and saying what is meant when an address is not there.

use crate::error::{DeployError, Problem};
use mcpo_diagnostics::codes;
use mcpo_state::{Backend, LockInfo, OutputState, ResourceState, State};
use std::time::Duration;

/// `address` is not in `state`: E0635, with the nearest addresses as a suggestion.
pub fn not_in_state(address: &str, state: &State) -> Problem {
    let last = |s: &str| s.rsplit('.').next().unwrap_or_default().to_string();
    let near: Vec<&String> = state
        .resources
        .keys()
        .filter(|a| a.contains(address) || address.contains(a.as_str()) || last(a) == last(address))
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
    Problem::new(codes::E0635, format!("`{address}` is not in the state")).help(help)
}

/// The resource at `address`.
pub fn resource<'s>(state: &'s State, address: &str) -> Result<&'s ResourceState, Problem> {
    state
        .resources
        .get(address)
        .ok_or_else(|| not_in_state(address, state))
}

/// The output `name`.
pub fn output<'s>(state: &'s State, name: &str) -> Result<&'s OutputState, Problem> {
    state.outputs.get(name).ok_or_else(|| {
        let known: Vec<String> = state.outputs.keys().map(|k| format!("`{k}`")).collect();
        let help = if known.is_empty() {
            "there are no outputs: declare `output` blocks and run `mcpoc apply`".into()
        } else {
            format!("the outputs are {}", known.join(", "))
        };
        Problem::new(codes::E0635, format!("no output `{name}` in the state")).help(help)
    })
}

/// Forgets what `addresses` select (an address without a key selects all its instances,
/// `module.x` everything inside the module), under the lock; nothing is removed unless
/// every address selects something. Returns what was removed. Waits up to `wait` for
/// another holder of the lock.
pub fn forget(
    backend: &dyn Backend,
    addresses: &[String],
    wait: Duration,
) -> Result<Vec<(String, ResourceState)>, DeployError> {
    let _lock = backend.lock_wait(LockInfo::current("mcpoc state rm"), wait)?;
    let mut state = backend.read()?;
    let mut removed = Vec::new();
    for address in addresses {
        let gone = state.rm(address);
        if gone.is_empty() {
            return Err(not_in_state(address, &state)
                .help("nothing was removed; `mcpoc state list` shows the addresses in the state")
                .into());
        }
        removed.extend(gone);
    }
    backend.write(&mut state)?;
    Ok(removed)
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Restored {
    /// The kept version `serial` is the current state again (with a new serial).
    Version {
        /// The version asked for.
        serial: u64,
        /// The state as it is now.
        state: State,
    },
    /// A new, empty state starts: where the old versions went, in the backend's words
    /// (`None`: there were none).
    Fresh {
        /// Where the old versions are kept.
        kept: Option<String>,
    },
}

/// Brings back a missing or damaged state: the kept version `serial` becomes current
/// again, or with `None` a new, empty state starts (the old versions set aside). Under the
/// lock, waiting up to `wait` for another holder.
pub fn restore(
    backend: &dyn Backend,
    serial: Option<u64>,
    wait: Duration,
) -> Result<Restored, DeployError> {
    let _lock = backend.lock_wait(LockInfo::current("mcpoc state restore"), wait)?;
    match serial {
        Some(serial) => Ok(Restored::Version {
            serial,
            state: backend.restore(serial)?,
        }),
        None => Ok(Restored::Fresh {
            kept: backend.start_fresh()?,
        }),
    }
}
