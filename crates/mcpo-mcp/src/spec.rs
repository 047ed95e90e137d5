//! What a server is: how to reach it, its limits, and where the declaration came from.

use mcpo_schema::{DeclaredTransport, ServerIdentity};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Default timeout of one call when the server declares none.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Default number of calls in flight to one server.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// Default limit on the size of one message from a server (16 MiB, as rmcp's stdio and
/// HTTP transports): a bigger answer fails its call at once instead of being buffered.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;

/// A resolved server declaration: everything needed to connect.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    /// The name used in `.mcpo` files (`aws` in `aws.vpc`).
    pub name: String,
    /// How to reach it.
    pub transport: Transport,
    /// Calls in flight at once (default [`DEFAULT_MAX_CONCURRENCY`]).
    pub max_concurrency: Option<usize>,
    /// Per-call timeout (default [`DEFAULT_CALL_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// The largest message accepted from this server, in bytes (default
    /// [`crate::ConnectOptions::max_message_bytes`]).
    pub max_message_bytes: Option<usize>,
    /// Where the declaration came from.
    pub source: Source,
}

/// How a server is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// A child process speaking MCP on stdin/stdout.
    Stdio(StdioSpec),
    /// Streamable HTTP.
    Http(HttpSpec),
}

/// A stdio server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StdioSpec {
    /// Program (looked up on PATH when it has no `/`).
    pub command: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Environment variables set for it (added to mcpoc's own environment).
    pub env: BTreeMap<String, String>,
    /// Working directory (default: mcpoc's).
    pub cwd: Option<PathBuf>,
}

/// A streamable HTTP server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpSpec {
    /// Endpoint, e.g. `http://127.0.0.1:8931/mcp`.
    pub url: String,
    /// Headers sent with every request.
    pub headers: BTreeMap<String, String>,
}

/// Where a declaration came from, in precedence order (first wins).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A `server` block in a `.mcpo` file.
    ServerBlock {
        /// `file:line`.
        location: String,
    },
    /// `[servers.<name>]` in `mcpo.toml`.
    McpoToml {
        /// The file.
        path: PathBuf,
    },
    /// `MCPO_SERVER_<NAME>`.
    Env {
        /// The variable.
        var: String,
    },
    /// Claude Desktop's `claude_desktop_config.json` (`mcpServers`).
    ClaudeDesktop {
        /// The file.
        path: PathBuf,
    },
    /// VS Code's `.vscode/mcp.json` (`servers`).
    VsCode {
        /// The file.
        path: PathBuf,
    },
    /// Cursor's `.cursor/mcp.json` (`mcpServers`).
    Cursor {
        /// The file.
        path: PathBuf,
    },
    /// mDNS (`_mcp._tcp.local.`).
    Mdns {
        /// The service instance name.
        instance: String,
    },
    /// Given directly by a program (tests, benchmarks).
    Direct,
}

impl Source {
    /// Short kind name for tables and JSON: `server-block`, `mcpo.toml`, `env`,
    /// `claude-desktop`, `vscode`, `cursor`, `mdns`, `direct`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::ServerBlock { .. } => "server-block",
            Source::McpoToml { .. } => "mcpo.toml",
            Source::Env { .. } => "env",
            Source::ClaudeDesktop { .. } => "claude-desktop",
            Source::VsCode { .. } => "vscode",
            Source::Cursor { .. } => "cursor",
            Source::Mdns { .. } => "mdns",
            Source::Direct => "direct",
        }
    }

    /// Where exactly: a file (and line), a variable or an mDNS instance.
    pub fn detail(&self) -> String {
        match self {
            Source::ServerBlock { location } => location.clone(),
            Source::McpoToml { path }
            | Source::ClaudeDesktop { path }
            | Source::VsCode { path }
            | Source::Cursor { path } => path.display().to_string(),
            Source::Env { var } => var.clone(),
            Source::Mdns { instance } => instance.clone(),
            Source::Direct => String::new(),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.detail();
        if d.is_empty() {
            f.write_str(self.kind())
        } else {
            write!(f, "{} ({d})", self.kind())
        }
    }
}

impl ServerSpec {
    /// A spec with default limits, from a program (no file).
    pub fn new(name: impl Into<String>, transport: Transport) -> Self {
        Self {
            name: name.into(),
            transport,
            max_concurrency: None,
            timeout: None,
            max_message_bytes: None,
            source: Source::Direct,
        }
    }

    /// A stdio spec running `command args...`.
    pub fn stdio(name: impl Into<String>, command: impl Into<String>, args: &[&str]) -> Self {
        Self::new(
            name,
            Transport::Stdio(StdioSpec {
                command: command.into(),
                args: args.iter().map(|a| a.to_string()).collect(),
                ..StdioSpec::default()
            }),
        )
    }

    /// An HTTP spec.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(
            name,
            Transport::Http(HttpSpec {
                url: url.into(),
                headers: BTreeMap::new(),
            }),
        )
    }

    /// What a pulled schema of this server depends on (no secret values): computed by
    /// [`ServerIdentity::declared`], as the checker does for `server` blocks.
    pub fn identity(&self) -> ServerIdentity {
        ServerIdentity::declared(match &self.transport {
            Transport::Stdio(s) => DeclaredTransport::Stdio {
                command: &s.command,
                args: &s.args,
                env_names: s.env.keys().map(String::as_str).collect(),
            },
            Transport::Http(h) => DeclaredTransport::Http {
                url: &h.url,
                header_names: h.headers.keys().map(String::as_str).collect(),
            },
        })
    }

    /// `stdio` or `http`.
    pub fn transport_kind(&self) -> &'static str {
        match self.transport {
            Transport::Stdio(_) => "stdio",
            Transport::Http(_) => "http",
        }
    }

    /// The command line or URL, for display.
    pub fn target(&self) -> String {
        match &self.transport {
            Transport::Stdio(s) => {
                let mut out = s.command.clone();
                for a in &s.args {
                    out.push(' ');
                    out.push_str(a);
                }
                out
            }
            Transport::Http(h) => h.url.clone(),
        }
    }
}
