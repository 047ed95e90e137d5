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
