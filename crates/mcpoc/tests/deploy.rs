//! `mcpoc plan` and `mcpoc apply` end to end against the twins, as a user runs them: apply
//! from empty, a second plan with no changes, an attribute changed in place, a force-new
//! attribute replaced, a removed block deleted, and `destroy` leaving the twins empty.
//! What the twins hold is read through their own `T.list` tools.

mod deploy_support;
mod twins_support;

use deploy_support::{Ws, counts};
use serde_json::Value;
use std::collections::BTreeMap;

/// `address -> action` of a `plan --format json` document (actions lower-cased).
fn actions(ws: &Ws) -> BTreeMap<String, String> {
    let run = ws.run(&["plan", "--format", "json"]);
    run.expect_code(0);
    let doc: Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    doc.get("changes")
        .and_then(Value::as_array)
        .expect("changes")
        .iter()
        .filter_map(|c| {
            let address = c.get("address")?.as_str()?.to_string();
            let action = c
                .get("action")?
                .as_str()?
                .to_lowercase()
                .replace(['-', '_'], "");
            Some((address, action))
        })
        .filter(|(_, action)| action != "noop")
        .collect()
}

fn state_show(ws: &Ws, address: &str) -> Value {
    let run = ws.run(&["state", "show", address, "--format", "json"]);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).expect("state show JSON")
}

fn id_of(ws: &Ws, address: &str) -> String {
    state_show(ws, address)
        .get("id")
        .and_then(Value::as_str)
        .expect("id")
        .to_string()
}

const BASIC: &[(&str, usize)] = &[
    ("aws.vpc", 1),
    ("aws.vpc_subnet", 1),
    ("docker.volume", 1),
    ("opnsense.firewall_rule", 1),
    ("opnsense.network_vlan", 1),
];

