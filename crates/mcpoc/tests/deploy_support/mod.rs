//! Shared helpers for the plan/apply tests: a temporary workspace copied from a fixture
//! under `tests/plan/<case>/`, `mcpoc` run in it as a user runs it (with the binary under
//! test first on `PATH`, so the fixtures' `server` blocks start `mcpoc twin ...` like the
//! quick start does), and the twins' resources counted through their own `T.list` tools.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub const MCPOC: &str = env!("CARGO_BIN_EXE_mcpoc");

/// The twin kinds.
pub const KINDS: [&str; 4] = ["opnsense", "aws", "docker", "kubernetes"];

/// `tests/plan/` in the repository.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/plan")
}

/// A temporary workspace.
pub struct Ws {
    dir: tempfile::TempDir,
}

/// Output of one `mcpoc` run, with its streams as text.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Both streams, for assertion messages.
    pub fn both(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture dir").flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy fixture file");
        }
    }
}

/// `PATH` with the directory of the binary under test first.
pub fn path_with_mcpoc() -> String {
    let bin_dir = Path::new(MCPOC)
        .parent()
        .expect("the binary has a directory");
    match std::env::var("PATH") {
        Ok(p) if !p.is_empty() => format!("{}:{p}", bin_dir.display()),
        _ => bin_dir.display().to_string(),
    }
}

