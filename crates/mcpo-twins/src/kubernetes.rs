//! The Kubernetes twin: namespaces, deployments, services, config maps and secrets.

use crate::check::{dns_label, in_range, one_of, port};
use crate::kind::{Kind, TypeDef};
use crate::net::{Cidr, allocate};
use crate::shape::{DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, enum_of, pattern, port_number};
use crate::store::{Record, World, rfc3339};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

const SERVICE_CIDR: &str = "10.96.0.0/12";
const LB_POOL: &str = "192.0.2.0/24";
const NAMESPACED: &[&str] = &["deployment", "service", "config_map", "secret"];
const SECRET_TYPES: &[&str] = &[
    "Opaque",
    "kubernetes.io/tls",
    "kubernetes.io/basic-auth",
    "kubernetes.io/dockerconfigjson",
];
const SERVICE_TYPES: &[&str] = &["ClusterIP", "NodePort", "LoadBalancer"];
const PROTOCOLS: &[&str] = &["TCP", "UDP"];

/// The Kubernetes twin's resource types, in dependency order.
pub(crate) fn types() -> Result<Vec<TypeDef>, String> {
    Ok(vec![
        TypeDef::of::<Namespace>()?,
        TypeDef::of::<ConfigMap>()?,
        TypeDef::of::<Secret>()?,
        TypeDef::of::<Deployment>()?,
        TypeDef::of::<Service>()?,
    ])
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
fn subdomain(field: &str, value: &str) -> Result<(), String> {
    if value.len() > 253 || value.split('.').any(|l| dns_label(field, l).is_err()) {
        return Err(format!(
            "{field} \"{value}\" is invalid: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// Checks the name and namespace of a namespaced object, and that it is new (on create).
fn check_object(
    world: &World,
    kind: &str,
    ty: &str,
    name: &str,
    namespace: &str,
    this: Option<&str>,
) -> Result<(), String> {
    subdomain("metadata.name", name)?;
    if world.get("namespace", namespace).is_none() {
        return Err(format!("namespaces \"{namespace}\" not found"));
    }
    if this.is_none() && world.get(ty, &format!("{namespace}/{name}")).is_some() {
        return Err(format!(
            "{kind} \"{name}\" already exists in namespace \"{namespace}\""
        ));
    }
    Ok(())
}

/// Common metadata of a new object: uid and resource version.
fn new_meta(world: &mut World) -> Map<String, Value> {
    let mut attrs = Map::new();
    attrs.insert("uid".into(), json!(world.uuid()));
    attrs.insert(
        "resource_version".into(),
        json!(1000 + world.next_u64() % 9000),
    );
    attrs.insert("generation".into(), json!(1));
    attrs
}

/// Bumps resource version and generation on update.
fn bump(record: &Record, attrs: &mut Map<String, Value>) {
    let rv = record
        .attrs
        .get("resource_version")
        .and_then(Value::as_u64)
        .unwrap_or(1000);
    let generation = record
        .attrs
        .get("generation")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    attrs.insert("resource_version".into(), json!(rv + 1));
    attrs.insert("generation".into(), json!(generation + 1));
}

/// Object metadata as the API server reports it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObjectMeta {
    /// The object's unique id, assigned by the cluster.
    pub uid: String,
    /// Changes on every write (optimistic concurrency token).
    pub resource_version: String,
    /// When the object was created (RFC 3339).
    pub creation_timestamp: String,
}

fn meta(record: &Record) -> ObjectMeta {
    ObjectMeta {
        uid: record.attr_str("uid").into(),
        resource_version: record
            .attrs
            .get("resource_version")
            .map(|v| v.to_string())
            .unwrap_or_default(),
        creation_timestamp: rfc3339(record.created_ms),
    }
}

// ---------------------------------------------------------------------------------------
// namespace

/// A namespace.
pub(crate) struct Namespace;

/// Inputs of a namespace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct NamespaceInput {
    /// The namespace's name (a DNS-1123 label); it is also its id.
    #[schemars(length(max = 63), transform = pattern(DNS_LABEL_PATTERN))]
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// State of a namespace.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct NamespaceOutput {
    /// The namespace's id (its name).
    pub id: String,
    #[serde(flatten)]
    pub inputs: NamespaceInput,
    /// Always "Active" (deletion removes the namespace and everything in it at once).
    pub phase: String,
    /// Object metadata.
    pub metadata: ObjectMeta,
}

impl Kind for Namespace {
    type Input = NamespaceInput;
    type Output = NamespaceOutput;
    const TYPE: &'static str = "namespace";
    const ABOUT: &'static str = "a Kubernetes namespace";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(world: &World, input: &NamespaceInput, this: Option<&str>) -> Result<(), String> {
        dns_label("metadata.name", &input.name)?;
        if this.is_none() && world.get(Self::TYPE, &input.name).is_some() {
            return Err(format!("namespaces \"{}\" already exists", input.name));
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        input: &NamespaceInput,
    ) -> Result<(String, Map<String, Value>), String> {
        Ok((input.name.clone(), new_meta(world)))
    }

    fn update(
        _: &mut World,
        record: &Record,
        _: &NamespaceInput,
        attrs: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        bump(record, attrs);
        Ok(false)
    }

    fn cascade(world: &World, record: &Record) -> Vec<(&'static str, String)> {
        let prefix = format!("{}/", record.id);
        NAMESPACED
            .iter()
            .flat_map(|ty| {
                world
                    .all(ty)
                    .filter(|r| r.id.starts_with(&prefix))
                    .map(|r| (*ty, r.id.clone()))
            })
            .collect()
    }

    fn output(_: &World, record: &Record, inputs: NamespaceInput, _: u64) -> NamespaceOutput {
        NamespaceOutput {
            id: record.id.clone(),
            inputs,
            phase: "Active".into(),
            metadata: meta(record),
        }
    }
}

// ---------------------------------------------------------------------------------------
// config_map

/// A config map.
pub(crate) struct ConfigMap;

/// Inputs of a config map.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ConfigMapInput {
    /// The config map's name.
    #[schemars(length(max = 253), transform = pattern(DNS_SUBDOMAIN_PATTERN))]
    pub name: String,
    /// The namespace it lives in.
    #[schemars(length(max = 63), transform = pattern(DNS_LABEL_PATTERN))]
    pub namespace: String,
    /// The configuration entries.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// State of a config map.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ConfigMapOutput {
    /// The config map's id: namespace/name.
    pub id: String,
    #[serde(flatten)]
    pub inputs: ConfigMapInput,
    /// Object metadata.
    pub metadata: ObjectMeta,
}

fn check_keys(keys: impl Iterator<Item = String>) -> Result<(), String> {
    for key in keys {
        if key.is_empty()
            || key.len() > 253
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        {
            return Err(format!(
                "data key \"{key}\" is invalid: a valid key must consist of alphanumeric characters, '-', '_' or '.'"
            ));
        }
    }
    Ok(())
}

impl Kind for ConfigMap {
    type Input = ConfigMapInput;
    type Output = ConfigMapOutput;
    const TYPE: &'static str = "config_map";
    const ABOUT: &'static str = "a Kubernetes ConfigMap";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name", "namespace"]);

    fn check(world: &World, input: &ConfigMapInput, this: Option<&str>) -> Result<(), String> {
        check_object(
            world,
            "configmaps",
            Self::TYPE,
            &input.name,
            &input.namespace,
            this,
        )?;
        check_keys(input.data.keys().cloned())
    }

    fn create(
        world: &mut World,
        input: &ConfigMapInput,
    ) -> Result<(String, Map<String, Value>), String> {
        Ok((
            format!("{}/{}", input.namespace, input.name),
            new_meta(world),
        ))
    }

    fn update(
        _: &mut World,
        record: &Record,
        _: &ConfigMapInput,
        attrs: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        bump(record, attrs);
        Ok(false)
    }

    fn output(_: &World, record: &Record, inputs: ConfigMapInput, _: u64) -> ConfigMapOutput {
        ConfigMapOutput {
            id: record.id.clone(),
            inputs,
            metadata: meta(record),
        }
    }
}

// ---------------------------------------------------------------------------------------
// secret

/// A secret.
pub(crate) struct Secret;

/// Inputs of a secret.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct SecretInput {
    /// The secret's name.
    #[schemars(length(max = 253), transform = pattern(DNS_SUBDOMAIN_PATTERN))]
    pub name: String,
    /// The namespace it lives in.
    #[schemars(length(max = 63), transform = pattern(DNS_LABEL_PATTERN))]
    pub namespace: String,
    /// Secret type: Opaque, kubernetes.io/tls, kubernetes.io/basic-auth or
    /// kubernetes.io/dockerconfigjson.
    #[serde(default = "default_opaque", rename = "type")]
    #[schemars(transform = enum_of(SECRET_TYPES))]
    pub secret_type: String,
    /// The secret values (plain text; stored, never returned). Sensitive.
    #[schemars(extend("writeOnly" = true))]
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

fn default_opaque() -> String {
    "Opaque".into()
}

/// State of a secret: its keys, never its values.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SecretOutput {
    /// The secret's id: namespace/name.
    pub id: String,
    /// The secret's name.
    pub name: String,
    /// The namespace it lives in.
    pub namespace: String,
    /// The secret type.
    #[serde(rename = "type")]
    pub secret_type: String,
    /// The keys present in the secret (values are never returned).
    pub keys: Vec<String>,
    /// Object metadata (the resource version changes when values change).
    pub metadata: ObjectMeta,
}

impl Kind for Secret {
    type Input = SecretInput;
    type Output = SecretOutput;
    const TYPE: &'static str = "secret";
    const ABOUT: &'static str = "a Kubernetes Secret (values are write-only)";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name", "namespace", "type"]);

    fn check(world: &World, input: &SecretInput, this: Option<&str>) -> Result<(), String> {
        check_object(
            world,
            "secrets",
            Self::TYPE,
            &input.name,
            &input.namespace,
            this,
        )?;
        one_of("type", &input.secret_type, SECRET_TYPES)?;
        check_keys(input.data.keys().cloned())?;
        let required: &[&str] = match input.secret_type.as_str() {
            "kubernetes.io/tls" => &["tls.crt", "tls.key"],
            "kubernetes.io/basic-auth" => &["username", "password"],
            "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
            _ => &[],
        };
        for key in required {
            if !input.data.contains_key(*key) {
                return Err(format!(
                    "data[{key}]: Required value: a {} secret needs the key {key}",
                    input.secret_type
                ));
            }
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        input: &SecretInput,
    ) -> Result<(String, Map<String, Value>), String> {
        Ok((
            format!("{}/{}", input.namespace, input.name),
            new_meta(world),
        ))
    }

    fn update(
        _: &mut World,
        record: &Record,
        _: &SecretInput,
        attrs: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        bump(record, attrs);
        Ok(false)
    }

    fn output(_: &World, record: &Record, inputs: SecretInput, _: u64) -> SecretOutput {
        SecretOutput {
            id: record.id.clone(),
            keys: inputs.data.keys().cloned().collect(),
            name: inputs.name,
            namespace: inputs.namespace,
            secret_type: inputs.secret_type,
            metadata: meta(record),
        }
    }
}

// ---------------------------------------------------------------------------------------
// deployment

/// A deployment.
pub(crate) struct Deployment;

/// Inputs of a deployment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct DeploymentInput {
    /// The deployment's name.
    #[schemars(length(max = 253), transform = pattern(DNS_SUBDOMAIN_PATTERN))]
    pub name: String,
    /// The namespace it lives in.
    #[schemars(length(max = 63), transform = pattern(DNS_LABEL_PATTERN))]
    pub namespace: String,
    /// The container image, e.g. nginx:1.27.
    pub image: String,
    /// How many pods to run, 0 to 1000.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i64,
    /// Labels of the pods (services select on them); app=<name> when empty.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The port the container listens on.
    #[serde(default)]
    #[schemars(transform = port_number)]
    pub container_port: Option<i64>,
    /// Environment variables of the container.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn default_replicas() -> i64 {
    1
}

/// State of a deployment.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeploymentOutput {
    /// The deployment's id: namespace/name.
    pub id: String,
    #[serde(flatten)]
    pub inputs: DeploymentInput,
    /// Pods that are ready; rises to replicas as pods start.
    pub ready_replicas: i64,
    /// Pods available to serve (ready for the minimum time).
    pub available_replicas: i64,
    /// Pods running the current template.
    pub updated_replicas: i64,
    /// Generation of the spec.
    pub generation: i64,
    /// Generation the controller has acted on.
    pub observed_generation: i64,
    /// "Progressing" while rolling out, "Available" once every replica is ready.
    pub status: String,
    /// Object metadata.
    pub metadata: ObjectMeta,
}

