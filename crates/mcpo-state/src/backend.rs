//! The [`Backend`] trait: where a workspace's state lives, behind one set of operations
//! (read, compare-and-swap write, lock, history), and the two backends that keep no file:
//! [`MemoryBackend`] (tests, programs built in code) and [`Discard`] (benchmarks that
//! measure the executor alone).

use crate::lock::{LockGuard, LockInfo};
use crate::{State, StateError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A place that holds one state: the local file (`.mcpo/state/`), later a database.
///
/// Every operation is synchronous and may block (disk, network); async callers run them on
/// a blocking thread. Implementations are `Send + Sync` so that an executor can share one
/// between its steps.
pub trait Backend: Send + Sync {
    /// Where the state lives, in words a person recognises (`.mcpo/state/state.json`).
    fn location(&self) -> String;

    /// Reads the current state. When none was ever written: a fresh state (a new random
    /// lineage, serial 0). A damaged state, or one of a newer format, is an error and is
    /// never written over.
    fn read(&self) -> Result<State, StateError>;

    /// Writes `state` as the next version, compare-and-swap: `state` must continue the
    /// version this backend last read or wrote (same lineage and serial), otherwise the
    /// write is refused with [`StateError::Conflict`] instead of losing the other write.
    /// On success `state.serial` is incremented, the replaced version is kept in the
    /// history, and the write is durable when this returns. On error `state` is unchanged.
    fn write(&self, state: &mut State) -> Result<(), StateError>;

    /// Writes the next version as `delta` applied to the version this backend last read or
    /// wrote, which must be `lineage` at `serial` (compare-and-swap as in
    /// [`Backend::write`]); returns the new serial, durable when this returns. `Ok(None)`:
    /// this backend keeps whole states only, or wants one now (to compact its journal);
    /// nothing was written and the caller calls [`Backend::write`] with the whole state.
    fn write_delta(
        &self,
        lineage: &str,
        serial: u64,
        delta: &crate::Delta,
    ) -> Result<Option<u64>, StateError> {
        let _ = (lineage, serial, delta);
        Ok(None)
    }

    /// Takes the state's exclusive lock now, or fails with [`StateError::Locked`] naming
    /// its holder. The lock is released when the guard is dropped, and by the backend when
    /// the holding process dies, so a killed run never blocks the next one.
    fn lock(&self, info: LockInfo) -> Result<LockGuard, StateError>;

    /// The serials of the earlier versions kept, oldest first (the current one is not
    /// among them).
    fn history(&self) -> Result<Vec<u64>, StateError>;

    /// Reads version `serial`: from the history, or the current state if it has that
    /// serial; [`StateError::NoSuchVersion`] otherwise.
    fn read_version(&self, serial: u64) -> Result<State, StateError>;

    /// Makes the kept version `serial` the current state again, when the current one is
    /// missing or damaged ([`StateError::NothingToRestore`] when it is fine). The restored
    /// state continues the history: its serial is one more than the newest kept.
    fn restore(&self, serial: u64) -> Result<State, StateError>;

    /// Starts a new, empty state where the current one is missing: the versions kept of the
    /// old one are set aside (never overwritten by the new one's), and the next write
    /// starts a new lineage. Returns where the old versions went, in the backend's own
    /// words (`"the 3 earlier versions are kept in …"`), or `None` when there were none.
    fn start_fresh(&self) -> Result<Option<String>, StateError>;

    /// Seals every version this backend keeps (the current one and its history) again with
    /// its configured key, opening each with any key it was given (`mcpoc state rekey`).
    /// Every version is opened before anything is written, so a version no key opens is
    /// an error ([`StateError::Key`]) and nothing was written. Returns how many versions
    /// were written. A backend that seals nothing: `Ok(0)`.
    fn reseal(&self) -> Result<usize, StateError> {
        Ok(0)
    }

    /// What a person should be told about what this backend read that is not an error: a
    /// state read as plaintext where encryption is configured (sealed from its next write).
    fn notice(&self) -> Option<String> {
        None
    }

    /// Puts a state moved from another backend here exactly as it was there: `history`
    /// (its earlier versions, oldest first) and `current`, with their lineage and serials,
    /// so that a saved plan made before the move still fits. Refuses with
    /// [`StateError::TargetNotEmpty`] when this backend holds a state already; nothing is
    /// written then.
    fn adopt(&self, history: &[State], current: &State) -> Result<(), StateError>;

    /// Whether writes keep anything. When false, an executor need not even copy the state
    /// to write it.
    fn keeps(&self) -> bool {
        true
    }

    /// Takes the lock, waiting up to `timeout` for its holder to release it (polling every
    /// 50 ms); after that, [`StateError::Locked`] naming the holder.
    fn lock_wait(&self, info: LockInfo, timeout: Duration) -> Result<LockGuard, StateError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.lock(info.clone()) {
                Err(StateError::Locked { .. }) if Instant::now() < deadline => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    std::thread::sleep(left.min(Duration::from_millis(50)));
                }
                other => return other,
            }
        }
    }
}

