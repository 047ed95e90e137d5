//! Progress of a run, sent on a channel for the CLI to render (the executor never prints).

use crate::{Action, ExecError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// Something that happened to one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The step's address.
    pub address: String,
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to a step.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The step started (its dependencies are done).
    Started {
        /// What it does.
        action: Action,
    },
    /// A progress message from the server, or a phase of the step ("deleting the old
    /// resource").
    Progress(String),
    /// The resource exists; waiting for its `wait_for` condition.
    Waiting,
    /// A call failed transiently and is retried after a pause.
    Retrying {
        /// The attempt that failed (1 = the first call).
        attempt: u32,
        /// Why it failed.
        error: String,
    },
    /// The step finished.
    Done {
        /// What it did.
        action: Action,
        /// How long it took.
        elapsed: Duration,
    },
    /// The step failed.
    Failed {
        /// Why.
        error: ExecError,
    },
    /// The step did not run because a dependency failed.
    Skipped {
        /// The address of the failed step.
        because: String,
    },
    /// A step of `--rollback-on-failure` undid this address.
    RolledBack {
        /// What the undo did (`delete`, `update`, `create`).
        action: Action,
    },
}

/// Where events go; sending never blocks and a closed receiver is not an error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Events(pub(crate) Option<UnboundedSender<Event>>);

impl Events {
    pub(crate) fn send(&self, address: &str, kind: EventKind) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(Event {
                address: address.to_string(),
                at: Instant::now(),
                kind,
            });
        }
    }
}