impl Kind for Deployment {
    type Input = DeploymentInput;
    type Output = DeploymentOutput;
    const TYPE: &'static str = "deployment";
    const ABOUT: &'static str = "a Kubernetes Deployment (replicated pods of one image)";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name", "namespace"]);

    fn check(world: &World, input: &DeploymentInput, this: Option<&str>) -> Result<(), String> {
        check_object(
            world,
            "deployments.apps",
            Self::TYPE,
            &input.name,
            &input.namespace,
            this,
        )?;
        if input.image.trim().is_empty() || input.image.contains(char::is_whitespace) {
            return Err(format!(
                "spec.template.spec.containers[0].image: Invalid value: \"{}\"",
                input.image
            ));
        }
        in_range("spec.replicas", input.replicas, 0, 1000)?;
        if let Some(p) = input.container_port {
            port("containerPort", p)?;
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        input: &DeploymentInput,
    ) -> Result<(String, Map<String, Value>), String> {
        let mut attrs = new_meta(world);
        attrs.insert("previous_ready".into(), json!(0));
        Ok((format!("{}/{}", input.namespace, input.name), attrs))
    }

    fn update(
        _: &mut World,
        record: &Record,
        input: &DeploymentInput,
        attrs: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        bump(record, attrs);
        let old = record
            .inputs
            .get("replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        // A rolling update keeps the old pods serving: readiness only rises from there.
        attrs.insert("previous_ready".into(), json!(old.min(input.replicas)));
        Ok(true)
    }

    fn output(
        _: &World,
        record: &Record,
        mut inputs: DeploymentInput,
        now: u64,
    ) -> DeploymentOutput {
        if inputs.labels.is_empty() {
            inputs.labels.insert("app".into(), inputs.name.clone());
        }
        let previous: i64 = record.attr("previous_ready");
        let total = inputs.replicas;
        let ready = (previous
            + ((total - previous).max(0) as f64 * record.progress(now)).floor() as i64)
            .min(total);
        let generation = record
            .attrs
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        DeploymentOutput {
            id: record.id.clone(),
            inputs,
            ready_replicas: ready,
            available_replicas: ready,
            updated_replicas: ready,
            generation,
            observed_generation: generation,
            status: if ready == total {
                "Available"
            } else {
                "Progressing"
            }
            .into(),
            metadata: meta(record),
        }
    }
}

// ---------------------------------------------------------------------------------------
// service

/// A service.
pub(crate) struct Service;

/// One port of a service.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ServicePort {
    /// The port's name (required when there are several ports).
    #[serde(default)]
    pub name: Option<String>,
    /// The port the service listens on.
    #[schemars(transform = port_number)]
    pub port: i64,
    /// The port on the pods (the same as port when absent).
    #[serde(default)]
    #[schemars(transform = port_number)]
    pub target_port: Option<i64>,
    /// TCP or UDP.
    #[serde(default = "default_tcp")]
    #[schemars(transform = enum_of(PROTOCOLS))]
    pub protocol: String,
}

fn default_tcp() -> String {
    "TCP".into()
}

/// Inputs of a service.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ServiceInput {
    /// The service's name (a DNS-1123 label).
    #[schemars(length(max = 63), transform = pattern(DNS_LABEL_PATTERN))]
    pub name: String,
    /// The namespace it lives in.
    #[schemars(length(max = 63), transform = pattern(DNS_LABEL_PATTERN))]
    pub namespace: String,
    /// Service type: ClusterIP, NodePort or LoadBalancer.
    #[serde(default = "default_cluster_ip", rename = "type")]
    #[schemars(transform = enum_of(SERVICE_TYPES))]
    pub service_type: String,
    /// Pod labels that select the endpoints.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// The ports.
    pub ports: Vec<ServicePort>,
}

