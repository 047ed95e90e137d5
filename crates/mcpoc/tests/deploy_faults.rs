//! Apply when things go wrong, against twins with injected faults: a failing branch does
//! not stop an independent one and its dependents are skipped (and said so); a hanging
//! tool times out; `--rollback-on-failure` leaves the twins as they were; a server that
//! crashes mid-apply gives a clear error and a true state, and the next apply converges.

mod deploy_support;
mod twins_support;

use deploy_support::{Ws, counts};
use std::collections::BTreeSet;

/// Adds `flags` to the `args` of the server block whose state dir is `.mcpo/twins/<kind>`,
/// then pulls again (the declaration changed).
fn with_flags(ws: &Ws, kind: &str, flags: &[&str]) {
    let anchor = format!("\".mcpo/twins/{kind}\"");
    let extra: String = flags.iter().map(|f| format!(", \"{f}\"")).collect();
    ws.edit("main.mcpo", &anchor, &format!("{anchor}{extra}"));
    ws.pull();
}

fn without_flags(ws: &Ws, kind: &str, flags: &[&str]) {
    let anchor = format!("\".mcpo/twins/{kind}\"");
    let extra: String = flags.iter().map(|f| format!(", \"{f}\"")).collect();
    ws.edit("main.mcpo", &format!("{anchor}{extra}"), &anchor);
    ws.pull();
}

/// Every id in the state is on its twin and every twin resource is in the state.
#[track_caller]
fn state_is_true(ws: &Ws) {
    let on_twins: BTreeSet<String> = ws.twin_resources().into_values().flatten().collect();
    let mut in_state = BTreeSet::new();
    for address in ws.state_addresses() {
        let run = ws.run(&["state", "show", &address, "--format", "json"]);
        run.expect_code(0);
        let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
            in_state.insert(id.to_string());
        }
    }
    assert_eq!(in_state, on_twins, "state and twins disagree");
}

#[test]
fn a_failing_branch_does_not_stop_an_independent_one() {
    let ws = Ws::fixture("basic");
    with_flags(&ws, "aws", &["--fail-rate", "1"]);
    let run = ws.run(&["apply", "--auto-approve"]);
    run.expect_code(1);
    // The VPC fails; the subnet (needs the VPC) and the rule (reads the subnet) are skipped
    // and say why; the VLAN and the volume are created.
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("aws.vpc.main"), "{}", run.both());
    for skipped in ["aws.vpc_subnet.a", "opnsense.firewall_rule.https"] {
        assert!(
            all.lines()
                .any(|l| l.contains(skipped) && l.contains("skipped")),
            "{skipped} is reported as skipped\n{}",
            run.both()
        );
    }
    assert_eq!(
        ws.twin_counts(),
        counts(&[("docker.volume", 1), ("opnsense.network_vlan", 1)])
    );
    assert_eq!(
        ws.state_addresses(),
        ["docker.volume.data", "opnsense.network_vlan.app"]
    );
    // With the fault gone, the rest is done.
    without_flags(&ws, "aws", &["--fail-rate", "1"]);
    ws.apply_ok();
    assert_eq!(ws.twin_counts().values().sum::<usize>(), 5);
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn a_hanging_tool_times_out_and_the_rest_goes_on() {
    let ws = Ws::fixture("basic");
    ws.edit(
        "main.mcpo",
        "\"--state-dir\", \".mcpo/twins/aws\"]",
        "\"--state-dir\", \".mcpo/twins/aws\", \"--hang-tool\", \"vpc.create\"]\n  timeout_ms = 1500",
    );
    ws.pull();
    let started = std::time::Instant::now();
    let run = ws.run(&["apply", "--auto-approve"]);
    run.expect_code(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the hang was cut by the timeout"
    );
    assert!(
        run.stderr.contains("timed out") || run.stdout.contains("timed out"),
        "{}",
        run.both()
    );
    assert_eq!(
        ws.twin_counts(),
        counts(&[("docker.volume", 1), ("opnsense.network_vlan", 1)])
    );
    ws.edit(
        "main.mcpo",
        ", \"--hang-tool\", \"vpc.create\"]\n  timeout_ms = 1500",
        "]",
    );
    ws.pull();
    ws.apply_ok();
    assert_eq!(
        ws.twin_counts(),
        counts(&[
            ("aws.vpc", 1),
            ("aws.vpc_subnet", 1),
            ("docker.volume", 1),
            ("opnsense.firewall_rule", 1),
            ("opnsense.network_vlan", 1),
        ])
    );
}

