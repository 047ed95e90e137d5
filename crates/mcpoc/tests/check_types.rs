//! `mcpoc check` runs the type checker: it finds the workspace root (`.mcpo` or
//! `mcpo.toml`), reads the pulled schemas there and reports names and types, in both
//! output formats; `--syntax-only` skips it.

use std::path::Path;
use std::process::{Command, Output};

fn mcpoc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpoc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("mcpoc runs")
}

/// A workspace with the twins' pulled aws schema and `main.mcpo` in `app/`.
fn workspace(main: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let schemas = dir.path().join(".mcpo/schemas");
    std::fs::create_dir_all(&schemas).expect("mkdir");
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/check/.mcpo/schemas/aws.json");
    std::fs::copy(src, schemas.join("aws.json")).expect("copy schema");
    std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
    std::fs::write(dir.path().join("app/main.mcpo"), main).expect("write");
    dir
}

const BAD: &str = "resource \"aws.vpc\" \"main\" {\n  cidr = \"10.0.0.0/16\"\n}\n";
const GOOD: &str = "resource \"aws.vpc\" \"main\" {\n  cidr_block = \"10.0.0.0/16\"\n}\n";

#[test]
fn reports_type_errors_from_the_nearest_workspace_root() {
    let ws = workspace(BAD);
    // Run from the sub-directory: the root with `.mcpo` is found above it.
    let out = mcpoc(&ws.path().join("app"), &["check", "."]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("[E0103] Error: `aws.vpc` has no attribute `cidr`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `cidr_block`?"), "{stderr}");
    assert!(
        stderr.contains("[E0200] Error: missing required attribute `cidr_block`"),
        "{stderr}"
    );

    let json = mcpoc(&ws.path().join("app"), &["check", ".", "--format", "json"]);
    let text = String::from_utf8_lossy(&json.stdout);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["code"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(codes, vec!["E0200", "E0103"], "{text}");
}

#[test]
fn clean_program_and_syntax_only() {
    let ws = workspace(GOOD);
    let out = mcpoc(ws.path(), &["check", "app"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = workspace(BAD);
    let out = mcpoc(bad.path(), &["check", "--syntax-only", "app"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn convert_writes_source_that_checks_clean() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schemas = dir.path().join(".mcpo/schemas");
    std::fs::create_dir_all(&schemas).expect("mkdir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for s in ["aws", "docker", "kubernetes", "opnsense"] {
        std::fs::copy(
            repo.join(format!("tests/check/.mcpo/schemas/{s}.json")),
            schemas.join(format!("{s}.json")),
        )
        .expect("copy schema");
    }
    std::fs::copy(
        repo.join("tests/convert/store.mcpo.json"),
        dir.path().join("store.mcpo.json"),
    )
    .expect("copy template");
    let out = mcpoc(dir.path(), &["convert", "store.mcpo.json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = std::fs::read_to_string(dir.path().join("store.mcpo")).expect("written");
    assert!(
        source.contains("resource \"docker.container\" \"app\""),
        "{source}"
    );
    let check = mcpoc(dir.path(), &["check", "store.mcpo"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{source}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let fmt = mcpoc(dir.path(), &["fmt", "--check", "store.mcpo"]);
    assert_eq!(fmt.status.code(), Some(0), "converted source is formatted");
}

#[test]
fn deployment_templates_are_checked_as_their_converted_source() {
    let ws = workspace(GOOD);
    let app = ws.path().join("app");
    std::fs::write(
        app.join("shop.mcpo.json"),
        r#"{
  "name": "shop",
  "resources": [
    { "server": "aws", "type": "vpc", "name": "edge", "properties": { "cidrBlock": "10.1.0.0/16", "enableDnsHostnames": "maybe" } }
  ]
}
"#,
    )
    .expect("write");
    std::fs::write(app.join("broken.mcpo.json"), "{\"name\": 1").expect("write");
    let out = mcpoc(&app, &["check", "."]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let redacted = stderr.replace(&*ws.path().to_string_lossy(), "<ws>");
    insta::assert_snapshot!("deployment_templates_are_checked", redacted);
    // `fmt` leaves templates alone: they are JSON, not mcpo source.
    let out = mcpoc(&app, &["fmt", "--check", "."]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
