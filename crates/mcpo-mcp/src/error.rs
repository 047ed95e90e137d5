//! Errors of MCP connections and calls: which server, which tool, and why.

use std::time::Duration;

/// A failed connection or call. `Display` gives a sentence for people naming the server
/// (and tool), e.g. ``server `aws`, tool `vpc.create`: timed out after 2s``.
#[derive(Debug, Clone, PartialEq)]
pub struct McpError {
    /// The server's name in the workspace.
    pub server: String,
    /// The tool being called, if the failure happened in a call.
    pub tool: Option<String>,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The program of a stdio server does not exist.
    CommandNotFound {
        /// The command as declared.
        command: String,
    },
    /// The program exists but could not be started (permissions, not executable, ...).
    CannotStart {
        /// The command as declared.
        command: String,
        /// Why.
        reason: String,
    },
    /// The process exited before the handshake completed.
    ExitedAtStart {
        /// "exited with code 3", "was killed by signal 9".
        status: String,
        /// The last lines it wrote on stderr.
        stderr_tail: String,
    },
    /// An HTTP server could not be reached.
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server answered, but not with a valid MCP handshake (garbage on stdout, an
    /// error response, ...).
    Handshake {
        /// Why.
        reason: String,
        /// The last lines it wrote on stderr (stdio servers).
        stderr_tail: String,
    },
    /// No protocol version both sides speak.
    UnsupportedProtocol {
        /// What mcpo offered.
        offered: Vec<String>,
        /// What the server supports (empty when it did not say).
        supported: Vec<String>,
    },
    /// No answer within the timeout (the call was cancelled).
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// The tool ran and reported failure (`isError: true`).
    ToolFailed {
        /// The text it returned.
        message: String,
    },
    /// The result does not match the tool's `outputSchema`.
    OutputMismatch {
        /// JSON pointer to the offending value in `structuredContent` (`""` = root).
        path: String,
        /// What is wrong there.
        reason: String,
    },
    /// The server answered the request with a JSON-RPC error (unknown tool, invalid
    /// arguments, ...).
    Rejected {
        /// The error code.
        code: i32,
        /// The message.
        message: String,
    },
    /// The server process died or the connection closed while calls were in flight.
    Crashed {
        /// "exited with code 70", or "closed the connection".
        status: String,
        /// The last lines it wrote on stderr.
        stderr_tail: String,
    },
    /// The server's answer could not be decoded (over the size limit for one message,
    /// not JSON, nested too deep, not a JSON-RPC response): the call failed at once.
    BadAnswer {
        /// Why, naming the limit when one was crossed.
        reason: String,
    },
    /// The caller cancelled the call.
    Cancelled,
    /// Anything else the protocol layer reported.
    Protocol {
        /// Its message.
        message: String,
    },
}

impl McpError {
    /// An error of `server`, not tied to a tool.
    pub fn new(server: impl Into<String>, kind: ErrorKind) -> Self {
        Self {
            server: server.into(),
            tool: None,
            kind,
        }
    }

    /// The same error, attributed to `tool`.
    pub fn with_tool(mut self, tool: impl Into<String>) -> Self {
        self.tool = Some(tool.into());
        self
    }

    /// Whether retrying the same call may succeed (timeouts, crashes, dropped connections).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout { .. } | ErrorKind::Crashed { .. } | ErrorKind::Unreachable { .. }
        )
    }
}

fn tail(out: &mut std::fmt::Formatter<'_>, stderr_tail: &str) -> std::fmt::Result {
    let t = stderr_tail.trim_end();
    if t.is_empty() {
        write!(out, " (it wrote nothing on stderr)")
    } else {
        write!(out, "; its stderr ended with:\n{t}")
    }
}

/// `1.5s`, `2s`, `250ms`.
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

impl std::fmt::Display for McpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server `{}`", self.server)?;
        if let Some(tool) = &self.tool {
            write!(f, ", tool `{tool}`")?;
        }
        f.write_str(": ")?;
        match &self.kind {
            ErrorKind::CommandNotFound { command } => write!(
                f,
                "cannot start: command `{command}` not found (is it installed and on PATH?)"
            ),
            ErrorKind::CannotStart { command, reason } => {
                write!(f, "cannot start `{command}`: {reason}")
            }
            ErrorKind::ExitedAtStart {
                status,
                stderr_tail,
            } => {
                write!(
                    f,
                    "cannot start: the process {status} before the MCP handshake"
                )?;
                tail(f, stderr_tail)
            }
            ErrorKind::Unreachable { url, reason } => {
                write!(f, "cannot connect to {url}: {reason}")
            }
            ErrorKind::Handshake {
                reason,
                stderr_tail,
            } => {
                write!(f, "MCP handshake failed: {reason}")?;
                if stderr_tail.trim().is_empty() {
                    Ok(())
                } else {
                    tail(f, stderr_tail)
                }
            }
            ErrorKind::UnsupportedProtocol { offered, supported } => {
                write!(
                    f,
                    "protocol version not supported: mcpo speaks {}",
                    offered.join(", ")
                )?;
                if supported.is_empty() {
                    Ok(())
                } else {
                    write!(f, ", the server speaks {}", supported.join(", "))
                }
            }
            ErrorKind::Timeout { after } => {
                write!(
                    f,
                    "timed out after {} (the call was cancelled)",
                    show_duration(*after)
                )
            }
            ErrorKind::ToolFailed { message } => write!(f, "the tool reported an error: {message}"),
            ErrorKind::OutputMismatch { path, reason } => {
                let at = if path.is_empty() { "/" } else { path };
                write!(
                    f,
                    "the result does not match the tool's outputSchema at `{at}`: {reason}"
                )
            }
            ErrorKind::Rejected { code, message } => {
                write!(
                    f,
                    "the server rejected the request: {message} (error {code})"
                )
            }
            ErrorKind::Crashed {
                status,
                stderr_tail,
            } => {
                write!(f, "the server crashed during the call: it {status}")?;
                tail(f, stderr_tail)
            }
            ErrorKind::BadAnswer { reason } => {
                write!(f, "the server's answer could not be read: {reason}")
            }
            ErrorKind::Cancelled => write!(f, "cancelled"),
            ErrorKind::Protocol { message } => write!(f, "protocol error: {message}"),
        }
    }
}

impl std::error::Error for McpError {}
