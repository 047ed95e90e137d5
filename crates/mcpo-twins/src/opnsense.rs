//! The OPNsense twin: VLANs, firewall aliases and rules, and HAProxy backends and
//! frontends.

use crate::check::{identifier, in_range, one_of, port};
use crate::kind::{Kind, TypeDef};
use crate::net::{Cidr, parse_ip};
use crate::shape::{
    ADDRESS_ALIAS_OR_ANY_PATTERN, PORT_RANGE_PATTERN, enum_of, ipv4, pattern, port_number,
};
use crate::store::{Record, World};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Physical interfaces of the simulated appliance: Intel igb and igc NICs (current
/// appliances have igc) and virtio ones. New names go at the end: a VLAN's device name
/// counts its parent's position.
const PARENTS: &[&str] = &[
    "igb0", "igb1", "igb2", "igb3", "vtnet0", "vtnet1", "igc0", "igc1", "igc2", "igc3",
];
/// Assigned interfaces rules can attach to (plus VLAN devices).
const ASSIGNED: &[&str] = &["lan", "wan", "opt1", "opt2", "opt3"];
/// What a rule's `interface` may look like: an assigned interface or a VLAN device
/// (`vlan<parent>.<tag>`); whether the VLAN exists is checked at apply.
const RULE_INTERFACE_PATTERN: &str = r"^(lan|wan|opt[1-3]|vlan[0-9]+\.[0-9]{1,4})$";
const DIRECTIONS: &[&str] = &["in", "out"];
const ACTIONS: &[&str] = &["pass", "block", "reject"];
const PROTOCOLS: &[&str] = &["any", "tcp", "udp", "tcp/udp", "icmp"];
const MODES: &[&str] = &["http", "tcp"];
const BALANCES: &[&str] = &["roundrobin", "leastconn", "source", "uri"];
const CHECK_TYPES: &[&str] = &["tcp", "http"];
const ALIAS_TYPES: &[&str] = &["host", "network", "port"];
/// An alias name: a letter, then letters, digits or `_`, at most 32 characters.
const ALIAS_NAME_PATTERN: &str = "^[A-Za-z][A-Za-z0-9_]{0,31}$";
/// The WAN address frontends bound to 0.0.0.0 answer on.
const WAN_IP: &str = "203.0.113.10";

/// The OPNsense twin's resource types, in dependency order.
pub(crate) fn types() -> Result<Vec<TypeDef>, String> {
    Ok(vec![
        TypeDef::of::<Vlan>()?,
        TypeDef::of::<FirewallAlias>()?,
        TypeDef::of::<FirewallRule>()?,
        TypeDef::of::<HaproxyBackend>()?,
        TypeDef::of::<HaproxyFrontend>()?,
    ])
}

// ---------------------------------------------------------------------------------------
// network_vlan

/// An 802.1Q VLAN interface.
pub(crate) struct Vlan;

/// Inputs of a VLAN.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct VlanInput {
    /// The parent (physical) interface, e.g. igc2.
    #[schemars(transform = enum_of(PARENTS))]
    pub interface: String,
    /// The 802.1Q VLAN tag, 1 to 4094, unique per parent interface.
    #[schemars(range(min = 1, max = 4094))]
    pub tag: i64,
    /// A description shown in the interface list.
    #[serde(default)]
    pub description: String,
    /// 802.1p priority code point, 0 to 7.
    #[serde(default)]
    #[schemars(range(min = 0, max = 7))]
    pub pcp: i64,
}

/// State of a VLAN.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct VlanOutput {
    /// The VLAN's UUID in the OPNsense configuration.
    pub id: String,
    #[serde(flatten)]
    pub inputs: VlanInput,
    /// The device name of the VLAN interface, e.g. vlan0.10 (assign it to use it in rules).
    pub device: String,
}

impl Kind for Vlan {
    type Input = VlanInput;
    type Output = VlanOutput;
    const TYPE: &'static str = "network_vlan";
    const ABOUT: &'static str = "an OPNsense VLAN (802.1Q) interface";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["interface", "tag"]);

