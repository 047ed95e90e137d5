//! AWS EC2 through two real servers of AWS Labs (PyPI), `awslabs-ec2-mcp-server` and
//! `awslabs-aws-api-mcp-server`, against moto (PyPI `moto[server]`, a local AWS API), end
//! to end through `mcpoc` with the standard library's adapters, imported in one line
//! (`stdlib/adapters/awslabs-ec2-mcp-server`): a VPC, a subnet, a security group with its
//! rules and an instance applied; a change in place and a new rule; a rule removed outside
//! mcpo planned back; a failure AWS reports in the body failing its step; destroy. What
//! exists is asked of moto itself, with boto3, never of the servers under test.
//!
//! The AWS API server refuses to start without AWS's service-reference index, which it
//! downloads over HTTPS; `tests/real/service_reference_proxy.py` answers for that one host
//! (an empty index) behind `HTTPS_PROXY`, with a certificate authority made for the test.

mod deploy_support;
mod real_services;
mod twins_support;

use deploy_support::Ws;
use real_services::{Service, free_port, real_script, venv_bin};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The programs the test runs, when installed.
struct Programs {
    moto: PathBuf,
    moto_python: PathBuf,
    ec2: PathBuf,
    aws_api: PathBuf,
}

fn programs() -> Option<Programs> {
    Some(Programs {
        moto: venv_bin("moto", "moto_server")?,
        moto_python: venv_bin("moto", "python")?,
        ec2: venv_bin("ec2", "awslabs.ec2-mcp-server")?,
        aws_api: venv_bin("aws-api", "awslabs.aws-api-mcp-server")?,
    })
}

