//! What a newcomer meets first, run as they would run it: `mcpoc init` (with the twins,
//! and from a Claude Desktop configuration in a made-up home), `schema pull` and `check`
//! on the result; `completions` and `man`; `check --format github|sarif`; and `fix`,
//! including `convert` + `fix` on the seed's three JSON deployments (`tests/seed/`),
//! whose remaining diagnostics are snapshotted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory of the `mcpoc` under test, first on `PATH`: the twins' `server` blocks
/// start `mcpoc twin ...`.
fn path_with_mcpoc() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_mcpoc"));
    let dir = bin.parent().map(Path::to_path_buf).unwrap_or_default();
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", dir.display())
}

fn mcpoc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpoc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PATH", path_with_mcpoc())
        .output()
        .expect("mcpoc runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A workspace holding the twins' pulled schemas and `files`.
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempdir();
    let schemas = dir.path().join(".mcpo/schemas");
    std::fs::create_dir_all(&schemas).expect("mkdir");
    for twin in ["opnsense", "aws", "docker", "kubernetes"] {
        let from = repo().join(format!("tests/check/.mcpo/schemas/{twin}.json"));
        std::fs::copy(&from, schemas.join(format!("{twin}.json"))).expect("copy schema");
    }
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

#[test]
fn init_then_pull_then_check_is_clean() {
    let dir = tempdir();
    let ws = dir.path().join("infra");
    let out = mcpoc(dir.path(), &["init", "infra"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("mcpoc schema pull"),
        "{}",
        stdout(&out)
    );
    let main = std::fs::read_to_string(ws.join("main.mcpo")).unwrap_or_default();
    for twin in ["opnsense", "aws", "docker", "kubernetes"] {
        assert!(main.contains(&format!("server \"{twin}\"")), "{main}");
    }
    assert!(ws.join(".gitignore").is_file());
    // A second init refuses to touch the workspace.
    let again = mcpoc(dir.path(), &["init", "infra"]);
    assert_eq!(code(&again), 2, "{}", stderr(&again));
    let pull = mcpoc(&ws, &["schema", "pull"]);
    assert_eq!(code(&pull), 0, "{}", stderr(&pull));
    let check = mcpoc(&ws, &["check"]);
    assert_eq!(code(&check), 0, "{}", stderr(&check));
    assert_eq!(stderr(&check), "");
    let fmt = mcpoc(&ws, &["fmt", "--check"]);
    assert_eq!(
        code(&fmt),
        0,
        "init writes formatted source: {}",
        stdout(&fmt)
    );
}

#[test]
fn init_from_discovery_declares_the_claude_desktop_servers() {
    let home = tempdir();
    let config = home.path().join(".config/Claude");
    std::fs::create_dir_all(&config).expect("mkdir");
    let mcpoc_bin = env!("CARGO_BIN_EXE_mcpoc");
    let claude = serde_json::json!({
        "mcpServers": {
            "cloud": {
                "command": mcpoc_bin,
                "args": ["twin", "aws"],
                "env": { "TWIN_TOKEN": "not-a-real-secret-but-never-written" }
            }
        }
    });
    std::fs::write(
        config.join("claude_desktop_config.json"),
        claude.to_string(),
    )
    .expect("write");
    let ws = tempdir();
    let run = |args: &[&str]| {
        Command::new(mcpoc_bin)
            .args(args)
            .current_dir(ws.path())
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", path_with_mcpoc())
            .env("NO_COLOR", "1")
            .env("TWIN_TOKEN", "from-the-environment")
            .output()
            .expect("mcpoc runs")
    };
    let out = run(&["init", "--from-discovery"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let main = std::fs::read_to_string(ws.path().join("main.mcpo")).unwrap_or_default();
    assert!(main.contains("server \"cloud\""), "{main}");
    assert!(main.contains("# from claude-desktop"), "{main}");
    assert!(main.contains("TWIN_TOKEN = env(\"TWIN_TOKEN\")"), "{main}");
    assert!(!main.contains("never-written"), "{main}");
    let pull = run(&["schema", "pull"]);
    assert_eq!(code(&pull), 0, "{}", stderr(&pull));
    assert!(ws.path().join(".mcpo/schemas/cloud.json").is_file());
    let check = run(&["check"]);
    assert_eq!(code(&check), 0, "{}", stderr(&check));
    // With nothing to discover, init says where it looked and writes nothing.
    let empty_home = tempdir();
    let ws2 = tempdir();
    let none = Command::new(mcpoc_bin)
        .args(["init", "--from-discovery"])
        .current_dir(ws2.path())
        .env_clear()
        .env("HOME", empty_home.path())
        .output()
        .expect("mcpoc runs");
    assert_eq!(code(&none), 2);
    assert!(
        stderr(&none).contains("Claude Desktop"),
        "{}",
        stderr(&none)
    );
    assert!(!ws2.path().join("main.mcpo").exists());
}

#[test]
fn completions_and_man_pages_come_from_the_cli_definition() {
    let dir = tempdir();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = mcpoc(dir.path(), &["completions", shell]);
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["check", "apply", "fix", "init", "auto-approve"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bad = mcpoc(dir.path(), &["completions", "tcsh"]);
    assert_eq!(code(&bad), 2);
    // The bash script is valid bash that registers the completion.
    let bash = stdout(&mcpoc(dir.path(), &["completions", "bash"]));
    let file = dir.path().join("mcpoc.bash");
    std::fs::write(&file, bash).expect("write");
    if let Ok(o) = Command::new("bash")
        .arg("-c")
        .arg(format!(". {} && complete -p mcpoc", file.display()))
        .output()
    {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("mcpoc"));
    }
    let man = mcpoc(dir.path(), &["man"]);
    assert_eq!(code(&man), 0);
    let page = stdout(&man);
    assert!(
        page.starts_with(".ie") || page.contains(".TH mcpoc"),
        "{page}"
    );
    assert!(page.contains("completions"), "{page}");
    let pages = dir.path().join("man");
    let out = mcpoc(dir.path(), &["man", "--dir", "man"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for page in ["mcpoc.1", "mcpoc-check.1", "mcpoc-apply.1", "mcpoc-init.1"] {
        let text = std::fs::read_to_string(pages.join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "{page}: {text}");
    }
}

const ENUM_AND_TYPO: &str = "resource \"opnsense.firewall_rule\" \"r\" {\n  interface = \"lan\"\n  action    = \"allow\"\n}\n\nresource \"aws.vpc\" \"v\" {\n  cidr_blok = \"10.0.0.0/16\"\n}\n";

#[test]
fn check_formats_for_ci() {
    let ws = workspace(&[("main.mcpo", ENUM_AND_TYPO)]);
    let out = mcpoc(ws.path(), &["check", "--format", "github"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::error file=main.mcpo,line=3,") && l.contains("[E0202]")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::error file=main.mcpo,line=7,") && l.contains("cidr_block")),
        "{text}"
    );
    let out = mcpoc(ws.path(), &["check", "--format", "sarif"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let log: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        results.iter().any(|r| r["ruleId"] == "E0202"
            && r["locations"][0]["physicalLocation"]["region"]["startLine"] == 3),
        "{log:#}"
    );
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for r in &results {
        let i = r["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
        assert_eq!(rules.get(i).map(|rule| &rule["id"]), Some(&r["ruleId"]));
    }
}

#[test]
fn fix_applies_did_you_mean_and_dry_run_changes_nothing() {
    let source = "resource \"aws.vpc\" \"main\" {\n  cidr_blok = \"10.0.0.0/16\"\n}\n\nresource \"aws.vpc_subnt\" \"a\" {\n  vpc_id            = aws.vpc.mian.id\n  cidr_block        = cidrsubnt(aws.vpc.main.cidr_block, 8, 1)\n  availability_zone = \"us-east-1a\"\n}\n";
    let ws = workspace(&[("main.mcpo", source)]);
    let dry = mcpoc(ws.path(), &["fix", "--dry-run"]);
    let diff = stdout(&dry);
    assert!(diff.contains("--- a/main.mcpo"), "{diff}");
    assert!(diff.contains("+  cidr_block = \"10.0.0.0/16\""), "{diff}");
    assert!(
        diff.contains("+resource \"aws.vpc_subnet\" \"a\" {"),
        "{diff}"
    );
    assert!(diff.contains("aws.vpc.main.id"), "{diff}");
    assert!(diff.contains("cidrsubnet("), "{diff}");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("main.mcpo")).unwrap_or_default(),
        source,
        "--dry-run wrote the file"
    );
    let out = mcpoc(ws.path(), &["fix"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("fixed 4 problems in 1 file"),
        "{}",
        stderr(&out)
    );
    let check = mcpoc(ws.path(), &["check"]);
    assert_eq!(code(&check), 0, "{}", stderr(&check));
}

/// `mcpoc convert` + `mcpoc fix` on each of the seed's deployments: the fixed source and
/// the diagnostics left (values the seed does not give).
#[test]
fn seed_deployments_convert_and_fix() {
    let dir = repo().join("tests/seed");
    let mut templates: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    templates.retain(|p| p.to_string_lossy().ends_with(".mcpo.json"));
    templates.sort();
    assert_eq!(templates.len(), 3, "the seed has three deployments");
    for template in templates {
        let file = template
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let json = std::fs::read_to_string(&template).unwrap_or_default();
        let ws = workspace(&[(file.as_str(), json.as_str())]);
        let out = mcpoc(ws.path(), &["convert", &file]);
        assert_eq!(code(&out), 0, "{file}: {}", stderr(&out));
        // The template and its conversion would declare everything twice.
        std::fs::remove_file(ws.path().join(&file)).expect("remove the template");
        let fix = mcpoc(ws.path(), &["fix"]);
        assert_ne!(code(&fix), 2, "{file}: {}", stderr(&fix));
        let name = file.trim_end_matches(".mcpo.json");
        let fixed =
            std::fs::read_to_string(ws.path().join(format!("{name}.mcpo"))).unwrap_or_default();
        let check = mcpoc(ws.path(), &["check"]);
        let snapshot = format!(
            "--- mcpoc fix ---\n{}\n--- source after fix ---\n{fixed}\n--- mcpoc check ---\n{}",
            stderr(&fix).lines().next().unwrap_or(""),
            stderr(&check)
        );
        insta::with_settings!({ snapshot_suffix => name.to_string(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("seed", snapshot);
        });
    }
}
