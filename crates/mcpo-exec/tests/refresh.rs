//! Refresh, intent reconciliation after a crash, and import, against real twin servers.

mod common;

use common::*;
use mcpo_diagnostics::codes;
use mcpo_exec::{
    Action, ApplyOptions, Closures, Connections, RefreshOptions, Step, apply, import, refresh,
};
use mcpo_mcp::CallOptions;
use mcpo_state::{Intent, IntentOp, State};
use serde_json::{Value, json};
use std::sync::Arc;

async fn call(conns: &Connections, server: &str, tool: &str, args: Value) -> Value {
    conns
        .get(server)
        .expect("connected")
        .call_tool(tool, args, CallOptions::default())
        .await
        .expect("the call succeeds")
        .structured
        .unwrap_or_default()
}

fn create_intent(address: &str, server: &str, type_name: &str, args: Value) -> Intent {
    Intent {
        op: IntentOp::Create,
        address: address.into(),
        server: server.into(),
        type_name: type_name.into(),
        args,
        id: None,
    }
}

/// Attributes changed outside mcpo are reported (sensitive ones redacted) and the state
/// takes the live values; a resource deleted outside mcpo leaves the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_and_deletions_outside_mcpo() {
    let conns = connect(vec![twin("k", "kubernetes", &["--ready-delay-ms", "0"])]).await;
    let mut eval = Closures::new();
    eval.args("k.namespace.app", |_| Ok(json!({"name": "app"})));
    eval.args("k.namespace.gone", |_| Ok(json!({"name": "gone"})));
    eval.args("k.deployment.web", |_| {
        Ok(json!({"name": "web", "namespace": "app", "image": "nginx:1.27", "replicas": 2, "env": {"TOKEN": "s3cret"}}))
    });
    let mut web =
        Step::new("k.deployment.web", Action::Create, "k", "deployment").after(["k.namespace.app"]);
    web.sensitive = vec!["env".into()];
    let steps = vec![
        Step::new("k.namespace.app", Action::Create, "k", "namespace"),
        Step::new("k.namespace.gone", Action::Create, "k", "namespace"),
        web,
    ];
    let (mut state, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        Arc::new(mcpo_state::Discard),
        &ApplyOptions::default(),
    )
    .await;
    assert!(summary.ok(), "{summary:?}");
    call(
        &conns,
        "k",
        "deployment.update",
        json!({"id": "app/web", "image": "nginx:1.28", "replicas": 2, "env": {"TOKEN": "other"}}),
    )
    .await;
    call(&conns, "k", "namespace.delete", json!({"id": "gone"})).await;

    let report = refresh(
        &conns,
        &conns.drivers(),
        &mut state,
        &RefreshOptions::default(),
    )
    .await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.read, 3);
    assert_eq!(report.gone.len(), 1);
    assert_eq!(report.gone[0].address, "k.namespace.gone");
    assert!(!state.resources.contains_key("k.namespace.gone"));
    let drift: Vec<(String, String, String)> = report
        .drift
        .iter()
        .map(|d| (d.attribute.clone(), d.recorded.clone(), d.live.clone()))
        .collect();
    assert_eq!(
        drift,
        vec![
            ("env".into(), "(sensitive)".into(), "(sensitive)".into()),
            (
                "image".into(),
                "\"nginx:1.27\"".into(),
                "\"nginx:1.28\"".into()
            ),
        ]
    );
    assert!(report.drift.iter().all(|d| d.address == "k.deployment.web"));
    assert_eq!(
        state.resources["k.deployment.web"].inputs["image"],
        json!("nginx:1.28")
    );
    // A second refresh finds nothing new.
    let again = refresh(
        &conns,
        &conns.drivers(),
        &mut state,
        &RefreshOptions::default(),
    )
    .await;
    assert!(again.drift.is_empty() && again.gone.is_empty());
    conns.shutdown().await;
}

/// An apply that crashed after writing a create's intent and sending the create, before
/// recording the result: refresh finds the resource (`T.list`) and adopts it; an intent
/// whose create never happened is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_create_is_adopted_or_dropped() {
    let conns = connect(vec![twin("d", "docker", &[])]).await;
    // Already managed: a volume with the same labels must not be adopted twice.
    call(
        &conns,
        "d",
        "volume.create",
        json!({"name": "old", "labels": {"app": "x"}}),
    )
    .await;
    let mut state = State::new("t");
    state.resources.insert(
        "d.volume.old".into(),
        mcpo_state::ResourceState {
            server: "d".into(),
            type_name: "volume".into(),
            id: "old".into(),
            inputs: json!({"name": "old", "labels": {"app": "x"}}),
            outputs: json!({}),
            sensitive: vec![],
            deps: vec![],
            tainted: false,
        },
    );
    state.intents.push(create_intent(
        "d.volume.data",
        "d",
        "volume",
        json!({"name": "data", "labels": {"app": "x"}}),
    ));
    state.intents.push(create_intent(
        "d.volume.never",
        "d",
        "volume",
        json!({"name": "never"}),
    ));
    // The create was sent; its answer was lost with the crashed apply.
    call(
        &conns,
        "d",
        "volume.create",
        json!({"name": "data", "labels": {"app": "x"}}),
    )
    .await;

    let report = refresh(
        &conns,
        &conns.drivers(),
        &mut state,
        &RefreshOptions::default(),
    )
    .await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        report.adopted,
        vec![("d.volume.data".to_string(), "data".to_string())]
    );
    assert_eq!(report.resolved.len(), 1);
    assert_eq!(report.resolved[0].0, "d.volume.never");
    assert!(state.intents.is_empty());
    assert_eq!(state.resources["d.volume.data"].id, "data");
    assert!(!state.resources.contains_key("d.volume.never"));
    conns.shutdown().await;
}

