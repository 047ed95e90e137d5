//! The Docker twin: networks, volumes, image builds and containers on one engine.

use crate::check::{identifier, one_of, port};
use crate::kind::{Kind, TypeDef};
use crate::net::{Cidr, allocate, parse_ip};
use crate::shape::{CIDR_PATTERN, enum_of, ipv4, pattern, port_number};
use crate::store::{Record, World, rfc3339};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The built-in bridge network every engine has.
const BRIDGE_SUBNET: &str = "172.17.0.0/16";
const NETWORK_DRIVERS: &[&str] = &["bridge", "overlay", "macvlan", "ipvlan"];
const VOLUME_DRIVERS: &[&str] = &["local"];
const PORT_PROTOCOLS: &[&str] = &["tcp", "udp"];
const RESTART_POLICIES: &[&str] = &["no", "always", "unless-stopped", "on-failure"];

/// The Docker twin's resource types, in dependency order.
pub(crate) fn types() -> Result<Vec<TypeDef>, String> {
    Ok(vec![
        TypeDef::of::<Network>()?,
        TypeDef::of::<Volume>()?,
        TypeDef::of::<ImageBuild>()?,
        TypeDef::of::<Container>()?,
    ])
}

fn check_name(field: &str, name: &str) -> Result<(), String> {
    identifier(field, name, 128)?;
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "{field} \"{name}\" is invalid: it must start with a letter or digit"
        ));
    }
    Ok(())
}

/// Finds a network by id or name.
fn find_network<'w>(world: &'w World, key: &str) -> Option<&'w Record> {
    world
        .all("network")
        .find(|n| n.id == key || n.input_str("name") == key)
}

// ---------------------------------------------------------------------------------------
// network

/// A user-defined network.
pub(crate) struct Network;

/// Inputs of a network.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct NetworkInput {
    /// The network's name, unique on the engine.
    pub name: String,
    /// The driver: bridge, overlay, macvlan or ipvlan.
    #[serde(default = "default_bridge")]
    #[schemars(transform = enum_of(NETWORK_DRIVERS))]
    pub driver: String,
    /// The IPv4 subnet (allocated from 172.18.0.0/16 upwards when absent).
    #[serde(default)]
    #[schemars(transform = pattern(CIDR_PATTERN))]
    pub subnet: Option<String>,
    /// The gateway address (the subnet's first address when absent).
    #[serde(default)]
    #[schemars(transform = ipv4)]
    pub gateway: Option<String>,
    /// Whether the network is cut off from the outside.
    #[serde(default)]
    pub internal: bool,
    /// Labels (metadata).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_bridge() -> String {
    "bridge".into()
}

/// State of a network.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct NetworkOutput {
    /// The network id (64 hex digits).
    pub id: String,
    #[serde(flatten)]
    pub inputs: NetworkInput,
    /// The subnet in use.
    pub assigned_subnet: String,
    /// The gateway in use.
    pub assigned_gateway: String,
    /// Always "local" for this engine.
    pub scope: String,
}

fn network_subnets(world: &World) -> Vec<(String, Cidr)> {
    let mut all: Vec<(String, Cidr)> = world
        .all("network")
        .filter_map(|n| {
            Cidr::parse(n.attr_str("subnet"))
                .ok()
                .map(|c| (n.input_str("name").to_string(), c))
        })
        .collect();
    if let Ok(bridge) = Cidr::parse(BRIDGE_SUBNET) {
        all.push(("bridge".into(), bridge));
    }
    all
}

