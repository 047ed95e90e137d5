//! `mcpo.lock`: each server's identity and the hash of its pulled schema (TOML).

use crate::{FormatError, ServerIdentity, ServerInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The lock file's name, at the workspace root.
pub const LOCK_FILE: &str = "mcpo.lock";

/// Version of the lock file format.
pub const LOCK_VERSION: u32 = 1;

/// The contents of `mcpo.lock`. Servers are kept in a `BTreeMap`, so the file's text
/// depends only on its contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lockfile {
    /// Format version ([`LOCK_VERSION`]).
    pub version: u32,
    /// One entry per server, by name.
    #[serde(default)]
    pub servers: BTreeMap<String, LockEntry>,
    /// One entry per fetched module (git and registry sources), by its source and version
    /// constraint as the `use` writes them (`acme/web @ ~> 1.2`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, ModuleLock>,
}

/// One module in `mcpo.lock`: what `mcpoc get` fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleLock {
    /// The exact version: a registry module's version, or a git module's commit.
    pub version: String,
    /// `sha256:<hex>` of the module's content (every file, by path).
    pub hash: String,
}

impl Default for Lockfile {
    fn default() -> Self {
        Self {
            version: LOCK_VERSION,
            servers: BTreeMap::new(),
            modules: BTreeMap::new(),
        }
    }
}

/// One server in `mcpo.lock`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockEntry {
    /// What the schema was pulled with.
    pub identity: ServerIdentity,
    /// The protocol version the server answered with.
    pub protocol_version: String,
    /// The server's own name and version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<ServerInfo>,
    /// Number of tools pulled.
    pub tools: usize,
    /// `sha256:<hex>` of the schema file's canonical JSON ([`crate::ServerSchema::hash`]).
    pub schema_hash: String,
}

impl Lockfile {
    /// The file's text, with a header comment.
    pub fn to_file_text(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# mcpo.lock: written by `mcpoc schema pull` and `mcpoc get`; commit it, do not edit it.\n\
             # Each server's identity and the hash of .mcpo/schemas/<server>.json; each\n\
             # fetched module's exact version and the hash of its content.\n\n{body}"
        )
    }

    /// Parses the file's text.
    pub fn from_file_text(text: &str) -> Result<Lockfile, FormatError> {
        let lock: Lockfile = toml::from_str(text).map_err(|e| FormatError {
            file: crate::LOCK_FILE.to_string(),
            reason: format!("not a valid lock file ({})", e.message()),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(FormatError {
                file: crate::LOCK_FILE.to_string(),
                reason: format!(
                    "unsupported lock file version {} (this mcpoc reads version {LOCK_VERSION})",
                    lock.version
                ),
            });
        }
        Ok(lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_deterministically() {
        let mut lock = Lockfile::default();
        for name in ["zeta", "alpha"] {
            lock.servers.insert(
                name.to_string(),
                LockEntry {
                    identity: ServerIdentity::http("http://127.0.0.1:1/mcp", ["X-Token".into()]),
                    protocol_version: "2025-06-18".into(),
                    server_info: None,
                    tools: 3,
                    schema_hash: "sha256:00".into(),
                },
            );
        }
        let text = lock.to_file_text();
        assert!(
            text.find("[servers.alpha").unwrap_or(usize::MAX)
                < text.find("[servers.zeta").unwrap_or(0)
        );
        let back = Lockfile::from_file_text(&text);
        assert_eq!(back.as_ref().ok(), Some(&lock));
        assert_eq!(back.map(|b| b.to_file_text()).ok(), Some(text));
    }

    #[test]
    fn rejects_garbage() {
        let e = Lockfile::from_file_text("version = 7\n");
        assert!(e.is_err_and(|e| e.reason.contains("unsupported lock file version 7")));
        assert!(Lockfile::from_file_text("[[[").is_err());
    }
}
