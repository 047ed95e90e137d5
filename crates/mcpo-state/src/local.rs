//! The local file backend: the state of a workspace in `<root>/.mcpo/state/`.
//!
//! ```text
//! .mcpo/state/state.json          the snapshot: the current state, unless the journal says more
//! .mcpo/state/journal             the versions written since, as changes (see `journal`)
//! .mcpo/state/history/<serial>.json  earlier snapshots, the last HISTORY_KEPT of them
//! .mcpo/state/lock                the lock (see `lock`)
//! .mcpo/state/.state.json.tmp     a write in progress (left over only by a crash)
//! ```
//!
//! A write never leaves a half-written `state.json`: the new version goes to a temporary
//! file in the same directory, is fsynced, renamed over `state.json` (atomic on POSIX), and
//! the directory is fsynced so that the rename survives a power loss. Before that, the
//! version being replaced is hard-linked into `history/` (a copy when links are not
//! supported), which costs no copy of the data.
//!
//! The steps of an apply do not rewrite the state: each version is one fsynced line
//! appended to the journal ([`Backend::write_delta`]). A whole write (every command but
//! apply's steps, the end of an apply, and whenever the journal has grown past the
//! snapshot) is a compaction: the new snapshot replaces `state.json` and the journal is
//! removed. So the history keeps snapshots: the state before each command that changed it
//! (an apply keeps the one it started from), not every step of an apply.

use crate::crypt::Encryption;
use crate::error::StateError;
use crate::journal::{self, JOURNAL_FILE};
use crate::lock::{self, Attempt, LockGuard, LockInfo};
use crate::{Backend, Delta, State};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many earlier versions `history/` keeps; older ones are deleted by `write`.
pub const HISTORY_KEPT: usize = 50;

const STATE_DIR: &str = ".mcpo/state";
const STATE_FILE: &str = "state.json";
const HISTORY_DIR: &str = "history";
const LOCK_FILE: &str = "lock";
const TEMP_FILE: &str = ".state.json.tmp";

/// The journal is compacted into a new snapshot once it is longer than the snapshot and
/// than this: the bytes written stay proportional to the changes made.
const COMPACT_AFTER: u64 = 256 * 1024;

/// The state of one workspace on the local disk.
///
/// Methods take `&self` and the backend is `Send + Sync`, so an executor can share it
/// between threads; writes from one process are serialized. Callers that change the state
/// hold the [`LocalBackend::lock`] so that other processes do not write at the same time.
#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
    /// The state file as this backend last read or wrote it: a write must continue from
    /// there (see [`StateError::Conflict`]).
    known: Mutex<Option<Known>>,
    /// The keys the files are sealed with, when the workspace configures encryption.
    keys: Option<Arc<Encryption>>,
}

/// What a backend knows of the state file it last read or wrote.
#[derive(Debug)]
struct Known {
    lineage: String,
    serial: u64,
    /// Tells whether someone else replaced the file since (every write is a new file).
    file: FileId,
    /// The serial and size of `state.json` (the snapshot).
    snapshot: u64,
    snapshot_len: u64,
    /// The journal after the snapshot, when there is one.
    journal: Option<JournalAt>,
}

/// What a backend knows of the journal it last read or appended to.
#[derive(Debug)]
struct JournalAt {
    /// Tells whether someone else wrote to it since.
    file: FileId,
    /// The length of its complete records (a cut-off last line starts here).
    valid: u64,
    /// Open for appending, after the first append of this backend.
    appender: Option<File>,
}

impl Known {
    /// The files as this backend last saw them.
    fn seen(&self) -> (FileId, Option<FileId>) {
        (self.file, self.journal.as_ref().map(|j| j.file))
    }
}

/// Identifies one version of a file without reading it: device, inode, size, mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64, u64, u128);

impl FileId {
    fn of(meta: &fs::Metadata) -> FileId {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        FileId(dev, ino, meta.len(), mtime)
    }
}

impl LocalBackend {
    /// The backend of the workspace at `workspace_root` (nothing is touched on disk yet).
    pub fn new(workspace_root: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend {
            root: workspace_root.into(),
            known: Mutex::new(None),
            keys: None,
        }
    }

