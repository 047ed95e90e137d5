//! The twins checked by a client nobody on this project wrote: the official Python `mcp`
//! package (`tests/twins/check_tools.py`), over stdio, with both lifecycles.
//!
//! Needs `pip install "mcp==2.3.0"`. Without it the test fails under CI (env `CI` set) and
//! otherwise prints why it did not run.

use std::path::Path;
use std::process::Command;

#[test]
fn official_python_client_accepts_every_twin() {
    let has_mcp = Command::new("python3")
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_mcp {
        let reason = "python3 with the `mcp` package is not available; install it with: python3 -m pip install \"mcp==2.3.0\"";
        assert!(std::env::var_os("CI").is_none(), "{reason}");
        eprintln!("SKIPPED official_python_client_accepts_every_twin: {reason}");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/twins/check_tools.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_mcpoc"))
        .output()
        .expect("run the Python checker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the Python mcp client found problems:\n{stdout}\n{stderr}"
    );
    for twin in ["opnsense", "aws", "docker", "kubernetes"] {
        for lifecycle in ["initialize", "discover"] {
            assert!(
                stdout.contains(&format!("{twin} ({lifecycle}): protocol")),
                "{twin} over {lifecycle} was not checked:\n{stdout}"
            );
        }
    }
}
