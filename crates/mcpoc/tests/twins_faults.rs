//! The fault flags, each proven through a real MCP client: `--latency-ms`, `--fail-rate`
//! with `--seed`, `--crash-after`, `--hang-tool`, and deterministic ids with `--seed`.

mod twins_support;

use serde_json::json;
use std::time::{Duration, Instant};
use twins_support::{STEP, Transport, spawn_http, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_every_call_within_mean_and_jitter() {
    let t = start(
        "aws",
        Transport::Stdio,
        &["--latency-ms", "250,50", "--seed", "1"],
    )
    .await;
    for _ in 0..4 {
        let began = Instant::now();
        t.ok("vpc.list", json!({})).await;
        let took = began.elapsed();
        assert!(
            took >= Duration::from_millis(200),
            "a call took only {took:?}"
        );
        assert!(took < Duration::from_millis(1500), "a call took {took:?}");
    }
    t.stop().await;
    let fast = start("aws", Transport::Stdio, &[]).await;
    let began = Instant::now();
    fast.ok("vpc.list", json!({})).await;
    assert!(
        began.elapsed() < Duration::from_millis(200),
        "without the flag a call is fast"
    );
    fast.stop().await;
}

/// Runs 40 creates against a twin with `--fail-rate 0.4 --seed 9`; returns which failed.
async fn failure_pattern(transport: Transport) -> Vec<bool> {
    let t = start("docker", transport, &["--fail-rate", "0.4", "--seed", "9"]).await;
    let mut pattern = Vec::new();
    for i in 0..40 {
        let result = t
            .call("volume.create", json!({ "name": format!("v{i}") }))
            .await;
        let failed = result.is_error == Some(true);
        if failed {
            let text = twins_support::text_of(&result);
            assert!(text.starts_with("ServiceUnavailable"), "{text}");
        }
        pattern.push(failed);
    }
    // A failed call changed nothing: exactly the successful creates exist.
    let mut listed = None;
    for _ in 0..20 {
        let r = t.call("volume.list", json!({})).await;
        if r.is_error != Some(true) {
            listed = r.structured_content;
            break;
        }
    }
    let items = listed.expect("volume.list succeeded within 20 tries")["items"]
        .as_array()
        .map(Vec::len);
    assert_eq!(items, Some(pattern.iter().filter(|f| !**f).count()));
    t.stop().await;
    pattern
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_rate_fails_that_fraction_reproducibly_with_a_seed() {
    let first = failure_pattern(Transport::Stdio).await;
    let failures = first.iter().filter(|f| **f).count();
    assert!(
        (6..=26).contains(&failures),
        "{failures} of 40 calls failed at rate 0.4"
    );
    let second = failure_pattern(Transport::Http).await;
    assert_eq!(first, second, "the same seed gives the same failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_n_exits_the_process() {
    // Over HTTP we own the process and can see it exit with status 70.
    let (mut server, url) = spawn_http("kubernetes", &["--crash-after", "3"]).await;
    let client = {
        use rmcp::ServiceExt;
        let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url);
        tokio::time::timeout(STEP, ().serve(transport))
            .await
            .expect("connect in time")
            .expect("connect")
    };
    for i in 0..3 {
        let params = rmcp::model::CallToolRequestParams::new("namespace.create").with_arguments(
            json!({ "name": format!("ns{i}") })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let r = client
            .call_tool(params)
            .await
            .expect("calls 1 to 3 are answered");
        assert_ne!(r.is_error, Some(true));
    }
    let params = rmcp::model::CallToolRequestParams::new("namespace.list");
    // The HTTP client may keep waiting on a dead server: a short bound is enough here,
    // the exit status below is the proof.
    let fourth = tokio::time::timeout(Duration::from_secs(3), client.call_tool(params)).await;
    assert!(!matches!(fourth, Ok(Ok(_))), "call 4 must not be answered");
    let status = tokio::time::timeout(STEP, server.wait())
        .await
        .expect("the twin exited")
        .expect("wait");
    assert_eq!(status.code(), Some(70));

    // Over stdio the client sees the connection drop.
    let t = start("kubernetes", Transport::Stdio, &["--crash-after", "1"]).await;
    t.ok("namespace.list", json!({})).await;
    let params = rmcp::model::CallToolRequestParams::new("namespace.list");
    let second = tokio::time::timeout(STEP, t.client.call_tool(params)).await;
    assert!(
        matches!(second, Ok(Err(_))),
        "the second call fails: {second:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_tool_never_answers_but_other_tools_do() {
    let t = start(
        "opnsense",
        Transport::Stdio,
        &["--hang-tool", "network_vlan.list"],
    )
    .await;
    let params = rmcp::model::CallToolRequestParams::new("network_vlan.list");
    let hung = tokio::time::timeout(Duration::from_millis(1500), t.client.call_tool(params)).await;
    assert!(hung.is_err(), "network_vlan.list answered: {hung:?}");
    // The connection is still alive and other tools answer.
    t.ok(
        "network_vlan.create",
        json!({"interface": "igb0", "tag": 20}),
    )
    .await;
    t.ok("firewall_rule.list", json!({})).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_makes_ids_deterministic() {
    let mut ids = Vec::new();
    for seed in ["42", "42", "43"] {
        let t = start("aws", Transport::Stdio, &["--seed", seed]).await;
        let vpc = t
            .ok("vpc.create", json!({"cidr_block": "10.0.0.0/16"}))
            .await;
        let subnet = t
            .ok("vpc_subnet.create", json!({"vpc_id": vpc["id"], "cidr_block": "10.0.0.0/24", "availability_zone": "us-east-1c"}))
            .await;
        ids.push((vpc["id"].clone(), subnet["id"].clone()));
        t.stop().await;
    }
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
}
