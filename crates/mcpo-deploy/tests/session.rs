//! The deployment session driven through the library alone, as a front end other than the
//! CLI would: pull, check, plan, approve, apply, destroy against real twin servers (the
//! `mcpoc` binary of this build, over stdio), with the local state backend.
//!
//! - an approver that says no changes nothing;
//! - a run cancelled in the middle leaves a true state and lists the steps it never
//!   started;
//! - the steps a destroy runs are exactly the steps of the plan that was approved.

use mcpo_deploy::pull;
use mcpo_deploy::{
    Applied, Approval, ApprovalRequest, Approver, DeployError, Execution, Planned, Session,
};
use mcpo_exec::{Action, CancellationToken, Event, EventKind};
use mcpo_plan::{Plan, PlanMode};
use mcpo_state::Backend;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The `mcpoc` binary built for this test run (it runs the twins).
fn mcpoc() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = target.join("debug/mcpoc");
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo test --workspace` does)",
        path.display()
    );
    path
}

/// A workspace with an AWS twin answering every call after `latency_ms`: a VPC and two
/// subnets in it (which wait for the VPC), and an output.
fn workspace(latency_ms: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = format!(
        r#"server "aws" {{
  command = "{}"
  args    = ["twin", "aws", "--state-dir", ".mcpo/twins/aws", "--latency-ms", "{latency_ms}"]
}}

resource "aws.vpc" "main" {{
  cidr_block = "10.0.0.0/16"
  name       = "library"
}}

resource "aws.vpc_subnet" "tier" {{
  count             = 2
  vpc_id            = aws.vpc.main.id
  cidr_block        = cidrsubnet(aws.vpc.main.cidr_block, 8, count.index)
  availability_zone = "us-east-1a"
}}

output "vpc" {{
  value = aws.vpc.main.id
}}
"#,
        mcpoc().display()
    );
    std::fs::write(dir.path().join("main.mcpo"), text).expect("write main.mcpo");
    dir
}

/// `mcpoc schema pull`, through the library.
async fn pull_schemas(root: &Path) {
    let set = pull::server_set(root, false).expect("the workspace's servers");
    let report = pull::pull(root, &set, &[], Duration::from_secs(60))
        .await
        .expect("pull");
    assert!(report.ok(), "{:?}", report.errors);
    assert_eq!(report.pulled.len(), 1);
}

/// Loads and checks the workspace and opens a session on its local state.
fn open(root: &Path) -> Session {
    let checked = match mcpo_deploy::load::load(root) {
        Ok(c) => c,
        Err(DeployError::Diagnostics { diagnostics, .. }) => {
            panic!("the workspace does not check: {diagnostics:?}")
        }
        Err(e) => panic!("{e:?}"),
    };
    Session::open(
        checked,
        BTreeMap::new(),
        Session::local_backend(root),
        "library test",
    )
    .expect("the session opens")
}

/// Says `answer` and remembers every plan it was shown.
struct Recorder {
    answer: Approval,
    shown: Mutex<Vec<Plan>>,
}

impl Recorder {
    fn new(answer: Approval) -> Recorder {
        Recorder {
            answer,
            shown: Mutex::new(Vec::new()),
        }
    }

    fn asked(&self) -> usize {
        self.shown.lock().map_or(0, |s| s.len())
    }
}

impl Approver for Recorder {
    fn approve<'a>(
        &'a self,
        request: ApprovalRequest<'a>,
    ) -> mcpo_deploy::approve::BoxFuture<'a, Approval> {
        if let Ok(mut shown) = self.shown.lock() {
            shown.push(request.plan.clone());
        }
        let answer = self.answer.clone();
        Box::pin(async move { answer })
    }
}

async fn refreshed_plan(s: &mut Session, mode: PlanMode) -> Planned {
    s.connect().await;
    let report = s.refresh().await.expect("refresh");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    match s.plan(mode).await {
        Ok(p) => p,
        Err(e) => panic!("{e:?}"),
    }
}

/// The addresses of the steps that started, from the executor's events.
fn started(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    while let Ok(e) = rx.try_recv() {
        if matches!(e.kind, EventKind::Started { .. }) {
            out.insert(e.address);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_plan_approve_apply_then_destroy_exactly_what_was_approved() {
    let ws = workspace(0);
    let root = ws.path();
    pull_schemas(root).await;

    let mut s = open(root);
    let planned = refreshed_plan(&mut s, PlanMode::Normal).await;
    assert_eq!(planned.plan.counts().get(&Action::Create), Some(&3));
    let yes = Recorder::new(Approval::Approved);
    let applied = s
        .apply(
            &planned,
            &Execution::default(),
            &yes,
            None,
            CancellationToken::new(),
        )
        .await
        .expect("apply");
    let Applied::Ran(summary) = applied else {
        panic!("expected a run, got {applied:?}")
    };
    assert!(summary.ok(), "{:?}", summary.errors());
    assert_eq!(yes.asked(), 1, "asked once, with the plan that ran");
    assert_eq!(s.state().resources.len(), 3);
    let vpc_id = s.state().resources["aws.vpc.main"].id.clone();
    assert_eq!(s.state().outputs["vpc"].value, serde_json::json!(vpc_id));
    s.close().await;

    // A second session plans nothing, and is not asked anything.
    let mut s = open(root);
    let planned = refreshed_plan(&mut s, PlanMode::Normal).await;
    assert!(
        !planned.plan.has_changes(),
        "{planned:?}",
        planned = planned.plan
    );
    let asked = Recorder::new(Approval::Approved);
    let applied = s
        .apply(
            &planned,
            &Execution::default(),
            &asked,
            None,
            CancellationToken::new(),
        )
        .await
        .expect("apply");
    assert_eq!(applied, Applied::NoChanges);
    assert_eq!(asked.asked(), 0);

    // Destroy: the steps that run are the steps of the approved plan.
    let destroy = s.plan(PlanMode::Destroy).await.expect("destroy plan");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let yes = Recorder::new(Approval::Approved);
    let applied = s
        .apply(
            &destroy,
            &Execution::default(),
            &yes,
            Some(tx),
            CancellationToken::new(),
        )
        .await
        .expect("destroy");
    let Applied::Ran(summary) = applied else {
        panic!("expected a run, got {applied:?}")
    };
    assert!(summary.ok(), "{:?}", summary.errors());
    let approved: BTreeSet<String> = yes.shown.lock().expect("lock")[0]
        .actions()
        .map(|c| c.address.clone())
        .collect();
    assert_eq!(approved.len(), 3);
    assert_eq!(started(&mut rx), approved, "ran exactly what was approved");
    assert!(s.state().resources.is_empty());
    assert!(s.state().outputs.is_empty());
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_that_says_no_changes_nothing() {
    let ws = workspace(0);
    let root = ws.path();
    pull_schemas(root).await;
    let mut s = open(root);
    let planned = refreshed_plan(&mut s, PlanMode::Normal).await;
    let serial = s.state().serial;
    let no = Recorder::new(Approval::Declined);
    let applied = s
        .apply(
            &planned,
            &Execution::default(),
            &no,
            None,
            CancellationToken::new(),
        )
        .await
        .expect("apply");
    assert_eq!(applied, Applied::Declined);
    assert_eq!(no.asked(), 1);
    assert_eq!(s.state().serial, serial);
    assert!(s.state().resources.is_empty());
    s.close().await;
    // Nothing exists on the server either: a new plan creates all three again.
    let mut s = open(root);
    let planned = refreshed_plan(&mut s, PlanMode::Normal).await;
    assert_eq!(planned.plan.counts().get(&Action::Create), Some(&3));
    let on_disk = mcpo_state::LocalBackend::new(root).read().expect("state");
    assert!(on_disk.resources.is_empty() && on_disk.intents.is_empty());
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_apply_leaves_a_true_state_and_lists_what_never_started() {
    // Every call takes 600 ms: the VPC is in flight when the run is cancelled.
    let ws = workspace(600);
    let root = ws.path();
    pull_schemas(root).await;
    let mut s = open(root);
    let planned = refreshed_plan(&mut s, PlanMode::Normal).await;
    let cancel = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let stop = cancel.clone();
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(e) = rx.recv().await {
            if matches!(e.kind, EventKind::Started { .. }) && e.address == "aws.vpc.main" {
                stop.cancel();
            }
            seen.push(e);
        }
        seen
    });
    let yes = Recorder::new(Approval::Approved);
    let applied = s
        .apply(&planned, &Execution::default(), &yes, Some(tx), cancel)
        .await
        .expect("apply");
    let Applied::Ran(summary) = applied else {
        panic!("expected a run, got {applied:?}")
    };
    let events = watcher.await.expect("the watcher ends with the run");
    assert!(summary.cancelled, "{summary:?}");
    assert_eq!(
        summary.count(Action::Create),
        1,
        "the call in flight finished"
    );
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(
        summary.not_started,
        ["aws.vpc_subnet.tier[0]", "aws.vpc_subnet.tier[1]"]
    );
    assert!(
        !events
            .iter()
            .any(|e| e.address.starts_with("aws.vpc_subnet")),
        "nothing started after the cancellation: {events:?}"
    );
    // The state on disk is true: the VPC with its id, no intent left.
    let on_disk = mcpo_state::LocalBackend::new(root).read().expect("state");
    assert_eq!(
        on_disk.resources.keys().collect::<Vec<_>>(),
        ["aws.vpc.main"]
    );
    assert!(on_disk.intents.is_empty(), "{:?}", on_disk.intents);
    s.close().await;
    // The next plan does exactly what is left.
    let mut s = open(root);
    let planned = refreshed_plan(&mut s, PlanMode::Normal).await;
    let creates: Vec<&str> = planned
        .plan
        .actions()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.address.as_str())
        .collect();
    assert_eq!(
        creates,
        ["aws.vpc_subnet.tier[0]", "aws.vpc_subnet.tier[1]"]
    );
    s.close().await;
}