impl Ws {
    /// A copy of `tests/plan/<case>/` in a new temporary directory.
    pub fn fixture(case: &str) -> Ws {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&fixtures_dir().join(case), dir.path());
        Ws { dir }
    }

    /// An empty workspace.
    pub fn empty() -> Ws {
        Ws {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A copy of a directory of the repository (e.g. `examples/quickstart`).
    pub fn copy_of(repo_relative: &str) -> Ws {
        let dir = tempfile::tempdir().expect("temp dir");
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(repo_relative);
        copy_dir(&from, dir.path());
        // A copied example must not bring a state along.
        let _ = std::fs::remove_dir_all(dir.path().join(".mcpo/state"));
        let _ = std::fs::remove_dir_all(dir.path().join(".mcpo/twins"));
        Ws { dir }
    }

    /// The workspace directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command running `mcpoc args...` in the workspace.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(MCPOC);
        cmd.args(args)
            .current_dir(self.path())
            .env("PATH", path_with_mcpoc())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `mcpoc args...` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("mcpoc runs"))
    }

    /// Runs `mcpoc args...` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("mcpoc runs"))
    }

    /// Starts `mcpoc args...` without waiting (stdout and stderr piped).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mcpoc")
    }

    /// `mcpoc schema pull`, which must succeed.
    pub fn pull(&self) {
        self.run(&["schema", "pull"]).expect_code(0);
    }

    /// `mcpoc apply --auto-approve`, which must succeed; returns its run.
    pub fn apply_ok(&self) -> Run {
        let run = self.run(&["apply", "--auto-approve"]);
        run.expect_code(0);
        run
    }

    /// Reads a workspace file.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).expect("read workspace file")
    }

    /// Writes a workspace file.
    pub fn write(&self, name: &str, text: &str) {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write workspace file");
    }

    /// Replaces `from` (which must occur) by `to` in a workspace file.
    #[track_caller]
    pub fn edit(&self, name: &str, from: &str, to: &str) {
        let text = self.read(name);
        assert!(text.contains(from), "`{from}` not found in {name}");
        self.write(name, &text.replacen(from, to, 1));
    }

    /// The twin state directory of `kind`.
    pub fn twin_dir(&self, kind: &str) -> PathBuf {
        self.path().join(".mcpo/twins").join(kind)
    }

    /// Twin processes running in this workspace (started by `mcpoc`, so their working
    /// directory is the workspace).
    pub fn twin_processes(&self) -> Vec<u32> {
        let ws = std::fs::canonicalize(self.path()).unwrap_or_else(|_| self.path().to_path_buf());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let is_twin = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| c.split(|b| *b == 0).any(|arg| arg == b"twin"))
                    .unwrap_or(false);
                is_twin && std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == ws)
            })
            .collect()
    }

    /// Waits until no twin process holds the state directories any more (a twin started
    /// by a killed `mcpoc` exits when its standard input closes; one that was still
    /// starting takes the lock first).
    pub fn wait_twins_released(&self) {
        let start = Instant::now();
        while !self.twin_processes().is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "twins still running in the workspace after 20s: {:?}",
                self.twin_processes()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        for kind in KINDS {
            let lock = self.twin_dir(kind).join(format!("{kind}.lock"));
            let Ok(file) = std::fs::OpenOptions::new().write(true).open(&lock) else {
                continue;
            };
            let start = Instant::now();
            loop {
                match file.try_lock() {
                    Ok(()) => {
                        let _ = file.unlock();
                        break;
                    }
                    Err(_) => {
                        assert!(
                            start.elapsed() < Duration::from_secs(20),
                            "the {kind} twin still holds its state directory after 20s"
                        );
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }
    }

    /// Every resource each twin holds: `"<kind>.<type>" -> ids`, read through the twins'
    /// own `T.list` tools (a twin is started on each state directory that exists).
    pub fn twin_resources(&self) -> BTreeMap<String, Vec<String>> {
        self.twin_resources_under(&self.path().join(".mcpo/twins"))
    }

    /// [`Ws::twin_resources`] of twins keeping their state under `twins/<kind>` (twins
    /// that several workspaces share).
    pub fn twin_resources_under(&self, twins: &Path) -> BTreeMap<String, Vec<String>> {
        self.wait_twins_released();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut out = BTreeMap::new();
            for kind in KINDS {
                let dir = twins.join(kind);
                if !dir.is_dir() {
                    continue;
                }
                let dir_arg = dir.display().to_string();
                let twin = crate::twins_support::start(
                    kind,
                    crate::twins_support::Transport::Stdio,
                    &["--state-dir", &dir_arg],
                )
                .await;
                let lists: Vec<String> = twin
                    .tools()
                    .keys()
                    .filter(|t| t.ends_with(".list"))
                    .cloned()
                    .collect();
                for tool in lists {
                    let result = twin.ok(&tool, serde_json::json!({})).await;
                    let ids: Vec<String> = result
                        .get("items")
                        .and_then(Value::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|i| i.get("id").and_then(Value::as_str))
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    if !ids.is_empty() {
                        let ty = tool.trim_end_matches(".list");
                        out.insert(format!("{kind}.{ty}"), ids);
                    }
                }
                twin.stop().await;
            }
            out
        })
    }

    /// Calls `tool` with `args` on the `kind` twin of this workspace, as someone changing
    /// things outside mcpo would; returns the structured result.
    pub fn twin_call(&self, kind: &str, tool: &str, args: Value) -> Value {
        self.wait_twins_released();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let dir_arg = self.twin_dir(kind).display().to_string();
            let twin = crate::twins_support::start(
                kind,
                crate::twins_support::Transport::Stdio,
                &["--state-dir", &dir_arg],
            )
            .await;
            let out = twin.ok(tool, args).await;
            twin.stop().await;
            out
        })
    }

    /// How many resources of each `"<kind>.<type>"` the twins hold.
    pub fn twin_counts(&self) -> BTreeMap<String, usize> {
        self.twin_counts_under(&self.path().join(".mcpo/twins"))
    }

    /// [`Ws::twin_counts`] of twins keeping their state under `twins/<kind>`.
    pub fn twin_counts_under(&self, twins: &Path) -> BTreeMap<String, usize> {
        self.twin_resources_under(twins)
            .into_iter()
            .map(|(k, ids)| (k, ids.len()))
            .collect()
    }

    /// `mcpoc state list`: the addresses in the state.
    pub fn state_addresses(&self) -> Vec<String> {
        let run = self.run(&["state", "list"]);
        run.expect_code(0);
        run.stdout.lines().map(str::to_string).collect()
    }
}

/// Counts as a map literal: `counts(&[("aws.vpc", 1)])`.
pub fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

/// The start command of an npm server of the test-server cache, or `None` (the test is
/// skipped, unless `MCPO_REQUIRE_TEST_SERVERS` is set).
pub fn npm_server(bin: &str) -> Option<String> {
    let base = std::env::var_os("MCPO_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/mcpo-test-servers")
        });
    let path = base.join("node_modules/.bin").join(bin);
    if path.exists() {
        return Some(path.display().to_string());
    }
    assert!(
        std::env::var("MCPO_REQUIRE_TEST_SERVERS").is_err(),
        "{} is missing (run scripts/install-test-servers.sh)",
        path.display()
    );
    eprintln!(
        "skipped: {} is not installed (run scripts/install-test-servers.sh)",
        path.display()
    );
    None
}
