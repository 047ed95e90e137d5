//! State in PostgreSQL, end to end through the binary, against a throwaway cluster
//! (`initdb` in a temporary directory, a free port on 127.0.0.1) and the twins: four
//! runners applying one workspace at once, a holder killed while holding the lock, a lost
//! update refused, and `state migrate` between the local file and the database.

mod deploy_support;
mod twins_support;

use deploy_support::{Run, Ws, counts};
use mcpo_test_support::pg::PgCluster;
use std::time::{Duration, Instant};

/// What the chaos fixture creates.
fn chaos_counts() -> std::collections::BTreeMap<String, usize> {
    counts(&[
        ("aws.vpc", 1),
        ("aws.vpc_subnet", 3),
        ("docker.network", 1),
        ("docker.volume", 4),
        ("opnsense.network_vlan", 2),
    ])
}

const CHAOS_ADDRESSES: usize = 11;

/// A copy of the chaos fixture whose state is `name` in `pg`, its twins keeping their
/// state under `twins` (shared by every copy, as one infrastructure is).
fn runner(pg: &PgCluster, name: &str, twins: &std::path::Path, latency: &str) -> Ws {
    let ws = Ws::fixture("chaos");
    let mut text = ws.read("main.mcpo");
    for kind in ["aws", "opnsense", "docker"] {
        text = text.replace(
            &format!("\".mcpo/twins/{kind}\""),
            &format!("\"{}\"", twins.join(kind).display()),
        );
    }
    text = text.replace("\"80,40\"", &format!("\"{latency}\""));
    text.push_str(&format!(
        "\nbackend \"postgres\" {{\n  url  = env(\"MCPO_PG_URL\")\n  name = \"{name}\"\n}}\n"
    ));
    ws.write("main.mcpo", &text);
    let _ = pg;
    ws
}

fn run(ws: &Ws, pg: &PgCluster, args: &[&str]) -> Run {
    ws.run_env(args, &[("MCPO_PG_URL", &pg.url())])
}

