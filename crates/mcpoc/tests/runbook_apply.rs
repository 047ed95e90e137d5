//! `mcpoc run` with an `apply` step, end to end on the Docker twin
//! (`tests/plan/runbook_apply`): the workspace planned again with the step's variables,
//! the plan shown and approved, applied with the state, its history and the journal
//! written; a later step reading what the apply did. What the twin holds is read through
//! its `volume.list` tool, the journal from the state file.

mod deploy_support;
mod twins_support;

use deploy_support::Ws;
use serde_json::Value;
use std::time::{Duration, Instant};

const SCALE: &[&str] = &[
    "run",
    "scale",
    "--param",
    "caches=3",
    "--param",
    "label=green",
];

/// The fixture with its schema pulled and its files applied (one `cache-blue-0`); the
/// Docker twin answers every call after `latency_ms` when given.
fn applied(latency_ms: Option<u64>) -> Ws {
    let ws = Ws::fixture("runbook_apply");
    if let Some(ms) = latency_ms {
        ws.edit(
            "main.mcpo",
            r#""--state-dir", ".mcpo/twins/docker"]"#,
            &format!(r#""--state-dir", ".mcpo/twins/docker", "--latency-ms", "{ms}"]"#),
        );
    }
    ws.pull();
    ws.apply_ok();
    assert_eq!(volumes(&ws), ["cache-blue-0"]);
    ws
}

/// The names of the volumes the twin holds, sorted.
fn volumes(ws: &Ws) -> Vec<String> {
    let list = ws.twin_call("docker", "volume.list", serde_json::json!({}));
    let mut names: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn state(ws: &Ws) -> Value {
    let text =
        std::fs::read_to_string(ws.path().join(".mcpo/state/state.json")).expect("state.json");
    serde_json::from_str(&text).expect("state JSON")
}

/// The last run in the state's journal.
fn last_run(ws: &Ws) -> Value {
    state(ws)["runs"]
        .as_array()
        .and_then(|r| r.last().cloned())
        .unwrap_or(Value::Null)
}

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = SCALE.to_vec();
    all.extend_from_slice(extra);
    all
}

#[test]
fn an_apply_step_plans_and_applies_with_changed_variables_and_later_steps_read_its_result() {
    let ws = applied(None);
    let serial_before = state(&ws)["serial"].as_u64().expect("serial");

    let run = ws.run(&args(&["--auto-approve"]));
    run.expect_code(0);
    // The plan is shown as `mcpoc plan` shows it, then the apply's progress.
    for shown in [
        "step resize: planned: 2 to create, 0 to update, 1 to replace, 0 to delete",
        "-/+ docker.volume.cache[0]",
        "name = \"cache-blue-0\" -> \"cache-green-0\"",
        "+ docker.volume.cache[2]",
        "Plan: 2 to create, 0 to update, 1 to replace, 0 to delete.",
        "step resize: docker.volume.cache[1]: created in",
        "Runbook scale succeeded: 3 done, 0 skipped, 0 failed",
    ] {
        assert!(
            run.stdout.contains(shown),
            "no `{shown}` in:\n{}",
            run.both()
        );
    }
    // The twin holds the new set, and the volume `report` named after what the apply did.
    assert_eq!(
        volumes(&ws),
        [
            "cache-green-0",
            "cache-green-1",
            "cache-green-2",
            "report-created-2-replaced-1-deleted-0"
        ]
    );
    // The state records the apply (versions written) and the journal the step's result.
    let after = state(&ws);
    assert!(after["serial"].as_u64().expect("serial") > serial_before + 2);
    assert!(
        after["resources"]["docker.volume.cache[2]"].is_object(),
        "{after}"
    );
    let journal = last_run(&ws);
    assert_eq!(journal["status"], "succeeded", "{journal}");
    assert_eq!(journal["steps"]["resize"]["status"], "done", "{journal}");
    assert_eq!(
        journal["steps"]["resize"]["result"],
        serde_json::json!({ "created": 2, "updated": 0, "replaced": 1, "deleted": 0 })
    );
    assert_eq!(after["outputs"]["cache_names"]["value"][2], "cache-green-2");

    // The workspace's files still say one blue cache: a plan from them differs from the
    // state; with the step's values it shows no changes.
    let plan = ws.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 0 to update, 1 to replace, 2 to delete."),
        "{}",
        plan.both()
    );
    let same = ws.run(&[
        "plan",
        "--detailed-exitcode",
        "--var",
        "caches=3",
        "--var",
        "label=green",
    ]);
    same.expect_code(0);
    assert!(same.stdout.contains("No changes."), "{}", same.both());

    // The apply is in the state's history: `rollback` goes back to before it.
    ws.run(&["rollback", "--auto-approve"]).expect_code(0);
    assert_eq!(
        volumes(&ws),
        ["cache-blue-0", "report-created-2-replaced-1-deleted-0"]
    );
}

