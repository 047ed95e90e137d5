//! The AWS twin: VPCs, subnets, security groups, EC2 instances, ACM certificates,
//! auto scaling groups, RDS instances and Route 53 records in one simulated account (read
//! replicas, backup plans and alarms are in `aws_ops`).

use crate::check::{domain_name, identifier, in_range, one_of};
use crate::kind::{Action, Done, Kind, TypeDef};
use crate::net::{Cidr, allocate, parse_ip};
use crate::shape::{AWS_CIDR_PATTERN, CIDR_PATTERN, enum_of, items_pattern, pattern};
use crate::store::{Record, World, rfc3339, splitmix64};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::net::Ipv4Addr;

const ACCOUNT: &str = "123456789012";
pub(crate) const REGION: &str = "us-east-1";
const AZS: &[&str] = &[
    "us-east-1a",
    "us-east-1b",
    "us-east-1c",
    "us-east-1d",
    "us-east-1e",
    "us-east-1f",
    "us-west-2a",
    "us-west-2b",
    "us-west-2c",
    "us-west-2d",
];
/// The regions of the twin's account (a VPC lives in one; see `region_of_az`).
pub(crate) const REGIONS: &[&str] = &["us-east-1", "us-west-2"];
const INSTANCE_TYPES: &[&str] = &[
    "t2.micro",
    "t2.small",
    "t2.medium",
    "t3.nano",
    "t3.micro",
    "t3.small",
    "t3.medium",
    "t3.large",
    "t3.xlarge",
    "t3a.micro",
    "t3a.small",
    "t3a.medium",
    "t4g.micro",
    "t4g.small",
    "m5.large",
    "m5.xlarge",
    "m5.2xlarge",
    "m6i.large",
    "m6i.xlarge",
    "m7g.medium",
    "m7g.large",
    "c5.large",
    "c5.xlarge",
    "c6i.large",
    "c7g.large",
    "r5.large",
    "r6i.large",
];
/// An AMI id: `ami-` and 8 or 17 hex digits.
const AMI_PATTERN: &str = "^ami-([0-9a-fA-F]{8}|[0-9a-fA-F]{17})$";
const SG_PROTOCOLS: &[&str] = &["tcp", "udp", "icmp", "-1"];
const VALIDATION_METHODS: &[&str] = &["DNS", "EMAIL"];
const ENGINES: &[&str] = &["postgres", "mysql", "mariadb"];
const RECORD_TYPES: &[&str] = &["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA"];
pub(crate) const DB_CLASSES: &[&str] = &[
    "db.t3.micro",
    "db.t3.small",
    "db.t3.medium",
    "db.t4g.micro",
    "db.t4g.small",
    "db.t4g.medium",
    "db.m5.large",
    "db.m6g.large",
    "db.m6i.large",
    "db.r5.large",
    "db.r6g.large",
];

/// The AWS twin's resource types, in dependency order.
pub(crate) fn types() -> Result<Vec<TypeDef>, String> {
    Ok(vec![
        TypeDef::of::<Vpc>()?,
        TypeDef::of::<Subnet>()?,
        TypeDef::of::<SecurityGroup>()?,
        TypeDef::of::<Instance>()?,
        TypeDef::of::<Certificate>()?,
        TypeDef::of::<AutoScalingGroup>()?.with(Action::new::<SetCapacityArgs, AsgOutput>(
            AutoScalingGroup::TYPE,
            "set_desired_capacity",
            "Set how many instances an auto scaling group runs (between its min_size and max_size): instances are launched or terminated to match. Returns the group's state.",
            false,
            true,
            set_desired_capacity,
        ))?,
        TypeDef::of::<RdsInstance>()?,
        TypeDef::of::<Route53Record>()?.with(Action::new::<ShiftArgs, ShiftOutput>(
            Route53Record::TYPE,
            "shift_weight",
            "Send all traffic of a hosted zone's weighted record sets to one set identifier (for a failover between regions): the record sets with that identifier get weight 100, the other weighted record sets of the same names and types weight 0. Returns the record sets changed.",
            false,
            true,
            shift_weight,
        ))?,
        TypeDef::of::<crate::aws_ops::RdsReadReplica>()?.with(Action::new::<
            crate::kind::IdArgs,
            crate::aws_ops::ReplicaOutput,
        >(
            crate::aws_ops::RdsReadReplica::TYPE,
            "promote",
            "Promote a read replica to a standalone DB instance that accepts writes (replication from its source stops; this cannot be undone). Returns the instance's state.",
            false,
            false,
            crate::aws_ops::promote,
        ))?,
        TypeDef::of::<crate::aws_ops::HealthCheck>()?.with(Action::new::<
            crate::kind::IdArgs,
            crate::aws_ops::HealthStatus,
        >(
            crate::aws_ops::HealthCheck::TYPE,
            "status",
            "Check a Route 53 health check now: whether the endpoint it watches answers. Read-only.",
            true,
            true,
            crate::aws_ops::health_status,
        ))?,
        TypeDef::of::<crate::aws_ops::BackupPlan>()?,
        TypeDef::of::<crate::aws_ops::CloudwatchAlarm>()?,
    ])
}

pub(crate) fn arn(service: &str, resource: &str) -> String {
    arn_in(REGION, service, resource)
}

/// An ARN in `region`.
pub(crate) fn arn_in(region: &str, service: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{region}:{ACCOUNT}:{resource}")
}

/// The region of an availability zone: `us-west-2b` is in `us-west-2`.
pub(crate) fn region_of_az(az: &str) -> &str {
    az.trim_end_matches(|c: char| c.is_ascii_lowercase())
}

/// The region of a subnet (of its availability zone); the home region if it is unknown.
pub(crate) fn region_of_subnet<'w>(world: &'w World, subnet: &str) -> &'w str {
    world
        .get("vpc_subnet", subnet)
        .map_or(REGION, |s| region_of_az(s.input_str("availability_zone")))
}

fn vpc_cidr(world: &World, vpc_id: &str) -> Result<Cidr, String> {
    let vpc = world
        .get("vpc", vpc_id)
        .ok_or_else(|| format!("InvalidVpcID.NotFound: the VPC '{vpc_id}' does not exist"))?;
    Cidr::parse(vpc.input_str("cidr_block"))
}

fn dependency_error(kind: &str, id: &str, dependents: Vec<String>) -> Result<(), String> {
    if dependents.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "DependencyViolation: the {kind} '{id}' has dependencies and cannot be deleted: {}; delete them first",
            dependents.join(", ")
        ))
    }
}

fn check_ami(ami: &str) -> Result<(), String> {
    let hex = ami.strip_prefix("ami-").unwrap_or("");
    if (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!(
            "InvalidAMIID.Malformed: \"{ami}\" is not an AMI id (expected ami- followed by 8 or 17 hex digits, e.g. ami-0abcdef1234567890)"
        ))
    }
}

fn check_instance_type(instance_type: &str) -> Result<(), String> {
    if INSTANCE_TYPES.contains(&instance_type) {
        Ok(())
    } else {
        Err(format!(
            "InvalidParameterValue: \"{instance_type}\" is not a valid instance type; valid types include {}",
            INSTANCE_TYPES.join(", ")
        ))
    }
}

