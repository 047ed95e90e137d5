//! Language server benchmark: a generated workspace of N resources (default 10,000, in
//! files of 100; the four twins' types, each group of ten referring to the previous
//! group) is opened by the language server of `mcpo-lsp`, run in-process over pipes with
//! real JSON-RPC framing. Measures, as medians of 31 runs:
//!
//! - from a `didChange` of one character (a digit of `replicas`) to the
//!   `publishDiagnostics` of that version of the file;
//! - from a `didChange` that types a `.` (`image = docker.image_build.`) to the answer to
//!   the completion request sent right after it (the names of every image build).
//!
//! Usage: `cargo run --release -p mcpo-bench --bin lsp_bench -- [N]`.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Writes the workspace under `dir`; returns the number of files.
fn generate(dir: &Path, n: usize) -> std::io::Result<usize> {
    let schemas = dir.join(".mcpo/schemas");
    std::fs::create_dir_all(&schemas)?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/check/.mcpo/schemas");
    for s in ["aws", "docker", "kubernetes", "opnsense"] {
        std::fs::copy(
            src.join(format!("{s}.json")),
            schemas.join(format!("{s}.json")),
        )?;
    }
    let texts = mcpo_bench::workspace(n);
    for (i, text) in texts.iter().enumerate() {
        std::fs::write(dir.join(format!("gen{i}.mcpo")), text)?;
    }
    Ok(texts.len())
}

/// The client side of the pipes.
struct Client {
    to_server: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    from_server: mpsc::UnboundedReceiver<Value>,
    next_id: u64,
}

impl Client {
    async fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        if self.to_server.write_all(framed.as_bytes()).await.is_err() {
            eprintln!("the server stopped reading");
        }
    }

    async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.until(|m| m["id"] == id && m.get("method").is_none())
            .await
    }

    /// Waits for a message satisfying `pred`, dropping others.
    async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            match tokio::time::timeout(Duration::from_secs(120), self.from_server.recv()).await {
                Ok(Some(m)) if pred(&m) => return m,
                Ok(Some(_)) => {}
                _ => {
                    eprintln!("error: the language server did not answer within 120 s");
                    std::process::exit(1);
                }
            }
        }
    }
}

