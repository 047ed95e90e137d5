//! Apply against real twin servers (the `mcpoc twin` binary over stdio): eager order,
//! per-server limits, failures that skip only dependents, retries, readiness waits,
//! rollback, crash recovery through intents, destroy.

mod common;

use common::*;
use mcpo_diagnostics::codes;
use mcpo_exec::{
    Action, ApplyOptions, Closures, Connections, RetryPolicy, Step, Summary, apply, get,
};
use mcpo_mcp::CallOptions;
use mcpo_state::State;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn volume(address: &str, server: &str) -> Step {
    Step::new(address, Action::Create, server, "volume")
}

fn opts(tx: Option<tokio::sync::mpsc::UnboundedSender<mcpo_exec::Event>>) -> ApplyOptions {
    ApplyOptions {
        retry: RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
        },
        poll_interval: Duration::from_millis(50),
        events: tx,
        ..ApplyOptions::default()
    }
}

async fn volume_names(conns: &Connections, server: &str) -> Vec<String> {
    // The twin may inject failures into this call too: try a few times.
    let mut out = None;
    for _ in 0..20 {
        if let Ok(o) = conns
            .get(server)
            .expect("connected")
            .call_tool("volume.list", json!({}), CallOptions::default())
            .await
        {
            out = Some(o);
            break;
        }
    }
    out.and_then(|o| o.structured)
        .and_then(|v| v.get("items").cloned())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.get("id").and_then(Value::as_str).map(String::from))
        .collect()
}

/// A slow branch does not hold back an independent one, and a child's arguments carry its
/// parent's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_order_and_values_flow() {
    let conns = connect(vec![
        twin("slow", "docker", &["--latency-ms", "600"]),
        twin("fast", "docker", &["--latency-ms", "20"]),
    ])
    .await;
    let mut eval = Closures::new();
    eval.args("slow.volume.a", |_| Ok(json!({"name": "a"})));
    eval.args("slow.volume.c", |v| {
        Ok(json!({"name": "c", "labels": {"parent": get(v, "slow.volume.a", "id")?}}))
    });
    eval.args("fast.volume.b1", |_| Ok(json!({"name": "b1"})));
    eval.args("fast.volume.b2", |v| {
        Ok(json!({"name": "b2", "labels": {"parent": get(v, "fast.volume.b1", "id")?}}))
    });
    eval.args("fast.volume.b3", |v| {
        Ok(json!({"name": "b3", "labels": {"parent": get(v, "fast.volume.b2", "mountpoint")?}}))
    });
    let steps = vec![
        volume("slow.volume.a", "slow"),
        volume("slow.volume.c", "slow").after(["slow.volume.a"]),
        volume("fast.volume.b1", "fast"),
        volume("fast.volume.b2", "fast").after(["fast.volume.b1"]),
        volume("fast.volume.b3", "fast").after(["fast.volume.b2"]),
    ];
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(mcpo_state::LocalBackend::new(dir.path()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (state, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        store.clone(),
        &opts(Some(tx)),
    )
    .await;
    assert!(summary.ok(), "{summary:?}");
    assert_eq!(summary.count(Action::Create), 5);
    let events = drain(&mut rx);
    let a_done = when(&events, "slow.volume.a", done).expect("the event happened");
    let b3_done = when(&events, "fast.volume.b3", done).expect("the event happened");
    assert!(b3_done < a_done, "the fast chain waited for the slow node");
    let c_started = when(&events, "slow.volume.c", started).expect("the event happened");
    assert!(c_started >= a_done);
    // Values flowed into the arguments, and the state file holds the same as memory.
    let b2 = &state.resources["fast.volume.b2"];
    assert_eq!(b2.inputs["labels"]["parent"], json!("b1"));
    assert_eq!(
        state.resources["fast.volume.b3"].outputs["labels"]["parent"],
        json!("/var/lib/docker/volumes/b2/_data")
    );
    assert_eq!(state.resources["slow.volume.c"].deps, vec!["slow.volume.a"]);
    assert!(state.intents.is_empty());
    assert_eq!(read_state(dir.path()).resources, state.resources);
    conns.shutdown().await;
}

/// A server's `max_concurrency` bounds the calls in flight to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_server_limit_is_respected() {
    let mut limited = twin("d", "docker", &["--latency-ms", "200"]);
    limited.max_concurrency = Some(2);
    let conns = connect(vec![limited]).await;
    let mut eval = Closures::new();
    let mut steps = Vec::new();
    for i in 0..6 {
        let a = format!("d.volume.v{i}");
        eval.args(&a, move |_| Ok(json!({ "name": format!("v{i}") })));
        steps.push(volume(&a, "d"));
    }
    let t0 = Instant::now();
    let (_, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::Discard),
        &opts(None),
    )
    .await;
    let wall = t0.elapsed();
    assert!(summary.ok(), "{summary:?}");
    // 6 calls of 200 ms, 2 at a time: three rounds.
    assert!(wall >= Duration::from_millis(590), "{wall:?}");
    assert!(wall < Duration::from_millis(1500), "{wall:?}");
    conns.shutdown().await;
}

