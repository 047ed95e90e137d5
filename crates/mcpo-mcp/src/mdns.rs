//! mDNS discovery (opt-in): MCP servers announced as `_mcp._tcp.local.` services.
//!
//! An instance's TXT record may carry `path` (default `/mcp`), `name` (the server name;
//! default the instance label) and `scheme` (`http` or `https`). Browsing multicasts on
//! every interface, which is why it only runs when asked (`mcpoc servers --mdns`) and why
//! its test runs inside a network namespace of its own.

use crate::spec::{HttpSpec, ServerSpec, Source, Transport};
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The service type browsed for.
pub const SERVICE_TYPE: &str = "_mcp._tcp.local.";

/// Browses for `wait` and returns every MCP server resolved, sorted by name.
pub fn browse(wait: Duration) -> Result<Vec<ServerSpec>, String> {
    let daemon = ServiceDaemon::new().map_err(|e| format!("cannot start mDNS: {e}"))?;
    let rx = daemon
        .browse(SERVICE_TYPE)
        .map_err(|e| format!("cannot browse {SERVICE_TYPE}: {e}"))?;
    let deadline = Instant::now() + wait;
    let mut found: BTreeMap<String, ServerSpec> = BTreeMap::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(s)) => {
                let instance = s.fullname.clone();
                let label = instance
                    .strip_suffix(&format!(".{SERVICE_TYPE}"))
                    .unwrap_or(&instance)
                    .to_string();
                let name = s
                    .get_property_val_str("name")
                    .map(str::to_string)
                    .unwrap_or(label);
                let path = s.get_property_val_str("path").unwrap_or("/mcp");
                let scheme = s.get_property_val_str("scheme").unwrap_or("http");
                let mut v4: Vec<_> = s.get_addresses_v4().into_iter().collect();
                v4.sort();
                let host = match v4.first() {
                    Some(a) => a.to_string(),
                    None => s.host.trim_end_matches('.').to_string(),
                };
                let slash = if path.starts_with('/') { "" } else { "/" };
                let url = format!("{scheme}://{host}:{}{slash}{path}", s.port);
                found.insert(
                    name.clone(),
                    ServerSpec {
                        name,
                        transport: Transport::Http(HttpSpec {
                            url,
                            headers: BTreeMap::new(),
                        }),
                        max_concurrency: None,
                        timeout: None,
                        max_message_bytes: None,
                        source: Source::Mdns { instance },
                    },
                );
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = daemon.shutdown();
    Ok(found.into_values().collect())
}

/// Announces an MCP server on mDNS until the returned handle is dropped (used by tests
/// and by servers that want to be found).
pub struct Announcement {
    daemon: ServiceDaemon,
}

impl Drop for Announcement {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

/// Announces `instance` at `ip:port` with `path` and server `name` in its TXT record.
pub fn announce(
    instance: &str,
    ip: &str,
    port: u16,
    path: &str,
    name: &str,
) -> Result<Announcement, String> {
    let daemon = ServiceDaemon::new().map_err(|e| format!("cannot start mDNS: {e}"))?;
    let props = [("path", path), ("name", name)];
    let info = ServiceInfo::new(
        SERVICE_TYPE,
        instance,
        &format!("{instance}.local."),
        ip,
        port,
        &props[..],
    )
    .map_err(|e| format!("invalid service: {e}"))?;
    daemon
        .register(info)
        .map_err(|e| format!("cannot announce: {e}"))?;
    Ok(Announcement { daemon })
}
