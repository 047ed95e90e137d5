//! The on-disk formats of pulled MCP server schemas and `mcpo.lock`, and staleness.
//!
//! `mcpoc schema pull` connects to each server and stores what it found in
//! `.mcpo/schemas/<server>.json` ([`ServerSchema`]): the tools (name, title, description,
//! input and output schemas, annotations), the resource templates, and everything the tool
//! list depends on ([`ServerIdentity`]: command, arguments, the *names* of the environment
//! variables set, URL and header names, the client capabilities declared), plus the
//! protocol version and server name/version it answered with. `mcpo.lock` ([`Lockfile`])
//! records each server's identity and the SHA-256 of its schema's canonical JSON.
//!
//! The checker reads only these files: [`freshness`] compares what the workspace declares
//! now with what was pulled and says whether the schema is fresh, missing or stale, with
//! a message that names the command to run.
//!
//! **Architecture invariant:** no MCP library types (rmcp) and no network. File access
//! goes through the [`Files`] trait so tests and the language server can supply their own.
//! [`types`] turns JSON Schema into mcpo types ([`Ty`]).

#![warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod canonical;
mod files;
mod fresh;
mod lock;
mod schema;
pub mod types;

pub use canonical::canonical_json;
pub use files::{DiskFiles, Files, MemoryFiles, read_pulled_schemas};
pub use fresh::{Freshness, Pulled, PulledSchema, freshness, judge};
pub use lock::{LOCK_FILE, LOCK_VERSION, LockEntry, Lockfile, ModuleLock};
pub use schema::{
    CLIENT_CAPABILITIES, DeclaredTransport, ResourceTemplate, SCHEMA_DIR, SCHEMA_VERSION,
    ServerIdentity, ServerInfo, ServerSchema, ToolSchema, TransportKind, schema_path,
    validate_server_name,
};
pub use types::{Attr, Constraints, Converted, ObjectTy, SchemaWarning, Ty, convert};

/// A problem reading or writing a schema file or the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// The file, relative to the workspace root.
    pub file: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.file, self.reason)
    }
}

impl std::error::Error for FormatError {}
