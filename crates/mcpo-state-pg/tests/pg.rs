//! The PostgreSQL backend against a real, throwaway PostgreSQL cluster (initdb in a
//! temporary directory, a free port on 127.0.0.1): tables created on first use and once
//! however many processes start at once, round trips, compare-and-swap, history, the
//! lock and its holder, a database newer than this build, the steps of an apply recorded
//! as changes and compacted.

use mcpo_state::{Backend, Delta, HISTORY_KEPT, LockInfo, ResourceState, State, StateError};
use mcpo_state_pg::{MIGRATIONS, PgBackend};
use mcpo_test_support::pg::PgCluster;

fn resource(id: &str) -> ResourceState {
    ResourceState {
        server: "aws".into(),
        type_name: "vpc".into(),
        id: id.into(),
        inputs: serde_json::json!({"cidr_block": "10.0.0.0/16"}),
        outputs: serde_json::json!({"id": id, "secret": "hunter2"}),
        sensitive: vec!["secret".into()],
        deps: Vec::new(),
        tainted: false,
    }
}

#[test]
fn states_round_trip_with_compare_and_swap_and_history() {
    let Some(pg) = PgCluster::start("states_round_trip_with_compare_and_swap_and_history") else {
        return;
    };
    let a = PgBackend::connect(&pg.url(), "prod").expect("connect");
    assert!(
        a.location().contains("PostgreSQL state \"prod\""),
        "{}",
        a.location()
    );
    assert!(
        !a.location().contains("mcpo@"),
        "no user or password in messages"
    );

    let mut state = a.read().expect("read");
    assert_eq!(state.serial, 0, "nothing written yet: a fresh state");
    state
        .resources
        .insert("aws.vpc.main".into(), resource("vpc-1"));
    a.write(&mut state).expect("first write");
    assert_eq!(state.serial, 1);

    // Another process (another connection) reads what was written.
    let b = PgBackend::connect(&pg.url(), "prod").expect("connect again");
    let read = b.read().expect("read back");
    assert_eq!(read, state);

    // Two writers from the same version: the second is refused, nothing lost.
    let mut stale = read.clone();
    state
        .resources
        .insert("aws.vpc.web".into(), resource("vpc-2"));
    a.write(&mut state).expect("second write");
    stale.resources.clear();
    let err = b.write(&mut stale).expect_err("a lost update is refused");
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
    assert_eq!(err.code().as_str(), "E0507");
    assert!(err.to_string().contains("serial 2"), "{err}");
    assert_eq!(stale.serial, 1, "a refused write changes nothing");
    assert_eq!(b.read().expect("read").resources.len(), 2);

    // Another name in the same database is another state.
    let other = PgBackend::connect(&pg.url(), "staging").expect("connect");
    assert_eq!(other.read().expect("read").serial, 0);

    // History: the replaced versions, the last HISTORY_KEPT of them.
    assert_eq!(a.history().expect("history"), vec![1]);
    assert_eq!(a.read_version(1).expect("v1").resources.len(), 1);
    assert_eq!(a.read_version(2).expect("current").resources.len(), 2);
    let missing = a.read_version(40).expect_err("not kept");
    assert_eq!(missing.code().as_str(), "E0506");
    for _ in 0..HISTORY_KEPT + 5 {
        a.write(&mut state).expect("write");
    }
    let kept = a.history().expect("history");
    assert_eq!(kept.len(), HISTORY_KEPT);
    assert_eq!(kept.last().copied(), Some(state.serial - 1));
    assert_eq!(
        pg.psql("SELECT count(*) FROM mcpo_state_history WHERE name = 'prod'")
            .trim(),
        HISTORY_KEPT.to_string()
    );
}