/// A state kept in memory, with its history and a lock, by the rules of every backend
/// (compare-and-swap writes, a lock naming its holder). For tests and for programs that
/// build and apply a workspace in code without a workspace directory.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    inner: Arc<Mutex<Memory>>,
}

#[derive(Debug, Default)]
struct Memory {
    current: Option<State>,
    history: Vec<State>,
    holder: Option<LockInfo>,
}

impl MemoryBackend {
    /// An empty backend: the first read gives a fresh state.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Releases a [`MemoryBackend`]'s lock.
struct MemoryLock(Arc<Mutex<Memory>>);

impl Drop for MemoryLock {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).holder = None;
    }
}

const MEMORY: &str = "the in-memory state";

impl Backend for MemoryBackend {
    fn restore(&self, serial: u64) -> Result<State, StateError> {
        let mut m = self.memory();
        if m.current.is_some() {
            return Err(StateError::NothingToRestore {
                location: MEMORY.to_string(),
            });
        }
        let mut state = m
            .history
            .iter()
            .find(|s| s.serial == serial)
            .cloned()
            .ok_or_else(|| StateError::NoSuchVersion {
                serial,
                available: m.history.iter().map(|s| s.serial).collect(),
            })?;
        state.serial = m.history.iter().map(|s| s.serial).max().unwrap_or(serial) + 1;
        m.current = Some(state.clone());
        Ok(state)
    }

    fn start_fresh(&self) -> Result<Option<String>, StateError> {
        let mut m = self.memory();
        m.current = None;
        let dropped = std::mem::take(&mut m.history).len();
        Ok((dropped > 0).then(|| {
            format!("the {dropped} earlier version(s) were dropped: a state in memory keeps nothing aside")
        }))
    }

    fn location(&self) -> String {
        MEMORY.to_string()
    }

    fn read(&self) -> Result<State, StateError> {
        Ok(self
            .memory()
            .current
            .clone()
            .unwrap_or_else(|| State::new(crate::local::new_lineage())))
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let mut m = self.memory();
        if let Some(cur) = &m.current
            && (cur.lineage != state.lineage || cur.serial != state.serial)
        {
            return Err(StateError::Conflict {
                location: MEMORY.to_string(),
                on_disk: format!("lineage {}, serial {}", cur.lineage, cur.serial),
                writing: format!("lineage {}, serial {}", state.lineage, state.serial),
            });
        }
        let next = state.serial + 1;
        if let Some(prev) = m.current.take() {
            m.history.push(prev);
            let excess = m.history.len().saturating_sub(crate::HISTORY_KEPT);
            m.history.drain(..excess);
        }
        state.serial = next;
        m.current = Some(state.clone());
        Ok(())
    }