#[test]
fn apply_then_update_replace_delete_and_destroy() {
    let ws = Ws::fixture("basic");
    ws.pull();

    // From empty: five creates, exit 2 with --detailed-exitcode.
    let plan = ws.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    for address in [
        "aws.vpc.main",
        "aws.vpc_subnet.a",
        "opnsense.network_vlan.app",
        "opnsense.firewall_rule.https",
        "docker.volume.data",
    ] {
        assert!(plan.stdout.contains(address), "{}", plan.both());
    }
    let before = actions(&ws);
    assert!(before.values().all(|a| a == "create"), "{before:?}");
    assert_eq!(before.len(), 5, "{before:?}");

    let apply = ws.apply_ok();
    assert!(
        apply.stdout.contains("5 created") || apply.stderr.contains("5 created"),
        "the summary counts what was done\n{}",
        apply.both()
    );
    assert_eq!(ws.twin_counts(), counts(BASIC));
    assert_eq!(
        ws.state_addresses(),
        [
            "aws.vpc.main",
            "aws.vpc_subnet.a",
            "docker.volume.data",
            "opnsense.firewall_rule.https",
            "opnsense.network_vlan.app",
        ]
    );

    // The outputs are there, and the ids in the state are the twins' ids.
    let out = ws.run(&["output", "--format", "json"]);
    out.expect_code(0);
    let outputs: Value = serde_json::from_str(&out.stdout).expect("output JSON");
    let vpc_id = id_of(&ws, "aws.vpc.main");
    assert_eq!(outputs.get("vpc_id"), Some(&Value::String(vpc_id.clone())));
    assert_eq!(
        outputs.get("subnet_cidr"),
        Some(&Value::String("10.0.1.0/24".into()))
    );
    let single = ws.run(&["output", "subnet_cidr"]);
    single.expect_code(0);
    assert_eq!(single.stdout.trim(), "10.0.1.0/24");
    assert!(ws.twin_resources()["aws.vpc"].contains(&vpc_id));

    // Nothing to do the second time.
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // An updatable attribute changes in place: same id afterwards.
    let vlan_id = id_of(&ws, "opnsense.network_vlan.app");
    ws.edit(
        "main.mcpo",
        "description = \"app ${var.env}\"",
        "description = \"app network\"",
    );
    ws.edit(
        "main.mcpo",
        "name       = \"app-${var.env}\"",
        "name       = \"application\"",
    );
    assert_eq!(
        actions(&ws),
        BTreeMap::from([
            ("aws.vpc.main".to_string(), "update".to_string()),
            (
                "opnsense.network_vlan.app".to_string(),
                "update".to_string()
            ),
        ])
    );
    ws.apply_ok();
    assert_eq!(id_of(&ws, "opnsense.network_vlan.app"), vlan_id);
    assert_eq!(id_of(&ws, "aws.vpc.main"), vpc_id);
    let vlan = state_show(&ws, "opnsense.network_vlan.app");
    assert_eq!(
        vlan.pointer("/outputs/description"),
        Some(&Value::String("app network".into())),
        "{vlan}"
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // A force-new attribute (the VLAN tag: not in `network_vlan.update`'s schema) replaces.
    ws.edit("main.mcpo", "tag         = 100", "tag         = 101");
    assert_eq!(
        actions(&ws),
        BTreeMap::from([(
            "opnsense.network_vlan.app".to_string(),
            "replace".to_string()
        )])
    );
    ws.apply_ok();
    let new_vlan_id = id_of(&ws, "opnsense.network_vlan.app");
    assert_ne!(new_vlan_id, vlan_id);
    assert_eq!(ws.twin_resources()["opnsense.network_vlan"], [new_vlan_id]);

    // A removed block is deleted.
    let text = ws.read("main.mcpo");
    let start = text
        .find("resource \"docker.volume\"")
        .expect("volume block");
    let end = start + text[start..].find("}\n").expect("block end") + 2;
    ws.write("main.mcpo", &format!("{}{}", &text[..start], &text[end..]));
    assert_eq!(
        actions(&ws),
        BTreeMap::from([("docker.volume.data".to_string(), "delete".to_string())])
    );
    ws.apply_ok();
    let mut expected = counts(BASIC);
    expected.remove("docker.volume");
    assert_eq!(ws.twin_counts(), expected);
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // Destroy leaves the twins and the state empty.
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(ws.twin_counts(), counts(&[]));
    assert!(ws.state_addresses().is_empty());
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(2);
}

#[test]
fn a_saved_plan_applies_exactly_and_is_refused_once_the_state_moved() {
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.run(&["plan", "--out", "plan.json"]).expect_code(0);
    ws.run(&["plan", "--out", "old.json"]).expect_code(0);
    // A saved plan needs no confirmation, even without a terminal.
    ws.run(&["apply", "plan.json"]).expect_code(0);
    assert_eq!(ws.twin_counts(), counts(BASIC));
    // The other plan was made from the empty state: applying it would create everything a
    // second time.
    let stale = ws.run(&["apply", "old.json"]);
    stale.expect_code(1);
    assert!(stale.stderr.contains("error[E0631]"), "{}", stale.both());
    assert_eq!(ws.twin_counts(), counts(BASIC));
}

#[test]
fn apply_without_a_terminal_asks_for_auto_approve() {
    let ws = Ws::fixture("basic");
    ws.pull();
    let run = ws.run(&["apply"]);
    run.expect_code(1);
    assert!(run.stderr.contains("error[E0634]"), "{}", run.both());
    assert!(run.stderr.contains("--auto-approve"), "{}", run.both());
    assert_eq!(ws.twin_counts(), counts(&[]));
}

#[test]
fn variables_come_from_flags_files_and_the_environment() {
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.write("prod.json", r#"{"env": "from-file"}"#);
    let show = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["plan", "--format", "json"];
        all.extend_from_slice(args);
        let run = ws.run_env(&all, env);
        run.expect_code(0);
        run.stdout
    };
    assert!(show(&[], &[]).contains("app-dev"));
    assert!(show(&[], &[("MCPO_VAR_env", "from-env")]).contains("app-from-env"));
    assert!(show(&["--var-file", "prod.json"], &[("MCPO_VAR_env", "x")]).contains("app-from-file"));
    assert!(
        show(
            &["-var", "env=from-flag", "--var-file", "prod.json"],
            &[("MCPO_VAR_env", "x")]
        )
        .contains("app-from-flag")
    );
    // Terraform's single-dash spellings work too.
    assert!(show(&["-var-file", "prod.json"], &[]).contains("app-from-file"));
    assert!(show(&["-var=env=from-equals"], &[]).contains("app-from-equals"));
    let bad = ws.run(&["plan", "--var", "env"]);
    bad.expect_code(2);
    assert!(bad.stderr.contains("error[E0633]"), "{}", bad.both());
}

#[test]
fn plan_refuses_a_workspace_with_check_errors() {
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.edit("main.mcpo", "tag         = 100", "tagg        = 100");
    let run = ws.run(&["plan"]);
    run.expect_code(1);
    assert!(run.stderr.contains("[E0103]"), "{}", run.both());
    assert!(run.stderr.contains("error[E0630]"), "{}", run.both());
    let apply = ws.run(&["apply", "--auto-approve"]);
    apply.expect_code(1);
    assert_eq!(ws.twin_counts(), counts(&[]));
}

#[test]
fn state_rm_forgets_and_import_adopts() {
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.apply_ok();
    let vpc_id = id_of(&ws, "aws.vpc.main");
    ws.run(&["state", "rm", "aws.vpc.main"]).expect_code(0);
    assert!(!ws.state_addresses().contains(&"aws.vpc.main".to_string()));
    // Still on the server: mcpo only forgot it.
    assert_eq!(
        ws.twin_resources()["aws.vpc"],
        std::slice::from_ref(&vpc_id)
    );
    let missing = ws.run(&["state", "show", "aws.vpc.main"]);
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("error[E0635]"),
        "{}",
        missing.both()
    );

    ws.run(&["import", "aws.vpc.main", &vpc_id]).expect_code(0);
    assert_eq!(id_of(&ws, "aws.vpc.main"), vpc_id);
    // Managed again: the next apply may align attributes the import read (server
    // defaults), but creates nothing.
    assert_ne!(
        actions(&ws).get("aws.vpc.main").map(String::as_str),
        Some("create")
    );
    ws.apply_ok();
    assert_eq!(id_of(&ws, "aws.vpc.main"), vpc_id);
    assert_eq!(ws.twin_counts(), counts(BASIC));
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // An address the workspace does not declare cannot be imported.
    let bad = ws.run(&["import", "aws.vpc.nope", &vpc_id]);
    bad.expect_code(1);
    assert!(bad.stderr.contains("error[E0637]"), "{}", bad.both());

    // An imported resource has no recorded dependencies; destroy still deletes in the
    // declared order (the rule, then the subnet, then the VPC, which refuses to go while
    // it has subnets).
    let subnet_id = id_of(&ws, "aws.vpc_subnet.a");
    ws.run(&["state", "rm", "aws.vpc_subnet.a"]).expect_code(0);
    ws.run(&["import", "aws.vpc_subnet.a", &subnet_id])
        .expect_code(0);
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(ws.twin_counts(), counts(&[]));
}

