//! Stdio server processes: spawned in their own process group, stderr tail captured,
//! exit status observed, and the whole group killed on shutdown or drop.
//!
//! The process group matters because many servers are launchers (`npx`, shell scripts)
//! that start the real server as a grandchild: killing only the direct child would leave
//! the grandchild running. A guard kills the group when it is dropped, so a panic, an
//! early return or a runtime shutdown (Ctrl-C handled by the CLI) leaves no orphan.

use crate::error::ErrorKind;
use crate::spec::StdioSpec;
use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{oneshot, watch};

/// Lines of stderr kept for error messages.
const TAIL_LINES: usize = 12;
/// Longest line kept.
const TAIL_LINE_BYTES: usize = 400;

/// A running server process.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    exit: watch::Receiver<Option<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    kill: Option<oneshot::Sender<()>>,
    pid: Option<u32>,
}

/// Kills the process group when dropped unless the group is known to be gone.
struct GroupGuard {
    child: Box<dyn ChildWrapper>,
    reaped: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.start_kill();
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "exited".to_string(),
    }
}

impl ServerProcess {
    /// Starts `spec` with piped stdio; returns the process and its stdout/stdin.
    pub(crate) fn spawn(spec: &StdioSpec) -> Result<(Self, ChildStdout, ChildStdin), ErrorKind> {
        let mut cmd = tokio::process::Command::new(&spec.command);
        cmd.args(&spec.args)
            .envs(&spec.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let mut wrap = CommandWrap::from(cmd);
        wrap.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
        let mut child = wrap.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::CommandNotFound {
                command: spec.command.clone(),
            },
            _ => ErrorKind::CannotStart {
                command: spec.command.clone(),
                reason: crate::io_reason(&e),
            },
        })?;
        let pid = child.id();
        let stdin = child.stdin().take();
        let stdout = child.stdout().take();
        let stderr = child.stderr().take();
        let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
            let _ = child.start_kill();
            return Err(ErrorKind::CannotStart {
                command: spec.command.clone(),
                reason: "its standard input/output could not be connected".into(),
            });
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_done = if let Some(stderr) = stderr {
            let tail = Arc::clone(&tail);
            let (done_tx, done_rx) = oneshot::channel::<()>();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(mut line)) = lines.next_line().await {
                    if line.len() > TAIL_LINE_BYTES {
                        let mut cut = TAIL_LINE_BYTES;
                        while !line.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        line.truncate(cut);
                        line.push_str("...");
                    }
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == TAIL_LINES {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                }
                let _ = done_tx.send(());
            });
            Some(done_rx)
        } else {
            None
        };
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut guard = GroupGuard {
                child,
                reaped: false,
            };
            let status = tokio::select! {
                status = guard.child.inner_mut().wait() => status.ok(),
                _ = kill_rx => {
                    let _ = guard.child.start_kill();
                    guard.child.inner_mut().wait().await.ok()
                }
            };
            // Let the stderr reader drain what the process wrote before dying, so the
            // error message has the last words (bounded: a grandchild may hold stderr).
            if let Some(done) = stderr_done {
                let _ = tokio::time::timeout(Duration::from_millis(300), done).await;
            }
            let text = status.map_or_else(|| "exited".to_string(), describe);
            let _ = exit_tx.send(Some(text));
            // The leader is gone; kill whatever it left in its group, then reap.
            let _ = guard.child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), guard.child.wait()).await;
            guard.reaped = true;
        });
        Ok((
            Self {
                exit: exit_rx,
                stderr: tail,
                kill: Some(kill_tx),
                pid,
            },
            stdout,
            stdin,
        ))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The last lines of stderr.
    pub(crate) fn stderr_tail(&self) -> String {
        self.stderr
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// How the process ended, if it has; waits up to `wait` for it to end.
    pub(crate) async fn exit_status(&self, wait: Duration) -> Option<String> {
        let mut rx = self.exit.clone();
        let res = tokio::time::timeout(wait, rx.wait_for(Option::is_some)).await;
        match res {
            Ok(Ok(v)) => v.clone(),
            _ => self.exit.borrow().clone(),
        }
    }

    /// Ends the process: waits up to `grace` for it to exit by itself (its stdin should
    /// be closed already), then kills its process group.
    pub(crate) async fn stop(&mut self, grace: Duration) {
        if self.exit_status(grace).await.is_none()
            && let Some(kill) = self.kill.take()
        {
            let _ = kill.send(());
            let _ = self.exit_status(Duration::from_secs(3)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}