    fn check(world: &World, input: &VlanInput, this: Option<&str>) -> Result<(), String> {
        one_of("interface", &input.interface, PARENTS)?;
        in_range("VLAN tag", input.tag, 1, 4094)?;
        in_range("pcp (802.1p priority)", input.pcp, 0, 7)?;
        if let Some(other) = world.all(Self::TYPE).find(|v| {
            Some(v.id.as_str()) != this
                && v.input_str("interface") == input.interface
                && v.inputs.get("tag").and_then(Value::as_i64) == Some(input.tag)
        }) {
            return Err(format!(
                "VLAN tag {} is already used on {} by VLAN {} ({})",
                input.tag,
                input.interface,
                other.id,
                other.attr_str("device")
            ));
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        input: &VlanInput,
    ) -> Result<(String, Map<String, Value>), String> {
        let mut attrs = Map::new();
        let index = PARENTS
            .iter()
            .position(|p| *p == input.interface)
            .unwrap_or(0);
        attrs.insert("device".into(), json!(format!("vlan{index}.{}", input.tag)));
        Ok((world.uuid(), attrs))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let device = record.attr_str("device");
        let users: Vec<String> = world
            .all("firewall_rule")
            .filter(|r| r.input_str("interface") == device)
            .map(|r| r.id.clone())
            .collect();
        if users.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "VLAN {device} is still used by firewall rule(s) {}; delete or move them first",
                users.join(", ")
            ))
        }
    }

    fn output(_: &World, record: &Record, inputs: VlanInput, _: u64) -> VlanOutput {
        VlanOutput {
            id: record.id.clone(),
            inputs,
            device: record.attr_str("device").into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// firewall_alias

/// A named set of hosts, networks or ports that rules refer to by name.
pub(crate) struct FirewallAlias;

/// Inputs of an alias.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct AliasInput {
    /// The alias's name (what rules write as source or destination): a letter, then
    /// letters, digits or '_', at most 32 characters.
    #[schemars(transform = pattern(ALIAS_NAME_PATTERN))]
    pub name: String,
    /// What it holds: host (IPv4 addresses or host names), network (CIDR blocks) or port
    /// (ports or ranges).
    #[serde(rename = "type")]
    #[schemars(transform = enum_of(ALIAS_TYPES))]
    pub alias_type: String,
    /// The entries.
    pub content: Vec<String>,
    /// A description shown in the alias list.
    #[serde(default)]
    pub description: String,
}

/// State of an alias.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AliasOutput {
    /// The alias's UUID.
    pub id: String,
    #[serde(flatten)]
    pub inputs: AliasInput,
}

fn check_alias_entry(ty: &str, entry: &str) -> Result<(), String> {
    match ty {
        "network" => Cidr::parse(entry)
            .map(|_| ())
            .map_err(|e| format!("network alias entry: {e}")),
        "port" => check_port_spec(entry).map_err(|_| {
            format!("port alias entry \"{entry}\" is not a port or a range such as 8000-8080")
        }),
        _ => {
            if parse_ip("host alias entry", entry).is_ok()
                || crate::check::domain_name("host alias entry", entry).is_ok()
            {
                Ok(())
            } else {
                Err(format!(
                    "host alias entry \"{entry}\" is neither an IPv4 address nor a host name"
                ))
            }
        }
    }
}

impl Kind for FirewallAlias {
    type Input = AliasInput;
    type Output = AliasOutput;
    const TYPE: &'static str = "firewall_alias";
    const ABOUT: &'static str =
        "an OPNsense firewall alias (a named set of hosts, networks or ports)";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(world: &World, input: &AliasInput, this: Option<&str>) -> Result<(), String> {
        let n = &input.name;
        let ok = n.len() <= 32
            && n.starts_with(|c: char| c.is_ascii_alphabetic())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok || n == "any" {
            return Err(format!(
                "alias name \"{n}\" is invalid: start with a letter, then letters, digits or '_', at most 32 characters"
            ));
        }
        one_of("type", &input.alias_type, ALIAS_TYPES)?;
        if input.content.is_empty() {
            return Err("an alias needs at least one entry in content".into());
        }
        for e in &input.content {
            check_alias_entry(&input.alias_type, e)?;
        }
        if world
            .all(Self::TYPE)
            .any(|a| Some(a.id.as_str()) != this && a.input_str("name") == n.as_str())
        {
            return Err(format!("an alias named {n} already exists"));
        }
        Ok(())
    }

