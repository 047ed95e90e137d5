//! The mcpo language server: the Language Server Protocol over [`mcpo_ide`], on stdio.
//!
//! This crate is protocol only. It owns the workspace model of an editor session (the
//! root folder's `*.mcpo` files read from disk, open documents overriding them, the pulled
//! schemas under `<root>/.mcpo/schemas/`), feeds them into the salsa database of
//! `mcpo-sema` as inputs, and converts between LSP positions (lines, UTF-16 columns, URIs)
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
//! never plans or applies and never calls an MCP server: it reads files and pulled
//! schemas only.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

mod convert;
mod features;
mod framing;
mod host;
mod server;

/// Serves the protocol on stdin/stdout until the client exits. Returns an error message
/// if the runtime cannot start.
pub fn run_stdio() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the language server's runtime: {e}"))?;
    runtime.block_on(serve(tokio::io::stdin(), tokio::io::stdout()));
    // After `exit` the client may keep stdin open: a read of it may still be blocked on a
    // thread of the runtime, which a plain drop would wait for.
    runtime.shutdown_background();
    Ok(())
}

/// Serves the protocol on any byte streams (`input` from the client, `output` to it)
/// until the client exits; inside a multi-threaded tokio runtime. The benchmark runs the
/// server in-process this way, over pipes, with real JSON-RPC framing. Every message
/// passes through [`framing`], which answers what the protocol library cannot decode.
pub async fn serve(input: impl tokio::io::AsyncRead + Unpin, output: impl tokio::io::AsyncWrite) {
    let (service, socket) = tower_lsp_server::LspService::new(server::Backend::new);
    framing::serve(input, output, service, socket).await;
}