#[test]
fn sensitive_values_never_show() {
    let ws = Ws::fixture("instances");
    ws.pull();
    let secret = "hunter2-not-shown";
    let plan = ws.run(&["plan"]);
    plan.expect_code(0);
    let json = ws.run(&["plan", "--format", "json"]);
    json.expect_code(0);
    let apply = ws.apply_ok();
    let outputs = ws.run(&["output"]);
    outputs.expect_code(0);
    let show = ws.run(&["state", "show", "kubernetes.secret.db"]);
    show.expect_code(0);
    for run in [&plan, &json, &apply, &outputs, &show] {
        assert!(!run.stdout.contains(secret), "{}", run.both());
        assert!(!run.stderr.contains(secret), "{}", run.both());
    }
    assert!(
        outputs.stdout.contains("(sensitive value)"),
        "{}",
        outputs.both()
    );
    // Asked for by name, the output is printed.
    let named = ws.run(&["output", "password"]);
    named.expect_code(0);
    assert_eq!(named.stdout.trim(), secret);
    assert_eq!(
        ws.twin_counts(),
        counts(&[
            ("docker.volume", 2),
            ("kubernetes.config_map", 2),
            ("kubernetes.namespace", 1),
            ("kubernetes.secret", 1),
        ])
    );
    assert_eq!(
        ws.state_addresses(),
        [
            "docker.volume.cache[0]",
            "docker.volume.cache[1]",
            "kubernetes.config_map.app[\"api\"]",
            "kubernetes.config_map.app[\"web\"]",
            "kubernetes.namespace.app",
            "kubernetes.secret.db",
        ]
    );
    // Fewer instances: the last one goes.
    let fewer = ws.run(&["apply", "--auto-approve", "--var", "caches=1"]);
    fewer.expect_code(0);
    assert_eq!(ws.twin_counts()["docker.volume"], 1);
}

