//! Helpers shared by the integration tests: locating the npm test servers and the
//! `mcpoc` binary (for the twins), and small fake servers written as scripts.

#![allow(dead_code)]

use std::path::PathBuf;

/// Where `scripts/install-test-servers.sh` installs the npm servers.
pub fn test_servers_dir() -> PathBuf {
    match std::env::var_os("MCPO_TEST_SERVERS") {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/mcpo-test-servers")
        }
    }
}

/// The entry script of an installed npm server package (e.g. `server-memory`), or `None`
/// after printing why the test is skipped. With `MCPO_REQUIRE_TEST_SERVERS=1` (CI) a
/// missing server fails the test instead.
pub fn npm_server(package: &str) -> Option<String> {
    let path = test_servers_dir()
        .join("node_modules/@modelcontextprotocol")
        .join(package)
        .join("dist/index.js");
    if path.is_file() {
        return Some(path.display().to_string());
    }
    let msg = format!(
        "skipped: {} is not installed (run scripts/install-test-servers.sh)",
        path.display()
    );
    if std::env::var("MCPO_REQUIRE_TEST_SERVERS").is_ok_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("{msg}");
    None
}

/// The `mcpoc` binary built for this test run (it runs the twins), if cargo built it.
pub fn mcpoc() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug/mcpoc")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Writes an executable script into `dir` and returns its path.
pub fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let _ = std::fs::write(&path, body);
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
    path.display().to_string()
}
