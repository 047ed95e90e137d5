//! [`StateError`]: everything that can go wrong reading, writing or locking the state, each
//! with its diagnostic code, what happened, which file, and what to do.

use crate::lock::LockInfo;
use mcpo_diagnostics::codes::{self, Code};

/// An error of a state backend. It names places in the backend's own words (the local
/// backend: paths relative to the workspace root, as a person in the workspace would type
/// them, e.g. `.mcpo/state/state.json`), and carries reasons as text, so it is the same
/// for every backend and can be cloned, sent and shown anywhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The state file exists but cannot be read (E0500).
    #[error(
        "cannot read the state in {}: {reason}; check that it is readable",
        location
    )]
    Unreadable {
        /// The state file.
        location: String,
        /// Why it failed (the operating system's error, the database's answer).
        reason: String,
    },
    /// The state file is not valid JSON or not a state (E0501).
    #[error(
        "the state in {} is damaged: {detail}; it was left as it is: {}",
        location,
        restore_hint(history, *newest)
    )]
    Corrupt {
        /// The damaged file.
        location: String,
        /// What is wrong, with the line and column.
        detail: String,
        /// Where earlier versions are kept.
        history: String,
        /// The newest serial found in the history, if any.
        newest: Option<u64>,
    },
    /// The state file was written by a newer mcpoc (E0502).
    #[error(
        "the state in {} has format version {found}, but this mcpoc reads versions up to {supported}; it was left as it is: upgrade mcpoc to use this workspace",
        location
    )]
    NewerFormat {
        /// The state file.
        location: String,
        /// The format version in the file.
        found: u64,
        /// The newest version this build reads ([`crate::FORMAT_VERSION`]).
        supported: u32,
    },
    /// Another process holds the state lock (E0503).
    #[error("{}", locked_message(holder.as_ref(), location))]
    Locked {
        /// Who holds it, as written in the lock file (None when the holder has not written
        /// its details yet, or they cannot be read).
        holder: Option<LockInfo>,
        /// The lock.
        location: String,
    },
    /// Writing the state (or its history copy) failed; the previous state is intact (E0504).
    #[error(
        "the state could not be saved: cannot {action} {}: {reason}; the previous state is intact, fix the cause and run again",
        location
    )]
    WriteFailed {
        /// What was being done (`write`, `rename`, `sync`, ...).
        action: &'static str,
        /// The file or directory concerned.
        location: String,
        /// Why it failed (the operating system's error, the database's answer).
        reason: String,
    },
    /// The lock file cannot be created, opened or locked (E0505).
    #[error(
        "cannot lock the state: {action} {}: {reason}; check that .mcpo/state is a writable directory",
        location
    )]
    LockFailed {
        /// What was being done.
        action: &'static str,
        /// The lock.
        location: String,
        /// Why it failed (the operating system's error, the database's answer).
        reason: String,
    },
    /// `read_version` of a serial that the history does not hold (E0506).
    #[error("{}", no_version_message(*serial, available))]
    NoSuchVersion {
        /// The serial asked for.
        serial: u64,
        /// The serials kept.
        available: Vec<u64>,
    },
    /// The state being written is not a successor of the one in the file: another process
    /// wrote in between, or it belongs to another workspace (E0507).
    #[error(
        "the state was not saved: {} now holds {on_disk}, but this state was read at {writing}; it was changed by another process since it was read: run the command again",
        location
    )]
    Conflict {
        /// The state file.
        location: String,
        /// Lineage and serial in the file, e.g. `lineage 3f2a.., serial 12`.
        on_disk: String,
        /// Lineage and serial of the state being written.
        writing: String,
    },
    /// The state's serial is the largest there is: no next version can be numbered
    /// (E0508). Nothing was written.
    #[error(
        "the state was not saved: {} is at serial {serial}, the largest a version can have, so the next version cannot be numbered; nothing was written. No run gets there by writing versions: the serial was edited; restore a good version from .mcpo/state/history",
        location
    )]
    SerialExhausted {
        /// The state file.
        location: String,
        /// The serial of the state being written (`u64::MAX`).
        serial: u64,
    },
    /// The current state is gone while earlier versions are kept (E0509): starting from an
    /// empty state would create everything again, so nothing is read or written until a
    /// version is restored or a fresh start is asked for.
    #[error(
        "{location} is missing, but {history} holds {count} earlier version(s) of it (the newest is {newest}); nothing was read, planned or written: restore it with `mcpoc state restore {newest}`, or start a new, empty state with `mcpoc state restore --fresh` (the old versions are kept aside)"
    )]
    Missing {
        /// The state file.
        location: String,
        /// Where the earlier versions are.
        history: String,
        /// How many are kept.
        count: usize,
        /// The newest kept serial.
        newest: u64,
    },
    /// A restore was asked for while the state is there and readable (E0510).
    #[error(
        "{location} is there and readable, so there is nothing to restore; `mcpoc state restore` brings back a missing or damaged state"
    )]
    NothingToRestore {
        /// The state file.
        location: String,
    },
    /// The place holding the state cannot be reached or refused to serve it: a database
    /// that does not answer, refuses the login, or whose tables cannot be set up (E0512).
    /// Nothing was read or written.
    #[error(
        "cannot reach the state at {}: {reason}; nothing was read or written: check that the database is up and that the backend's `url` is right",
        location
    )]
    Unavailable {
        /// Where the state lives (never with a password).
        location: String,
        /// What went wrong (the driver's or the database's answer).
        reason: String,
    },
    /// A state cannot be moved to a place that already holds one (E0513): moving would
    /// lose it. Nothing was written.
    #[error(
        "the state was not moved: {} already holds a state ({detail}); nothing was written: move that state away first, or migrate to another `name`",
        location
    )]
    TargetNotEmpty {
        /// The target.
        location: String,
        /// Its lineage, serial and size.
        detail: String,
    },
    /// The state (or a saved plan) is encrypted and cannot be opened: no key is configured,
    /// the key is not the one it was encrypted with, or the configured key cannot be had
    /// (an unset passphrase variable, an unreadable key file) (E0515). Nothing was read
    /// or written.
    #[error("cannot decrypt {}: {reason}; nothing was read or written", location)]
    Key {
        /// What was to be opened.
        location: String,
        /// Why, and what to do (never the key).
        reason: String,
    },
}

