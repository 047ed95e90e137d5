//! The mcpo language server: the Language Server Protocol over [`mcpo_ide`], on stdio.
//!
//! This crate is protocol only. It owns the workspace model of an editor session (the
//! root folder's `*.mcpo` files read from disk, open documents overriding them, the pulled
//! schemas under `<root>/.mcpo/schemas/`, `mcpo.lock`, the environment, and the servers
//! a [`Discover`] hook finds), feeds them into the salsa database of `mcpo-sema` as
//! inputs, and converts between LSP positions (lines, UTF-16 columns, URIs)
//! and the byte offsets of `mcpo-ide`.
//!
//! Concurrency (salsa 0.28): the master database lives in a `Mutex` ([`host`]). Edits are
//! funnelled through one writer thread that applies them in order, checking document
//! versions; each request or diagnostics run works on a clone (a snapshot) on a blocking
//! thread, inside [`salsa::Cancelled::catch`]: an edit cancels the queries running on
//! older snapshots, which then answer `ContentModified` or are dropped. Diagnostics are
//! debounced and published only for the newest state.
//!
//! **Architecture invariant:** the only crate that knows LSP types. The language server
//! never plans or applies and never calls an MCP server: it reads files, pulled schemas
//! and the lock, and gets discovered servers from its front end.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

use mcpo_schema::ServerIdentity;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

mod convert;
mod features;
mod framing;
mod host;
mod server;

/// Finds the servers declared outside the workspace's `.mcpo` files (`mcpo.toml`,
/// `MCPO_SERVER_*`, editor configurations) for the workspace at the given root: their
/// identities by name, which `server` blocks without `command` or `url` are checked
/// against. Discovery belongs to the MCP client crate, which the language server does not
/// depend on; the front end (`mcpoc lsp`) passes it in.
pub type Discover = Arc<dyn Fn(&Path) -> BTreeMap<String, ServerIdentity> + Send + Sync>;

/// Serves the protocol on stdin/stdout until the client exits. Returns an error message
/// if the runtime cannot start.
pub fn run_stdio(discover: Option<Discover>) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the language server's runtime: {e}"))?;
    runtime.block_on(serve_with(
        tokio::io::stdin(),
        tokio::io::stdout(),
        discover,
    ));
    // After `exit` the client may keep stdin open: a read of it may still be blocked on a
    // thread of the runtime, which a plain drop would wait for.
    runtime.shutdown_background();
    Ok(())
}

/// Serves the protocol on any byte streams (`input` from the client, `output` to it)
/// until the client exits; inside a multi-threaded tokio runtime. The benchmark runs the
/// server in-process this way, over pipes, with real JSON-RPC framing. No discovery:
/// `server` blocks without a transport are reported as not found.
pub async fn serve(input: impl tokio::io::AsyncRead + Unpin, output: impl tokio::io::AsyncWrite) {
    serve_with(input, output, None).await;
}

/// [`serve`] with a discovery hook. Every message passes through [`framing`], which
/// answers what the protocol library cannot decode.
pub async fn serve_with(
    input: impl tokio::io::AsyncRead + Unpin,
    output: impl tokio::io::AsyncWrite,
    discover: Option<Discover>,
) {
    let (service, socket) =
        tower_lsp_server::LspService::new(move |client| server::Backend::new(client, discover));
    framing::serve(input, output, service, socket).await;
}