#[test]
fn an_apply_step_nobody_approves_changes_nothing_and_fails_the_step() {
    let ws = applied(None);
    let before = state(&ws)["resources"].clone();

    // No terminal and no `--auto-approve`: nobody can confirm (E0634); the plan was shown.
    let run = ws.run(SCALE);
    run.expect_code(1);
    assert!(
        run.stderr.contains("error[E0634]: step.resize:"),
        "{}",
        run.both()
    );
    assert!(
        run.stdout.contains("+ docker.volume.cache[1]"),
        "{}",
        run.both()
    );
    assert!(
        run.stdout.contains("Not started: settle, report"),
        "{}",
        run.both()
    );
    assert_eq!(volumes(&ws), ["cache-blue-0"]);
    assert_eq!(state(&ws)["resources"], before);
    assert_eq!(last_run(&ws)["steps"]["resize"]["status"], "failed");

    // A person answers `no` at the terminal prompt (`script` gives the run a terminal).
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} {}", deploy_support::MCPOC, SCALE.join(" ")),
            "/dev/null",
        ])
        .current_dir(ws.path())
        .env("PATH", deploy_support::path_with_mcpoc())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(stdin) = child.stdin.as_mut() {
                std::thread::sleep(Duration::from_millis(2500));
                let _ = stdin.write_all(b"no\n");
            }
            child.wait_with_output()
        })
        .expect("script runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Do you want to perform these actions (step `resize` of runbook `scale`)?"),
        "{text}"
    );
    assert!(
        text.contains("the plan was declined; nothing was changed"),
        "{text}"
    );
    assert_eq!(volumes(&ws), ["cache-blue-0"]);
    assert_eq!(state(&ws)["resources"], before);
    let journal = last_run(&ws);
    assert_eq!(journal["status"], "failed", "{journal}");
    assert_eq!(journal["steps"]["resize"]["status"], "failed", "{journal}");
}

#[test]
fn a_dry_run_shows_the_apply_steps_plan_and_changes_nothing() {
    let ws = applied(None);
    let before = std::fs::read(ws.path().join(".mcpo/state/state.json")).expect("state");

    let run = ws.run(&args(&["--dry-run"]));
    run.expect_code(0);
    for shown in [
        "-/+ docker.volume.cache[0]",
        "+ docker.volume.cache[1]",
        "Plan: 2 to create, 0 to update, 1 to replace, 0 to delete.",
        "step report: would call docker::volume.create(",
        "Dry run:",
    ] {
        assert!(
            run.stdout.contains(shown),
            "no `{shown}` in:\n{}",
            run.both()
        );
    }
    assert_eq!(volumes(&ws), ["cache-blue-0"]);
    let after = std::fs::read(ws.path().join(".mcpo/state/state.json")).expect("state");
    assert!(before == after, "a dry run wrote the state");
}

