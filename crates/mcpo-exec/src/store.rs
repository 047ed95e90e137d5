//! Writing the state during a run: every change is applied in memory, then made durable
//! through the state [`Backend`] before the step goes on (group commit: steps that finish
//! while a write is in progress share the next write).

use crate::ExecError;
use mcpo_diagnostics::codes;
use mcpo_state::{Backend, State};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The state of a run, shared by its steps.
pub(crate) struct StateCell {
    state: Mutex<State>,
    store: Arc<dyn Backend>,
    /// Bumped by every change.
    changed: AtomicU64,
    /// The last change known to be durable.
    durable: AtomicU64,
    /// Held while writing; waiting steps find their change written by the writer before.
    writing: tokio::sync::Mutex<()>,
    /// Number of writes (for benchmarks and tests).
    writes: AtomicU64,
}

impl StateCell {
    pub(crate) fn new(state: State, store: Arc<dyn Backend>) -> StateCell {
        StateCell {
            state: Mutex::new(state),
            store,
            changed: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            writing: tokio::sync::Mutex::new(()),
            writes: AtomicU64::new(0),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the state in memory; call [`StateCell::commit`] before the step goes on.
    pub(crate) fn change<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.lock();
        let r = f(&mut s);
        self.changed.fetch_add(1, Ordering::SeqCst);
        r
    }

    /// Changes the state and waits until the change is durable.
    pub(crate) async fn commit<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, ExecError> {
        let r = self.change(f);
        self.flush().await?;
        Ok(r)
    }

    /// Waits until every change made so far is durable.
    pub(crate) async fn flush(&self) -> Result<(), ExecError> {
        let target = self.changed.load(Ordering::SeqCst);
        if self.durable.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        if !self.store.keeps() {
            self.durable.fetch_max(target, Ordering::SeqCst);
            return Ok(());
        }
        let _writing = self.writing.lock().await;
        if self.durable.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        let (mut snapshot, generation) = {
            let s = self.lock();
            (s.clone(), self.changed.load(Ordering::SeqCst))
        };
        let store = Arc::clone(&self.store);
        let written = tokio::task::spawn_blocking(move || {
            store
                .write(&mut snapshot)
                .map(|()| snapshot.serial)
                .map_err(|e| format!("[{}] {e}", e.code()))
        })
        .await
        .map_err(|e| format!("the writer stopped: {e}"))
        .and_then(|r| r);
        match written {
            Ok(serial) => {
                self.lock().serial = serial;
                self.writes.fetch_add(1, Ordering::Relaxed);
                self.durable.fetch_max(generation, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => Err(ExecError::new(
                codes::E0609,
                format!("the state could not be saved: {e}"),
            )
            .with_help("fix the cause, then run `mcpoc refresh` and `mcpoc apply` again")),
        }
    }

    pub(crate) fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub(crate) fn into_state(self) -> State {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}