impl Kind for Network {
    type Input = NetworkInput;
    type Output = NetworkOutput;
    const TYPE: &'static str = "network";
    const ABOUT: &'static str = "a Docker network";
    const IMMUTABLE: Option<&'static [&'static str]> = None;

    fn check(world: &World, input: &NetworkInput, _: Option<&str>) -> Result<(), String> {
        check_name("name", &input.name)?;
        if ["bridge", "host", "none"].contains(&input.name.as_str())
            || find_network(world, &input.name).is_some()
        {
            return Err(format!("network with name {} already exists", input.name));
        }
        one_of("driver", &input.driver, NETWORK_DRIVERS)?;
        if let Some(subnet) = &input.subnet {
            let cidr = Cidr::parse(subnet)?;
            if let Some((name, other)) = network_subnets(world)
                .into_iter()
                .find(|(_, c)| c.overlaps(cidr))
            {
                return Err(format!(
                    "Pool overlaps with other one on this address space: {cidr} overlaps {other} of network {name}"
                ));
            }
            if let Some(gw) = &input.gateway {
                let ip = parse_ip("gateway", gw)?;
                if !cidr.contains_ip(ip) {
                    return Err(format!("gateway {gw} is not inside subnet {cidr}"));
                }
            }
        } else if input.gateway.is_some() {
            return Err("a gateway needs a subnet".into());
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        input: &NetworkInput,
    ) -> Result<(String, Map<String, Value>), String> {
        let subnet = match &input.subnet {
            Some(s) => Cidr::parse(s)?,
            None => {
                let used = network_subnets(world);
                let mut candidate = Cidr::parse("172.18.0.0/16")?;
                while used.iter().any(|(_, c)| c.overlaps(candidate)) {
                    candidate = candidate
                        .next_block()
                        .ok_or("could not find an available, non-overlapping IPv4 address pool")?;
                }
                candidate
            }
        };
        let gateway = match &input.gateway {
            Some(g) => g.clone(),
            None => subnet.host(1).map(|ip| ip.to_string()).unwrap_or_default(),
        };
        let mut attrs = Map::new();
        attrs.insert("subnet".into(), json!(subnet.to_string()));
        attrs.insert("gateway".into(), json!(gateway));
        Ok((world.hex_id("", 64), attrs))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let name = record.input_str("name");
        let users: Vec<&str> = world
            .all("container")
            .filter(|c| c.attr_str("network_id") == record.id)
            .map(|c| c.input_str("name"))
            .collect();
        if users.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "error while removing network: network {name} id {} has active endpoints ({})",
                record.id,
                users.join(", ")
            ))
        }
    }

    fn output(_: &World, record: &Record, inputs: NetworkInput, _: u64) -> NetworkOutput {
        NetworkOutput {
            id: record.id.clone(),
            inputs,
            assigned_subnet: record.attr_str("subnet").into(),
            assigned_gateway: record.attr_str("gateway").into(),
            scope: "local".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// volume

/// A named volume.
pub(crate) struct Volume;

/// Inputs of a volume.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct VolumeInput {
    /// The volume's name, unique on the engine; it is also the volume's id.
    pub name: String,
    /// The volume driver (only local on this engine).
    #[serde(default = "default_local")]
    #[schemars(transform = enum_of(VOLUME_DRIVERS))]
    pub driver: String,
    /// Labels (metadata).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_local() -> String {
    "local".into()
}

/// State of a volume.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct VolumeOutput {
    /// The volume's id (its name).
    pub id: String,
    #[serde(flatten)]
    pub inputs: VolumeInput,
    /// Where the data lives on the host.
    pub mountpoint: String,
    /// When the volume was created (RFC 3339).
    pub created_at: String,
}

impl Kind for Volume {
    type Input = VolumeInput;
    type Output = VolumeOutput;
    const TYPE: &'static str = "volume";
    const ABOUT: &'static str = "a Docker named volume";
    const IMMUTABLE: Option<&'static [&'static str]> = None;

    fn check(world: &World, input: &VolumeInput, _: Option<&str>) -> Result<(), String> {
        check_name("name", &input.name)?;
        one_of("driver", &input.driver, VOLUME_DRIVERS)?;
        if world.get(Self::TYPE, &input.name).is_some() {
            return Err(format!("a volume named {} already exists", input.name));
        }
        Ok(())
    }

    fn create(_: &mut World, input: &VolumeInput) -> Result<(String, Map<String, Value>), String> {
        Ok((input.name.clone(), Map::new()))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let users: Vec<String> = world
            .all("container")
            .filter(|c| {
                c.inputs
                    .get("volumes")
                    .and_then(Value::as_array)
                    .is_some_and(|m| {
                        m.iter()
                            .any(|m| m.get("volume").and_then(Value::as_str) == Some(&record.id))
                    })
            })
            .map(|c| c.id.clone())
            .collect();
        if users.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "remove {}: volume is in use - [{}]",
                record.id,
                users.join(", ")
            ))
        }
    }

    fn output(_: &World, record: &Record, inputs: VolumeInput, _: u64) -> VolumeOutput {
        VolumeOutput {
            id: record.id.clone(),
            mountpoint: format!("/var/lib/docker/volumes/{}/_data", record.id),
            created_at: rfc3339(record.created_ms),
            inputs,
        }
    }
}

// ---------------------------------------------------------------------------------------
// image_build

/// An image built from a context.
pub(crate) struct ImageBuild;

/// Inputs of an image build.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ImageInput {
    /// The build context: a directory or a git URL.
    pub context: String,
    /// The Dockerfile's path inside the context.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// The image reference to tag the result with, e.g. registry.local/web:1.4.
    pub tag: String,
    /// Build arguments (ARG values).
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}

