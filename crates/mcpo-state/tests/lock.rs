//! The state lock between processes: a second process is refused with the holder's details,
//! a SIGKILLed holder does not block anyone, and `lock_wait` waits for a release.

mod support;

use mcpo_state::{Backend, LocalBackend, LockInfo, StateError};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts a process holding the lock of `root` as `command` for `ms` milliseconds, and
/// returns once it holds it.
fn holder(root: &std::path::Path, command: &str, ms: u64) -> Child {
    let mut child = Command::new(support::CHILD)
        .arg("hold-lock")
        .arg(root)
        .args([command, &ms.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the holder");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "locked", "the holder took the lock");
    child
}

#[test]
fn a_second_process_is_told_who_holds_the_lock_and_a_killed_holder_frees_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = holder(dir.path(), "mcpoc apply", 60_000);
    let backend = LocalBackend::new(dir.path());

    let err = backend
        .lock(LockInfo::current("mcpoc plan"))
        .expect_err("held by the child");
    let StateError::Locked {
        holder: Some(h), ..
    } = &err
    else {
        panic!("expected Locked with a holder, got {err:?}");
    };
    assert_eq!(h.pid, child.id());
    assert_eq!(h.command, "mcpoc apply");
    assert_eq!(h.host, LockInfo::current("x").host);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the state is locked by `mcpoc apply` (pid {} on host {}) since ",
            child.id(),
            h.host
        )),
        "{text}"
    );
    assert!(
        text.ends_with(
            " (.mcpo/state/lock); wait for it to finish, or run again with `--lock-timeout 5m` to wait for it; the lock is released when that process exits, even if it is killed"
        ),
        "{text}"
    );

    // SIGKILL: no chance to clean up. The OS releases the lock; the stale description
    // left in the file does not matter.
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let guard = backend
        .lock(LockInfo::current("mcpoc plan"))
        .expect("free once the holder is dead");
    let described: LockInfo = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".mcpo/state/lock")).expect("lock file"),
    )
    .expect("the new holder's description");
    assert_eq!(described, *guard.info());
    assert_eq!(described.pid, std::process::id());
}

#[test]
fn lock_wait_waits_for_the_holder_to_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = holder(dir.path(), "mcpoc destroy", 400);
    let backend = LocalBackend::new(dir.path());
    let start = Instant::now();
    let guard = backend
        .lock_wait(LockInfo::current("mcpoc apply"), Duration::from_secs(20))
        .expect("free after the holder finished");
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(child.wait().expect("wait").success());
    assert_eq!(guard.info().command, "mcpoc apply");

    // While this process holds it, a wait with a short timeout gives up with the holder.
    let start = Instant::now();
    let err = LocalBackend::new(dir.path())
        .lock_wait(LockInfo::current("mcpoc plan"), Duration::from_millis(200))
        .expect_err("still held");
    assert!(start.elapsed() >= Duration::from_millis(200));
    let StateError::Locked {
        holder: Some(h), ..
    } = err
    else {
        panic!("expected Locked with a holder, got {err:?}");
    };
    assert_eq!(h.command, "mcpoc apply");
    assert_eq!(h.pid, std::process::id());
}

#[test]
fn dropping_the_guard_releases_the_lock_and_clears_the_description() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path());
    let guard = backend
        .lock(LockInfo::current("mcpoc apply"))
        .expect("lock");
    assert!(backend.lock(LockInfo::current("mcpoc plan")).is_err());
    drop(guard);
    let text = std::fs::read_to_string(dir.path().join(".mcpo/state/lock")).expect("lock file");
    assert_eq!(text, "", "no description left behind");
    backend.lock(LockInfo::current("mcpoc plan")).expect("free");
}
