//! `mcpoc schema pull`, `mcpoc servers` and the schema checks of `mcpoc check` (E0301
//! missing, E0302 stale, E0303 invalid server block), run as a user runs them, against
//! the twins and the npm reference servers.

use std::path::Path;
use std::process::{Command, Output};

const MCPOC: &str = env!("CARGO_BIN_EXE_mcpoc");

fn mcpoc(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(MCPOC);
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("mcpoc runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, body) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, body).expect("write");
    }
    dir
}

fn twin_block(name: &str, kind: &str, extra: &str) -> String {
    format!(
        "server \"{name}\" {{\n  command = \"{MCPOC}\"\n  args    = [\"twin\", \"{kind}\"{extra}]\n}}\n"
    )
}

/// Replaces the binary's path (which differs per machine) in a snapshot.
fn portable(s: &str) -> String {
    s.replace(MCPOC, "MCPOC")
}

#[test]
fn missing_schema_is_e0301() {
    let ws = workspace(&[("main.mcpo", &twin_block("aws", "aws", ""))]);
    let out = mcpoc(ws.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("e0301_missing_schema", portable(&text(&out.stderr)));
    // --syntax-only never looks at schemas.
    assert_eq!(
        mcpoc(ws.path(), &["check", "--syntax-only"], &[])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn pull_then_check_is_clean_and_a_changed_declaration_is_e0302() {
    let ws = workspace(&[(
        "main.mcpo",
        &format!(
            "{}{}",
            twin_block("aws", "aws", ""),
            "server \"opnsense\" {\n  command = \"SELF\"\n  args    = [\"twin\", \"opnsense\"]\n  env     = { OPNSENSE_TOKEN = env(\"MCPO_TEST_TOKEN\") }\n}\n"
                .replace("SELF", MCPOC)
        ),
    )]);
    let pull = mcpoc(
        ws.path(),
        &["schema", "pull"],
        &[("MCPO_TEST_TOKEN", "s3cret")],
    );
    assert_eq!(pull.status.code(), Some(0), "{}", text(&pull.stderr));
    let stdout = text(&pull.stdout);
    assert!(
        stdout.contains("pulled aws: 63 tools, 12 resource templates"),
        "{stdout}"
    );
    assert!(stdout.contains("pulled opnsense: "), "{stdout}");
    let schema = std::fs::read_to_string(ws.path().join(".mcpo/schemas/opnsense.json"))
        .expect("schema file");
    assert!(
        schema.contains("\"OPNSENSE_TOKEN\""),
        "env names are recorded"
    );
    assert!(!schema.contains("s3cret"), "env values never are");
    let lock = std::fs::read_to_string(ws.path().join("mcpo.lock")).expect("lock file");
    assert!(
        lock.contains("[servers.aws]") && lock.contains("schema_hash = \"sha256:"),
        "{lock}"
    );
    assert!(!lock.contains("s3cret"));

    let check = mcpoc(ws.path(), &["check"], &[]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));

    // Pulling again gives the same files (apart from the pull time).
    let again = mcpoc(ws.path(), &["schema", "pull", "--server", "aws"], &[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(ws.path().join("mcpo.lock")).ok(),
        Some(lock)
    );

    let main = std::fs::read_to_string(ws.path().join("main.mcpo")).expect("main");
    std::fs::write(
        ws.path().join("main.mcpo"),
        main.replace("\"twin\", \"aws\"", "\"twin\", \"aws\", \"--seed\", \"3\""),
    )
    .expect("edit");
    let stale = mcpoc(ws.path(), &["check"], &[]);
    assert_eq!(stale.status.code(), Some(1));
    insta::assert_snapshot!("e0302_stale_schema", portable(&text(&stale.stderr)));
}

#[test]
fn invalid_server_blocks_are_e0303() {
    let ws = workspace(&[(
        "main.mcpo",
        "server \"both\" {\n  command = \"x\"\n  url     = \"http://127.0.0.1:1/mcp\"\n}\n\nserver \"computed\" {\n  command = upper(var.cmd)\n}\n",
    )]);
    let out = mcpoc(ws.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("e0303_invalid_server_block", text(&out.stderr));
}

#[test]
fn servers_lists_every_source_with_health() {
    let ws = workspace(&[
        ("main.mcpo", &twin_block("aws", "aws", "")),
        (
            "mcpo.toml",
            &format!(
                "[servers.docker]\ncommand = \"{MCPOC}\"\nargs = [\"twin\", \"docker\"]\n\n[servers.aws]\nurl = \"http://shadowed.invalid/mcp\"\n"
            ),
        ),
        (
            ".cursor/mcp.json",
            "{\"mcpServers\": {\"ghost\": {\"command\": \"mcpo-no-such-server\"}}}",
        ),
        (
            "claude.json",
            "{\"mcpServers\": {\"k8s\": {\"url\": \"http://127.0.0.1:9/mcp\"}}}",
        ),
    ]);
    let claude = ws.path().join("claude.json").display().to_string();
    let env = [
        ("MCPO_CLAUDE_CONFIG", claude.as_str()),
        ("MCPO_SERVER_OPNSENSE", &format!("{MCPOC} twin opnsense")),
    ];
    let out = mcpoc(ws.path(), &["servers", "--format", "json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows: Vec<(String, String)> = doc["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["source"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("aws", "server-block"),
        ("docker", "mcpo.toml"),
        ("opnsense", "env"),
        ("k8s", "claude-desktop"),
        ("ghost", "cursor"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(rows, expected);
    assert_eq!(doc["servers"][0]["shadowed"][0]["source"], "mcpo.toml");

    let out = mcpoc(ws.path(), &["servers", "--health"], &env);
    assert_eq!(out.status.code(), Some(1), "ghost and k8s are down");
    let stdout = text(&out.stdout);
    let header: Vec<&str> = stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "SOURCE",
            "TRANSPORT",
            "TARGET",
            "PROTOCOL",
            "TOOLS",
            "RTT"
        ],
        "{stdout}"
    );
    let aws_row = stdout
        .lines()
        .find(|l| l.starts_with("aws "))
        .unwrap_or_default()
        .to_string();
    assert!(
        aws_row.contains("2026-07-28") && aws_row.contains(" 63 "),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "error: server `ghost`: cannot start: command `mcpo-no-such-server` not found"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("error: server `k8s`: cannot connect to http://127.0.0.1:9/mcp"),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: `aws` is also declared in mcpo.toml"),
        "{stdout}"
    );
}

fn npm_entry(package: &str) -> Option<String> {
    let base = std::env::var_os("MCPO_TEST_SERVERS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/mcpo-test-servers")
        });
    let entry = base
        .join("node_modules/@modelcontextprotocol")
        .join(package)
        .join("dist/index.js");
    if entry.is_file() {
        return Some(entry.display().to_string());
    }
    assert!(
        std::env::var("MCPO_REQUIRE_TEST_SERVERS").is_err(),
        "{} is missing (run scripts/install-test-servers.sh)",
        entry.display()
    );
    eprintln!(
        "skipped: {} is not installed (run scripts/install-test-servers.sh)",
        entry.display()
    );
    None
}

#[test]
fn pull_captures_the_npm_reference_servers() {
    let (Some(memory), Some(everything)) =
        (npm_entry("server-memory"), npm_entry("server-everything"))
    else {
        return;
    };
    let ws = workspace(&[(
        "main.mcpo",
        &format!(
            "server \"memory\" {{\n  command = \"node\"\n  args    = [\"{memory}\"]\n  env     = {{ MEMORY_FILE_PATH = \"${{env(\"TMPDIR_FOR_TEST\")}}/memory.jsonl\" }}\n}}\n\nserver \"everything\" {{\n  command = \"node\"\n  args    = [\"{everything}\", \"stdio\"]\n}}\n"
        ),
    )]);
    let tmp = ws.path().display().to_string();
    let out = mcpoc(ws.path(), &["schema", "pull"], &[("TMPDIR_FOR_TEST", &tmp)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(ws.path().join(format!(".mcpo/schemas/{name}.json")))
                .expect("schema"),
        )
        .expect("json")
    };
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["tools"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let memory = read("memory");
    assert_eq!(
        names(&memory),
        [
            "add_observations",
            "create_entities",
            "create_relations",
            "delete_entities",
            "delete_observations",
            "delete_relations",
            "open_nodes",
            "read_graph",
            "search_nodes"
        ]
    );
    assert_eq!(
        memory["identity"]["env"],
        serde_json::json!(["MEMORY_FILE_PATH"])
    );
    let everything = read("everything");
    let tools = names(&everything);
    assert!(
        tools.contains(&"echo".to_string())
            && tools.contains(&"get-structured-content".to_string()),
        "{tools:?}"
    );
    let structured = everything["tools"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "get-structured-content"))
        .cloned();
    assert!(structured.is_some_and(|t| t["outputSchema"].is_object()));
    assert_eq!(
        mcpoc(ws.path(), &["check"], &[("TMPDIR_FOR_TEST", &tmp)])
            .status
            .code(),
        Some(0)
    );
}
