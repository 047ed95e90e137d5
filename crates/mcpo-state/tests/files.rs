//! The files of the local backend are private and never reached through a planted link:
//! `state.json` and `history/*.json` (which hold sensitive values) and the lock are
//! created 0600, the lock is opened without following a symbolic link, and the serial
//! never wraps.

mod support;

use mcpo_state::{Backend, LocalBackend, LockInfo, State};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::{put_state_file, state_with};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Before: `state.json` and `history/*.json` were created 0644 (readable by every user
/// of the machine, with the sensitive values they hold), and the lock file too. After:
/// all are 0600, whatever the umask, and a version written by an older mcpoc (0644) is
/// made private when it moves into the history.
#[test]
fn state_history_and_lock_files_are_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An older mcpoc's state, readable by all.
    let backend = LocalBackend::new(dir.path());
    let mut state = state_with(State::new("lineage-a"), 2);
    backend.write(&mut state).expect("write");
    std::fs::set_permissions(backend.state_path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let backend = LocalBackend::new(dir.path());
    let mut state = backend.read().expect("read");
    for _ in 0..3 {
        backend.write(&mut state).expect("write");
    }
    let _lock = backend
        .lock(LockInfo::current("mcpoc apply"))
        .expect("lock");
    let root = dir.path().join(".mcpo/state");
    assert_eq!(mode(&root.join("state.json")), 0o600);
    assert_eq!(mode(&root.join("lock")), 0o600);
    for serial in 1..=3 {
        let kept = root.join(format!("history/{serial}.json"));
        assert_eq!(mode(&kept), 0o600, "{}", kept.display());
    }
}

/// Before: the lock was opened through a symbolic link at `.mcpo/state/lock` and its
/// target was truncated to 0 bytes (and overwritten with the holder's details). After:
/// the link is not followed: taking the lock fails with E0505 saying why, and the target
/// is untouched.
#[test]
fn a_symlink_at_the_lock_is_never_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "do not truncate me\n").expect("write");
    let state_dir = dir.path().join(".mcpo/state");
    std::fs::create_dir_all(&state_dir).expect("mkdir");
    std::os::unix::fs::symlink(&target, state_dir.join("lock")).expect("symlink");

    let err = LocalBackend::new(dir.path())
        .lock(LockInfo::current("mcpoc apply"))
        .expect_err("a symbolic link");
    assert_eq!(err.code().as_str(), "E0505", "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        "do not truncate me\n"
    );
}

/// The same for the temporary file of a write: a link planted at `.state.json.tmp` is
/// replaced, not written through.
#[test]
fn a_symlink_at_the_temporary_file_is_not_written_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "keep\n").expect("write");
    let state_dir = dir.path().join(".mcpo/state");
    std::fs::create_dir_all(&state_dir).expect("mkdir");
    std::os::unix::fs::symlink(&target, state_dir.join(".state.json.tmp")).expect("symlink");
    let backend = LocalBackend::new(dir.path());
    let mut state = state_with(State::new("lineage-b"), 1);
    backend.write(&mut state).expect("write");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep\n");
    assert_eq!(backend.read().expect("read").serial, 1);
}

/// Before: a state at serial u64::MAX was written as serial 0 (in a release build; a
/// debug build panicked), so the new version looked older than all the others. After:
/// E0508, and nothing is written.
#[test]
fn the_serial_never_wraps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut edited = state_with(State::new("lineage-c"), 1);
    edited.serial = u64::MAX;
    let text = serde_json::to_string_pretty(&edited).expect("encode");
    put_state_file(dir.path(), &text);
    let backend = LocalBackend::new(dir.path());
    let mut state = backend.read().expect("a valid state");
    assert_eq!(state.serial, u64::MAX);
    let err = backend.write(&mut state).expect_err("no next serial");
    assert_eq!(err.code().as_str(), "E0508", "{err}");
    assert_eq!(state.serial, u64::MAX);
    assert_eq!(
        std::fs::read_to_string(backend.state_path()).expect("read"),
        text,
        "nothing was written"
    );
    insta::assert_snapshot!("serial_exhausted", err.render());
}
