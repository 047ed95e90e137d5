//! The stdio transport between a server process and rmcp, with a size limit per message
//! and a fast, clear failure for answers that cannot be decoded.
//!
//! rmcp's own stdio transport drops what it cannot decode (a line over its size limit,
//! invalid JSON, JSON nested deeper than serde's limit, a response of the wrong shape such
//! as an error whose `code` is a string), so the call that waited for that answer waits
//! out its whole timeout. This transport reads the server's lines itself and, for a line
//! it cannot decode, finds the id it answers (by scanning the text, which works on text
//! too big, too deep or not even JSON) and fails that call at once with an error naming
//! the reason and the limit. An oversized line whose first `limit` bytes name no id fails
//! every call in flight (one of them lost its answer, and they cannot be told apart).
//! Lines that name no call in flight (garbage a server prints on stdout, answers to ids
//! never sent) are ignored, as every MCP SDK does; a flood of notifications is read one
//! line at a time and never buffered beyond one message.

use rmcp::RoleClient;
use rmcp::model::{ErrorCode, ErrorData, RequestId, ServerJsonRpcMessage};
use rmcp::service::TxJsonRpcMessage;
use rmcp::transport::Transport;
use serde_json::{Value, json};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};

/// The marker in the `data` of the errors this transport makes up, so that the connection
/// reports them as undecodable answers rather than as the server's own errors.
pub(crate) const BAD_MESSAGE: &str = "mcpo/undecodable-answer";

/// Whether an error response was made up here for an answer that could not be decoded.
pub(crate) fn is_bad_message(e: &ErrorData) -> bool {
    e.data
        .as_ref()
        .and_then(|d| d.get("mcpo"))
        .and_then(Value::as_str)
        == Some(BAD_MESSAGE)
}

/// `16 MiB`, `512 KiB`, `100 bytes`.
pub(crate) fn show_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// The transport (see the module documentation).
pub(crate) struct StdioWire {
    read: BufReader<ChildStdout>,
    write: Arc<tokio::sync::Mutex<Option<ChildStdin>>>,
    /// The largest line accepted, newline excluded.
    limit: usize,
    /// The line being read (kept across cancelled `receive`s).
    line: Vec<u8>,
    /// Dropping the rest of a line that went over the limit.
    discarding: bool,
    /// Ids (as JSON text) of the requests sent and not answered yet.
    in_flight: Arc<Mutex<HashSet<String>>>,
    /// Errors made up for calls, waiting to be handed to rmcp.
    queued: VecDeque<ServerJsonRpcMessage>,
}

/// What reading one line gave.
enum Read {
    Line,
    /// The line went over the limit; `line` holds its first `limit` bytes.
    Oversized,
    End,
}

impl StdioWire {
    pub(crate) fn new(stdout: ChildStdout, stdin: ChildStdin, limit: usize) -> Self {
        Self {
            read: BufReader::with_capacity(64 << 10, stdout),
            write: Arc::new(tokio::sync::Mutex::new(Some(stdin))),
            limit,
            line: Vec::new(),
            discarding: false,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            queued: VecDeque::new(),
        }
    }

