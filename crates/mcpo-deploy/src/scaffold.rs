//! Scaffolding a new workspace (`mcpoc init`) that checks clean once its schemas are
//! pulled.
//!
//! By default the workspace declares the four twin servers (started as `mcpoc twin ...`
//! with their state under `.mcpo/twins/`) and a small example on two of them. From
//! discovery it declares, instead, every server that discovery finds (Claude Desktop, VS
//! Code and Cursor configurations, `mcpo.toml`, `MCPO_SERVER_*` variables), with the values
//! of their environment variables and headers left in the environment: a `.mcpo` file is
//! meant to be committed, and those values are often secrets.

use crate::error::Problem;
use mcpo_mcp::discovery::{DiscoverOptions, Environment, discover};
use mcpo_mcp::{ServerSpec, Transport};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file a new workspace's declarations go to.
pub const MAIN: &str = "main.mcpo";

/// What [`scaffold`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaffolded {
    /// The main source file.
    pub main: PathBuf,
    /// Whether a `.gitignore` was written (an existing one is left alone).
    pub gitignore: bool,
}

/// Writes a new workspace into `dir` (created when missing): the twins and an example, or
/// with `from_discovery` the servers discovery finds in `env`. An existing `main.mcpo` is
/// never written over.
pub fn scaffold(
    dir: &Path,
    from_discovery: Option<&dyn Environment>,
) -> Result<Scaffolded, Problem> {
    let main = dir.join(MAIN);
    if main.exists() {
        return Err(Problem::uncoded(format!(
            "{} already exists; init writes a new workspace and changes nothing in an existing one",
            main.display()
        ))
        .usage());
    }
    let source = match from_discovery {
        Some(env) => self::from_discovery(env, dir).map_err(|m| Problem::uncoded(m).usage())?,
        None => TWINS.to_string(),
    };
    let source = formatted(&source);
    let io = |what: &str, path: &Path, e: std::io::Error| {
        Problem::uncoded(format!("cannot {what} {}: {e}", path.display())).usage()
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    std::fs::write(&main, source).map_err(|e| io("write", &main, e))?;
    let ignore = dir.join(".gitignore");
    let gitignore = !ignore.exists();
    if gitignore {
        std::fs::write(&ignore, GITIGNORE).map_err(|e| io("write", &ignore, e))?;
    }
    Ok(Scaffolded { main, gitignore })
}

/// The file in the canonical layout (the templates are written by hand).
fn formatted(source: &str) -> String {
    let parsed = mcpo_syntax::parse(source, mcpo_diagnostics::FileId(0));
    if parsed.diagnostics.is_empty() {
        mcpo_fmt::format(source, &parsed.file)
    } else {
        source.to_string()
    }
}

/// What a workspace keeps out of version control: the state (it can hold what servers
/// returned) and the twins' data. Schemas and `mcpo.lock` are meant to be committed.
const GITIGNORE: &str =
    "# mcpo: state and the twin servers' data stay local\n.mcpo/state/\n.mcpo/twins/\n";

const TWINS: &str = r#"# A workspace on the four twin servers: simulated OPNsense, AWS, Docker and Kubernetes
# that run on this machine (`mcpoc twin ...`, with their data under .mcpo/twins/).
# Replace a `server` block with a real server's and the rest of the file stays the same.
#
#   mcpoc schema pull   # ask each server for its tools and store their schemas
#   mcpoc check         # check this file against those schemas
#   mcpoc plan          # show what apply would change
#   mcpoc apply         # make the change

server "opnsense" {
  command = "mcpoc"
  args    = ["twin", "opnsense", "--state-dir", ".mcpo/twins/opnsense"]
}

server "aws" {
  command = "mcpoc"
  args    = ["twin", "aws", "--state-dir", ".mcpo/twins/aws"]
}

server "docker" {
  command = "mcpoc"
  args    = ["twin", "docker", "--state-dir", ".mcpo/twins/docker"]
}

server "kubernetes" {
  command = "mcpoc"
  args    = ["twin", "kubernetes", "--state-dir", ".mcpo/twins/kubernetes"]
}

variable "name" {
  type        = string
  default     = "demo"
  description = "Names the network and the namespace"
}

# A network on the cloud ...
resource "aws.vpc" "main" {
  cidr_block = "10.0.0.0/16"
  name       = var.name
}

resource "aws.vpc_subnet" "app" {
  vpc_id            = aws.vpc.main.id
  cidr_block        = cidrsubnet(aws.vpc.main.cidr_block, 8, 1)
  availability_zone = "us-east-1a"
}

# ... and a namespace on the cluster.
resource "kubernetes.namespace" "app" {
  name = var.name
}

output "subnet_id" {
  value = aws.vpc_subnet.app.id
}
"#;

/// The source declaring every discovered server, or why there is none.
fn from_discovery(env: &dyn Environment, dir: &Path) -> Result<String, String> {
    let registry = discover(
        env,
        &DiscoverOptions {
            workspace_root: dir.to_path_buf(),
            server_blocks: Vec::new(),
            mdns: None,
        },
    );
    for w in &registry.warnings {
        eprintln!("warning: {w}");
    }
    if registry.entries.is_empty() {
        return Err(
            "discovery found no MCP server (looked at the Claude Desktop configuration, \
             .vscode/mcp.json, .cursor/mcp.json, mcpo.toml and MCPO_SERVER_* variables); \
             run `mcpoc init` without --from-discovery for the twin servers"
                .into(),
        );
    }
    let mut out = String::from(
        "# The MCP servers discovery found when this workspace was created. Values of\n\
         # environment variables and headers are read from the environment (`env(...)`)\n\
         # rather than written here; set them before `mcpoc schema pull`.\n",
    );
    let mut names: Vec<String> = Vec::new();
    for entry in &registry.entries {
        let spec = &entry.spec;
        let Some(name) = identifier(&spec.name) else {
            eprintln!(
                "warning: skipped server `{}` from {}: its name cannot be made an identifier",
                spec.name, spec.source
            );
            continue;
        };
        if names.contains(&name) {
            eprintln!(
                "warning: skipped server `{}` from {}: `{name}` is already declared",
                spec.name, spec.source
            );
            continue;
        }
        out.push('\n');
        out.push_str(&server_block(&name, spec));
        names.push(name);
    }
    Ok(out)
}

/// `name` as an mcpo identifier: letters, digits, `_` and `-`, starting with a letter
/// (other characters become `_`).
fn identifier(name: &str) -> Option<String> {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// A string literal of `text` (escaping what a template would read).
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An object key: bare when it is an identifier, else quoted.
fn key(name: &str) -> String {
    let bare = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { name.to_string() } else { quoted(name) }
}

/// The environment variable a header's value is read from: `MCPO_<SERVER>_<HEADER>`.
fn header_var(server: &str, header: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("MCPO_{}_{}", clean(server), clean(header))
}

fn server_block(name: &str, spec: &ServerSpec) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "# from {}", spec.source);
    let _ = writeln!(b, "server {} {{", quoted(name));
    match &spec.transport {
        Transport::Stdio(s) => {
            let _ = writeln!(b, "  command = {}", quoted(&s.command));
            if !s.args.is_empty() {
                let args: Vec<String> = s.args.iter().map(|a| quoted(a)).collect();
                let _ = writeln!(b, "  args = [{}]", args.join(", "));
            }
            if !s.env.is_empty() {
                let _ = writeln!(b, "  env = {{");
                for var in s.env.keys() {
                    let _ = writeln!(b, "    {} = env({})", key(var), quoted(var));
                }
                let _ = writeln!(b, "  }}");
            }
            if let Some(cwd) = &s.cwd {
                let _ = writeln!(b, "  cwd = {}", quoted(&cwd.display().to_string()));
            }
        }
        Transport::Http(h) => {
            let _ = writeln!(b, "  url = {}", quoted(&h.url));
            if !h.headers.is_empty() {
                let _ = writeln!(b, "  headers = {{");
                for header in h.headers.keys() {
                    let _ = writeln!(
                        b,
                        "    {} = env({})",
                        key(header),
                        quoted(&header_var(name, header))
                    );
                }
                let _ = writeln!(b, "  }}");
            }
        }
    }
    if let Some(n) = spec.max_concurrency {
        let _ = writeln!(b, "  max_concurrency = {n}");
    }
    if let Some(t) = spec.timeout {
        let _ = writeln!(b, "  timeout_ms = {}", t.as_millis());
    }
    b.push_str("}\n");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpo_mcp::discovery::FakeEnvironment;

    #[test]
    fn discovered_servers_become_server_blocks_without_secret_values() {
        let mut env = FakeEnvironment::default();
        env.vars.insert("HOME".into(), "/home/u".into());
        env.files.insert(
            PathBuf::from("/home/u/.config/Claude/claude_desktop_config.json"),
            r#"{"mcpServers": {
                "github.com/files": {"command": "npx", "args": ["-y", "server-files", "${HOME}"],
                                     "env": {"API_TOKEN": "s3cret"}},
                "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer s3cret"}}
            }}"#
            .into(),
        );
        let source = match from_discovery(&env, Path::new("/ws")) {
            Ok(s) => formatted(&s),
            Err(e) => panic!("{e}"),
        };
        assert!(!source.contains("s3cret"), "{source}");
        assert!(source.contains("server \"github_com_files\""), "{source}");
        assert!(
            source.contains("API_TOKEN = env(\"API_TOKEN\")"),
            "{source}"
        );
        assert!(source.contains("\"$${HOME}\""), "{source}");
        assert!(
            source.contains("Authorization = env(\"MCPO_REMOTE_AUTHORIZATION\")"),
            "{source}"
        );
        let parsed = mcpo_syntax::parse(&source, mcpo_diagnostics::FileId(0));
        assert!(parsed.diagnostics.is_empty(), "{source}");
    }

    #[test]
    fn nothing_discovered_is_an_error_that_says_where_it_looked() {
        let env = FakeEnvironment::default();
        let err = from_discovery(&env, Path::new("/ws"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("Claude Desktop"), "{err}");
    }
}
