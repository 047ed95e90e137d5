//! Encryption at rest, end to end through the binary and the twins: with an `encryption`
//! block no file of the local state (snapshot, journal, history) and no saved plan holds a
//! plaintext attribute value, and neither does a dump of the PostgreSQL database; a wrong
//! or missing passphrase is refused (E0515) with nothing written; a state written before
//! encryption is read once and encrypted from its next write; `state rekey` moves every
//! version to a new key.

mod deploy_support;
mod twins_support;

use deploy_support::{Run, Ws};
use mcpo_test_support::pg::PgCluster;
use std::collections::BTreeMap;
use std::path::Path;

/// A value that appears in the state only as an attribute of a resource.
const MARKER: &str = "marker-7d1f3c";

const PASSPHRASE: (&str, &str) = ("MCPO_STATE_PASSPHRASE", "correct horse battery staple");

/// The basic fixture with [`MARKER`] in an attribute and `backend` as its backend block.
fn workspace(backend: &str) -> Ws {
    let ws = Ws::fixture("basic");
    ws.edit(
        "main.mcpo",
        "description      = \"https to the app subnet\"",
        &format!("description      = \"{MARKER} https\""),
    );
    let mut text = ws.read("main.mcpo");
    text.push_str(backend);
    ws.write("main.mcpo", &text);
    ws.pull();
    ws
}

const ENCRYPTED_LOCAL: &str = "\nbackend \"local\" {\n  encryption {\n    passphrase = env(\"MCPO_STATE_PASSPHRASE\")\n  }\n}\n";

