//! The OPNsense firewall through the real `mcp-opnsense` server (PyPI), end to end through
//! `mcpoc` with the standard library's adapters, imported in one line
//! (`stdlib/adapters/mcp-opnsense`), against `tests/real/opnsense_api.py`, a stand-in for
//! the appliance's REST API (no appliance runs where mcpo is tested): a VLAN, an alias and a
//! filter rule applied and committed by the server's `apply_changes`; a change in place; a
//! rule the API rejects in the body failing its step with the state still true; a VLAN
//! deleted outside mcpo planned back; destroy. What the "appliance" holds is read from the
//! stand-in's own configuration file.

mod deploy_support;
mod real_services;
mod twins_support;

use deploy_support::Ws;
use real_services::{Service, real_script, venv_bin};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The stand-in's configuration: `vlans`, `aliases`, `rules` (by uuid), the sections not
/// yet applied (`pending`) and how often each was applied (`applied`).
fn appliance(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the stand-in's configuration"))
        .expect("JSON")
}

/// What the OPNsense twin and the real server both take, with the twin's names.
const FIREWALL: &str = r#"
resource "opnsense.network_vlan" "guests" {
  interface   = "igb1"
  tag         = 20
  description = "guests"
}

resource "opnsense.firewall_alias" "web" {
  name    = "web_hosts"
  type    = "host"
  content = ["10.0.20.5", "10.0.20.6"]
}

resource "opnsense.firewall_rule" "https" {
  action           = "pass"
  interface        = "lan"
  protocol         = "tcp"
  destination      = "10.0.20.5"
  destination_port = "443"
  description      = "web"
}

output "device" {
  value = opnsense.network_vlan.guests.device
}

output "rule_position" {
  value = opnsense.firewall_rule.https.sequence
}
"#;

/// The commit step, which only the real server has: runs again whenever a rule is
/// replaced.
const COMMIT: &str = r#"
task "opnsense.apply_changes" "firewall" {
  triggers = [for r in [opnsense.firewall_rule.https] : r.id]
}
"#;

