//! mDNS discovery end to end: a server announced as `_mcp._tcp.local.` is found by
//! [`mcpo_mcp::mdns::browse`]. Multicast must never reach the host's real interfaces, so
//! the test re-runs itself inside a fresh network namespace (`unshare --net`, which needs
//! root or user namespaces) that has only a loopback interface; where no namespace can
//! be created it is skipped with the reason printed.

use std::process::Command;
use std::time::Duration;

const INSIDE: &str = "MCPO_MDNS_TEST_IN_NETNS";
const TEST: &str = "announced_server_is_discovered_in_a_private_network_namespace";

#[test]
fn announced_server_is_discovered_in_a_private_network_namespace() {
    if std::env::var_os(INSIDE).is_some() {
        inside_namespace();
        return;
    }
    let probe = Command::new("unshare").args(["--net", "true"]).output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "skipped: cannot create a network namespace (unshare --net: {})",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: `unshare` is not available ({e})");
            return;
        }
    }
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("unshare")
        .args(["--net", "--", "sh", "-c"])
        .arg("ip link set lo up && ip link set lo multicast on && exec \"$0\" \"$@\"")
        .arg(&exe)
        .args([TEST, "--exact", "--nocapture", "--test-threads", "1"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "inside the namespace:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

fn inside_namespace() {
    let _announcement = mcpo_mcp::mdns::announce("twin-aws", "127.0.0.1", 8931, "/mcp", "aws")
        .unwrap_or_else(|e| panic!("{e}"));
    let found = mcpo_mcp::mdns::browse(Duration::from_secs(3)).unwrap_or_else(|e| panic!("{e}"));
    let summary: Vec<(String, String, String)> = found
        .iter()
        .map(|s| (s.name.clone(), s.target(), s.source.to_string()))
        .collect();
    assert_eq!(
        summary,
        vec![(
            "aws".to_string(),
            "http://127.0.0.1:8931/mcp".to_string(),
            "mdns (twin-aws._mcp._tcp.local.)".to_string()
        )]
    );
}
