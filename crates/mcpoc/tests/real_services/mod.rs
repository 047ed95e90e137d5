//! Shared helpers for the tests that run real Python MCP servers from the test-server
//! cache (`$MCPO_TEST_SERVERS/py/<venv>`, installed by `scripts/install-python-servers.sh`)
//! and the processes they talk to (moto, the stand-ins of `tests/real/`): each process is
//! started on a free port of 127.0.0.1 and killed when its handle is dropped, so a test
//! leaves nothing running, whether it passes or fails.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The test-server cache: `$MCPO_TEST_SERVERS`, else `~/.cache/mcpo-test-servers`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("MCPO_TEST_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/mcpo-test-servers")
        })
}

/// A program of a Python environment of the cache (`py/<venv>/bin/<bin>`), or `None`: the
/// test is skipped, unless `MCPO_REQUIRE_TEST_SERVERS` is set, when a missing one fails it.
pub fn venv_bin(venv: &str, bin: &str) -> Option<PathBuf> {
    let path = cache_dir().join("py").join(venv).join("bin").join(bin);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("MCPO_REQUIRE_TEST_SERVERS").is_err(),
        "{} is missing (run scripts/install-python-servers.sh)",
        path.display()
    );
    eprintln!(
        "skipped: {} is not installed (run scripts/install-python-servers.sh)",
        path.display()
    );
    None
}

/// A file of the repository's `tests/real/`.
pub fn real_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/real")
        .join(name)
        .canonicalize()
        .expect("a script of tests/real")
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A process a test started, killed (and reaped) when dropped.
pub struct Service {
    name: String,
    child: Child,
    /// Kept open: the stand-ins of `tests/real/` serve until their standard input closes.
    _stdin: Option<ChildStdin>,
    /// Its standard error.
    _log: tempfile::NamedTempFile,
    /// The port it listens on.
    pub port: u16,
}

impl Service {
    /// Starts `cmd`, which prints `PORT <n>` on a line of its standard output once it
    /// listens (the stand-ins of `tests/real/` do).
    pub fn announcing_port(name: &str, mut cmd: Command) -> Service {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(log.path()).unwrap_or_default();
            panic!("{name} did not say its port ({read:?}, {line:?}):\n{err}");
        };
        Service {
            name: name.to_string(),
            child,
            _stdin: stdin,
            _log: log,
            port,
        }
    }

    /// Starts `cmd`, told to listen on `port`, and waits until the port accepts
    /// connections (at most `within`).
    pub fn on_port(name: &str, mut cmd: Command, port: u16, within: Duration) -> Service {
        // Its log goes to a file: a pipe nobody reads would block it once full.
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let err = std::fs::read_to_string(log.path()).unwrap_or_default();
                panic!("{name} exited ({status}) before listening on {port}:\n{err}");
            }
            if start.elapsed() > within {
                let _ = child.kill();
                let _ = child.wait();
                let err = std::fs::read_to_string(log.path()).unwrap_or_default();
                panic!("{name} did not listen on {port} within {within:?}:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Service {
            name: name.to_string(),
            child,
            _stdin: None,
            _log: log,
            port,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("stopping {}: {e}", self.name);
        }
        let _ = self.child.wait();
    }
}

/// Whether the API on `socket` answers `GET /_ping` with OK.
pub fn ping(socket: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.") && answer.contains(" 200 ")
}

/// The body of `GET /` on 127.0.0.1:`port`, once it answers 200 (within 20 seconds).
#[track_caller]
pub fn http_body(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            if s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .is_ok()
            {
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.") && answer.contains(" 200 ") {
                    return answer
                        .split_once("\r\n\r\n")
                        .map(|(_, body)| body.to_string())
                        .unwrap_or_default();
                }
                last = answer;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("nothing answers 200 on 127.0.0.1:{port}; last answer: {last:?}");
}

/// One test at a time on the podman engine, across test processes too (the engine is
/// the machine's). `mcp-server-docker`'s `list_containers` lists the engine's containers and
/// then inspects each one; a container another test removes in between makes the whole
/// call fail ("Error executing tool list_containers"), which mcpoc rightly reports as a
/// refresh that could not be done. So the tests take turns rather than race each other's
/// containers: each holds an exclusive lock on one file while it runs.
pub fn engine_turn() -> std::fs::File {
    let path = std::env::temp_dir().join("mcpo-podman-engine.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .expect("the engine's lock file opens");
    file.lock().expect("the engine's lock is taken");
    file
}