    fn create(world: &mut World, _: &AliasInput) -> Result<(String, Map<String, Value>), String> {
        Ok((world.uuid(), Map::new()))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let name = record.input_str("name");
        let users: Vec<String> = world
            .all("firewall_rule")
            .filter(|r| r.input_str("source") == name || r.input_str("destination") == name)
            .map(|r| r.id.clone())
            .collect();
        if users.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "alias {name} is still used by firewall rule(s) {}; delete or change them first",
                users.join(", ")
            ))
        }
    }

    fn output(_: &World, record: &Record, inputs: AliasInput, _: u64) -> AliasOutput {
        AliasOutput {
            id: record.id.clone(),
            inputs,
        }
    }
}

// ---------------------------------------------------------------------------------------
// firewall_rule

/// A filter rule.
pub(crate) struct FirewallRule;

/// Inputs of a firewall rule.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct RuleInput {
    /// Interface the rule applies to: lan, wan, opt1..opt3 or a VLAN device such as vlan1.10.
    #[schemars(transform = pattern(RULE_INTERFACE_PATTERN))]
    pub interface: String,
    /// Direction of traffic: in or out.
    #[serde(default = "default_in")]
    #[schemars(transform = enum_of(DIRECTIONS))]
    pub direction: String,
    /// What to do with matching packets: pass, block (drop silently) or reject.
    #[schemars(transform = enum_of(ACTIONS))]
    pub action: String,
    /// IP protocol: any, tcp, udp, tcp/udp or icmp.
    #[serde(default = "default_any")]
    #[schemars(transform = enum_of(PROTOCOLS))]
    pub protocol: String,
    /// Source: any, an IPv4 address, a CIDR block or the name of a host or network alias.
    #[serde(default = "default_any")]
    #[schemars(transform = pattern(ADDRESS_ALIAS_OR_ANY_PATTERN))]
    pub source: String,
    /// Destination: any, an IPv4 address, a CIDR block or the name of a host or network
    /// alias.
    #[serde(default = "default_any")]
    #[schemars(transform = pattern(ADDRESS_ALIAS_OR_ANY_PATTERN))]
    pub destination: String,
    /// Destination port or range such as 443 or 8000-8080 (tcp, udp, tcp/udp only).
    #[serde(default)]
    #[schemars(transform = pattern(PORT_RANGE_PATTERN))]
    pub destination_port: Option<String>,
    /// A description shown in the rule list.
    #[serde(default)]
    pub description: String,
    /// Whether matches are logged.
    #[serde(default)]
    pub log: bool,
    /// Whether the rule is active.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_in() -> String {
    "in".into()
}
fn default_any() -> String {
    "any".into()
}
fn default_true() -> bool {
    true
}

/// State of a firewall rule.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RuleOutput {
    /// The rule's UUID.
    pub id: String,
    #[serde(flatten)]
    pub inputs: RuleInput,
    /// 1-based position of the rule in evaluation order on its interface.
    pub position: i64,
    /// The rule's sequence number (evaluation order across interfaces).
    pub sequence: i64,
}

fn check_address(world: &World, field: &str, value: &str) -> Result<(), String> {
    if value == "any" {
        return Ok(());
    }
    if value.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return match world
            .all("firewall_alias")
            .find(|a| a.input_str("name") == value)
        {
            Some(a) if a.input_str("type") != "port" => Ok(()),
            Some(_) => Err(format!(
                "{field}: alias {value} is a port alias, not an address"
            )),
            None => Err(format!(
                "{field}: \"{value}\" is neither an address nor the name of an existing alias"
            )),
        };
    }
    if value.contains('/') {
        Cidr::parse(value)
            .map(|_| ())
            .map_err(|e| format!("{field}: {e}"))
    } else {
        parse_ip(field, value).map(|_| ())
    }
}

