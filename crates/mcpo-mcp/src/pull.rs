//! `schema pull` for one server: connect, list tools and resource templates, and build
//! the schema file's contents.

use crate::conn::{ConnectOptions, Connection};
use crate::error::McpError;
use crate::spec::ServerSpec;
use mcpo_schema::{SCHEMA_VERSION, ServerSchema};

/// Connects to `spec`, lists its tools and resource templates and returns the schema to
/// store (normalized). The connection is shut down before returning.
pub async fn pull(spec: &ServerSpec, options: &ConnectOptions) -> Result<ServerSchema, McpError> {
    let conn = Connection::connect(spec, options).await?;
    let result = async {
        let tools = conn.list_tools().await?;
        let templates = conn.list_resource_templates().await?;
        Ok::<_, McpError>((tools, templates))
    }
    .await;
    let protocol_version = conn.protocol_version().to_string();
    let server_info = conn.server_info().cloned();
    conn.shutdown().await;
    let (tools, resource_templates) = result?;
    let mut schema = ServerSchema {
        format: SCHEMA_VERSION,
        server: spec.name.clone(),
        identity: spec.identity(),
        protocol_version,
        server_info,
        pulled_at: pulled_at_now(),
        tools,
        resource_templates,
    };
    schema.normalize();
    Ok(schema)
}

/// The current time as RFC 3339 UTC (`2026-11-24T18:03:07Z`).
pub fn pulled_at_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_543_200), "2026-11-24T18:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