fn default_cluster_ip() -> String {
    "ClusterIP".into()
}

/// State of a service.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ServiceOutput {
    /// The service's id: namespace/name.
    pub id: String,
    #[serde(flatten)]
    pub inputs: ServiceInput,
    /// The virtual IP inside the cluster.
    pub cluster_ip: String,
    /// Node ports, one per port (NodePort and LoadBalancer services).
    pub node_ports: Vec<i64>,
    /// The external IP of a LoadBalancer service, once provisioned (null while pending).
    pub load_balancer_ip: Option<String>,
    /// In-cluster DNS name, e.g. web.default.svc.cluster.local.
    pub dns_name: String,
    /// Object metadata.
    pub metadata: ObjectMeta,
}

fn node_ports(
    world: &World,
    this: Option<&str>,
    existing: &[i64],
    count: usize,
    seed: u64,
) -> Result<Vec<i64>, String> {
    let mut used: Vec<i64> = world
        .all("service")
        .filter(|s| Some(s.id.as_str()) != this)
        .flat_map(|s| s.attr::<Vec<i64>>("node_ports"))
        .collect();
    let mut out: Vec<i64> = existing.iter().copied().take(count).collect();
    used.extend(&out);
    let mut candidate = 30000 + (seed % 2768) as i64;
    while out.len() < count {
        for _ in 0..2768 {
            if !used.contains(&candidate) {
                break;
            }
            candidate = if candidate >= 32767 {
                30000
            } else {
                candidate + 1
            };
        }
        if used.contains(&candidate) {
            return Err("the node port range 30000-32767 is exhausted".into());
        }
        used.push(candidate);
        out.push(candidate);
    }
    Ok(out)
}