/// The README's quick start, on a fresh copy of `examples/quickstart`: pull, apply, see the
/// outputs; then nothing left to do, and destroy leaves all four twins empty.
#[test]
fn the_quick_start_applies_clean_on_all_four_twins() {
    let ws = Ws::copy_of("examples/quickstart");
    ws.pull();
    ws.run(&["check"]).expect_code(0);
    let apply = ws.apply_ok();
    assert!(apply.stdout.contains("Apply complete"), "{}", apply.both());
    assert!(apply.stdout.contains("app_ip"), "{}", apply.both());
    assert_eq!(
        ws.twin_counts(),
        counts(&[
            ("aws.ec2_instance", 1),
            ("aws.vpc", 1),
            ("aws.vpc_subnet", 1),
            ("docker.image_build", 1),
            ("kubernetes.deployment", 1),
            ("kubernetes.namespace", 1),
            ("opnsense.firewall_rule", 1),
            ("opnsense.network_vlan", 1),
        ])
    );
    let out = ws.run(&["output", "--format", "json"]);
    out.expect_code(0);
    let outputs: Value = serde_json::from_str(&out.stdout).expect("output JSON");
    let ip = outputs
        .get("app_ip")
        .and_then(Value::as_str)
        .expect("app_ip");
    assert!(ip.starts_with("10.0.1."), "{ip}");
    assert_eq!(
        outputs.get("image"),
        Some(&Value::String("store:1.0.0".into()))
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(ws.twin_counts(), counts(&[]));
    let after = ws.run(&["output", "--format", "json"]);
    after.expect_code(0);
    assert_eq!(after.stdout.trim(), "{}");
}

/// Changes made outside mcpo: `refresh` reports them and records what exists, and the
/// next apply puts the declared values back; a resource deleted outside mcpo is dropped
/// from the state and created again.
#[test]
fn refresh_reports_drift_and_apply_corrects_it() {
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.apply_ok();
    let vlan_id = id_of(&ws, "opnsense.network_vlan.app");
    let volume_id = id_of(&ws, "docker.volume.data");
    ws.twin_call(
        "opnsense",
        "network_vlan.update",
        serde_json::json!({"id": vlan_id, "description": "changed by hand", "pcp": 0}),
    );
    ws.twin_call(
        "docker",
        "volume.delete",
        serde_json::json!({"id": volume_id}),
    );

    let refresh = ws.run(&["refresh"]);
    refresh.expect_code(0);
    let all = format!("{}{}", refresh.stdout, refresh.stderr);
    assert!(
        all.contains("opnsense.network_vlan.app") && all.contains("changed by hand"),
        "{}",
        refresh.both()
    );
    assert!(
        all.contains("docker.volume.data") && all.contains("deleted outside mcpo"),
        "{}",
        refresh.both()
    );
    assert!(
        !ws.state_addresses()
            .contains(&"docker.volume.data".to_string())
    );

    assert_eq!(
        actions(&ws),
        BTreeMap::from([
            ("docker.volume.data".to_string(), "create".to_string()),
            (
                "opnsense.network_vlan.app".to_string(),
                "update".to_string()
            ),
        ])
    );
    ws.apply_ok();
    let vlan = state_show(&ws, "opnsense.network_vlan.app");
    assert_eq!(
        vlan.pointer("/outputs/description"),
        Some(&Value::String("app dev".into()))
    );
    assert_eq!(ws.twin_counts(), counts(BASIC));
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// `--parallelism 1` runs one step at a time (read from the plain progress lines, one per
/// event); the default runs independent steps together.
#[test]
fn parallelism_bounds_the_steps_in_flight() {
    let most_in_flight = |run: &deploy_support::Run| {
        let (mut now, mut most) = (0i32, 0i32);
        for line in run.stderr.lines() {
            if line.ends_with(": creating...") {
                now += 1;
                most = most.max(now);
            } else if line.contains(": created in ") {
                now -= 1;
            }
        }
        most
    };
    let ws = Ws::fixture("basic");
    ws.pull();
    let one = ws.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    one.expect_code(0);
    assert_eq!(most_in_flight(&one), 1, "{}", one.both());
    assert_eq!(ws.twin_counts(), counts(BASIC));
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    let many = ws.apply_ok();
    assert!(most_in_flight(&many) >= 2, "{}", many.both());
    let zero = ws.run(&["apply", "--auto-approve", "--parallelism", "0"]);
    zero.expect_code(2);
}

/// Defaults a server fills in inside nested values (a service port's `protocol`) are not
/// changes made outside mcpo.
#[test]
fn server_defaults_inside_nested_values_are_not_drift() {
    let ws = Ws::fixture("instances");
    let text = ws.read("main.mcpo")
        + "\nresource \"kubernetes.service\" \"api\" {\n  name      = \"api\"\n  \
           namespace = kubernetes.namespace.app.name\n  \
           ports     = [{ port = 80, target_port = 8080 }]\n  \
           selector  = { app = \"api\" }\n}\n";
    ws.write("main.mcpo", &text);
    ws.pull();
    ws.apply_ok();
    let refresh = ws.run(&["refresh"]);
    refresh.expect_code(0);
    assert!(refresh.stdout.contains("no drift"), "{}", refresh.both());
}
