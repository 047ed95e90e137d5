//! The state lock: an exclusive OS advisory lock (`flock` on Unix, through
//! [`std::fs::File::try_lock`]) on `.mcpo/state/lock`, held for a [`LockGuard`]'s lifetime.
//!
//! The lock itself is the OS lock, not the file: when the holder dies, the OS releases it,
//! so a crashed `apply` never blocks the next one. The file only *describes* the holder
//! (command, pid, host, since) so that a second process can say who it waits for. The file
//! is never deleted: removing a lock file that others may have open would let two processes
//! lock two different files.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who holds the state lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The command, e.g. `mcpoc apply`.
    pub command: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's host name.
    pub host: String,
    /// When it took the lock (RFC 3339, UTC), e.g. `2026-11-24T20:31:02Z`.
    pub since: String,
}

impl LockInfo {
    /// Describes this process running `command`, from now.
    pub fn current(command: impl Into<String>) -> LockInfo {
        LockInfo {
            command: command.into(),
            pid: std::process::id(),
            host: hostname(),
            since: rfc3339(SystemTime::now()),
        }
    }
}

/// Holds a state lock until dropped. Each backend puts its own handle inside (an open
/// locked file, a database session); dropping the guard releases the lock.
pub struct LockGuard {
    info: LockInfo,
    _held: Box<dyn Send + Sync>,
}

impl LockGuard {
    /// A guard for a lock taken by `info`, released when `held` is dropped.
    pub fn new(info: LockInfo, held: impl Send + Sync + 'static) -> LockGuard {
        LockGuard {
            info,
            _held: Box::new(held),
        }
    }

    /// Who holds it (this process).
    pub fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("info", &self.info)
            .finish()
    }
}

/// The local backend's lock: the locked file, whose holder description is cleared on drop.
struct FileLock {
    file: File,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Clear the description first; the OS lock goes when the file is closed right after.
        // A failure here is harmless: the next holder overwrites the description.
        let _ = self.file.set_len(0);
    }
}

/// The outcome of one attempt to take the lock.
pub(crate) enum Attempt {
    /// Taken.
    Got(LockGuard),
    /// Held by someone else, who says this about themselves (if readable).
    Held(Option<LockInfo>),
}

/// Tries once to take the lock on `file` (opened read-write) and describe `info` in it.
pub(crate) fn try_take(mut file: File, info: &LockInfo) -> std::io::Result<Attempt> {
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(Attempt::Held(read_holder(&file))),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    let text = serde_json::to_string_pretty(info).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(Attempt::Got(LockGuard::new(
        info.clone(),
        FileLock { file },
    )))
}

/// Reads the holder's description. The holder writes it right after taking the lock, so an
/// empty file is retried for a moment before giving up.
fn read_holder(file: &File) -> Option<LockInfo> {
    for _ in 0..5 {
        let mut text = String::new();
        let mut f = file;
        if f.seek(SeekFrom::Start(0)).is_ok()
            && f.read_to_string(&mut text).is_ok()
            && let Ok(info) = serde_json::from_str::<LockInfo>(&text)
        {
            return Some(info);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// This machine's host name (`unknown` when it cannot be found).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Formats a time as RFC 3339 in UTC with seconds, e.g. `2026-11-24T20:31:02Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_in_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_552_262);
        assert_eq!(rfc3339(t), "2026-11-24T20:31:02Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