    /// Reads up to the next newline without holding more than `limit` bytes. Cancel-safe:
    /// nothing is consumed across an await, and the partial line stays in `self.line`.
    async fn read_line(&mut self) -> Read {
        loop {
            let available = match self.read.fill_buf().await {
                Ok(a) if !a.is_empty() => a,
                _ => return Read::End,
            };
            let newline = available.iter().position(|b| *b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            if self.discarding {
                self.read.consume(take);
                if newline.is_some() {
                    self.discarding = false;
                }
                continue;
            }
            let content = newline.map_or(take, |i| i);
            if self.line.len() + content > self.limit {
                let room = self.limit.saturating_sub(self.line.len());
                self.line
                    .extend_from_slice(available.get(..room).unwrap_or_default());
                self.read.consume(take);
                self.discarding = newline.is_none();
                return Read::Oversized;
            }
            self.line
                .extend_from_slice(available.get(..take).unwrap_or_default());
            self.read.consume(take);
            if newline.is_some() {
                return Read::Line;
            }
        }
    }

    fn take_in_flight(&self, id: &Value) -> Option<RequestId> {
        let key = id.to_string();
        let removed = self
            .in_flight
            .lock()
            .map(|mut s| s.remove(&key))
            .unwrap_or(false);
        if removed {
            serde_json::from_value(id.clone()).ok()
        } else {
            None
        }
    }

    fn answered(&self, id: &RequestId) {
        if let (Ok(key), Ok(mut s)) = (serde_json::to_string(id), self.in_flight.lock()) {
            s.remove(&key);
        }
    }

    fn fail(&mut self, id: RequestId, reason: String) {
        let data = json!({ "mcpo": BAD_MESSAGE });
        let error = ErrorData::new(ErrorCode::INTERNAL_ERROR, reason, Some(data));
        self.queued
            .push_back(ServerJsonRpcMessage::error(error, Some(id)));
    }

    /// Decides what a complete line is: a message for rmcp, a made-up error for the call
    /// it answers, or nothing.
    fn judge(&mut self, line: &[u8]) -> Option<ServerJsonRpcMessage> {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let error = match serde_json::from_slice::<ServerJsonRpcMessage>(text) {
            Ok(msg) => {
                match &msg {
                    ServerJsonRpcMessage::Response(r) => self.answered(&r.id),
                    ServerJsonRpcMessage::Error(e) => {
                        if let Some(id) = &e.id {
                            self.answered(id);
                        }
                    }
                    _ => {}
                }
                return Some(msg);
            }
            Err(e) => e,
        };
        let id = scan_id(text)?;
        let id = self.take_in_flight(&id)?;
        let reason = if error.to_string().contains("recursion limit") {
            "it is nested deeper than 128 levels, the limit of the JSON decoder".to_string()
        } else {
            match error.classify() {
                serde_json::error::Category::Data => {
                    format!("it is not a valid JSON-RPC answer ({error})")
                }
                _ => format!("it is not valid JSON ({error})"),
            }
        };
        self.fail(id, reason);
        self.queued.pop_front()
    }

    /// A line went over the limit: fails the call it answers, or every call in flight
    /// when its first `limit` bytes name none.
    fn oversized(&mut self) {
        let limit = show_size(self.limit);
        let line = std::mem::take(&mut self.line);
        match scan_id(&line).and_then(|id| self.take_in_flight(&id)) {
            Some(id) => self.fail(
                id,
                format!(
                    "it is longer than {limit}, the limit for one message from this server (`max_message_bytes`)"
                ),
            ),
            None => {
                let ids: Vec<String> = self
                    .in_flight
                    .lock()
                    .map(|mut s| s.drain().collect())
                    .unwrap_or_default();
                for key in ids {
                    if let Ok(id) = serde_json::from_str::<RequestId>(&key) {
                        self.fail(
                            id,
                            format!(
                                "the server sent a message longer than {limit}, the limit for one message from this server (`max_message_bytes`), without naming the request it answers; every call waiting for an answer was failed"
                            ),
                        );
                    }
                }
            }
        }
    }
}

impl Transport<RoleClient> for StdioWire {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let write = Arc::clone(&self.write);
        let in_flight = Arc::clone(&self.in_flight);
        async move {
            let value = serde_json::to_value(&item).map_err(std::io::Error::other)?;
            if let Ok(mut s) = in_flight.lock() {
                match (value.get("method"), value.get("id")) {
                    (Some(_), Some(id)) => {
                        s.insert(id.to_string());
                    }
                    (Some(m), None) if m == "notifications/cancelled" => {
                        if let Some(id) = value.pointer("/params/requestId") {
                            s.remove(&id.to_string());
                        }
                    }
                    _ => {}
                }
            }
            let mut bytes = serde_json::to_vec(&value).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
            let mut guard = write.lock().await;
            match guard.as_mut() {
                Some(w) => {
                    w.write_all(&bytes).await?;
                    w.flush().await
                }
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the transport is closed",
                )),
            }
        }
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            if let Some(m) = self.queued.pop_front() {
                return Some(m);
            }
            match self.read_line().await {
                Read::End => return None,
                Read::Oversized => self.oversized(),
                Read::Line => {
                    let line = std::mem::take(&mut self.line);
                    let msg = self.judge(&line);
                    // Keep the buffer for the next line unless a big one inflated it.
                    if line.capacity() <= 1 << 20 {
                        self.line = line;
                        self.line.clear();
                    }
                    if let Some(m) = msg {
                        return Some(m);
                    }
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let mut guard = self.write.lock().await;
        if let Some(mut w) = guard.take() {
            let _ = w.shutdown().await;
        }
        Ok(())
    }
}

/// The top-level `"id"` of a JSON-RPC message, found by scanning its text rather than
/// parsing it, so that it works on text too long (a prefix), too deep or invalid. `None`
/// when there is none, or it is not a string or a number.
pub(crate) fn scan_id(text: &[u8]) -> Option<Value> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'"' => {
                let end = string_end(text, i)?;
                if depth == 1 && text.get(i + 1..end) == Some(&b"id"[..]) {
                    let mut j = skip_blanks(text, end + 1);
                    if text.get(j) == Some(&b':') {
                        j = skip_blanks(text, j + 1);
                        return scalar_at(text, j);
                    }
                }
                i = end + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The index of the quote that ends the string starting at `start` (a quote).
fn string_end(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match text.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
}

fn skip_blanks(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// A string or number value starting at `i`.
fn scalar_at(text: &[u8], i: usize) -> Option<Value> {
    let end = match text.get(i)? {
        b'"' => string_end(text, i)? + 1,
        b'-' | b'0'..=b'9' => {
            let mut j = i + 1;
            while text.get(j).is_some_and(|b| {
                b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')
            }) {
                j += 1;
            }
            j
        }
        _ => return None,
    };
    let v: Value = serde_json::from_slice(text.get(i..end)?).ok()?;
    (v.is_string() || v.is_i64()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_found_in_text_that_does_not_parse() {
        let id = |t: &str| scan_id(t.as_bytes());
        assert_eq!(
            id(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#),
            Some(json!(7))
        );
        assert_eq!(
            id(r#"{"result":{"id":1,"x":"\"id\":3"},"id":"a\"b"}"#),
            Some(json!("a\"b"))
        );
        assert_eq!(
            id(r#"{"jsonrpc":"2.0","id": 12 ,"result":"#),
            Some(json!(12))
        );
        let deep = format!(
            r#"{{"id":5,"result":{}1{}}}"#,
            "[".repeat(9_000),
            "]".repeat(9_000)
        );
        assert_eq!(id(&deep), Some(json!(5)));
        let cut = format!(r#"{{"jsonrpc":"2.0","id":9,"result":"{}"#, "x".repeat(100));
        assert_eq!(id(&cut), Some(json!(9)));
        assert_eq!(id(r#"{"result":{"id":1}}"#), None);
        assert_eq!(id(r#"{"id":null}"#), None);
        assert_eq!(id(r#"{"id":1.5}"#), None);
        assert_eq!(id("garbage \"id\": 3"), None);
        assert_eq!(id(""), None);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(show_size(16 << 20), "16 MiB");
        assert_eq!(show_size(512 << 10), "512 KiB");
        assert_eq!(show_size(1000), "1000 bytes");
    }
}
