//! The AWS twin's operational resources: backup plans, CloudWatch alarms, RDS read
//! replicas (in any of the account's regions, with `promote`) and Route 53 health checks
//! (with `status`, and a fault switch: regions named in `MCPO_TWIN_UNHEALTHY`, or in the
//! file it names as `@FILE`, fail).

use crate::aws::{DB_CLASSES, REGION, REGIONS, arn, arn_in};
use crate::check::{identifier, in_range, one_of};
use crate::kind::{Done, IdArgs, Kind};
use crate::shape::enum_of;
use crate::store::{Record, World};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const ALARM_NAMESPACES: &[&str] = &[
    "AWS/EC2",
    "AWS/RDS",
    "AWS/AutoScaling",
    "AWS/ApplicationELB",
    "AWS/Backup",
];
const COMPARISONS: &[&str] = &[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];

/// A five-field cron expression (`minute hour day-of-month month day-of-week`), each field
/// `*`, a number, a range, a list or a step, within its field's bounds.
fn check_cron(expr: &str) -> Result<(), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    let bad = || {
        format!(
            "InvalidParameterValueException: schedule \"{expr}\" is not a cron expression of five fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\""
        )
    };
    if fields.len() != 5 {
        return Err(bad());
    }
    for (field, (lo, hi)) in fields.iter().zip(bounds) {
        for part in field.split(',') {
            let (range, step) = part.split_once('/').unwrap_or((part, "1"));
            if step.parse::<u32>().map_or(true, |s| s == 0) {
                return Err(bad());
            }
            if range == "*" {
                continue;
            }
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else {
                return Err(bad());
            };
            if a < lo || b > hi || a > b {
                return Err(bad());
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// backup_plan

/// An AWS Backup plan with one rule, for RDS instances.
pub(crate) struct BackupPlan;

/// Inputs of a backup plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct BackupPlanInput {
    /// The plan's name: 1-50 letters, digits, '_', '-' or '.'.
    pub name: String,
    /// When backups run, as a cron expression of five fields in UTC, e.g. "0 2 * * *".
    pub schedule: String,
    /// How many days a recovery point is kept, 1 to 35000.
    #[schemars(range(min = 1, max = 35000))]
    pub retention_days: i64,
    /// ARNs of the RDS instances backed up.
    pub resource_arns: Vec<String>,
}

/// State of a backup plan.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct BackupPlanOutput {
    /// The plan's id.
    pub id: String,
    /// The Amazon Resource Name of the plan.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: BackupPlanInput,
    /// The plan's version id; changes on every update.
    pub version_id: String,
}

impl Kind for BackupPlan {
    type Input = BackupPlanInput;
    type Output = BackupPlanOutput;
    const TYPE: &'static str = "backup_plan";
    const ABOUT: &'static str = "an AWS Backup plan (a schedule and retention for RDS backups)";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(world: &World, input: &BackupPlanInput, this: Option<&str>) -> Result<(), String> {
        identifier("name", &input.name, 50)?;
        check_cron(&input.schedule)?;
        in_range("retention_days", input.retention_days, 1, 35000)?;
        if input.resource_arns.is_empty() {
            return Err(
                "InvalidParameterValueException: a backup plan needs at least one resource in resource_arns"
                    .into(),
            );
        }
        for a in &input.resource_arns {
            let db = a
                .strip_prefix(&format!("arn:aws:rds:{REGION}:"))
                .and_then(|rest| rest.split_once(":db:"))
                .map(|(_, id)| id);
            if db.is_none_or(|id| world.get("rds_instance", id).is_none()) {
                return Err(format!(
                    "InvalidParameterValueException: resource {a} is not the ARN of an existing RDS instance"
                ));
            }
        }
        if world
            .all(Self::TYPE)
            .any(|p| Some(p.id.as_str()) != this && p.input_str("name") == input.name)
        {
            return Err(format!(
                "AlreadyExistsException: a backup plan named {} already exists",
                input.name
            ));
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        _: &BackupPlanInput,
    ) -> Result<(String, Map<String, Value>), String> {
        let mut attrs = Map::new();
        attrs.insert("version_id".into(), Value::String(world.hex_id("", 16)));
        Ok((world.uuid(), attrs))
    }

    fn update(
        world: &mut World,
        _: &Record,
        _: &BackupPlanInput,
        attrs: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        attrs.insert("version_id".into(), Value::String(world.hex_id("", 16)));
        Ok(false)
    }

    fn output(_: &World, record: &Record, inputs: BackupPlanInput, _: u64) -> BackupPlanOutput {
        BackupPlanOutput {
            id: record.id.clone(),
            arn: arn("backup", &format!("backup-plan:{}", record.id)),
            inputs,
            version_id: record.attr_str("version_id").into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// cloudwatch_alarm

/// A CloudWatch metric alarm.
pub(crate) struct CloudwatchAlarm;

/// Inputs of an alarm.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct AlarmInput {
    /// The alarm's name: 1-255 letters, digits, '_', '-' or '.', unique in the account.
    pub name: String,
    /// The metric's namespace.
    #[schemars(transform = enum_of(ALARM_NAMESPACES))]
    pub namespace: String,
    /// The metric, e.g. CPUUtilization or FreeStorageSpace.
    pub metric_name: String,
    /// Dimensions selecting the metric, e.g. {DBInstanceIdentifier = "orders"}.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// How the statistic is compared with the threshold.
    #[schemars(transform = enum_of(COMPARISONS))]
    pub comparison: String,
    /// The threshold (returned exactly as given).
    pub threshold: serde_json::Number,
    /// Seconds per evaluation period: 10, 30 or a multiple of 60.
    #[serde(default = "default_period")]
    #[schemars(range(min = 10, max = 86400))]
    pub period_seconds: i64,
    /// Periods over which the threshold must be breached, 1 to 100.
    #[serde(default = "default_one")]
    #[schemars(range(min = 1, max = 100))]
    pub evaluation_periods: i64,
    /// A description.
    #[serde(default)]
    pub description: String,
}

fn default_period() -> i64 {
    300
}
fn default_one() -> i64 {
    1
}

/// State of an alarm.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AlarmOutput {
    /// The alarm's name.
    pub id: String,
    /// The Amazon Resource Name of the alarm.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: AlarmInput,
    /// INSUFFICIENT_DATA until the first periods are evaluated, then OK.
    pub state: String,
}

impl Kind for CloudwatchAlarm {
    type Input = AlarmInput;
    type Output = AlarmOutput;
    const TYPE: &'static str = "cloudwatch_alarm";
    const ABOUT: &'static str = "a CloudWatch metric alarm";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(world: &World, input: &AlarmInput, this: Option<&str>) -> Result<(), String> {
        identifier("name", &input.name, 255)?;
        one_of("namespace", &input.namespace, ALARM_NAMESPACES)?;
        one_of("comparison", &input.comparison, COMPARISONS)?;
        if input.metric_name.is_empty() {
            return Err("ValidationError: metric_name must not be empty".into());
        }
        let p = input.period_seconds;
        if !(p == 10 || p == 30 || (p >= 60 && p % 60 == 0 && p <= 86400)) {
            return Err(format!(
                "ValidationError: period_seconds {p} must be 10, 30 or a multiple of 60 up to 86400"
            ));
        }
        in_range("evaluation_periods", input.evaluation_periods, 1, 100)?;
        if this.is_none() && world.get(Self::TYPE, &input.name).is_some() {
            return Err(format!(
                "ResourceAlreadyExists: an alarm named {} already exists",
                input.name
            ));
        }
        Ok(())
    }

    fn create(_: &mut World, input: &AlarmInput) -> Result<(String, Map<String, Value>), String> {
        Ok((input.name.clone(), Map::new()))
    }

    fn update(
        _: &mut World,
        _: &Record,
        _: &AlarmInput,
        _: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        Ok(true)
    }

    fn output(_: &World, record: &Record, inputs: AlarmInput, now: u64) -> AlarmOutput {
        AlarmOutput {
            id: record.id.clone(),
            arn: arn("cloudwatch", &format!("alarm:{}", record.id)),
            inputs,
            state: if record.ready(now) {
                "OK"
            } else {
                "INSUFFICIENT_DATA"
            }
            .into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// rds_read_replica

/// A read replica of an RDS instance.
pub(crate) struct RdsReadReplica;

/// Inputs of a read replica.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ReplicaInput {
    /// The replica's DB instance identifier: 1-63 letters, digits or hyphens, starting
    /// with a letter.
    pub identifier: String,
    /// The identifier of the RDS instance it replicates.
    pub source_db_identifier: String,
    /// The instance class, e.g. db.t3.micro.
    #[schemars(transform = enum_of(DB_CLASSES))]
    pub instance_class: String,
    /// Whether the endpoint resolves to a public address.
    #[serde(default)]
    pub publicly_accessible: bool,
    /// The region the replica runs in (a cross-region replica when it is not the
    /// source's, us-east-1).
    #[serde(default = "home_region")]
    #[schemars(transform = enum_of(REGIONS))]
    pub region: String,
}

fn home_region() -> String {
    REGION.to_string()
}

/// State of a read replica.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ReplicaOutput {
    /// The replica's identifier.
    pub id: String,
    /// The Amazon Resource Name of the replica.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: ReplicaInput,
    /// "creating", then "available".
    pub status: String,
    /// DNS name of the endpoint (absent while creating).
    pub endpoint_address: Option<String>,
    /// Port of the endpoint (the source's).
    pub port: i64,
    /// "replica" while it replicates its source; "primary" once promoted.
    pub role: String,
    /// The instance it replicates; null once promoted.
    pub replica_of: Option<String>,
}

/// `rds_read_replica.promote`: the replica stops replicating and accepts writes.
pub(crate) fn promote(world: &mut World, args: IdArgs, now: u64) -> Result<Done, String> {
    let record = crate::kind::find(world, RdsReadReplica::TYPE, &args.id)?.clone();
    if record.attrs.get("promoted").and_then(Value::as_bool) == Some(true) {
        return Err(format!(
            "InvalidDBInstanceState: DB instance {} is not a read replica (it was promoted)",
            args.id
        ));
    }
    if !record.ready(now) {
        return Err(format!(
            "InvalidDBInstanceState: DB instance {} is not available (it is still being created)",
            args.id
        ));
    }
    let mut promoted = record;
    promoted.attrs.insert("promoted".into(), Value::Bool(true));
    promoted.changed_ms = now;
    let value = crate::kind::view::<RdsReadReplica>(world, &promoted, now)?;
    world.put(RdsReadReplica::TYPE, promoted);
    Ok(Done {
        value,
        touched: vec![(RdsReadReplica::TYPE.to_string(), args.id)],
    })
}

impl Kind for RdsReadReplica {
    type Input = ReplicaInput;
    type Output = ReplicaOutput;
    const TYPE: &'static str = "rds_read_replica";
    const ABOUT: &'static str = "a read replica of an RDS instance";
    const IMMUTABLE: Option<&'static [&'static str]> =
        Some(&["identifier", "source_db_identifier", "region"]);

    fn check(world: &World, input: &ReplicaInput, this: Option<&str>) -> Result<(), String> {
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
        let taken = world.get("rds_instance", &id.to_lowercase()).is_some()
            || (this.is_none() && world.get(Self::TYPE, &id.to_lowercase()).is_some());
        if taken {
            return Err(format!(
                "DBInstanceAlreadyExists: a DB instance named {id} already exists"
            ));
        }
        if world
            .get("rds_instance", &input.source_db_identifier.to_lowercase())
            .is_none()
        {
            return Err(format!(
                "DBInstanceNotFound: source DB instance {} not found",
                input.source_db_identifier
            ));
        }
        one_of("region", &input.region, REGIONS)?;
        one_of("instance_class", &input.instance_class, DB_CLASSES)
    }

    fn create(_: &mut World, input: &ReplicaInput) -> Result<(String, Map<String, Value>), String> {
        Ok((input.identifier.to_lowercase(), Map::new()))
    }

    fn update(
        _: &mut World,
        _: &Record,
        _: &ReplicaInput,
        _: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        Ok(true)
    }

    fn output(world: &World, record: &Record, inputs: ReplicaInput, now: u64) -> ReplicaOutput {
        let port = world
            .get("rds_instance", &inputs.source_db_identifier.to_lowercase())
            .map_or(5432, |s| {
                if s.input_str("engine") == "postgres" {
                    5432
                } else {
                    3306
                }
            });
        let ready = record.ready(now);
        let promoted = record.attrs.get("promoted").and_then(Value::as_bool) == Some(true);
        let region = inputs.region.clone();
        ReplicaOutput {
            id: record.id.clone(),
            arn: arn_in(&region, "rds", &format!("db:{}", record.id)),
            replica_of: (!promoted).then(|| inputs.source_db_identifier.clone()),
            inputs,
            status: if ready { "available" } else { "creating" }.into(),
            endpoint_address: ready
                .then(|| format!("{}.c9akciq32lce.{region}.rds.amazonaws.com", record.id)),
            port,
            role: if promoted { "primary" } else { "replica" }.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// route53_health_check

/// A Route 53 health check of an endpoint in one region.
pub(crate) struct HealthCheck;

/// The environment variable that injects a fault into health checks: a comma-separated
/// list of regions whose endpoints the twin reports unhealthy, or `@FILE`, a file holding
/// that list (read at each call, so a running twin's endpoints can fail and recover; no
/// file is an empty list).
pub(crate) const UNHEALTHY_ENV: &str = "MCPO_TWIN_UNHEALTHY";

/// The regions the fault switch names now.
fn unhealthy_regions() -> String {
    let value = std::env::var(UNHEALTHY_ENV).unwrap_or_default();
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
        None => value,
    }
}

/// Inputs of a health check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct HealthCheckInput {
    /// The check's name: 1-64 letters, digits, '_', '-' or '.'; it is also its id.
    pub name: String,
    /// The region of the endpoint checked.
    #[schemars(transform = enum_of(REGIONS))]
    pub region: String,
    /// The endpoint's domain name, e.g. web.us-west-2.example.com.
    pub fqdn: String,
    /// The endpoint's port.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i64,
    /// The path requested (HTTPS GET), e.g. /health.
    #[serde(default = "default_path")]
    pub resource_path: String,
}

fn default_port() -> i64 {
    443
}
fn default_path() -> String {
    "/health".into()
}

/// State of a health check.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct HealthCheckOutput {
    /// The check's id (its name).
    pub id: String,
    /// The Amazon Resource Name of the check.
    pub arn: String,
    #[serde(flatten)]
    pub inputs: HealthCheckInput,
}

/// Result of `route53_health_check.status`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct HealthStatus {
    /// The check's id.
    pub id: String,
    /// The region of the endpoint checked.
    pub region: String,
    /// "Healthy" or "Unhealthy".
    pub status: String,
    /// What the checkers saw, e.g. "HTTP 200 from https://web.example.com:443/health".
    pub reason: String,
}

