//! The `mcpoc` binary end to end: exit codes, output formats and file handling of
//! `check`, `fmt` and `explain`, run as a user would run them.

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

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn workspace(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn clean_workspace_exits_zero_and_prints_nothing() {
    let ws = workspace(&[("main.mcpo", b"locals {\n  a = 1\n}\n")]);
    let out = mcpoc(ws.path(), &["check", "--syntax-only", "."]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn syntax_error_exits_one_with_a_report() {
    let ws = workspace(&[("main.mcpo", b"locals {\n  a = = 1\n}\n")]);
    let out = mcpoc(ws.path(), &["check", "--syntax-only", "main.mcpo"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("main.mcpo:2:"), "{err}");
    assert!(err.contains("Error"), "{err}");
    assert!(err.ends_with("1 error\n"), "{err}");
}

#[test]
fn json_format_is_one_document_with_one_based_positions() {
    let ws = workspace(&[("main.mcpo", b"locals {\n  a = = 1\n}\n")]);
    let out = mcpoc(ws.path(), &["check", "--format", "json", "."]);
    assert_eq!(code(&out), 1);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(doc["version"], 1);
    let diags = doc["diagnostics"].as_array().expect("array");
    assert_eq!(diags.len(), 1, "{doc:#}");
    let d = &diags[0];
    for key in [
        "code",
        "severity",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "message",
    ] {
        assert!(d.get(key).is_some(), "missing {key} in {d}");
    }
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "main.mcpo");
    assert_eq!(d["line"], 2);
    assert_eq!(d["column"], 7);
    assert_eq!(stderr(&out), "", "JSON mode prints nothing for people");
}

#[test]
fn directories_are_searched_for_all_source_extensions() {
    let ws = workspace(&[
        ("a.mcpo", b"x = = 1\n"),
        ("sub/b.tf", b"y = = 2\n"),
        ("sub/c.hcl", b"z = = 3\n"),
        ("sub/ignored.txt", b"w = = 4\n"),
        (".mcpo/cache.mcpo", b"v = = 5\n"),
        ("target/gen.mcpo", b"u = = 6\n"),
    ]);
    let out = mcpoc(ws.path(), &["check", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    let files: Vec<&str> = doc["diagnostics"]
        .as_array()
        .expect("array")
        .iter()
        .map(|d| d["file"].as_str().expect("file"))
        .collect();
    assert_eq!(files, ["a.mcpo", "sub/b.tf", "sub/c.hcl"]);
}

#[test]
fn missing_path_is_an_io_error() {
    let ws = workspace(&[]);
    let out = mcpoc(ws.path(), &["check", "does-not-exist.mcpo"]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: cannot read `does-not-exist.mcpo`: no such file or directory\n"
    );
}

#[test]
fn unsupported_file_is_a_usage_error() {
    let ws = workspace(&[("notes.txt", b"hello")]);
    let out = mcpoc(ws.path(), &["check", "notes.txt"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not an mcpo source file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_subcommand_and_flag_are_usage_errors() {
    let ws = workspace(&[]);
    assert_eq!(code(&mcpoc(ws.path(), &["bogus"])), 2);
    assert_eq!(code(&mcpoc(ws.path(), &["check", "--bogus"])), 2);
    assert_eq!(code(&mcpoc(ws.path(), &["check", "--format", "xml"])), 2);
}

#[test]
fn version_and_help_exit_zero() {
    let ws = workspace(&[]);
    let v = mcpoc(ws.path(), &["--version"]);
    assert_eq!(code(&v), 0);
    assert_eq!(stdout(&v), format!("mcpoc {}\n", env!("CARGO_PKG_VERSION")));
    let h = mcpoc(ws.path(), &["help"]);
    assert_eq!(code(&h), 0);
    for cmd in ["check", "fmt", "explain", "twin"] {
        assert!(stdout(&h).contains(cmd), "help lists {cmd}");
    }
}

#[test]
fn invalid_utf8_is_e0012_at_the_bad_byte() {
    let ws = workspace(&[("bad.mcpo", b"a = \"ok\"\nb = \"\xff\"\n")]);
    let out = mcpoc(ws.path(), &["check", "--format", "json", "bad.mcpo"]);
    assert_eq!(code(&out), 1);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    let d = &doc["diagnostics"][0];
    assert_eq!(d["code"], "E0012");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(6))
    );
    let human = mcpoc(ws.path(), &["check", "bad.mcpo"]);
    insta::assert_snapshot!("invalid_utf8", stderr(&human));
}

#[test]
fn explain_prints_known_codes_and_rejects_unknown_ones() {
    let ws = workspace(&[]);
    let out = mcpoc(ws.path(), &["explain", "e0002"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).starts_with("E0002: unclosed delimiter\n"));
    let list = mcpoc(ws.path(), &["explain"]);
    assert_eq!(
        stdout(&list).lines().count(),
        mcpo_diagnostics::codes::ALL.len()
    );
    let bad = mcpoc(ws.path(), &["explain", "E9999"]);
    assert_eq!(code(&bad), 2);
}

#[test]
fn fmt_check_lists_unformatted_files_and_changes_nothing() {
    let messy = b"locals {\n    a = 1\n    bbb = 2\n}\n";
    let ws = workspace(&[("messy.mcpo", messy), ("tidy.mcpo", b"x = 1\n")]);
    let out = mcpoc(ws.path(), &["fmt", "--check", "."]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(stdout(&out), "messy.mcpo\n");
    assert_eq!(
        std::fs::read(ws.path().join("messy.mcpo")).expect("read"),
        messy
    );
}

#[test]
fn fmt_rewrites_in_place_and_then_check_passes() {
    let ws = workspace(&[("messy.mcpo", b"locals {\n    a = 1\n    bbb = 2\n}\n")]);
    let out = mcpoc(ws.path(), &["fmt", "."]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "messy.mcpo\n");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("messy.mcpo")).expect("read"),
        "locals {\n  a   = 1\n  bbb = 2\n}\n"
    );
    let again = mcpoc(ws.path(), &["fmt", "--check", "."]);
    assert_eq!(code(&again), 0);
    assert_eq!(stdout(&again), "");
}

#[test]
fn fmt_refuses_files_with_syntax_errors_and_leaves_them_alone() {
    let broken = b"locals {\n    a = = 1\n}\n";
    let ws = workspace(&[("broken.mcpo", broken)]);
    let out = mcpoc(ws.path(), &["fmt", "."]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("broken.mcpo:2:"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(ws.path().join("broken.mcpo")).expect("read"),
        broken
    );
}

#[test]
fn fmt_stdin_writes_stdout() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpoc"))
        .args(["fmt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"x    =   1\n").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), "x = 1\n");
}