impl StateError {
    /// The diagnostic code of this error.
    pub fn code(&self) -> Code {
        match self {
            StateError::Unreadable { .. } => codes::E0500,
            StateError::Corrupt { .. } => codes::E0501,
            StateError::NewerFormat { .. } => codes::E0502,
            StateError::Locked { .. } => codes::E0503,
            StateError::WriteFailed { .. } => codes::E0504,
            StateError::LockFailed { .. } => codes::E0505,
            StateError::NoSuchVersion { .. } => codes::E0506,
            StateError::Conflict { .. } => codes::E0507,
            StateError::SerialExhausted { .. } => codes::E0508,
            StateError::Missing { .. } => codes::E0509,
            StateError::NothingToRestore { .. } => codes::E0510,
            StateError::Unavailable { .. } => codes::E0512,
            StateError::TargetNotEmpty { .. } => codes::E0513,
            StateError::Key { .. } => codes::E0515,
        }
    }

    /// The error as the CLI shows it: `error[E0503]: the state is locked by ...`.
    pub fn render(&self) -> String {
        format!("error[{}]: {self}", self.code())
    }
}

fn restore_hint(history: &str, newest: Option<u64>) -> String {
    match newest {
        Some(n) => format!(
            "make a good version current again with `mcpoc state restore {n}` (the newest that {history} holds; the damaged state is kept aside), or start a new, empty state with `mcpoc state restore --fresh`"
        ),
        None => format!(
            "{history} holds no earlier version: restore it from a backup, or start a new, empty state with `mcpoc state restore --fresh` (the damaged state is kept aside) and bring the resources it recorded back with `mcpoc import`"
        ),
    }
}

fn locked_message(holder: Option<&LockInfo>, location: &str) -> String {
    match holder {
        Some(h) => format!(
            "the state is locked by `{}` (pid {} on host {}) since {} ({}); wait for it to finish, or run again with `--lock-timeout 5m` to wait for it; the lock is released when that process exits, even if it is killed",
            h.command, h.pid, h.host, h.since, location
        ),
        None => format!(
            "the state is locked by another process (it has not written who it is to {} yet); wait for it to finish",
            location
        ),
    }
}

fn no_version_message(serial: u64, available: &[u64]) -> String {
    match (available.first(), available.last()) {
        (Some(first), Some(last)) => format!(
            "no version {serial} of the state is kept; the history holds {} versions, {first} to {last}",
            available.len()
        ),
        _ => format!("no version {serial} of the state is kept; the history is empty"),
    }
}
