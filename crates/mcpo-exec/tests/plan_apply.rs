//! A real workspace end to end: `mcpo_plan::plan` against an empty state, `apply` of that
//! plan through `PlanEvaluator` on the twins (ids flow from the VPC into the subnet, the
//! deployment waits for readiness), outputs recorded, and planning again shows nothing to
//! do.

mod common;

use common::*;
use mcpo_exec::{ApplyOptions, PlanEvaluator, apply, steps_of};
use mcpo_plan::{Io, PlanInputs, PlanMode};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use mcpo_state::State;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const SOURCE: &str = r#"
resource "aws.vpc" "main" {
  cidr_block = "10.0.0.0/16"
  name       = "store"
}

resource "aws.vpc_subnet" "app" {
  vpc_id            = aws.vpc.main.id
  cidr_block        = "10.0.1.0/24"
  availability_zone = "us-east-1a"
}

resource "kubernetes.namespace" "app" {
  name = "store"
}

resource "kubernetes.deployment" "web" {
  name      = "web"
  namespace = kubernetes.namespace.app.id
  image     = "nginx:1.27"
  replicas  = 2
  wait_for {
    condition = self.status == "Available"
    timeout   = "20s"
  }
}

output "subnet" {
  value = aws.vpc_subnet.app.id
}
"#;

struct NoIo;

impl Io for NoIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        Err(format!("{path}: no files in this test"))
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("{path}: no files in this test"))
    }
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
    fn now_rfc3339(&self) -> String {
        "2026-11-24T12:00:00Z".into()
    }
}

fn plan(state: &State) -> (mcpo_plan::Program, mcpo_plan::Plan) {
    let db = Database::default();
    let mut sources = mcpo_diagnostics::Sources::new();
    let id = sources.add("main.mcpo", SOURCE);
    let file = SourceFile::new(&db, id, "main.mcpo".to_string(), SOURCE.to_string());
    let schema_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/check/.mcpo/schemas");
    let schemas = ["aws", "kubernetes"]
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(schema_dir.join(format!("{s}.json")))
                .expect("the twins' pulled schemas");
            SchemaFile::new(&db, s.to_string(), format!(".mcpo/schemas/{s}.json"), text)
        })
        .collect();
    let ws = Workspace::new(&db, vec![file], schemas);
    let inputs = PlanInputs {
        variables: BTreeMap::new(),
        state,
        reader: None,
        io: &NoIo,
        mode: PlanMode::Normal,
        sources: Vec::new(),
    };
    match mcpo_plan::plan(&db, ws, &inputs) {
        Ok(p) => p,
        Err(diags) => panic!("the workspace does not plan: {diags:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_apply_plan_again_is_empty() {
    let conns = connect(vec![
        twin("aws", "aws", &[]),
        twin("kubernetes", "kubernetes", &["--ready-delay-ms", "300"]),
    ])
    .await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(mcpo_state::LocalBackend::new(dir.path()));
    let state = State::new("t");
    let (program, the_plan) = plan(&state);
    assert_eq!(the_plan.counts().values().sum::<usize>(), 4, "{the_plan:?}");
    let eval = PlanEvaluator::new(&program, &the_plan, &NoIo);
    let (state, summary) = apply(
        &steps_of(&the_plan),
        &eval,
        &conns,
        program.drivers(),
        state,
        store.clone(),
        &ApplyOptions::default(),
    )
    .await;
    assert!(summary.ok(), "{:?}", summary.errors());
    let vpc = &state.resources["aws.vpc.main"];
    let subnet = &state.resources["aws.vpc_subnet.app"];
    assert_eq!(subnet.inputs["vpc_id"], json!(vpc.id));
    assert_eq!(
        state.resources["kubernetes.deployment.web"].outputs["status"],
        json!("Available")
    );
    assert_eq!(state.outputs["subnet"].value, json!(subnet.id));
    let saved = read_state(dir.path());
    assert_eq!(saved.resources, state.resources);

    let (_, again) = plan(&saved);
    assert!(!again.has_changes(), "{:?}", again.counts());
    conns.shutdown().await;
}
