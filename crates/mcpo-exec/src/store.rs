//! Writing the state during a run: every change is applied in memory, then made durable
//! through the state [`Backend`] before the step goes on (group commit: steps that finish
//! while a write is in progress share the next write).

use crate::ExecError;
use mcpo_diagnostics::codes;
use mcpo_state::{Backend, Delta, State};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What changed since the last durable write: the next write records only that
/// ([`Backend::write_delta`]), so a step costs what it changed, not the whole state.
#[derive(Default)]
struct Dirty {
    /// Resources whose record (or intents) changed.
    addresses: BTreeSet<String>,
    /// The outputs changed.
    outputs: bool,
    /// Only a whole write will do (a failed write: what reached the disk is unknown).
    whole: bool,
}

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
    /// What the next write must record; changed under the `state` lock.
    dirty: Mutex<Dirty>,
    /// Whether versions were written as changes since the last whole write.
    journaled: AtomicBool,
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
            dirty: Mutex::new(Dirty::default()),
            journaled: AtomicBool::new(false),
        }
    }

    fn dirty(&self) -> MutexGuard<'_, Dirty> {
        self.dirty.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the state in memory: the record of the resource at `address` and the
    /// intents, nothing else. Call [`StateCell::commit`] before the step goes on.
    pub(crate) fn change<R>(&self, address: &str, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.lock();
        let r = f(&mut s);
        self.dirty().addresses.insert(address.to_string());
        self.changed.fetch_add(1, Ordering::SeqCst);
        r
    }

    /// Changes the workspace's outputs in memory.
    pub(crate) fn change_outputs<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.lock();
        let r = f(&mut s);
        self.dirty().outputs = true;
        self.changed.fetch_add(1, Ordering::SeqCst);
        r
    }

    /// [`StateCell::change`], then waits until the change is durable.
    pub(crate) async fn commit<R>(
        &self,
        address: &str,
        f: impl FnOnce(&mut State) -> R,
    ) -> Result<R, ExecError> {
        let r = self.change(address, f);
        self.flush().await?;
        Ok(r)
    }

    /// Makes everything durable in one whole write when versions were written as changes
    /// (the backend compacts its journal): the end of a run.
    pub(crate) async fn finish(&self) -> Result<(), ExecError> {
        self.flush().await?;
        if self.journaled.load(Ordering::SeqCst) {
            self.dirty().whole = true;
            self.changed.fetch_add(1, Ordering::SeqCst);
            self.flush().await?;
        }
        Ok(())
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
        // What changed, taken under the state lock with the changes themselves: only
        // those records are copied, not the whole state.
        let (delta, generation) = {
            let s = self.lock();
            let dirty = std::mem::take(&mut *self.dirty());
            let delta = (!dirty.whole).then(|| {
                (
                    s.lineage.clone(),
                    s.serial,
                    Delta::of(&s, &dirty.addresses, dirty.outputs),
                )
            });
            (delta, self.changed.load(Ordering::SeqCst))
        };
        let store = Arc::clone(&self.store);
        let written = tokio::task::spawn_blocking(move || match delta {
            Some((lineage, serial, delta)) => store.write_delta(&lineage, serial, &delta),
            None => Ok(None),
        })
        .await
        .map_err(|e| format!("the writer stopped: {e}"))
        .and_then(|r| r.map_err(|e| format!("[{}] {e}", e.code())));
        let written = match written {
            Ok(Some(serial)) => {
                self.journaled.store(true, Ordering::SeqCst);
                Ok(serial)
            }
            // The backend takes whole states (or compacts now): copy it once.
            Ok(None) => {
                let mut whole = self.lock().clone();
                let store = Arc::clone(&self.store);
                tokio::task::spawn_blocking(move || {
                    store
                        .write(&mut whole)
                        .map(|()| whole.serial)
                        .map_err(|e| format!("[{}] {e}", e.code()))
                })
                .await
                .map_err(|e| format!("the writer stopped: {e}"))
                .and_then(|r| r)
                .inspect(|_| self.journaled.store(false, Ordering::SeqCst))
            }
            Err(e) => Err(e),
        };
        match written {
            Ok(serial) => {
                self.lock().serial = serial;
                self.writes.fetch_add(1, Ordering::Relaxed);
                self.durable.fetch_max(generation, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => {
                // What reached the disk is unknown: the next write is a whole one.
                self.dirty().whole = true;
                Err(
                    ExecError::new(codes::E0609, format!("the state could not be saved: {e}"))
                        .with_help(
                            "fix the cause, then run `mcpoc refresh` and `mcpoc apply` again",
                        ),
                )
            }
        }
    }

    pub(crate) fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub(crate) fn into_state(self) -> State {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}