fn check_port_spec(spec: &str) -> Result<(), String> {
    let parse = |p: &str| {
        p.trim().parse::<i64>().map_err(|_| {
            format!("destination_port \"{spec}\" is not a port or a range such as 8000-8080")
        })
    };
    match spec.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            port("destination_port", a)?;
            port("destination_port", b)?;
            if a > b {
                return Err(format!("destination_port range {spec} is reversed"));
            }
            Ok(())
        }
        None => port("destination_port", parse(spec)?),
    }
}

impl Kind for FirewallRule {
    type Input = RuleInput;
    type Output = RuleOutput;
    const TYPE: &'static str = "firewall_rule";
    const ABOUT: &'static str = "an OPNsense firewall filter rule";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&[]);

    fn check(world: &World, input: &RuleInput, _: Option<&str>) -> Result<(), String> {
        let is_vlan = world
            .all("network_vlan")
            .any(|v| v.attr_str("device") == input.interface);
        if !is_vlan && !ASSIGNED.contains(&input.interface.as_str()) {
            return Err(format!(
                "interface \"{}\" does not exist; use lan, wan, opt1, opt2, opt3 or the device of an existing VLAN",
                input.interface
            ));
        }
        one_of("direction", &input.direction, DIRECTIONS)?;
        one_of("action", &input.action, ACTIONS)?;
        one_of("protocol", &input.protocol, PROTOCOLS)?;
        check_address(world, "source", &input.source)?;
        check_address(world, "destination", &input.destination)?;
        if let Some(p) = &input.destination_port {
            if !["tcp", "udp", "tcp/udp"].contains(&input.protocol.as_str()) {
                return Err(format!(
                    "a destination port needs protocol tcp, udp or tcp/udp, not {}",
                    input.protocol
                ));
            }
            check_port_spec(p)?;
        }
        Ok(())
    }

    fn create(world: &mut World, _: &RuleInput) -> Result<(String, Map<String, Value>), String> {
        let next = world
            .all(Self::TYPE)
            .filter_map(|r| r.attrs.get("sequence").and_then(Value::as_i64))
            .max()
            .unwrap_or(0)
            + 1;
        let mut attrs = Map::new();
        attrs.insert("sequence".into(), json!(next));
        Ok((world.uuid(), attrs))
    }

    fn output(world: &World, record: &Record, inputs: RuleInput, _: u64) -> RuleOutput {
        let sequence = record
            .attrs
            .get("sequence")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let before = world
            .all(Self::TYPE)
            .filter(|r| r.input_str("interface") == inputs.interface)
            .filter(|r| r.attrs.get("sequence").and_then(Value::as_i64).unwrap_or(0) < sequence)
            .count() as i64;
        RuleOutput {
            id: record.id.clone(),
            inputs,
            position: before + 1,
            sequence,
        }
    }
}

// ---------------------------------------------------------------------------------------
// haproxy_backend

/// An HAProxy backend pool.
pub(crate) struct HaproxyBackend;

/// One real server of a backend.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct BackendServer {
    /// The server's name, unique within the backend.
    pub name: String,
    /// The server's IPv4 address.
    #[schemars(transform = ipv4)]
    pub address: String,
    /// The server's port.
    #[schemars(transform = port_number)]
    pub port: i64,
    /// Relative share of traffic, 0 to 256.
    #[serde(default = "default_weight")]
    pub weight: i64,
}

fn default_weight() -> i64 {
    1
}

/// How servers are checked.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct HealthCheck {
    /// Check type: tcp (connect) or http (request a path).
    #[serde(rename = "type")]
    #[schemars(transform = enum_of(CHECK_TYPES))]
    pub check_type: String,
    /// Path requested by http checks, e.g. /healthz.
    #[serde(default)]
    pub path: Option<String>,
    /// Milliseconds between checks, 100 to 3600000.
    #[serde(default = "default_interval")]
    pub interval_ms: i64,
}