/// `route53_health_check.status`: Unhealthy when the check's region is named in
/// `MCPO_TWIN_UNHEALTHY` (the fault switch), Healthy otherwise.
pub(crate) fn health_status(world: &mut World, args: IdArgs, _now: u64) -> Result<Done, String> {
    let record = crate::kind::find(world, HealthCheck::TYPE, &args.id)?;
    let input: HealthCheckInput = serde_json::from_value(record.inputs.clone()).map_err(|e| {
        format!(
            "the stored state of route53_health_check {} is damaged: {e}",
            args.id
        )
    })?;
    let faulty = unhealthy_regions();
    let down = faulty.split(',').any(|r| r.trim() == input.region);
    let url = format!(
        "https://{}:{}{}",
        input.fqdn, input.port, input.resource_path
    );
    let status = HealthStatus {
        id: record.id.clone(),
        region: input.region.clone(),
        status: if down { "Unhealthy" } else { "Healthy" }.into(),
        reason: if down {
            format!("Failure: connection to {url} timed out")
        } else {
            format!("Success: HTTP 200 from {url}")
        },
    };
    Ok(Done {
        value: serde_json::to_value(status).map_err(|e| e.to_string())?,
        touched: Vec::new(),
    })
}

impl Kind for HealthCheck {
    type Input = HealthCheckInput;
    type Output = HealthCheckOutput;
    const TYPE: &'static str = "route53_health_check";
    const ABOUT: &'static str = "a Route 53 health check of an endpoint";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(world: &World, input: &HealthCheckInput, this: Option<&str>) -> Result<(), String> {
        identifier("name", &input.name, 64)?;
        one_of("region", &input.region, REGIONS)?;
        crate::check::domain_name("fqdn", &input.fqdn)?;
        in_range("port", input.port, 1, 65535)?;
        if !input.resource_path.starts_with('/') {
            return Err(format!(
                "InvalidInput: resource_path \"{}\" must start with /",
                input.resource_path
            ));
        }
        if this.is_none() && world.get(Self::TYPE, &input.name).is_some() {
            return Err(format!(
                "HealthCheckAlreadyExists: a health check named {} already exists",
                input.name
            ));
        }
        Ok(())
    }

    fn create(
        _: &mut World,
        input: &HealthCheckInput,
    ) -> Result<(String, Map<String, Value>), String> {
        Ok((input.name.clone(), Map::new()))
    }

    fn output(_: &World, record: &Record, inputs: HealthCheckInput, _: u64) -> HealthCheckOutput {
        HealthCheckOutput {
            id: record.id.clone(),
            arn: format!("arn:aws:route53:::healthcheck/{}", record.id),
            inputs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_cron;

    #[test]
    fn cron() {
        assert!(check_cron("0 2 * * *").is_ok());
        assert!(check_cron("*/15 0-6 1,15 * 1-5").is_ok());
        assert!(check_cron("0 24 * * *").is_err());
        assert!(check_cron("0 2 * *").is_err());
        assert!(check_cron("0 2 * * * *").is_err());
        assert!(check_cron("*/0 2 * * *").is_err());
    }
}
