//! Ctrl-C while a run is in flight, the same for every command that runs steps (`apply`,
//! `destroy`, runbooks): the first interrupt cancels the run (no new step starts, the
//! calls in flight finish and the state is saved); what a second one means is the front
//! end's to decide (a CLI exits at once, leaving intents the next plan settles).

use mcpo_exec::{CancellationToken, Event};
use std::future::Future;
use std::time::Duration;
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

/// The signals that stop a long-running command: SIGINT (Ctrl-C) and, on Unix, SIGTERM (a
/// service manager, `kill`).
pub struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Starts listening (inside a runtime): from now on these signals no longer end the
    /// process by themselves.
    pub fn new() -> Signals {
        Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    /// The name of the next signal received (`SIGINT`, `SIGTERM`).
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some(term) = self.term.as_mut() {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}

/// Runs `fut` on `rt` until it finishes, or until a stop signal: then `fut` is dropped,
/// which stops every server it started (their process groups are killed), and
/// `on_signal(name)` is its result. The kills of dropped connections get a moment to run
/// before the runtime goes.
pub fn block_on_until_signal<T>(
    rt: tokio::runtime::Runtime,
    fut: impl Future<Output = T>,
    on_signal: impl FnOnce(&'static str) -> T,
) -> T {
    let out = rt.block_on(async {
        let mut signals = Signals::new();
        tokio::select! {
            out = fut => out,
            name = signals.next() => on_signal(name),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(3));
    out
}