async fn read_messages(
    from: tokio::io::ReadHalf<tokio::io::DuplexStream>,
    tx: mpsc::UnboundedSender<Value>,
) {
    let mut r = BufReader::new(from);
    loop {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            match r.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).await.is_err() {
            return;
        }
        if let Ok(v) = serde_json::from_slice(&body)
            && tx.send(v).is_err()
        {
            return;
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn uri(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn position(text: &str, at: usize) -> Value {
    let before = text.get(..at).unwrap_or("");
    let line = before.matches('\n').count();
    let col = at - before.rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": col})
}

async fn run(dir: PathBuf, n: usize) {
    let started = Instant::now();
    let files = match generate(&dir, n) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "error: cannot write the workspace under {}: {e}",
                dir.display()
            );
            std::process::exit(2);
        }
    };
    let (client_end, server_end) = tokio::io::duplex(1 << 20);
    let (server_read, server_write) = tokio::io::split(server_end);
    tokio::spawn(mcpo_lsp::serve(server_read, server_write));
    let (client_read, client_write) = tokio::io::split(client_end);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(read_messages(client_read, tx));
    let mut c = Client {
        to_server: client_write,
        from_server: rx,
        next_id: 0,
    };
    let root = uri(&dir);
    c.request(
        "initialize",
        json!({"processId": null, "rootUri": root, "capabilities": {},
               "workspaceFolders": [{"uri": root, "name": "bench"}]}),
    )
    .await;
    c.notify("initialized", json!({})).await;
    let target = dir.join(format!("gen{}.mcpo", files / 2));
    let target_uri = uri(&target);
    let text = std::fs::read_to_string(&target).unwrap_or_default();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": target_uri, "languageId": "mcpo", "version": 1, "text": text}}),
    )
    .await;
    let u = target_uri.clone();
    c.until(move |m| {
        m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == u.as_str()
    })
    .await;
    let loaded = started.elapsed();

    // One character: the digit of the first `replicas = 3`.
    let mut version = 1;
    let mut diag_times = Vec::new();
    for k in 0..31 {
        version += 1;
        let edited = text.replacen("replicas  = 3", &format!("replicas  = {}", 4 + k % 5), 1);
        let start = Instant::now();
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": target_uri, "version": version}, "contentChanges": [{"text": edited}]}),
        )
        .await;
        let u = target_uri.clone();
        let published = c
            .until(move |m| {
                m["method"] == "textDocument/publishDiagnostics"
                    && m["params"]["uri"] == u.as_str()
                    && m["params"]["version"] == version
            })
            .await;
        diag_times.push(start.elapsed());
        if published["params"]["diagnostics"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
        {
            eprintln!(
                "note: the edited file has diagnostics: {}",
                published["params"]
            );
        }
    }

    // Typing `.` after `docker.image_build`, then asking for completions there.
    let anchor = "image = docker.image_build.img";
    let Some(at) = text
        .find(anchor)
        .map(|i| i + "image = docker.image_build".len())
    else {
        eprintln!("error: the generated file has no `{anchor}`");
        std::process::exit(2);
    };
    let mut completion_times = Vec::new();
    let mut request_times = Vec::new();
    let mut repeat_times = Vec::new();
    let mut items = 0;
    for _ in 0..31 {
        version += 1;
        // The line ends right after the `.` (the rest of the reference is cut off).
        let line_end = text
            .get(at..)
            .and_then(|s| s.find('\n'))
            .map_or(text.len(), |i| at + i);
        let edited = format!(
            "{}.{}",
            text.get(..at).unwrap_or(""),
            text.get(line_end..).unwrap_or("")
        );
        let start = Instant::now();
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": target_uri, "version": version}, "contentChanges": [{"text": edited}]}),
        )
        .await;
        let asked = Instant::now();
        let resp = c
            .request(
                "textDocument/completion",
                json!({"textDocument": {"uri": target_uri}, "position": position(&edited, at + 1)}),
            )
            .await;
        completion_times.push(start.elapsed());
        request_times.push(asked.elapsed());
        // The same request again, nothing changed: the protocol's share.
        let again = Instant::now();
        c.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": target_uri}, "position": position(&edited, at + 1)}),
        )
        .await;
        repeat_times.push(again.elapsed());
        items = resp["result"].as_array().map_or(0, Vec::len);
        // Back to the original text before the next round.
        version += 1;
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": target_uri, "version": version}, "contentChanges": [{"text": text}]}),
        )
        .await;
        let u = target_uri.clone();
        c.until(move |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == u.as_str()
                && m["params"]["version"] == version
        })
        .await;
    }
    println!(
        "N = {n} resources in {files} files: loaded and first diagnostics in {}; didChange (1 character) -> publishDiagnostics median {} (min {}, max {}); didChange `.` -> completion ({items} items) median {} (min {}, max {}), of which the completion request itself median {}; the same request repeated without an edit median {}; 31 runs each",
        ms(loaded),
        ms(median(diag_times.clone())),
        ms(diag_times.iter().min().copied().unwrap_or_default()),
        ms(diag_times.iter().max().copied().unwrap_or_default()),
        ms(median(completion_times.clone())),
        ms(completion_times.iter().min().copied().unwrap_or_default()),
        ms(completion_times.iter().max().copied().unwrap_or_default()),
        ms(median(request_times)),
        ms(median(repeat_times)),
    );
    let _ = c.request("shutdown", Value::Null).await;
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("mcpo-lsp-bench-{}", std::process::id()));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start tokio: {e}");
            std::process::exit(2);
        }
    };
    runtime.block_on(run(dir.clone(), n));
    let _ = std::fs::remove_dir_all(&dir);
}