/// Checks that every subnet exists and that they all belong to one VPC; returns it.
fn subnets_vpc(world: &World, subnet_ids: &[String]) -> Result<String, String> {
    let mut vpc: Option<String> = None;
    if subnet_ids.is_empty() {
        return Err("at least one subnet id is required".into());
    }
    for id in subnet_ids {
        let subnet = world
            .get("vpc_subnet", id)
            .ok_or_else(|| format!("InvalidSubnetID.NotFound: the subnet '{id}' does not exist"))?;
        let this_vpc = subnet.input_str("vpc_id").to_string();
        match &vpc {
            Some(v) if *v != this_vpc => {
                return Err(format!(
                    "InvalidParameterCombination: subnet {id} is in VPC {this_vpc} but the other subnets are in VPC {v}"
                ));
            }
            _ => vpc = Some(this_vpc),
        }
    }
    Ok(vpc.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------
// vpc

/// A virtual private cloud.
pub(crate) struct Vpc;

/// Inputs of a VPC.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct VpcInput {
    /// The IPv4 network range of the VPC in CIDR notation, from /16 to /28 (e.g. 10.0.0.0/16).
    #[schemars(transform = pattern(AWS_CIDR_PATTERN))]
    pub cidr_block: String,
    /// The value of the VPC's Name tag.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether instances launched in the VPC get public DNS hostnames.
    #[serde(default)]
    pub enable_dns_hostnames: bool,
}

/// State of a VPC.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct VpcOutput {
    /// The VPC id (vpc-...).
    pub id: String,
    /// The Amazon Resource Name of the VPC.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: VpcInput,
    /// The VPC's state: always "available" once created.
    pub state: String,
    /// The id of the AWS account that owns the VPC.
    pub owner_id: String,
    /// Whether this is the account's default VPC (never, for VPCs you create).
    pub is_default: bool,
}

impl Kind for Vpc {
    type Input = VpcInput;
    type Output = VpcOutput;
    const TYPE: &'static str = "vpc";
    const ABOUT: &'static str = "an AWS VPC (virtual private cloud)";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["cidr_block"]);

    fn check(_: &World, input: &VpcInput, _: Option<&str>) -> Result<(), String> {
        let cidr = Cidr::parse(&input.cidr_block)?;
        if !(16..=28).contains(&cidr.prefix()) {
            return Err(format!(
                "InvalidVpc.Range: the CIDR '{cidr}' is invalid: a VPC's block size must be between /16 and /28"
            ));
        }
        Ok(())
    }

    fn create(world: &mut World, _: &VpcInput) -> Result<(String, Map<String, Value>), String> {
        Ok((world.hex_id("vpc-", 8), Map::new()))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let mut deps: Vec<String> = world
            .all("vpc_subnet")
            .filter(|s| s.input_str("vpc_id") == record.id)
            .map(|s| format!("subnet {}", s.id))
            .collect();
        deps.extend(
            world
                .all("ec2_security_group")
                .filter(|s| s.input_str("vpc_id") == record.id)
                .map(|s| format!("security group {}", s.id)),
        );
        dependency_error("vpc", &record.id, deps)
    }

    fn output(_: &World, record: &Record, inputs: VpcInput, _: u64) -> VpcOutput {
        VpcOutput {
            id: record.id.clone(),
            arn: arn("ec2", &format!("vpc/{}", record.id)),
            inputs,
            state: "available".into(),
            owner_id: ACCOUNT.into(),
            is_default: false,
        }
    }
}

// ---------------------------------------------------------------------------------------
// vpc_subnet

/// A subnet of a VPC.
pub(crate) struct Subnet;

/// Inputs of a subnet.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct SubnetInput {
    /// The id of the VPC the subnet belongs to.
    pub vpc_id: String,
    /// The subnet's IPv4 range: inside the VPC's range, /16 to /28, not overlapping another
    /// subnet of the VPC.
    #[schemars(transform = pattern(AWS_CIDR_PATTERN))]
    pub cidr_block: String,
    /// The availability zone, e.g. us-east-1a.
    #[schemars(transform = enum_of(AZS))]
    pub availability_zone: String,
    /// The value of the subnet's Name tag.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether instances launched here get a public IPv4 address.
    #[serde(default)]
    pub map_public_ip_on_launch: bool,
}

/// State of a subnet.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SubnetOutput {
    /// The subnet id (subnet-...).
    pub id: String,
    /// The Amazon Resource Name of the subnet.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: SubnetInput,
    /// The subnet's state: always "available" once created.
    pub state: String,
    /// Free IPv4 addresses (AWS reserves 5 per subnet).
    pub available_ip_address_count: u64,
}

impl Kind for Subnet {
    type Input = SubnetInput;
    type Output = SubnetOutput;
    const TYPE: &'static str = "vpc_subnet";
    const ABOUT: &'static str = "a subnet of an AWS VPC";
    const IMMUTABLE: Option<&'static [&'static str]> =
        Some(&["vpc_id", "cidr_block", "availability_zone"]);

    fn check(world: &World, input: &SubnetInput, this: Option<&str>) -> Result<(), String> {
        let cidr = Cidr::parse(&input.cidr_block)?;
        let vpc = vpc_cidr(world, &input.vpc_id)?;
        one_of("availability_zone", &input.availability_zone, AZS)?;
        let region = region_of_az(&input.availability_zone);
        if let Some(other) = world.all("vpc_subnet").find(|s| {
            Some(s.id.as_str()) != this
                && s.input_str("vpc_id") == input.vpc_id
                && region_of_az(s.input_str("availability_zone")) != region
        }) {
            return Err(format!(
                "InvalidParameterValue: availability zone {} is in region {region}, but VPC {} is in region {} (subnet {}); a VPC lives in one region",
                input.availability_zone,
                input.vpc_id,
                region_of_az(other.input_str("availability_zone")),
                other.id
            ));
        }
        if !(16..=28).contains(&cidr.prefix()) {
            return Err(format!(
                "InvalidSubnet.Range: the CIDR '{cidr}' is invalid: a subnet's block size must be between /16 and /28"
            ));
        }
        if !vpc.contains(cidr) {
            return Err(format!(
                "InvalidSubnet.Range: subnet {cidr} is outside VPC {} ({vpc})",
                input.vpc_id
            ));
        }
        for other in world.all("vpc_subnet") {
            if Some(other.id.as_str()) == this || other.input_str("vpc_id") != input.vpc_id {
                continue;
            }
            if let Ok(o) = Cidr::parse(other.input_str("cidr_block"))
                && o.overlaps(cidr)
            {
                return Err(format!(
                    "InvalidSubnet.Conflict: the CIDR '{cidr}' conflicts with subnet {} ({o}) in VPC {}",
                    other.id, input.vpc_id
                ));
            }
        }
        Ok(())
    }

    fn create(world: &mut World, _: &SubnetInput) -> Result<(String, Map<String, Value>), String> {
        Ok((world.hex_id("subnet-", 17), Map::new()))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let mut deps: Vec<String> = world
            .all("ec2_instance")
            .filter(|i| i.input_str("subnet_id") == record.id)
            .map(|i| format!("instance {}", i.id))
            .collect();
        for (ty, label) in [
            ("autoscaling_group", "auto scaling group"),
            ("rds_instance", "DB instance"),
        ] {
            deps.extend(
                world
                    .all(ty)
                    .filter(|r| r.input_strs("subnet_ids").contains(&record.id.as_str()))
                    .map(|r| format!("{label} {}", r.id)),
            );
        }
        dependency_error("subnet", &record.id, deps)
    }

    fn output(world: &World, record: &Record, inputs: SubnetInput, _: u64) -> SubnetOutput {
        let size = Cidr::parse(&inputs.cidr_block).map(Cidr::size).unwrap_or(0);
        let used = world
            .all("ec2_instance")
            .filter(|i| i.input_str("subnet_id") == record.id)
            .count() as u64;
        SubnetOutput {
            id: record.id.clone(),
            arn: arn("ec2", &format!("subnet/{}", record.id)),
            inputs,
            state: "available".into(),
            available_ip_address_count: size.saturating_sub(5 + used),
        }
    }
}

// ---------------------------------------------------------------------------------------
// ec2_security_group

/// A security group.
pub(crate) struct SecurityGroup;

