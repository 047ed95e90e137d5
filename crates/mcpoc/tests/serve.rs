//! `mcpoc serve` driven by the official Python MCP client (`tests/serve/drive.py`) as an AI
//! client drives it, against the twins: over stdio with both protocol eras' approval
//! (elicitation requests, and `input_required` results), over HTTP with a bearer token,
//! with `mcpoc approve` in a terminal, the seed's requests, and an injected fault.
//!
//! Needs `pip install "mcp==2.3.0"`. Without it the tests fail under CI (env `CI` set) and
//! otherwise print why they did not run.

use std::path::{Path, PathBuf};
use std::process::Command;

const MCPOC: &str = env!("CARGO_BIN_EXE_mcpoc");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `PATH` with the binary under test first (the workspace's `server` blocks run `mcpoc`).
fn path_with_mcpoc() -> String {
    let bin = Path::new(MCPOC)
        .parent()
        .expect("the binary has a directory");
    match std::env::var("PATH") {
        Ok(p) if !p.is_empty() => format!("{}:{p}", bin.display()),
        _ => bin.display().to_string(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of `tests/serve/workspace` with its schemas pulled; with `fault`, the docker
/// twin fails every tool call (a transient error).
fn workspace(fault: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo().join("tests/serve/workspace"), dir.path());
    if fault {
        let servers = dir.path().join("servers.mcpo");
        let text = std::fs::read_to_string(&servers).expect("read servers.mcpo");
        let faulty = text.replace(
            "\"docker\", \"--state-dir\", \".mcpo/twins/docker\"",
            "\"docker\", \"--state-dir\", \".mcpo/twins/docker\", \"--fail-rate\", \"1\"",
        );
        assert_ne!(text, faulty, "the docker server block was found");
        std::fs::write(&servers, faulty).expect("write servers.mcpo");
    }
    let pull = Command::new(MCPOC)
        .args(["schema", "pull"])
        .current_dir(dir.path())
        .env("PATH", path_with_mcpoc())
        .output()
        .expect("run mcpoc schema pull");
    assert!(
        pull.status.success(),
        "schema pull: {}",
        String::from_utf8_lossy(&pull.stderr)
    );
    dir
}

fn python_client_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let reason = "python3 with the `mcp` package is not available; install it with: python3 -m pip install \"mcp==2.3.0\"";
        assert!(std::env::var_os("CI").is_none(), "{reason}");
        eprintln!("SKIPPED: {reason}");
    }
    ok
}

fn scenario(name: &str, fault: bool) {
    if !python_client_available() {
        return;
    }
    let ws = workspace(fault);
    let output = Command::new("python3")
        .arg(repo().join("tests/serve/drive.py"))
        .args([name, MCPOC])
        .arg(ws.path())
        .env("PATH", path_with_mcpoc())
        .output()
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains(&format!("scenario {name}: passed")),
        "scenario {name} failed:\n{stdout}\n{stderr}"
    );
}

/// check (an error, then fixed) -> plan -> declined -> approved -> apply -> query ->
/// stale plans -> destroy; bad plan ids; prompts, resources and the audit journal.
#[test]
fn stdio_with_elicitation() {
    scenario("stdio", false);
}

/// The 2026-07-28 lifecycle: approval through `input_required` results.
#[test]
fn stdio_with_multi_round_trip_approval() {
    scenario("mrtr", false);
}

/// A client without elicitation: `mcpoc approve PLAN_ID` on a terminal, for that plan only.
#[test]
fn approval_in_a_terminal() {
    scenario("terminal", false);
}

/// The seed's requests: the dev environment, the PCI shop, a modify of `min_instances`.
#[test]
fn the_seed_requests() {
    scenario("seed", false);
}

/// Troubleshoot after an injected fault names the failed step and its code.
#[test]
fn troubleshoot_after_a_fault() {
    scenario("fault", true);
}

/// Streamable HTTP: the bearer token, foreign Host/Origin refused, the loop over HTTP.
#[test]
fn http_with_a_bearer_token() {
    scenario("http", false);
}

/// list_runbooks; run_runbook dry, declined, stopped by a declined approval step, run;
/// refused with the terminal command when the client has no approval dialog.
#[test]
fn runbooks_are_listed_and_run_with_approval() {
    scenario("runbook", false);
}

/// run_runbook for a 2026-07-28 client: the run and each approval step one `input_required`
/// round trip, resuming the same run; a declined step compensates; made-up, replayed and
/// expired request states are E0642; an expired question interrupts the run, releases the
/// lock, and `mcpoc run --resume` finishes it.
#[test]
fn runbooks_for_multi_round_trip_clients() {
    scenario("runbook_mrtr", false);
}

/// `--print-config` for Claude Desktop, VS Code and Cursor; the Claude Desktop snippet, run
/// as the client would run it, serves the workspace.
#[test]
fn print_config_registers_a_working_server() {
    scenario("config", false);
}
