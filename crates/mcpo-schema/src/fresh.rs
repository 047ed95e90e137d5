//! Staleness: is the pulled schema of a server still the one the workspace declares?

use crate::{Files, LOCK_FILE, Lockfile, ServerIdentity, ServerSchema, schema_path};

/// Whether a server's pulled schema can be used.
#[derive(Debug, Clone, PartialEq)]
pub enum Freshness {
    /// The schema file and the lock agree with the declaration.
    Fresh(Box<ServerSchema>),
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
            Freshness::Fresh(_) => None,
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

/// Compares what the workspace declares for `server` now (`declared`) with `mcpo.lock`
/// and `.mcpo/schemas/<server>.json`. `lock` is the parsed lock file (`None` when there
/// is none); reading errors of the schema file count as missing.
pub fn freshness(
    files: &dyn Files,
    lock: Option<&Lockfile>,
    server: &str,
    declared: &ServerIdentity,
) -> Freshness {
    let path = schema_path(server);
    let shown = path.display().to_string();
    let text = match files.read(&path) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return Freshness::Missing {
                reason: format!("`{shown}` does not exist"),
            };
        }
        Err(e) => {
            return Freshness::Missing {
                reason: format!("`{shown}` cannot be read ({e})"),
            };
        }
    };
    let schema = match ServerSchema::from_file_text(&shown, &text) {
        Ok(s) => s,
        Err(e) => {
            return Freshness::Missing {
                reason: e.to_string(),
            };
        }
    };
    let Some(lock) = lock else {
        return Freshness::Missing {
            reason: format!("`{LOCK_FILE}` does not exist"),
        };
    };
    let Some(entry) = lock.servers.get(server) else {
        return Freshness::Missing {
            reason: format!("`{LOCK_FILE}` has no entry for it"),
        };
    };
    let mut changes = declared.changes_since(&entry.identity);
    if changes.is_empty() && schema.hash() != entry.schema_hash {
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
        Freshness::Fresh(Box::new(schema))
    } else {
        Freshness::Stale { changes }
    }
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
        assert!(matches!(
            freshness(&files, Some(&lock), "mem", &id),
            Freshness::Fresh(_)
        ));
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
