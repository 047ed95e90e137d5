//! A small LSP client for tests: starts `mcpoc lsp` as a child process and speaks
//! JSON-RPC with Content-Length framing over its stdin and stdout.

#![allow(dead_code, reason = "each test file uses part of the client")]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// How long any one answer may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A running `mcpoc lsp` and what it sent that nobody has looked at yet.
pub struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: u64,
    /// Notifications and server requests received while waiting for something else.
    pub backlog: Vec<Value>,
    /// The workspace root.
    pub root: PathBuf,
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The `file://` URI of a path.
pub fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

impl Client {
    /// Starts the server and initializes it with `root` as the workspace folder; waits
    /// for the `initialize` response (messages sent before it may be dropped).
    pub fn start(root: &Path) -> Client {
        Client::start_with(root, Value::Null)
    }

    /// [`Client::start`] with `initializationOptions`.
    pub fn start_with(root: &Path, options: Value) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcpoc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mcpoc lsp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(m) = read_message(&mut r) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let mut c = Client {
            child,
            stdin,
            rx,
            next_id: 0,
            backlog: Vec::new(),
            root: root.to_path_buf(),
        };
        let root_uri = uri(root);
        let init = c.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root_uri,
                "workspaceFolders": [{"uri": root_uri, "name": "ws"}],
                "capabilities": {},
                "initializationOptions": options,
            }),
        );
        assert!(init["capabilities"].is_object(), "initialize: {init}");
        c.notify("initialized", json!({}));
        c
    }

    fn send(&mut self, msg: &Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    /// Sends `body` as one well-framed message, whatever it holds.
    pub fn send_raw(&mut self, body: &[u8]) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).expect("write");
        self.stdin.write_all(body).expect("write");
        self.stdin.flush().expect("flush");
    }

    /// Writes `bytes` to the server's input as they are (no framing added).
    pub fn send_raw_bytes(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write");
        self.stdin.flush().expect("flush");
    }

    /// Waits for any message satisfying `pred` (looking at the backlog first).
    pub fn wait_message(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self
                .recv(deadline)
                .unwrap_or_else(|| panic!("no such message arrived; backlog: {:?}", self.backlog));
            if pred(&msg) {
                return msg;
            }
            self.backlog.push(msg);
        }
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response; returns `result` (panics on an error
    /// response).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let resp = self.request_raw(method, params);
        assert!(resp.get("error").is_none(), "{method} failed: {resp}");
        resp["result"].clone()
    }

    /// Sends a request and waits for its whole response message.
    pub fn request_raw(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self
                .recv(deadline)
                .unwrap_or_else(|| panic!("no answer to {method}"));
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return msg;
            }
            self.backlog.push(msg);
        }
    }

    fn recv(&mut self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.rx.recv_timeout(left).ok()
    }

    /// Waits for a notification `method` whose params satisfy `pred` (looking at the
    /// backlog first); returns its params.
    pub fn wait_for(&mut self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self
            .backlog
            .iter()
            .position(|m| m["method"] == method && pred(&m["params"]))
        {
            return self.backlog.remove(i)["params"].clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self
                .recv(deadline)
                .unwrap_or_else(|| panic!("no {method} arrived; backlog: {:?}", self.backlog));
            if msg["method"] == method && pred(&msg["params"]) {
                return msg["params"].clone();
            }
            self.backlog.push(msg);
        }
    }

    /// Waits for the diagnostics of `file` (relative to the root), optionally of one
    /// document version.
    pub fn diagnostics(&mut self, file: &str, version: Option<i64>) -> Vec<Value> {
        let u = uri(&self.root.join(file));
        let p = self.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == u.as_str() && version.is_none_or(|v| p["version"] == v)
        });
        p["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// Opens a file of the workspace with its text on disk; returns the text.
    pub fn open(&mut self, file: &str) -> String {
        let path = self.root.join(file);
        let text = std::fs::read_to_string(&path).expect("read fixture");
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(&path), "languageId": "mcpo", "version": 1, "text": text}}),
        );
        text
    }

    /// Replaces a document's text (full synchronisation).
    pub fn change(&mut self, file: &str, version: i64, text: &str) {
        let u = uri(&self.root.join(file));
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": u, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    /// Shuts the server down politely and waits for it to exit.
    pub fn shutdown(mut self) {
        let _ = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("mcpoc lsp did not exit after shutdown and exit");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of fixture workspace `tests/lsp/<name>` with the twins' pulled schemas.
pub fn workspace(name: &str) -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().expect("tempdir");
    let src = repo.join("tests/lsp").join(name);
    for e in std::fs::read_dir(&src).expect("fixture dir").flatten() {
        std::fs::copy(e.path(), dir.path().join(e.file_name())).expect("copy fixture");
    }
    let schemas = dir.path().join(".mcpo/schemas");
    std::fs::create_dir_all(&schemas).expect("schemas dir");
    for s in ["aws", "opnsense", "docker", "kubernetes"] {
        std::fs::copy(
            repo.join(format!("tests/check/.mcpo/schemas/{s}.json")),
            schemas.join(format!("{s}.json")),
        )
        .expect("copy schema");
    }
    dir
}

/// The `(line, character)` of the first occurrence of `needle` in `text`, plus `skip`
/// characters (ASCII text).
pub fn pos(text: &str, needle: &str, skip: usize) -> Value {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in text"))
        + skip;
    let before = &text[..at];
    let line = before.matches('\n').count();
    let col = at - before.rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": col})
}
