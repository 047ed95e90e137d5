//! The seed's failover end to end: `examples/disaster-recovery` applied on the AWS twin,
//! then `mcpoc run disaster_recovery` (the standard library's runbook, which the example
//! brings with a `use`). What happened is read from the twin itself (its read and list
//! tools), not from the run's output; with the twin's health-check fault switch on, the
//! compensation's effect is read the same way.

mod deploy_support;
mod twins_support;

use deploy_support::Ws;
use serde_json::{Value, json};

const RUN: &[&str] = &[
    "run",
    "disaster_recovery",
    "--param",
    "source_region=us-east-1",
    "--param",
    "target_region=us-west-2",
    "--param",
    "services=[\"web\",\"api\",\"database\"]",
    "--param",
    "dns_update=true",
    "--auto-approve",
];

/// The example, applied on a fresh twin.
fn applied() -> Ws {
    let ws = Ws::copy_of("examples/disaster-recovery");
    ws.pull();
    ws.apply_ok();
    ws
}

/// The weight of each weighted `app.example.com` record set, by set identifier.
fn weights(ws: &Ws) -> Vec<(String, i64)> {
    let list = ws.twin_call("aws", "route53_record.list", json!({}));
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == "app.example.com")
        .map(|r| {
            (
                r["set_identifier"].as_str().unwrap_or_default().to_string(),
                r["weight"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn capacity(ws: &Ws, group: &str) -> Value {
    ws.twin_call("aws", "autoscaling_group.read", json!({ "id": group }))["desired_capacity"]
        .clone()
}

fn replica(ws: &Ws) -> Value {
    ws.twin_call(
        "aws",
        "rds_read_replica.read",
        json!({ "id": "app-db-us-west-2" }),
    )
}

fn pair(set: &str, weight: i64) -> (String, i64) {
    (set.to_string(), weight)
}

#[test]
fn the_failover_promotes_the_replica_scales_the_target_and_switches_dns() {
    let ws = applied();
    assert_eq!(replica(&ws)["role"], "replica");
    assert_eq!(
        weights(&ws),
        vec![pair("us-east-1", 100), pair("us-west-2", 0)]
    );
    assert_eq!(capacity(&ws, "web-us-west-2"), 1);

    let run = ws.run(RUN);
    run.expect_code(0);

    let db = replica(&ws);
    assert_eq!(db["role"], "primary", "{db}");
    assert_eq!(db["replica_of"], Value::Null);
    assert_eq!(db["region"], "us-west-2");
    assert_eq!(
        weights(&ws),
        vec![pair("us-east-1", 0), pair("us-west-2", 100)]
    );
    assert_eq!(capacity(&ws, "web-us-west-2"), 3);
    assert_eq!(capacity(&ws, "api-us-west-2"), 3);
    // The source region is left as it was.
    assert_eq!(capacity(&ws, "web-us-east-1"), 3);
    // The journal: the run succeeded; the compensating steps did not run.
    let run = last_run(&ws);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"]["promote_database"]["status"], "done", "{run}");
    assert!(
        run["steps"]
            .get("restore_dns")
            .is_none_or(|s| s["status"] != "done"),
        "{run}"
    );
}

/// The last run in the state's journal.
fn last_run(ws: &Ws) -> Value {
    let text =
        std::fs::read_to_string(ws.path().join(".mcpo/state/state.json")).expect("state.json");
    let state: Value = serde_json::from_str(&text).expect("state JSON");
    state["runs"]
        .as_array()
        .and_then(|r| r.last().cloned())
        .unwrap_or_default()
}

#[test]
fn an_unhealthy_target_is_compensated() {
    let ws = applied();
    let run = ws.run_env(RUN, &[("MCPO_TWIN_UNHEALTHY", "us-west-2")]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("compensating for verify"),
        "{}",
        run.both()
    );
    // DNS went back to the source and the target's groups back to their min_size; the
    // promoted database cannot be demoted and stays promoted.
    assert_eq!(
        weights(&ws),
        vec![pair("us-east-1", 100), pair("us-west-2", 0)]
    );
    assert_eq!(capacity(&ws, "web-us-west-2"), 1);
    assert_eq!(capacity(&ws, "api-us-west-2"), 1);
    assert_eq!(replica(&ws)["role"], "primary");
}
