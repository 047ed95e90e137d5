//! Cases 4, 5 (the state files) and 9: what `mcpoc apply` leaves on disk, and what it
//! does with a planted link and an edited serial. (The backend's own tests are in
//! `crates/mcpo-state/tests/files.rs`.)

use crate::support::{mcpoc, workspace};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn outputs(value: u32) -> String {
    format!("locals {{\n  a = {value}\n}}\n\noutput \"o\" {{\n  value = local.a\n}}\n")
}

/// Before: `state.json` and `history/*.json` were created 0644, readable by every user
/// of the machine with the sensitive values they hold. After: 0600, and the lock too.
#[test]
fn apply_leaves_owner_only_state_files() {
    let ws = workspace(&[("main.mcpo", &outputs(1))]);
    mcpoc(ws.path(), &["apply", "--auto-approve"]).expect("apply", 0, "Apply complete");
    std::fs::write(ws.path().join("main.mcpo"), outputs(2)).expect("edit");
    mcpoc(ws.path(), &["apply", "--auto-approve"]).expect("apply", 0, "Apply complete");
    let state = ws.path().join(".mcpo/state");
    assert_eq!(mode(&state.join("state.json")), 0o600);
    assert_eq!(mode(&state.join("history/1.json")), 0o600);
    assert_eq!(mode(&state.join("lock")), 0o600);
}

/// Before: a symbolic link at `.mcpo/state/lock` had its target truncated to 0 bytes by
/// the next command that took the lock. After: the command stops with E0505 saying the
/// link is not followed, and the target is untouched.
#[test]
fn a_symlink_at_the_lock_stops_apply_and_its_target_is_untouched() {
    let ws = workspace(&[("main.mcpo", &outputs(1)), ("precious.txt", "keep me\n")]);
    let state = ws.path().join(".mcpo/state");
    std::fs::create_dir_all(&state).expect("mkdir");
    std::os::unix::fs::symlink(ws.path().join("precious.txt"), state.join("lock"))
        .expect("symlink");
    let run = mcpoc(ws.path(), &["apply", "--auto-approve"]);
    run.expect("apply", 1, "error[E0505]");
    assert!(run.output.contains("symbolic link"), "{}", run.output);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("precious.txt")).expect("read"),
        "keep me\n"
    );
}

/// Before: a state at serial u64::MAX was saved as serial 0 (so the new version looked
/// older than every kept one). After: E0508, and the state is not written.
#[test]
fn an_exhausted_serial_is_an_error_not_a_wrap() {
    let ws = workspace(&[("main.mcpo", &outputs(1))]);
    mcpoc(ws.path(), &["apply", "--auto-approve"]).expect("apply", 0, "Apply complete");
    let path = ws.path().join(".mcpo/state/state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    state["serial"] = serde_json::json!(u64::MAX);
    let edited = serde_json::to_string_pretty(&state).expect("encode");
    std::fs::write(&path, &edited).expect("write");
    std::fs::write(ws.path().join("main.mcpo"), outputs(2)).expect("edit");
    let run = mcpoc(ws.path(), &["apply", "--auto-approve"]);
    run.expect("apply", 1, "E0508");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), edited);
}

