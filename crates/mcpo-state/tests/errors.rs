//! Every state error as a person sees it (snapshots of the rendered text, with its code),
//! and the promise that a damaged or newer file is never written over.

mod support;

use mcpo_state::{Backend, LocalBackend, LockInfo, State, StateError};
use std::path::Path;
use support::{put_state_file, state_with};

fn fixed_holder() -> LockInfo {
    LockInfo {
        command: "mcpoc apply".into(),
        pid: 4242,
        host: "build-1".into(),
        since: "2026-11-24T20:31:02Z".into(),
    }
}

/// Writes three versions with a fixed lineage, so the history holds 1 and 2.
fn three_versions(root: &Path) -> LocalBackend {
    let backend = LocalBackend::new(root);
    let mut state = state_with(State::new("0f8e2b9c-4d1a-4c3e-9b7a-5e6f7a8b9c0d"), 2);
    for _ in 0..3 {
        backend.write(&mut state).expect("write");
    }
    backend
}

/// Reading `text` as the state fails with `code`; the file is untouched, even by a write.
fn read_fails(text: &str, code: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    three_versions(dir.path());
    put_state_file(dir.path(), text);
    let backend = LocalBackend::new(dir.path());
    let err = backend.read().expect_err("the file is refused");
    assert_eq!(err.code().as_str(), code, "{err}");
    let mut fresh = State::new("a-new-lineage");
    let again = backend.write(&mut fresh).expect_err("never written over");
    assert_eq!(again.code().as_str(), code, "{again}");
    let after = std::fs::read_to_string(backend.state_path()).expect("still there");
    assert_eq!(after, text, "the file is left as it was");
    err.render()
}

#[test]
fn corrupt_json() {
    insta::assert_snapshot!(
        "corrupt_json",
        read_fails(
            "{\"version\": 1, \"lineage\": \"x\", \"serial\": 3,\n  \"resources\": {",
            "E0501"
        )
    );
}

#[test]
fn corrupt_not_json() {
    insta::assert_snapshot!("corrupt_not_json", read_fails("serial = 3\n", "E0501"));
}

#[test]
fn corrupt_empty() {
    insta::assert_snapshot!("corrupt_empty", read_fails("", "E0501"));
}

#[test]
fn corrupt_not_a_state() {
    insta::assert_snapshot!(
        "corrupt_not_a_state",
        read_fails(
            "{\"version\": 1, \"lineage\": \"x\", \"serial\": \"three\", \"resources\": {}, \"outputs\": {}, \"intents\": []}",
            "E0501"
        )
    );
}

#[test]
fn corrupt_without_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    put_state_file(dir.path(), "[]");
    let err = LocalBackend::new(dir.path()).read().expect_err("refused");
    insta::assert_snapshot!("corrupt_without_history", err.render());
}

#[test]
fn newer_format() {
    // A newer format may change anything, even the shape of fields this build knows.
    insta::assert_snapshot!(
        "newer_format",
        read_fails(
            "{\"version\": 2, \"lineage\": \"x\", \"serial\": 3, \"resources\": [], \"rows\": 7}",
            "E0502"
        )
    );
    let dir = tempfile::tempdir().expect("tempdir");
    put_state_file(
        dir.path(),
        "{\"version\": 7, \"lineage\": \"x\", \"serial\": 3, \"resources\": {}, \"outputs\": {}, \"intents\": []}",
    );
    let err = LocalBackend::new(dir.path()).read().expect_err("refused");
    assert!(
        matches!(err, StateError::NewerFormat { found: 7, .. }),
        "{err:?}"
    );
}

#[test]
fn unreadable() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".mcpo/state/state.json")).expect("mkdir");
    let err = LocalBackend::new(dir.path())
        .read()
        .expect_err("a directory");
    assert_eq!(err.code().as_str(), "E0500");
    insta::assert_snapshot!("unreadable", err.render());
}

#[test]
fn write_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = three_versions(dir.path());
    let before = std::fs::read_to_string(backend.state_path()).expect("state");
    let history = dir.path().join(".mcpo/state/history");
    std::fs::remove_dir_all(&history).expect("rm history");
    std::fs::write(&history, "not a directory").expect("block it");
    let mut state = backend.read().expect("read");
    let serial = state.serial;
    let err = backend.write(&mut state).expect_err("cannot keep history");
    assert_eq!(err.code().as_str(), "E0504");
    assert_eq!(state.serial, serial, "the serial is unchanged on failure");
    assert_eq!(
        std::fs::read_to_string(backend.state_path()).expect("state"),
        before,
        "the previous state is intact"
    );
    insta::assert_snapshot!("write_failed", err.render());
}