/// One security group rule.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct SgRule {
    /// IP protocol: tcp, udp, icmp, or -1 for all traffic.
    #[schemars(transform = enum_of(SG_PROTOCOLS))]
    pub protocol: String,
    /// First port of the range (tcp/udp; ignored for -1).
    #[serde(default)]
    #[schemars(range(min = -1, max = 65535))]
    pub from_port: i64,
    /// Last port of the range (tcp/udp; ignored for -1).
    #[serde(default)]
    #[schemars(range(min = -1, max = 65535))]
    pub to_port: i64,
    /// IPv4 ranges the rule applies to, e.g. ["0.0.0.0/0"].
    #[schemars(transform = items_pattern(CIDR_PATTERN))]
    pub cidr_blocks: Vec<String>,
    /// What the rule is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// Inputs of a security group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct SgInput {
    /// The group's name, unique within its VPC (may not start with sg-).
    pub group_name: String,
    /// What the group is for.
    pub description: String,
    /// The VPC the group belongs to.
    pub vpc_id: String,
    /// Inbound rules.
    #[serde(default)]
    pub ingress: Vec<SgRule>,
    /// Outbound rules (AWS allows all outbound traffic when none are given).
    #[serde(default)]
    pub egress: Vec<SgRule>,
}

/// State of a security group.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SgOutput {
    /// The security group id (sg-...).
    pub id: String,
    /// The Amazon Resource Name of the group.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: SgInput,
    /// The id of the AWS account that owns the group.
    pub owner_id: String,
}

fn check_rule(direction: &str, rule: &SgRule) -> Result<(), String> {
    one_of(
        &format!("{direction} rule protocol"),
        &rule.protocol,
        SG_PROTOCOLS,
    )?;
    if rule.protocol == "tcp" || rule.protocol == "udp" {
        in_range(
            &format!("{direction} rule from_port"),
            rule.from_port,
            0,
            65535,
        )?;
        in_range(&format!("{direction} rule to_port"), rule.to_port, 0, 65535)?;
        if rule.from_port > rule.to_port {
            return Err(format!(
                "InvalidParameterValue: {direction} rule port range {}-{} is reversed: from_port must not exceed to_port",
                rule.from_port, rule.to_port
            ));
        }
    }
    if rule.cidr_blocks.is_empty() {
        return Err(format!(
            "{direction} rule needs at least one entry in cidr_blocks (e.g. 0.0.0.0/0)"
        ));
    }
    for c in &rule.cidr_blocks {
        Cidr::parse(c)?;
    }
    Ok(())
}

impl Kind for SecurityGroup {
    type Input = SgInput;
    type Output = SgOutput;
    const TYPE: &'static str = "ec2_security_group";
    const ABOUT: &'static str = "an EC2 security group (a stateful firewall for instances)";
    const IMMUTABLE: Option<&'static [&'static str]> =
        Some(&["group_name", "description", "vpc_id"]);

    fn check(world: &World, input: &SgInput, this: Option<&str>) -> Result<(), String> {
        identifier("group_name", &input.group_name, 255)?;
        if input.group_name.starts_with("sg-") {
            return Err("InvalidParameterValue: group_name may not start with 'sg-'".into());
        }
        vpc_cidr(world, &input.vpc_id)?;
        for rule in &input.ingress {
            check_rule("ingress", rule)?;
        }
        for rule in &input.egress {
            check_rule("egress", rule)?;
        }
        if let Some(dup) = world.all(Self::TYPE).find(|g| {
            Some(g.id.as_str()) != this
                && g.input_str("vpc_id") == input.vpc_id
                && g.input_str("group_name") == input.group_name
        }) {
            return Err(format!(
                "InvalidGroup.Duplicate: the security group '{}' already exists for VPC '{}' ({})",
                input.group_name, input.vpc_id, dup.id
            ));
        }
        Ok(())
    }

    fn create(world: &mut World, _: &SgInput) -> Result<(String, Map<String, Value>), String> {
        Ok((world.hex_id("sg-", 17), Map::new()))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let deps = world
            .all("ec2_instance")
            .filter(|i| {
                i.input_strs("security_group_ids")
                    .contains(&record.id.as_str())
            })
            .map(|i| format!("instance {}", i.id))
            .chain(
                world
                    .all("rds_instance")
                    .filter(|d| {
                        d.input_strs("vpc_security_group_ids")
                            .contains(&record.id.as_str())
                    })
                    .map(|d| format!("DB instance {}", d.id)),
            )
            .collect();
        dependency_error("security group", &record.id, deps)
    }

    fn output(_: &World, record: &Record, inputs: SgInput, _: u64) -> SgOutput {
        SgOutput {
            id: record.id.clone(),
            arn: arn("ec2", &format!("security-group/{}", record.id)),
            inputs,
            owner_id: ACCOUNT.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// ec2_instance

/// An EC2 instance.
pub(crate) struct Instance;

/// Inputs of an EC2 instance.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct InstanceInput {
    /// The machine image, e.g. ami-0abcdef1234567890.
    #[schemars(transform = pattern(AMI_PATTERN))]
    pub ami: String,
    /// The instance type, e.g. t3.micro.
    #[schemars(transform = enum_of(INSTANCE_TYPES))]
    pub instance_type: String,
    /// The subnet to launch into; the private IP comes from its range.
    pub subnet_id: String,
    /// Security groups of the instance's VPC.
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// The value of the instance's Name tag.
    #[serde(default)]
    pub name: Option<String>,
    /// The name of the key pair for SSH access.
    #[serde(default)]
    pub key_name: Option<String>,
    /// Data passed to the instance at boot (cloud-init).
    #[serde(default)]
    pub user_data: Option<String>,
}

/// State of an EC2 instance.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct InstanceOutput {
    /// The instance id (i-...).
    pub id: String,
    /// The Amazon Resource Name of the instance.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: InstanceInput,
    /// The instance state: "pending" right after launch, then "running".
    pub state: String,
    /// The private IPv4 address, allocated from the subnet's range.
    pub private_ip: String,
    /// The private DNS name, e.g. ip-10-0-1-4.ec2.internal.
    pub private_dns_name: String,
    /// The public IPv4 address, when the subnet maps one on launch.
    pub public_ip: Option<String>,
    /// The VPC of the subnet.
    pub vpc_id: String,
    /// The availability zone of the subnet.
    pub availability_zone: String,
    /// When the instance was launched (RFC 3339).
    pub launch_time: String,
}