/// The kept versions of `.mcpo/state/history/` (file name -> contents).
fn history(ws: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(ws.join(".mcpo/state/history"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Case 2. Before: with versions in `history/`, `rm state.json; mcpoc apply` planned
/// everything as new (duplicates on the servers), and the new lineage wrote
/// `history/1.json`... over the old one's, the very files E0501 says to restore from.
/// After: every command stops with E0509 naming the newest version and how to restore
/// it; `state restore SERIAL` brings it back (and the plan is empty again), and
/// `state restore --fresh` starts anew with the old versions set aside, never overwritten.
#[test]
fn a_deleted_state_with_history_is_an_error_until_restored() {
    let ws = workspace(&[("main.mcpo", &outputs(1))]);
    for v in 1..=3 {
        std::fs::write(ws.path().join("main.mcpo"), outputs(v)).expect("edit");
        mcpoc(ws.path(), &["apply", "--auto-approve"]).expect("apply", 0, "Apply complete");
    }
    let state = ws.path().join(".mcpo/state/state.json");
    let kept = history(ws.path());
    assert!(kept.len() >= 2, "{kept:?}");
    let newest = kept
        .keys()
        .filter_map(|k| k.trim_end_matches(".json").parse::<u64>().ok())
        .max()
        .expect("a kept version");
    std::fs::remove_file(&state).expect("rm state.json");
    for args in [
        &["apply", "--auto-approve"][..],
        &["plan"],
        &["state", "list"],
    ] {
        let run = mcpoc(ws.path(), args);
        run.expect("a command on a lost state", 1, "error[E0509]");
        assert!(
            run.output
                .contains(&format!("mcpoc state restore {newest}")),
            "{}",
            run.output
        );
        if args[0] == "apply" {
            insta::assert_snapshot!("e0509_state_missing", run.output);
        }
    }
    assert!(!state.exists(), "nothing was written");
    assert_eq!(history(ws.path()), kept, "the history is untouched");

    mcpoc(ws.path(), &["state", "restore", &newest.to_string()]).expect(
        "restore",
        0,
        "restored version",
    );
    // The newest kept version is the one the last apply replaced: the plan shows what
    // changed since (here only the output), and an apply brings it up to date.
    mcpoc(ws.path(), &["plan", "--detailed-exitcode"]).expect("plan", 2, "only outputs change");
    mcpoc(ws.path(), &["apply", "--auto-approve"]).expect("apply", 0, "Apply complete");
    mcpoc(ws.path(), &["plan", "--detailed-exitcode"]).expect("plan", 0, "No changes");
    // A restore over a good state is refused.
    let again = mcpoc(ws.path(), &["state", "restore", &newest.to_string()]);
    again.expect("restore again", 1, "error[E0510]");
    insta::assert_snapshot!("e0510_nothing_to_restore", again.output);

    // A fresh start sets the old versions aside; the new state's never overwrite them.
    let before_fresh = history(ws.path());
    std::fs::remove_file(&state).expect("rm state.json");
    let fresh = mcpoc(ws.path(), &["state", "restore", "--fresh"]);
    fresh.expect("fresh", 0, "new, empty state");
    for v in 4..=6 {
        std::fs::write(ws.path().join("main.mcpo"), outputs(v)).expect("edit");
        mcpoc(ws.path(), &["apply", "--auto-approve"]).expect("apply", 0, "Apply complete");
    }
    let aside: Vec<_> = std::fs::read_dir(ws.path().join(".mcpo/state/history"))
        .expect("history")
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(aside.len(), 1, "one lineage set aside");
    let aside = aside[0].path();
    // The message names the very directory the versions went to, and how many.
    let shown = format!(
        "the {} earlier version(s) are kept in .mcpo/state/history/{}/",
        before_fresh.len(),
        aside.file_name().expect("a name").to_string_lossy()
    );
    assert!(fresh.output.contains(&shown), "{shown}\n{}", fresh.output);
    for (name, text) in &before_fresh {
        let kept = std::fs::read_to_string(aside.join(name)).expect("kept aside");
        assert_eq!(&kept, text, "{name} is the old lineage's, unchanged");
    }
}

/// Case 5, saved plans. Before: `plan --out` onto an existing file kept that file's mode
/// (0644) and wrote the plan, with its sensitive values, into it. After: the plan is a new
/// owner-only file that replaces the old one.
#[test]
fn a_saved_plan_is_owner_only_even_over_an_existing_file() {
    let ws = workspace(&[("main.mcpo", &outputs(1)), ("plan.json", "old\n")]);
    let plan = ws.path().join("plan.json");
    std::fs::set_permissions(&plan, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    mcpoc(ws.path(), &["plan", "--out", "plan.json"]).expect("plan", 0, "Saved the plan");
    assert_eq!(mode(&plan), 0o600);
    let text = std::fs::read_to_string(&plan).expect("read");
    assert!(text.contains("\"format_version\""), "{text}");
}
