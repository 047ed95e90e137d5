//! `mcpoc run` end to end: runbooks on a server whose tools leave a trace
//! (`tests/fixtures/steps_server.py`: what was called, when, how often) and on the Docker
//! twin. Order and concurrency are read from the server's own log; the journal from the
//! state; what the twin holds through its `T.list` tool.

mod deploy_support;
mod twins_support;

use deploy_support::{Run, Ws, counts};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn steps_server() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/steps_server.py")
        .display()
        .to_string()
}

/// The `tests/plan/runbook` workspace, its schema pulled.
struct Steps {
    ws: Ws,
    dir: PathBuf,
}

impl Steps {
    fn new() -> Steps {
        let ws = Ws::fixture("runbook");
        let dir = ws.path().join("steps-state");
        let s = Steps { ws, dir };
        s.run(&["schema", "pull"]).expect_code(0);
        s
    }

    fn env(&self) -> [(String, String); 2] {
        [
            ("STEPS_SERVER".to_string(), steps_server()),
            ("STEPS_DIR".to_string(), self.dir.display().to_string()),
        ]
    }

    fn run(&self, args: &[&str]) -> Run {
        let env = self.env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.ws.run_env(args, &pairs)
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = self.ws.command(args);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn mcpoc")
    }

    /// The server's log: (name, start, end) of each `log` call, in the order they ended.
    fn log(&self) -> Vec<(String, f64, f64)> {
        let text = std::fs::read_to_string(self.dir.join("log.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| {
                (
                    v["name"].as_str().unwrap_or_default().to_string(),
                    v["start"].as_f64().unwrap_or_default(),
                    v["end"].as_f64().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn names(&self) -> Vec<String> {
        self.log().into_iter().map(|(n, _, _)| n).collect()
    }

    /// The state's journal of runs.
    fn runs(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.ws.path().join(".mcpo/state/state.json"))
            .expect("state.json");
        let state: Value = serde_json::from_str(&text).expect("state JSON");
        state["runs"].as_array().cloned().unwrap_or_default()
    }
}

#[test]
fn steps_run_in_declaration_order_reading_earlier_results_and_skipping_by_when() {
    let s = Steps::new();
    let run = s.run(&["run", "order"]);
    run.expect_code(0);
    assert_eq!(
        s.names(),
        ["first", "second-1", "third-x"],
        "{}",
        run.both()
    );
    assert!(
        run.stdout
            .contains("step skipped: skipped: its `when` is false"),
        "{}",
        run.both()
    );
    assert!(
        run.stdout
            .contains("Runbook order succeeded: 3 done, 1 skipped, 0 failed"),
        "{}",
        run.both()
    );
    // The journal: every step with its result, the run succeeded.
    let runs = s.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["params"]["label"], "x");
    assert_eq!(runs[0]["steps"]["second"]["result"]["name"], "second-1");
    assert_eq!(runs[0]["steps"]["skipped"]["status"], "skipped");

    // A param given on the command line, parsed like a variable; `when` now true.
    s.run(&["run", "order", "--param", "label=never"])
        .expect_code(0);
    assert_eq!(
        &s.names()[3..],
        ["first", "second-4", "skipped", "third-never"]
    );
}

#[test]
fn bad_params_are_refused_before_any_call() {
    let s = Steps::new();
    let run = s.run(&["run", "order", "--param", "lable=x"]);
    run.expect_code(1);
    insta::assert_snapshot!("e0661_unknown_param", run.stderr);
    let run = s.run(&["run", "ordr"]);
    run.expect_code(1);
    insta::assert_snapshot!("e0660_unknown_runbook", run.stderr);
    assert!(s.names().is_empty(), "nothing was called");
}

/// A module's runbook, brought by `use "ops" { source = "./modules/trace", servers = {
/// tracer = steps } }`: listed, run by its short and its qualified name on the server the
/// `use` binds it to, journalled under the qualified name; a second `use` of the module
/// makes the short name ambiguous.
#[test]
fn a_module_runbook_runs_by_its_short_and_qualified_names_on_the_mapped_server() {
    let s = Steps::new();
    let list = s.run(&["run"]);
    list.expect_code(0);
    assert!(
        list.stdout.contains(
            "ops.trace (also `trace`; from `modules/trace` by `use \"ops\"`)\n  params: label (string, has a default)\n  steps: one, two\n"
        ),
        "{}",
        list.both()
    );
    assert!(list.stdout.contains("order\n"), "{}", list.both());

    let run = s.run(&["run", "trace", "--param", "label=a"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("Runbook ops.trace succeeded: 2 done"),
        "{}",
        run.both()
    );
    s.run(&["run", "ops.trace"]).expect_code(0);
    // The module's `tracer` is the workspace's `steps`: its log holds the calls.
    assert_eq!(
        s.names(),
        ["module-a", "module-two-1", "module-m", "module-two-3"]
    );
    let runs = s.runs();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["runbook"] == "ops.trace"), "{runs:?}");
    assert_eq!(runs[0]["params"]["label"], "a");

    // A second `use` of the module: `trace` could mean either.
    std::fs::write(
        s.ws.path().join("more.mcpo"),
        "use \"ops2\" {\n  source  = \"./modules/trace\"\n  servers = { tracer = steps }\n}\n",
    )
    .expect("write more.mcpo");
    let run = s.run(&["run", "trace"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("`trace` names several runbooks that `use` blocks bring"),
        "{}",
        run.both()
    );
    assert!(
        run.stderr.contains("`ops.trace`, `ops2.trace`"),
        "{}",
        run.both()
    );
    s.run(&["run", "ops2.trace"]).expect_code(0);
    assert_eq!(s.names().len(), 6);
}

/// `for_each` on a step: one instance per name, at once; `when` per instance (`skip` is
/// skipped); the step's result is the map of its instances' results by key, which a later
/// step reads after all of them ended.
#[test]
fn a_step_with_for_each_runs_its_instances_at_once_and_feeds_a_map_forward() {
    let s = Steps::new();
    let run = s.run(&["run", "each"]);
    run.expect_code(0);
    let log = s.log();
    let at = |n: &str| {
        log.iter()
            .find(|(name, _, _)| name == n)
            .cloned()
            .unwrap_or_else(|| panic!("no `{n}` in {log:?}"))
    };
    let (a, b) = (at("fan-a-1"), at("fan-b-1"));
    // Each instance sleeps 0.7 s: they overlap when run at once.
    assert!(
        a.1 < b.2 && b.1 < a.2,
        "the instances ran one after the other: {log:?}"
    );
    let after = at("after-a:fan-a-1,b:fan-b-1");
    assert!(after.1 >= a.2 && after.1 >= b.2, "{log:?}");
    assert!(!s.names().iter().any(|n| n.contains("skip")), "{log:?}");
    assert!(
        run.stdout
            .contains("step fan[\"skip\"]: skipped: its `when` is false"),
        "{}",
        run.both()
    );
    assert!(
        run.stdout
            .contains("Runbook each succeeded: 3 done, 0 skipped, 0 failed"),
        "{}",
        run.both()
    );
    // The journal: each instance by itself, the step with the map of their results.
    let runs = s.runs();
    let steps = &runs[0]["steps"];
    assert_eq!(steps["fan[\"a\"]"]["status"], "done", "{steps}");
    assert_eq!(steps["fan[\"a\"]"]["result"]["name"], "fan-a-1", "{steps}");
    assert_eq!(steps["fan[\"skip\"]"]["status"], "skipped", "{steps}");
    assert_eq!(steps["fan"]["status"], "done", "{steps}");
    assert_eq!(steps["fan"]["result"]["b"]["name"], "fan-b-1", "{steps}");
    assert!(steps["fan"]["result"].get("skip").is_none(), "{steps}");

    // Another list: other instances, from the command line.
    s.run(&["run", "each", "--param", "names=[\"x\"]"])
        .expect_code(0);
    assert!(
        s.names().contains(&"after-x:fan-x-5".to_string()),
        "{:?}",
        s.names()
    );
}

/// A run killed while one instance of a step is in its call: `--resume` does not call the
/// instance that finished again, calls the other again (the step says it is idempotent),
/// and goes on.
#[test]
fn a_resumed_run_does_not_repeat_a_finished_instance() {
    let s = Steps::new();
    let mut child = s.spawn(&["run", "each_map"]);
    wait_for_log(&s, "fan-quick");
    // `fan["slow"]` is in its 4 s call now.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    s.ws.wait_twins_released();
    let runs = s.runs();
    assert_eq!(
        runs[0]["steps"]["fan[\"quick\"]"]["status"], "done",
        "{runs:?}"
    );
    assert_eq!(
        runs[0]["steps"]["fan[\"slow\"]"]["status"], "running",
        "{runs:?}"
    );

    let run = s.run(&["run", "each_map", "--resume"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("step fan[\"quick\"]: done in the interrupted run, not called again"),
        "{}",
        run.both()
    );
    let names = s.names();
    assert_eq!(
        names.iter().filter(|n| *n == "fan-quick").count(),
        1,
        "{names:?}"
    );
    assert!(names.contains(&"fan-slow".to_string()), "{names:?}");
    assert_eq!(
        names.last().map(String::as_str),
        Some("last-fan-quick"),
        "{names:?}"
    );
    let runs = s.runs();
    assert_eq!(runs.len(), 1, "the same run continued");
    assert_eq!(runs[0]["status"], "succeeded");
}

#[test]
fn independent_steps_run_at_once_and_a_later_step_waits_for_both() {
    let s = Steps::new();
    s.run(&["run", "fan"]).expect_code(0);
    let log = s.log();
    let at = |n: &str| log.iter().find(|(name, _, _)| name == n).cloned().expect(n);
    let (left, right, join) = (at("left-1"), at("right-1"), at("join"));
    // Each branch sleeps 0.8 s: they overlap when run at once.
    assert!(
        left.1 < right.2 && right.1 < left.2,
        "the branches ran one after the other: {log:?}"
    );
    assert!(join.1 >= left.2 && join.1 >= right.2, "{log:?}");
}

#[test]
fn depends_on_orders_a_step_after_one_it_does_not_read() {
    let s = Steps::new();
    s.run(&["run", "ordered"]).expect_code(0);
    let log = s.log();
    let at = |n: &str| log.iter().find(|(name, _, _)| name == n).cloned().expect(n);
    let (slow, after) = (at("slow-1"), at("after-1"));
    // `after` reads only `root`: without its `depends_on` it would run beside `slow`.
    assert!(after.1 >= slow.2, "{log:?}");
}

#[test]
fn a_failing_step_is_retried_with_backoff_until_it_succeeds() {
    let s = Steps::new();
    let run = s.run(&["run", "retry"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("step flaky: attempt 1 failed: "),
        "{}",
        run.both()
    );
    assert!(run.stdout.contains("retrying in 100ms"), "{}", run.both());
    assert!(run.stdout.contains("retrying in 200ms"), "{}", run.both());
    let runs = s.runs();
    assert_eq!(runs[0]["steps"]["flaky"]["attempts"], 3);
    assert_eq!(runs[0]["steps"]["flaky"]["result"]["attempts"], 3);
}

#[test]
fn a_failing_step_runs_its_compensation_and_stops_the_run() {
    let s = Steps::new();
    let run = s.run(&["run", "compensate"]);
    run.expect_code(1);
    // `undo` read `make`'s result; `after` never started.
    assert_eq!(s.names(), ["make", "undo-1"], "{}", run.both());
    assert!(
        run.stdout.contains("step undo: compensating for break"),
        "{}",
        run.both()
    );
    assert!(run.stdout.contains("Not started: after"), "{}", run.both());
    assert_eq!(s.runs()[0]["status"], "failed");

    // With `on_failure = "continue"` the run goes on and succeeds.
    let run = s.run(&["run", "tolerant"]);
    run.expect_code(0);
    assert_eq!(s.names().last().map(String::as_str), Some("after"));
}

#[test]
fn a_declined_approval_stops_the_run() {
    let s = Steps::new();
    // The terminal prompt needs a terminal: `script` gives the run one, and `no` is typed.
    let env = s.env();
    let mcpoc = deploy_support::MCPOC;
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("{mcpoc} run approval"), "/dev/null"])
        .current_dir(s.ws.path())
        .env("PATH", deploy_support::path_with_mcpoc())
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(stdin) = child.stdin.as_mut() {
                std::thread::sleep(Duration::from_millis(1500));
                let _ = stdin.write_all(b"no\n");
            }
            child.wait_with_output()
        })
        .expect("script runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(s.names(), ["before"], "{text}");
    assert!(text.contains("Go on with the change?"), "{text}");
    assert!(text.contains("stopped: an approval was declined"), "{text}");
    assert_eq!(s.runs()[0]["status"], "declined");

    // `--auto-approve` approves it.
    s.run(&["run", "approval", "--auto-approve"]).expect_code(0);
    assert_eq!(s.names(), ["before", "before", "after"]);
}

#[test]
fn a_dry_run_calls_only_read_only_tools_and_journals_nothing() {
    let s = Steps::new();
    let run = s.run(&["run", "dry", "--dry-run"]);
    run.expect_code(0);
    // The read-only check ran (its result decided `when`); the change was only shown.
    assert!(run.stdout.contains("step check: done"), "{}", run.both());
    assert!(
        run.stdout
            .contains(r#"step change: would call steps::log({"name" = "change"})"#)
            || run.stdout.contains("step change: would call steps::log("),
        "{}",
        run.both()
    );
    assert!(
        s.names().is_empty(),
        "the log tool was called: {:?}",
        s.names()
    );
    assert!(
        !s.ws.path().join(".mcpo/state/state.json").exists() || s.runs().is_empty(),
        "a dry run journals nothing"
    );
}

/// Waits until the server's log holds `name`.
fn wait_for_log(s: &Steps, name: &str) {
    let start = Instant::now();
    while !s.names().iter().any(|n| n == name) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no `{name}` in the log"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_run_killed_mid_step_resumes_without_repeating_finished_steps() {
    let s = Steps::new();
    let mut child = s.spawn(&["run", "long"]);
    wait_for_log(&s, "a");
    // `b` is in its 4 s call now.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    s.ws.wait_twins_released();
    assert_eq!(s.runs()[0]["status"], "running");
    assert_eq!(s.runs()[0]["steps"]["b"]["status"], "running");

    let run = s.run(&["run", "long", "--resume"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("step a: done in the interrupted run, not called again"),
        "{}",
        run.both()
    );
    // `a` once; `b` again (it is idempotent; the killed call may also have finished); `c`.
    let names = s.names();
    assert_eq!(names.iter().filter(|n| *n == "a").count(), 1, "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("c"), "{names:?}");
    let runs = s.runs();
    assert_eq!(runs.len(), 1, "the same run continued");
    assert_eq!(runs[0]["status"], "succeeded");

    // Nothing left to resume.
    let again = s.run(&["run", "long", "--resume"]);
    again.expect_code(1);
    insta::assert_snapshot!("e0662_no_run_to_resume", again.stderr);
}

#[test]
fn resume_does_not_call_again_a_step_that_is_not_idempotent() {
    let s = Steps::new();
    let mut child = s.spawn(&["run", "unsafe"]);
    wait_for_log(&s, "a");
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let run = s.run(&["run", "unsafe", "--resume"]);
    run.expect_code(1);
    insta::assert_snapshot!("e0663_interrupted_step_not_repeated", run.both());
    assert_eq!(s.names().iter().filter(|n| *n == "a").count(), 1);
}

#[test]
fn a_runbook_on_the_docker_twin_feeds_results_forward_and_compensates() {
    let ws = Ws::fixture("runbook_twins");
    ws.pull();
    // A dry run changes nothing: `volume.create` is not read-only.
    let dry = ws.run(&["run", "volumes", "--param", "name=data", "--dry-run"]);
    dry.expect_code(0);
    assert!(
        dry.stdout
            .contains("step make: would call docker::volume.create("),
        "{}",
        dry.both()
    );
    assert_eq!(ws.twin_counts(), counts(&[]));

    let run = ws.run(&["run", "volumes", "--param", "name=data"]);
    run.expect_code(1);
    // `read` got `make`'s id; `again` was refused by the twin, and `cleanup` removed the
    // volume `make` created.
    assert!(run.stdout.contains("step read: done"), "{}", run.both());
    assert!(run.stdout.contains("already exists"), "{}", run.both());
    assert!(
        run.stdout.contains("step cleanup: compensating for again"),
        "{}",
        run.both()
    );
    assert_eq!(ws.twin_counts(), counts(&[]));
}

/// A runbook on a third-party server, `@modelcontextprotocol/server-memory`: a step reads
/// an earlier one's result, `when` skips one, a dry run calls only the read-only tools,
/// and what the server holds afterwards is read from its own graph file.
#[test]
fn a_runbook_on_server_memory_feeds_results_forward() {
    let Some(memory) = deploy_support::npm_server("mcp-server-memory") else {
        return;
    };
    let ws = Ws::empty();
    let graph = ws.path().join("memory.jsonl");
    ws.write(
        "main.mcpo",
        &format!(
            r#"server "memory" {{
  command         = "{memory}"
  max_concurrency = 1
  env             = {{ MEMORY_FILE_PATH = "{}" }}
}}

runbook "onboard" {{
  param "person" {{
    type = string
  }}
  param "team" {{
    type    = string
    default = "ops"
  }}
  step "create" {{
    run = memory::create_entities({{ entities = [{{ name = param.person, entityType = "person", observations = ["joined ${{param.team}}"] }}] }})
  }}
  step "note" {{
    run = memory::add_observations({{ observations = [{{ entityName = step.create.entities[0].name, contents = ["onboarded by a runbook"] }}] }})
  }}
  step "found" {{
    run = memory::search_nodes({{ query = param.person }})
  }}
  step "forget" {{
    when = param.team == "leavers"
    run  = memory::delete_entities({{ entityNames = [param.person] }})
  }}
}}
"#,
            graph.display()
        ),
    );
    ws.pull();
    let entities = || -> Vec<Value> {
        std::fs::read_to_string(&graph)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "entity")
            .collect()
    };

    let dry = ws.run(&["run", "onboard", "--param", "person=ada", "--dry-run"]);
    dry.expect_code(0);
    assert!(
        dry.stdout
            .contains("step create: would call memory::create_entities("),
        "{}",
        dry.both()
    );
    assert!(entities().is_empty(), "a dry run created nothing");

    let run = ws.run(&["run", "onboard", "--param", "person=ada"]);
    run.expect_code(0);
    let found = entities();
    assert_eq!(found.len(), 1, "{found:?}\n{}", run.both());
    assert_eq!(found[0]["name"], "ada");
    assert_eq!(
        found[0]["observations"],
        serde_json::json!(["joined ops", "onboarded by a runbook"]),
        "the second step named the entity the first one created"
    );
    assert!(
        run.stdout
            .contains("step forget: skipped: its `when` is false"),
        "{}",
        run.both()
    );
    let text = std::fs::read_to_string(ws.path().join(".mcpo/state/state.json")).expect("state");
    let state: Value = serde_json::from_str(&text).expect("state JSON");
    let journal = &state["runs"][0];
    assert_eq!(journal["status"], "succeeded", "{journal}");
    assert!(
        journal["steps"]["found"]["result"]
            .to_string()
            .contains("onboarded by a runbook"),
        "the search step's result is journalled: {journal}"
    );
}
