//! `mcpoc mcp-conformance-client URL` (hidden): the MCP conformance suite's client
//! scenarios through mcpo's real client layer (`mcpo_mcp::conformance`); the suite names
//! the scenario in `MCP_CONFORMANCE_SCENARIO`. See `scripts/conformance.sh`.

use crate::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};

/// Runs the scenario named in `MCP_CONFORMANCE_SCENARIO` against `url`.
pub fn run(url: &str) -> u8 {
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return EXIT_USAGE;
    };
    let (lines, code) = match rt.block_on(mcpo_mcp::conformance::run(url, &scenario)) {
        Ok(lines) => (lines, EXIT_OK),
        Err(lines) => (lines, EXIT_ERRORS),
    };
    for line in lines {
        eprintln!("{line}");
    }
    code
}
