//! `mcpoc lsp`: the language server on stdin/stdout (all of it lives in `mcpo-lsp`; this
//! front end lends it discovery, which lives in `mcpo-mcp`).

use std::sync::Arc;

/// Serves until the client exits; exit 2 if the server cannot start.
pub fn run() -> u8 {
    // The same discovery as `mcpoc check` (no mDNS): files and the environment only.
    let discover: mcpo_lsp::Discover =
        Arc::new(|root| mcpo_deploy::servers::identities(&mcpo_deploy::servers::discover_at(root)));
    match mcpo_lsp::run_stdio(Some(discover)) {
        Ok(()) => crate::EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            crate::EXIT_USAGE
        }
    }
}
