//! The server registry: every declared or discovered server, with where it came from.
//!
//! Sources in precedence order (the first declaration of a name wins; the others are
//! kept as `shadowed` so `mcpoc servers` can show them): `server` blocks (given by the
//! caller, already resolved), `mcpo.toml` (`[servers.<name>]`), `MCPO_SERVER_<NAME>`
//! environment variables (a URL or a command line), Claude Desktop's
//! `claude_desktop_config.json` (`mcpServers`; `MCPO_CLAUDE_CONFIG` names another file),
//! VS Code's `.vscode/mcp.json` (`servers`), Cursor's `.cursor/mcp.json` (`mcpServers`),
//! and mDNS (`_mcp._tcp.local.`, only when asked for).
//!
//! The environment and the files are read through [`Environment`], so tests run on
//! made-up ones.

use crate::spec::{HttpSpec, ServerSpec, Source, StdioSpec, Transport};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What discovery reads: environment variables and files.
pub trait Environment {
    /// An environment variable.
    fn var(&self, name: &str) -> Option<String>;
    /// Every environment variable (name, value).
    fn vars(&self) -> Vec<(String, String)>;
    /// A file's text; `Ok(None)` when it does not exist.
    fn read_file(&self, path: &Path) -> Result<Option<String>, String>;
    /// `linux`, `macos` or `windows`.
    fn os(&self) -> &str;
}

/// The process's real environment and file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealEnvironment;

impl Environment for RealEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn vars(&self) -> Vec<(String, String)> {
        std::env::vars().collect()
    }
    fn read_file(&self, path: &Path) -> Result<Option<String>, String> {
        match std::fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(crate::io_reason(&e)),
        }
    }
    fn os(&self) -> &str {
        std::env::consts::OS
    }
}

/// A made-up environment for tests.
#[derive(Debug, Clone, Default)]
pub struct FakeEnvironment {
    /// Variables.
    pub vars: BTreeMap<String, String>,
    /// Files by path.
    pub files: BTreeMap<PathBuf, String>,
    /// Operating system name.
    pub os: String,
}

impl Environment for FakeEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn vars(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    fn read_file(&self, path: &Path) -> Result<Option<String>, String> {
        Ok(self.files.get(path).cloned())
    }
    fn os(&self) -> &str {
        if self.os.is_empty() {
            "linux"
        } else {
            &self.os
        }
    }
}

/// What to discover.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// The workspace root (where `mcpo.toml`, `.vscode/` and `.cursor/` are).
    pub workspace_root: PathBuf,
    /// Servers declared by `server` blocks, already resolved (highest precedence).
    pub server_blocks: Vec<ServerSpec>,
    /// Browse mDNS for this long (`None`: no mDNS).
    pub mdns: Option<Duration>,
}

/// One server of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The declaration that won.
    pub spec: ServerSpec,
    /// Declarations of the same name from lower-precedence sources.
    pub shadowed: Vec<Source>,
}

/// Every server, in precedence-then-name order, and what could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    /// The servers.
    pub entries: Vec<Entry>,
    /// Problems with sources (unreadable or malformed files, bad variables).
    pub warnings: Vec<String>,
}

impl Registry {
    /// The server called `name`.
    pub fn get(&self, name: &str) -> Option<&ServerSpec> {
        self.entries
            .iter()
            .find(|e| e.spec.name == name)
            .map(|e| &e.spec)
    }

    /// Adds `spec` unless a server of that name exists (then it is recorded as shadowed).
    pub fn add(&mut self, spec: ServerSpec) {
        match self.entries.iter_mut().find(|e| e.spec.name == spec.name) {
            Some(e) => e.shadowed.push(spec.source),
            None => self.entries.push(Entry {
                spec,
                shadowed: Vec::new(),
            }),
        }
    }
}