/// A failed step skips its dependents (and theirs) and says which failure; independent
/// steps still run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_skips_only_dependents() {
    let conns = connect(vec![twin("d", "docker", &[])]).await;
    let mut eval = Closures::new();
    eval.args("d.volume.bad", |_| Ok(json!({"name": "-bad"})));
    eval.args("d.volume.child", |_| Ok(json!({"name": "child"})));
    eval.args("d.volume.grandchild", |_| Ok(json!({"name": "grandchild"})));
    eval.args("d.volume.other", |_| Ok(json!({"name": "other"})));
    let steps = vec![
        volume("d.volume.bad", "d"),
        volume("d.volume.child", "d").after(["d.volume.bad"]),
        volume("d.volume.grandchild", "d").after(["d.volume.child"]),
        volume("d.volume.other", "d"),
    ];
    let (state, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::Discard),
        &opts(None),
    )
    .await;
    assert_eq!(summary.failed.len(), 1);
    let e = &summary.failed[0];
    assert_eq!(e.code, codes::E0600);
    assert_eq!(e.address.as_deref(), Some("d.volume.bad"));
    assert!(e.message.contains("tool `volume.create`"), "{e}");
    assert_eq!(
        summary.skipped,
        vec![
            ("d.volume.child".to_string(), "d.volume.bad".to_string()),
            (
                "d.volume.grandchild".to_string(),
                "d.volume.bad".to_string()
            ),
        ]
    );
    assert_eq!(summary.count(Action::Create), 1);
    let shown: Vec<String> = summary.errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown[1..],
        [
            "error[E0606]: d.volume.child: skipped because d.volume.bad failed",
            "error[E0606]: d.volume.grandchild: skipped because d.volume.bad failed",
        ]
    );
    assert!(state.resources.contains_key("d.volume.other"));
    // The certain failure left no intent behind.
    assert!(state.intents.is_empty());
    assert_eq!(volume_names(&conns, "d").await, vec!["other"]);
    conns.shutdown().await;
}

/// Transient failures (`--fail-rate`) are retried with backoff until they pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_transient_failures() {
    let conns = connect(vec![twin(
        "d",
        "docker",
        &["--fail-rate", "0.3", "--seed", "7"],
    )])
    .await;
    let mut eval = Closures::new();
    let mut steps = Vec::new();
    for i in 0..12 {
        let a = format!("d.volume.v{i}");
        eval.args(&a, move |_| Ok(json!({ "name": format!("v{i}") })));
        steps.push(volume(&a, "d"));
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (state, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::Discard),
        &opts(Some(tx)),
    )
    .await;
    assert!(summary.ok(), "{summary:?}");
    assert_eq!(state.resources.len(), 12);
    let retries = drain(&mut rx)
        .into_iter()
        .filter(|e| matches!(&e.kind, mcpo_exec::EventKind::Retrying { error, .. } if error.contains("ServiceUnavailable")))
        .count();
    assert!(retries > 0, "no call was retried at a 30% failure rate");
    assert_eq!(volume_names(&conns, "d").await.len(), 12);
    conns.shutdown().await;
}

async fn list(conns: &Connections, tool: &str) -> Option<Value> {
    let c = conns.get("k").expect("connected");
    c.call_tool(tool, json!({}), CallOptions::default())
        .await
        .expect("the call succeeds")
        .structured
}