fn default_interval() -> i64 {
    2000
}

/// Inputs of an HAProxy backend.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct BackendInput {
    /// The backend's name, unique (letters, digits, '_', '-', '.').
    pub name: String,
    /// Proxy mode: http or tcp.
    #[serde(default = "default_http")]
    #[schemars(transform = enum_of(MODES))]
    pub mode: String,
    /// Load balancing algorithm: roundrobin, leastconn, source or uri.
    #[serde(default = "default_balance")]
    #[schemars(transform = enum_of(BALANCES))]
    pub balance: String,
    /// The real servers.
    pub servers: Vec<BackendServer>,
    /// Health checking of the servers (none when absent).
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
}

fn default_http() -> String {
    "http".into()
}
fn default_balance() -> String {
    "roundrobin".into()
}

/// State of an HAProxy backend.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct BackendOutput {
    /// The backend's UUID.
    pub id: String,
    #[serde(flatten)]
    pub inputs: BackendInput,
    /// Number of servers in the pool.
    pub server_count: i64,
    /// "UP" when the backend has servers, else "DOWN".
    pub status: String,
}

impl Kind for HaproxyBackend {
    type Input = BackendInput;
    type Output = BackendOutput;
    const TYPE: &'static str = "haproxy_backend";
    const ABOUT: &'static str = "an HAProxy backend (a pool of servers) on OPNsense";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(world: &World, input: &BackendInput, this: Option<&str>) -> Result<(), String> {
        identifier("name", &input.name, 64)?;
        one_of("mode", &input.mode, MODES)?;
        one_of("balance", &input.balance, BALANCES)?;
        let mut names: Vec<&str> = Vec::new();
        for s in &input.servers {
            identifier("server name", &s.name, 64)?;
            if names.contains(&s.name.as_str()) {
                return Err(format!(
                    "server name {} appears twice in backend {}",
                    s.name, input.name
                ));
            }
            names.push(&s.name);
            parse_ip(&format!("address of server {}", s.name), &s.address)?;
            port(&format!("port of server {}", s.name), s.port)?;
            in_range(&format!("weight of server {}", s.name), s.weight, 0, 256)?;
        }
        if let Some(hc) = &input.health_check {
            one_of("health_check.type", &hc.check_type, CHECK_TYPES)?;
            in_range("health_check.interval_ms", hc.interval_ms, 100, 3_600_000)?;
            if hc.check_type == "http" {
                if input.mode != "http" {
                    return Err("an http health check needs mode http".into());
                }
                if !hc.path.as_deref().is_some_and(|p| p.starts_with('/')) {
                    return Err(
                        "an http health check needs a path starting with '/', e.g. /healthz".into(),
                    );
                }
            }
        }
        if world
            .all(Self::TYPE)
            .any(|b| Some(b.id.as_str()) != this && b.input_str("name") == input.name)
        {
            return Err(format!("a backend named {} already exists", input.name));
        }
        Ok(())
    }

    fn create(world: &mut World, _: &BackendInput) -> Result<(String, Map<String, Value>), String> {
        Ok((world.uuid(), Map::new()))
    }

    fn check_delete(world: &World, record: &Record) -> Result<(), String> {
        let users: Vec<String> = world
            .all("haproxy_frontend")
            .filter(|f| f.input_str("default_backend") == record.id)
            .map(|f| format!("{} ({})", f.input_str("name"), f.id))
            .collect();
        if users.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "backend {} is the default backend of frontend(s) {}; change or delete them first",
                record.input_str("name"),
                users.join(", ")
            ))
        }
    }

    fn output(_: &World, record: &Record, inputs: BackendInput, _: u64) -> BackendOutput {
        let server_count = inputs.servers.len() as i64;
        BackendOutput {
            id: record.id.clone(),
            inputs,
            server_count,
            status: if server_count > 0 { "UP" } else { "DOWN" }.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// haproxy_frontend

/// An HAProxy frontend (a listener).
pub(crate) struct HaproxyFrontend;

/// Inputs of an HAProxy frontend.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct FrontendInput {
    /// The frontend's name, unique.
    pub name: String,
    /// Address to listen on; 0.0.0.0 listens on all interfaces.
    #[serde(default = "default_bind")]
    #[schemars(transform = ipv4)]
    pub bind_address: String,
    /// Port to listen on.
    #[schemars(transform = port_number)]
    pub bind_port: i64,
    /// Proxy mode: http or tcp.
    #[serde(default = "default_http")]
    #[schemars(transform = enum_of(MODES))]
    pub mode: String,
    /// Reference (refid) of the certificate for TLS offloading; plain when absent.
    #[serde(default)]
    pub certificate_ref: Option<String>,
    /// The id of the backend that receives traffic.
    pub default_backend: String,
}

fn default_bind() -> String {
    "0.0.0.0".into()
}

/// State of an HAProxy frontend.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct FrontendOutput {
    /// The frontend's UUID.
    pub id: String,
    #[serde(flatten)]
    pub inputs: FrontendInput,
    /// The IP clients connect to (the WAN address when bound to 0.0.0.0).
    pub ip: String,
    /// The URL of the frontend, e.g. https://203.0.113.10:443.
    pub url: String,
}

