//! Snapshots of what `plan` and `graph` print for the fixture workspaces under
//! `tests/plan/`, and of the deployment commands' errors, as a user sees them. Volatile
//! values (the ids the twins hand out, the state's lineage, times) are redacted.

mod deploy_support;
mod twins_support;

use deploy_support::{Run, Ws};
use serde_json::Value;

/// Replaces every id the twins hold, the workspace path and elapsed times.
fn redact(ws: &Ws, text: &str) -> String {
    let mut out = text.replace(&ws.path().display().to_string(), "[ws]");
    let mut ids: Vec<String> = ws.twin_resources().into_values().flatten().collect();
    // Longest first, so an id that contains another is replaced whole.
    ids.sort_by_key(|id| std::cmp::Reverse(id.len()));
    for id in ids {
        out = out.replace(&id, "[id]");
    }
    out
}

/// Replaces the number after each `serial ` (how many writes an apply makes depends on
/// how its steps' state writes were grouped).
fn redact_serials(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("serial ") {
        let (head, tail) = rest.split_at(i + "serial ".len());
        out.push_str(head);
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("[n]");
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// The JSON document with volatile fields replaced, pretty-printed.
fn redact_json(ws: &Ws, text: &str) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if matches!(
                        k.as_str(),
                        "lineage"
                            | "serial"
                            | "created_at"
                            | "generated_at"
                            | "timestamp"
                            | "mcpoc_version"
                    ) && !v.is_null()
                    {
                        *v = Value::String("[redacted]".into());
                    } else {
                        walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut doc: Value = serde_json::from_str(text).expect("valid JSON");
    walk(&mut doc);
    redact(
        ws,
        &serde_json::to_string_pretty(&doc).expect("JSON encodes"),
    )
}

fn stdout_of(run: &Run, code: i32) -> String {
    run.expect_code(code);
    run.stdout.clone()
}

#[test]
fn plan_text_and_json_from_empty() {
    for case in ["basic", "instances"] {
        let ws = Ws::fixture(case);
        ws.pull();
        let text = stdout_of(&ws.run(&["plan"]), 0);
        insta::assert_snapshot!(format!("plan_{case}_text"), redact(&ws, &text));
        let json = stdout_of(&ws.run(&["plan", "--format", "json"]), 0);
        insta::assert_snapshot!(format!("plan_{case}_json"), redact_json(&ws, &json));
    }
}

#[test]
fn plan_text_and_json_of_update_replace_delete() {
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.apply_ok();
    ws.edit(
        "main.mcpo",
        "description = \"app ${var.env}\"",
        "description = \"app network\"",
    );
    ws.edit(
        "main.mcpo",
        "cidr_block = \"10.0.0.0/16\"",
        "cidr_block = \"10.1.0.0/16\"",
    );
    let text = ws.read("main.mcpo");
    let start = text
        .find("resource \"docker.volume\"")
        .expect("volume block");
    let end = start + text[start..].find("}\n").expect("block end") + 2;
    ws.write("main.mcpo", &format!("{}{}", &text[..start], &text[end..]));
    let text = stdout_of(&ws.run(&["plan"]), 0);
    insta::assert_snapshot!("plan_basic_changes_text", redact(&ws, &text));
    let json = stdout_of(&ws.run(&["plan", "--format", "json"]), 0);
    insta::assert_snapshot!("plan_basic_changes_json", redact_json(&ws, &json));
}

#[test]
fn graph_as_dot_and_mermaid() {
    for case in ["basic", "instances"] {
        let ws = Ws::fixture(case);
        ws.pull();
        let dot = stdout_of(&ws.run(&["graph"]), 0);
        insta::assert_snapshot!(format!("graph_{case}_dot"), dot);
        let mermaid = stdout_of(&ws.run(&["graph", "--format", "mermaid"]), 0);
        insta::assert_snapshot!(format!("graph_{case}_mermaid"), mermaid);
    }
}

#[test]
fn errors_of_the_deployment_commands() {
    let ws = Ws::fixture("basic");
    ws.pull();

    // E0633: a variable without a value.
    let run = ws.run(&["plan", "--var", "env"]);
    run.expect_code(2);
    insta::assert_snapshot!("error_e0633_var_without_value", run.stderr);

    // E0634: apply with no terminal and no --auto-approve.
    let run = ws.run(&["apply"]);
    run.expect_code(1);
    insta::assert_snapshot!("error_e0634_no_terminal", redact(&ws, &run.stderr));

    // E0631: a saved plan made before the state moved.
    ws.run(&["plan", "--out", "old.json"]).expect_code(0);
    ws.apply_ok();
    let run = ws.run(&["apply", "old.json"]);
    run.expect_code(1);
    insta::assert_snapshot!(
        "error_e0631_stale_plan",
        redact_serials(&redact(&ws, &run.stderr))
    );

    // E0635: an address that is not in the state.
    let run = ws.run(&["state", "show", "aws.vpc.nope"]);
    run.expect_code(1);
    insta::assert_snapshot!("error_e0635_not_in_state", run.stderr);

    // E0632: a file that is not a saved plan.
    let run = ws.run(&["apply", "main.mcpo"]);
    run.expect_code(1);
    insta::assert_snapshot!("error_e0632_not_a_plan", run.stderr);

    // E0637: importing to an address the workspace does not declare.
    let run = ws.run(&["import", "aws.vpc.nope", "vpc-0123"]);
    run.expect_code(1);
    insta::assert_snapshot!("error_e0637_import_undeclared", run.stderr);

    // E0636: the servers cannot say what exists, so no plan is made.
    ws.edit(
        "main.mcpo",
        "\".mcpo/twins/aws\"]",
        "\".mcpo/twins/aws\", \"--fail-rate\", \"1\"]",
    );
    ws.pull();
    let run = ws.run(&["plan"]);
    run.expect_code(1);
    insta::assert_snapshot!("error_e0636_refresh_failed", redact(&ws, &run.stderr));

    // E0630: plan refuses a workspace with check errors, after printing them.
    ws.edit("main.mcpo", "tag         = 100", "tagg        = 100");
    let run = ws.run(&["plan"]);
    run.expect_code(1);
    insta::assert_snapshot!("error_e0630_check_errors", redact(&ws, &run.stderr));
}

/// E0616: the state records a resource of a type its server no longer has tools for (a
/// server upgraded since, say). Destroy deletes everything else, refuses to call a tool
/// that does not exist, and keeps the resource in the state: a missing tool is never
/// "already gone".
#[test]
fn error_e0616_a_tool_the_server_does_not_have() {
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.apply_ok();
    let path = ".mcpo/state/state.json";
    let mut state: Value = serde_json::from_str(&ws.read(path)).expect("the state is JSON");
    state["resources"]["docker.ghost.old"] = serde_json::json!({
        "server": "docker",
        "type_name": "ghost",
        "id": "ghost-1",
        "inputs": {},
        "outputs": {"id": "ghost-1"}
    });
    ws.write(
        path,
        &serde_json::to_string_pretty(&state).expect("encodes"),
    );
    let run = ws.run(&["destroy", "--auto-approve"]);
    run.expect_code(1);
    assert!(run.stderr.contains("error[E0616]"), "{}", run.both());
    assert_eq!(ws.state_addresses(), ["docker.ghost.old"], "{}", run.both());
    assert!(
        ws.twin_counts().values().all(|n| *n == 0),
        "{:?}",
        ws.twin_counts()
    );
    let shown: String = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error[") || l.starts_with("  help:"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("error_e0616_tool_not_found", redact(&ws, &shown));
}