fn deployment_program(ready_timeout: Duration) -> (Vec<Step>, Closures) {
    let mut eval = Closures::new();
    eval.args("k.namespace.app", |_| Ok(json!({"name": "app"})));
    eval.args("k.deployment.web", |v| {
        Ok(json!({"name": "web", "namespace": get(v, "k.namespace.app", "id")?, "image": "nginx:1.27", "replicas": 2}))
    });
    eval.wait_for("k.deployment.web", ready_timeout, |cur, _| {
        Ok(cur.get("status") == Some(&json!("Available")))
    });
    let steps = vec![
        Step::new("k.namespace.app", Action::Create, "k", "namespace"),
        Step::new("k.deployment.web", Action::Create, "k", "deployment").after(["k.namespace.app"]),
    ];
    (steps, eval)
}

async fn wait_for_case(subscribe: bool) {
    let conns = connect(vec![twin("k", "kubernetes", &["--ready-delay-ms", "600"])]).await;
    assert!(conns.subscribable("k", "deployment"));
    let (steps, eval) = deployment_program(Duration::from_secs(20));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let options = ApplyOptions {
        subscribe,
        ..opts(Some(tx))
    };
    let t0 = Instant::now();
    let (state, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::Discard),
        &options,
    )
    .await;
    assert!(summary.ok(), "{summary:?}");
    assert!(t0.elapsed() >= Duration::from_millis(600));
    let web = &state.resources["k.deployment.web"];
    assert_eq!(web.outputs["status"], json!("Available"));
    assert!(!web.tainted);
    let events = drain(&mut rx);
    assert!(
        when(&events, "k.deployment.web", |k| matches!(
            k,
            mcpo_exec::EventKind::Waiting
        ))
        .is_some()
    );
    conns.shutdown().await;
}

/// `wait_for` through resource subscriptions (the twins offer them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_via_subscription() {
    wait_for_case(true).await;
}

/// `wait_for` by polling `T.read`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_via_polling() {
    wait_for_case(false).await;
}

/// A condition that does not hold in time fails the step (E0605) and taints the resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_timeout_taints() {
    let conns = connect(vec![twin(
        "k",
        "kubernetes",
        &["--ready-delay-ms", "60000"],
    )])
    .await;
    let (steps, eval) = deployment_program(Duration::from_millis(400));
    let (state, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::Discard),
        &opts(None),
    )
    .await;
    assert_eq!(summary.failed.len(), 1, "{summary:?}");
    assert_eq!(summary.failed[0].code, codes::E0605);
    assert!(state.resources["k.deployment.web"].tainted);
    conns.shutdown().await;
}

/// `--rollback-on-failure` deletes what this apply created and updates back what it
/// changed, leaving the twin as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_leaves_the_twin_as_before() {
    let conns = connect(vec![twin("k", "kubernetes", &["--ready-delay-ms", "0"])]).await;
    // Before: a namespace and a deployment with 1 replica, created by a first apply.
    let (first, mut eval) = deployment_program(Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(mcpo_state::LocalBackend::new(dir.path()));
    let (before, summary) = apply(
        &first,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        store.clone(),
        &opts(None),
    )
    .await;
    assert!(summary.ok(), "{summary:?}");
    let deployments_before = list(&conns, "deployment.list").await;
    let config_maps_before = list(&conns, "config_map.list").await;
    // Then: scale the deployment, create a config map, and fail on a bad second one.
    eval.args("k.deployment.web", |_| {
        Ok(json!({"name": "web", "namespace": "app", "image": "nginx:1.28", "replicas": 3}))
    });
    eval.args("k.config_map.a", |_| {
        Ok(json!({"name": "a", "namespace": "app", "data": {"k": "v"}}))
    });
    eval.args("k.config_map.bad", |_| {
        Ok(json!({"name": "b", "namespace": "missing", "data": {}}))
    });
    let second = vec![
        Step::new("k.deployment.web", Action::Update, "k", "deployment"),
        Step::new("k.config_map.a", Action::Create, "k", "config_map").after(["k.deployment.web"]),
        Step::new("k.config_map.bad", Action::Create, "k", "config_map").after(["k.config_map.a"]),
    ];
    let options = ApplyOptions {
        rollback_on_failure: true,
        ..opts(None)
    };
    let (after, summary) = apply(
        &second,
        &eval,
        &conns,
        &conns.drivers(),
        before.clone(),
        store.clone(),
        &options,
    )
    .await;
    assert_eq!(summary.failed.len(), 1, "{summary:?}");
    assert_eq!(
        summary.rolled_back,
        vec!["k.config_map.a", "k.deployment.web"]
    );
    assert!(summary.rollback_failed.is_empty(), "{summary:?}");
    assert_eq!(list(&conns, "config_map.list").await, config_maps_before);
    let now = list(&conns, "deployment.list")
        .await
        .expect("the call succeeds");
    let was = deployments_before.expect("the event happened");
    for key in ["image", "replicas", "id"] {
        assert_eq!(now["items"][0][key], was["items"][0][key], "{key}");
    }
    assert_eq!(
        after.resources.keys().collect::<Vec<_>>(),
        before.resources.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        after.resources["k.deployment.web"].inputs,
        before.resources["k.deployment.web"].inputs
    );
    assert_eq!(read_state(dir.path()).resources, after.resources);
    conns.shutdown().await;
}

