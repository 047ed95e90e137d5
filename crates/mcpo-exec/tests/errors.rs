//! Every error of apply, refresh and import reached through a real run against real MCP
//! servers (the twins over stdio with their fault flags, and a small server built on the
//! official Python SDK that breaks the resource convention), asserted by code and shown
//! as users read it.

mod common;

use common::*;
use mcpo_diagnostics::codes;
use mcpo_exec::{
    Action, ApplyOptions, Closures, Connections, ExecError, RefreshOptions, RetryPolicy, Step,
    Summary, apply, import, refresh,
};
use mcpo_mcp::{ConnectOptions, ServerSpec};
use mcpo_state::{Intent, IntentOp, State};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Connects every spec, keeping the ones that fail (their steps fail with E0601).
async fn connect_any(specs: Vec<ServerSpec>) -> Connections {
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let map: BTreeMap<String, ServerSpec> =
        specs.into_iter().map(|s| (s.name.clone(), s)).collect();
    let opts = ConnectOptions {
        lifecycle: mcpo_mcp::Lifecycle::Initialize,
        ..ConnectOptions::default()
    };
    Connections::connect(&map, names.iter().map(String::as_str), &opts).await
}

fn quick() -> ApplyOptions {
    ApplyOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(5),
            max: Duration::from_millis(20),
        },
        poll_interval: Duration::from_millis(30),
        ..ApplyOptions::default()
    }
}

/// Applies `steps` with `eval` from an empty state, keeping nothing on disk.
async fn run(
    conns: &Connections,
    steps: &[Step],
    eval: &Closures,
    opts: &ApplyOptions,
) -> (State, Summary) {
    apply(
        steps,
        eval,
        conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::Discard),
        opts,
    )
    .await
}

/// The errors as printed, one per line (ids the twins hand out are seeded, so stable).
fn shown(errors: &[ExecError]) -> String {
    errors.iter().map(|e| format!("{e}\n")).collect()
}

fn codes_of(errors: &[ExecError]) -> Vec<&str> {
    errors.iter().map(|e| e.code.as_str()).collect()
}

/// E0600 (the tool ran and said no) and E0606 (its dependent was skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0600_a_tool_reports_an_error_and_e0606_its_dependents_are_skipped() {
    let conns = connect_any(vec![twin("aws", "aws", &["--seed", "1"])]).await;
    let mut eval = Closures::new();
    eval.args("aws.vpc.bad", |_| {
        Ok(json!({"cidr_block": "10.0.0.0/33", "name": "bad"}))
    });
    eval.args("aws.vpc_subnet.a", |_| Ok(json!({"vpc_id": "vpc-x", "cidr_block": "10.0.1.0/24", "availability_zone": "us-east-1a"})));
    let steps = vec![
        Step::new("aws.vpc.bad", Action::Create, "aws", "vpc"),
        Step::new("aws.vpc_subnet.a", Action::Create, "aws", "vpc_subnet").after(["aws.vpc.bad"]),
    ];
    let (state, summary) = run(&conns, &steps, &eval, &quick()).await;
    let errors = summary.errors();
    assert_eq!(codes_of(&errors), ["E0600", "E0606"], "{errors:?}");
    assert!(state.resources.is_empty() && state.intents.is_empty());
    insta::assert_snapshot!("e0600_e0606", shown(&errors));
    conns.shutdown().await;
}

/// E0601: the server cannot be started; only its steps fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0601_a_server_that_cannot_start() {
    let missing = ServerSpec::stdio("ghost", "/nonexistent/mcp-server", &[] as &[&str]);
    let conns = connect_any(vec![missing, twin("d", "docker", &["--seed", "1"])]).await;
    let mut eval = Closures::new();
    eval.args("ghost.volume.a", |_| Ok(json!({"name": "a"})));
    eval.args("d.volume.b", |_| Ok(json!({"name": "b"})));
    let steps = vec![
        Step::new("ghost.volume.a", Action::Create, "ghost", "volume"),
        Step::new("d.volume.b", Action::Create, "d", "volume"),
    ];
    let (state, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert_eq!(codes_of(&summary.failed), ["E0601"]);
    assert_eq!(
        summary.count(Action::Create),
        1,
        "the other server's step ran"
    );
    assert!(state.resources.contains_key("d.volume.b"));
    insta::assert_snapshot!("e0601", shown(&summary.failed));
    conns.shutdown().await;
}

/// E0602: the server crashes during the call; the create's intent stays for refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0602_the_server_crashes_during_a_create() {
    let conns = connect_any(vec![twin("d", "docker", &["--crash-after", "0"])]).await;
    let mut eval = Closures::new();
    eval.args("d.volume.a", |_| Ok(json!({"name": "a"})));
    let steps = vec![Step::new("d.volume.a", Action::Create, "d", "volume")];
    let (state, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert_eq!(codes_of(&summary.failed), ["E0602"]);
    assert_eq!(state.intents.len(), 1, "the create may have happened");
    // The server's stderr tail follows on later lines; the first says what happened.
    let first = shown(&summary.failed)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    insta::assert_snapshot!("e0602", first);
    conns.shutdown().await;
}