fn spawn(ws: &Ws, pg: &PgCluster, args: &[&str]) -> std::process::Child {
    ws.command(args)
        .env("MCPO_PG_URL", pg.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mcpoc")
}

fn output(child: std::process::Child) -> Run {
    let out = child.wait_with_output().expect("mcpoc ends");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn four_runners_apply_one_postgres_state_at_once() {
    let Some(pg) = PgCluster::start("four_runners_apply_one_postgres_state_at_once") else {
        return;
    };
    let twins = tempfile::tempdir().expect("twins dir");
    let runners: Vec<Ws> = (0..4)
        .map(|_| runner(&pg, "ci", twins.path(), "60,30"))
        .collect();
    for ws in &runners {
        run(ws, &pg, &["schema", "pull"]).expect_code(0);
    }
    // Two fail at once when the lock is taken, two wait for it.
    let children: Vec<(usize, u32, std::process::Child)> = runners
        .iter()
        .enumerate()
        .map(|(i, ws)| {
            let args: &[&str] = if i % 2 == 0 {
                &["apply", "--auto-approve"]
            } else {
                &["apply", "--auto-approve", "--lock-timeout", "3m"]
            };
            let child = spawn(ws, &pg, args);
            (i, child.id(), child)
        })
        .collect();
    let pids: Vec<u32> = children.iter().map(|(_, pid, _)| *pid).collect();
    let mut applied = 0;
    for (i, _, child) in children {
        let out = output(child);
        match out.code {
            Some(0) => applied += 1,
            Some(1) if i % 2 == 0 => {
                assert!(out.stderr.contains("error[E0503]"), "{}", out.both());
                assert!(
                    out.stderr.contains("locked by `mcpoc apply`")
                        && pids
                            .iter()
                            .any(|p| out.stderr.contains(&format!("pid {p} "))),
                    "the refusal names the holder, one of the other runners\n{}",
                    out.both()
                );
            }
            _ => panic!(
                "runner {i} neither applied nor reported the holder\n{}",
                out.both()
            ),
        }
    }
    assert!(applied >= 2, "the two that wait apply");
    // Nothing was created twice.
    assert_eq!(runners[0].twin_counts_under(twins.path()), chaos_counts());
    for ws in &runners {
        run(ws, &pg, &["plan", "--detailed-exitcode"]).expect_code(0);
        let list = run(ws, &pg, &["state", "list"]);
        list.expect_code(0);
        assert_eq!(
            list.stdout.lines().count(),
            CHAOS_ADDRESSES,
            "{}",
            list.both()
        );
    }
    // Nothing of it is in the copies' directories: the state is the database's.
    for ws in &runners {
        assert!(!ws.path().join(".mcpo/state/state.json").exists());
    }
}

#[test]
fn a_holder_killed_with_the_lock_does_not_block_the_next_run() {
    let Some(pg) = PgCluster::start("a_holder_killed_with_the_lock_does_not_block_the_next_run")
    else {
        return;
    };
    let ws = runner(&pg, "killed", &std::env::temp_dir().join("unused"), "150,0");
    // Twins of this one copy under its own directory.
    let text = ws.read("main.mcpo").replace(
        &std::env::temp_dir().join("unused").display().to_string(),
        &ws.path().join(".mcpo/twins").display().to_string(),
    );
    ws.write("main.mcpo", &text);
    run(&ws, &pg, &["schema", "pull"]).expect_code(0);
    let mut first = spawn(&ws, &pg, &["apply", "--auto-approve"]);
    let pid = first.id();
    // Wait until it holds the lock and has recorded something, then SIGKILL it.
    let start = Instant::now();
    loop {
        let rows = pg.try_psql("SELECT count(*) FROM mcpo_states WHERE name = 'killed'");
        if rows.is_some_and(|r| r.trim() == "1") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the apply never wrote"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let holder = pg.psql("SELECT holder FROM mcpo_locks WHERE name = 'killed'");
    assert!(holder.contains(&format!("\"pid\":{pid}")), "{holder}");
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    ws.wait_twins_released();

    // The next run is not blocked: the database dropped the dead session's lock.
    let next = run(&ws, &pg, &["apply", "--auto-approve"]);
    next.expect_code(0);
    assert!(!next.stderr.contains("E0503"), "{}", next.both());
    run(&ws, &pg, &["plan", "--detailed-exitcode"]).expect_code(0);
    assert_eq!(ws.twin_counts(), chaos_counts(), "no orphan, no duplicate");
}

#[test]
fn a_write_that_would_lose_an_update_is_refused() {
    let Some(pg) = PgCluster::start("a_write_that_would_lose_an_update_is_refused") else {
        return;
    };
    let ws = runner(&pg, "cas", &std::env::temp_dir().join("unused"), "150,0");
    let text = ws.read("main.mcpo").replace(
        &std::env::temp_dir().join("unused").display().to_string(),
        &ws.path().join(".mcpo/twins").display().to_string(),
    );
    ws.write("main.mcpo", &text);
    run(&ws, &pg, &["schema", "pull"]).expect_code(0);
    let apply = spawn(&ws, &pg, &["apply", "--auto-approve"]);
    let start = Instant::now();
    loop {
        let rows = pg.try_psql("SELECT count(*) FROM mcpo_states WHERE name = 'cas'");
        if rows.is_some_and(|r| r.trim() == "1") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the apply never wrote"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Someone else writes the state meanwhile, without the lock (an old client, a
    // hand edit): the apply's next write must not overwrite it.
    // (The version a state is at is `head`; `serial` is its snapshot's.)
    pg.psql("UPDATE mcpo_states SET serial = head + 1000, head = head + 1000 WHERE name = 'cas'");
    let bumped = pg.psql("SELECT serial, head FROM mcpo_states WHERE name = 'cas'");
    let out = output(apply);
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert!(out.stderr.contains("E0507"), "{}", out.both());
    assert_eq!(
        pg.psql("SELECT serial, head FROM mcpo_states WHERE name = 'cas'"),
        bumped,
        "the other write was kept"
    );
}

#[test]
fn state_migrate_moves_a_local_state_to_postgres_and_refuses_to_overwrite() {
    let Some(pg) = PgCluster::start("state_migrate_moves_a_local_state_to_postgres") else {
        return;
    };
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.apply_ok();
    let local = ws.state_addresses();
    assert!(!local.is_empty());
    // Two more versions of the local state, for the history.
    ws.run(&["refresh"]).expect_code(0);

    // Without a backend block there is nowhere to migrate to.
    let none = ws.run(&["state", "migrate", "--to", "postgres"]);
    none.expect_code(2);
    assert!(none.stderr.contains("E0511"), "{}", none.both());

    let mut text = ws.read("main.mcpo");
    text.push_str(
        "\nbackend \"postgres\" {\n  url  = env(\"MCPO_PG_URL\")\n  name = \"moved\"\n}\n",
    );
    ws.write("main.mcpo", &text);
    // The url is needed now, and said so.
    let unset = ws.run(&["state", "list"]);
    unset.expect_code(1);
    assert!(
        unset.stderr.contains("E0511") && unset.stderr.contains("MCPO_PG_URL"),
        "{}",
        unset.both()
    );

    // Before the move the database holds nothing.
    let empty = run(&ws, &pg, &["state", "list"]);
    empty.expect_code(0);
    assert_eq!(empty.stdout, "");

    let moved = run(&ws, &pg, &["state", "migrate", "--to", "postgres"]);
    moved.expect_code(0);
    assert!(moved.stdout.contains("moved the state"), "{}", moved.both());
    let listed = run(&ws, &pg, &["state", "list"]);
    listed.expect_code(0);
    assert_eq!(
        listed
            .stdout
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>(),
        local
    );
    let kept = pg.psql("SELECT count(*) FROM mcpo_state_history WHERE name = 'moved'");
    assert_eq!(
        kept.trim(),
        std::fs::read_dir(ws.path().join(".mcpo/state/history"))
            .expect("local history")
            .count()
            .to_string(),
        "the history came along"
    );
    // Planned from the database: nothing to do.
    run(&ws, &pg, &["plan", "--detailed-exitcode"]).expect_code(0);

    // A second move would overwrite: refused, in both directions.
    let again = run(&ws, &pg, &["state", "migrate", "--to", "postgres"]);
    again.expect_code(1);
    assert!(again.stderr.contains("E0513"), "{}", again.both());
    let back = run(&ws, &pg, &["state", "migrate", "--to", "local"]);
    back.expect_code(1);
    assert!(back.stderr.contains("E0513"), "{}", back.both());

    // Lost in the database and started afresh: the message says where the old versions
    // went in the database's terms, not a directory of the workspace.
    let lineage = pg.psql("SELECT lineage FROM mcpo_states WHERE name = 'moved'");
    let kept = pg.psql("SELECT count(*) FROM mcpo_state_history WHERE name = 'moved'");
    pg.psql("DELETE FROM mcpo_states WHERE name = 'moved'");
    let fresh = run(&ws, &pg, &["state", "restore", "--fresh"]);
    fresh.expect_code(0);
    let shown = format!(
        "started a new, empty state; the {} earlier version(s) are kept in the table mcpo_set_aside of PostgreSQL state \"moved\"",
        kept.trim()
    );
    assert!(fresh.stdout.contains(&shown), "{shown}\n{}", fresh.both());
    assert!(
        fresh
            .stdout
            .contains(&format!("(lineage {})", lineage.trim())),
        "{}",
        fresh.both()
    );
    assert!(!fresh.stdout.contains(".mcpo/state"), "{}", fresh.both());
    let aside = pg.psql("SELECT count(*) FROM mcpo_set_aside WHERE name = 'moved'");
    assert_eq!(aside.trim(), kept.trim());
}