#[test]
fn opnsense_vlan_alias_and_rule_commit_reject_in_the_body_and_destroy() {
    let Some(server) = venv_bin("opnsense", "mcp-opnsense") else {
        return;
    };
    let ws = Ws::empty();
    ws.write(
        "adapters.mcpo",
        "use \"opnsense\" { source = \"stdlib/adapters/mcp-opnsense\" }\n",
    );
    let config = ws.path().join("appliance.json");
    let mut api_cmd = Command::new("python3");
    api_cmd
        .arg(real_script("opnsense_api.py"))
        .arg(&config)
        .args(["key", "secret"]);
    let api = Service::announcing_port("the OPNsense API stand-in", api_cmd);
    ws.write(
        "main.mcpo",
        &format!(
            r#"server "opnsense" {{
  command = "{}"
  env = {{
    OPNSENSE_HOST       = "{}"
    OPNSENSE_API_KEY    = "key"
    OPNSENSE_API_SECRET = "secret"
  }}
}}
{FIREWALL}{COMMIT}"#,
            server.display(),
            api.url()
        ),
    );
    ws.pull();
    ws.run(&["check"]).expect_code(0);

    // The same resources rehearsed on the OPNsense twin: the names hold.
    let twin = Ws::empty();
    twin.write(
        "main.mcpo",
        &format!(
            "server \"opnsense\" {{\n  command = \"mcpoc\"\n  args    = [\"twin\", \"opnsense\", \"--state-dir\", \".mcpo/twins/opnsense\"]\n}}\n{FIREWALL}"
        ),
    );
    twin.pull();
    let rehearsed = twin.apply_ok();
    assert!(
        rehearsed.stdout.contains("3 created") && rehearsed.stdout.contains("rule_position = 1"),
        "{}",
        rehearsed.both()
    );
    twin.run(&["destroy", "--auto-approve"]).expect_code(0);

    let applied = ws.apply_ok();
    assert!(
        applied
            .stdout
            .contains("3 created, 0 updated, 0 replaced, 0 deleted, 1 tasks run")
            && applied.stdout.contains(r#"device        = "vlan0.20""#)
            && applied.stdout.contains("rule_position = 1"),
        "{}",
        applied.both()
    );
    let a = appliance(&config);
    let vlans: Vec<&Value> = a["vlans"].as_object().expect("vlans").values().collect();
    assert_eq!(vlans.len(), 1, "{a}");
    assert_eq!(
        (&vlans[0]["if"], &vlans[0]["tag"], &vlans[0]["descr"]),
        (
            &Value::from("igb1"),
            &Value::from("20"),
            &Value::from("guests")
        )
    );
    let aliases: Vec<&Value> = a["aliases"]
        .as_object()
        .expect("aliases")
        .values()
        .collect();
    assert_eq!(aliases.len(), 1, "{a}");
    assert_eq!(aliases[0]["content"], "10.0.20.5\n10.0.20.6");
    let rules: Vec<&Value> = a["rules"].as_object().expect("rules").values().collect();
    assert_eq!(rules.len(), 1, "{a}");
    assert_eq!(
        (
            &rules[0]["action"],
            &rules[0]["interface"],
            &rules[0]["destination_net"],
            &rules[0]["destination_port"]
        ),
        (
            &Value::from("pass"),
            &Value::from("lan"),
            &Value::from("10.0.20.5"),
            &Value::from("443")
        )
    );
    // Committed: the filter and aliases are applied, and `apply_changes` (the only caller
    // of NAT's apply) ran once.
    assert_eq!(a["pending"], serde_json::json!(["vlan"]), "{a}");
    assert_eq!(a["applied"]["nat"], 1, "{a}");

    // Planned again: nothing to do (the options OPNsense renders read back as the inputs).
    let again = ws.run(&["plan", "--detailed-exitcode"]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.both());

    // A change in place: the rule's port and the alias's entries.
    ws.edit(
        "main.mcpo",
        "destination_port = \"443\"",
        "destination_port = \"8000-8080\"",
    );
    ws.edit("main.mcpo", "\"10.0.20.6\"]", "\"10.0.20.7\"]");
    let plan = ws.run(&["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains("~ opnsense.firewall_rule.https  (update in place)")
            && plan
                .stdout
                .contains("~ opnsense.firewall_alias.web  (update in place)")
            && plan
                .stdout
                .contains("Plan: 0 to create, 2 to update, 0 to replace, 0 to delete."),
        "{}",
        plan.both()
    );
    ws.apply_ok();
    let a = appliance(&config);
    let rule = a["rules"]
        .as_object()
        .expect("rules")
        .values()
        .next()
        .cloned();
    assert_eq!(
        rule.expect("a rule")["destination_port"],
        "8000:8080",
        "{a}"
    );
    let alias = a["aliases"]
        .as_object()
        .expect("aliases")
        .values()
        .next()
        .cloned();
    assert_eq!(alias.expect("an alias")["content"], "10.0.20.5\n10.0.20.7");
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // A rule the API rejects: it answers HTTP 200 with `"result": "failed"` and the
    // field's validation message in the body, which the server passes on as a success.
    // `failed_when` fails the step; nothing is recorded, and the commit does not run.
    ws.write(
        "bad.mcpo",
        r#"
resource "opnsense.firewall_rule" "bad" {
  action    = "block"
  interface = "wan2"
}
"#,
    );
    ws.edit(
        "main.mcpo",
        "[opnsense.firewall_rule.https]",
        "[opnsense.firewall_rule.https, opnsense.firewall_rule.bad]",
    );
    let failed = ws.run(&["apply", "--auto-approve"]);
    failed.expect_code(1);
    assert!(
        failed
            .stderr
            .contains("error[E0600]: opnsense.firewall_rule.bad")
            && failed
                .stderr
                .contains("`failed_when` is true for the result")
            && failed
                .stderr
                .contains(r#""rule.interface":"Option not in list.""#)
            && failed
                .stderr
                .contains("task.opnsense.apply_changes.firewall: skipped"),
        "{}",
        failed.both()
    );
    let mut state = ws.state_addresses();
    state.sort();
    assert_eq!(
        state,
        vec![
            "opnsense.firewall_alias.web",
            "opnsense.firewall_rule.https",
            "opnsense.network_vlan.guests",
            "task.opnsense.apply_changes.firewall",
        ]
    );
    let a = appliance(&config);
    assert_eq!(a["rules"].as_object().map(|r| r.len()), Some(1), "{a}");
    assert_eq!(a["applied"]["nat"], 1, "the commit did not run again: {a}");
    std::fs::remove_file(ws.path().join("bad.mcpo")).expect("rm");
    ws.edit(
        "main.mcpo",
        "[opnsense.firewall_rule.https, opnsense.firewall_rule.bad]",
        "[opnsense.firewall_rule.https]",
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // A VLAN deleted on the appliance is seen (`get_vlan` answers `[]`) and planned back.
    let uuid = a["vlans"]
        .as_object()
        .and_then(|v| v.keys().next().cloned())
        .expect("a vlan");
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import base64, sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], method='POST', headers={'Authorization': 'Basic ' + base64.b64encode(b'key:secret').decode()}))",
        )
        .arg(format!("{}/api/interfaces/vlan/delItem/{uuid}", api.url()))
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{out:?}");
    let drift = ws.run(&["plan", "--detailed-exitcode"]);
    drift.expect_code(2);
    assert!(
        drift
            .stdout
            .contains("+ opnsense.network_vlan.guests  (create)")
            && drift
                .stderr
                .contains("opnsense.network_vlan.guests: deleted outside mcpo"),
        "{}",
        drift.both()
    );
    ws.apply_ok();
    assert_eq!(
        appliance(&config)["vlans"].as_object().map(|v| v.len()),
        Some(1)
    );

    // Destroy: the appliance holds nothing of ours, and the state nothing.
    let destroyed = ws.run(&["destroy", "--auto-approve"]);
    destroyed.expect_code(0);
    let a = appliance(&config);
    assert_eq!(
        (&a["vlans"], &a["aliases"], &a["rules"]),
        (
            &serde_json::json!({}),
            &serde_json::json!({}),
            &serde_json::json!({})
        ),
        "{}",
        destroyed.both()
    );
    assert_eq!(ws.state_addresses(), Vec::<String>::new());
}
