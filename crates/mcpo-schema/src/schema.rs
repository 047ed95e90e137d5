//! `.mcpo/schemas/<server>.json`: one server's pulled tool list and what it depends on.

use crate::{FormatError, canonical_json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Version of the schema file format; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Directory of the schema files, relative to the workspace root.
pub const SCHEMA_DIR: &str = ".mcpo/schemas";

/// The client capabilities mcpo declares when it connects (a server's tool list can
/// depend on them, so they are recorded with every pulled schema).
pub const CLIENT_CAPABILITIES: &[&str] = &["elicitation"];

/// How a server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// A child process speaking MCP on stdin/stdout.
    Stdio,
    /// Streamable HTTP.
    Http,
}

impl TransportKind {
    /// `stdio` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Stdio => "stdio",
            TransportKind::Http => "http",
        }
    }
}

/// Everything a server's tool list depends on, as declared by the workspace. Holds no
/// secret: environment variables and headers are recorded by name only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerIdentity {
    /// Transport.
    pub transport: TransportKind,
    /// Program started (stdio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments (stdio).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Names of the environment variables set for it (stdio), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Endpoint (HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Names of the headers sent (HTTP), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Client capabilities declared when pulling, sorted.
    #[serde(default)]
    pub client_capabilities: Vec<String>,
}

impl ServerIdentity {
    /// A stdio identity; `env_names` are sorted and de-duplicated, and the client
    /// capabilities are mcpo's ([`CLIENT_CAPABILITIES`]).
    pub fn stdio(
        command: impl Into<String>,
        args: Vec<String>,
        env_names: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut env: Vec<String> = env_names.into_iter().collect();
        env.sort();
        env.dedup();
        Self {
            transport: TransportKind::Stdio,
            command: Some(command.into()),
            args,
            env,
            url: None,
            headers: Vec::new(),
            client_capabilities: default_capabilities(),
        }
    }

    /// An HTTP identity; header names are lower-cased, sorted and de-duplicated.
    pub fn http(url: impl Into<String>, header_names: impl IntoIterator<Item = String>) -> Self {
        let mut headers: Vec<String> = header_names
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        headers.sort();
        headers.dedup();
        Self {
            transport: TransportKind::Http,
            command: None,
            args: Vec::new(),
            env: Vec::new(),
            url: Some(url.into()),
            headers,
            client_capabilities: default_capabilities(),
        }
    }

    /// The identity of a server declared with `transport`. The one rule for what a pulled
    /// schema depends on: the checker (a `server` block) and the MCP client (any declared
    /// or discovered server) both compute it here, so that `check` and `schema pull`
    /// always agree.
    pub fn declared(transport: DeclaredTransport<'_>) -> Self {
        match transport {
            DeclaredTransport::Stdio {
                command,
                args,
                env_names,
            } => Self::stdio(
                command,
                args.to_vec(),
                env_names.into_iter().map(str::to_string),
            ),
            DeclaredTransport::Http { url, header_names } => {
                Self::http(url, header_names.into_iter().map(str::to_string))
            }
        }
    }

    /// How this identity differs from `pulled` (the one a schema was pulled with), one
    /// sentence per difference; empty when they are equal.
    pub fn changes_since(&self, pulled: &ServerIdentity) -> Vec<String> {
        let mut out = Vec::new();
        if self.transport != pulled.transport {
            out.push(format!(
                "transport changed from {} to {}",
                pulled.transport.as_str(),
                self.transport.as_str()
            ));
        }
        if self.command != pulled.command {
            out.push(format!(
                "command changed from {} to {}",
                show_opt(&pulled.command),
                show_opt(&self.command)
            ));
        }
        if self.args != pulled.args {
            out.push(format!(
                "arguments changed from {:?} to {:?}",
                pulled.args, self.args
            ));
        }
        diff_names("environment variable", &pulled.env, &self.env, &mut out);
        if self.url != pulled.url {
            out.push(format!(
                "url changed from {} to {}",
                show_opt(&pulled.url),
                show_opt(&self.url)
            ));
        }
        diff_names("header", &pulled.headers, &self.headers, &mut out);
        if self.client_capabilities != pulled.client_capabilities {
            out.push(format!(
                "client capabilities changed from {:?} to {:?}",
                pulled.client_capabilities, self.client_capabilities
            ));
        }
        out
    }
}