    /// The same backend, sealing every file it writes (the state, its journal's lines, the
    /// history) with `keys`, and opening sealed ones with them. Plaintext files are still
    /// read, and sealed from their next write on.
    pub fn with_encryption(mut self, keys: Arc<Encryption>) -> LocalBackend {
        self.keys = Some(keys);
        self
    }

    fn keys(&self) -> Option<&Encryption> {
        self.keys.as_deref()
    }

    /// The directory holding the state, `<root>/.mcpo/state`.
    pub fn dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// The current state file, `<root>/.mcpo/state/state.json`.
    pub fn state_path(&self) -> PathBuf {
        self.dir().join(STATE_FILE)
    }

    fn journal_path(&self) -> PathBuf {
        self.dir().join(JOURNAL_FILE)
    }

    /// The state and journal files as they are on disk now (two `stat`s).
    fn on_disk(&self) -> (Option<FileId>, Option<FileId>) {
        let id = |p: PathBuf| fs::symlink_metadata(p).ok().map(|m| FileId::of(&m));
        (id(self.state_path()), id(self.journal_path()))
    }

    /// Reads the current state: the snapshot with the journal replayed. `Ok(None)` when
    /// there is no snapshot.
    fn load_current(&self) -> Result<Option<(State, Known)>, StateError> {
        let Some((mut state, file)) = self.load(&self.state_path(), &Self::shown(STATE_FILE))?
        else {
            return Ok(None);
        };
        let snapshot = state.serial;
        let journal = self.replay_journal(&mut state)?;
        let known = Known {
            lineage: state.lineage.clone(),
            serial: state.serial,
            file,
            snapshot,
            snapshot_len: file.2,
            journal,
        };
        Ok(Some((state, known)))
    }

