//! Plan and apply take every source form a workspace may hold: `.mcpo` files, JSON
//! deployment templates (`*.mcpo.json`, planned as the source they convert to) and
//! patterns from local module directories (`use { source = "./dir" }`, with `count`),
//! end to end through the binary against the twins.

mod deploy_support;
mod twins_support;

use deploy_support::{Ws, counts};

#[test]
fn templates_and_module_directories_apply_and_converge() {
    let ws = Ws::fixture("template_and_module");
    ws.pull();
    ws.run(&["check"]).expect_code(0);
    // The template's variable has no default: planning without it says so.
    let missing = ws.run(&["plan"]);
    missing.expect_code(1);
    assert!(missing.stderr.contains("E0403"), "{}", missing.both());
    let plan = ws.run(&["plan", "--var", "version=1.0.0"]);
    plan.expect_code(0);
    for address in [
        "aws.vpc.main",
        "aws.vpc_subnet.app",
        "module.edge[0].opnsense.network_vlan.v",
        "module.edge[1].opnsense.network_vlan.v",
    ] {
        assert!(
            plan.stdout.contains(address),
            "{address} missing:\n{}",
            plan.both()
        );
    }
    ws.run(&["apply", "--auto-approve", "--var", "version=1.0.0"])
        .expect_code(0);
    let have = ws.twin_counts();
    let want = counts(&[
        ("aws.vpc", 1),
        ("aws.vpc_subnet", 1),
        ("opnsense.network_vlan", 2),
    ]);
    for (kind, n) in &want {
        assert_eq!(have.get(kind), Some(n), "{kind}: {have:?}");
    }
    assert_eq!(have.values().sum::<usize>(), 4, "nothing else: {have:?}");
    let out = ws.run(&["output", "--format", "json"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains(".200\"") && out.stdout.contains(".201\""),
        "{}",
        out.both()
    );
    // Nothing left to do: the template and the module converge like plain source.
    ws.run(&["plan", "--detailed-exitcode", "--var", "version=1.0.0"])
        .expect_code(0);
    ws.run(&["destroy", "--auto-approve", "--var", "version=1.0.0"])
        .expect_code(0);
    assert!(
        ws.twin_counts().values().all(|n| *n == 0),
        "{:?}",
        ws.twin_counts()
    );
}

/// Every example applies on the twins and a second plan finds nothing to do: servers that
/// fill defaults inside nested values (a service port's protocol, a backend server's
/// weight) must not show up as perpetual updates.
#[test]
fn every_example_applies_and_then_has_no_changes() {
    let secret = [("MCPO_VAR_db_password", "correct-horse-battery")];
    for example in [
        "quickstart",
        "dev-environment",
        "load-balanced-web-app",
        "full-stack-production",
    ] {
        let ws = Ws::copy_of(&format!("examples/{example}"));
        ws.pull();
        let apply = ws.run_env(&["apply", "--auto-approve"], &secret);
        assert_eq!(apply.code, Some(0), "{example}: {}", apply.both());
        let plan = ws.run_env(&["plan", "--detailed-exitcode"], &secret);
        assert_eq!(plan.code, Some(0), "{example}: {}", plan.both());
        let destroy = ws.run_env(&["destroy", "--auto-approve"], &secret);
        if example == "full-stack-production" {
            // Its database has `lifecycle { prevent_destroy = true }`.
            assert_eq!(destroy.code, Some(1), "{example}: {}", destroy.both());
            assert!(destroy.stderr.contains("E0401"), "{}", destroy.both());
        } else {
            assert_eq!(destroy.code, Some(0), "{example}: {}", destroy.both());
        }
    }
}
