//! `mcpoc rollback` end to end against the twins: apply v1, apply v2 (some resources
//! deleted, one added, one replaced), roll back, and the twins hold v1 again, down to the
//! dependents of the resources that came back with new ids; the workspace's v1 files then
//! plan no changes.

mod deploy_support;
mod twins_support;

use deploy_support::{Ws, counts};
use serde_json::Value;

/// v2 of `tests/plan/basic`: the VPC, its subnet, the firewall rule and the volume are
/// gone, another volume is new, and the VLAN is replaced (its tag cannot change in place).
const V2: &str = r#"
server "aws" {
  command = "mcpoc"
  args    = ["twin", "aws", "--state-dir", ".mcpo/twins/aws"]
}

server "opnsense" {
  command = "mcpoc"
  args    = ["twin", "opnsense", "--state-dir", ".mcpo/twins/opnsense"]
}

server "docker" {
  command = "mcpoc"
  args    = ["twin", "docker", "--state-dir", ".mcpo/twins/docker"]
}

resource "opnsense.network_vlan" "app" {
  interface   = "igb1"
  tag         = 101
  description = "app v2"
}

resource "docker.volume" "logs" {
  name = "logs"
}
"#;

fn state_show(ws: &Ws, address: &str) -> Value {
    let run = ws.run(&["state", "show", address, "--format", "json"]);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).expect("state show JSON")
}

/// The items a twin's `T.list` returns.
fn listed(ws: &Ws, kind: &str, tool: &str) -> Vec<Value> {
    ws.twin_call(kind, tool, serde_json::json!({}))
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[test]
fn apply_v1_apply_v2_rollback_and_the_twins_hold_v1_again() {
    let ws = Ws::fixture("basic");
    ws.pull();
    let v1 = ws.read("main.mcpo");

    // Nothing to go back to yet: the only versions are the first apply's steps.
    let none = ws.run(&["rollback", "--auto-approve"]);
    none.expect_code(1);
    insta::assert_snapshot!("e0514_nothing_to_roll_back_to", none.stderr);

    ws.apply_ok();
    let v1_counts = ws.twin_counts();
    assert_eq!(
        v1_counts,
        counts(&[
            ("aws.vpc", 1),
            ("aws.vpc_subnet", 1),
            ("docker.volume", 1),
            ("opnsense.firewall_rule", 1),
            ("opnsense.network_vlan", 1),
        ])
    );
    let old_vpc = state_show(&ws, "aws.vpc.main");
    let old_vpc_id = old_vpc["id"].as_str().expect("vpc id").to_string();
    let old_vlan_id = state_show(&ws, "opnsense.network_vlan.app")["id"]
        .as_str()
        .expect("vlan id")
        .to_string();

    ws.write("main.mcpo", V2);
    ws.apply_ok();
    assert_eq!(
        ws.twin_counts(),
        counts(&[("docker.volume", 1), ("opnsense.network_vlan", 1)])
    );

    // A version named that is not kept is refused, and nothing changes.
    let missing = ws.run(&["rollback", "--to", "99999", "--auto-approve"]);
    missing.expect_code(1);
    assert!(missing.stderr.contains("E0506"), "{}", missing.both());

    // The versions kept are listed, the current one last.
    let list = ws.run(&["rollback", "--list"]);
    list.expect_code(0);
    assert!(
        list.stdout
            .lines()
            .last()
            .is_some_and(|l| l.ends_with("(current)")),
        "{}",
        list.both()
    );

    let back = ws.run(&["rollback", "--auto-approve"]);
    back.expect_code(0);
    // The plan is shown with what cannot be restored.
    assert!(
        back.stdout.contains(&format!(
            "aws.vpc.main comes back as a new resource: it had id `{old_vpc_id}`"
        )),
        "{}",
        back.both()
    );
    assert!(
        back.stdout
            .contains("opnsense.network_vlan.app is replaced"),
        "{}",
        back.both()
    );
    assert!(
        back.stdout.contains("workspace's files are not changed"),
        "{}",
        back.both()
    );

    // The twins hold v1 again: the same resources, with v1's values.
    assert_eq!(ws.twin_counts(), v1_counts);
    let vpc = state_show(&ws, "aws.vpc.main");
    let new_vpc_id = vpc["id"].as_str().expect("vpc id").to_string();
    assert_ne!(
        new_vpc_id, old_vpc_id,
        "a deleted resource comes back with a new id"
    );
    let subnets = listed(&ws, "aws", "vpc_subnet.list");
    assert_eq!(
        subnets[0]["vpc_id"].as_str(),
        Some(new_vpc_id.as_str()),
        "the subnet is in the VPC that came back: {subnets:?}"
    );
    let vlans = listed(&ws, "opnsense", "network_vlan.list");
    assert_eq!(vlans[0]["tag"], 100, "{vlans:?}");
    assert_eq!(vlans[0]["description"], "app dev", "{vlans:?}");
    assert_ne!(vlans[0]["id"].as_str(), Some(old_vlan_id.as_str()));
    let volumes = listed(&ws, "docker", "volume.list");
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0]["name"], "data-dev", "{volumes:?}");

    // The outputs are v1's, with the VPC's new id.
    let out = ws.run(&["output", "--format", "json"]);
    out.expect_code(0);
    let outputs: Value = serde_json::from_str(&out.stdout).expect("output JSON");
    assert_eq!(outputs["vpc_id"].as_str(), Some(new_vpc_id.as_str()));
    assert_eq!(outputs["subnet_cidr"], "10.0.1.0/24");

    // The files still say v2, so a plan proposes v2 again; with v1's files back, the
    // rolled-back servers are exactly what v1 declares.
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    ws.write("main.mcpo", &v1);
    let clean = ws.run(&["plan", "--detailed-exitcode"]);
    clean.expect_code(0);
}