    /// Applies the journal, if there is one, to `state`.
    fn replay_journal(&self, state: &mut State) -> Result<Option<JournalAt>, StateError> {
        let shown = Self::shown(JOURNAL_FILE);
        let unreadable = |source: std::io::Error| StateError::Unreadable {
            location: shown.clone(),
            reason: source.to_string(),
        };
        let mut file = match private_file_options().read(true).open(self.journal_path()) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(unreadable(source)),
        };
        let id = FileId::of(&file.metadata().map_err(unreadable)?);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(unreadable)?;
        let corrupt = |detail: String| StateError::Corrupt {
            location: shown.clone(),
            detail,
            history: Self::shown(HISTORY_DIR),
            newest: self.serials().last().copied(),
        };
        let replayed = journal::replay(&bytes, state, self.keys()).map_err(|e| match e {
            journal::ReplayError::Damaged(detail) => corrupt(detail),
            journal::ReplayError::Key(e) => crate::codec::open_error(e, &shown, corrupt),
        })?;
        Ok(Some(JournalAt {
            file: id,
            valid: replayed.valid,
            appender: None,
        }))
    }

    /// Removes the journal after a compaction (its records are in the new snapshot).
    fn remove_journal(&self) -> Result<(), StateError> {
        let failed = |e: std::io::Error| StateError::WriteFailed {
            action: "remove the compacted",
            location: Self::shown(JOURNAL_FILE),
            reason: e.to_string(),
        };
        match fs::remove_file(self.journal_path()) {
            Ok(()) => sync_dir(&self.dir()).map_err(failed),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    /// Appends `line` to the journal and makes it durable (fdatasync; the directory too
    /// when the journal is new). A cut-off last line left by a crash is cut first.
    fn append(&self, k: &mut Known, line: &[u8]) -> Result<FileId, StateError> {
        let failed = |action: &'static str| {
            move |source: std::io::Error| StateError::WriteFailed {
                action,
                location: Self::shown(JOURNAL_FILE),
                reason: source.to_string(),
            }
        };
        let created = k.journal.is_none();
        let at = k.journal.get_or_insert(JournalAt {
            file: FileId(0, 0, 0, 0),
            valid: 0,
            appender: None,
        });
        if at.appender.is_none() {
            // Never through a link planted in its place; owner-only like the state.
            let mut options = private_file_options();
            options.append(true);
            if created {
                options.create_new(true);
            }
            let file = options.open(self.journal_path()).map_err(failed("open"))?;
            if file.metadata().map_err(failed("inspect"))?.len() > at.valid {
                file.set_len(at.valid)
                    .map_err(failed("cut the cut-off line of"))?;
            }
            at.appender = Some(file);
        }
        let Some(file) = at.appender.as_mut() else {
            return Err(failed("open")(std::io::Error::other("not open")));
        };
        let written = file
            .write_all(line)
            .and_then(|()| file.sync_data())
            .and_then(|()| file.metadata());
        let meta = match written {
            Ok(m) => m,
            Err(e) => {
                // What is on disk is unknown now: the next write reads it again.
                k.journal = None;
                return Err(failed("append to")(e));
            }
        };
        if created {
            sync_dir(&self.dir()).map_err(failed("sync the directory of"))?;
        }
        at.valid = meta.len();
        at.file = FileId::of(&meta);
        Ok(at.file)
    }

    fn history_dir(&self) -> PathBuf {
        self.dir().join(HISTORY_DIR)
    }

    fn history_path(&self, serial: u64) -> PathBuf {
        self.history_dir().join(format!("{serial}.json"))
    }

    /// A path relative to the workspace root, for messages.
    fn shown(name: &str) -> String {
        format!("{STATE_DIR}/{name}")
    }

    /// The serials of the versions kept in the history, oldest first (the current state is
    /// not among them).
    fn serials(&self) -> Vec<u64> {
        let Ok(entries) = fs::read_dir(self.history_dir()) else {
            return Vec::new();
        };
        let mut serials: Vec<u64> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let name = name.to_str()?;
                name.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        serials.sort_unstable();
        serials
    }

    /// Reads one file as a state; `Ok(None)` when it does not exist.
    fn load(&self, path: &Path, shown: &str) -> Result<Option<(State, FileId)>, StateError> {
        let unreadable = |source: std::io::Error| StateError::Unreadable {
            location: shown.to_string(),
            reason: source.to_string(),
        };
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(unreadable(source)),
        };
        // The identity of the file actually read (the name may be replaced meanwhile).
        let id = FileId::of(&file.metadata().map_err(unreadable)?);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(unreadable)?;
        let history = Self::shown(HISTORY_DIR);
        let state = crate::codec::decode_with(
            &bytes,
            shown,
            &history,
            || self.serials().last().copied(),
            self.keys(),
        )?;
        Ok(Some((state, id)))
    }

    fn known_mut(&self) -> std::sync::MutexGuard<'_, Option<Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the file about to be replaced as `history/<serial>.json`.
    fn keep_in_history(&self, current: &Path, serial: u64) -> Result<(), StateError> {
        let kept = self.history_path(serial);
        let shown = Self::shown(&format!("{HISTORY_DIR}/{serial}.json"));
        // A crash between linking and renaming leaves this version linked already.
        match fs::remove_file(&kept) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StateError::WriteFailed {
                    action: "replace",
                    location: shown,
                    reason: source.to_string(),
                });
            }
        }
        match fs::hard_link(current, &kept) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(_) => {
                fs::copy(current, &kept).map_err(|source| StateError::WriteFailed {
                    action: "copy the previous version to",
                    location: shown.clone(),
                    reason: source.to_string(),
                })?;
            }
        }
        // A version written by an older mcpoc (or copied) may be readable by others.
        make_private(&kept).map_err(|source| StateError::WriteFailed {
            action: "restrict the permissions of",
            location: shown,
            reason: source.to_string(),
        })
    }

    /// Deletes the oldest versions beyond [`HISTORY_KEPT`]. Best effort: a version that
    /// cannot be deleted now is deleted by a later write.
    fn prune_history(&self) {
        let serials = self.serials();
        let excess = serials.len().saturating_sub(HISTORY_KEPT);
        for serial in serials.iter().take(excess) {
            let _ = fs::remove_file(self.history_path(*serial));
        }
    }

    fn open_lock(&self) -> Result<File, StateError> {
        let failed = |action: &'static str| {
            move |source: std::io::Error| StateError::LockFailed {
                action,
                location: Self::shown(LOCK_FILE),
                reason: source.to_string(),
            }
        };
        fs::create_dir_all(self.dir()).map_err(failed("create the directory of"))?;
        // Never through a symbolic link: taking the lock writes the file, and a link
        // planted at `lock` would have its target overwritten.
        private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir().join(LOCK_FILE))
            .map_err(|e| {
                if is_symlink_refusal(&e) {
                    failed("open")(std::io::Error::other(
                        "it is a symbolic link, which is never followed",
                    ))
                } else {
                    failed("open")(e)
                }
            })
    }

    /// Replaces `target` (shown as `.mcpo/state/<shown>`) with `bytes`, atomically and
    /// durably: a temporary file in the state directory, fdatasync, rename, directory
    /// fsync. Returns the metadata of the file written.
    fn replace_file(
        &self,
        target: &Path,
        shown: &str,
        bytes: &[u8],
    ) -> Result<fs::Metadata, StateError> {
        let dir = self.dir();
        let temp = dir.join(TEMP_FILE);
        let failed = |action: &'static str, location: String| {
            move |source: std::io::Error| StateError::WriteFailed {
                action,
                location,
                reason: source.to_string(),
            }
        };
        // A temporary file left by a crash is removed, and the new one created afresh
        // (never through a link planted in its place), readable by its owner only: the
        // state holds sensitive values.
        match fs::remove_file(&temp) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(failed("remove", Self::shown(TEMP_FILE))(e)),
        }
        let mut file = private_file_options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(failed("create", Self::shown(TEMP_FILE)))?;
        file.write_all(bytes)
            .map_err(failed("write", Self::shown(TEMP_FILE)))?;
        file.sync_data()
            .map_err(failed("sync", Self::shown(TEMP_FILE)))?;
        let written = file
            .metadata()
            .map_err(failed("inspect", Self::shown(TEMP_FILE)))?;
        drop(file);
        fs::rename(&temp, target).map_err(failed("rename over", Self::shown(shown)))?;
        sync_dir(&dir).map_err(failed("sync the directory", STATE_DIR.to_string()))?;
        Ok(written)
    }
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        Self::shown(STATE_FILE)
    }

    /// Reads the current state. No file yet: a fresh state (new random lineage, serial 0).
    /// A damaged file or one from a newer mcpoc is an error and is left untouched.
    fn read(&self) -> Result<State, StateError> {
        let mut known = self.known_mut();
        match self.load_current()? {
            Some((state, k)) => {
                *known = Some(k);
                Ok(state)
            }
            None => {
                *known = None;
                // A state that is gone while its history is kept was lost, not never
                // written: starting afresh would create everything again.
                let kept = self.serials();
                if let Some(&newest) = kept.last() {
                    return Err(StateError::Missing {
                        location: Self::shown(STATE_FILE),
                        history: Self::shown(HISTORY_DIR),
                        count: kept.len(),
                        newest,
                    });
                }
                Ok(State::new(new_lineage()))
            }
        }
    }

    fn restore(&self, serial: u64) -> Result<State, StateError> {
        let current = self.state_path();
        match self.load_current() {
            Ok(Some(_)) => {
                return Err(StateError::NothingToRestore {
                    location: Self::shown(STATE_FILE),
                });
            }
            Ok(None) => {}
            Err(StateError::Corrupt { .. }) => {
                // Nothing is lost: the damaged files are kept beside the restored one.
                for (path, name) in [
                    (current.clone(), STATE_FILE),
                    (self.journal_path(), JOURNAL_FILE),
                ] {
                    let aside = self.dir().join(format!("{name}.damaged"));
                    match fs::rename(&path, &aside) {
                        Ok(()) => {}
                        Err(e) if e.kind() == ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(StateError::WriteFailed {
                                action: "move aside the damaged",
                                location: Self::shown(name),
                                reason: e.to_string(),
                            });
                        }
                    }
                }
            }
            Err(e) => return Err(e),
        }
        let shown = Self::shown(&format!("{HISTORY_DIR}/{serial}.json"));
        let Some((mut state, _)) = self.load(&self.history_path(serial), &shown)? else {
            return Err(StateError::NoSuchVersion {
                serial,
                available: self.serials(),
            });
        };
        // The restored version continues the history: the next serial after the newest.
        state.serial = self.serials().last().copied().unwrap_or(serial).max(serial);
        *self.known_mut() = None;
        self.write(&mut state)?;
        Ok(state)
    }

    fn start_fresh(&self) -> Result<Option<String>, StateError> {
        if self
            .load(&self.state_path(), &Self::shown(STATE_FILE))?
            .is_some()
        {
            return Err(StateError::NothingToRestore {
                location: Self::shown(STATE_FILE),
            });
        }
        let kept = self.serials();
        let Some(&newest) = kept.last() else {
            return Ok(None);
        };
        // The old versions go aside under the old lineage's name, where the new state's
        // versions can never overwrite them.
        let lineage = self
            .load(&self.history_path(newest), &Self::shown(HISTORY_DIR))
            .ok()
            .flatten()
            .map_or_else(|| "unknown".to_string(), |(s, _)| s.lineage);
        let aside = self.history_dir().join(format!("lineage-{lineage}"));
        let failed = |e: std::io::Error| StateError::WriteFailed {
            action: "set aside the old versions in",
            location: Self::shown(&format!("{HISTORY_DIR}/lineage-{lineage}")),
            reason: e.to_string(),
        };
        fs::create_dir_all(&aside).map_err(failed)?;
        match fs::rename(self.journal_path(), aside.join(JOURNAL_FILE)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        let count = kept.len();
        for serial in kept {
            fs::rename(
                self.history_path(serial),
                aside.join(format!("{serial}.json")),
            )
            .map_err(failed)?;
        }
        sync_dir(&self.history_dir()).map_err(failed)?;
        Ok(Some(format!(
            "the {count} earlier version(s) are kept in {}/lineage-{lineage}/",
            Self::shown(HISTORY_DIR)
        )))
    }

    /// Writes `state` as the next version: its serial is incremented, the version it
    /// replaces goes to the history (the last [`HISTORY_KEPT`] are kept), and the write is
    /// atomic and durable when this returns. On error nothing changed on disk except
    /// possibly the history, and `state.serial` is unchanged.
    ///
    /// `state` must continue the file: it was returned by [`LocalBackend::read`] (or by a
    /// previous `write`) of this workspace and nobody wrote in between; otherwise this
    /// refuses with [`StateError::Conflict`] instead of losing the other write.
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let mut known = self.known_mut();
        let current = self.state_path();
        // One stat tells whether the file is still the one this backend last saw. If not
        // (first write without a read, or another process wrote), read what is there: the
        // state must continue it, and a damaged or newer file is never written over.
        let on_disk = self.on_disk();
        if known.as_ref().map(|k| k.seen()) != on_disk.0.map(|f| (f, on_disk.1)) {
            *known = self.load_current()?.map(|(_, k)| k);
        }
        if let Some(k) = known.as_ref()
            && (k.lineage != state.lineage || k.serial != state.serial)
        {
            return Err(StateError::Conflict {
                location: Self::shown(STATE_FILE),
                on_disk: format!("lineage {}, serial {}", k.lineage, k.serial),
                writing: format!("lineage {}, serial {}", state.lineage, state.serial),
            });
        }
        let history = self.history_dir();
        fs::create_dir_all(&history).map_err(|source| StateError::WriteFailed {
            action: "create the directory",
            location: Self::shown(HISTORY_DIR),
            reason: source.to_string(),
        })?;

        if let Some(k) = known.as_ref() {
            self.keep_in_history(&current, k.snapshot)?;
        }

        // Encode the next version in place rather than cloning a large state.
        let Some(next) = state.serial.checked_add(1) else {
            return Err(StateError::SerialExhausted {
                location: Self::shown(STATE_FILE),
                serial: state.serial,
            });
        };
        let serial = std::mem::replace(&mut state.serial, next);
        let encoded = crate::codec::encode_with(state, &Self::shown(STATE_FILE), self.keys());
        state.serial = serial;
        let bytes = encoded?;

        let written = self.replace_file(&current, STATE_FILE, &bytes)?;
        // The journal's records are in the new snapshot now (a crash before this leaves
        // them, and a read skips them: their serials are not above the snapshot's).
        let compacted = self.remove_journal();

        state.serial = next;
        let file = FileId::of(&written);
        *known = Some(Known {
            lineage: state.lineage.clone(),
            serial: state.serial,
            file,
            snapshot: next,
            snapshot_len: file.2,
            journal: None,
        });
        compacted?;
        drop(known);
        self.prune_history();
        Ok(())
    }

    /// Appends `delta` to the journal as the next version (see the module docs); `None`
    /// when there is no snapshot yet or the journal is due for compaction.
    fn write_delta(
        &self,
        lineage: &str,
        serial: u64,
        delta: &Delta,
    ) -> Result<Option<u64>, StateError> {
        let mut known = self.known_mut();
        let on_disk = self.on_disk();
        if known.as_ref().map(|k| k.seen()) != on_disk.0.map(|f| (f, on_disk.1)) {
            *known = self.load_current()?.map(|(_, k)| k);
        }
        let Some(k) = known.as_mut() else {
            return Ok(None);
        };
        if k.lineage != lineage || k.serial != serial {
            return Err(StateError::Conflict {
                location: Self::shown(STATE_FILE),
                on_disk: format!("lineage {}, serial {}", k.lineage, k.serial),
                writing: format!("lineage {lineage}, serial {serial}"),
            });
        }
        let journal_len = k.journal.as_ref().map_or(0, |j| j.valid);
        if journal_len > k.snapshot_len.max(COMPACT_AFTER) {
            return Ok(None);
        }
        let Some(next) = serial.checked_add(1) else {
            return Err(StateError::SerialExhausted {
                location: Self::shown(STATE_FILE),
                serial,
            });
        };
        let line = journal::encode(lineage, next, delta, self.keys()).map_err(|reason| {
            StateError::WriteFailed {
                action: "encode",
                location: Self::shown(JOURNAL_FILE),
                reason,
            }
        })?;
        self.append(k, &line)?;
        k.serial = next;
        Ok(Some(next))
    }

    fn lock(&self, info: LockInfo) -> Result<LockGuard, StateError> {
        match lock::try_take(self.open_lock()?, &info) {
            Ok(Attempt::Got(guard)) => Ok(guard),
            Ok(Attempt::Held(holder)) => Err(StateError::Locked {
                holder,
                location: Self::shown(LOCK_FILE),
            }),
            Err(source) => Err(StateError::LockFailed {
                action: "lock",
                location: Self::shown(LOCK_FILE),
                reason: source.to_string(),
            }),
        }
    }

    fn history(&self) -> Result<Vec<u64>, StateError> {
        Ok(self.serials())
    }

    fn adopt(&self, history: &[State], current: &State) -> Result<(), StateError> {
        let mut known = self.known_mut();
        if let Some((there, _)) = self.load(&self.state_path(), &Self::shown(STATE_FILE))? {
            return Err(StateError::TargetNotEmpty {
                location: Self::shown(STATE_FILE),
                detail: format!(
                    "lineage {}, serial {}, {} resources",
                    there.lineage,
                    there.serial,
                    there.resources.len()
                ),
            });
        }
        // Kept versions without a current one are a lost state's: never overwritten.
        let kept = self.serials();
        if !kept.is_empty() {
            return Err(StateError::TargetNotEmpty {
                location: Self::shown(HISTORY_DIR),
                detail: format!(
                    "no current version, but {} earlier versions are kept",
                    kept.len()
                ),
            });
        }
        fs::create_dir_all(self.history_dir()).map_err(|source| StateError::WriteFailed {
            action: "create the directory",
            location: Self::shown(HISTORY_DIR),
            reason: source.to_string(),
        })?;
        let skip = history.len().saturating_sub(HISTORY_KEPT);
        for version in history.iter().skip(skip) {
            let name = format!("{HISTORY_DIR}/{}.json", version.serial);
            let bytes = crate::codec::encode_with(version, &Self::shown(&name), self.keys())?;
            self.replace_file(&self.history_path(version.serial), &name, &bytes)?;
        }
        let bytes = crate::codec::encode_with(current, &Self::shown(STATE_FILE), self.keys())?;
        let written = self.replace_file(&self.state_path(), STATE_FILE, &bytes)?;
        // A journal left by a state lost before it does not continue this one.
        self.remove_journal()?;
        let file = FileId::of(&written);
        *known = Some(Known {
            lineage: current.lineage.clone(),
            serial: current.serial,
            file,
            snapshot: current.serial,
            snapshot_len: file.2,
            journal: None,
        });
        Ok(())
    }

    /// Seals the current state (its journal compacted) and every kept version again with
    /// the configured key. Everything is opened before anything is written.
    fn reseal(&self) -> Result<usize, StateError> {
        if self.keys.is_none() {
            return Err(StateError::Key {
                location: STATE_DIR.to_string(),
                reason: "the workspace configures no key to encrypt with: add an `encryption` block to its `backend` block first".into(),
            });
        }
        // Every version opens with a key given, or nothing is written.
        let mut current = self.read()?;
        for serial in self.serials() {
            let shown = Self::shown(&format!("{HISTORY_DIR}/{serial}.json"));
            self.load(&self.history_path(serial), &shown)?;
        }
        let mut written = 0;
        if current.serial > 0 {
            // The snapshot it replaces joins the history, resealed below.
            self.write(&mut current)?;
            written += 1;
        }
        for serial in self.serials() {
            let name = format!("{HISTORY_DIR}/{serial}.json");
            let shown = Self::shown(&name);
            if let Some((version, _)) = self.load(&self.history_path(serial), &shown)? {
                let bytes = crate::codec::encode_with(&version, &shown, self.keys())?;
                self.replace_file(&self.history_path(serial), &name, &bytes)?;
                written += 1;
            }
        }
        Ok(written)
    }

    fn notice(&self) -> Option<String> {
        self.keys
            .as_ref()
            .filter(|k| k.read_plaintext())
            .map(|_| {
                format!(
                    "{} was not encrypted: it is encrypted from its next write on; the versions already kept in {} stay as they are until `mcpoc state rekey`",
                    Self::shown(STATE_FILE),
                    Self::shown(HISTORY_DIR)
                )
            })
    }

    /// Reads version `serial`: from the history, or the current state if it has that
    /// serial.
    fn read_version(&self, serial: u64) -> Result<State, StateError> {
        let shown = Self::shown(&format!("{HISTORY_DIR}/{serial}.json"));
        if let Some((state, _)) = self.load(&self.history_path(serial), &shown)? {
            return Ok(state);
        }
        if let Some((state, _)) = self.load_current()?
            && state.serial == serial
        {
            return Ok(state);
        }
        Err(StateError::NoSuchVersion {
            serial,
            available: self.serials(),
        })
    }
}

/// Options for the files of the state directory: created readable and writable by their
/// owner only (0600), and opened without following a symbolic link at the last
/// component (`O_NOFOLLOW`).
fn private_file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    o
}

/// Whether an open failed because the path is a symbolic link (`O_NOFOLLOW`).
fn is_symlink_refusal(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Makes a file of the state directory readable and writable by its owner only, through
/// a descriptor opened without following links (a link is left alone).
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = match private_file_options().read(true).open(path) {
            Ok(f) => f,
            Err(e) if is_symlink_refusal(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing here; the rename is as durable as the OS makes
/// it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// A new random lineage in the UUID v4 text form.
pub fn new_lineage() -> String {
    let mut b = random_16();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push_str(&format!("{x:02x}"));
    }
    text
}

/// 16 random bytes from the OS (`/dev/urandom`), else from std's randomly keyed hasher
/// mixed with the time and pid.
fn random_16() -> [u8; 16] {
    use std::io::Read;
    let mut b = [0u8; 16];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return b;
    }
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    for half in b.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    b
}
