//! Fault injection: latency, transient failures, a crash after N calls, a tool that hangs.

use crate::store::splitmix64;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The faults a twin injects into `tools/call`, from its command-line flags.
#[derive(Debug)]
pub(crate) struct Faults {
    latency_mean_ms: u64,
    latency_jitter_ms: u64,
    fail_rate: f64,
    crash_after: Option<u64>,
    hang_tool: Option<String>,
    calls: AtomicU64,
    rng: Mutex<u64>,
}

/// What to do with one tool call before running it.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Run the call normally.
    Run,
    /// Answer with an injected transient failure.
    Fail,
    /// Never answer.
    Hang,
    /// Exit the process without answering.
    Crash,
}

impl Faults {
    /// Faults as configured by the flags.
    pub(crate) fn new(
        latency: (u64, u64),
        fail_rate: f64,
        crash_after: Option<u64>,
        hang_tool: Option<String>,
        seed: u64,
    ) -> Faults {
        Faults {
            latency_mean_ms: latency.0,
            latency_jitter_ms: latency.1,
            fail_rate,
            crash_after,
            hang_tool,
            calls: AtomicU64::new(0),
            rng: Mutex::new(splitmix64(seed ^ 0xFA17_FA17)),
        }
    }

    fn draw(&self) -> u64 {
        let mut state = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *state = splitmix64(*state);
        *state
    }

    /// Decides the fate of one call to `tool` and returns the latency to add first.
    pub(crate) fn judge(&self, tool: &str) -> (Verdict, Duration) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.crash_after.is_some_and(|limit| n > limit) {
            return (Verdict::Crash, Duration::ZERO);
        }
        if self.hang_tool.as_deref() == Some(tool) {
            return (Verdict::Hang, Duration::ZERO);
        }
        let latency = if self.latency_jitter_ms == 0 {
            self.latency_mean_ms
        } else {
            let span = self.latency_jitter_ms.saturating_mul(2).saturating_add(1);
            self.latency_mean_ms
                .saturating_add(self.draw() % span)
                .saturating_sub(self.latency_jitter_ms)
        };
        let fail = self.fail_rate > 0.0
            && (self.draw() >> 11) as f64 / (1u64 << 53) as f64 <= self.fail_rate;
        let verdict = if fail { Verdict::Fail } else { Verdict::Run };
        (verdict, Duration::from_millis(latency))
    }

    /// How many tool calls have arrived so far.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Parses `--latency-ms MEAN[,JITTER]`.
pub(crate) fn parse_latency(text: &str) -> Result<(u64, u64), String> {
    let (mean, jitter) = text.split_once(',').unwrap_or((text, "0"));
    let num = |s: &str| {
        s.trim().parse::<u64>().map_err(|_| {
            format!("\"{text}\" is not MEAN[,JITTER] in whole milliseconds, e.g. 50,10")
        })
    };
    Ok((num(mean)?, num(jitter)?))
}

/// Parses `--fail-rate P` (a probability from 0 to 1).
pub(crate) fn parse_rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("\"{text}\" is not a probability between 0 and 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        assert_eq!(parse_latency("50,10"), Ok((50, 10)));
        assert_eq!(parse_latency("7"), Ok((7, 0)));
        assert!(parse_latency("fast").is_err());
        assert_eq!(parse_rate("0.25"), Ok(0.25));
        assert!(parse_rate("2").is_err());
    }

    #[test]
    fn seeded_failures_repeat_and_match_the_rate() {
        let run = || {
            let f = Faults::new((0, 0), 0.3, None, None, 42);
            (0..1000)
                .map(|_| f.judge("x").0 == Verdict::Fail)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let failures = a.iter().filter(|f| **f).count();
        assert!((230..370).contains(&failures), "{failures}");
    }

    #[test]
    fn crashes_after_n_and_hangs_one_tool() {
        let f = Faults::new((0, 0), 0.0, Some(2), Some("vpc.read".into()), 1);
        assert_eq!(f.judge("vpc.read").0, Verdict::Hang);
        assert_eq!(f.judge("vpc.list").0, Verdict::Run);
        assert_eq!(f.judge("vpc.list").0, Verdict::Crash);
        assert_eq!(f.calls(), 3);
    }

    #[test]
    fn jitter_stays_in_range() {
        let f = Faults::new((100, 20), 0.0, None, None, 3);
        for _ in 0..200 {
            let ms = f.judge("x").1.as_millis();
            assert!((80..=120).contains(&ms), "{ms}");
        }
    }
}