/// E0603: no answer within the timeout; a create is not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0603_a_call_times_out() {
    let mut hanging = twin("d", "docker", &["--hang-tool", "volume.create"]);
    hanging.timeout = Some(Duration::from_millis(300));
    let conns = connect_any(vec![hanging]).await;
    let mut eval = Closures::new();
    eval.args("d.volume.a", |_| Ok(json!({"name": "a"})));
    let steps = vec![Step::new("d.volume.a", Action::Create, "d", "volume")];
    let (_, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert_eq!(codes_of(&summary.failed), ["E0603"]);
    insta::assert_snapshot!("e0603", shown(&summary.failed));
    conns.shutdown().await;
}

/// E0604: a create that answers without an id (a server breaking the convention): the
/// intent stays, so nothing created is forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0604_a_create_answers_without_an_id() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no_id_server.py");
    let script = script.display().to_string();
    let spec = ServerSpec::stdio("p", "python3", &[script.as_str()]);
    let conns = connect_any(vec![spec]).await;
    assert!(
        conns.failures().is_empty(),
        "the Python MCP server did not start (pip install mcp): {:?}",
        conns.failures()
    );
    let mut eval = Closures::new();
    eval.args("p.thing.a", |_| Ok(json!({"name": "a"})));
    let steps = vec![Step::new("p.thing.a", Action::Create, "p", "thing")];
    let (state, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert_eq!(codes_of(&summary.failed), ["E0604"]);
    assert_eq!(state.intents.len(), 1);
    insta::assert_snapshot!("e0604", shown(&summary.failed));
    conns.shutdown().await;
}

/// E0605: the readiness condition is still false at its timeout; the resource is tainted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0605_readiness_times_out() {
    let conns = connect_any(vec![twin(
        "k",
        "kubernetes",
        &["--ready-delay-ms", "60000", "--seed", "1"],
    )])
    .await;
    let mut eval = Closures::new();
    eval.args("k.namespace.app", |_| Ok(json!({"name": "app"})));
    eval.wait_for("k.namespace.app", Duration::from_millis(300), |cur, _| {
        Ok(cur.get("status") == Some(&json!("never")))
    });
    let steps = vec![Step::new(
        "k.namespace.app",
        Action::Create,
        "k",
        "namespace",
    )];
    let (state, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert_eq!(codes_of(&summary.failed), ["E0605"]);
    assert!(state.resources["k.namespace.app"].tainted);
    insta::assert_snapshot!("e0605", shown(&summary.failed));
    conns.shutdown().await;
}

/// E0607: a step's arguments cannot be evaluated with its dependencies' values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0607_arguments_that_cannot_be_evaluated() {
    let conns = connect_any(vec![twin("d", "docker", &["--seed", "1"])]).await;
    let mut eval = Closures::new();
    eval.args("d.volume.a", |_| Ok(json!({"name": "a"})));
    eval.args("d.volume.b", |v| {
        Ok(json!({"name": "b", "labels": {"x": mcpo_exec::get(v, "d.volume.a", "vpc_id")?}}))
    });
    let steps = vec![
        Step::new("d.volume.a", Action::Create, "d", "volume"),
        Step::new("d.volume.b", Action::Create, "d", "volume").after(["d.volume.a"]),
    ];
    let (_, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert_eq!(codes_of(&summary.failed), ["E0607"]);
    insta::assert_snapshot!("e0607", shown(&summary.failed));
    conns.shutdown().await;
}

/// E0608: refresh cannot tell which of two resources an interrupted create made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0608_a_pending_create_that_matches_two_resources() {
    let conns = connect_any(vec![twin("d", "docker", &["--seed", "1"])]).await;
    let mut eval = Closures::new();
    eval.args("d.volume.one", |_| {
        Ok(json!({"name": "data-1", "labels": {"app": "x"}}))
    });
    eval.args("d.volume.two", |_| {
        Ok(json!({"name": "data-2", "labels": {"app": "x"}}))
    });
    let steps = vec![
        Step::new("d.volume.one", Action::Create, "d", "volume"),
        Step::new("d.volume.two", Action::Create, "d", "volume"),
    ];
    let (_, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert!(summary.ok(), "{summary:?}");
    // A state that never recorded them, with an intent both match.
    let mut state = State::new("t");
    state.intents.push(Intent {
        op: IntentOp::Create,
        address: "d.volume.data".into(),
        server: "d".into(),
        type_name: "volume".into(),
        args: json!({"labels": {"app": "x"}}),
        id: None,
    });
    let report = refresh(
        &conns,
        &conns.drivers(),
        &mut state,
        &RefreshOptions::default(),
    )
    .await;
    assert_eq!(codes_of(&report.errors), ["E0608"]);
    assert_eq!(
        state.intents.len(),
        1,
        "kept until the right one is imported"
    );
    insta::assert_snapshot!("e0608", shown(&report.errors));
    conns.shutdown().await;
}

