//! Ctrl-C while `mcpoc` talks to servers: it exits 130 and leaves no server process behind,
//! including processes the server itself started.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn ctrl_c_during_schema_pull_stops_every_server_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A server that never answers the handshake and has a child of its own.
    let marker = format!("mcpo-interrupt-test-{}", std::process::id());
    let script = dir.path().join("silent-server.sh");
    // Each process carries the marker in its command line (as `$0` of `sh -c`), so the test
    // can find them without knowing their pids.
    let body =
        format!("#!/bin/sh\nsh -c 'sleep 300' {marker} &\nexec sh -c 'sleep 300; true' {marker}\n");
    std::fs::write(&script, body).expect("write script");
    std::fs::write(
        dir.path().join("main.mcpo"),
        format!(
            "server \"silent\" {{\n  command = \"sh\"\n  args    = [\"{}\"]\n}}\n",
            script.display()
        ),
    )
    .expect("write main.mcpo");

    let child = Command::new(env!("CARGO_BIN_EXE_mcpoc"))
        .args(["schema", "pull"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcpoc");

    // Wait until the server (and its child) are running.
    let start = Instant::now();
    while processes_with(&marker).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the silent server never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let start = Instant::now();
    loop {
        let left = processes_with(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "server processes left behind after Ctrl-C: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