/// A server's transport as declared, borrowed from whatever type declares it (a checked
/// `server` block, the client's server spec): what [`ServerIdentity::declared`] reads.
pub enum DeclaredTransport<'a> {
    /// A child process speaking MCP on stdin/stdout.
    Stdio {
        /// The program.
        command: &'a str,
        /// Its arguments.
        args: &'a [String],
        /// The names of the environment variables set for it (values are not part of
        /// the identity: they may be secrets).
        env_names: Vec<&'a str>,
    },
    /// Streamable HTTP.
    Http {
        /// The endpoint.
        url: &'a str,
        /// The names of the headers sent (values are not part of the identity).
        header_names: Vec<&'a str>,
    },
}

fn default_capabilities() -> Vec<String> {
    let mut caps: Vec<String> = CLIENT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    caps.sort();
    caps
}

fn show_opt(s: &Option<String>) -> String {
    match s {
        Some(s) => format!("`{s}`"),
        None => "none".to_string(),
    }
}

fn diff_names(what: &str, before: &[String], after: &[String], out: &mut Vec<String>) {
    let added: Vec<&String> = after.iter().filter(|n| !before.contains(n)).collect();
    let removed: Vec<&String> = before.iter().filter(|n| !after.contains(n)).collect();
    for n in added {
        out.push(format!("{what} `{n}` is now set"));
    }
    for n in removed {
        out.push(format!("{what} `{n}` is no longer set"));
    }
}

/// The server's own name and version, as it reported them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

/// One tool, as listed by `tools/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSchema {
    /// The tool's name.
    pub name: String,
    /// Human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(rename = "inputSchema")]
    pub input_schema: Value,
    /// JSON Schema of `structuredContent`, when the server publishes one.
    #[serde(
        rename = "outputSchema",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub output_schema: Option<Value>,
    /// Annotations (`readOnlyHint`, `destructiveHint`, `idempotentHint`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

/// One resource template, as listed by `resources/templates/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceTemplate {
    /// RFC 6570 URI template.
    #[serde(rename = "uriTemplate")]
    pub uri_template: String,
    /// Name.
    pub name: String,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MIME type of the resources.
    #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// The contents of `.mcpo/schemas/<server>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSchema {
    /// File format version ([`SCHEMA_VERSION`]).
    pub format: u32,
    /// The server's name in the workspace.
    pub server: String,
    /// What the tool list was pulled with.
    pub identity: ServerIdentity,
    /// The protocol version the connection used.
    #[serde(rename = "protocolVersion")]
    pub protocol_version: String,
    /// The server's own name and version, if it reported them.
    #[serde(
        rename = "serverInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_info: Option<ServerInfo>,
    /// When it was pulled (RFC 3339, UTC). Not part of the hash.
    #[serde(rename = "pulledAt")]
    pub pulled_at: String,
    /// The tools, sorted by name.
    pub tools: Vec<ToolSchema>,
    /// The resource templates, sorted by URI template.
    #[serde(rename = "resourceTemplates", default)]
    pub resource_templates: Vec<ResourceTemplate>,
}

impl ServerSchema {
    /// Sorts tools and templates so that the file and its hash do not depend on the
    /// order the server listed them in.
    pub fn normalize(&mut self) {
        self.tools.sort_by(|a, b| a.name.cmp(&b.name));
        self.resource_templates
            .sort_by(|a, b| a.uri_template.cmp(&b.uri_template));
    }

    /// The file's text: pretty JSON with sorted keys and a final newline.
    pub fn to_file_text(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let canonical: Value = serde_json::from_str(&canonical_json(&value)).unwrap_or(Value::Null);
        let mut text = pretty_sorted(&canonical);
        text.push('\n');
        text
    }

    /// Reads a schema file's text. `file` names it in errors.
    pub fn from_file_text(file: &str, text: &str) -> Result<ServerSchema, FormatError> {
        let value: Value = serde_json::from_str(text).map_err(|e| FormatError {
            file: file.to_string(),
            reason: format!("not valid JSON ({e})"),
        })?;
        let format = value.get("format").and_then(Value::as_u64);
        if format != Some(u64::from(SCHEMA_VERSION)) {
            return Err(FormatError {
                file: file.to_string(),
                reason: format!(
                    "unsupported schema file format {} (this mcpoc reads format {SCHEMA_VERSION})",
                    format.map_or("(none)".to_string(), |f| f.to_string())
                ),
            });
        }
        serde_json::from_value(value).map_err(|e| FormatError {
            file: file.to_string(),
            reason: format!("not a schema file ({e})"),
        })
    }