impl Kind for Instance {
    type Input = InstanceInput;
    type Output = InstanceOutput;
    const TYPE: &'static str = "ec2_instance";
    const ABOUT: &'static str = "an EC2 instance (a virtual machine)";
    const IMMUTABLE: Option<&'static [&'static str]> =
        Some(&["ami", "subnet_id", "key_name", "user_data"]);

    fn check(world: &World, input: &InstanceInput, _: Option<&str>) -> Result<(), String> {
        check_ami(&input.ami)?;
        check_instance_type(&input.instance_type)?;
        let subnet = world.get("vpc_subnet", &input.subnet_id).ok_or_else(|| {
            format!(
                "InvalidSubnetID.NotFound: the subnet '{}' does not exist; create it first or use an existing subnet id",
                input.subnet_id
            )
        })?;
        let vpc = subnet.input_str("vpc_id");
        for sg in &input.security_group_ids {
            let group = world.get("ec2_security_group", sg).ok_or_else(|| {
                format!("InvalidGroup.NotFound: the security group '{sg}' does not exist")
            })?;
            if group.input_str("vpc_id") != vpc {
                return Err(format!(
                    "InvalidParameter: security group {sg} belongs to VPC {} but subnet {} is in VPC {vpc}",
                    group.input_str("vpc_id"),
                    input.subnet_id
                ));
            }
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        input: &InstanceInput,
    ) -> Result<(String, Map<String, Value>), String> {
        let subnet = world
            .get("vpc_subnet", &input.subnet_id)
            .cloned()
            .ok_or_else(|| format!("the subnet '{}' does not exist", input.subnet_id))?;
        let block = Cidr::parse(subnet.input_str("cidr_block"))?;
        let taken: Vec<Ipv4Addr> = world
            .all(Self::TYPE)
            .filter(|i| i.input_str("subnet_id") == subnet.id)
            .filter_map(|i| i.attr_str("private_ip").parse().ok())
            .collect();
        // AWS reserves the first four addresses and the last one of every subnet.
        let ip = allocate(block, 4, 1, &taken).ok_or_else(|| {
            format!(
                "InsufficientFreeAddressesInSubnet: subnet {} ({block}) has no free IPv4 address left",
                subnet.id
            )
        })?;
        let id = world.hex_id("i-", 17);
        let mut attrs = Map::new();
        attrs.insert("private_ip".into(), json!(ip.to_string()));
        attrs.insert("vpc_id".into(), json!(subnet.input_str("vpc_id")));
        attrs.insert(
            "availability_zone".into(),
            json!(subnet.input_str("availability_zone")),
        );
        if subnet.inputs.get("map_public_ip_on_launch") == Some(&Value::Bool(true)) {
            let r = world.next_u64();
            let public = Ipv4Addr::new(
                54,
                (r >> 8) as u8 % 250 + 1,
                (r >> 16) as u8,
                (r >> 24) as u8 % 250 + 2,
            );
            attrs.insert("public_ip".into(), json!(public.to_string()));
        }
        Ok((id, attrs))
    }

    fn output(_: &World, record: &Record, inputs: InstanceInput, now: u64) -> InstanceOutput {
        let ip = record.attr_str("private_ip").to_string();
        InstanceOutput {
            id: record.id.clone(),
            arn: arn("ec2", &format!("instance/{}", record.id)),
            inputs,
            state: if record.ready(now) {
                "running"
            } else {
                "pending"
            }
            .into(),
            private_dns_name: format!("ip-{}.ec2.internal", ip.replace('.', "-")),
            private_ip: ip,
            public_ip: record
                .attrs
                .get("public_ip")
                .and_then(Value::as_str)
                .map(String::from),
            vpc_id: record.attr_str("vpc_id").into(),
            availability_zone: record.attr_str("availability_zone").into(),
            launch_time: rfc3339(record.created_ms),
        }
    }
}

// ---------------------------------------------------------------------------------------
// acm_certificate

/// An ACM certificate.
pub(crate) struct Certificate;

/// Inputs of a certificate request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct CertificateInput {
    /// The fully qualified domain name to protect, e.g. www.example.com or *.example.com.
    pub domain_name: String,
    /// Other names the certificate also covers.
    #[serde(default)]
    pub subject_alternative_names: Vec<String>,
    /// How ownership of the domain is proven: DNS or EMAIL.
    #[serde(default = "default_validation")]
    #[schemars(transform = enum_of(VALIDATION_METHODS))]
    pub validation_method: String,
}

fn default_validation() -> String {
    "DNS".into()
}

/// A DNS record that proves ownership of one domain.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DomainValidation {
    /// The domain being validated.
    pub domain_name: String,
    /// Name of the CNAME record to create.
    pub resource_record_name: String,
    /// Type of the record (always CNAME).
    pub resource_record_type: String,
    /// Value of the CNAME record.
    pub resource_record_value: String,
}

/// State of a certificate.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CertificateOutput {
    /// The certificate id (the last part of its ARN).
    pub id: String,
    /// The certificate's Amazon Resource Name, used to attach it to load balancers.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: CertificateInput,
    /// "pending_validation" until the domain is validated, then "issued".
    pub status: String,
    /// The DNS records that validate the domains.
    pub domain_validation_options: Vec<DomainValidation>,
    /// Start of validity (RFC 3339), once issued.
    pub not_before: Option<String>,
    /// End of validity (RFC 3339), once issued: 395 days after issue.
    pub not_after: Option<String>,
}

impl Kind for Certificate {
    type Input = CertificateInput;
    type Output = CertificateOutput;
    const TYPE: &'static str = "acm_certificate";
    const ABOUT: &'static str = "an ACM (AWS Certificate Manager) TLS certificate";
    const IMMUTABLE: Option<&'static [&'static str]> = None;

    fn check(_: &World, input: &CertificateInput, _: Option<&str>) -> Result<(), String> {
        domain_name("domain_name", &input.domain_name)?;
        for san in &input.subject_alternative_names {
            domain_name("subject_alternative_names entry", san)?;
        }
        one_of(
            "validation_method",
            &input.validation_method,
            VALIDATION_METHODS,
        )
    }

    fn create(
        world: &mut World,
        input: &CertificateInput,
    ) -> Result<(String, Map<String, Value>), String> {
        let mut attrs = Map::new();
        let tokens: Vec<Value> = std::iter::once(&input.domain_name)
            .chain(&input.subject_alternative_names)
            .map(|_| json!(world.hex_id("_", 32)))
            .collect();
        attrs.insert("tokens".into(), Value::Array(tokens));
        Ok((world.uuid(), attrs))
    }

    fn output(_: &World, record: &Record, inputs: CertificateInput, now: u64) -> CertificateOutput {
        let tokens: Vec<String> = record.attr("tokens");
        let domain_validation_options = std::iter::once(&inputs.domain_name)
            .chain(&inputs.subject_alternative_names)
            .zip(tokens.iter())
            .map(|(d, t)| {
                let base = d.trim_start_matches("*.");
                DomainValidation {
                    domain_name: d.clone(),
                    resource_record_name: format!("{t}.{base}."),
                    resource_record_type: "CNAME".into(),
                    resource_record_value: format!(
                        "{}.acm-validations.aws.",
                        t.get(1..).unwrap_or_default()
                    ),
                }
            })
            .collect();
        let issued = record.ready(now);
        CertificateOutput {
            id: record.id.clone(),
            arn: arn("acm", &format!("certificate/{}", record.id)),
            inputs,
            status: if issued {
                "issued"
            } else {
                "pending_validation"
            }
            .into(),
            domain_validation_options,
            not_before: issued.then(|| rfc3339(record.ready_ms)),
            not_after: issued.then(|| rfc3339(record.ready_ms.saturating_add(395 * 86_400_000))),
        }
    }
}

// ---------------------------------------------------------------------------------------
// autoscaling_group

/// An auto scaling group.
pub(crate) struct AutoScalingGroup;

/// Inputs of an auto scaling group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct AsgInput {
    /// The group's name, unique in the account; it is also the group's id.
    pub name: String,
    /// The fewest instances the group runs.
    #[schemars(range(min = 0, max = 10000))]
    pub min_size: i64,
    /// The most instances the group runs.
    #[schemars(range(min = 0, max = 10000))]
    pub max_size: i64,
    /// How many instances the group should run (min_size when absent).
    #[serde(default)]
    pub desired_capacity: Option<i64>,
    /// Subnets (of one VPC) the instances are spread over.
    pub subnet_ids: Vec<String>,
    /// The machine image of the instances.
    #[schemars(transform = pattern(AMI_PATTERN))]
    pub image_id: String,
    /// The instance type of the instances.
    #[schemars(transform = enum_of(INSTANCE_TYPES))]
    pub instance_type: String,
}

/// State of an auto scaling group.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AsgOutput {
    /// The group's id (its name).
    pub id: String,
    /// The group's Amazon Resource Name.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: AsgInput,
    /// Ids of the group's instances, one per desired instance.
    pub instance_ids: Vec<String>,
    /// The instances' private IPv4 addresses, in the order of instance_ids (each in the
    /// subnet it was placed in, round robin over subnet_ids).
    pub private_ips: Vec<String>,
    /// How many of them are InService; rises to desired_capacity as instances boot.
    pub in_service_instance_count: i64,
    /// The VPC of the subnets.
    pub vpc_id: String,
    /// The region the group runs in (its subnets' region).
    pub region: String,
}

