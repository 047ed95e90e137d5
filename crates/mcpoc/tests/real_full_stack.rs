//! The milestone example, `examples/real-full-stack/`, end to end on real servers: one
//! workspace applied across AWS (`awslabs-ec2-mcp-server` and `awslabs-aws-api-mcp-server`
//! on moto), OPNsense (`mcp-opnsense` against the stand-in of `tests/real/opnsense_api.py`),
//! containers (`mcp-server-docker` on Debian's podman) and mcpo's Kubernetes twin, each
//! configured from what the others reported. What exists is asked of each backend itself
//! (moto through boto3, the stand-in's configuration file, `podman`, the twin's state file,
//! and HTTP from the container), never of mcpo's state; a re-plan is clean; destroy leaves
//! nothing in any of them. Whatever a failed run leaves is removed when the test ends.

mod deploy_support;
mod real_services;
mod twins_support;

use deploy_support::{Run, Ws};
use real_services::{
    Service, cache_dir, engine_turn, free_port, http_body, ping, real_script, venv_bin,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The image `scripts/install-podman.sh` builds from busybox-static.
const BUSYBOX: &str = "localhost/mcpo-busybox:latest";

/// The programs the test runs, when installed (`None`: skipped, or a failure with
/// `MCPO_REQUIRE_TEST_SERVERS`).
struct Programs {
    moto: PathBuf,
    moto_python: PathBuf,
    ec2: PathBuf,
    aws_api: PathBuf,
    opnsense: PathBuf,
    docker: PathBuf,
    containers_conf: PathBuf,
}

fn programs() -> Option<Programs> {
    let p = Programs {
        moto: venv_bin("moto", "moto_server")?,
        moto_python: venv_bin("moto", "python")?,
        ec2: venv_bin("ec2", "awslabs.ec2-mcp-server")?,
        aws_api: venv_bin("aws-api", "awslabs.aws-api-mcp-server")?,
        opnsense: venv_bin("opnsense", "mcp-opnsense")?,
        docker: venv_bin("docker", "mcp-server-docker")?,
        containers_conf: cache_dir().join("podman/containers.conf"),
    };
    let image = Command::new("podman")
        .args(["image", "exists", BUSYBOX])
        .env("CONTAINERS_CONF", &p.containers_conf)
        .output();
    if p.containers_conf.exists() && image.is_ok_and(|o| o.status.success()) {
        return Some(p);
    }
    assert!(
        std::env::var("MCPO_REQUIRE_TEST_SERVERS").is_err(),
        "podman, {} or the image {BUSYBOX} is missing (run scripts/install-podman.sh)",
        p.containers_conf.display()
    );
    eprintln!("skipped: podman or its image is missing (run scripts/install-podman.sh)");
    None
}

impl Programs {
    /// `podman args...` with the cache's `containers.conf`, whatever its exit status.
    fn podman(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .args(args)
            .env("CONTAINERS_CONF", &self.containers_conf)
            .stdin(Stdio::null())
            .output()
            .expect("podman runs")
    }

    /// `podman args... --format json`, which must succeed, parsed.
    #[track_caller]
    fn podman_json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.podman(&all);
        assert!(
            out.status.success(),
            "podman {}: {}",
            all.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Vec::new();
        }
        serde_json::from_slice(&out.stdout).expect("podman's JSON")
    }

    /// The containers and networks whose name starts with `prefix`.
    fn podman_ours(&self, prefix: &str) -> Vec<String> {
        let mut found = Vec::new();
        for c in self.podman_json(&["ps", "-a"]) {
            for name in c["Names"].as_array().into_iter().flatten() {
                if let Some(name) = name.as_str().filter(|n| n.starts_with(prefix)) {
                    found.push(format!("container {name}"));
                }
            }
        }
        for n in self.podman_json(&["network", "ls"]) {
            let name = n["name"].as_str().or(n["Name"].as_str()).unwrap_or("");
            if name.starts_with(prefix) {
                found.push(format!("network {name}"));
            }
        }
        found
    }

    /// Starts podman's Docker-compatible API on `socket` and waits until it answers.
    fn podman_service(&self, socket: &Path) -> Child {
        let mut child = Command::new("podman")
            .args([
                "system",
                "service",
                "--time=0",
                &format!("unix://{}", socket.display()),
            ])
            .env("CONTAINERS_CONF", &self.containers_conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ping(socket) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("podman system service exited: {status}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "podman system service does not answer on {}",
                    socket.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    }

    /// What moto holds in the VPC `vpc` (absent: nothing), through boto3: the VPC, its
    /// subnets, its security groups other than the default one (with their ingress rules)
    /// and its instances.
    fn moto_sees(&self, moto: &Service, vpc: &str) -> Value {
        const SCRIPT: &str = r#"
import json, sys
import boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
vpc = sys.argv[2]
tags = lambda o: {t["Key"]: t["Value"] for t in o.get("Tags", [])}
print(json.dumps({
  "vpcs": [{"id": v["VpcId"], "cidr": v["CidrBlock"], "name": tags(v).get("Name")}
           for v in ec2.describe_vpcs()["Vpcs"] if v["VpcId"] == vpc],
  "subnets": [{"id": s["SubnetId"], "cidr": s["CidrBlock"], "name": tags(s).get("Name")}
              for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] == vpc],
  "groups": [{"id": g["GroupId"], "name": g["GroupName"],
              "ingress": sorted("%s:%s-%s:%s" % (r["IpProtocol"], r.get("FromPort"), r.get("ToPort"),
                                                ",".join(x["CidrIp"] for x in r["IpRanges"]))
                                for r in g["IpPermissions"])}
             for g in ec2.describe_security_groups()["SecurityGroups"]
             if g.get("VpcId") == vpc and g["GroupName"] != "default"],
  "instances": [{"id": i["InstanceId"], "state": i["State"]["Name"], "subnet": i.get("SubnetId"),
                 "ip": i.get("PrivateIpAddress"), "name": tags(i).get("Name"),
                 "groups": [g["GroupId"] for g in i["SecurityGroups"]]}
                for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                if i.get("VpcId") == vpc],
}))
"#;
        let out = Command::new(&self.moto_python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(moto.url())
            .arg(vpc)
            .output()
            .expect("boto3 runs");
        assert!(
            out.status.success(),
            "boto3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("boto3's answer is JSON")
    }
}

/// Removes, when dropped (the test passed or failed), the containers and networks named
/// with the test's prefix, then stops the podman API service. Holds the engine for the
/// test until then.
struct Sweep<'p> {
    programs: &'p Programs,
    prefix: String,
    service: Option<Child>,
    _turn: std::fs::File,
}

impl Drop for Sweep<'_> {
    fn drop(&mut self) {
        let p = self.programs;
        for found in p.podman_ours(&self.prefix) {
            if let Some(name) = found.strip_prefix("container ") {
                let _ = p.podman(&["rm", "-f", "-t", "0", name]);
            }
        }
        for found in p.podman_ours(&self.prefix) {
            if let Some(name) = found.strip_prefix("network ") {
                let _ = p.podman(&["network", "rm", "-f", name]);
            }
        }
        if let Some(mut child) = self.service.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A JSON file a backend keeps (the stand-in's configuration, the twin's state).
fn json_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The values of a JSON object, in key order.
fn values(v: &Value) -> Vec<&Value> {
    v.as_object()
        .map(|o| o.values().collect())
        .unwrap_or_default()
}

#[test]
fn real_full_stack_applies_across_four_servers_and_destroys_everything() {
    let Some(p) = programs() else { return };
    // Letters and digits only: the prefix names an OPNsense alias too.
    let prefix = format!("mcpofs{}", std::process::id());
    let mut sweep = Sweep {
        programs: &p,
        prefix: prefix.clone(),
        service: None,
        _turn: engine_turn(),
    };
    let ws = Ws::copy_of("examples/real-full-stack");

    // The backends, each on a free port of 127.0.0.1 (or a socket of the workspace's).
    let moto_port = free_port();
    let mut moto_cmd = Command::new(&p.moto);
    moto_cmd.args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]);
    let moto = Service::on_port("moto", moto_cmd, moto_port, Duration::from_secs(60));
    let certs = ws.path().join("proxy");
    let mut proxy_cmd = Command::new("python3");
    proxy_cmd
        .arg(real_script("service_reference_proxy.py"))
        .arg(&certs);
    let proxy = Service::announcing_port("the service-reference proxy", proxy_cmd);
    let appliance = ws.path().join("appliance.json");
    let mut api_cmd = Command::new("python3");
    api_cmd
        .arg(real_script("opnsense_api.py"))
        .arg(&appliance)
        .args(["key", "secret"]);
    let opnsense_api = Service::announcing_port("the OPNsense API stand-in", api_cmd);
    let socket = ws.path().join("podman.sock");
    sweep.service = Some(p.podman_service(&socket));
    let workdir = ws.path().join("aws-api-workdir");
    std::fs::create_dir_all(&workdir).expect("mkdir");
    let web_port = free_port();

    // What the example's `server` blocks and variables read from the environment; the
    // AWS API server's way to the service-reference index is inherited from mcpoc's.
    let env: Vec<(&str, String)> = vec![
        ("MCPO_AWS_EC2_SERVER", p.ec2.display().to_string()),
        ("MCPO_AWS_API_SERVER", p.aws_api.display().to_string()),
        ("MCPO_OPNSENSE_SERVER", p.opnsense.display().to_string()),
        ("MCPO_DOCKER_SERVER", p.docker.display().to_string()),
        ("AWS_ENDPOINT_URL", moto.url()),
        ("OPNSENSE_HOST", opnsense_api.url()),
        ("DOCKER_HOST", format!("unix://{}", socket.display())),
        ("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port)),
        ("NO_PROXY", "127.0.0.1".to_string()),
        (
            "REQUESTS_CA_BUNDLE",
            certs.join("ca.pem").display().to_string(),
        ),
        ("AWS_API_MCP_WORKING_DIR", workdir.display().to_string()),
        ("MCPO_VAR_name", prefix.clone()),
        ("MCPO_VAR_web_port", web_port.to_string()),
    ];
    let mcpoc = |args: &[&str]| -> Run {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ws.run_env(args, &env)
    };

    let started = Instant::now();
    mcpoc(&["schema", "pull"]).expect_code(0);
    let check = mcpoc(&["check"]);
    check.expect_code(0);
    assert_eq!(check.stderr.trim(), "", "check is clean: {}", check.both());

    let applied = mcpoc(&["apply", "--auto-approve"]);
    applied.expect_code(0);
    assert!(
        applied
            .stdout
            .contains("13 created, 0 updated, 0 replaced, 0 deleted, 1 tasks run"),
        "{}",
        applied.both()
    );
    eprintln!("pulled, checked and applied in {:?}", started.elapsed());

    // AWS, as moto holds it.
    let state: Value =
        serde_json::from_str(&ws.read(".mcpo/state/state.json")).expect("the state is JSON");
    let vpc = state["resources"]["aws.vpc.main"]["id"]
        .as_str()
        .expect("the VPC's id")
        .to_string();
    let aws = p.moto_sees(&moto, &vpc);
    assert_eq!(
        aws["vpcs"],
        json!([{ "id": vpc, "cidr": "10.40.0.0/16", "name": format!("{prefix}-vpc") }])
    );
    let subnets = aws["subnets"].as_array().expect("subnets");
    assert_eq!(subnets.len(), 1, "{aws}");
    let subnet = subnets[0]["id"].as_str().expect("subnet id").to_string();
    assert_eq!(
        subnets[0],
        json!({ "id": subnet, "cidr": "10.40.1.0/24", "name": format!("{prefix}-app") })
    );
    let groups = aws["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{aws}");
    let group = groups[0]["id"].as_str().expect("group id").to_string();
    assert_eq!(
        groups[0],
        json!({ "id": group, "name": format!("{prefix}-app"), "ingress": ["tcp:8000-8000:10.40.1.0/24"] })
    );
    let instances = aws["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 1, "{aws}");
    let instance = instances[0]["id"]
        .as_str()
        .expect("instance id")
        .to_string();
    let ip = instances[0]["ip"]
        .as_str()
        .expect("a private ip")
        .to_string();
    assert!(ip.starts_with("10.40.1."), "{aws}");
    assert_eq!(
        instances[0],
        json!({ "id": instance, "state": "running", "subnet": subnet, "ip": ip,
                "name": format!("{prefix}-backend"), "groups": [group] })
    );

    // The Kubernetes twin, as its own state file holds it.
    let twin_file = ws.path().join(".mcpo/twins/kubernetes/kubernetes.json");
    let cluster = json_file(&twin_file)["resources"].clone();
    let namespace = &cluster["namespace"][&prefix];
    assert_eq!(
        namespace["inputs"]["labels"],
        json!({ "vpc": vpc, "subnet": subnet }),
        "{cluster}"
    );
    let service = &cluster["service"][format!("{prefix}/web")];
    let cluster_ip = service["attrs"]["cluster_ip"]
        .as_str()
        .unwrap_or_else(|| panic!("the service's cluster ip: {cluster}"))
        .to_string();
    assert_eq!(
        service["inputs"]["ports"][0]["target_port"], 8080,
        "{cluster}"
    );
    assert_eq!(service["inputs"]["selector"], json!({ "app": "web" }));

    // OPNsense, as the stand-in's configuration holds it: the VLAN and the rule carry the
    // subnet's range, the rule and the alias the instance's address, the alias the
    // cluster's service address too; the commit ran once.
    let a = json_file(&appliance);
    let vlans = values(&a["vlans"]);
    assert_eq!(vlans.len(), 1, "{a}");
    assert_eq!(
        (&vlans[0]["if"], &vlans[0]["tag"], &vlans[0]["descr"]),
        (
            &json!("igb1"),
            &json!("40"),
            &json!(format!("{prefix} 10.40.1.0/24"))
        )
    );
    let rules: Vec<(&String, &Value)> = a["rules"].as_object().expect("rules").iter().collect();
    assert_eq!(rules.len(), 1, "{a}");
    let (rule_id, rule) = rules[0];
    assert_eq!(
        (
            &rule["action"],
            &rule["source_net"],
            &rule["destination_net"],
            &rule["destination_port"],
            &rule["description"]
        ),
        (
            &json!("pass"),
            &json!("10.40.1.0/24"),
            &json!(ip),
            &json!("8000"),
            &json!(format!("{prefix} to {instance}"))
        ),
        "{a}"
    );
    let aliases = values(&a["aliases"]);
    assert_eq!(aliases.len(), 1, "{a}");
    assert_eq!(aliases[0]["name"], format!("{prefix}_servers"));
    assert_eq!(aliases[0]["content"], format!("{ip}\n{cluster_ip}"), "{a}");
    assert_eq!(a["applied"]["nat"], 1, "the commit ran once: {a}");

    // podman: the container runs on the network, publishes on 127.0.0.1 only, and serves
    // a page made of what moto and the stand-in hold.
    let web = p.podman_json(&["container", "inspect", &format!("{prefix}-web")]);
    let web = web.first().expect("the web container");
    assert_eq!(web["State"]["Status"], "running", "{web}");
    let binding = &web["HostConfig"]["PortBindings"]["8080/tcp"][0];
    assert_eq!(
        (&binding["HostIp"], &binding["HostPort"]),
        (&json!("127.0.0.1"), &json!(web_port.to_string()))
    );
    assert!(
        web["NetworkSettings"]["Networks"]
            .get(format!("{prefix}-net"))
            .is_some(),
        "{}",
        web["NetworkSettings"]
    );
    let device = "vlan0.40".to_string();
    assert_eq!(vlans[0]["vlanif"], device.as_str(), "{a}");
    assert_eq!(
        http_body(web_port),
        format!("backend={ip}:8000\nsubnet=10.40.1.0/24\nvlan={device}\nrule={rule_id}\n")
    );
    let network = p.podman_json(&["network", "inspect", &format!("{prefix}-net")]);
    assert_eq!(network[0]["labels"]["vpc"], vpc.as_str(), "{}", network[0]);

    // The twin's deployment runs the container's image, told the backend, the rule and
    // the container podman runs.
    let deployment = &cluster["deployment"][format!("{prefix}/web")]["inputs"];
    assert_eq!(
        (&deployment["image"], &deployment["env"]),
        (
            &json!(BUSYBOX),
            &json!({
                "BACKEND": format!("{ip}:8000"),
                "FIREWALL_RULE": rule_id,
                "VLAN_DEVICE": device,
                "EDGE": web["Id"],
            })
        ),
        "{cluster}"
    );
    assert!(
        applied
            .stdout
            .contains(&format!("backend     = \"{ip}:8000\""))
            && applied
                .stdout
                .contains(&format!("cluster_ip  = \"{cluster_ip}\"")),
        "{}",
        applied.both()
    );

    // Planned again: nothing to do.
    let again = mcpoc(&["plan", "--detailed-exitcode"]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.both());

    // Destroy: nothing of ours in any backend, nothing in the state.
    let destroyed = mcpoc(&["destroy", "--auto-approve"]);
    destroyed.expect_code(0);
    assert!(
        destroyed.stdout.contains("13 deleted, 1 forgotten"),
        "{}",
        destroyed.both()
    );
    let aws = p.moto_sees(&moto, &vpc);
    assert_eq!(
        (&aws["vpcs"], &aws["subnets"], &aws["groups"]),
        (&json!([]), &json!([]), &json!([])),
        "{aws}"
    );
    // moto keeps a terminated instance listed (outside any VPC once it is deleted).
    assert!(
        aws["instances"]
            .as_array()
            .is_some_and(|l| l.iter().all(|i| i["state"] == "terminated")),
        "{aws}"
    );
    let a = json_file(&appliance);
    assert_eq!(
        (&a["vlans"], &a["aliases"], &a["rules"]),
        (&json!({}), &json!({}), &json!({})),
        "{a}"
    );
    assert_eq!(p.podman_ours(&prefix), Vec::<String>::new());
    assert_eq!(
        json_file(&twin_file)["resources"],
        json!({ "deployment": {}, "namespace": {}, "service": {} })
    );
    assert_eq!(
        mcpoc(&["state", "list"]).stdout.trim(),
        "",
        "the state holds nothing"
    );
    eprintln!("the whole run took {:?}", started.elapsed());
}