/// State of a built image.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ImageOutput {
    /// The image id (sha256:...).
    pub id: String,
    #[serde(flatten)]
    pub inputs: ImageInput,
    /// The image id again, as `docker inspect` names it.
    pub image_id: String,
    /// The repository digest (sha256:...) for pinning the image.
    pub digest: String,
    /// Size of the image in bytes.
    pub size_bytes: i64,
    /// When the image was built (RFC 3339).
    pub created_at: String,
}

fn check_reference(field: &str, reference: &str) -> Result<(), String> {
    let (repo, tag) = match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (reference, None),
    };
    let repo_ok = !repo.is_empty()
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-:".contains(c))
        });
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if repo_ok && tag_ok {
        Ok(())
    } else {
        Err(format!(
            "invalid reference format: {field} \"{reference}\" must be a lowercase repository name with an optional :tag, e.g. registry.local/web:1.4"
        ))
    }
}

fn with_default_tag(reference: &str) -> String {
    match reference.rsplit_once(':') {
        Some((_, t)) if !t.contains('/') => reference.to_string(),
        _ => format!("{reference}:latest"),
    }
}

impl Kind for ImageBuild {
    type Input = ImageInput;
    type Output = ImageOutput;
    const TYPE: &'static str = "image_build";
    const ABOUT: &'static str = "a Docker image built from a context and a Dockerfile";
    const IMMUTABLE: Option<&'static [&'static str]> = None;

    fn check(_: &World, input: &ImageInput, _: Option<&str>) -> Result<(), String> {
        if input.context.trim().is_empty() {
            return Err("context must name a directory or a git URL".into());
        }
        if input.dockerfile.trim().is_empty() {
            return Err("dockerfile must not be empty".into());
        }
        check_reference("tag", &input.tag)
    }

    fn create(world: &mut World, _: &ImageInput) -> Result<(String, Map<String, Value>), String> {
        let mut attrs = Map::new();
        attrs.insert("digest".into(), json!(world.hex_id("sha256:", 64)));
        attrs.insert(
            "size_bytes".into(),
            json!(20_000_000 + world.next_u64() % 180_000_000),
        );
        Ok((world.hex_id("sha256:", 64), attrs))
    }

    fn output(_: &World, record: &Record, inputs: ImageInput, _: u64) -> ImageOutput {
        ImageOutput {
            id: record.id.clone(),
            image_id: record.id.clone(),
            digest: record.attr_str("digest").into(),
            size_bytes: record
                .attrs
                .get("size_bytes")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            created_at: rfc3339(record.created_ms),
            inputs,
        }
    }
}

// ---------------------------------------------------------------------------------------
// container

/// A container.
pub(crate) struct Container;

/// A published port.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct PortMapping {
    /// The port on the host (0.0.0.0).
    #[schemars(transform = port_number)]
    pub host_port: i64,
    /// The port inside the container.
    #[schemars(transform = port_number)]
    pub container_port: i64,
    /// tcp or udp.
    #[serde(default = "default_tcp")]
    #[schemars(transform = enum_of(PORT_PROTOCOLS))]
    pub protocol: String,
}

fn default_tcp() -> String {
    "tcp".into()
}

/// A volume mounted into the container.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Mount {
    /// The name of the volume.
    pub volume: String,
    /// The absolute path inside the container.
    pub target: String,
    /// Whether the mount is read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// Inputs of a container.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ContainerInput {
    /// The container's name, unique on the engine.
    pub name: String,
    /// The image reference, e.g. nginx:1.27 or the tag of an image_build.
    pub image: String,
    /// Environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Published ports.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// The network (name or id) to attach to; the default bridge when absent.
    #[serde(default)]
    pub network: Option<String>,
    /// Volumes to mount.
    #[serde(default)]
    pub volumes: Vec<Mount>,
    /// Command overriding the image's default.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Restart policy: no, always, unless-stopped or on-failure.
    #[serde(default = "default_restart")]
    #[schemars(transform = enum_of(RESTART_POLICIES))]
    pub restart_policy: String,
}

fn default_restart() -> String {
    "no".into()
}

/// State of a container.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ContainerOutput {
    /// The container id (64 hex digits).
    pub id: String,
    #[serde(flatten)]
    pub inputs: ContainerInput,
    /// The container's IPv4 address on its network.
    pub ip: String,
    /// The id of the network the container is attached to ("bridge" for the default).
    pub network_id: String,
    /// "created" right after creation, then "running".
    pub state: String,
    /// The id of the image, when it was built by an image_build of this engine.
    pub image_id: Option<String>,
    /// When the container was created (RFC 3339).
    pub created_at: String,
}