#[test]
fn rollback_on_failure_leaves_the_twins_as_they_were() {
    let ws = Ws::fixture("basic");
    ws.pull();
    ws.apply_ok();
    let before = ws.twin_resources();
    let state_before = ws.run(&[
        "state",
        "show",
        "opnsense.network_vlan.app",
        "--format",
        "json",
    ]);
    state_before.expect_code(0);

    // One more volume (succeeds), a changed VLAN description (succeeds), and a subnet
    // outside its VPC (the twin refuses it, as AWS would).
    let text = ws.read("main.mcpo")
        + "\nresource \"docker.volume\" \"extra\" {\n  name = \"extra\"\n}\n\
           \nresource \"aws.vpc_subnet\" \"bad\" {\n  vpc_id            = aws.vpc.main.id\n  \
           cidr_block        = \"10.9.1.0/24\"\n  availability_zone = \"us-east-1a\"\n}\n";
    ws.write("main.mcpo", &text);
    ws.edit(
        "main.mcpo",
        "description = \"app ${var.env}\"",
        "description = \"changed\"",
    );
    let run = ws.run(&["apply", "--auto-approve", "--rollback-on-failure"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("10.9.1.0/24"),
        "the twin's reason is shown\n{}",
        run.both()
    );
    assert_eq!(ws.twin_resources(), before, "{}", run.both());
    let vlan = ws.run(&[
        "state",
        "show",
        "opnsense.network_vlan.app",
        "--format",
        "json",
    ]);
    vlan.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&vlan.stdout).expect("JSON");
    assert_eq!(
        v.pointer("/outputs/description").and_then(|d| d.as_str()),
        Some("app dev"),
        "the update was undone\n{}",
        run.both()
    );
    state_is_true(&ws);
}

#[test]
fn a_server_crashing_mid_apply_is_a_clear_error_and_the_state_stays_true() {
    let ws = Ws::fixture("basic");
    // The first call (vpc.create) is answered; the twin exits on the second.
    with_flags(&ws, "aws", &["--crash-after", "1"]);
    let run = ws.run(&["apply", "--auto-approve"]);
    run.expect_code(1);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("`aws`") || all.contains("aws:"),
        "{}",
        run.both()
    );
    assert!(
        all.contains("exited") || all.contains("crashed") || all.contains("closed"),
        "the error says the server went away\n{}",
        run.both()
    );
    assert!(!all.contains("panicked"), "{}", run.both());
    state_is_true(&ws);

    without_flags(&ws, "aws", &["--crash-after", "1"]);
    ws.apply_ok();
    assert_eq!(ws.twin_counts().values().sum::<usize>(), 5);
    state_is_true(&ws);
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn ctrl_c_during_apply_finishes_the_calls_in_flight_saves_the_state_and_exits_130() {
    use std::io::BufRead;
    let ws = Ws::fixture("chaos");
    let text = ws.read("main.mcpo");
    assert!(text.contains("\"80,40\""));
    ws.write("main.mcpo", &text.replace("\"80,40\"", "\"400,0\""));
    ws.pull();
    let mut child = ws.spawn(&["apply", "--auto-approve"]);
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // Interrupt while the first wave's calls (400 ms each) are in flight.
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(20)) {
        let started = line.contains("creating...");
        seen.push(line);
        if started {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let code = child.wait().expect("wait").code();
    let _ = reader.join();
    seen.extend(rx.try_iter());
    let stderr = seen.join("\n");
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    // The calls in flight finished and were recorded; nothing after them started.
    assert!(
        !stderr.contains("aws.vpc_subnet.tier[0]: creating..."),
        "no step starts after Ctrl-C\n{stderr}"
    );
    state_is_true(&ws);
    // The first wave (the VPC, the network, the two VLANs) was in flight and finished;
    // the subnets and volumes that needed it never started.
    assert_eq!(
        ws.twin_counts(),
        counts(&[
            ("aws.vpc", 1),
            ("docker.network", 1),
            ("opnsense.network_vlan", 2)
        ]),
        "{stderr}"
    );
    ws.apply_ok();
    assert_eq!(ws.twin_counts().values().sum::<usize>(), 11);
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}