#[test]
fn locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path());
    let guard = backend.lock(fixed_holder()).expect("first lock");
    let err = backend
        .lock(LockInfo::current("mcpoc plan"))
        .expect_err("held");
    assert_eq!(err.code().as_str(), "E0503");
    insta::assert_snapshot!("locked", err.render());
    drop(guard);
    let second = backend
        .lock(LockInfo::current("mcpoc plan"))
        .expect("free again");
    assert_eq!(second.info().command, "mcpoc plan");
}

#[test]
fn lock_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".mcpo/state/lock")).expect("mkdir");
    let err = LocalBackend::new(dir.path())
        .lock(fixed_holder())
        .expect_err("a directory");
    assert_eq!(err.code().as_str(), "E0505");
    insta::assert_snapshot!("lock_failed", err.render());
}

#[test]
fn no_such_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = three_versions(dir.path());
    let err = backend.read_version(9).expect_err("not kept");
    assert_eq!(err.code().as_str(), "E0506");
    insta::assert_snapshot!("no_such_version", err.render());
}

#[test]
fn conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = three_versions(dir.path());
    let mut stale = LocalBackend::new(dir.path()).read().expect("read");
    let mut current = backend.read().expect("read");
    backend.write(&mut current).expect("write");
    let err = LocalBackend::new(dir.path())
        .write(&mut stale)
        .expect_err("stale");
    assert_eq!(err.code().as_str(), "E0507");
    insta::assert_snapshot!("conflict", err.render());
}

#[test]
fn adopt_refuses_a_target_holding_a_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = three_versions(dir.path());
    let before = std::fs::read(backend.state_path()).expect("state");
    let moved = state_with(State::new("11111111-2222-4333-8444-555555555555"), 1);
    let err = backend
        .adopt(&[], &moved)
        .expect_err("a state is there already");
    assert_eq!(err.code().as_str(), "E0513");
    assert_eq!(
        std::fs::read(backend.state_path()).expect("state"),
        before,
        "nothing was written"
    );
    insta::assert_snapshot!("target_not_empty", err.render());
}

#[test]
fn adopt_keeps_lineage_serials_and_history() {
    let from = tempfile::tempdir().expect("tempdir");
    let source = three_versions(from.path());
    let to = tempfile::tempdir().expect("tempdir");
    let target = LocalBackend::new(to.path());
    let current = source.read().expect("read");
    let history: Vec<State> = source
        .history()
        .expect("history")
        .into_iter()
        .map(|s| source.read_version(s).expect("version"))
        .collect();
    target.adopt(&history, &current).expect("adopt");
    assert_eq!(target.read().expect("read"), current);
    assert_eq!(target.history().expect("history"), vec![1, 2]);
    assert_eq!(target.read_version(1).expect("v1"), history[0]);
    // It goes on from there like any state.
    let mut next = target.read().expect("read");
    target.write(&mut next).expect("write");
    assert_eq!(next.serial, current.serial + 1);
}

/// A state encrypted with one key, read with another or with none: E0515, and neither
/// read nor a write changes a byte of it.
#[test]
fn wrong_or_missing_key() {
    use mcpo_state::crypt::{Encryption, Secret};
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tempdir");
    let keyed = |n: u8| {
        LocalBackend::new(dir.path())
            .with_encryption(Arc::new(Encryption::new(Secret::Key([n; 32]))))
    };
    let mut state = state_with(State::new("0f8e2b9c-4d1a-4c3e-9b7a-5e6f7a8b9c0d"), 2);
    keyed(1).write(&mut state).expect("write");
    keyed(1).write(&mut state).expect("write");
    let before = std::fs::read(keyed(1).state_path()).expect("state");
    let wrong = keyed(2);
    let err = wrong.read().expect_err("another key");
    assert_eq!(err.code().as_str(), "E0515", "{err}");
    let mut fresh = State::new("a-new-lineage");
    assert_eq!(
        wrong
            .write(&mut fresh)
            .expect_err("never written over")
            .code()
            .as_str(),
        "E0515"
    );
    assert_eq!(
        wrong.reseal().expect_err("nothing opens").code().as_str(),
        "E0515"
    );
    let none = LocalBackend::new(dir.path()).read().expect_err("no key");
    assert_eq!(none.code().as_str(), "E0515", "{none}");
    assert_eq!(std::fs::read(wrong.state_path()).expect("state"), before);
    assert_eq!(
        keyed(1).read().expect("the right key").resources,
        state.resources
    );
    insta::assert_snapshot!("wrong_key", err.render());
    insta::assert_snapshot!("no_key", none.render());
}