#[test]
fn the_lock_names_its_holder_and_goes_with_its_connection() {
    let Some(pg) = PgCluster::start("the_lock_names_its_holder_and_goes_with_its_connection")
    else {
        return;
    };
    let a = PgBackend::connect(&pg.url(), "prod").expect("connect");
    let b = PgBackend::connect(&pg.url(), "prod").expect("connect");
    let guard = a.lock(LockInfo::current("mcpoc apply")).expect("free");
    match b.lock(LockInfo::current("mcpoc plan")) {
        Err(StateError::Locked {
            holder: Some(h), ..
        }) => {
            assert_eq!(h.command, "mcpoc apply");
            assert_eq!(h.pid, std::process::id());
        }
        other => panic!("expected Locked naming the holder, got {other:?}"),
    }
    // Another state of the same database is not locked by it.
    let staging = PgBackend::connect(&pg.url(), "staging").expect("connect");
    drop(
        staging
            .lock(LockInfo::current("mcpoc apply"))
            .expect("another name is free"),
    );

    // Released on drop.
    drop(guard);
    let guard_b = b.lock(LockInfo::current("mcpoc plan")).expect("free again");
    // A wait gives up after its timeout, naming the holder.
    let start = std::time::Instant::now();
    let err = a
        .lock_wait(
            LockInfo::current("mcpoc apply"),
            std::time::Duration::from_millis(300),
        )
        .expect_err("held");
    assert!(start.elapsed() >= std::time::Duration::from_millis(300));
    assert!(err.to_string().contains("mcpoc plan"), "{err}");

    // The holder's connection ends (as when its process is killed): the database releases
    // the lock, and the stale holder row is never shown as a holder.
    drop(b);
    drop(guard_b);
    let _again = a.lock(LockInfo::current("mcpoc apply")).expect("released");
    // A holder whose connection dies without unlocking.
    let c = PgBackend::connect(&pg.url(), "other").expect("connect");
    let held = c.lock(LockInfo::current("mcpoc destroy")).expect("free");
    pg.psql("SELECT pg_terminate_backend(backend_pid) FROM mcpo_locks WHERE name = 'other'");
    std::mem::forget(held);
    let d = PgBackend::connect(&pg.url(), "other").expect("connect");
    let mut waited = None;
    for _ in 0..50 {
        match d.lock(LockInfo::current("mcpoc apply")) {
            Ok(g) => {
                waited = Some(g);
                break;
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    assert!(waited.is_some(), "the dead holder's lock was released");
}

#[test]
fn tables_are_versioned_and_created_once_on_first_use() {
    let Some(pg) = PgCluster::start("tables_are_versioned_and_created_once_on_first_use") else {
        return;
    };
    // Four processes start at once on an empty database.
    let url = pg.url();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let b = PgBackend::connect(&url, "prod")?;
                let mut s = b.read()?;
                if i == 0 {
                    b.write(&mut s)?;
                }
                Ok::<_, StateError>(())
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread").expect("connect and use");
    }
    let latest = MIGRATIONS.last().map(|(v, _)| *v).expect("a migration");
    assert_eq!(
        pg.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM mcpo_migrations")
            .trim(),
        (1..=latest)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    // A database migrated by a newer mcpoc is refused and left as it is.
    pg.psql("INSERT INTO mcpo_migrations (version) VALUES (999)");
    let err = PgBackend::connect(&url, "prod").expect_err("newer tables");
    assert_eq!(err.code().as_str(), "E0502", "{err}");
    assert!(err.to_string().contains("999"), "{err}");

    // Nothing listens: E0512, naming where without the password.
    let nowhere = format!(
        "postgresql://mcpo:s3cret@127.0.0.1:{}/postgres?connect_timeout=5",
        free_port()
    );
    let err = PgBackend::connect(&nowhere, "prod").expect_err("nothing there");
    assert_eq!(err.code().as_str(), "E0512", "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let err = PgBackend::connect("postgresql://[", "prod").expect_err("not a url");
    assert_eq!(err.code().as_str(), "E0512", "{err}");
    let _ = State::new("x");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn an_unreachable_database_is_e0510_without_the_password() {
    let port = free_port();
    let url = format!("postgresql://mcpo:s3cret@127.0.0.1:{port}/mcpo?connect_timeout=5");
    let err = PgBackend::connect(&url, "prod").expect_err("nothing listens");
    let shown = err.render().replace(&port.to_string(), "PORT");
    assert!(!shown.contains("s3cret"));
    insta::assert_snapshot!("unreachable", shown);
}

#[test]
fn adopt_moves_a_state_with_its_history_and_refuses_a_second_time() {
    let Some(pg) = PgCluster::start("adopt_moves_a_state_with_its_history") else {
        return;
    };
    let memory = mcpo_state::MemoryBackend::new();
    let mut s = memory.read().expect("read");
    s.resources.insert("aws.vpc.main".into(), resource("vpc-1"));
    for _ in 0..3 {
        memory.write(&mut s).expect("write");
    }
    let history: Vec<State> = memory
        .history()
        .expect("history")
        .into_iter()
        .map(|v| memory.read_version(v).expect("version"))
        .collect();
    let pgb = PgBackend::connect(&pg.url(), "moved").expect("connect");
    pgb.adopt(&history, &s).expect("adopt");
    assert_eq!(pgb.read().expect("read"), s);
    assert_eq!(pgb.history().expect("history"), vec![1, 2]);
    let err = pgb.adopt(&history, &s).expect_err("holds a state now");
    assert_eq!(err.code().as_str(), "E0513", "{err}");
    let mut next = pgb.read().expect("read");
    pgb.write(&mut next).expect("continues like any state");
    assert_eq!(next.serial, s.serial + 1);
}

#[test]
fn a_lost_current_version_is_refused_then_restored_or_started_afresh() {
    let Some(pg) = PgCluster::start("a_lost_current_version_is_refused_then_restored") else {
        return;
    };
    let b = PgBackend::connect(&pg.url(), "prod").expect("connect");
    let mut s = b.read().expect("read");
    s.resources.insert("aws.vpc.main".into(), resource("vpc-1"));
    for _ in 0..3 {
        b.write(&mut s).expect("write");
    }
    let err = b.restore(2).expect_err("the current version is fine");
    assert_eq!(err.code().as_str(), "E0510", "{err}");

    // The current row is lost: every read stops, naming the newest kept version.
    pg.psql("DELETE FROM mcpo_states WHERE name = 'prod'");
    let err = b.read().expect_err("lost, not new");
    assert_eq!(err.code().as_str(), "E0509", "{err}");
    assert!(err.to_string().contains("`mcpoc state restore 2`"), "{err}");
    let restored = b.restore(1).expect("restore");
    assert_eq!(restored.serial, 3, "it continues the history");
    assert_eq!(b.read().expect("read"), restored);

    // A damaged current version is set aside, not deleted, when a version is restored.
    pg.psql("UPDATE mcpo_states SET data = 'not json'::bytea WHERE name = 'prod'");
    assert_eq!(b.read().expect_err("damaged").code().as_str(), "E0501");
    b.restore(2).expect("restore over a damaged one");
    assert_eq!(
        pg.psql("SELECT convert_from(data, 'UTF8') FROM mcpo_set_aside WHERE name = 'prod'")
            .trim(),
        "not json"
    );

    // Lost again, and started afresh: the old versions go aside, a new lineage begins.
    let old_lineage = b.read().expect("read").lineage;
    pg.psql("DELETE FROM mcpo_states WHERE name = 'prod'");
    b.start_fresh().expect("fresh");
    assert_eq!(b.history().expect("history"), Vec::<u64>::new());
    let mut fresh = b.read().expect("a new, empty state");
    assert_ne!(fresh.lineage, old_lineage);
    b.write(&mut fresh).expect("write");
    let aside = pg.psql(&format!(
        "SELECT count(*) FROM mcpo_set_aside WHERE name = 'prod' AND lineage = '{old_lineage}'"
    ));
    assert_eq!(
        aside.trim(),
        "3",
        "the damaged version and the two kept versions of the old lineage"
    );
    // A state that is there is never started afresh over.
    assert_eq!(b.start_fresh().expect_err("there").code().as_str(), "E0510");
}

/// Records `address` in `state` and writes the change as a delta; returns whether the
/// backend took it as a change (`false`: it asked for the whole state, which is written).
fn step(b: &PgBackend, state: &mut State, address: &str) -> bool {
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

#[test]
fn steps_are_recorded_as_changes_read_back_and_compacted() {
    let Some(pg) = PgCluster::start("steps_are_recorded_as_changes_read_back_and_compacted") else {
        return;
    };
    let a = PgBackend::connect(&pg.url(), "prod").expect("connect");
    let mut state = a.read().expect("read");
    let empty = Delta::of(&state, [], false);
    assert_eq!(
        a.write_delta(&state.lineage, state.serial, &empty)
            .expect("no snapshot yet"),
        None,
        "the first version is a whole one"
    );
    a.write(&mut state).expect("snapshot");
    let snapshot = pg.psql("SELECT md5(data) FROM mcpo_states WHERE name = 'prod'");
    for i in 0..20 {
        assert!(step(&a, &mut state, &format!("aws.vpc.v{i}")), "step {i}");
    }
    assert_eq!(state.serial, 21);
    // Twenty rows of changes; the snapshot row itself was not rewritten.
    assert_eq!(
        pg.psql(
            "SELECT count(*), min(serial), max(serial) FROM mcpo_state_deltas WHERE name = 'prod'"
        )
        .trim(),
        "20|2|21"
    );
    assert_eq!(
        pg.psql("SELECT md5(data) FROM mcpo_states WHERE name = 'prod'"),
        snapshot
    );
    assert_eq!(
        pg.psql("SELECT serial, head FROM mcpo_states WHERE name = 'prod'")
            .trim(),
        "1|21"
    );

    // Another connection (another process) reads the snapshot with every change applied.
    let b = PgBackend::connect(&pg.url(), "prod").expect("connect");
    assert_eq!(b.read().expect("read"), state);
    assert_eq!(b.read_version(21).expect("the current version"), state);

    // A change from a version that is no longer the current one is refused, nothing
    // written; so is a whole write from it.
    let mut stale = state.clone();
    assert!(step(&a, &mut state, "aws.vpc.after"));
    stale.resources.clear();
    let gone = Delta::of(&stale, [&"aws.vpc.v0".to_string()], false);
    let err = b
        .write_delta(&stale.lineage, stale.serial, &gone)
        .expect_err("a lost update is refused");
    assert_eq!(err.code().as_str(), "E0507", "{err}");
    assert!(err.to_string().contains("serial 22"), "{err}");
    let err = b.write(&mut stale).expect_err("a lost update is refused");
    assert_eq!(err.code().as_str(), "E0507", "{err}");
    assert_eq!(b.read().expect("read"), state);

    // A whole write compacts: the changes go, the snapshot they continued joins the
    // history.
    a.write(&mut state).expect("compaction");
    assert_eq!(state.serial, 23);
    assert_eq!(
        pg.psql("SELECT count(*) FROM mcpo_state_deltas WHERE name = 'prod'")
            .trim(),
        "0"
    );
    assert_eq!(a.history().expect("history"), vec![1]);
    assert_eq!(a.read_version(1).expect("v1").resources.len(), 0);
    assert_eq!(b.read().expect("read"), state);

    // Changes that outgrow the snapshot (and the floor) ask for a whole write: the bytes
    // recorded stay proportional to what changed, and the history keeps 50 snapshots.
    let mut whole_writes = 0;
    for i in 0..3_000 {
        if !step(&a, &mut state, &format!("aws.vpc.w{i}")) {
            whole_writes += 1;
        }
    }
    assert!(
        (1..10).contains(&whole_writes),
        "{whole_writes} compactions for 3,000 steps"
    );
    let recorded: i64 = pg
        .psql("SELECT coalesce(sum(length(data)), 0) FROM mcpo_state_deltas WHERE name = 'prod'")
        .trim()
        .parse()
        .expect("a number");
    let snapshot_len: i64 = pg
        .psql("SELECT length(data) FROM mcpo_states WHERE name = 'prod'")
        .trim()
        .parse()
        .expect("a number");
    assert!(
        recorded <= snapshot_len.max(256 * 1024) + 4096,
        "{recorded} bytes of changes after a snapshot of {snapshot_len}"
    );
    assert_eq!(b.read().expect("read"), state);
    assert_eq!(b.read().expect("read").resources.len(), 3_021);
    for _ in 0..HISTORY_KEPT + 5 {
        assert!(step(&a, &mut state, "aws.vpc.again"));
        a.write(&mut state).expect("write");
    }
    assert_eq!(a.history().expect("history").len(), HISTORY_KEPT);
    assert_eq!(b.read().expect("read"), state);
}

/// A change that does not continue the snapshot (a row deleted by hand, say) is damage
/// (E0501); `state restore` sets the damaged version and its changes aside.
#[test]
fn a_change_that_does_not_continue_the_state_is_damage() {
    let Some(pg) = PgCluster::start("a_change_that_does_not_continue_the_state_is_damage") else {
        return;
    };
    let a = PgBackend::connect(&pg.url(), "prod").expect("connect");
    let mut state = a.read().expect("read");
    a.write(&mut state).expect("first version");
    a.write(&mut state).expect("snapshot");
    assert!(step(&a, &mut state, "aws.vpc.a"));
    assert!(step(&a, &mut state, "aws.vpc.b"));
    pg.psql("DELETE FROM mcpo_state_deltas WHERE name = 'prod' AND serial = 3");
    let err = a.read().expect_err("a gap");
    assert_eq!(err.code().as_str(), "E0501", "{err}");
    insta::assert_snapshot!(
        "a_gap_in_the_changes",
        err.render().replace(&pg.port().to_string(), "PORT")
    );
    let restore = a.restore(1).expect("restore the kept snapshot");
    assert_eq!(restore.resources.len(), 0);
    assert!(
        pg.psql("SELECT count(*) FROM mcpo_set_aside WHERE name = 'prod'")
            .trim()
            .parse::<i64>()
            .expect("a number")
            >= 2,
        "the damaged version and its change are set aside, not deleted"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM mcpo_state_deltas WHERE name = 'prod'")
            .trim(),
        "0"
    );
}

/// With a key, the changes are sealed like the snapshot: a dump of the database taken
/// while an apply's changes are recorded holds no attribute value, and they read back.
#[test]
fn sealed_changes_hold_no_plaintext() {
    use mcpo_state::crypt::{Encryption, Secret};
    use std::sync::Arc;
    let Some(pg) = PgCluster::start("sealed_changes_hold_no_plaintext") else {
        return;
    };
    let keyed = |n: u8| {
        PgBackend::connect(&pg.url(), "prod")
            .expect("connect")
            .with_encryption(Arc::new(Encryption::new(Secret::Key([n; 32]))))
    };
    let a = keyed(1);
    let mut state = a.read().expect("read");
    a.write(&mut state).expect("snapshot");
    assert!(step(&a, &mut state, "aws.vpc.marker-5e1d"));
    assert!(step(&a, &mut state, "aws.vpc.marker-9b2c"));
    let dump = pg.dump();
    let rows = pg.psql("SELECT count(*) FROM mcpo_state_deltas");
    assert_eq!(rows.trim(), "2");
    for plain in ["hunter2", "marker-5e1d", "10.0.0.0/16"] {
        let hex: String = plain.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(
            !dump.contains(plain) && !dump.contains(&hex),
            "{plain} in the dump"
        );
    }
    assert_eq!(keyed(1).read().expect("read"), state);
    let err = keyed(2).read().expect_err("another key");
    assert_eq!(err.code().as_str(), "E0515", "{err}");
    // Unsealed, the same check sees the value (the check can fail).
    let plain = PgBackend::connect(&pg.url(), "plain").expect("connect");
    let mut s = plain.read().expect("read");
    plain.write(&mut s).expect("snapshot");
    assert!(step(&plain, &mut s, "aws.vpc.visible-3f4a"));
    let hex: String = "visible-3f4a".bytes().map(|b| format!("{b:02x}")).collect();
    assert!(pg.dump().contains(&hex));
}