fn run(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Run {
    ws.run_env(args, env)
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
                out.insert(name, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The files among `files` holding `needle`.
fn holding(files: &BTreeMap<String, Vec<u8>>, needle: &str) -> Vec<String> {
    files
        .iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn an_encrypted_local_state_holds_no_plaintext_and_refuses_a_wrong_passphrase() {
    let ws = workspace(ENCRYPTED_LOCAL);
    // Without the passphrase nothing happens at all.
    let unset = ws.run(&["apply", "--auto-approve"]);
    unset.expect_code(1);
    assert!(
        unset.stderr.contains("[E0515] Error")
            && unset
                .stderr
                .contains("the environment variable MCPO_STATE_PASSPHRASE is not set"),
        "{}",
        unset.both()
    );
    assert!(!ws.path().join(".mcpo/state/state.json").exists());

    run(&ws, &["apply", "--auto-approve"], &[PASSPHRASE]).expect_code(0);
    // A second run with a change: a journal and a kept version.
    ws.edit("main.mcpo", "tag         = 100", "tag         = 101");
    run(&ws, &["apply", "--auto-approve"], &[PASSPHRASE]).expect_code(0);
    let list = run(&ws, &["state", "list"], &[PASSPHRASE]);
    list.expect_code(0);
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.both());
    let show = run(
        &ws,
        &["state", "show", "opnsense.firewall_rule.https"],
        &[PASSPHRASE],
    );
    assert!(show.stdout.contains(MARKER), "{}", show.both());

    let state_dir = ws.path().join(".mcpo/state");
    let stored = files(&state_dir);
    assert!(
        stored.keys().any(|k| k.starts_with("history/")),
        "{stored:?}"
    );
    assert_eq!(holding(&stored, MARKER), Vec::<String>::new());
    assert_eq!(holding(&stored, "10.0.1.0/24"), Vec::<String>::new());

    // A saved plan is sealed with the same key, and applies.
    ws.edit("main.mcpo", "tag         = 101", "tag         = 102");
    run(&ws, &["plan", "--out", "plan.bin"], &[PASSPHRASE]).expect_code(0);
    let plan = std::fs::read(ws.path().join("plan.bin")).expect("plan");
    assert!(!plan.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));
    let no_key = ws.run(&["apply", "plan.bin"]);
    no_key.expect_code(1);
    assert!(no_key.stderr.contains("E0515"), "{}", no_key.both());

    // A wrong passphrase: refused, with the code, and not a byte of the state changed.
    let before = files(&state_dir);
    for args in [
        &["apply", "--auto-approve"][..],
        &["plan"],
        &["state", "list"],
        &["apply", "plan.bin"],
    ] {
        let wrong = run(&ws, args, &[("MCPO_STATE_PASSPHRASE", "Tr0ub4dor&3")]);
        wrong.expect_code(1);
        assert!(
            wrong.stderr.contains("error[E0515]") && wrong.stderr.contains("another passphrase"),
            "{args:?}: {}",
            wrong.both()
        );
        let after = files(&state_dir);
        // The lock file says who held the lock last; the state's files are untouched.
        let state_files = |f: &BTreeMap<String, Vec<u8>>| {
            f.iter()
                .filter(|(k, _)| *k != "lock")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(state_files(&after), state_files(&before), "{args:?} wrote");
    }
    run(&ws, &["apply", "plan.bin"], &[PASSPHRASE]).expect_code(0);
    run(&ws, &["plan", "--detailed-exitcode"], &[PASSPHRASE]).expect_code(0);
}

#[test]
fn a_plaintext_state_is_encrypted_on_its_next_write_and_rekey_moves_every_version() {
    let ws = workspace("");
    ws.apply_ok();
    ws.edit("main.mcpo", "tag         = 100", "tag         = 101");
    ws.apply_ok();
    let state_dir = ws.path().join(".mcpo/state");
    assert!(
        !holding(&files(&state_dir), MARKER).is_empty(),
        "plaintext before"
    );

    // Encryption configured: the plaintext state is read once, with a notice.
    let mut text = ws.read("main.mcpo");
    text.push_str(ENCRYPTED_LOCAL);
    ws.write("main.mcpo", &text);
    ws.edit("main.mcpo", "tag         = 101", "tag         = 102");
    let first = run(&ws, &["apply", "--auto-approve"], &[PASSPHRASE]);
    first.expect_code(0);
    assert!(
        first
            .stderr
            .contains("was not encrypted: it is encrypted from its next write on"),
        "{}",
        first.both()
    );
    let stored = files(&state_dir);
    assert!(stored.contains_key("state.json"), "{stored:?}");
    assert!(
        holding(&stored, MARKER)
            .iter()
            .all(|f| f.starts_with("history/")),
        "only the versions kept from before hold plaintext: {:?}",
        holding(&stored, MARKER)
    );
    let again = run(&ws, &["plan", "--detailed-exitcode"], &[PASSPHRASE]);
    again.expect_code(0);
    assert!(
        !again.stderr.contains("was not encrypted"),
        "{}",
        again.both()
    );

    // rekey (from plaintext): every kept version is encrypted too.
    let rekey = run(&ws, &["state", "rekey"], &[PASSPHRASE]);
    rekey.expect_code(0);
    assert!(rekey.stdout.contains("encrypted"), "{}", rekey.both());
    assert_eq!(holding(&files(&state_dir), MARKER), Vec::<String>::new());

    // rekey to a key file: the old passphrase opens, the new key seals.
    std::fs::write(
        ws.path().join("state.key"),
        "q1Ytv9Yw1s5a0y8N8m0S7m3u2Yl8rS0n4m2vZk9cX0E=\n",
    )
    .expect("key");
    ws.edit(
        "main.mcpo",
        "passphrase = env(\"MCPO_STATE_PASSPHRASE\")",
        "key_file = \"state.key\"",
    );
    let without_old = ws.run(&["state", "list"]);
    without_old.expect_code(1);
    assert!(
        without_old.stderr.contains("E0515"),
        "{}",
        without_old.both()
    );
    let before = files(&state_dir);
    let wrong_old = run(
        &ws,
        &["state", "rekey", "--old-passphrase-env", "OLD"],
        &[("OLD", "not it")],
    );
    wrong_old.expect_code(1);
    assert!(wrong_old.stderr.contains("E0515"), "{}", wrong_old.both());
    let unchanged = |a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>| {
        a.iter()
            .filter(|(k, _)| *k != "lock")
            .eq(b.iter().filter(|(k, _)| *k != "lock"))
    };
    assert!(
        unchanged(&before, &files(&state_dir)),
        "a failed rekey wrote"
    );
    run(
        &ws,
        &["state", "rekey", "--old-passphrase-env", "OLD"],
        &[("OLD", PASSPHRASE.1)],
    )
    .expect_code(0);
    let list = ws.run(&["state", "list"]);
    list.expect_code(0);
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.both());
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    // The old passphrase opens nothing any more.
    ws.edit(
        "main.mcpo",
        "key_file = \"state.key\"",
        "passphrase = env(\"MCPO_STATE_PASSPHRASE\")",
    );
    let old = run(&ws, &["state", "list"], &[PASSPHRASE]);
    old.expect_code(1);
    assert!(old.stderr.contains("E0515"), "{}", old.both());
}

#[test]
fn a_dump_of_an_encrypted_postgres_state_holds_no_plaintext() {
    let Some(pg) = PgCluster::start("a_dump_of_an_encrypted_postgres_state_holds_no_plaintext")
    else {
        return;
    };
    let url = pg.url();
    let env = [PASSPHRASE, ("MCPO_PG_URL", url.as_str())];
    let backend = |name: &str, encrypted: bool| {
        format!(
            "\nbackend \"postgres\" {{\n  url  = env(\"MCPO_PG_URL\")\n  name = \"{name}\"\n{}}}\n",
            if encrypted {
                "  encryption {\n    passphrase = env(\"MCPO_STATE_PASSPHRASE\")\n  }\n"
            } else {
                ""
            }
        )
    };
    let hex: String = MARKER.bytes().map(|b| format!("{b:02x}")).collect();

    // Unencrypted, the dump holds the value (as bytea hex): the check below can fail.
    let plain = workspace(&backend("plain", false));
    run(&plain, &["apply", "--auto-approve"], &env).expect_code(0);
    let dump = pg.dump();
    assert!(
        dump.contains(&hex) || dump.contains(MARKER),
        "the check sees plaintext"
    );
    pg.psql("DELETE FROM mcpo_state_history WHERE name = 'plain'");
    pg.psql("DELETE FROM mcpo_states WHERE name = 'plain'");

    let ws = workspace(&backend("sealed", true));
    run(&ws, &["apply", "--auto-approve"], &env).expect_code(0);
    ws.edit("main.mcpo", "tag         = 100", "tag         = 101");
    run(&ws, &["apply", "--auto-approve"], &env).expect_code(0);
    let kept = pg.psql("SELECT count(*) FROM mcpo_state_history WHERE name = 'sealed'");
    assert_ne!(kept.trim(), "0");
    let dump = pg.dump();
    assert!(
        !dump.contains(&hex) && !dump.contains(MARKER),
        "plaintext in the dump"
    );
    let list = run(&ws, &["state", "list"], &env);
    list.expect_code(0);
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.both());
    assert!(!ws.path().join(".mcpo/state/state.json").exists());

    // A wrong passphrase: refused, nothing written.
    let before = pg.psql("SELECT serial, md5(data) FROM mcpo_states WHERE name = 'sealed'");
    let wrong = run(
        &ws,
        &["apply", "--auto-approve"],
        &[
            ("MCPO_STATE_PASSPHRASE", "nope"),
            ("MCPO_PG_URL", url.as_str()),
        ],
    );
    wrong.expect_code(1);
    assert!(wrong.stderr.contains("error[E0515]"), "{}", wrong.both());
    assert_eq!(
        pg.psql("SELECT serial, md5(data) FROM mcpo_states WHERE name = 'sealed'"),
        before
    );

    // rekey in the database: every version moves to the new passphrase.
    let rekeyed = run(
        &ws,
        &["state", "rekey", "--old-passphrase-env", "OLD"],
        &[
            ("MCPO_STATE_PASSPHRASE", "a new passphrase"),
            ("OLD", PASSPHRASE.1),
            ("MCPO_PG_URL", url.as_str()),
        ],
    );
    rekeyed.expect_code(0);
    let old = run(&ws, &["state", "list"], &env);
    old.expect_code(1);
    assert!(old.stderr.contains("E0515"), "{}", old.both());
    let new = run(
        &ws,
        &["plan", "--detailed-exitcode"],
        &[
            ("MCPO_STATE_PASSPHRASE", "a new passphrase"),
            ("MCPO_PG_URL", url.as_str()),
        ],
    );
    new.expect_code(0);
    let dump = pg.dump();
    assert!(
        !dump.contains(&hex) && !dump.contains(MARKER),
        "plaintext in the dump"
    );
}