impl Kind for Service {
    type Input = ServiceInput;
    type Output = ServiceOutput;
    const TYPE: &'static str = "service";
    const ABOUT: &'static str = "a Kubernetes Service (a stable address for pods)";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name", "namespace"]);

    fn check(world: &World, input: &ServiceInput, this: Option<&str>) -> Result<(), String> {
        dns_label("metadata.name", &input.name)?;
        check_object(
            world,
            "services",
            Self::TYPE,
            &input.name,
            &input.namespace,
            this,
        )?;
        one_of("spec.type", &input.service_type, SERVICE_TYPES)?;
        if input.ports.is_empty() {
            return Err("spec.ports: Required value: a service needs at least one port".into());
        }
        let mut seen = Vec::new();
        for p in &input.ports {
            port("spec.ports[].port", p.port)?;
            if let Some(t) = p.target_port {
                port("spec.ports[].targetPort", t)?;
            }
            one_of("spec.ports[].protocol", &p.protocol, PROTOCOLS)?;
            if seen.contains(&(p.port, &p.protocol)) {
                return Err(format!(
                    "spec.ports: Duplicate value: port {}/{}",
                    p.port, p.protocol
                ));
            }
            seen.push((p.port, &p.protocol));
            if input.ports.len() > 1 && p.name.is_none() {
                return Err("spec.ports[].name: Required value: every port needs a name when there are several".into());
            }
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        input: &ServiceInput,
    ) -> Result<(String, Map<String, Value>), String> {
        let range = Cidr::parse(SERVICE_CIDR)?;
        let taken: Vec<Ipv4Addr> = world
            .all(Self::TYPE)
            .filter_map(|s| s.attr_str("cluster_ip").parse().ok())
            .collect();
        // 10.96.0.1 belongs to the `kubernetes` service of every cluster.
        let ip = allocate(range, 10, 1, &taken).ok_or("the service IP range is exhausted")?;
        let mut attrs = new_meta(world);
        attrs.insert("cluster_ip".into(), json!(ip.to_string()));
        if input.service_type != "ClusterIP" {
            let seed = world.next_u64();
            attrs.insert(
                "node_ports".into(),
                json!(node_ports(world, None, &[], input.ports.len(), seed)?),
            );
        }
        if input.service_type == "LoadBalancer" {
            let pool = Cidr::parse(LB_POOL)?;
            let taken: Vec<Ipv4Addr> = world
                .all(Self::TYPE)
                .filter_map(|s| s.attr_str("lb_ip").parse().ok())
                .collect();
            let lb = allocate(pool, 10, 1, &taken).ok_or("no load balancer address is left")?;
            attrs.insert("lb_ip".into(), json!(lb.to_string()));
        }
        Ok((format!("{}/{}", input.namespace, input.name), attrs))
    }

    fn update(
        world: &mut World,
        record: &Record,
        input: &ServiceInput,
        attrs: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        bump(record, attrs);
        if input.service_type == "ClusterIP" {
            attrs.remove("node_ports");
        } else {
            let existing: Vec<i64> = record.attr("node_ports");
            let seed = world.next_u64();
            attrs.insert(
                "node_ports".into(),
                json!(node_ports(
                    world,
                    Some(&record.id),
                    &existing,
                    input.ports.len(),
                    seed
                )?),
            );
        }
        if input.service_type == "LoadBalancer" && record.attr_str("lb_ip").is_empty() {
            let pool = Cidr::parse(LB_POOL)?;
            let taken: Vec<Ipv4Addr> = world
                .all(Self::TYPE)
                .filter_map(|s| s.attr_str("lb_ip").parse().ok())
                .collect();
            let lb = allocate(pool, 10, 1, &taken).ok_or("no load balancer address is left")?;
            attrs.insert("lb_ip".into(), json!(lb.to_string()));
            return Ok(true);
        }
        if input.service_type != "LoadBalancer" {
            attrs.remove("lb_ip");
        }
        Ok(false)
    }

    fn output(_: &World, record: &Record, inputs: ServiceInput, now: u64) -> ServiceOutput {
        let lb = record.attr_str("lb_ip");
        ServiceOutput {
            id: record.id.clone(),
            cluster_ip: record.attr_str("cluster_ip").into(),
            node_ports: record.attr("node_ports"),
            load_balancer_ip: (!lb.is_empty() && record.ready(now)).then(|| lb.to_string()),
            dns_name: format!("{}.{}.svc.cluster.local", inputs.name, inputs.namespace),
            metadata: meta(record),
            inputs,
        }
    }
}
