//! Each twin through a real MCP client over stdio and over streamable HTTP: create, read,
//! update, list and delete every resource type, validation errors, state that survives a
//! restart, and a subscription update.

mod twins_support;

use serde_json::{Value, json};
use twins_support::{Transport, Twin, crud, delete, dir_arg, start, state_dir};

/// Flags shared by these tests: deterministic ids and short transitions.
fn flags(dir: &str) -> Vec<String> {
    ["--state-dir", dir, "--seed", "7", "--ready-delay-ms", "300"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

async fn start_with(kind: &str, transport: Transport, flags: &[String]) -> Twin {
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    start(kind, transport, &args).await
}

/// Restarts the twin on the same state directory and checks that `ty`/`id` is still there
/// with the same state, through a tool and through its MCP resource.
async fn restart_and_find(
    kind: &str,
    transport: Transport,
    flags: &[String],
    t: Twin,
    ty: &str,
    id: &Value,
) {
    let before = t.ok(&format!("{ty}.read"), json!({ "id": id })).await;
    t.stop().await;
    let t = start_with(kind, transport, flags).await;
    let after = t.ok(&format!("{ty}.read"), json!({ "id": id })).await;
    assert_eq!(before, after, "{ty} {id} changed across a restart");
    let listed = t.ok(&format!("{ty}.list"), json!({})).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let id_str = id.as_str().unwrap_or_default();
    let uri = format!("mcpo://{ty}/{id_str}");
    let resource = t.read_resource(&uri).await;
    assert_eq!(resource, after);
    let listed = t.client.list_all_resources().await.expect("resources/list");
    assert!(
        listed.iter().any(|r| r.uri == uri),
        "resources/list misses {uri}"
    );
    let templates = t
        .client
        .list_all_resource_templates()
        .await
        .expect("resources/templates/list");
    assert!(
        templates
            .iter()
            .any(|r| r.uri_template == format!("mcpo://{ty}/{{id}}"))
    );
    t.stop().await;
}

async fn opnsense(transport: Transport) {
    let dir = state_dir();
    let flags = flags(&dir_arg(dir.path()));
    let mut t = start_with("opnsense", transport, &flags).await;
    assert_eq!(t.tools().len(), 25);

    let vlan = crud(
        &t,
        "network_vlan",
        json!({"interface": "igb1", "tag": 10, "description": "servers"}),
        Some(json!({"description": "app servers", "pcp": 3})),
    )
    .await;
    assert_eq!(vlan["device"], "vlan1.10");
    let e = t
        .err(
            "network_vlan.create",
            json!({"interface": "igb1", "tag": 5000}),
        )
        .await;
    assert_eq!(
        e,
        "VLAN tag 5000 is out of range: it must be between 1 and 4094"
    );
    let e = t
        .err(
            "network_vlan.create",
            json!({"interface": "igb1", "tag": 10}),
        )
        .await;
    assert!(
        e.starts_with("VLAN tag 10 is already used on igb1 by VLAN"),
        "{e}"
    );

    let rule = crud(
        &t,
        "firewall_rule",
        json!({"interface": "vlan1.10", "action": "pass", "protocol": "tcp", "destination_port": "443", "description": "https"}),
        Some(json!({"action": "reject"})),
    )
    .await;
    assert_eq!(rule["position"], 1);
    let e = t
        .err("firewall_rule.create", json!({"interface": "lan", "action": "pass", "protocol": "icmp", "destination_port": "22"}))
        .await;
    assert_eq!(
        e,
        "a destination port needs protocol tcp, udp or tcp/udp, not icmp"
    );
    let e = t
        .err("network_vlan.delete", json!({"id": vlan["id"]}))
        .await;
    assert!(e.contains("still used by firewall rule"), "{e}");

    let backend = crud(
        &t,
        "haproxy_backend",
        json!({"name": "web", "servers": [{"name": "w1", "address": "10.0.10.11", "port": 8080}],
               "health_check": {"type": "http", "path": "/healthz"}}),
        Some(json!({"balance": "leastconn"})),
    )
    .await;
    let frontend = crud(
        &t,
        "haproxy_frontend",
        json!({"name": "https", "bind_port": 443, "certificate_ref": "webcert", "default_backend": backend["id"]}),
        Some(json!({"bind_port": 8443})),
    )
    .await;
    assert_eq!(frontend["url"], "https://203.0.113.10:443");
    let e = t
        .err(
            "haproxy_frontend.create",
            json!({"name": "x", "bind_port": 80, "default_backend": "nope"}),
        )
        .await;
    assert!(e.contains("default_backend nope does not exist"), "{e}");

    // A subscription: the VLAN's description changes.
    let uri = format!(
        "mcpo://network_vlan/{}",
        vlan["id"].as_str().unwrap_or_default()
    );
    t.subscribe(&uri).await;
    t.ok(
        "network_vlan.update",
        json!({"id": vlan["id"], "interface": "igb1", "tag": 10, "description": "renamed"}),
    )
    .await;
    t.next_update(&uri).await;
    assert_eq!(t.read_resource(&uri).await["description"], "renamed");

    delete(&t, "haproxy_frontend", &frontend["id"]).await;
    delete(&t, "haproxy_backend", &backend["id"]).await;
    delete(&t, "firewall_rule", &rule["id"]).await;
    restart_and_find(
        "opnsense",
        transport,
        &flags,
        t,
        "network_vlan",
        &vlan["id"],
    )
    .await;
}

async fn aws(transport: Transport) {
    let dir = state_dir();
    let flags = flags(&dir_arg(dir.path()));
    let mut t = start_with("aws", transport, &flags).await;
    assert_eq!(t.tools().len(), 63);

    let e = t
        .err(
            "vpc.create",
            json!({"cidr_block": "10.0.0.0/16", "nmae": "x"}),
        )
        .await;
    assert_eq!(
        e,
        "unknown argument nmae for vpc.create; it takes: cidr_block, enable_dns_hostnames, name"
    );
    let e = t
        .err("vpc.create", json!({"cidr_block": "10.0.0.0/33"}))
        .await;
    assert!(e.contains("prefix length must be 0 to 32"), "{e}");
    let vpc = crud(
        &t,
        "vpc",
        json!({"cidr_block": "10.0.0.0/16", "name": "main"}),
        Some(json!({"name": "main-vpc"})),
    )
    .await;
    let vpc_id = vpc["id"].as_str().unwrap_or_default().to_string();
    assert!(vpc_id.starts_with("vpc-") && vpc_id.len() == 12, "{vpc_id}");
    assert_eq!(
        vpc["arn"],
        format!("arn:aws:ec2:us-east-1:123456789012:vpc/{vpc_id}")
    );

    let e = t
        .err("vpc_subnet.create", json!({"vpc_id": vpc_id, "cidr_block": "10.1.0.0/24", "availability_zone": "us-east-1a"}))
        .await;
    assert_eq!(
        e,
        format!("InvalidSubnet.Range: subnet 10.1.0.0/24 is outside VPC {vpc_id} (10.0.0.0/16)")
    );
    let a = crud(
        &t,
        "vpc_subnet",
        json!({"vpc_id": vpc_id, "cidr_block": "10.0.1.0/24", "availability_zone": "us-east-1a"}),
        Some(json!({"name": "private-a"})),
    )
    .await;
    let b = t
        .ok("vpc_subnet.create", json!({"vpc_id": vpc_id, "cidr_block": "10.0.2.0/24", "availability_zone": "us-east-1b"}))
        .await;
    let e = t.err("vpc.delete", json!({"id": vpc_id})).await;
    assert!(
        e.starts_with("DependencyViolation") && e.contains(a["id"].as_str().unwrap_or("?")),
        "{e}"
    );

    let sg = crud(
        &t,
        "ec2_security_group",
        json!({"group_name": "web", "description": "web servers", "vpc_id": vpc_id,
               "ingress": [{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}]}),
        Some(json!({"ingress": []})),
    )
    .await;
    let e = t
        .err("ec2_instance.create", json!({"ami": "ami-0abcdef1234567890", "instance_type": "t3.micro", "subnet_id": "subnet-missing"}))
        .await;
    assert!(
        e.starts_with("InvalidSubnetID.NotFound: the subnet 'subnet-missing' does not exist"),
        "{e}"
    );
    let e = t
        .err("ec2_instance.create", json!({"ami": "ami-0abcdef1234567890", "instance_type": "t3.mega", "subnet_id": a["id"]}))
        .await;
    assert!(
        e.contains("\"t3.mega\" is not a valid instance type"),
        "{e}"
    );

    let instance_args = json!({"ami": "ami-0abcdef1234567890", "instance_type": "t3.micro",
                               "subnet_id": a["id"], "security_group_ids": [sg["id"]], "name": "web-1"});
    let instance = t.ok("ec2_instance.create", instance_args.clone()).await;
    let uri = format!(
        "mcpo://ec2_instance/{}",
        instance["id"].as_str().unwrap_or_default()
    );
    t.subscribe(&uri).await;
    assert_eq!(instance["state"], "pending");
    assert_eq!(instance["private_ip"], "10.0.1.4");
    t.next_update(&uri).await;
    assert_eq!(t.read_resource(&uri).await["state"], "running");
    let instance2 = crud(
        &t,
        "ec2_instance",
        instance_args,
        Some(json!({"instance_type": "t3.small"})),
    )
    .await;
    assert_eq!(instance2["private_ip"], "10.0.1.5");

    let cert = crud(
        &t,
        "acm_certificate",
        json!({"domain_name": "www.example.com"}),
        None,
    )
    .await;
    assert_eq!(cert["status"], "pending_validation");
    assert!(
        cert["arn"]
            .as_str()
            .unwrap_or_default()
            .starts_with("arn:aws:acm:us-east-1:123456789012:certificate/")
    );

    let asg = crud(
        &t,
        "autoscaling_group",
        json!({"name": "web-asg", "min_size": 1, "max_size": 3, "desired_capacity": 2,
               "subnet_ids": [a["id"], b["id"]], "image_id": "ami-0abcdef1234567890", "instance_type": "t3.micro"}),
        Some(json!({"desired_capacity": 3})),
    )
    .await;
    let e = t
        .err("autoscaling_group.create", json!({"name": "bad", "min_size": 3, "max_size": 1,
               "subnet_ids": [a["id"]], "image_id": "ami-0abcdef1234567890", "instance_type": "t3.micro"}))
        .await;
    assert!(
        e.contains("min_size (3) must not exceed max_size (1)"),
        "{e}"
    );
    let asg_now = t
        .ok("autoscaling_group.read", json!({"id": asg["id"]}))
        .await;
    assert_eq!(asg_now["instance_ids"].as_array().map(Vec::len), Some(3));

    let db = crud(
        &t,
        "rds_instance",
        json!({"identifier": "orders-db", "engine": "postgres", "instance_class": "db.t3.micro",
               "master_username": "app", "master_password": "s3cret-pass", "subnet_ids": [a["id"], b["id"]]}),
        Some(json!({"allocated_storage": 50})),
    )
    .await;
    assert!(db.get("master_password").is_none() && !db.to_string().contains("s3cret-pass"));
    let e = t
        .err("rds_instance.update", json!({"id": db["id"], "identifier": "orders-db", "engine": "postgres",
               "instance_class": "db.t3.micro", "master_username": "app", "master_password": "s3cret-pass",
               "subnet_ids": [a["id"], b["id"]], "allocated_storage": 30}))
        .await;
    assert!(e.contains("allocated storage can only grow"), "{e}");

    let record = crud(
        &t,
        "route53_record",
        json!({"zone_name": "example.com", "name": "www.example.com", "type": "A", "records": ["192.0.2.10"]}),
        Some(json!({"ttl": 60})),
    )
    .await;
    let e = t
        .err("route53_record.create", json!({"zone_name": "example.com", "name": "example.com", "type": "CNAME", "records": ["x.example.net"]}))
        .await;
    assert!(e.contains("not permitted at the zone apex"), "{e}");

    delete(&t, "route53_record", &record["id"]).await;
    delete(&t, "rds_instance", &db["id"]).await;
    delete(&t, "autoscaling_group", &asg["id"]).await;
    delete(&t, "acm_certificate", &cert["id"]).await;
    delete(&t, "ec2_instance", &instance["id"]).await;
    delete(&t, "ec2_instance", &instance2["id"]).await;
    delete(&t, "ec2_security_group", &sg["id"]).await;
    delete(&t, "vpc_subnet", &a["id"]).await;
    delete(&t, "vpc_subnet", &b["id"]).await;
    restart_and_find("aws", transport, &flags, t, "vpc", &vpc["id"]).await;
}

async fn docker(transport: Transport) {
    let dir = state_dir();
    let flags = flags(&dir_arg(dir.path()));
    let mut t = start_with("docker", transport, &flags).await;
    assert_eq!(t.tools().len(), 17);

    let net = crud(&t, "network", json!({"name": "app-net"}), None).await;
    assert_eq!(net["assigned_subnet"], "172.18.0.0/16");
    let e = t
        .err(
            "network.create",
            json!({"name": "other", "subnet": "172.18.5.0/24"}),
        )
        .await;
    assert!(
        e.starts_with("Pool overlaps with other one on this address space"),
        "{e}"
    );
    let vol = crud(&t, "volume", json!({"name": "data"}), None).await;
    let image = crud(
        &t,
        "image_build",
        json!({"context": "./web", "tag": "registry.local/web:1.0"}),
        None,
    )
    .await;
    assert!(
        image["digest"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:")
    );
    let e = t
        .err(
            "image_build.create",
            json!({"context": "./web", "tag": "Registry/Web"}),
        )
        .await;
    assert!(e.starts_with("invalid reference format"), "{e}");

    let container = t
        .ok("container.create", json!({"name": "web", "image": "registry.local/web:1.0", "network": "app-net",
              "ports": [{"host_port": 8080, "container_port": 80}], "volumes": [{"volume": "data", "target": "/data"}]}))
        .await;
    let uri = format!(
        "mcpo://container/{}",
        container["id"].as_str().unwrap_or_default()
    );
    t.subscribe(&uri).await;
    assert_eq!(container["state"], "created");
    assert_eq!(container["ip"], "172.18.0.2");
    assert_eq!(container["image_id"], image["id"]);
    t.next_update(&uri).await;
    assert_eq!(t.read_resource(&uri).await["state"], "running");
    let e = t
        .err("container.create", json!({"name": "web2", "image": "nginx:1.27", "ports": [{"host_port": 8080, "container_port": 80}]}))
        .await;
    assert!(
        e.starts_with("Bind for 0.0.0.0:8080 failed: port is already allocated"),
        "{e}"
    );
    let e = t.err("network.delete", json!({"id": net["id"]})).await;
    assert!(e.contains("has active endpoints"), "{e}");
    let c2 = crud(
        &t,
        "container",
        json!({"name": "cache", "image": "redis:7"}),
        Some(json!({"restart_policy": "always"})),
    )
    .await;
    assert_eq!(c2["ip"], "172.17.0.2");

    delete(&t, "container", &c2["id"]).await;
    delete(&t, "container", &container["id"]).await;
    delete(&t, "image_build", &image["id"]).await;
    delete(&t, "volume", &vol["id"]).await;
    restart_and_find("docker", transport, &flags, t, "network", &net["id"]).await;
}

async fn kubernetes(transport: Transport) {
    let dir = state_dir();
    let flags = flags(&dir_arg(dir.path()));
    let mut t = start_with("kubernetes", transport, &flags).await;
    assert_eq!(t.tools().len(), 25);

    let e = t.err("namespace.create", json!({"name": "Shop"})).await;
    assert!(e.contains("a lowercase RFC 1123 label"), "{e}");
    let ns = crud(
        &t,
        "namespace",
        json!({"name": "shop"}),
        Some(json!({"labels": {"team": "a"}})),
    )
    .await;
    let e = t
        .err(
            "config_map.create",
            json!({"name": "c", "namespace": "nope"}),
        )
        .await;
    assert_eq!(e, "namespaces \"nope\" not found");
    let cm = crud(
        &t,
        "config_map",
        json!({"name": "web-config", "namespace": "shop", "data": {"mode": "a"}}),
        Some(json!({"data": {"mode": "b"}})),
    )
    .await;
    let secret = crud(
        &t,
        "secret",
        json!({"name": "db", "namespace": "shop", "data": {"password": "hunter2"}}),
        Some(json!({"data": {"password": "correct-horse", "user": "app"}})),
    )
    .await;
    assert!(!secret.to_string().contains("hunter2"));
    let secret_now = t.call("secret.read", json!({"id": secret["id"]})).await;
    assert!(
        !format!("{secret_now:?}").contains("correct-horse"),
        "a secret value was echoed"
    );
    assert_eq!(
        secret_now.structured_content.unwrap_or_default()["keys"],
        json!(["password", "user"])
    );

    let deployment = t
        .ok(
            "deployment.create",
            json!({"name": "web", "namespace": "shop", "image": "nginx:1.27", "replicas": 3}),
        )
        .await;
    assert_eq!(deployment["id"], "shop/web");
    let uri = "mcpo://deployment/shop/web";
    t.subscribe(uri).await;
    assert_eq!(deployment["ready_replicas"], 0);
    t.next_update(uri).await;
    for _ in 0..50 {
        if t.read_resource(uri).await["ready_replicas"] == 3 {
            break;
        }
        t.next_update(uri).await;
    }
    let ready = t.read_resource(uri).await;
    assert_eq!(
        (ready["ready_replicas"].clone(), ready["status"].clone()),
        (json!(3), json!("Available"))
    );
    let dep = crud(
        &t,
        "deployment",
        json!({"name": "api", "namespace": "shop", "image": "api:2", "replicas": 1}),
        Some(json!({"replicas": 2, "image": "api:3"})),
    )
    .await;
    let svc = crud(
        &t,
        "service",
        json!({"name": "web", "namespace": "shop", "type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}),
        Some(json!({"selector": {"app": "web2"}})),
    )
    .await;
    assert!(
        svc["cluster_ip"]
            .as_str()
            .unwrap_or_default()
            .starts_with("10.96.")
    );
    assert_eq!(svc["node_ports"].as_array().map(Vec::len), Some(1));

    delete(&t, "service", &svc["id"]).await;
    delete(&t, "deployment", &dep["id"]).await;
    delete(&t, "secret", &secret["id"]).await;
    delete(&t, "config_map", &cm["id"]).await;
    restart_and_find("kubernetes", transport, &flags, t, "namespace", &ns["id"]).await;
    // Deleting the namespace took the remaining deployment with it.
    let t = start_with("kubernetes", transport, &flags).await;
    delete(&t, "namespace", &ns["id"]).await;
    let left = t.ok("deployment.list", json!({})).await;
    assert_eq!(left["items"], json!([]));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opnsense_over_stdio() {
    opnsense(Transport::Stdio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opnsense_over_http() {
    opnsense(Transport::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_over_stdio() {
    aws(Transport::Stdio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_over_http() {
    aws(Transport::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_over_stdio() {
    docker(Transport::Stdio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_over_http() {
    docker(Transport::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_over_stdio() {
    kubernetes(Transport::Stdio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_over_http() {
    kubernetes(Transport::Http).await;
}

/// A pending -> running transition is stored as times, so it goes on across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_continue_across_a_restart() {
    let dir = state_dir();
    let d = dir_arg(dir.path());
    let flags: Vec<String> = ["--state-dir", &d, "--ready-delay-ms", "1500"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let t = start_with("aws", Transport::Stdio, &flags).await;
    let cert = t
        .ok(
            "acm_certificate.create",
            json!({"domain_name": "api.example.com"}),
        )
        .await;
    assert_eq!(cert["status"], "pending_validation");
    t.stop().await;
    let mut t = start_with("aws", Transport::Stdio, &flags).await;
    let uri = format!(
        "mcpo://acm_certificate/{}",
        cert["id"].as_str().unwrap_or_default()
    );
    t.subscribe(&uri).await;
    let now = t.read_resource(&uri).await;
    if now["status"] == "pending_validation" {
        t.next_update(&uri).await;
    }
    let issued = t.read_resource(&uri).await;
    assert_eq!(issued["status"], "issued");
    assert!(issued["not_after"].is_string());
    t.stop().await;
}

/// Two HTTP sessions share one twin: a change made through one is announced to the other
/// (a new resource with `resources/list_changed`, a changed one with `resources/updated`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sessions_see_each_others_changes() {
    let (mut server, url) =
        twins_support::spawn_http("kubernetes", &["--ready-delay-ms", "0"]).await;
    let mut watcher = twins_support::connect_http(&url).await;
    let writer = twins_support::connect_http(&url).await;
    writer.ok("namespace.create", json!({"name": "shop"})).await;
    watcher.next_update(twins_support::LIST_CHANGED).await;
    let uri = "mcpo://namespace/shop";
    watcher.subscribe(uri).await;
    writer
        .ok(
            "namespace.update",
            json!({"id": "shop", "name": "shop", "labels": {"env": "prod"}}),
        )
        .await;
    watcher.next_update(uri).await;
    assert_eq!(watcher.read_resource(uri).await["labels"]["env"], "prod");
    watcher.stop().await;
    writer.stop().await;
    let _ = server.kill().await;
}
