//! JSON-RPC framing in front of tower-lsp-server, so that one bad message cannot stop
//! the server.
//!
//! tower-lsp-server decodes messages with a `tokio_util` `FramedRead`, which ends the
//! stream after the first decoding error: a well-framed body that is not a JSON-RPC 2.0
//! message (`[1,2,3]`, `{}`, invalid JSON, no `"jsonrpc"`) made the server stop reading
//! and exit without an answer. It also swallows the `MethodNotFound` of unknown `$/`
//! *requests*, which the LSP specification says must be answered.
//!
//! So the server's byte streams go through this layer. The input pump reads each
//! `Content-Length` frame, forwards to tower-lsp-server only what its decoder accepts, and
//! answers the rest itself, as JSON-RPC 2.0 says: `-32700` (parse error) for a body that
//! is not JSON, `-32600` (invalid request) for JSON that is not a request, notification or
//! response, `-32601` for an unknown `$/` request; the id of the message when it has a
//! valid one, else `null`. The output pump copies tower-lsp-server's frames to the client
//! whole, and the answers of the input pump go out between them, never inside one.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Request, Response};

/// The largest message body accepted (a whole file's text travels in one `didOpen`).
/// A larger one is skipped without being held in memory, and answered with `-32600`.
pub(crate) const MAX_MESSAGE: usize = 256 << 20;

/// The longest header line accepted; a longer one makes the header block malformed.
const MAX_HEADER_LINE: u64 = 8 << 10;

/// JSON-RPC 2.0 error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;

/// What reading one frame gave.
#[derive(Debug, PartialEq)]
pub(crate) enum Frame {
    /// A complete body.
    Body(Vec<u8>),
    /// A header block without a usable `Content-Length` (it was consumed).
    BadHeaders(String),
    /// A body longer than [`MAX_MESSAGE`] (it was consumed without keeping it).
    TooLarge(usize),
    /// The end of the stream.
    End,
}

/// Reads one `Content-Length` frame.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Frame {
    let mut len: Option<Result<usize, String>> = None;
    let mut problem: Option<String> = None;
    let mut seen_any = false;
    loop {
        let mut line = Vec::new();
        let n = match (&mut *r)
            .take(MAX_HEADER_LINE)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(_) => return Frame::End,
        };
        if n == 0 {
            return Frame::End;
        }
        if !line.ends_with(b"\n") {
            if (n as u64) < MAX_HEADER_LINE {
                // The stream ended inside the headers.
                return Frame::End;
            }
            problem.get_or_insert_with(|| "a header line is too long".to_string());
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !seen_any {
                // Blank lines between messages carry nothing.
                continue;
            }
            break;
        }
        seen_any = true;
        match text.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                len = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| format!("invalid Content-Length `{}`", value.trim())),
                );
            }
            Some(_) => {}
            None => {
                problem.get_or_insert_with(|| format!("not a header: `{}`", clip(text)));
            }
        }
    }
    if let Some(p) = problem {
        return Frame::BadHeaders(p);
    }
    let len = match len {
        None => return Frame::BadHeaders("no Content-Length header".to_string()),
        Some(Err(e)) => return Frame::BadHeaders(e),
        Some(Ok(len)) => len,
    };
    if len > MAX_MESSAGE {
        let skipped =
            tokio::io::copy(&mut (&mut *r).take(len as u64), &mut tokio::io::sink()).await;
        return match skipped {
            Ok(n) if n as usize == len => Frame::TooLarge(len),
            _ => Frame::End,
        };
    }
    let mut body = vec![0; len];
    match r.read_exact(&mut body).await {
        Ok(_) => Frame::Body(body),
        Err(_) => Frame::End,
    }
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

/// What to do with one body.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Hand it to tower-lsp-server.
    Forward,
    /// Answer it with this response instead.
    Answer(Value),
}

fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// Decides whether tower-lsp-server can take a body, and what to answer if not.
pub(crate) fn judge(body: &[u8]) -> Verdict {
    // The common case, without building a `Value`: a request or notification that the
    // server's decoder accepts. (Its `method` defaults to empty, which is how a response
    // would parse here: those take the slow path.)
    if let Ok(req) = serde_json::from_slice::<Request>(body)
        && !req.method().is_empty()
    {
        return judge_request(&req);
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Verdict::Answer(error(Value::Null, PARSE_ERROR, format!("Parse error: {e}")));
        }
    };
    let Value::Object(map) = &value else {
        let why = if value.is_array() {
            "Invalid Request: batches are not part of the Language Server Protocol"
        } else {
            "Invalid Request: a message is a JSON object"
        };
        return Verdict::Answer(error(Value::Null, INVALID_REQUEST, why.to_string()));
    };
    // An id is echoed only when it is one a request may have.
    let id = match map.get("id") {
        Some(Value::Number(n)) if n.is_i64() => Value::Number(n.clone()),
        Some(Value::String(s)) => Value::String(s.clone()),
        _ => Value::Null,
    };
    let invalid = |why: &str| {
        Verdict::Answer(error(
            id.clone(),
            INVALID_REQUEST,
            format!("Invalid Request: {why}"),
        ))
    };
    if map.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid("\"jsonrpc\" must be \"2.0\"");
    }
    match map.get("method") {
        Some(Value::String(_)) => match serde_json::from_value::<Request>(value.clone()) {
            Ok(req) => judge_request(&req),
            Err(_) if map.get("id").is_some_and(|i| id.is_null() && !i.is_null()) => {
                invalid("\"id\" must be a string or an integer")
            }
            Err(_) => invalid("\"params\" must be an object or an array"),
        },
        Some(_) => invalid("\"method\" must be a string"),
        None => match serde_json::from_value::<Response>(value.clone()) {
            Ok(_) => Verdict::Forward,
            Err(_) => invalid(
                "neither a request (no \"method\") nor a response (an \"id\" with one \"result\" or \"error\")",
            ),
        },
    }
}

fn judge_request(req: &Request) -> Verdict {
    let id = || serde_json::to_value(req.id()).unwrap_or(Value::Null);
    if let Some(p) = req.params()
        && !(p.is_object() || p.is_array() || p.is_null())
    {
        return Verdict::Answer(error(
            id(),
            INVALID_REQUEST,
            "Invalid Request: \"params\" must be an object or an array".to_string(),
        ));
    }
    // The server itself answers nothing to `$/` requests it does not know.
    if req.id().is_some() && req.method().starts_with("$/") {
        return Verdict::Answer(error(
            id(),
            METHOD_NOT_FOUND,
            format!("Method not found: {}", req.method()),
        ));
    }
    Verdict::Forward
}

/// Runs tower-lsp-server's `Server` for `service` with this layer between it and the
/// client, until the server ends (at the `exit` notification or the end of the input).
pub(crate) async fn serve<S: tower_lsp_server::LanguageServer>(
    input: impl AsyncRead + Unpin,
    output: impl AsyncWrite,
    service: tower_lsp_server::LspService<S>,
    socket: tower_lsp_server::ClientSocket,
) {
    const PIPE: usize = 64 << 10;
    let (to_server, server_in) = tokio::io::duplex(PIPE);
    let (server_out, from_server) = tokio::io::duplex(PIPE);
    let (tx, rx) = mpsc::channel(64);
    let server = tower_lsp_server::Server::new(server_in, server_out, socket).serve(service);
    let pump_out = pump_server_output(from_server, tx.clone());
    let write_out = write_output(rx, output);
    let rest = async {
        tokio::join!(server, pump_out, write_out);
    };
    let input = pump_input(input, to_server, tx);
    tokio::pin!(rest, input);
    // The input pump may still wait on a client that keeps its end open after `exit`: it
    // is not waited for.
    tokio::select! {
        _ = &mut rest => {}
        _ = &mut input => rest.await,
    }
}

/// One frame for the client, or the end of the server's output.
pub(crate) enum Out {
    /// A body to send.
    Body(Vec<u8>),
    /// The server has finished: nothing more goes out.
    End,
}