#[test]
fn an_apply_step_fails_with_the_errors_of_its_plan_or_of_its_apply() {
    let ws = applied(None);
    // A value the variable's validation refuses: nothing is planned, nothing changes.
    let run = ws.run(&["run", "scale", "--param", "caches=9", "--auto-approve"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("error[E0404]: step.resize: the workspace cannot be planned with the step's variables: main.mcpo:"),
        "{}",
        run.both()
    );
    assert!(run.stderr.contains("at most 5 caches"), "{}", run.both());
    assert_eq!(volumes(&ws), ["cache-blue-0"]);

    // A name the twin refuses: the apply's own errors, then the step's.
    let run = ws.run(&[
        "run",
        "scale",
        "--param",
        "caches=2",
        "--param",
        "label=bad name!",
        "--auto-approve",
    ]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "error[E0600]: docker.volume.cache[1]: server `docker`, tool `volume.create`"
        ),
        "{}",
        run.both()
    );
    assert!(
        run.stderr
            .contains("error[E0600]: step.resize: the apply failed: 2 changes failed"),
        "{}",
        run.both()
    );
    assert!(
        run.stdout.contains("Not started: settle, report"),
        "{}",
        run.both()
    );
    assert_eq!(last_run(&ws)["steps"]["resize"]["status"], "failed");
}

/// Starts the run and SIGKILLs it once `ready` holds for the state file and the Docker
/// twin's own file (read as they are on disk, without a client).
fn kill_when(ws: &Ws, extra: &[&str], ready: impl Fn(&Value, &Value) -> bool) {
    let mut child = ws.spawn(&args(extra));
    let start = Instant::now();
    let read = |path: &str| {
        std::fs::read_to_string(ws.path().join(path))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .unwrap_or(Value::Null)
    };
    loop {
        if ready(
            &read(".mcpo/state/state.json"),
            &read(".mcpo/twins/docker/docker.json"),
        ) {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().expect("output");
            panic!(
                "the run ended ({status}) before it could be interrupted:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(start.elapsed() < Duration::from_secs(60), "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    ws.wait_twins_released();
}

fn step_status(state: &Value, step: &str) -> Option<String> {
    let run = state["runs"].as_array()?.last()?;
    run["steps"][step]["status"].as_str().map(str::to_string)
}

#[test]
fn an_interrupted_apply_step_is_applied_again_on_resume_and_a_finished_one_is_not() {
    // Every call takes 300 ms and the apply runs one change at a time, so the run can be
    // killed halfway through.
    let ws = applied(Some(300));
    let extra = ["--auto-approve", "--parallelism", "1"];
    kill_when(&ws, &extra, |s, twin| {
        twin["resources"]["volume"]["cache-green-1"].is_object()
            && step_status(s, "resize").as_deref() == Some("running")
    });
    let journal = last_run(&ws);
    assert_eq!(journal["status"], "running", "{journal}");

    // Resuming applies the rest: planned again from the state the killed apply left, so
    // what it had created is not created again.
    let resumed = ws.run(&["run", "scale", "--resume", "--auto-approve"]);
    resumed.expect_code(0);
    assert!(
        resumed.stdout.contains("step resize: planned: "),
        "{}",
        resumed.both()
    );
    assert!(
        !resumed.stdout.contains("+ docker.volume.cache[1]"),
        "{}",
        resumed.both()
    );
    let names = volumes(&ws);
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("cache-"))
            .collect::<Vec<_>>(),
        ["cache-green-0", "cache-green-1", "cache-green-2"],
        "{}",
        resumed.both()
    );
    let journal = last_run(&ws);
    assert_eq!(journal["status"], "succeeded", "{journal}");
    assert_eq!(
        state(&ws)["runs"].as_array().map(Vec::len),
        Some(1),
        "the same run continued"
    );

    // Killed after the apply step finished: resuming does not plan or apply again.
    let ws = applied(Some(300));
    kill_when(&ws, &extra, |s, _| {
        step_status(s, "resize").as_deref() == Some("done")
            && step_status(s, "settle").as_deref() == Some("running")
    });
    let resumed = ws.run(&["run", "scale", "--resume"]);
    resumed.expect_code(0);
    assert!(
        resumed
            .stdout
            .contains("step resize: done in the interrupted run, not called again"),
        "{}",
        resumed.both()
    );
    assert!(!resumed.stdout.contains("planned:"), "{}", resumed.both());
    assert_eq!(
        volumes(&ws),
        [
            "cache-green-0",
            "cache-green-1",
            "cache-green-2",
            "report-created-2-replaced-1-deleted-0"
        ]
    );
}
