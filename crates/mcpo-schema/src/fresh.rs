//! Staleness: is the pulled schema of a server still the one the workspace declares?

use crate::{Files, LOCK_FILE, Lockfile, ServerIdentity, ServerSchema, schema_path};

/// Whether a server's pulled schema can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// The schema file and the lock agree with the declaration.
    Fresh,
    /// Nothing usable was pulled for this server; `reason` says what is missing.
    Missing {
        /// E.g. "`.mcpo/schemas/aws.json` does not exist".
        reason: String,
    },
    /// A schema exists but no longer matches; one sentence per difference.
    Stale {
        /// What changed since the pull.
        changes: Vec<String>,
    },
}

impl Freshness {
    /// The command that fixes a missing or stale schema.
    pub fn fix_command(server: &str) -> String {
        format!("mcpoc schema pull --server {server}")
    }

    /// A one-line message for people (`None` when fresh).
    pub fn message(&self, server: &str) -> Option<String> {
        match self {
            Freshness::Fresh => None,
            Freshness::Missing { reason } => Some(format!(
                "no pulled schema for server `{server}`: {reason}; run `{}`",
                Self::fix_command(server)
            )),
            Freshness::Stale { changes } => Some(format!(
                "the pulled schema of server `{server}` is stale: {}; run `{}`",
                changes.join("; "),
                Self::fix_command(server)
            )),
        }
    }
}

/// What freshness needs of a pulled schema file: the identity it was pulled with and its
/// hash. Reading a big schema and hashing it costs; the checker keeps this per file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledSchema {
    /// What the schema was pulled with (as the file records it).
    pub identity: ServerIdentity,
    /// [`ServerSchema::hash`] of the file.
    pub hash: String,
}

impl PulledSchema {
    /// Reads the text of `.mcpo/schemas/<server>.json` (`shown` names it in messages).
    /// `Err` is why it cannot be used.
    pub fn from_file_text(shown: &str, text: &str) -> Result<PulledSchema, String> {
        let schema = ServerSchema::from_file_text(shown, text).map_err(|e| e.to_string())?;
        Ok(PulledSchema {
            hash: schema.hash(),
            identity: schema.identity,
        })
    }
}

/// What the workspace has for one server: its schema file, if any, and `mcpo.lock`.
#[derive(Debug, Clone, Copy)]
pub struct Pulled<'a> {
    /// `.mcpo/schemas/<server>.json`: `None` when it does not exist, `Some(Err(why))`
    /// when it cannot be used.
    pub schema: Option<Result<&'a PulledSchema, &'a str>>,
    /// `mcpo.lock`: `None` when there is none, `Some(Err(why))` when it cannot be read.
    pub lock: Option<Result<&'a Lockfile, &'a str>>,
}

/// Compares what the workspace declares for `server` now (`declared`) with what was
/// pulled: fresh, missing (with the reason) or stale (with what changed).
pub fn judge(server: &str, declared: &ServerIdentity, pulled: Pulled<'_>) -> Freshness {
    let shown = schema_path(server).display().to_string();
    let schema = match pulled.schema {
        None => {
            return Freshness::Missing {
                reason: format!("`{shown}` does not exist"),
            };
        }
        Some(Err(why)) => {
            return Freshness::Missing {
                reason: why.to_string(),
            };
        }
        Some(Ok(schema)) => schema,
    };
    let lock = match pulled.lock {
        None => {
            return Freshness::Missing {
                reason: format!("`{LOCK_FILE}` does not exist"),
            };
        }
        Some(Err(why)) => {
            return Freshness::Missing {
                reason: why.to_string(),
            };
        }
        Some(Ok(lock)) => lock,
    };
    let Some(entry) = lock.servers.get(server) else {
        return Freshness::Missing {
            reason: format!("`{LOCK_FILE}` has no entry for it"),
        };
    };
    let mut changes = declared.changes_since(&entry.identity);
    if changes.is_empty() && schema.hash != entry.schema_hash {
        changes.push(format!(
            "`{shown}` does not match the hash recorded in `{LOCK_FILE}`"
        ));
    }
    if changes.is_empty() && schema.identity != entry.identity {
        changes.push(format!(
            "`{shown}` was pulled with a different declaration than `{LOCK_FILE}` records"
        ));
    }
    if changes.is_empty() {
        Freshness::Fresh
    } else {
        Freshness::Stale { changes }
    }
}

