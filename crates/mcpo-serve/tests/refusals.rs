//! What `serve` refuses, as a person reads it: an unknown plan id (E0638), a declined
//! approval (E0639), a plan made before the workspace changed (E0640), a stale state
//! (E0631), a request state no runbook run waits on (E0642). The workspace here needs no
//! server: planning outputs calls nothing.

use mcpo_deploy::approve::BoxFuture;
use mcpo_deploy::{Approval, ApprovalRequest, Approver};
use mcpo_serve::ops::{Prepared, Workspace};
use mcpo_serve::{ApproveArgs, approve};
use std::path::Path;

const MAIN: &str = "variable \"greeting\" {\n  type    = string\n  default = \"hello\"\n}\n\noutput \"greeting\" {\n  value = var.greeting\n}\n";

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("main.mcpo"), MAIN).expect("write main.mcpo");
    dir
}

/// The failure's text with the (random) plan id replaced.
fn shown(text: &str, id: &str) -> String {
    text.replace(id, "<plan id>")
}

struct Says(Approval);

impl Approver for Says {
    fn approve<'a>(&'a self, _request: ApprovalRequest<'a>) -> BoxFuture<'a, Approval> {
        let answer = self.0.clone();
        Box::pin(async move { answer })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn an_unknown_plan_id_is_e0638() {
    let dir = workspace();
    let ws = Workspace::new(dir.path().to_path_buf());
    for id in ["0123456789ab", "../../etc/passwd"] {
        let Err(fail) = ws.prepare(id) else {
            panic!("{id} is no plan")
        };
        assert_eq!(fail.error.error.code.as_deref(), Some("E0638"));
    }
    let Err(fail) = ws.prepare("0123456789ab") else {
        panic!("no plan")
    };
    insta::assert_snapshot!(fail.text);
}

#[test]
fn a_plan_is_refused_once_the_workspace_or_the_state_moved_on() {
    let dir = workspace();
    let root = dir.path().to_path_buf();
    let ws = Workspace::new(root.clone());
    let rt = runtime();
    let changed = MAIN.replace("hello", "bonjour");
    let plan = rt
        .block_on(ws.plan_source(changed.clone(), None, "test"))
        .unwrap_or_else(|f| panic!("plan: {}", f.text));
    assert_eq!(plan.file.as_deref(), Some("main.mcpo"));
    assert!(plan.has_changes, "the output changes");
    assert!(matches!(ws.prepare(&plan.plan_id), Ok(Prepared::Ready(_))));
    // A person edits a file after the plan was made.
    std::fs::write(root.join("other.mcpo"), "# notes\n").expect("write");
    let Err(fail) = ws.prepare(&plan.plan_id) else {
        panic!("the workspace changed")
    };
    insta::assert_snapshot!(shown(&fail.text, &plan.plan_id));
    std::fs::remove_file(root.join("other.mcpo")).expect("remove");

    let Ok(Prepared::Ready(stored)) = ws.prepare(&plan.plan_id) else {
        panic!("ready")
    };
    let out = rt
        .block_on(ws.run(*stored, "terminal", "test"))
        .unwrap_or_else(|f| panic!("run: {}", f.text));
    assert_eq!(out.outcome, "applied");
    assert_eq!(
        std::fs::read_to_string(root.join("main.mcpo")).expect("read"),
        changed
    );
    assert_eq!(
        out.outputs.get("greeting"),
        Some(&serde_json::json!("bonjour"))
    );
    let Ok(Prepared::Done(again)) = ws.prepare(&plan.plan_id) else {
        panic!("a second apply does nothing")
    };
    assert_eq!(again.outcome, "already applied");
    // Two plans of the same files: applying one (a destroy) makes the other stale.
    let second = rt
        .block_on(ws.plan_source(changed.clone(), None, "test"))
        .unwrap_or_else(|f| panic!("plan: {}", f.text));
    let destroy = rt
        .block_on(ws.plan_destroy("test"))
        .unwrap_or_else(|f| panic!("plan: {}", f.text));
    let Ok(Prepared::Ready(stored)) = ws.prepare(&destroy.plan_id) else {
        panic!("ready")
    };
    rt.block_on(ws.run(*stored, "terminal", "test"))
        .unwrap_or_else(|f| panic!("run: {}", f.text));
    let Err(fail) = ws.prepare(&second.plan_id) else {
        panic!("stale")
    };
    assert_eq!(fail.error.error.code.as_deref(), Some("E0631"));
    insta::assert_snapshot!(fail.text);
}

#[test]
fn approve_in_a_terminal_records_a_yes_for_that_plan_only() {
    let dir = workspace();
    let root = dir.path().to_path_buf();
    let ws = Workspace::new(root.clone());
    let rt = runtime();
    let a = rt
        .block_on(ws.plan_source(MAIN.replace("hello", "hi"), None, "test"))
        .unwrap_or_else(|f| panic!("plan: {}", f.text));
    let b = rt
        .block_on(ws.plan_source(MAIN.replace("hello", "hey"), None, "test"))
        .unwrap_or_else(|f| panic!("plan: {}", f.text));
    let args = |id: &str| ApproveArgs {
        plan_id: Some(id.to_string()),
        dir: Some(root.clone()),
    };
    let declined = rt
        .block_on(approve(&args(&a.plan_id), &Says(Approval::Declined)))
        .expect_err("declined");
    insta::assert_snapshot!(shown(&mcpo_deploy::render::problem(&declined), &a.plan_id));
    let store = ws.store();
    let load = |id: &str| store.load(id).expect("stored");
    assert!(store.approval(&load(&a.plan_id)).is_none());
    rt.block_on(approve(&args(&a.plan_id), &Says(Approval::Approved)))
        .expect("approved");
    assert!(store.approval(&load(&a.plan_id)).is_some());
    assert!(store.approval(&load(&b.plan_id)).is_none());
    // An approval names the plan's digest: a plan file changed afterwards is not approved.
    let mut edited = load(&a.plan_id);
    edited.request = "something else".into();
    edited.plan.serial += 1;
    assert!(store.approval(&edited).is_none());
    let listed = rt
        .block_on(approve(
            &ApproveArgs {
                plan_id: None,
                dir: Some(root.clone()),
            },
            &Says(Approval::Declined),
        ))
        .expect("list");
    let mcpo_serve::Approved::Waiting(lines) = listed else {
        panic!("a listing")
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(Path::new(&root).join(".mcpo/serve/plans").is_dir());
}

/// A proposed source may not add, change or remove a `server` block (planning starts the
/// workspace's servers, so the model's block would run before anyone approved anything),
/// nor the `backend` block (the state would be read and written elsewhere).
#[test]
fn a_proposed_source_that_changes_the_servers_is_e0641_and_starts_nothing() {
    let dir = workspace();
    let root = dir.path().to_path_buf();
    // A server block whose process leaves a mark when it starts.
    let block = |marker: &str| {
        format!(
            "server \"shell\" {{\n  command = \"sh\"\n  args    = [\"-c\", \"touch {marker}\"]\n}}\n"
        )
    };
    std::fs::write(root.join("servers.mcpo"), block("person-ran")).expect("write servers.mcpo");
    let ws = Workspace::new(root.clone());
    let rt = runtime();
    let refused = |source: String, file: &str| {
        let Err(fail) = rt.block_on(ws.plan_source(source, Some(file), "test")) else {
            panic!("a plan that changes the servers of `{file}` is refused")
        };
        assert_eq!(
            fail.error.error.code.as_deref(),
            Some("E0641"),
            "{}",
            fail.text
        );
        fail.text
    };
    let added = format!(
        "{MAIN}\nserver \"other\" {{\n  command = \"sh\"\n  args    = [\"-c\", \"touch model-ran\"]\n}}\n"
    );
    let changed = block("model-ran");
    let backend =
        format!("{MAIN}\nbackend \"postgres\" {{\n  url = \"postgresql://db.example/state\"\n}}\n");
    let texts = [
        refused(added, "main.mcpo"),
        refused(changed, "servers.mcpo"),
        refused("# no servers\n".into(), "servers.mcpo"),
        refused(backend, "main.mcpo"),
    ];
    insta::assert_snapshot!(texts.join("\n"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !root.join("model-ran").exists(),
        "the model's server never started"
    );
    assert!(
        !root.join("person-ran").exists(),
        "nothing was planned, so no server started"
    );
    assert!(ws.store().pending().is_empty(), "no plan was kept");
}

/// A run parked on its question for a 2026-07-28 client: answered, it goes on; unanswered
/// past the approval timeout, it is cancelled and its request state is E0642, saying what
/// happened and how to go on in a terminal; a request state no run waits on is E0642.
#[test]
fn an_unanswered_question_expires_and_its_request_state_is_e0642() {
    use mcpo_serve::parked::{Parked, Relay, Runs, Turn};
    use std::sync::Arc;
    use std::time::Duration;
    let rt = runtime();
    rt.block_on(async {
        let runs = Arc::new(Runs::new(Duration::from_millis(300)));
        let (tx, mut turns) = tokio::sync::mpsc::unbounded_channel();
        let cancel = mcpo_exec::CancellationToken::new();
        let relay = Arc::new(Relay {
            runs: Arc::clone(&runs),
            turns: tx,
            cancel: cancel.clone(),
            runbook: "failover".into(),
            command: "mcpoc run failover --param 'region=us-west-2'".into(),
            asked: Default::default(),
        });
        let plan = mcpo_plan::Plan {
            format_version: mcpo_plan::plan::PLAN_FORMAT_VERSION,
            mode: mcpo_plan::PlanMode::Normal,
            lineage: String::new(),
            serial: 0,
            sources: Vec::new(),
            variables: Default::default(),
            changes: Vec::new(),
            outputs: Vec::new(),
            notes: vec!["runbook `failover`, step `dns`".into()],
        };
        let asking = {
            let relay = Arc::clone(&relay);
            let plan = plan.clone();
            tokio::spawn(async move {
                let first = relay
                    .approve(ApprovalRequest {
                        plan: &plan,
                        question: "Run runbook `failover`?",
                    })
                    .await;
                let second = relay
                    .approve(ApprovalRequest {
                        plan: &plan,
                        question: "Switch DNS?",
                    })
                    .await;
                (first, second)
            })
        };
        // The first question is answered through the registry, as a retry answers it.
        let Some(Turn::Ask {
            state,
            question,
            answer,
        }) = turns.recv().await
        else {
            panic!("the run asks")
        };
        assert!(
            question.starts_with("Run runbook `failover`?"),
            "{question}"
        );
        let call = "the call".to_string();
        let (_keep, rx) = tokio::sync::mpsc::unbounded_channel::<Turn>();
        runs.park(
            &state,
            Parked {
                call: call.clone(),
                question,
                answer,
                turns: rx,
            },
        )
        .expect("parked");
        assert_eq!(runs.waiting(), 1);
        let other = runs
            .take(&state, "another call")
            .expect_err("not this call");
        assert_eq!(other.error.error.code.as_deref(), Some("E0642"));
        let parked = runs.take(&state, &call).expect("waiting");
        parked
            .answer
            .send(Approval::Approved)
            .expect("the run waits");
        // The second is never answered.
        let Some(Turn::Ask {
            state: second_state,
            question,
            answer,
        }) = turns.recv().await
        else {
            panic!("the run asks again")
        };
        let (_keep2, rx2) = tokio::sync::mpsc::unbounded_channel::<Turn>();
        runs.park(
            &second_state,
            Parked {
                call: call.clone(),
                question,
                answer,
                turns: rx2,
            },
        )
        .expect("parked");
        let (first, second) = asking.await.expect("the asking task");
        assert_eq!(first, Approval::Approved);
        let Approval::Unavailable(p) = second else {
            panic!("expired: {second:?}")
        };
        assert_eq!(p.code.map(|c| c.as_str()), Some("E0642"));
        assert!(cancel.is_cancelled(), "the run is cancelled");
        assert_eq!(runs.waiting(), 0, "the expired run is forgotten");
        let late = runs.take(&second_state, &call).expect_err("expired");
        let unknown = runs.take("made-up", &call).expect_err("unknown");
        let answered = runs.take(&state, &call).expect_err("answered already");
        insta::assert_snapshot!(format!(
            "{}\n\n{}\n\n{}",
            late.text, unknown.text, answered.text
        ));
    });
}