    /// `sha256:<hex>` of the canonical JSON of everything but the pull time.
    pub fn hash(&self) -> String {
        let mut sorted = self.clone();
        sorted.normalize();
        let mut value = serde_json::to_value(&sorted).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.remove("pulledAt");
        }
        let digest = Sha256::digest(canonical_json(&value).as_bytes());
        let mut out = String::from("sha256:");
        for b in digest.iter() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// The tool called `name`.
    pub fn tool(&self, name: &str) -> Option<&ToolSchema> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// Pretty JSON of a value whose maps are already in the wanted order. serde_json's
/// pretty printer keeps map order; re-parsing canonical text yields sorted maps unless
/// `preserve_order` is on, in which case the canonical text's order (sorted) is kept.
fn pretty_sorted(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Checks that a server name can name a file: letters, digits, `_`, `-` and `.`, not
/// starting with `.`.
pub fn validate_server_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid server name (use letters, digits, `_`, `-` and `.`)"
        ))
    }
}

/// `.mcpo/schemas/<server>.json`, relative to the workspace root.
pub fn schema_path(server: &str) -> PathBuf {
    PathBuf::from(SCHEMA_DIR).join(format!("{server}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> ServerSchema {
        ServerSchema {
            format: SCHEMA_VERSION,
            server: "aws".into(),
            identity: ServerIdentity::stdio(
                "mcpoc",
                vec!["twin".into(), "aws".into()],
                ["B".to_string(), "A".to_string()],
            ),
            protocol_version: "2025-06-18".into(),
            server_info: Some(ServerInfo {
                name: "twin".into(),
                version: "0.1.0".into(),
            }),
            pulled_at: "2026-11-24T18:00:00Z".into(),
            tools: vec![
                ToolSchema {
                    name: "b".into(),
                    title: None,
                    description: Some("B".into()),
                    input_schema: json!({"type": "object"}),
                    output_schema: None,
                    annotations: None,
                },
                ToolSchema {
                    name: "a".into(),
                    title: Some("A".into()),
                    description: None,
                    input_schema: json!({"type": "object", "properties": {"x": {"type": "string"}}}),
                    output_schema: Some(json!({"type": "object"})),
                    annotations: Some(json!({"readOnlyHint": true})),
                },
            ],
            resource_templates: vec![],
        }
    }

    #[test]
    fn round_trips_and_hash_ignores_pull_time_and_order() {
        let mut s = sample();
        let h1 = s.hash();
        s.normalize();
        let text = s.to_file_text();
        let back = ServerSchema::from_file_text("x", &text);
        assert_eq!(back.as_ref().ok(), Some(&s));
        assert_eq!(s.hash(), h1);
        let mut later = s.clone();
        later.pulled_at = "2027-01-01T00:00:00Z".into();
        assert_eq!(later.hash(), s.hash());
        assert!(s.hash().starts_with("sha256:"));
        assert_eq!(s.identity.env, vec!["A".to_string(), "B".to_string()]);
    }

    #[test]
    fn rejects_other_formats_and_bad_names() {
        let err = ServerSchema::from_file_text("f.json", r#"{"format": 9}"#);
        assert!(err.is_err_and(|e| e.reason.contains("unsupported schema file format 9")));
        assert!(validate_server_name("../x").is_err());
        assert!(validate_server_name("aws-2").is_ok());
    }

    #[test]
    fn describes_identity_changes() {
        let a = ServerIdentity::stdio("srv", vec!["--a".into()], ["TOKEN".to_string()]);
        let b = ServerIdentity::stdio("srv2", vec!["--a".into()], ["OTHER".to_string()]);
        assert_eq!(
            b.changes_since(&a),
            vec![
                "command changed from `srv` to `srv2`".to_string(),
                "environment variable `OTHER` is now set".to_string(),
                "environment variable `TOKEN` is no longer set".to_string(),
            ]
        );
    }
}