/// Two unmanaged resources match a pending create: E0608, and the intent is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_pending_create_is_an_error() {
    let conns = connect(vec![twin("aws", "aws", &[])]).await;
    for _ in 0..2 {
        call(
            &conns,
            "aws",
            "vpc.create",
            json!({"cidr_block": "10.0.0.0/16"}),
        )
        .await;
    }
    let mut state = State::new("t");
    state.intents.push(create_intent(
        "aws.vpc.main",
        "aws",
        "vpc",
        json!({"cidr_block": "10.0.0.0/16"}),
    ));
    let report = refresh(
        &conns,
        &conns.drivers(),
        &mut state,
        &RefreshOptions::default(),
    )
    .await;
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].code, codes::E0608);
    assert!(report.errors[0].message.contains("matches 2 resources"));
    assert_eq!(state.intents.len(), 1);
    assert!(state.resources.is_empty());
    conns.shutdown().await;
}

/// A server that crashes in the middle of an apply: the steps on it fail with E0602, the
/// state written so far holds exactly what was created plus the intents of the calls in
/// flight, and a refresh against the restarted server settles them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_apply_keeps_the_state_true() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let twin_dir = dir.path().join("twin");
    let twin_dir_s = twin_dir.display().to_string();
    let conns = connect(vec![twin(
        "d",
        "docker",
        &["--state-dir", &twin_dir_s, "--crash-after", "3"],
    )])
    .await;
    let mut eval = Closures::new();
    let mut steps = Vec::new();
    for i in 0..6 {
        let a = format!("d.volume.v{i}");
        eval.args(&a, move |_| Ok(json!({ "name": format!("v{i}") })));
        steps.push(Step::new(&a, Action::Create, "d", "volume"));
    }
    let store = Arc::new(mcpo_state::LocalBackend::new(dir.path()));
    let options = ApplyOptions {
        parallelism: 1,
        ..ApplyOptions::default()
    };
    let (_, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("t"),
        store.clone(),
        &options,
    )
    .await;
    assert_eq!(summary.count(Action::Create), 3, "{summary:?}");
    assert_eq!(summary.failed.len(), 3);
    assert!(
        summary.failed.iter().all(|e| e.code == codes::E0602),
        "{:?}",
        summary.failed
    );
    conns.shutdown().await;

    let mut state = read_state(dir.path());
    assert_eq!(state.resources.len(), 3);
    assert_eq!(state.intents.len(), 3);
    let conns = connect(vec![twin("d", "docker", &["--state-dir", &twin_dir_s])]).await;
    let report = refresh(
        &conns,
        &conns.drivers(),
        &mut state,
        &RefreshOptions::default(),
    )
    .await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.read, 3);
    assert!(report.adopted.is_empty());
    assert_eq!(report.resolved.len(), 3);
    assert!(state.intents.is_empty());
    conns.shutdown().await;
}

/// Import reads the resource and records the attributes `T.create` takes as its inputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_records_the_live_resource() {
    let conns = connect(vec![twin("d", "docker", &[])]).await;
    call(
        &conns,
        "d",
        "volume.create",
        json!({"name": "data", "labels": {"a": "b"}}),
    )
    .await;
    let mut state = State::new("t");
    import(
        &conns,
        &conns.drivers(),
        &mut state,
        "d.volume.data",
        "d",
        "volume",
        "data",
    )
    .await
    .expect("imported");
    let r = &state.resources["d.volume.data"];
    assert_eq!(r.id, "data");
    assert_eq!(
        r.inputs,
        json!({"name": "data", "driver": "local", "labels": {"a": "b"}})
    );
    let again = import(
        &conns,
        &conns.drivers(),
        &mut state,
        "d.volume.data",
        "d",
        "volume",
        "data",
    )
    .await;
    assert_eq!(again.map_err(|e| e.code), Err(codes::E0612));
    let missing = import(
        &conns,
        &conns.drivers(),
        &mut state,
        "d.volume.nope",
        "d",
        "volume",
        "nope",
    )
    .await;
    assert_eq!(missing.map_err(|e| e.code), Err(codes::E0611));
    conns.shutdown().await;
}