/// Builds the registry from every source.
pub fn discover(env: &dyn Environment, options: &DiscoverOptions) -> Registry {
    let mut reg = Registry::default();
    let mut batches: Vec<Vec<ServerSpec>> = vec![options.server_blocks.clone()];
    batches.push(from_mcpo_toml(
        env,
        &options.workspace_root,
        &mut reg.warnings,
    ));
    batches.push(from_env_vars(env, &mut reg.warnings));
    if let Some(path) = claude_config_path(env) {
        batches.push(from_json_config(
            env,
            &path,
            "mcpServers",
            |p| Source::ClaudeDesktop { path: p },
            &options.workspace_root,
            &mut reg.warnings,
        ));
    }
    batches.push(from_json_config(
        env,
        &options.workspace_root.join(".vscode/mcp.json"),
        "servers",
        |p| Source::VsCode { path: p },
        &options.workspace_root,
        &mut reg.warnings,
    ));
    batches.push(from_json_config(
        env,
        &options.workspace_root.join(".cursor/mcp.json"),
        "mcpServers",
        |p| Source::Cursor { path: p },
        &options.workspace_root,
        &mut reg.warnings,
    ));
    if let Some(wait) = options.mdns {
        match crate::mdns::browse(wait) {
            Ok(found) => batches.push(found),
            Err(e) => reg.warnings.push(format!("mDNS: {e}")),
        }
    }
    for mut batch in batches {
        batch.sort_by(|a, b| a.name.cmp(&b.name));
        for spec in batch {
            reg.add(spec);
        }
    }
    reg
}

/// `[servers.<name>]` in `mcpo.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlServer {
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    max_concurrency: Option<usize>,
    timeout_ms: Option<u64>,
    max_message_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct McpoToml {
    #[serde(default)]
    servers: BTreeMap<String, TomlServer>,
}

fn from_mcpo_toml(
    env: &dyn Environment,
    root: &Path,
    warnings: &mut Vec<String>,
) -> Vec<ServerSpec> {
    let path = root.join("mcpo.toml");
    let text = match env.read_file(&path) {
        Ok(Some(t)) => t,
        Ok(None) => return Vec::new(),
        Err(e) => {
            warnings.push(format!("{}: cannot read: {e}", path.display()));
            return Vec::new();
        }
    };
    // Other tables of mcpo.toml (`[state]`, ...) belong to other parts of mcpo.
    let parsed: McpoToml = match toml::from_str(&text) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!("{}: {}", path.display(), e.message()));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (name, s) in parsed.servers {
        let transport = match (s.command, s.url) {
            (Some(command), None) => Transport::Stdio(StdioSpec {
                command,
                args: s.args,
                env: s.env,
                cwd: s
                    .cwd
                    .map(|c| if c.is_relative() { root.join(c) } else { c }),
            }),
            (None, Some(url)) => Transport::Http(HttpSpec {
                url,
                headers: s.headers,
            }),
            _ => {
                warnings.push(format!(
                    "{}: [servers.{name}] needs exactly one of `command` and `url`",
                    path.display()
                ));
                continue;
            }
        };
        out.push(ServerSpec {
            name,
            transport,
            max_concurrency: s.max_concurrency,
            timeout: s.timeout_ms.map(Duration::from_millis),
            max_message_bytes: s.max_message_bytes,
            source: Source::McpoToml { path: path.clone() },
        });
    }
    out
}

