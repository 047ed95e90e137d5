//! Ctrl-C while a run is in flight, the same for every command that runs steps (`apply`,
//! `destroy`, runbooks): the first interrupt cancels the run (no new step starts, the
//! calls in flight finish and the state is saved); what a second one means is the front
//! end's to decide (a CLI exits at once, leaving intents the next plan settles).

use mcpo_exec::{CancellationToken, Event};
use std::future::Future;
use tokio::sync::mpsc::UnboundedReceiver;

/// What happened while a run was driven, in the order it happened.
#[derive(Debug)]
pub enum Seen<'a, E = Event> {
    /// An event of the run (the executor's, or a runbook's).
    Event(&'a E),
    /// The first Ctrl-C: the run was cancelled and is winding down.
    Interrupted,
    /// Another Ctrl-C after the first.
    InterruptedAgain,
}

/// Drives `run` to its end, handing every event from `events` and every Ctrl-C to `seen`
/// as they come; the first Ctrl-C cancels `cancel`. Events still queued when the run ends
/// are handed over before its result is returned.
pub async fn drive<T, E>(
    run: impl Future<Output = T>,
    events: &mut UnboundedReceiver<E>,
    cancel: &CancellationToken,
    mut seen: impl FnMut(Seen<'_, E>),
) -> T {
    tokio::pin!(run);
    loop {
        tokio::select! {
            done = &mut run => {
                while let Ok(ev) = events.try_recv() {
                    seen(Seen::Event(&ev));
                }
                return done;
            }
            Some(ev) = events.recv() => seen(Seen::Event(&ev)),
            _ = tokio::signal::ctrl_c() => {
                if cancel.is_cancelled() {
                    seen(Seen::InterruptedAgain);
                } else {
                    cancel.cancel();
                    seen(Seen::Interrupted);
                }
            }
        }
    }
}