/// E0609: the state cannot be saved; no step that changes the world starts after that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0609_the_state_cannot_be_saved() {
    let conns = connect_any(vec![twin("d", "docker", &["--seed", "1"])]).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    // `.mcpo` is a file, so `.mcpo/state/` cannot be made.
    std::fs::write(dir.path().join(".mcpo"), "not a directory").expect("write");
    let mut eval = Closures::new();
    eval.args("d.volume.a", |_| Ok(json!({"name": "a"})));
    let steps = vec![Step::new("d.volume.a", Action::Create, "d", "volume")];
    let (state, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::LocalBackend::new(dir.path())),
        &quick(),
    )
    .await;
    assert_eq!(codes_of(&summary.failed)[0], "E0609");
    assert!(state.resources.is_empty(), "the create never started");
    insta::assert_snapshot!("e0609", shown(&summary.failed[..1]));
    conns.shutdown().await;
}

/// E0610: a rollback step fails (the delete of what this run created hangs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0610_a_rollback_step_fails() {
    let mut aws = twin("aws", "aws", &["--seed", "1", "--hang-tool", "vpc.delete"]);
    aws.timeout = Some(Duration::from_millis(300));
    let conns = connect_any(vec![aws]).await;
    let mut eval = Closures::new();
    eval.args("aws.vpc.main", |_| {
        Ok(json!({"cidr_block": "10.0.0.0/16", "name": "main"}))
    });
    eval.args("aws.vpc_subnet.bad", |v| {
        Ok(json!({"vpc_id": mcpo_exec::get(v, "aws.vpc.main", "id")?, "cidr_block": "10.9.0.0/33", "availability_zone": "us-east-1a"}))
    });
    let steps = vec![
        Step::new("aws.vpc.main", Action::Create, "aws", "vpc"),
        Step::new("aws.vpc_subnet.bad", Action::Create, "aws", "vpc_subnet")
            .after(["aws.vpc.main"]),
    ];
    let opts = ApplyOptions {
        rollback_on_failure: true,
        ..quick()
    };
    let (state, summary) = run(&conns, &steps, &eval, &opts).await;
    assert_eq!(codes_of(&summary.failed), ["E0600"]);
    assert_eq!(codes_of(&summary.rollback_failed), ["E0610"]);
    assert!(
        state.resources.contains_key("aws.vpc.main"),
        "what could not be undone stays recorded"
    );
    insta::assert_snapshot!("e0610", shown(&summary.rollback_failed));
    conns.shutdown().await;
}

/// E0611 and E0612: importing an id the server does not have, and an address already
/// managed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0611_e0612_imports_that_cannot_be_made() {
    let conns = connect_any(vec![twin("d", "docker", &["--seed", "1"])]).await;
    let mut eval = Closures::new();
    eval.args("d.volume.data", |_| Ok(json!({"name": "data"})));
    let steps = vec![Step::new("d.volume.data", Action::Create, "d", "volume")];
    let (mut state, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert!(summary.ok(), "{summary:?}");
    let drivers = conns.drivers();
    let missing = import(
        &conns,
        &drivers,
        &mut state,
        "d.volume.x",
        "d",
        "volume",
        "nope",
    )
    .await
    .expect_err("no such volume");
    let id = state.resources["d.volume.data"].id.clone();
    let managed = import(
        &conns,
        &drivers,
        &mut state,
        "d.volume.data",
        "d",
        "volume",
        &id,
    )
    .await
    .expect_err("already managed");
    let errors = [missing, managed];
    assert_eq!(codes_of(&errors), ["E0611", "E0612"]);
    insta::assert_snapshot!("e0611_e0612", shown(&errors));
    conns.shutdown().await;
}

/// E0613: a transient failure that every retry meets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0613_a_transient_failure_that_persists() {
    let conns = connect_any(vec![twin("d", "docker", &["--fail-rate", "1"])]).await;
    let mut eval = Closures::new();
    eval.args("d.volume.a", |_| Ok(json!({"name": "a"})));
    let steps = vec![Step::new("d.volume.a", Action::Create, "d", "volume")];
    let (_, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert_eq!(codes_of(&summary.failed), ["E0613"]);
    insta::assert_snapshot!("e0613", shown(&summary.failed));
    conns.shutdown().await;
}

/// E0614: an update of something the state does not record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e0614_an_update_of_something_not_in_state() {
    let conns = connect_any(vec![twin("d", "docker", &["--seed", "1"])]).await;
    let mut eval = Closures::new();
    eval.args("d.volume.a", |_| Ok(json!({"name": "a"})));
    let steps = vec![Step::new("d.volume.a", Action::Update, "d", "volume")];
    let (_, summary) = run(&conns, &steps, &eval, &quick()).await;
    assert_eq!(codes_of(&summary.failed), [codes::E0614.as_str()]);
    insta::assert_snapshot!("e0614", shown(&summary.failed));
    conns.shutdown().await;
}