impl Kind for HaproxyFrontend {
    type Input = FrontendInput;
    type Output = FrontendOutput;
    const TYPE: &'static str = "haproxy_frontend";
    const ABOUT: &'static str = "an HAProxy frontend (a listener) on OPNsense";
    const IMMUTABLE: Option<&'static [&'static str]> = Some(&["name"]);

    fn check(world: &World, input: &FrontendInput, this: Option<&str>) -> Result<(), String> {
        identifier("name", &input.name, 64)?;
        parse_ip("bind_address", &input.bind_address)?;
        port("bind_port", input.bind_port)?;
        one_of("mode", &input.mode, MODES)?;
        if let Some(cert) = &input.certificate_ref {
            identifier("certificate_ref", cert, 64)?;
        }
        if world
            .get("haproxy_backend", &input.default_backend)
            .is_none()
        {
            return Err(format!(
                "default_backend {} does not exist; create the haproxy_backend first",
                input.default_backend
            ));
        }
        for f in world.all(Self::TYPE) {
            if Some(f.id.as_str()) == this {
                continue;
            }
            if f.input_str("name") == input.name {
                return Err(format!("a frontend named {} already exists", input.name));
            }
            let port_clash =
                f.inputs.get("bind_port").and_then(Value::as_i64) == Some(input.bind_port);
            let addr = f.input_str("bind_address");
            if port_clash
                && (addr == input.bind_address
                    || addr == "0.0.0.0"
                    || input.bind_address == "0.0.0.0")
            {
                return Err(format!(
                    "{}:{} is already bound by frontend {} ({})",
                    input.bind_address,
                    input.bind_port,
                    f.input_str("name"),
                    f.id
                ));
            }
        }
        Ok(())
    }

    fn create(
        world: &mut World,
        _: &FrontendInput,
    ) -> Result<(String, Map<String, Value>), String> {
        Ok((world.uuid(), Map::new()))
    }

    fn output(_: &World, record: &Record, inputs: FrontendInput, _: u64) -> FrontendOutput {
        let ip = if inputs.bind_address == "0.0.0.0" {
            WAN_IP.to_string()
        } else {
            inputs.bind_address.clone()
        };
        let scheme = match (inputs.mode.as_str(), inputs.certificate_ref.is_some()) {
            ("http", true) => "https",
            ("http", false) => "http",
            _ => "tcp",
        };
        FrontendOutput {
            id: record.id.clone(),
            url: format!("{scheme}://{ip}:{}", inputs.bind_port),
            ip,
            inputs,
        }
    }
}
