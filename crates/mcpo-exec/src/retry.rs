//! Which failures are retried, and how: exponential backoff with jitter.
//!
//! A failure is retried only when the outcome is known to be "nothing happened, try
//! again" (the server says it is unavailable or throttling: any operation may be retried)
//! or when the call is idempotent (its server marks it `idempotentHint`/`readOnlyHint`)
//! and the outcome is unknown (a timeout). A crashed server is not retried: its connection
//! is gone for the rest of the run.

use mcpo_mcp::{ErrorKind, McpError};
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Calls in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Pause before the first retry; doubles each time.
    pub base: Duration,
    /// Longest pause.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): `base * 2^(attempt-1)`, capped,
    /// with "equal jitter" (half fixed, half random) so that retries of many steps spread.
    pub fn pause(&self, attempt: u32, salt: u64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max);
        let half = cap / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_nanos(splitmix(salt ^ u64::from(attempt)) % nanos)
    }
}

/// Whether the server said the call failed without effect and may succeed later.
pub(crate) fn said_transient(e: &McpError) -> bool {
    let ErrorKind::ToolFailed { message } = &e.kind else {
        return false;
    };
    let m = message.to_ascii_lowercase();
    [
        "serviceunavailable",
        "service unavailable",
        "throttl",
        "too many requests",
        "rate exceeded",
        "temporarily",
        "try again",
        "retrying may succeed",
        "transient",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// Whether to retry a failed call of a tool that is (or is not) idempotent.
pub(crate) fn retryable(e: &McpError, idempotent: bool) -> bool {
    said_transient(e) || (idempotent && matches!(e.kind, ErrorKind::Timeout { .. }))
}

/// Whether a read or delete failed because the resource does not exist.
pub(crate) fn not_found(e: &McpError) -> bool {
    let message = match &e.kind {
        ErrorKind::ToolFailed { message } => message,
        ErrorKind::Rejected { message, .. } => message,
        _ => return false,
    };
    let m = message.to_ascii_lowercase();
    ["does not exist", "not found", "no such", "notfound"]
        .iter()
        .any(|k| m.contains(k))
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A salt for jitter from a step's address and the clock.
pub(crate) fn salt(address: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in address.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    h ^ u64::from(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_stay_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_millis(800),
        };
        for salt in 0..50 {
            let first = p.pause(1, salt);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = p.pause(3, salt);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let tenth = p.pause(10, salt);
            assert!(tenth >= Duration::from_millis(400) && tenth <= Duration::from_millis(800));
        }
    }

    #[test]
    fn only_known_transient_or_idempotent_timeouts_retry() {
        let failed = |m: &str| {
            McpError::new(
                "aws",
                ErrorKind::ToolFailed {
                    message: m.to_string(),
                },
            )
        };
        assert!(retryable(&failed("ServiceUnavailable: try later"), false));
        assert!(!retryable(&failed("cidr_block is invalid"), true));
        let timeout = McpError::new(
            "aws",
            ErrorKind::Timeout {
                after: Duration::from_secs(1),
            },
        );
        assert!(retryable(&timeout, true));
        assert!(!retryable(&timeout, false));
        assert!(not_found(&failed("vpc vpc-1 does not exist")));
    }
}