/// Arguments of `autoscaling_group.set_desired_capacity`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SetCapacityArgs {
    /// The group's id (its name).
    pub id: String,
    /// How many instances the group should run, between its min_size and max_size.
    pub desired_capacity: i64,
}

/// `autoscaling_group.set_desired_capacity`: launches or terminates instances to reach the
/// new capacity; the stored desired_capacity changes (a later plan sees the drift).
fn set_desired_capacity(
    world: &mut World,
    args: SetCapacityArgs,
    now: u64,
) -> Result<Done, String> {
    let record = crate::kind::find(world, AutoScalingGroup::TYPE, &args.id)?.clone();
    let mut input: AsgInput = serde_json::from_value(record.inputs.clone()).map_err(|e| {
        format!(
            "the stored state of autoscaling_group {} is damaged: {e}",
            args.id
        )
    })?;
    let d = args.desired_capacity;
    if d > input.max_size {
        return Err(format!(
            "ValidationError: New SetDesiredCapacity value {d} is above max value {} for the AutoScalingGroup.",
            input.max_size
        ));
    }
    if d < input.min_size {
        return Err(format!(
            "ValidationError: New SetDesiredCapacity value {d} is below min value {} for the AutoScalingGroup.",
            input.min_size
        ));
    }
    input.desired_capacity = Some(d);
    let mut attrs = record.attrs.clone();
    let restart = AutoScalingGroup::update(world, &record, &input, &mut attrs)?;
    let mut updated = Record {
        inputs: serde_json::to_value(&input).map_err(|e| e.to_string())?,
        attrs,
        ..record
    };
    if restart {
        updated.changed_ms = now;
        updated.ready_ms = now.saturating_add(world.ready_delay_ms);
    }
    let value = crate::kind::view::<AutoScalingGroup>(world, &updated, now)?;
    world.put(AutoScalingGroup::TYPE, updated);
    Ok(Done {
        value,
        touched: vec![(AutoScalingGroup::TYPE.to_string(), args.id)],
    })
}

/// Stable private addresses for a group's instances: instance `i` in subnet `i % n`, at a
/// host number derived from its id (past the 4 addresses AWS reserves).
fn group_ips(world: &World, subnets: &[String], ids: &[String]) -> Vec<String> {
    ids.iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let subnet = subnets.get(i % subnets.len().max(1))?;
            let cidr =
                Cidr::parse(world.get("vpc_subnet", subnet)?.input_str("cidr_block")).ok()?;
            let seed = id.bytes().fold(0u64, |h, b| splitmix64(h ^ u64::from(b)));
            let hosts = cidr.size().saturating_sub(5).max(1);
            cidr.host(4 + seed % hosts).map(|ip| ip.to_string())
        })
        .collect()
}

fn desired(input: &AsgInput) -> i64 {
    input.desired_capacity.unwrap_or(input.min_size)
}

impl Kind for AutoScalingGroup {
    type Input = AsgInput;
    type Output = AsgOutput;
    const TYPE: &'static str = "autoscaling_group";
    const ABOUT: &'static str = "an EC2 auto scaling group";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(world: &World, input: &AsgInput, this: Option<&str>) -> Result<(), String> {
        identifier("name", &input.name, 255)?;
        if this.is_none() && world.get(Self::TYPE, &input.name).is_some() {
            return Err(format!(
                "AlreadyExists: an auto scaling group named {} already exists",
                input.name
            ));
        }
        in_range("min_size", input.min_size, 0, 10_000)?;
        in_range("max_size", input.max_size, 0, 10_000)?;
        if input.min_size > input.max_size {
            return Err(format!(
                "ValidationError: min_size ({}) must not exceed max_size ({})",
                input.min_size, input.max_size
            ));
        }
        let d = desired(input);
        if d < input.min_size || d > input.max_size {
            return Err(format!(
                "ValidationError: desired_capacity {d} must be between min_size {} and max_size {}",
                input.min_size, input.max_size
            ));
        }
        check_ami(&input.image_id)?;
        check_instance_type(&input.instance_type)?;
        subnets_vpc(world, &input.subnet_ids).map(|_| ())
    }

    fn create(world: &mut World, input: &AsgInput) -> Result<(String, Map<String, Value>), String> {
        let mut attrs = Map::new();
        let ids: Vec<Value> = (0..desired(input))
            .map(|_| json!(world.hex_id("i-", 17)))
            .collect();
        attrs.insert("instance_ids".into(), Value::Array(ids));
        attrs.insert("uuid".into(), json!(world.uuid()));
        attrs.insert("previous_in_service".into(), json!(0));
        Ok((input.name.clone(), attrs))
    }

    fn update(
        world: &mut World,
        record: &Record,
        input: &AsgInput,
        attrs: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        let mut ids: Vec<String> = record.attr("instance_ids");
        let target = desired(input).max(0) as usize;
        let before = ids.len();
        while ids.len() < target {
            ids.push(world.hex_id("i-", 17));
        }
        ids.truncate(target);
        attrs.insert("instance_ids".into(), json!(ids));
        attrs.insert("previous_in_service".into(), json!(before.min(target)));
        Ok(target > before)
    }

    fn output(world: &World, record: &Record, inputs: AsgInput, now: u64) -> AsgOutput {
        let instance_ids: Vec<String> = record.attr("instance_ids");
        let inputs_subnets = inputs.subnet_ids.clone();
        let previous: i64 = record.attr("previous_in_service");
        let total = instance_ids.len() as i64;
        let rising = ((total - previous).max(0) as f64 * record.progress(now)).floor() as i64;
        let vpc_id = inputs
            .subnet_ids
            .first()
            .and_then(|s| world.get("vpc_subnet", s))
            .map(|s| s.input_str("vpc_id").to_string())
            .unwrap_or_default();
        let region = inputs
            .subnet_ids
            .first()
            .map_or(REGION, |s| region_of_subnet(world, s))
            .to_string();
        AsgOutput {
            id: record.id.clone(),
            arn: arn_in(
                &region,
                "autoscaling",
                &format!(
                    "autoScalingGroup:{}:autoScalingGroupName/{}",
                    record.attr_str("uuid"),
                    record.id
                ),
            ),
            inputs,
            in_service_instance_count: (previous + rising).min(total),
            private_ips: group_ips(world, &inputs_subnets, &instance_ids),
            instance_ids,
            vpc_id,
            region,
        }
    }
}

// ---------------------------------------------------------------------------------------
// rds_instance

/// An RDS database instance.
pub(crate) struct RdsInstance;

/// Inputs of an RDS instance.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct RdsInput {
    /// The DB instance identifier: 1-63 letters, digits or hyphens, starting with a letter.
    pub identifier: String,
    /// The database engine: postgres, mysql or mariadb.
    #[schemars(transform = enum_of(ENGINES))]
    pub engine: String,
    /// The engine version (the engine's current default when absent).
    #[serde(default)]
    pub engine_version: Option<String>,
    /// The instance class, e.g. db.t3.micro.
    #[schemars(transform = enum_of(DB_CLASSES))]
    pub instance_class: String,
    /// Storage in GiB, 20 to 65536; can only grow.
    #[serde(default = "default_storage")]
    #[schemars(range(min = 20, max = 65536))]
    pub allocated_storage: i64,
    /// Name of the master user.
    pub master_username: String,
    /// Password of the master user (8-128 printable characters except / " @ and space).
    /// Sensitive: never returned.
    #[schemars(extend("writeOnly" = true))]
    pub master_password: String,
    /// Subnets of one VPC covering at least two availability zones (the DB subnet group).
    pub subnet_ids: Vec<String>,
    /// Whether a standby runs in a second availability zone.
    #[serde(default)]
    pub multi_az: bool,
    /// Whether the endpoint resolves to a public address.
    #[serde(default)]
    pub publicly_accessible: bool,
    /// Security groups (of the subnets' VPC) controlling access to the instance.
    #[serde(default)]
    pub vpc_security_group_ids: Vec<String>,
}

