//! SIGKILL `mcpoc apply` and `mcpoc destroy` at 20 random moments (seeded; the seed is
//! printed, and `MCPO_CHAOS_SEED` replays a run). After each kill, `plan` and `apply` (or
//! `destroy`) must converge, and the twins must hold exactly the declared resources: no
//! orphan left by a create whose answer was lost, no duplicate from a create sent twice.

mod deploy_support;
mod twins_support;

use deploy_support::{Ws, counts};
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*), so a seed replays the same moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const DECLARED: &[(&str, usize)] = &[
    ("aws.vpc", 1),
    ("aws.vpc_subnet", 3),
    ("docker.network", 1),
    ("docker.volume", 4),
    ("opnsense.network_vlan", 2),
];

/// Runs `mcpoc args` and kills it with SIGKILL after `after`; returns whether it was
/// still running (it may have finished first).
fn kill_after(ws: &Ws, args: &[&str], after: Duration) -> bool {
    let mut child = ws.spawn(args);
    let start = Instant::now();
    while start.elapsed() < after {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let _ = child.wait();
    killed
}

#[test]
fn sigkill_at_random_moments_then_plan_and_apply_converge() {
    let seed = std::env::var("MCPO_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    println!("chaos seed: {seed} (replay with MCPO_CHAOS_SEED={seed})");
    let mut rng = Rng(seed);

    let ws = Ws::fixture("chaos");
    ws.pull();

    // How long a whole apply and destroy take: kills are spread over that window.
    let t = Instant::now();
    ws.apply_ok();
    let apply_time = t.elapsed();
    let t = Instant::now();
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    let destroy_time = t.elapsed();
    println!("apply {apply_time:?}, destroy {destroy_time:?}");
    assert_eq!(ws.twin_counts(), counts(&[]));

    let mut killed_mid_run = 0;
    let mut partial = 0;
    for round in 0..20 {
        // Even rounds kill an apply from empty; odd rounds kill a destroy of everything.
        let destroying = round % 2 == 1;
        let window = if destroying { destroy_time } else { apply_time };
        // The first quarter of a run is mostly process start and connecting: spread the
        // kills over the rest, where the tool calls and state writes are.
        let ms = window.as_millis() as u64;
        let at = Duration::from_millis(ms / 4 + rng.below(ms - ms / 4 + 1));
        let args: &[&str] = if destroying {
            &["destroy", "--auto-approve"]
        } else {
            &["apply", "--auto-approve"]
        };
        let was_running = kill_after(&ws, args, at);
        killed_mid_run += usize::from(was_running);
        ws.wait_twins_released();
        // A kill that left some but not all resources landed among the tool calls.
        let held: usize = ws.twin_counts().values().sum();
        if held > 0 && held < 11 {
            partial += 1;
        }

        // The next plan must work from whatever state the kill left.
        let plan = ws.run(&["plan"]);
        assert_eq!(
            plan.code,
            Some(0),
            "round {round} (seed {seed}, killed at {at:?}): plan after the kill\n{}",
            plan.both()
        );
        if destroying {
            let run = ws.run(&["destroy", "--auto-approve"]);
            assert_eq!(
                run.code,
                Some(0),
                "round {round} (seed {seed}): {}",
                run.both()
            );
            assert_eq!(
                ws.twin_counts(),
                counts(&[]),
                "round {round} (seed {seed}, killed at {at:?}): orphans after destroy"
            );
        } else {
            let run = ws.run(&["apply", "--auto-approve"]);
            assert_eq!(
                run.code,
                Some(0),
                "round {round} (seed {seed}): {}",
                run.both()
            );
            assert_eq!(
                ws.twin_counts(),
                counts(DECLARED),
                "round {round} (seed {seed}, killed at {at:?}): the twins hold something else than declared"
            );
            let again = ws.run(&["plan", "--detailed-exitcode"]);
            assert_eq!(
                again.code,
                Some(0),
                "round {round} (seed {seed}): converged\n{}",
                again.both()
            );
        }
    }
    println!(
        "{killed_mid_run} of 20 kills landed while mcpoc was running, {partial} in the middle of its tool calls"
    );
    assert!(
        partial >= 2,
        "kills should land among the tool calls (seed {seed}): {partial}"
    );
    assert!(
        killed_mid_run >= 10,
        "most kills should land mid-run (seed {seed}): {killed_mid_run}"
    );
}
