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
