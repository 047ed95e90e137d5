//! Errors of apply, refresh, destroy and import: a code, the address of the step, and a
//! sentence naming the server and tool.

use mcpo_diagnostics::Code;
use mcpo_diagnostics::codes;
use mcpo_mcp::{ErrorKind, McpError};

/// A failed step (or a failed run-wide operation such as saving the state).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecError {
    /// The diagnostic code (`E06xx`).
    pub code: Code,
    /// The address of the step, when the error belongs to one.
    pub address: Option<String>,
    /// What went wrong, naming the server and tool.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl ExecError {
    /// An error with `code` and `message`, not tied to an address.
    pub fn new(code: Code, message: impl Into<String>) -> ExecError {
        ExecError {
            code,
            address: None,
            message: message.into(),
            help: None,
        }
    }

    /// The same error, attributed to the step at `address`.
    pub fn at(mut self, address: impl Into<String>) -> ExecError {
        self.address = Some(address.into());
        self
    }

    /// The same error with a hint of what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> ExecError {
        self.help = Some(help.into());
        self
    }

    /// The error of a failed MCP call or connection, with the code matching its kind.
    pub fn from_mcp(e: &McpError) -> ExecError {
        let code = match &e.kind {
            ErrorKind::CommandNotFound { .. }
            | ErrorKind::CannotStart { .. }
            | ErrorKind::ExitedAtStart { .. }
            | ErrorKind::Unreachable { .. }
            | ErrorKind::Handshake { .. }
            | ErrorKind::UnsupportedProtocol { .. } => codes::E0601,
            ErrorKind::Crashed { .. } => codes::E0602,
            ErrorKind::Timeout { .. } => codes::E0603,
            ErrorKind::OutputMismatch { .. }
            | ErrorKind::Protocol { .. }
            | ErrorKind::BadAnswer { .. } => codes::E0604,
            _ => codes::E0600,
        };
        ExecError::new(code, e.to_string())
    }
}

impl ExecError {
    /// The same error with every occurrence of a sensitive value of the step replaced
    /// (servers often quote the arguments they reject). `sensitive` are the step's
    /// sensitive attributes, `args` its arguments; strings and numbers of fewer than
    /// three characters are left alone, since replacing them would blank out unrelated
    /// text while saying next to nothing about the value.
    pub fn redact(mut self, args: &serde_json::Value, sensitive: &[String]) -> ExecError {
        let mut secrets = Vec::new();
        for name in sensitive {
            if let Some(v) = args.get(name) {
                leaves(v, &mut secrets);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        for secret in &secrets {
            let quoted = serde_json::to_string(secret).unwrap_or_default();
            let escaped = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or("");
            for text in [Some(&mut self.message), self.help.as_mut()]
                .into_iter()
                .flatten()
            {
                for form in [secret.as_str(), escaped] {
                    if !form.is_empty() && text.contains(form) {
                        *text = text.replace(form, mcpo_state::REDACTED);
                    }
                }
            }
        }
        self
    }
}

/// The strings and numbers inside `v` with three characters or more.
fn leaves(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.chars().count() >= 3 => out.push(s.clone()),
        serde_json::Value::Number(n) if n.to_string().len() >= 3 => out.push(n.to_string()),
        serde_json::Value::Array(items) => items.iter().for_each(|x| leaves(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

impl std::fmt::Display for ExecError {
    /// `error[E0600]: aws.vpc.main: server `aws`, tool `vpc.create`: ...`, then the help
    /// on its own line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error[{}]: ", self.code)?;
        if let Some(a) = &self.address {
            write!(f, "{a}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExecError {}