impl Kind for Container {
    type Input = ContainerInput;
    type Output = ContainerOutput;
    const TYPE: &'static str = "container";
    const ABOUT: &'static str = "a Docker container";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&[
        "name", "image", "env", "ports", "network", "volumes", "command",
    ]);

    fn check(world: &World, input: &ContainerInput, this: Option<&str>) -> Result<(), String> {
        check_name("name", &input.name)?;
        if let Some(other) = world
            .all(Self::TYPE)
            .find(|c| Some(c.id.as_str()) != this && c.input_str("name") == input.name)
        {
            return Err(format!(
                "Conflict. The container name \"/{}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                input.name, other.id
            ));
        }
        check_reference("image", &input.image)?;
        for key in input.env.keys() {
            if key.is_empty() || key.contains('=') {
                return Err(format!("environment variable name \"{key}\" is invalid"));
            }
        }
        for p in &input.ports {
            port("host_port", p.host_port)?;
            port("container_port", p.container_port)?;
            one_of("port protocol", &p.protocol, PORT_PROTOCOLS)?;
            let taken = world.all(Self::TYPE).find(|c| {
                Some(c.id.as_str()) != this
                    && c.inputs
                        .get("ports")
                        .and_then(Value::as_array)
                        .is_some_and(|ps| {
                            ps.iter().any(|q| {
                                q.get("host_port").and_then(Value::as_i64) == Some(p.host_port)
                                    && q.get("protocol").and_then(Value::as_str)
                                        == Some(&p.protocol)
                            })
                        })
            });
            if let Some(c) = taken {
                return Err(format!(
                    "Bind for 0.0.0.0:{} failed: port is already allocated (by container {})",
                    p.host_port,
                    c.input_str("name")
                ));
            }
        }
        if let Some(net) = &input.network
            && net != "bridge"
            && find_network(world, net).is_none()
        {
            return Err(format!("network {net} not found"));
        }
        for m in &input.volumes {
            if world.get("volume", &m.volume).is_none() {
                return Err(format!(
                    "volume {} does not exist; create it first",
                    m.volume
                ));
            }
            if !m.target.starts_with('/') {
                return Err(format!(
                    "invalid mount target \"{}\": it must be an absolute path",
                    m.target
                ));
            }
        }
        one_of("restart_policy", &input.restart_policy, RESTART_POLICIES)
    }

    fn create(
        world: &mut World,
        input: &ContainerInput,
    ) -> Result<(String, Map<String, Value>), String> {
        let (network_id, subnet) = match input.network.as_deref() {
            None | Some("bridge") => ("bridge".to_string(), Cidr::parse(BRIDGE_SUBNET)?),
            Some(key) => {
                let net =
                    find_network(world, key).ok_or_else(|| format!("network {key} not found"))?;
                (net.id.clone(), Cidr::parse(net.attr_str("subnet"))?)
            }
        };
        let taken: Vec<Ipv4Addr> = world
            .all(Self::TYPE)
            .filter(|c| c.attr_str("network_id") == network_id)
            .filter_map(|c| c.attr_str("ip").parse().ok())
            .collect();
        // .0 is the network, .1 the gateway, the last address the broadcast.
        let ip = allocate(subnet, 2, 1, &taken)
            .ok_or_else(|| format!("no available IPv4 addresses on network {network_id}"))?;
        let image = with_default_tag(&input.image);
        let image_id = world
            .all("image_build")
            .find(|i| with_default_tag(i.input_str("tag")) == image)
            .map(|i| i.id.clone());
        let mut attrs = Map::new();
        attrs.insert("ip".into(), json!(ip.to_string()));
        attrs.insert("network_id".into(), json!(network_id));
        attrs.insert("image_id".into(), json!(image_id));
        Ok((world.hex_id("", 64), attrs))
    }

    fn output(_: &World, record: &Record, inputs: ContainerInput, now: u64) -> ContainerOutput {
        ContainerOutput {
            id: record.id.clone(),
            inputs,
            ip: record.attr_str("ip").into(),
            network_id: record.attr_str("network_id").into(),
            state: if record.ready(now) {
                "running"
            } else {
                "created"
            }
            .into(),
            image_id: record
                .attrs
                .get("image_id")
                .and_then(Value::as_str)
                .map(String::from),
            created_at: rfc3339(record.created_ms),
        }
    }
}
