//! The local backend's journal on a real directory: versions appended as changes, read back
//! by another backend (another process), compare-and-swap, a cut-off append, compaction,
//! and a journal left behind by a crash in the middle of a compaction.

use mcpo_state::{Backend, Delta, LocalBackend, ResourceState, State};

fn resource(id: &str) -> ResourceState {
    ResourceState {
        server: "docker".into(),
        type_name: "volume".into(),
        id: id.into(),
        inputs: serde_json::json!({"name": id}),
        outputs: serde_json::json!({"id": id}),
        sensitive: Vec::new(),
        deps: Vec::new(),
        tainted: false,
    }
}

/// Records `address` in `state` and writes the change as a delta; returns whether the
/// backend took it as a change (`false`: it asked for the whole state, which is written).
fn step(b: &LocalBackend, state: &mut State, address: &str) -> bool {
    state.resources.insert(address.into(), resource(address));
    let delta = Delta::of(state, [&address.to_string()], false);
    match b
        .write_delta(&state.lineage, state.serial, &delta)
        .expect("write_delta")
    {
        Some(serial) => {
            state.serial = serial;
            true
        }
        None => {
            b.write(state).expect("whole write");
            false
        }
    }
}

fn journal(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(".mcpo/state/journal")
}

#[test]
fn changes_are_appended_and_read_back_by_another_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = LocalBackend::new(dir.path());
    let mut state = a.read().expect("read");
    let delta = Delta::of(&state, [], false);
    assert_eq!(
        a.write_delta(&state.lineage, state.serial, &delta)
            .expect("no snapshot yet"),
        None,
        "the first version is a whole one"
    );
    a.write(&mut state).expect("snapshot");
    for i in 0..20 {
        assert!(step(&a, &mut state, &format!("docker.volume.v{i}")));
    }
    assert_eq!(state.serial, 21);
    let on_disk: State =
        serde_json::from_slice(&std::fs::read(a.state_path()).expect("state.json")).expect("json");
    assert_eq!(on_disk.serial, 1, "the snapshot is not rewritten by a step");
    assert!(journal(dir.path()).exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(journal(dir.path()))
            .expect("journal")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only, like the state");
    }
    let b = LocalBackend::new(dir.path());
    assert_eq!(b.read().expect("read"), state);
    assert_eq!(b.read_version(21).expect("current"), state);

    // The other backend writes a step: the first one's next change is refused.
    let mut theirs = b.read().expect("read");
    assert!(step(&b, &mut theirs, "docker.volume.theirs"));
    state.resources.remove("docker.volume.v0");
    let delta = Delta::of(&state, [&"docker.volume.v0".to_string()], false);
    let err = a
        .write_delta(&state.lineage, state.serial, &delta)
        .expect_err("a lost update");
    assert_eq!(err.code().as_str(), "E0507", "{err}");
    assert_eq!(LocalBackend::new(dir.path()).read().expect("read"), theirs);
}

#[test]
fn a_cut_off_append_is_ignored_and_cut_before_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = LocalBackend::new(dir.path());
    let mut state = a.read().expect("read");
    a.write(&mut state).expect("snapshot");
    assert!(step(&a, &mut state, "docker.volume.a"));
    // A process killed in the middle of its next append.
    let mut bytes = std::fs::read(journal(dir.path())).expect("journal");
    bytes.extend_from_slice(br#"{"lineage":"x","serial":3,"resou"#);
    std::fs::write(journal(dir.path()), &bytes).expect("cut-off append");

    let b = LocalBackend::new(dir.path());
    let mut read = b.read().expect("the cut-off line is ignored");
    assert_eq!(read, state);
    assert!(step(&b, &mut read, "docker.volume.b"));
    let c = LocalBackend::new(dir.path()).read().expect("read");
    assert_eq!(
        c, read,
        "the next append continues after the last whole record"
    );
    assert_eq!(c.resources.len(), 2);
}

#[test]
fn the_journal_is_compacted_into_a_snapshot_and_a_stale_one_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = LocalBackend::new(dir.path());
    let mut state = a.read().expect("read");
    a.write(&mut state).expect("snapshot");
    // Steps until the backend asks for a whole write (the journal outgrew its bound).
    let mut steps = 0;
    while step(&a, &mut state, &format!("docker.volume.v{steps}")) {
        steps += 1;
        assert!(steps < 10_000, "the journal is never compacted");
    }
    assert!(steps > 100, "compaction is not on every step ({steps})");
    assert!(!journal(dir.path()).exists(), "compacted");
    assert_eq!(
        a.history().expect("history"),
        vec![1],
        "the snapshot replaced"
    );
    let snapshot: State =
        serde_json::from_slice(&std::fs::read(a.state_path()).expect("state.json")).expect("json");
    assert_eq!(snapshot, state);

    // A crash after a compaction's rename, before the journal's removal.
    assert!(step(&a, &mut state, "docker.volume.after"));
    let stale = std::fs::read(journal(dir.path())).expect("journal");
    a.write(&mut state).expect("compact again");
    std::fs::write(journal(dir.path()), &stale).expect("a journal left behind");
    let b = LocalBackend::new(dir.path());
    let mut read = b.read().expect("stale records are skipped");
    assert_eq!(read, state);
    assert!(step(&b, &mut read, "docker.volume.next"));
    assert_eq!(LocalBackend::new(dir.path()).read().expect("read"), read);
}

#[test]
fn a_damaged_journal_is_reported_and_restore_sets_it_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = LocalBackend::new(dir.path());
    let mut state = a.read().expect("read");
    a.write(&mut state).expect("snapshot");
    a.write(&mut state).expect("a version in the history");
    assert!(step(&a, &mut state, "docker.volume.a"));
    assert!(step(&a, &mut state, "docker.volume.b"));
    let mut bytes = b"{\"damaged\": true}\n".to_vec();
    bytes.extend(std::fs::read(journal(dir.path())).expect("journal"));
    std::fs::write(journal(dir.path()), &bytes).expect("damage");
    let err = LocalBackend::new(dir.path()).read().expect_err("damaged");
    assert_eq!(err.code().as_str(), "E0501", "{err}");
    assert!(err.to_string().contains(".mcpo/state/journal"), "{err}");
    let b = LocalBackend::new(dir.path());
    b.restore(1).expect("restore");
    assert!(dir.path().join(".mcpo/state/journal.damaged").exists());
    assert_eq!(b.read().expect("read").resources.len(), 0);
}
