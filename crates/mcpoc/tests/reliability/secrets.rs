//! The secret-leak scan: a sensitive marker value pushed through plan, saved plans, apply,
//! errors (of a function and of a server), drift, the state commands and destroy, then
//! searched for in everything `mcpoc` printed and every file written in the workspace
//! and in its home directory.

use crate::deploy_support::{Run, Ws};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The sensitive value. Made of characters every twin accepts, and found in no other text.
const MARKER: &str = "LeakMarker-5b1e9q";

/// Every run of the scan: what was asked, and what it printed.
struct Runs {
    ws: Ws,
    home: tempfile::TempDir,
    seen: Vec<(String, String)>,
}

impl Runs {
    /// Runs `mcpoc args` with the marker in the environment (`MCPO_VAR_db_password`) and
    /// a home of its own; keeps what it printed.
    fn run(&mut self, args: &[&str]) -> Run {
        let home = self.home.path().display().to_string();
        let run = self.ws.run_env(
            args,
            &[
                ("MCPO_VAR_db_password", MARKER),
                ("HOME", &home),
                ("XDG_CACHE_HOME", &format!("{home}/.cache")),
                ("XDG_CONFIG_HOME", &format!("{home}/.config")),
            ],
        );
        self.seen.push((
            format!("mcpoc {}", args.join(" ")),
            format!("{}{}", run.stdout, run.stderr),
        ));
        run
    }
}

/// Every file under `dir`, except those under `skip`.
fn files(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.starts_with(skip) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            files(&path, skip, out);
        } else if meta.is_file() {
            out.push(path);
        }
    }
}

/// The marker goes through every command that handles values and comes out only where
/// the user asked for it: `mcpoc output NAME`, the state and its history (owner-only),
/// and the saved plan (owner-only, it is applied without the variables). The twins' own
/// data directories are the systems being managed, not what mcpo writes, and are not
/// scanned.
///
/// Before: a built-in function failing on the value (`tonumber(var.db_password)`) quoted
/// it in the plan's diagnostic, and a server quoting an argument it rejected had the value
/// printed in apply's progress line and summary. After: the function's message is withheld
/// ("fails on a sensitive value"), and a step's sensitive values are replaced by
/// `(sensitive value)` in its error before any front end sees it. Each stage also checks that it did what it is there for (the drift is seen,
/// the errors happen), so a scan of nothing cannot pass.
#[test]
fn a_sensitive_value_appears_only_where_asked_for() {
    let mut r = Runs {
        ws: Ws::copy_of("tests/reliability/secrets"),
        home: tempfile::tempdir().expect("home"),
        seen: Vec::new(),
    };
    r.run(&["schema", "pull"]).expect_code(0);
    r.run(&["plan"]).expect_code(0);
    r.run(&["plan", "--format", "json"]).expect_code(0);
    r.ws.write("secret.json", &json!({ "db_password": MARKER }).to_string());
    r.run(&["plan", "--var-file", "secret.json", "--out", "saved.plan"])
        .expect_code(0);
    let apply = r.run(&["apply", "saved.plan"]);
    apply.expect_code(0);
    assert!(apply.stdout.contains("Apply complete"), "{}", apply.both());

    // What the state holds, every way it is shown.
    for args in [
        &["output"][..],
        &["output", "--format", "json"],
        &["state", "list"],
        &["state", "show", "kubernetes.secret.db"],
        &["state", "show", "kubernetes.config_map.app"],
        &[
            "state",
            "show",
            "kubernetes.config_map.app",
            "--format",
            "json",
        ],
        &["graph"],
    ] {
        r.run(args).expect_code(0);
    }

    // Drift of an attribute computed from the secret: seen, and shown redacted.
    r.ws.twin_call(
        "kubernetes",
        "config_map.update",
        json!({"id": "app/app", "name": "app", "namespace": "app", "data": {"dsn": "changed by hand"}}),
    );
    let refresh = r.run(&["refresh"]);
    refresh.expect_code(0);
    assert!(
        refresh.stdout.contains("kubernetes.config_map.app"),
        "the drift is reported: {}",
        refresh.both()
    );
    let drift = r.run(&["plan", "--detailed-exitcode"]);
    drift.expect_code(2);
    assert!(
        drift.stdout.contains("kubernetes.config_map.app"),
        "{}",
        drift.both()
    );
    r.run(&["apply", "--auto-approve"]).expect_code(0);

    // A function that fails on the secret, at plan.
    let main = r.ws.read("main.mcpo");
    r.ws.write(
        "main.mcpo",
        &format!("{main}\noutput \"n\" {{\n  value     = tonumber(var.db_password)\n  sensitive = true\n}}\n"),
    );
    let failed = r.run(&["plan"]);
    failed.expect_code(1);
    assert!(failed.stderr.contains("tonumber"), "{}", failed.both());
    // A server that quotes the secret in its error, at apply.
    r.ws.write(
        "main.mcpo",
        &format!(
            "{main}\nresource \"kubernetes.config_map\" \"bad\" {{\n  name      = \"bad\"\n  namespace = \"nope-${{var.db_password}}\"\n}}\n"
        ),
    );
    let failed = r.run(&["apply", "--auto-approve"]);
    failed.expect_code(1);
    assert!(
        failed.stderr.contains("error[E0600]") && failed.stderr.contains("not found"),
        "{}",
        failed.both()
    );
    r.ws.write("main.mcpo", &main);

    // The one place it is printed: asked for by name.
    let asked = r.run(&["output", "password"]);
    asked.expect_code(0);
    assert_eq!(asked.stdout.trim(), MARKER);
    let dsn = r.run(&["output", "dsn"]);
    dsn.expect_code(0);
    assert!(dsn.stdout.contains(MARKER), "{}", dsn.both());
    r.run(&["destroy", "--auto-approve"]).expect_code(0);

    let printed: Vec<&str> = r
        .seen
        .iter()
        .filter(|(cmd, text)| {
            text.contains(MARKER) && cmd != "mcpoc output password" && cmd != "mcpoc output dsn"
        })
        .map(|(cmd, _)| cmd.as_str())
        .collect();
    assert!(printed.is_empty(), "the marker was printed by: {printed:?}");

    // Every file written, in the workspace and the home directory.
    let mut written = Vec::new();
    files(r.ws.path(), &r.ws.path().join(".mcpo/twins"), &mut written);
    files(r.home.path(), Path::new("/nonexistent"), &mut written);
    let state_dir = r.ws.path().join(".mcpo/state");
    let mut holders = Vec::new();
    for path in &written {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        if !String::from_utf8_lossy(&bytes).contains(MARKER) || path.ends_with("secret.json") {
            continue;
        }
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        let allowed = path.starts_with(&state_dir) || path.ends_with("saved.plan");
        assert!(
            allowed && mode == 0o600,
            "{} holds the marker (mode {mode:o})",
            path.display()
        );
        holders.push(path.strip_prefix(r.ws.path()).unwrap_or(path).to_path_buf());
    }
    assert!(
        holders.iter().any(|p| p.starts_with(".mcpo/state/history")),
        "the history holds the applied state (else the scan saw nothing): {holders:?}"
    );
}