fn default_storage() -> i64 {
    20
}

/// State of an RDS instance (the password is never returned).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RdsOutput {
    /// The DB instance identifier.
    pub id: String,
    /// The Amazon Resource Name of the instance.
    pub arn: String,
    /// The database engine.
    pub engine: String,
    /// The engine version in use.
    pub engine_version: String,
    /// The instance class.
    pub instance_class: String,
    /// Storage in GiB.
    pub allocated_storage: i64,
    /// Name of the master user.
    pub master_username: String,
    /// The subnets of the DB subnet group.
    pub subnet_ids: Vec<String>,
    /// Whether a standby runs in a second availability zone.
    pub multi_az: bool,
    /// Whether the endpoint resolves to a public address.
    pub publicly_accessible: bool,
    /// Security groups controlling access to the instance.
    pub vpc_security_group_ids: Vec<String>,
    /// "creating", then "available"; "modifying" for a while after an update.
    pub status: String,
    /// DNS name of the endpoint (absent while creating).
    pub endpoint_address: Option<String>,
    /// Port of the endpoint: 5432 for postgres, 3306 for mysql and mariadb.
    pub port: i64,
    /// The VPC of the subnets.
    pub vpc_id: String,
}

impl Kind for RdsInstance {
    type Input = RdsInput;
    type Output = RdsOutput;
    const TYPE: &'static str = "rds_instance";
    const ABOUT: &'static str = "an RDS managed database instance";
    const IMMUTABLE: Option<&'static [&'static str]> =
        Some(&["identifier", "engine", "master_username", "subnet_ids"]);

    fn check(world: &World, input: &RdsInput, this: Option<&str>) -> Result<(), String> {
        let id = &input.identifier;
        let ok = !id.is_empty()
            && id.len() <= 63
            && id.starts_with(|c: char| c.is_ascii_alphabetic())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !id.ends_with('-')
            && !id.contains("--");
        if !ok {
            return Err(format!(
                "InvalidParameterValue: DB instance identifier \"{id}\" is invalid: use 1-63 letters, digits or hyphens, start with a letter, no two consecutive hyphens, no trailing hyphen"
            ));
        }
        if this.is_none() && world.get(Self::TYPE, &id.to_lowercase()).is_some() {
            return Err(format!(
                "DBInstanceAlreadyExists: a DB instance named {id} already exists"
            ));
        }
        one_of("engine", &input.engine, ENGINES)?;
        one_of("instance_class", &input.instance_class, DB_CLASSES)?;
        in_range(
            "allocated_storage (GiB)",
            input.allocated_storage,
            20,
            65536,
        )?;
        let user = &input.master_username;
        if user.is_empty()
            || user.len() > 16
            || !user.starts_with(|c: char| c.is_ascii_alphabetic())
            || !user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "InvalidParameterValue: master_username \"{user}\" must be 1-16 letters, digits or '_' and start with a letter"
            ));
        }
        let pw = &input.master_password;
        if pw.len() < 8 || pw.len() > 128 || pw.chars().any(|c| "/\"@ ".contains(c)) {
            return Err("InvalidParameterValue: master_password must be 8-128 printable characters other than '/', '\"', '@' and space".into());
        }
        let vpc = subnets_vpc(world, &input.subnet_ids)?;
        for sg in &input.vpc_security_group_ids {
            match world.get("ec2_security_group", sg) {
                None => {
                    return Err(format!(
                        "InvalidGroup.NotFound: the security group '{sg}' does not exist"
                    ));
                }
                Some(g) if g.input_str("vpc_id") != vpc => {
                    return Err(format!(
                        "InvalidParameterCombination: security group {sg} is in VPC {}, not in the subnets' VPC {vpc}",
                        g.input_str("vpc_id")
                    ));
                }
                Some(_) => {}
            }
        }
        let mut azs: Vec<&str> = input
            .subnet_ids
            .iter()
            .filter_map(|s| world.get("vpc_subnet", s))
            .map(|s| s.input_str("availability_zone"))
            .collect();
        azs.sort_unstable();
        azs.dedup();
        if azs.len() < 2 {
            return Err(format!(
                "DBSubnetGroupDoesNotCoverEnoughAZs: the DB subnet group must cover at least 2 availability zones of VPC {vpc}; the subnets given cover only {}",
                azs.join(", ")
            ));
        }
        Ok(())
    }

    fn create(_: &mut World, input: &RdsInput) -> Result<(String, Map<String, Value>), String> {
        Ok((input.identifier.to_lowercase(), Map::new()))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let replicas: Vec<String> = world
            .all("rds_read_replica")
            .filter(|r| r.input_str("source_db_identifier").to_lowercase() == record.id)
            .map(|r| r.id.clone())
            .collect();
        dependency_error("DB instance", &record.id, replicas)
    }

    fn update(
        _: &mut World,
        record: &Record,
        input: &RdsInput,
        _: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        let old = record
            .inputs
            .get("allocated_storage")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if input.allocated_storage < old {
            return Err(format!(
                "InvalidParameterCombination: allocated storage can only grow: it is {old} GiB, {} GiB was requested",
                input.allocated_storage
            ));
        }
        Ok(true)
    }

    fn output(world: &World, record: &Record, inputs: RdsInput, now: u64) -> RdsOutput {
        let ready = record.ready(now);
        let status = match (ready, record.changed_ms == record.created_ms) {
            (true, _) => "available",
            (false, true) => "creating",
            (false, false) => "modifying",
        };
        let created = record.changed_ms != record.created_ms || ready;
        let engine_version = inputs.engine_version.clone().unwrap_or_else(|| {
            match inputs.engine.as_str() {
                "postgres" => "16.4",
                "mysql" => "8.0.39",
                _ => "10.11.9",
            }
            .into()
        });
        let vpc_id = inputs
            .subnet_ids
            .first()
            .and_then(|s| world.get("vpc_subnet", s))
            .map(|s| s.input_str("vpc_id").to_string())
            .unwrap_or_default();
        RdsOutput {
            id: record.id.clone(),
            arn: arn("rds", &format!("db:{}", record.id)),
            port: if inputs.engine == "postgres" {
                5432
            } else {
                3306
            },
            engine: inputs.engine,
            engine_version,
            instance_class: inputs.instance_class,
            allocated_storage: inputs.allocated_storage,
            master_username: inputs.master_username,
            subnet_ids: inputs.subnet_ids,
            multi_az: inputs.multi_az,
            publicly_accessible: inputs.publicly_accessible,
            vpc_security_group_ids: inputs.vpc_security_group_ids,
            status: status.into(),
            endpoint_address: created
                .then(|| format!("{}.c9akciq32lce.{REGION}.rds.amazonaws.com", record.id)),
            vpc_id,
        }
    }
}

// ---------------------------------------------------------------------------------------
// route53_record

/// A Route 53 resource record set.
pub(crate) struct Route53Record;

/// Inputs of a DNS record set.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct RecordInput {
    /// The hosted zone's domain, e.g. example.com.
    pub zone_name: String,
    /// The record's name: the zone itself or a name inside it, e.g. www.example.com.
    pub name: String,
    /// Record type: A, AAAA, CNAME, TXT, MX, NS, SRV or CAA.
    #[serde(rename = "type")]
    #[schemars(transform = enum_of(RECORD_TYPES))]
    pub record_type: String,
    /// Time to live in seconds.
    #[serde(default = "default_ttl")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub ttl: i64,
    /// The values, e.g. ["192.0.2.10"].
    pub records: Vec<String>,
    /// For weighted routing: what tells this record set from the others of the same name
    /// and type (e.g. the region it points to). Needs weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    /// For weighted routing: the share of answers (0 to 255) this record set gets among
    /// those of the same name and type. Needs set_identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 255))]
    pub weight: Option<i64>,
}