/// Splits a command line on whitespace, honouring single and double quotes and `\`.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => match chars.next() {
                Some(n) => cur.push(n),
                None => return Err("ends with a lone `\\`".into()),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
        if quote.is_some() {
            in_word = true;
        }
    }
    if quote.is_some() {
        return Err("has an unclosed quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn from_env_vars(env: &dyn Environment, warnings: &mut Vec<String>) -> Vec<ServerSpec> {
    let mut out = Vec::new();
    for (var, value) in env.vars() {
        let Some(suffix) = var.strip_prefix("MCPO_SERVER_") else {
            continue;
        };
        if suffix.is_empty() {
            continue;
        }
        let name = suffix.to_ascii_lowercase();
        let source = Source::Env { var: var.clone() };
        let value = value.trim();
        let transport = if value.starts_with("http://") || value.starts_with("https://") {
            Transport::Http(HttpSpec {
                url: value.to_string(),
                headers: BTreeMap::new(),
            })
        } else {
            match split_command_line(value) {
                Ok(words) if !words.is_empty() => {
                    let mut words = words.into_iter();
                    let command = words.next().unwrap_or_default();
                    Transport::Stdio(StdioSpec {
                        command,
                        args: words.collect(),
                        ..StdioSpec::default()
                    })
                }
                Ok(_) => {
                    warnings.push(format!("{var} is empty (expected a URL or a command line)"));
                    continue;
                }
                Err(e) => {
                    warnings.push(format!("{var}: the command line {e}"));
                    continue;
                }
            }
        };
        out.push(ServerSpec {
            name,
            transport,
            max_concurrency: None,
            timeout: None,
            max_message_bytes: None,
            source,
        });
    }
    out
}

/// Where Claude Desktop keeps its configuration on this OS (`MCPO_CLAUDE_CONFIG` wins).
pub fn claude_config_path(env: &dyn Environment) -> Option<PathBuf> {
    if let Some(p) = env.var("MCPO_CLAUDE_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let file = "Claude/claude_desktop_config.json";
    match env.os() {
        "macos" => env.var("HOME").map(|h| {
            PathBuf::from(h)
                .join("Library/Application Support")
                .join(file)
        }),
        "windows" => env.var("APPDATA").map(|a| PathBuf::from(a).join(file)),
        _ => match env.var("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
            Some(x) => Some(PathBuf::from(x).join(file)),
            None => env
                .var("HOME")
                .map(|h| PathBuf::from(h).join(".config").join(file)),
        },
    }
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(Value::Object(m)) = v {
        for (k, v) in m {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(k.clone(), s);
        }
    }
    out
}

/// Claude Desktop, VS Code and Cursor share a shape: `{ <key>: { name: {command, args,
/// env, cwd} | {url, headers} } }` (VS Code adds `type`).
fn from_json_config(
    env: &dyn Environment,
    path: &Path,
    key: &str,
    source: impl Fn(PathBuf) -> Source,
    root: &Path,
    warnings: &mut Vec<String>,
) -> Vec<ServerSpec> {
    let text = match env.read_file(path) {
        Ok(Some(t)) => t,
        Ok(None) => return Vec::new(),
        Err(e) => {
            warnings.push(format!("{}: cannot read: {e}", path.display()));
            return Vec::new();
        }
    };
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            warnings.push(format!("{}: not valid JSON ({e})", path.display()));
            return Vec::new();
        }
    };
    let Some(servers) = value.get(key).and_then(Value::as_object) else {
        return Vec::new();
    };
    let folder = root.display().to_string();
    let subst = |s: &str| s.replace("${workspaceFolder}", &folder);
    let mut out = Vec::new();
    for (name, s) in servers {
        let command = s.get("command").and_then(Value::as_str);
        let url = s.get("url").and_then(Value::as_str);
        let transport = match (command, url) {
            (Some(command), _) => Transport::Stdio(StdioSpec {
                command: subst(command),
                args: s
                    .get("args")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(&subst).collect())
                    .unwrap_or_default(),
                env: string_map(s.get("env")),
                cwd: s
                    .get("cwd")
                    .and_then(Value::as_str)
                    .map(|c| PathBuf::from(subst(c))),
            }),
            (None, Some(url)) => Transport::Http(HttpSpec {
                url: url.to_string(),
                headers: string_map(s.get("headers")),
            }),
            (None, None) => {
                warnings.push(format!(
                    "{}: server `{name}` has neither `command` nor `url`",
                    path.display()
                ));
                continue;
            }
        };
        out.push(ServerSpec {
            name: name.clone(),
            transport,
            max_concurrency: None,
            timeout: None,
            max_message_bytes: None,
            source: source(path.to_path_buf()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> FakeEnvironment {
        let mut e = FakeEnvironment::default();
        e.vars.insert("HOME".into(), "/home/u".into());
        e
    }

    fn names(r: &Registry) -> Vec<(String, &'static str)> {
        r.entries
            .iter()
            .map(|e| (e.spec.name.clone(), e.spec.source.kind()))
            .collect()
    }

    #[test]
    fn precedence_and_provenance() {
        let mut e = env();
        let root = PathBuf::from("/ws");
        e.files.insert(
            root.join("mcpo.toml"),
            "[state]\nbackend = \"local\"\n[servers.aws]\ncommand = \"mcpoc\"\nargs = [\"twin\", \"aws\"]\nmax_concurrency = 4\n[servers.k8s]\nurl = \"http://127.0.0.1:9/mcp\"\nheaders = { Authorization = \"Bearer x\" }\n".into(),
        );
        e.vars
            .insert("MCPO_SERVER_AWS".into(), "http://shadowed".into());
        e.vars.insert(
            "MCPO_SERVER_DOCKER".into(),
            "mcpoc twin 'docker' --seed 1".into(),
        );
        e.files.insert(
            PathBuf::from("/home/u/.config/Claude/claude_desktop_config.json"),
            r#"{"mcpServers": {"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "env": {"MEMORY_FILE_PATH": "/tmp/m"}}, "docker": {"command": "x"}}}"#.into(),
        );
        e.files.insert(
            root.join(".vscode/mcp.json"),
            r#"{"servers": {"fs": {"type": "stdio", "command": "node", "args": ["${workspaceFolder}/fs.js"]}, "remote": {"type": "http", "url": "https://r/mcp"}}}"#.into(),
        );
        e.files.insert(
            root.join(".cursor/mcp.json"),
            r#"{"mcpServers": {"cur": {"url": "http://c/mcp"}, "bad": {}}}"#.into(),
        );
        let block = ServerSpec {
            source: Source::ServerBlock {
                location: "main.mcpo:1".into(),
            },
            ..ServerSpec::stdio("opnsense", "mcpoc", &["twin", "opnsense"])
        };
        let reg = discover(
            &e,
            &DiscoverOptions {
                workspace_root: root.clone(),
                server_blocks: vec![block],
                mdns: None,
            },
        );
        assert_eq!(
            names(&reg),
            vec![
                ("opnsense".into(), "server-block"),
                ("aws".into(), "mcpo.toml"),
                ("k8s".into(), "mcpo.toml"),
                ("docker".into(), "env"),
                ("memory".into(), "claude-desktop"),
                ("fs".into(), "vscode"),
                ("remote".into(), "vscode"),
                ("cur".into(), "cursor"),
            ]
        );
        let aws = &reg.entries[1];
        assert_eq!(aws.spec.max_concurrency, Some(4));
        assert_eq!(aws.shadowed.len(), 1);
        assert_eq!(aws.shadowed[0].kind(), "env");
        assert_eq!(
            reg.get("docker").map(ServerSpec::target),
            Some("mcpoc twin docker --seed 1".to_string())
        );
        assert_eq!(
            reg.get("fs").map(ServerSpec::target),
            Some("node /ws/fs.js".into())
        );
        assert_eq!(
            reg.warnings,
            vec!["/ws/.cursor/mcp.json: server `bad` has neither `command` nor `url`".to_string()]
        );
        // The identity records env names, never values.
        let id = reg.get("memory").map(ServerSpec::identity);
        assert_eq!(
            id.map(|i| i.env),
            Some(vec!["MEMORY_FILE_PATH".to_string()])
        );
    }

    #[test]
    fn claude_config_locations() {
        let mut e = env();
        assert_eq!(
            claude_config_path(&e),
            Some(PathBuf::from(
                "/home/u/.config/Claude/claude_desktop_config.json"
            ))
        );
        e.os = "macos".into();
        assert_eq!(
            claude_config_path(&e),
            Some(PathBuf::from(
                "/home/u/Library/Application Support/Claude/claude_desktop_config.json"
            ))
        );
        e.os = "windows".into();
        e.vars
            .insert("APPDATA".into(), "C:/Users/u/AppData/Roaming".into());
        assert_eq!(
            claude_config_path(&e),
            Some(PathBuf::from(
                "C:/Users/u/AppData/Roaming/Claude/claude_desktop_config.json"
            ))
        );
        e.vars.insert("MCPO_CLAUDE_CONFIG".into(), "/x.json".into());
        assert_eq!(claude_config_path(&e), Some(PathBuf::from("/x.json")));
    }

    #[test]
    fn malformed_sources_are_warnings() {
        let mut e = env();
        let root = PathBuf::from("/ws");
        e.files.insert(
            root.join("mcpo.toml"),
            "[servers.a]\nurl = \"u\"\ncommand = \"c\"\n".into(),
        );
        e.files
            .insert(root.join(".vscode/mcp.json"), "{not json".into());
        e.vars
            .insert("MCPO_SERVER_Q".into(), "prog 'unclosed".into());
        let reg = discover(
            &e,
            &DiscoverOptions {
                workspace_root: root,
                ..DiscoverOptions::default()
            },
        );
        assert!(reg.entries.is_empty());
        assert_eq!(reg.warnings.len(), 3, "{:?}", reg.warnings);
        assert!(reg.warnings[0].contains("exactly one of `command` and `url`"));
        assert!(reg.warnings[1].contains("MCPO_SERVER_Q: the command line has an unclosed quote"));
        assert!(reg.warnings[2].contains("not valid JSON"));
    }

    #[test]
    fn splits_command_lines() {
        assert_eq!(
            split_command_line(r#"a "b c" 'd e' f\ g"#),
            Ok(vec!["a".into(), "b c".into(), "d e".into(), "f g".into()])
        );
        assert_eq!(
            split_command_line("x ''"),
            Ok(vec!["x".into(), String::new()])
        );
    }
}
