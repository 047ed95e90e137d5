//! The 2026-07-28 protocol revision: a client that starts with `server/discover` (no
//! `initialize` handshake) uses the twins statelessly and watches a resource with
//! `subscriptions/listen` (resource updates and list changes), over stdio and over
//! streamable HTTP.

mod twins_support;

use rmcp::model::{CallToolRequestParams, ProtocolVersion, ServerNotification, SubscriptionFilter};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::{Value, json};
use twins_support::{MCPOC, STEP, Transport, spawn_http};

fn discover() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    }
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> Value {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = tokio::time::timeout(STEP, client.call_tool(params))
        .await
        .expect("answered in time")
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert_ne!(
        result.is_error,
        Some(true),
        "{tool} failed: {:?}",
        result.content
    );
    result.structured_content.unwrap_or_default()
}

async fn instance_goes_running(transport: Transport) {
    let args = ["--ready-delay-ms", "300", "--seed", "5"];
    let mut server = None;
    let client = match transport {
        Transport::Stdio => {
            let cmd = tokio::process::Command::new(MCPOC).configure(|c| {
                c.arg("twin").arg("aws").args(args);
            });
            let child = TokioChildProcess::new(cmd).expect("spawn");
            ().serve_with_lifecycle(child, discover())
                .await
                .expect("discover session")
        }
        Transport::Http => {
            let (child, url) = spawn_http("aws", &args).await;
            server = Some(child);
            let transport = StreamableHttpClientTransport::from_uri(url);
            ().serve_with_lifecycle(transport, discover())
                .await
                .expect("discover session")
        }
    };
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 63);
    assert!(tools.iter().all(|t| t.output_schema.is_some()));

    let vpc = call(&client, "vpc.create", json!({"cidr_block": "10.20.0.0/16"})).await;
    let subnet = call(
        &client,
        "vpc_subnet.create",
        json!({"vpc_id": vpc["id"], "cidr_block": "10.20.3.0/24", "availability_zone": "us-east-1a"}),
    )
    .await;
    let mut lists = tokio::time::timeout(
        STEP,
        client.peer().listen(
            SubscriptionFilter::builder()
                .resources_list_changed()
                .build(),
        ),
    )
    .await
    .expect("subscriptions/listen acknowledged in time")
    .expect("subscriptions/listen for list changes");
    let instance = call(
        &client,
        "ec2_instance.create",
        json!({"ami": "ami-0abcdef1234567890", "instance_type": "t3.micro", "subnet_id": subnet["id"]}),
    )
    .await;
    assert_eq!(instance["state"], "pending");
    let listed = tokio::time::timeout(STEP, async {
        loop {
            match lists.next().await {
                Ok(Some(ServerNotification::ResourceListChangedNotification(_))) => return,
                Ok(Some(_)) => continue,
                other => panic!("the list subscription ended: {other:?}"),
            }
        }
    })
    .await;
    assert!(listed.is_ok(), "no resources/list_changed after a create");
    assert_eq!(instance["private_ip"], "10.20.3.4");
    let uri = format!(
        "mcpo://ec2_instance/{}",
        instance["id"].as_str().unwrap_or_default()
    );
    let mut subscription = tokio::time::timeout(
        STEP,
        client.peer().listen(
            SubscriptionFilter::builder()
                .resource_subscription(uri.clone())
                .build(),
        ),
    )
    .await
    .expect("subscriptions/listen acknowledged in time")
    .expect("subscriptions/listen");
    let got = tokio::time::timeout(STEP, async {
        loop {
            match subscription.next().await {
                Ok(Some(ServerNotification::ResourceUpdatedNotification(n))) => {
                    return n.params.uri;
                }
                Ok(Some(_)) => continue,
                other => panic!("the subscription ended: {other:?}"),
            }
        }
    })
    .await
    .expect("an update arrived in time");
    assert_eq!(got, uri);
    let now = call(&client, "ec2_instance.read", json!({"id": instance["id"]})).await;
    assert_eq!(now["state"], "running");
    let _ = client.cancel().await;
    if let Some(mut s) = server {
        let _ = s.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lifecycle_and_listen_over_stdio() {
    instance_goes_running(Transport::Stdio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lifecycle_and_listen_over_http() {
    instance_goes_running(Transport::Http).await;
}