/// Reads the client's frames: forwards what the server can take to `server`, answers
/// the rest through `out`. Returns at the end of the input (closing `server`).
pub(crate) async fn pump_input(
    input: impl AsyncRead + Unpin,
    mut server: impl AsyncWrite + Unpin,
    out: mpsc::Sender<Out>,
) {
    let mut r = BufReader::new(input);
    loop {
        let answer = match read_frame(&mut r).await {
            Frame::End => break,
            Frame::BadHeaders(why) => error(
                Value::Null,
                PARSE_ERROR,
                format!("Parse error: malformed message headers ({why})"),
            ),
            Frame::TooLarge(len) => error(
                Value::Null,
                INVALID_REQUEST,
                format!(
                    "Invalid Request: a message of {len} bytes is over the limit of {MAX_MESSAGE} bytes"
                ),
            ),
            Frame::Body(body) => match judge(&body) {
                Verdict::Forward => {
                    let head = format!("Content-Length: {}\r\n\r\n", body.len());
                    if server.write_all(head.as_bytes()).await.is_err()
                        || server.write_all(&body).await.is_err()
                        || server.flush().await.is_err()
                    {
                        break;
                    }
                    continue;
                }
                Verdict::Answer(v) => v,
            },
        };
        if out
            .send(Out::Body(answer.to_string().into_bytes()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = server.shutdown().await;
}

/// Copies the server's frames to `out` whole, then marks the end.
pub(crate) async fn pump_server_output(server: impl AsyncRead + Unpin, out: mpsc::Sender<Out>) {
    let mut r = BufReader::new(server);
    loop {
        match read_frame(&mut r).await {
            Frame::Body(body) => {
                if out.send(Out::Body(body)).await.is_err() {
                    return;
                }
            }
            Frame::End => break,
            // The server's own output is well framed; nothing else can come from it.
            Frame::BadHeaders(_) | Frame::TooLarge(_) => {}
        }
    }
    let _ = out.send(Out::End).await;
}

/// Writes frames to the client until the server's output has ended.
pub(crate) async fn write_output(mut rx: mpsc::Receiver<Out>, output: impl AsyncWrite) {
    let mut output = std::pin::pin!(output);
    while let Some(Out::Body(body)) = rx.recv().await {
        let head = format!("Content-Length: {}\r\n\r\n", body.len());
        if output.write_all(head.as_bytes()).await.is_err()
            || output.write_all(&body).await.is_err()
            || output.flush().await.is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Value {
        match judge(body.as_bytes()) {
            Verdict::Answer(v) => v,
            Verdict::Forward => panic!("forwarded: {body}"),
        }
    }

    fn code_and_id(body: &str) -> (i64, Value) {
        let a = answer(body);
        let code = a.pointer("/error/code").and_then(Value::as_i64);
        (code.unwrap_or(0), a.get("id").cloned().unwrap_or_default())
    }

    #[test]
    fn valid_messages_are_forwarded() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
            r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"shutdown","params":null}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#,
            r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":null}"#,
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no"}}"#,
        ] {
            assert_eq!(judge(body.as_bytes()), Verdict::Forward, "{body}");
        }
    }

    #[test]
    fn invalid_messages_are_answered_per_json_rpc() {
        let null = Value::Null;
        assert_eq!(code_and_id("{not json"), (PARSE_ERROR, null.clone()));
        assert_eq!(code_and_id("[1,2,3]"), (INVALID_REQUEST, null.clone()));
        assert_eq!(code_and_id("[]"), (INVALID_REQUEST, null.clone()));
        assert_eq!(code_and_id("{}"), (INVALID_REQUEST, null.clone()));
        assert_eq!(code_and_id("42"), (INVALID_REQUEST, null.clone()));
        assert_eq!(
            code_and_id(r#"{"id":3,"method":"shutdown"}"#),
            (INVALID_REQUEST, json!(3))
        );
        assert_eq!(
            code_and_id(r#"{"jsonrpc":"1.0","id":"x","method":"a"}"#),
            (INVALID_REQUEST, json!("x"))
        );
        assert_eq!(
            code_and_id(r#"{"jsonrpc":"2.0","id":1.5,"method":"a"}"#),
            (INVALID_REQUEST, null.clone())
        );
        assert_eq!(
            code_and_id(r#"{"jsonrpc":"2.0","id":{},"method":"a"}"#),
            (INVALID_REQUEST, null.clone())
        );
        assert_eq!(
            code_and_id(r#"{"jsonrpc":"2.0","id":4,"method":"a","params":5}"#),
            (INVALID_REQUEST, json!(4))
        );
        assert_eq!(
            code_and_id(r#"{"jsonrpc":"2.0","id":5,"method":7}"#),
            (INVALID_REQUEST, json!(5))
        );
        assert_eq!(
            code_and_id(r#"{"jsonrpc":"2.0","id":6}"#),
            (INVALID_REQUEST, json!(6))
        );
        assert_eq!(
            code_and_id(r#"{"jsonrpc":"2.0","id":8,"method":"$/unknown"}"#),
            (METHOD_NOT_FOUND, json!(8))
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(code_and_id(&deep), (PARSE_ERROR, null));
    }

    async fn frames(input: &[u8]) -> Vec<Frame> {
        let mut r = BufReader::new(input);
        let mut out = Vec::new();
        loop {
            let f = read_frame(&mut r).await;
            if f == Frame::End {
                return out;
            }
            out.push(f);
        }
    }

    #[tokio::test]
    async fn frames_are_read_and_bad_headers_resynchronise() {
        let input = b"Content-Length: 2\r\n\r\n{}\
            Content-Type: x\r\ncontent-length:3\r\n\r\n[1]\
            garbage\r\n\r\n\
            Content-Length: nine\r\n\r\n\
            Content-Length: 1\r\n\r\n5";
        assert_eq!(
            frames(input).await,
            vec![
                Frame::Body(b"{}".to_vec()),
                Frame::Body(b"[1]".to_vec()),
                Frame::BadHeaders("not a header: `garbage`".to_string()),
                Frame::BadHeaders("invalid Content-Length `nine`".to_string()),
                Frame::Body(b"5".to_vec()),
            ]
        );
        // A body cut short is the end, not a frame.
        assert_eq!(frames(b"Content-Length: 10\r\n\r\n{}").await, vec![]);
    }
}
