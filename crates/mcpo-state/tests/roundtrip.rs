//! Reading and writing the local state: a fresh workspace, round trips, serials, history
//! and its pruning, versions, conflicts, and the helpers `rm` and `redacted`.

mod support;

use mcpo_state::{
    Backend, HISTORY_KEPT, Intent, IntentOp, LocalBackend, OutputState, REDACTED, State, StateError,
};
use serde_json::json;
use support::{resource, state_with};

#[test]
fn a_fresh_workspace_has_an_empty_state_with_a_random_lineage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = LocalBackend::new(dir.path()).read().expect("read");
    let b = LocalBackend::new(dir.path()).read().expect("read");
    assert_eq!(a.serial, 0);
    assert!(a.resources.is_empty() && a.intents.is_empty());
    assert_eq!(a.lineage.len(), 36, "{}", a.lineage);
    assert_eq!(a.lineage.matches('-').count(), 4, "{}", a.lineage);
    assert_eq!(
        a.lineage.chars().nth(14),
        Some('4'),
        "a v4 UUID: {}",
        a.lineage
    );
    assert_ne!(a.lineage, b.lineage);
    assert!(
        !dir.path().join(".mcpo").exists(),
        "reading creates nothing"
    );
}

#[test]
fn what_is_written_is_read_back_and_the_serial_grows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path());
    let mut state = state_with(backend.read().expect("read"), 3);
    state.outputs.insert(
        "ip".into(),
        OutputState {
            value: json!("10.0.0.4"),
            sensitive: false,
        },
    );
    state.intents.push(Intent {
        op: IntentOp::Create,
        address: "aws.vpc.new".into(),
        server: "aws".into(),
        type_name: "vpc".into(),
        args: json!({"cidr_block": "10.9.0.0/16"}),
        id: None,
    });
    backend.write(&mut state).expect("write");
    assert_eq!(state.serial, 1);
    backend.write(&mut state).expect("write");
    assert_eq!(state.serial, 2);

    let again = LocalBackend::new(dir.path()).read().expect("read");
    assert_eq!(again, state);
    let path = backend.state_path();
    assert!(path.ends_with(".mcpo/state/state.json"));
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("state file")).expect("json");
    assert_eq!(on_disk["serial"], 2);
    assert_eq!(on_disk["version"], 1);
    assert_eq!(on_disk["resources"]["aws.vpc.v[1]"]["id"], "vpc-1");
    assert!(
        !dir.path().join(".mcpo/state/.state.json.tmp").exists(),
        "no temporary file is left"
    );
}

#[test]
fn history_keeps_the_replaced_versions_and_prunes_the_oldest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::new(dir.path());
    let mut state = backend.read().expect("read");
    for k in 0..(HISTORY_KEPT + 10) {
        state
            .resources
            .insert(format!("aws.vpc.v[{k}]"), resource(k));
        backend.write(&mut state).expect("write");
    }
    // Serials 1..=60 were written; 60 is current, 1..=59 were replaced, the last 50 kept.
    let last = state.serial;
    assert_eq!(last, 60);
    let history = backend.history().expect("history");
    let expected: Vec<u64> = (last - HISTORY_KEPT as u64..last).collect();
    assert_eq!(history, expected);

    let old = backend.read_version(20).expect("version 20");
    assert_eq!(old.serial, 20);
    assert_eq!(old.resources.len(), 20);
    assert_eq!(backend.read_version(last).expect("current").serial, last);
    match backend.read_version(3) {
        Err(e @ StateError::NoSuchVersion { .. }) => assert_eq!(
            e.to_string(),
            "no version 3 of the state is kept; the history holds 50 versions, 10 to 59"
        ),
        other => panic!("expected NoSuchVersion, got {other:?}"),
    }
}

#[test]
fn a_stale_state_is_not_written_over_a_newer_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = LocalBackend::new(dir.path());
    let mut first = one.read().expect("read");
    one.write(&mut first).expect("write");

    let two = LocalBackend::new(dir.path());
    let mut stale = two.read().expect("read");
    one.write(&mut first).expect("the first writer goes on");

    let err = two.write(&mut stale).expect_err("the stale one is refused");
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
    assert_eq!(err.code().as_str(), "E0507");
    assert_eq!(stale.serial, 1, "a failed write leaves the serial alone");
    assert_eq!(LocalBackend::new(dir.path()).read().expect("read"), first);

    // A fresh state (another lineage) is refused too, even by a backend that never read.
    let mut other = State::new("another-lineage");
    let err = LocalBackend::new(dir.path())
        .write(&mut other)
        .expect_err("not this workspace's lineage");
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
}

#[test]
fn rm_forgets_a_resource_its_instances_and_a_module() {
    let mut state = State::new("l");
    for a in [
        "aws.vpc.main",
        "aws.vpc.main2",
        "aws.vpc.web[0]",
        "aws.vpc.web[\"a\"]",
        "aws.vpc.webby",
        "module.shop.aws.vpc.main",
        "module.shop.aws.vpc.web[1]",
        "module.shopping.aws.vpc.main",
    ] {
        state.resources.insert(a.into(), resource(0));
    }
    state.intents.push(Intent {
        op: IntentOp::Create,
        address: "aws.vpc.web[2]".into(),
        server: "aws".into(),
        type_name: "vpc".into(),
        args: json!({}),
        id: None,
    });
    let names = |v: Vec<(String, _)>| v.into_iter().map(|(a, _)| a).collect::<Vec<_>>();
    assert_eq!(names(state.rm("aws.vpc.main")), ["aws.vpc.main"]);
    assert_eq!(
        names(state.rm("aws.vpc.web")),
        ["aws.vpc.web[\"a\"]", "aws.vpc.web[0]"]
    );
    assert!(state.intents.is_empty(), "the intent under it is dropped");
    assert_eq!(
        names(state.rm("module.shop")),
        ["module.shop.aws.vpc.main", "module.shop.aws.vpc.web[1]"]
    );
    assert!(state.rm("aws.vpc.nothing").is_empty());
    let left: Vec<&String> = state.resources.keys().collect();
    assert_eq!(
        left,
        [
            "aws.vpc.main2",
            "aws.vpc.webby",
            "module.shopping.aws.vpc.main"
        ]
    );
}

#[test]
fn redacted_hides_sensitive_attributes_in_inputs_and_outputs() {
    let mut r = resource(1);
    r.inputs = json!({ "master_password": "hunter22", "identifier": "db" });
    r.outputs = json!({ "master_password": "hunter22", "endpoint": "db:5432", "token": "t0k" });
    r.sensitive = vec!["master_password".into(), "token".into()];
    let shown = r.redacted();
    assert_eq!(shown["inputs"]["master_password"], REDACTED);
    assert_eq!(shown["inputs"]["identifier"], "db");
    assert_eq!(shown["outputs"]["master_password"], REDACTED);
    assert_eq!(shown["outputs"]["token"], REDACTED);
    assert_eq!(shown["outputs"]["endpoint"], "db:5432");
    assert!(!shown.to_string().contains("hunter22"));
    assert_eq!(
        r.inputs["master_password"], "hunter22",
        "the original is unchanged"
    );

    let secret = OutputState {
        value: json!("s3cret"),
        sensitive: true,
    };
    assert_eq!(secret.redacted(), json!(REDACTED));
}