    fn lock(&self, info: LockInfo) -> Result<LockGuard, StateError> {
        let mut m = self.memory();
        if let Some(holder) = &m.holder {
            return Err(StateError::Locked {
                holder: Some(holder.clone()),
                location: MEMORY.to_string(),
            });
        }
        m.holder = Some(info.clone());
        Ok(LockGuard::new(info, MemoryLock(Arc::clone(&self.inner))))
    }

    fn history(&self) -> Result<Vec<u64>, StateError> {
        Ok(self.memory().history.iter().map(|s| s.serial).collect())
    }

    fn adopt(&self, history: &[State], current: &State) -> Result<(), StateError> {
        let mut m = self.memory();
        if let Some(cur) = &m.current {
            return Err(StateError::TargetNotEmpty {
                location: MEMORY.to_string(),
                detail: format!("lineage {}, serial {}", cur.lineage, cur.serial),
            });
        }
        let skip = history.len().saturating_sub(crate::HISTORY_KEPT);
        m.history = history.iter().skip(skip).cloned().collect();
        m.current = Some(current.clone());
        Ok(())
    }

    fn read_version(&self, serial: u64) -> Result<State, StateError> {
        let m = self.memory();
        m.history
            .iter()
            .chain(m.current.iter())
            .find(|s| s.serial == serial)
            .cloned()
            .ok_or_else(|| StateError::NoSuchVersion {
                serial,
                available: m.history.iter().map(|s| s.serial).collect(),
            })
    }
}

/// A backend that keeps nothing: every read is a fresh state and every write succeeds
/// without keeping it. For benchmarks that measure the executor alone, where a durable
/// write would dominate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl Backend for Discard {
    fn restore(&self, serial: u64) -> Result<State, StateError> {
        self.read_version(serial)
    }

    fn start_fresh(&self) -> Result<Option<String>, StateError> {
        Ok(None)
    }

    fn location(&self) -> String {
        "nowhere (the state is not kept)".to_string()
    }

    fn read(&self) -> Result<State, StateError> {
        Ok(State::new(crate::local::new_lineage()))
    }

    fn write(&self, _state: &mut State) -> Result<(), StateError> {
        Ok(())
    }

    fn lock(&self, info: LockInfo) -> Result<LockGuard, StateError> {
        Ok(LockGuard::new(info, ()))
    }

    fn history(&self) -> Result<Vec<u64>, StateError> {
        Ok(Vec::new())
    }

    fn adopt(&self, _history: &[State], _current: &State) -> Result<(), StateError> {
        Ok(())
    }

    fn read_version(&self, serial: u64) -> Result<State, StateError> {
        Err(StateError::NoSuchVersion {
            serial,
            available: Vec::new(),
        })
    }

    fn keeps(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_writes_continue_the_last_version_and_keep_history() {
        let backend = MemoryBackend::new();
        let mut a = backend.read().expect("read");
        let mut stale = a.clone();
        backend.write(&mut a).expect("first write");
        backend.write(&mut a).expect("second write");
        assert_eq!(a.serial, 2);
        assert_eq!(backend.history().expect("history"), vec![1]);
        assert_eq!(backend.read_version(1).expect("v1").serial, 1);
        let err = backend
            .write(&mut stale)
            .expect_err("a stale state is refused");
        assert_eq!(err.code().as_str(), "E0507");
        assert_eq!(stale.serial, 0, "a refused write changes nothing");
    }

    #[test]
    fn memory_lock_names_its_holder_and_is_released_on_drop() {
        let backend = MemoryBackend::new();
        let guard = backend
            .lock(LockInfo::current("mcpoc apply"))
            .expect("free");
        match backend.lock(LockInfo::current("mcpoc plan")) {
            Err(StateError::Locked {
                holder: Some(h), ..
            }) => assert_eq!(h.command, "mcpoc apply"),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(guard);
        backend
            .lock(LockInfo::current("mcpoc plan"))
            .expect("free again");
    }
}
