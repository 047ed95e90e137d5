//! `mcpoc lsp`: the language server on stdin/stdout (all of it lives in `mcpo-lsp`).

/// Serves until the client exits; exit 2 if the server cannot start.
pub fn run() -> u8 {
    match mcpo_lsp::run_stdio() {
        Ok(()) => crate::EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            crate::EXIT_USAGE
        }
    }
}