/// Asks moto, through boto3, for what the test looks at: our VPCs, subnets, security
/// groups (with their rules) and instances, by the ids given (absent ones are left out),
/// and every subnet of the VPCs given.
fn moto_sees(p: &Programs, moto: &Service, ids: &[&str]) -> Value {
    const SCRIPT: &str = r#"
import json, sys
import boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
ids = sys.argv[2:]
tags = lambda o: {t["Key"]: t["Value"] for t in o.get("Tags", [])}
out = {
  "vpcs": [{"id": v["VpcId"], "cidr": v["CidrBlock"], "name": tags(v).get("Name")}
           for v in ec2.describe_vpcs()["Vpcs"] if v["VpcId"] in ids],
  "subnets": [{"id": s["SubnetId"], "vpc": s["VpcId"], "cidr": s["CidrBlock"],
               "az": s["AvailabilityZone"]}
              for s in ec2.describe_subnets()["Subnets"] if s["SubnetId"] in ids or s["VpcId"] in ids],
  "groups": [{"id": g["GroupId"], "name": g["GroupName"], "vpc": g["VpcId"],
              "ingress": sorted("%s:%s-%s:%s" % (r["IpProtocol"], r.get("FromPort"), r.get("ToPort"),
                                                ",".join(x["CidrIp"] for x in r["IpRanges"]))
                                for r in g["IpPermissions"])}
             for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupId"] in ids],
  "instances": [{"id": i["InstanceId"], "state": i["State"]["Name"], "subnet": i.get("SubnetId"),
                 "name": tags(i).get("Name"), "groups": [g["GroupId"] for g in i["SecurityGroups"]]}
                for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                if i["InstanceId"] in ids],
}
print(json.dumps(out))
"#;
    let out = Command::new(&p.moto_python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(moto.url())
        .args(ids)
        .output()
        .expect("boto3 runs");
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("boto3's answer is JSON")
}

/// Revokes one ingress rule through boto3, behind mcpo's back.
fn revoke_outside(p: &Programs, moto: &Service, group: &str, port: u16, cidr: &str) {
    let script = format!(
        "import boto3; boto3.client('ec2', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing').revoke_security_group_ingress(GroupId='{group}', IpPermissions=[{{'IpProtocol': 'tcp', 'FromPort': {port}, 'ToPort': {port}, 'IpRanges': [{{'CidrIp': '{cidr}'}}]}}])",
        moto.url()
    );
    let out = Command::new(&p.moto_python)
        .arg("-c")
        .arg(script)
        .output()
        .expect("boto3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The id mcpo recorded for a resource.
fn state_id(ws: &Ws, address: &str) -> String {
    let state: Value =
        serde_json::from_str(&ws.read(".mcpo/state/state.json")).expect("the state is JSON");
    state["resources"][address]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{address} in the state: {state}"))
        .to_string()
}

/// What the AWS twin and the real servers both take, with the twin's names.
const NETWORK: &str = r#"
resource "aws.vpc" "main" {
  cidr_block = "10.0.0.0/16"
  name       = "main"
}

resource "aws.vpc_subnet" "app" {
  vpc_id            = aws.vpc.main.id
  cidr_block        = "10.0.1.0/24"
  availability_zone = "us-east-1a"
}

resource "aws.ec2_security_group" "web" {
  group_name  = "web"
  description = "web servers"
  vpc_id      = aws.vpc.main.id
}

resource "aws.ec2_instance" "app" {
  ami                = "ami-12c6146b"
  instance_type      = "t3.micro"
  subnet_id          = aws.vpc_subnet.app.id
  security_group_ids = [aws.ec2_security_group.web.id]
  name               = "app-1"
}

output "app_ip" {
  value = aws.ec2_instance.app.private_ip
}

output "app_state" {
  value = aws.ec2_instance.app.state
}
"#;

/// A rule: a resource of its own on the real servers (the twin has the group's `ingress`).
const RULE: &str = r#"
resource "aws.ec2_security_group_rule" "https" {
  security_group_id = aws.ec2_security_group.web.id
  direction         = "ingress"
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = ["0.0.0.0/0"]
}
"#;

#[test]
fn ec2_on_moto_applies_changes_sees_drift_fails_in_the_body_and_destroys() {
    let Some(p) = programs() else { return };
    let port = free_port();
    let mut moto_cmd = Command::new(&p.moto);
    moto_cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let moto = Service::on_port("moto", moto_cmd, port, Duration::from_secs(60));

    let ws = Ws::empty();
    ws.write(
        "adapters.mcpo",
        "use \"aws\" { source = \"stdlib/adapters/awslabs-ec2-mcp-server\" }\n",
    );
    let certs = ws.path().join("proxy");
    let mut proxy_cmd = Command::new("python3");
    proxy_cmd
        .arg(real_script("service_reference_proxy.py"))
        .arg(&certs);
    let proxy = Service::announcing_port("the service-reference proxy", proxy_cmd);
    let workdir = ws.path().join("aws-api-workdir");
    std::fs::create_dir_all(&workdir).expect("mkdir");

    let common = format!(
        "AWS_ENDPOINT_URL = \"{}\", AWS_ACCESS_KEY_ID = \"testing\", AWS_SECRET_ACCESS_KEY = \"testing\", AWS_REGION = \"us-east-1\"",
        moto.url()
    );
    ws.write(
        "main.mcpo",
        &format!(
            r#"server "aws" {{
  command = "{ec2}"
  env     = {{ {common}, ALLOW_WRITE = "true" }}
}}

server "aws_api" {{
  command = "{api}"
  env = {{
    {common},
    HTTPS_PROXY              = "http://127.0.0.1:{proxy}",
    NO_PROXY                 = "127.0.0.1",
    REQUESTS_CA_BUNDLE       = "{ca}",
    AWS_API_MCP_WORKING_DIR  = "{workdir}",
    AWS_API_MCP_TELEMETRY    = "false",
  }}
}}
{NETWORK}{RULE}"#,
            ec2 = p.ec2.display(),
            api = p.aws_api.display(),
            proxy = proxy.port,
            ca = certs.join("ca.pem").display(),
            workdir = workdir.display(),
        ),
    );
    ws.pull();
    ws.run(&["check"]).expect_code(0);

    // The same resources (all but the rule) rehearsed on the AWS twin: the names hold.
    let twin = Ws::empty();
    twin.write(
        "main.mcpo",
        &format!(
            "server \"aws\" {{\n  command = \"mcpoc\"\n  args    = [\"twin\", \"aws\", \"--state-dir\", \".mcpo/twins/aws\"]\n}}\n{NETWORK}"
        ),
    );
    twin.pull();
    let rehearsed = twin.apply_ok();
    assert!(
        rehearsed.stdout.contains("4 created")
            && rehearsed.stdout.contains("app_ip    = \"10.0.1."),
        "{}",
        rehearsed.both()
    );
    twin.run(&["destroy", "--auto-approve"]).expect_code(0);

    let applied = ws.apply_ok();
    assert!(
        applied.stdout.contains("5 created")
            && applied.stdout.contains(r#"app_state = "running""#)
            && applied.stdout.contains("app_ip    = \"10.0.1."),
        "{}",
        applied.both()
    );

    let vpc = state_id(&ws, "aws.vpc.main");
    let subnet = state_id(&ws, "aws.vpc_subnet.app");
    let group = state_id(&ws, "aws.ec2_security_group.web");
    let instance = state_id(&ws, "aws.ec2_instance.app");
    let ids = [
        vpc.as_str(),
        subnet.as_str(),
        group.as_str(),
        instance.as_str(),
    ];
    let seen = moto_sees(&p, &moto, &ids);
    assert_eq!(
        seen["vpcs"],
        serde_json::json!([{ "id": vpc, "cidr": "10.0.0.0/16", "name": "main" }])
    );
    assert_eq!(
        seen["subnets"],
        serde_json::json!([{ "id": subnet, "vpc": vpc, "cidr": "10.0.1.0/24", "az": "us-east-1a" }])
    );
    assert_eq!(
        seen["groups"],
        serde_json::json!([{ "id": group, "name": "web", "vpc": vpc, "ingress": ["tcp:443-443:0.0.0.0/0"] }])
    );
    assert_eq!(
        seen["instances"],
        serde_json::json!([{ "id": instance, "state": "running", "subnet": subnet, "name": "app-1", "groups": [group] }])
    );

    // Planned again: nothing to do.
    let again = ws.run(&["plan", "--detailed-exitcode"]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.both());

    // A change: the instance and the VPC renamed in place, one more rule.
    ws.edit(
        "main.mcpo",
        "name               = \"app-1\"",
        "name               = \"app-2\"",
    );
    ws.edit(
        "main.mcpo",
        "name       = \"main\"",
        "name       = \"core\"",
    );
    ws.write(
        "ssh.mcpo",
        r#"
resource "aws.ec2_security_group_rule" "ssh" {
  security_group_id = aws.ec2_security_group.web.id
  direction         = "ingress"
  protocol          = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_blocks       = ["10.0.0.0/8"]
}
"#,
    );
    let plan = ws.run(&["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains("~ aws.ec2_instance.app  (update in place)")
            && plan.stdout.contains(r#"name = "app-1" -> "app-2""#)
            && plan.stdout.contains("~ aws.vpc.main  (update in place)")
            && plan
                .stdout
                .contains("Plan: 1 to create, 2 to update, 0 to replace, 0 to delete."),
        "{}",
        plan.both()
    );
    ws.apply_ok();
    let seen = moto_sees(&p, &moto, &ids);
    assert_eq!(seen["instances"][0]["name"], "app-2", "{seen}");
    assert_eq!(
        seen["instances"][0]["id"],
        instance.as_str(),
        "not replaced"
    );
    assert_eq!(seen["vpcs"][0]["name"], "core", "{seen}");
    assert_eq!(
        seen["groups"][0]["ingress"],
        serde_json::json!(["tcp:22-22:10.0.0.0/8", "tcp:443-443:0.0.0.0/0"])
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // A rule revoked outside mcpo is seen (the adapter's `gone_when`) and planned back.
    revoke_outside(&p, &moto, &group, 22, "10.0.0.0/8");
    let drift = ws.run(&["plan", "--detailed-exitcode"]);
    drift.expect_code(2);
    assert!(
        drift
            .stdout
            .contains("+ aws.ec2_security_group_rule.ssh  (create)")
            && drift
                .stderr
                .contains("aws.ec2_security_group_rule.ssh: deleted outside mcpo"),
        "{}",
        drift.both()
    );
    ws.apply_ok();
    assert_eq!(
        moto_sees(&p, &moto, &ids)["groups"][0]["ingress"],
        serde_json::json!(["tcp:22-22:10.0.0.0/8", "tcp:443-443:0.0.0.0/0"])
    );

    // AWS refuses a subnet outside its VPC's range; the CLI server reports it in the body
    // (`isError` false), `failed_when` fails the step, and the state does not record it.
    ws.write(
        "bad.mcpo",
        r#"
resource "aws.vpc_subnet" "outside" {
  vpc_id            = aws.vpc.main.id
  cidr_block        = "192.168.0.0/24"
  availability_zone = "us-east-1a"
}
"#,
    );
    let failed = ws.run(&["apply", "--auto-approve"]);
    failed.expect_code(1);
    assert!(
        failed
            .stderr
            .contains("error[E0600]: aws.vpc_subnet.outside")
            && failed
                .stderr
                .contains("`failed_when` is true for the result")
            && failed.stderr.contains("\"operation\":\"CreateSubnet\""),
        "{}",
        failed.both()
    );
    assert_eq!(
        moto_sees(&p, &moto, &ids)["subnets"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "moto made no second subnet"
    );
    assert!(
        !ws.state_addresses()
            .contains(&"aws.vpc_subnet.outside".to_string())
    );
    std::fs::remove_file(ws.path().join("bad.mcpo")).expect("rm");
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // Destroy: moto holds nothing of ours (the instance terminated, the rest deleted).
    let ssh_state = ws.state_addresses();
    assert_eq!(ssh_state.len(), 6, "{ssh_state:?}");
    let destroyed = ws.run(&["destroy", "--auto-approve"]);
    destroyed.expect_code(0);
    assert!(
        destroyed.stdout.contains("6 deleted"),
        "{}",
        destroyed.both()
    );
    let seen = moto_sees(&p, &moto, &ids);
    assert_eq!(seen["vpcs"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["subnets"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["groups"], serde_json::json!([]), "{seen}");
    assert!(
        seen["instances"]
            .as_array()
            .is_some_and(|l| l.iter().all(|i| i["state"] == "terminated")),
        "{seen}"
    );
    assert_eq!(ws.state_addresses(), Vec::<String>::new());
}
