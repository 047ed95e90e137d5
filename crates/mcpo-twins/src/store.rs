//! The twin's world: every resource it holds, persisted as one JSON file written atomically.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Version of the state file format.
const FORMAT_VERSION: u32 = 1;

/// One resource as the twin stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The resource's id, unique within its type.
    pub id: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Start of the latest transition (creation or an update that restarts a rollout).
    pub changed_ms: u64,
    /// When the latest transition completes (e.g. pending -> running).
    pub ready_ms: u64,
    /// The inputs as last written by create or update (secrets included: the twin is the
    /// system of record, it only never echoes them).
    pub inputs: Value,
    /// Values the twin computed (ids, addresses, ARNs, ...).
    pub attrs: Map<String, Value>,
}

impl Record {
    /// A computed string attribute, or "" when absent.
    pub(crate) fn attr_str(&self, key: &str) -> &str {
        self.attrs
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A computed attribute decoded into `T`, or its default.
    pub(crate) fn attr<T: serde::de::DeserializeOwned + Default>(&self, key: &str) -> T {
        self.attrs
            .get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// An input field as a string, or "" when absent.
    pub(crate) fn input_str(&self, key: &str) -> &str {
        self.inputs
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// An input field holding a list of strings (empty when absent).
    pub(crate) fn input_strs(&self, key: &str) -> Vec<&str> {
        self.inputs
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Progress of the latest transition, from 0.0 (just started) to 1.0 (done).
    pub(crate) fn progress(&self, now: u64) -> f64 {
        if now >= self.ready_ms || self.ready_ms <= self.changed_ms {
            1.0
        } else {
            now.saturating_sub(self.changed_ms) as f64 / (self.ready_ms - self.changed_ms) as f64
        }
    }

    /// True once the latest transition has completed.
    pub(crate) fn ready(&self, now: u64) -> bool {
        now >= self.ready_ms
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    counter: u64,
    resources: BTreeMap<String, BTreeMap<String, Record>>,
}

/// Everything a twin knows, plus what it needs to make new ids.
#[derive(Debug)]
pub(crate) struct World {
    resources: BTreeMap<String, BTreeMap<String, Record>>,
    counter: u64,
    seed: u64,
    /// Length of pending -> running style transitions for new resources, in milliseconds.
    pub ready_delay_ms: u64,
    path: Option<PathBuf>,
    /// Held open for the process's life: an exclusive lock on `<twin>.lock`, so that two
    /// twins never write the same state file (the OS drops it if the process dies).
    _lock: Option<std::fs::File>,
}

impl World {
    /// Loads the world from `dir/<twin>.json`, or starts empty (in memory when `dir` is None).
    pub(crate) fn load(
        dir: Option<&Path>,
        twin: &str,
        seed: u64,
        ready_delay_ms: u64,
    ) -> anyhow::Result<World> {
        let (path, lock) = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the state directory {}: {e}", dir.display())
                })?;
                (
                    Some(dir.join(format!("{twin}.json"))),
                    Some(lock_dir(dir, twin)?),
                )
            }
            None => (None, None),
        };
        let file = match &path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    anyhow::anyhow!("cannot read the state file {}: {e}", p.display())
                })?;
                let file: StateFile = serde_json::from_str(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "the state file {} is not valid twin state: {e}",
                        p.display()
                    )
                })?;
                if file.version != FORMAT_VERSION {
                    anyhow::bail!(
                        "the state file {} has format version {}, this twin reads version {FORMAT_VERSION}",
                        p.display(),
                        file.version
                    );
                }
                file
            }
            _ => StateFile::default(),
        };
        Ok(World {
            resources: file.resources,
            counter: file.counter,
            seed,
            ready_delay_ms,
            path,
            _lock: lock,
        })
    }

    /// Writes the state file atomically: a temporary file in the same directory, then rename.
    pub(crate) fn save(&self) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = StateFileRef {
            version: FORMAT_VERSION,
            counter: self.counter,
            resources: &self.resources,
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| format!("cannot encode the twin state: {e}"))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("cannot write the twin state to {}: {e}", path.display()))
    }

    /// The next pseudo-random number: a pure function of the seed and how many were drawn,
    /// so that a seeded twin hands out the same ids for the same sequence of calls.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.counter += 1;
        splitmix64(self.seed ^ self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// A fresh id like `vpc-0a1b2c3d`: `prefix` followed by `len` hex digits.
    pub(crate) fn hex_id(&mut self, prefix: &str, len: usize) -> String {
        let mut out = String::from(prefix);
        while out.len() < prefix.len() + len {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(prefix.len() + len);
        out
    }

    /// A fresh RFC 4122 style version 4 UUID.
    pub(crate) fn uuid(&mut self) -> String {
        let h = self.hex_id("", 32);
        let (a, rest) = h.split_at(8);
        let (b, rest) = rest.split_at(4);
        let (_, rest) = rest.split_at(1);
        let (c, rest) = rest.split_at(3);
        let (_, rest) = rest.split_at(1);
        let (d, e) = rest.split_at(3);
        format!("{a}-{b}-4{c}-a{d}-{e}")
    }

    /// The resource of type `ty` with id `id`.
    pub(crate) fn get(&self, ty: &str, id: &str) -> Option<&Record> {
        self.resources.get(ty).and_then(|m| m.get(id))
    }

    /// All resources of type `ty`, ordered by id.
    pub(crate) fn all(&self, ty: &str) -> impl Iterator<Item = &Record> {
        self.resources.get(ty).into_iter().flat_map(|m| m.values())
    }

    /// Every (type, record) pair the twin holds.
    pub(crate) fn everything(&self) -> impl Iterator<Item = (&str, &Record)> {
        self.resources
            .iter()
            .flat_map(|(ty, m)| m.values().map(move |r| (ty.as_str(), r)))
    }

    /// Stores a resource (insert or replace).
    pub(crate) fn put(&mut self, ty: &str, record: Record) {
        self.resources
            .entry(ty.to_string())
            .or_default()
            .insert(record.id.clone(), record);
    }

    /// Removes a resource, returning it.
    pub(crate) fn remove(&mut self, ty: &str, id: &str) -> Option<Record> {
        self.resources.get_mut(ty).and_then(|m| m.remove(id))
    }
}

/// Takes the exclusive lock of the `twin` state in `dir`.
fn lock_dir(dir: &Path, twin: &str) -> anyhow::Result<std::fs::File> {
    let path = dir.join(format!("{twin}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another {twin} twin is already using the state directory {}; stop it or choose another --state-dir",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock {}: {e}", path.display())
        }
    }
}

#[derive(Serialize)]
struct StateFileRef<'a> {
    version: u32,
    counter: u64,
    resources: &'a BTreeMap<String, BTreeMap<String, Record>>,
}

/// SplitMix64: a small, well-mixed, deterministic generator step.
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// An RFC 3339 timestamp (UTC, second precision) for `ms` since the epoch.
pub(crate) fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm) on the proleptic Gregorian calendar.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_are_deterministic() -> anyhow::Result<()> {
        let mut a = World::load(None, "aws", 7, 0)?;
        let mut b = World::load(None, "aws", 7, 0)?;
        let id = a.hex_id("vpc-", 8);
        assert_eq!(id, b.hex_id("vpc-", 8));
        assert_eq!(id.len(), 12);
        assert_eq!(a.uuid().len(), 36);
        Ok(())
    }

    #[test]
    fn a_state_directory_has_one_twin_at_a_time() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("mcpo-twins-lock-{}", std::process::id()));
        let first = World::load(Some(&dir), "aws", 1, 0)?;
        let second = World::load(Some(&dir), "aws", 1, 0);
        let message = second.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("another aws twin is already using"),
            "{message}"
        );
        // Another twin kind has its own file and lock.
        World::load(Some(&dir), "docker", 1, 0)?;
        drop(first);
        World::load(Some(&dir), "aws", 1, 0)?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn formats_timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000_000), "2026-11-18T11:06:40Z");
    }
}