/// Arguments of `route53_record.shift_weight`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ShiftArgs {
    /// The hosted zone's domain, e.g. example.com.
    pub zone_name: String,
    /// The set identifier that gets all the traffic (weight 100).
    pub set_identifier: String,
}

/// Result of `route53_record.shift_weight`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ShiftOutput {
    /// The set identifier that now gets the traffic.
    pub set_identifier: String,
    /// The record sets whose weight changed (their new state), ordered by id.
    pub changed: Vec<RecordOutput>,
}

/// `route53_record.shift_weight`: weight 100 to the record sets of `set_identifier`, 0 to
/// the other weighted record sets with the same name and type.
fn shift_weight(world: &mut World, args: ShiftArgs, now: u64) -> Result<Done, String> {
    let zone = normalize(&args.zone_name);
    let weighted: Vec<Record> = world
        .all(Route53Record::TYPE)
        .filter(|r| {
            normalize(r.input_str("zone_name")) == zone
                && r.inputs.get("weight").is_some_and(|w| !w.is_null())
        })
        .cloned()
        .collect();
    let key = |r: &Record| {
        (
            normalize(r.input_str("name")),
            r.input_str("type").to_string(),
        )
    };
    let targets: Vec<(String, String)> = weighted
        .iter()
        .filter(|r| r.input_str("set_identifier") == args.set_identifier)
        .map(key)
        .collect();
    if targets.is_empty() {
        return Err(format!(
            "InvalidInput: hosted zone {zone} has no weighted record set with set identifier {}",
            args.set_identifier
        ));
    }
    let mut changed = Vec::new();
    let mut touched = Vec::new();
    for record in weighted.into_iter().filter(|r| targets.contains(&key(r))) {
        let weight = if record.input_str("set_identifier") == args.set_identifier {
            100
        } else {
            0
        };
        if record.inputs.get("weight").and_then(Value::as_i64) == Some(weight) {
            continue;
        }
        let mut updated = record;
        if let Some(m) = updated.inputs.as_object_mut() {
            m.insert("weight".into(), json!(weight));
        }
        updated.changed_ms = now;
        updated.ready_ms = now.saturating_add(world.ready_delay_ms);
        changed.push(crate::kind::view::<Route53Record>(world, &updated, now)?);
        touched.push((Route53Record::TYPE.to_string(), updated.id.clone()));
        world.put(Route53Record::TYPE, updated);
    }
    Ok(Done {
        value: json!({ "set_identifier": args.set_identifier, "changed": changed }),
        touched,
    })
}

fn default_ttl() -> i64 {
    300
}

/// State of a DNS record set.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RecordOutput {
    /// The record set's id: zone id, name and type.
    pub id: String,
    #[serde(flatten)]
    pub inputs: RecordInput,
    /// The fully qualified name with the trailing dot.
    pub fqdn: String,
    /// The hosted zone id (Z...).
    pub zone_id: String,
    /// "PENDING" while the change propagates, then "INSYNC".
    pub change_status: String,
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn zone_id(zone: &str) -> String {
    let h = normalize(zone)
        .bytes()
        .fold(0x5A5A_u64, |acc, b| splitmix64(acc ^ u64::from(b)));
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::from("Z0");
    let mut x = h;
    for _ in 0..19 {
        out.push(char::from(alphabet[(x % 36) as usize]));
        x = splitmix64(x);
    }
    out
}

fn record_id(input: &RecordInput) -> String {
    let id = format!(
        "{}_{}_{}",
        zone_id(&input.zone_name),
        normalize(&input.name),
        input.record_type
    );
    match &input.set_identifier {
        Some(set) => format!("{id}_{set}"),
        None => id,
    }
}