/// [`judge`] with the schema file read through `files`. `lock` is the parsed lock file
/// (`None` when there is none); reading errors of the schema file count as missing.
pub fn freshness(
    files: &dyn Files,
    lock: Option<&Lockfile>,
    server: &str,
    declared: &ServerIdentity,
) -> Freshness {
    let path = schema_path(server);
    let shown = path.display().to_string();
    let schema = match files.read(&path) {
        Ok(Some(text)) => Some(PulledSchema::from_file_text(&shown, &text)),
        Ok(None) => None,
        Err(e) => Some(Err(format!("`{shown}` cannot be read ({e})"))),
    };
    let schema = schema.as_ref().map(|s| s.as_ref().map_err(String::as_str));
    judge(
        server,
        declared,
        Pulled {
            schema,
            lock: lock.map(Ok),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LockEntry, MemoryFiles, SCHEMA_VERSION};
    use std::path::Path;

    fn pulled(files: &MemoryFiles, identity: &ServerIdentity) -> Lockfile {
        let schema = ServerSchema {
            format: SCHEMA_VERSION,
            server: "mem".into(),
            identity: identity.clone(),
            protocol_version: "2025-06-18".into(),
            server_info: None,
            pulled_at: "2026-11-24T00:00:00Z".into(),
            tools: vec![],
            resource_templates: vec![],
        };
        let _ = files.write(&schema_path("mem"), &schema.to_file_text());
        let mut lock = Lockfile::default();
        lock.servers.insert(
            "mem".into(),
            LockEntry {
                identity: identity.clone(),
                protocol_version: schema.protocol_version.clone(),
                server_info: None,
                tools: 0,
                schema_hash: schema.hash(),
            },
        );
        lock
    }

    #[test]
    fn missing_fresh_and_stale() {
        let files = MemoryFiles::new();
        let id = ServerIdentity::stdio("node", vec!["mem.js".into()], []);
        let f = freshness(&files, None, "mem", &id);
        assert_eq!(
            f.message("mem").unwrap_or_default(),
            "no pulled schema for server `mem`: `.mcpo/schemas/mem.json` does not exist; run `mcpoc schema pull --server mem`"
        );
        let lock = pulled(&files, &id);
        assert_eq!(freshness(&files, Some(&lock), "mem", &id), Freshness::Fresh);
        let changed = ServerIdentity::stdio("node", vec!["other.js".into()], []);
        let f = freshness(&files, Some(&lock), "mem", &changed);
        assert_eq!(
            f.message("mem").unwrap_or_default(),
            "the pulled schema of server `mem` is stale: arguments changed from [\"mem.js\"] to [\"other.js\"]; run `mcpoc schema pull --server mem`"
        );
        let _ = files.write(Path::new(".mcpo/schemas/mem.json"), "{\"format\":1}");
        assert!(matches!(
            freshness(&files, Some(&lock), "mem", &id),
            Freshness::Missing { .. }
        ));
    }

    #[test]
    fn edited_schema_file_is_stale() {
        let files = MemoryFiles::new();
        let id = ServerIdentity::stdio("node", vec![], []);
        let lock = pulled(&files, &id);
        let text = files
            .read(&schema_path("mem"))
            .ok()
            .flatten()
            .unwrap_or_default();
        let _ = files.write(
            &schema_path("mem"),
            &text.replace("2025-06-18", "2025-03-26"),
        );
        let f = freshness(&files, Some(&lock), "mem", &id);
        assert!(
            matches!(f, Freshness::Stale { ref changes } if changes.first().is_some_and(|c| c.contains("does not match the hash")))
        );
    }
}
