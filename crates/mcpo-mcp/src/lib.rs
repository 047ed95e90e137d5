//! The MCP client of mcpo: connections to servers, the server registry and discovery,
//! and pulling schemas.
//!
//! This is the only crate (besides the twins) that knows `rmcp`: its types stay private
//! (rmcp changes its API with every major version), and callers see [`Connection`],
//! [`ServerSpec`], [`McpError`] and the `mcpo-schema` types.
//!
//! **Architecture invariant:** no knowledge of `.mcpo` syntax or semantics; `server`
//! blocks arrive as already-resolved [`ServerSpec`]s.

#![warn(clippy::unwrap_used, clippy::expect_used)]

mod child;
pub mod conformance;
mod conn;
pub mod discovery;
mod error;
pub mod mdns;
mod pull;
mod spec;
mod wire;

pub use conn::{
    CallOptions, ConnectOptions, Connection, ElicitationPolicy, Lifecycle, Progress,
    ResourceUpdates, ToolOutput,
};
pub use error::{ErrorKind, McpError, show_duration};
pub use pull::{pull, pulled_at_now};
pub use spec::{
    DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_MESSAGE_BYTES, HttpSpec, ServerSpec,
    Source, StdioSpec, Transport,
};

/// A short reason for an I/O error, without Rust's `(os error N)` suffix.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