impl Kind for Route53Record {
    type Input = RecordInput;
    type Output = RecordOutput;
    const TYPE: &'static str = "route53_record";
    const ABOUT: &'static str = "a Route 53 DNS record set in a hosted zone";
    const IMMUTABLE: Option<&'static [&'static str]> =
        Some(&["zone_name", "name", "type", "set_identifier"]);

    fn check(world: &World, input: &RecordInput, this: Option<&str>) -> Result<(), String> {
        domain_name("zone_name", &input.zone_name)?;
        let (zone, name) = (normalize(&input.zone_name), normalize(&input.name));
        if name != zone && !name.ends_with(&format!(".{zone}")) {
            return Err(format!(
                "InvalidChangeBatch: record name {name} is not in hosted zone {zone}"
            ));
        }
        let t = input.record_type.as_str();
        one_of("type", t, RECORD_TYPES)?;
        in_range("ttl", input.ttl, 0, 2_147_483_647)?;
        if input.records.is_empty() {
            return Err(
                "InvalidChangeBatch: a record set needs at least one value in records".into(),
            );
        }
        for value in &input.records {
            match t {
                "A" => {
                    parse_ip("A record value", value)?;
                }
                "AAAA" => {
                    value.parse::<std::net::Ipv6Addr>().map_err(|_| {
                        format!("AAAA record value \"{value}\" is not an IPv6 address")
                    })?;
                }
                "CNAME" => domain_name("CNAME record value", value)?,
                _ => {}
            }
        }
        if t == "CNAME" {
            if input.records.len() != 1 {
                return Err(
                    "InvalidChangeBatch: a CNAME record set must have exactly one value".into(),
                );
            }
            if name == zone {
                return Err(format!(
                    "InvalidChangeBatch: a CNAME record is not permitted at the zone apex ({zone}); use an A or ALIAS record"
                ));
            }
        }
        match (&input.set_identifier, input.weight) {
            (Some(set), Some(w)) => {
                identifier("set_identifier", set, 128)?;
                in_range("weight", w, 0, 255)?;
            }
            (None, None) => {}
            _ => {
                return Err(
                    "InvalidInput: a weighted record set needs both set_identifier and weight"
                        .into(),
                );
            }
        }
        let mixed = world.all(Self::TYPE).any(|r| {
            Some(r.id.as_str()) != this
                && normalize(r.input_str("zone_name")) == zone
                && normalize(r.input_str("name")) == name
                && r.input_str("type") == t
                && r.inputs.get("set_identifier").is_none_or(Value::is_null)
                    != input.set_identifier.is_none()
        });
        if mixed {
            return Err(format!(
                "InvalidChangeBatch: record set [name='{name}.', type='{t}'] mixes weighted and simple routing"
            ));
        }
        let id = record_id(input);
        if this.is_none() && world.get(Self::TYPE, &id).is_some() {
            return Err(format!(
                "InvalidChangeBatch: tried to create resource record set [name='{name}.', type='{t}'] but it already exists"
            ));
        }
        Ok(())
    }

    fn create(_: &mut World, input: &RecordInput) -> Result<(String, Map<String, Value>), String> {
        Ok((record_id(input), Map::new()))
    }

    fn update(
        _: &mut World,
        _: &Record,
        _: &RecordInput,
        _: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        Ok(true)
    }

    fn output(_: &World, record: &Record, inputs: RecordInput, now: u64) -> RecordOutput {
        RecordOutput {
            id: record.id.clone(),
            fqdn: format!("{}.", normalize(&inputs.name)),
            zone_id: zone_id(&inputs.zone_name),
            inputs,
            change_status: if record.ready(now) {
                "INSYNC"
            } else {
                "PENDING"
            }
            .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Op;

    fn world() -> World {
        match World::load(None, "aws", 1, 0) {
            Ok(w) => w,
            Err(e) => panic!("{e}"),
        }
    }

    fn call(w: &mut World, ty: &str, op: Op, args: Value) -> Result<Value, String> {
        let defs = types()?;
        let def = defs.iter().find(|d| d.name == ty).ok_or("no such type")?;
        def.run(w, op, args, 0).map(|d| d.value)
    }

    #[test]
    fn subnet_outside_its_vpc_is_rejected_with_both_ranges() -> Result<(), String> {
        let mut w = world();
        let vpc = call(
            &mut w,
            "vpc",
            Op::Create,
            json!({"cidr_block": "10.0.0.0/16"}),
        )?;
        let id = vpc["id"].as_str().unwrap_or_default().to_string();
        let err = call(
            &mut w,
            "vpc_subnet",
            Op::Create,
            json!({"vpc_id": id, "cidr_block": "10.1.0.0/24", "availability_zone": "us-east-1a"}),
        )
        .err()
        .unwrap_or_default();
        assert_eq!(
            err,
            format!("InvalidSubnet.Range: subnet 10.1.0.0/24 is outside VPC {id} (10.0.0.0/16)")
        );
        Ok(())
    }

    #[test]
    fn instances_get_consecutive_private_ips() -> Result<(), String> {
        let mut w = world();
        let vpc = call(
            &mut w,
            "vpc",
            Op::Create,
            json!({"cidr_block": "10.0.0.0/16"}),
        )?;
        let subnet = call(
            &mut w,
            "vpc_subnet",
            Op::Create,
            json!({"vpc_id": vpc["id"], "cidr_block": "10.0.1.0/24", "availability_zone": "us-east-1a"}),
        )?;
        let args = json!({"ami": "ami-0abcdef1234567890", "instance_type": "t3.micro", "subnet_id": subnet["id"]});
        let a = call(&mut w, "ec2_instance", Op::Create, args.clone())?;
        let b = call(&mut w, "ec2_instance", Op::Create, args)?;
        assert_eq!(a["private_ip"], "10.0.1.4");
        assert_eq!(b["private_ip"], "10.0.1.5");
        assert_eq!(a["private_dns_name"], "ip-10-0-1-4.ec2.internal");
        Ok(())
    }

    /// The failover tools: a VPC stays in one region, a cross-region replica is promoted
    /// once, a group's capacity moves within its bounds, weighted DNS shifts to one set
    /// identifier, and a health check follows the fault switch.
    #[test]
    fn failover_operations_change_what_read_returns() -> Result<(), String> {
        let mut w = world();
        let vpc = call(
            &mut w,
            "vpc",
            Op::Create,
            json!({"cidr_block": "10.1.0.0/16"}),
        )?;
        let subnet = call(
            &mut w,
            "vpc_subnet",
            Op::Create,
            json!({"vpc_id": vpc["id"], "cidr_block": "10.1.1.0/24", "availability_zone": "us-west-2a"}),
        )?;
        let subnet_b = call(
            &mut w,
            "vpc_subnet",
            Op::Create,
            json!({"vpc_id": vpc["id"], "cidr_block": "10.1.2.0/24", "availability_zone": "us-west-2b"}),
        )?;
        let err = call(
            &mut w,
            "vpc_subnet",
            Op::Create,
            json!({"vpc_id": vpc["id"], "cidr_block": "10.1.3.0/24", "availability_zone": "us-east-1a"}),
        )
        .err()
        .unwrap_or_default();
        assert!(err.contains("a VPC lives in one region"), "{err}");

        let group = call(
            &mut w,
            "autoscaling_group",
            Op::Create,
            json!({"name": "web-us-west-2", "min_size": 1, "max_size": 4, "desired_capacity": 1,
                   "subnet_ids": [subnet["id"]], "image_id": "ami-0abcdef1234567890", "instance_type": "t3.small"}),
        )?;
        assert_eq!(group["region"], "us-west-2");
        assert!(
            group["arn"]
                .as_str()
                .unwrap_or_default()
                .contains(":us-west-2:")
        );
        let scaled = call(
            &mut w,
            "autoscaling_group",
            Op::Action("set_desired_capacity"),
            json!({"id": "web-us-west-2", "desired_capacity": 4}),
        )?;
        assert_eq!(scaled["desired_capacity"], 4);
        let read = call(
            &mut w,
            "autoscaling_group",
            Op::Read,
            json!({"id": "web-us-west-2"}),
        )?;
        assert_eq!(read["instance_ids"].as_array().map(Vec::len), Some(4));
        let err = call(
            &mut w,
            "autoscaling_group",
            Op::Action("set_desired_capacity"),
            json!({"id": "web-us-west-2", "desired_capacity": 5}),
        )
        .err()
        .unwrap_or_default();
        assert_eq!(
            err,
            "ValidationError: New SetDesiredCapacity value 5 is above max value 4 for the AutoScalingGroup."
        );

        call(
            &mut w,
            "rds_instance",
            Op::Create,
            json!({"identifier": "db", "engine": "postgres", "instance_class": "db.t3.micro",
                   "master_username": "app", "master_password": "secret-password", "subnet_ids": [subnet["id"], subnet_b["id"]]}),
        )?;
        let replica = call(
            &mut w,
            "rds_read_replica",
            Op::Create,
            json!({"identifier": "db-west", "source_db_identifier": "db",
                   "instance_class": "db.t3.micro", "region": "us-west-2"}),
        )?;
        assert_eq!(
            (replica["role"].clone(), replica["replica_of"].clone()),
            (json!("replica"), json!("db"))
        );
        let promoted = call(
            &mut w,
            "rds_read_replica",
            Op::Action("promote"),
            json!({"id": "db-west"}),
        )?;
        assert_eq!(promoted["role"], "primary");
        assert_eq!(promoted["replica_of"], Value::Null);
        let read = call(
            &mut w,
            "rds_read_replica",
            Op::Read,
            json!({"id": "db-west"}),
        )?;
        assert_eq!(read["role"], "primary");
        let again = call(
            &mut w,
            "rds_read_replica",
            Op::Action("promote"),
            json!({"id": "db-west"}),
        )
        .err()
        .unwrap_or_default();
        assert!(again.starts_with("InvalidDBInstanceState"), "{again}");

        for (set, weight) in [("us-east-1", 100), ("us-west-2", 0)] {
            call(
                &mut w,
                "route53_record",
                Op::Create,
                json!({"zone_name": "example.com", "name": "app.example.com", "type": "CNAME",
                       "records": [format!("app.{set}.example.com")], "set_identifier": set, "weight": weight}),
            )?;
        }
        let err = call(
            &mut w,
            "route53_record",
            Op::Create,
            json!({"zone_name": "example.com", "name": "app.example.com", "type": "CNAME", "records": ["x.example.com"]}),
        )
        .err()
        .unwrap_or_default();
        assert!(err.contains("mixes weighted and simple routing"), "{err}");
        let shifted = call(
            &mut w,
            "route53_record",
            Op::Action("shift_weight"),
            json!({"zone_name": "example.com", "set_identifier": "us-west-2"}),
        )?;
        assert_eq!(shifted["changed"].as_array().map(Vec::len), Some(2));
        let records = call(&mut w, "route53_record", Op::List, json!({}))?;
        let weights: Vec<(String, i64)> = records["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["set_identifier"].as_str().unwrap_or_default().to_string(),
                    r["weight"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        assert_eq!(
            weights,
            vec![("us-east-1".to_string(), 0), ("us-west-2".to_string(), 100)]
        );

        call(
            &mut w,
            "route53_health_check",
            Op::Create,
            json!({"name": "app-west", "region": "us-west-2", "fqdn": "app.us-west-2.example.com"}),
        )?;
        let status = call(
            &mut w,
            "route53_health_check",
            Op::Action("status"),
            json!({"id": "app-west"}),
        )?;
        // The fault switch is read from the environment at each call; this process does
        // not set it.
        if std::env::var(crate::aws_ops::UNHEALTHY_ENV).is_err() {
            assert_eq!(status["status"], "Healthy");
        }
        let err = call(
            &mut w,
            "rds_read_replica",
            Op::Action("promote"),
            json!({"id": "db-west", "force": true}),
        )
        .err()
        .unwrap_or_default();
        assert!(
            err.starts_with("unknown argument force for rds_read_replica.promote"),
            "{err}"
        );
        Ok(())
    }
}
