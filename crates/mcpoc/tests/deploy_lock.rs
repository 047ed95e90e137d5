//! Two `mcpoc apply` at once on one workspace: the state lock lets one run; the other
//! fails with a message naming the holder (or waits for it), and nothing is created twice.

mod deploy_support;
mod twins_support;

use deploy_support::{Ws, counts};
use std::time::Duration;

#[test]
fn two_concurrent_applies_never_both_run() {
    let ws = Ws::fixture("chaos");
    // Slow twins, so the first apply still holds the lock when the second starts.
    let text = ws.read("main.mcpo");
    assert!(text.contains("\"80,40\""));
    ws.write("main.mcpo", &text.replace("\"80,40\"", "\"150,0\""));
    ws.pull();

    let first = ws.spawn(&["apply", "--auto-approve"]);
    let first_pid = first.id();
    std::thread::sleep(Duration::from_millis(400));
    let second = ws.spawn(&["apply", "--auto-approve"]);
    let first = first.wait_with_output().expect("first apply");
    let second = second.wait_with_output().expect("second apply");
    let show = |o: &std::process::Output| {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    match second.status.code() {
        // It waited for the lock, then found nothing left to do.
        Some(0) => {}
        Some(1) => {
            let err = String::from_utf8_lossy(&second.stderr);
            assert!(err.contains("lock"), "{}", show(&second));
            assert!(
                err.contains(&first_pid.to_string()),
                "the message names the holder\n{}",
                show(&second)
            );
        }
        _ => panic!(
            "the second apply neither waited nor refused: {}",
            show(&second)
        ),
    }
    assert_eq!(
        ws.twin_counts(),
        counts(&[
            ("aws.vpc", 1),
            ("aws.vpc_subnet", 3),
            ("docker.network", 1),
            ("docker.volume", 4),
            ("opnsense.network_vlan", 2),
        ])
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// `mcpoc state rm` takes the lock like apply: while an apply holds it, it refuses at once
/// naming the holder, or with `--lock-timeout` waits for it and then forgets. Commands that
/// only read the state take no lock and offer no `--lock-timeout`.
#[test]
fn state_rm_waits_for_the_lock_only_when_asked() {
    let ws = Ws::fixture("chaos");
    let text = ws.read("main.mcpo");
    assert!(text.contains("\"80,40\""));
    ws.write("main.mcpo", &text.replace("\"80,40\"", "\"150,0\""));
    ws.pull();

    let apply = ws.spawn(&["apply", "--auto-approve"]);
    let holder = apply.id();
    // The apply holds the lock once it has written its pid there (its calls take 150 ms
    // each, so it holds it for seconds after).
    let lock = ws.path().join(".mcpo/state/lock");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&holder.to_string())) {
        assert!(
            std::time::Instant::now() < deadline,
            "the apply never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused = ws.run(&["state", "rm", "aws.vpc.main"]);
    let waited = ws.spawn(&["state", "rm", "aws.vpc.main", "--lock-timeout", "5m"]);
    let apply = apply.wait_with_output().expect("the apply");
    let waited = waited.wait_with_output().expect("the waiting state rm");
    assert_eq!(apply.status.code(), Some(0));
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("error[E0503]") && refused.stderr.contains(&holder.to_string()),
        "{}",
        refused.both()
    );
    assert_eq!(
        waited.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    let list = ws.run(&["state", "list"]);
    list.expect_code(0);
    assert!(!list.stdout.contains("aws.vpc.main"), "{}", list.stdout);
    assert!(
        list.stdout.contains("aws.vpc_subnet.tier"),
        "{}",
        list.stdout
    );

    for reader in [
        &["state", "list"][..],
        &["state", "show", "aws.vpc_subnet.tier[0]"],
        &["output"],
    ] {
        let mut args = reader.to_vec();
        args.extend(["--lock-timeout", "5s"]);
        ws.run(&args).expect_code(2);
    }
}