/// Deletes run in the order their steps give (a namespace after its deployment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_in_reverse_dependency_order() {
    let conns = connect(vec![twin("k", "kubernetes", &["--ready-delay-ms", "0"])]).await;
    let (steps, eval) = deployment_program(Duration::from_secs(5));
    let (state, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::Discard),
        &opts(None),
    )
    .await;
    assert!(summary.ok(), "{summary:?}");
    // The plan orders deletes; here the namespace waits for the deployment inside it.
    let destroy: Vec<Step> = state
        .resources
        .iter()
        .map(|(a, r)| {
            let mut s = Step::new(a.clone(), Action::Delete, &r.server, &r.type_name);
            s.id = Some(r.id.clone());
            if a == "k.namespace.app" {
                s = s.after(["k.deployment.web"]);
            }
            s
        })
        .collect();
    assert_eq!(destroy.len(), 2);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (state, summary): (State, Summary) = apply(
        &destroy,
        &eval,
        &conns,
        &conns.drivers(),
        state,
        Arc::new(mcpo_state::Discard),
        &opts(Some(tx)),
    )
    .await;
    assert!(summary.ok(), "{summary:?}");
    assert_eq!(summary.count(Action::Delete), 2);
    assert!(state.resources.is_empty());
    let events = drain(&mut rx);
    let ns = when(&events, "k.namespace.app", started).expect("the event happened");
    let web = when(&events, "k.deployment.web", done).expect("the event happened");
    assert!(web <= ns);
    conns.shutdown().await;
}

/// A create that gets no answer is not retried (it may have happened): E0603, and its
/// intent stays in the durable state for refresh to settle; other steps go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_create_keeps_its_intent() {
    let mut hanging = twin("h", "docker", &["--hang-tool", "volume.create"]);
    hanging.timeout = Some(Duration::from_millis(300));
    let conns = connect(vec![hanging, twin("d", "docker", &[])]).await;
    let mut eval = Closures::new();
    eval.args("h.volume.x", |_| Ok(json!({"name": "x"})));
    eval.args("d.volume.y", |_| Ok(json!({"name": "y"})));
    let steps = vec![volume("h.volume.x", "h"), volume("d.volume.y", "d")];
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(mcpo_state::LocalBackend::new(dir.path()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (_, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        store.clone(),
        &opts(Some(tx)),
    )
    .await;
    assert_eq!(summary.failed.len(), 1, "{summary:?}");
    let e = &summary.failed[0];
    assert_eq!(e.code, codes::E0603);
    assert!(
        e.help.as_deref().is_some_and(|h| h.contains("refresh")),
        "{e}"
    );
    assert_eq!(summary.count(Action::Create), 1);
    let retried = drain(&mut rx)
        .iter()
        .any(|e| matches!(e.kind, mcpo_exec::EventKind::Retrying { .. }));
    assert!(!retried, "a non-idempotent create was retried");
    let saved = read_state(dir.path());
    assert_eq!(saved.intents.len(), 1);
    assert_eq!(saved.intents[0].address, "h.volume.x");
    assert!(saved.resources.contains_key("d.volume.y"));
    conns.shutdown().await;
}
