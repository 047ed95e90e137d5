//! Live progress of `apply`, `destroy`, `refresh` and `import`.
//!
//! On a terminal (stderr), every running node has a spinner line with its elapsed time and
//! latest note, finished nodes scroll above as one line each, and a bar at the bottom
//! counts what is done. Anywhere else (a pipe, a CI log, a test), the same events are
//! plain lines, exactly one per event, so that logs stay readable and diffable.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// What is done to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    /// `T.create`.
    Create,
    /// `T.update`.
    Update,
    /// Delete then create (or create then delete).
    Replace,
    /// `T.delete`.
    Delete,
    /// A data source or refresh read.
    Read,
    /// A task's tool call.
    Run,
    /// An undo of an earlier step of the same run (`--rollback-on-failure`).
    Rollback,
    /// A data read or task removed from the state; nothing is called.
    Forget,
}

impl Verb {
    /// "creating", "updating", ...
    pub fn ing(self) -> &'static str {
        match self {
            Verb::Create => "creating",
            Verb::Update => "updating",
            Verb::Replace => "replacing",
            Verb::Delete => "deleting",
            Verb::Read => "reading",
            Verb::Run => "running",
            Verb::Rollback => "rolling back",
            Verb::Forget => "forgetting",
        }
    }

    /// "created", "updated", ...
    pub fn ed(self) -> &'static str {
        match self {
            Verb::Create => "created",
            Verb::Update => "updated",
            Verb::Replace => "replaced",
            Verb::Delete => "deleted",
            Verb::Read => "read",
            Verb::Run => "ran",
            Verb::Rollback => "rolled back",
            Verb::Forget => "forgot",
        }
    }
}

/// One thing that happened to one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The node's operation started.
    Started {
        /// The node's address.
        address: String,
        /// What is being done.
        verb: Verb,
    },
    /// Something worth saying while it runs (waiting for readiness, a retry).
    Note {
        /// The node's address.
        address: String,
        /// The note.
        message: String,
    },
    /// The operation succeeded.
    Done {
        /// The node's address.
        address: String,
        /// What was done.
        verb: Verb,
        /// The resource's id, when it has one.
        id: Option<String>,
    },
    /// The operation failed.
    Failed {
        /// The node's address.
        address: String,
        /// What was being done.
        verb: Verb,
        /// The error, as printed for people.
        error: String,
    },
    /// The node was not started (a dependency failed, or the run was interrupted).
    Skipped {
        /// The node's address.
        address: String,
        /// Why, e.g. "depends on aws.vpc.main, which failed".
        reason: String,
    },
}

/// Shows events as they come.
pub struct Progress {
    started: BTreeMap<String, Instant>,
    begun: Instant,
    live: Option<Live>,
    out: Box<dyn Write + Send>,
}

/// The terminal display.
struct Live {
    multi: MultiProgress,
    total: ProgressBar,
    bars: BTreeMap<String, ProgressBar>,
}

/// Shows `seconds` like `0.4s`, `12s`, `2m05s`.
pub fn show_elapsed(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

impl Progress {
    /// A display for `total` nodes: live on a terminal when `live` is true, plain lines
    /// on stderr otherwise.
    pub fn new(total: usize, live: bool) -> Progress {
        let live = live.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total_bar = multi.add(ProgressBar::new(total as u64));
            total_bar.set_style(
                ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} done [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            total_bar.enable_steady_tick(Duration::from_millis(200));
            Live {
                multi,
                total: total_bar,
                bars: BTreeMap::new(),
            }
        });
        Progress {
            started: BTreeMap::new(),
            begun: Instant::now(),
            live,
            out: Box::new(std::io::stderr()),
        }
    }

    /// A plain display writing to `out` (for tests).
    #[cfg(test)]
    fn plain_to(out: Box<dyn Write + Send>) -> Progress {
        Progress {
            started: BTreeMap::new(),
            begun: Instant::now(),
            live: None,
            out,
        }
    }

    /// Time since the display was created.
    pub fn elapsed(&self) -> Duration {
        self.begun.elapsed()
    }

    fn took(&self, address: &str) -> String {
        self.started
            .get(address)
            .map(|t| show_elapsed(t.elapsed()))
            .unwrap_or_else(|| show_elapsed(Duration::ZERO))
    }

    /// The line printed for a finished event (`None` for `Started`/`Note` on a terminal).
    fn line(&self, event: &Event) -> String {
        match event {
            Event::Started { address, verb } => format!("{address}: {}...", verb.ing()),
            Event::Note { address, message } => {
                format!("{address}: {message} ({})", self.took(address))
            }
            Event::Done { address, verb, id } => {
                let id = id
                    .as_deref()
                    .map(|id| format!(" [id={id}]"))
                    .unwrap_or_default();
                format!("{address}: {} in {}{id}", verb.ed(), self.took(address))
            }
            Event::Failed {
                address,
                verb,
                error,
            } => format!(
                "{address}: {} failed after {}: {error}",
                verb.ing(),
                self.took(address)
            ),
            Event::Skipped { address, reason } => format!("{address}: skipped: {reason}"),
        }
    }

    /// Shows one event.
    pub fn event(&mut self, event: &Event) {
        if let Event::Started { address, .. } = event {
            self.started.insert(address.clone(), Instant::now());
        }
        let line = self.line(event);
        let Some(live) = &mut self.live else {
            let _ = writeln!(self.out, "{line}");
            return;
        };
        match event {
            Event::Started { address, verb } => {
                let bar = live.multi.insert_from_back(1, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.green} {prefix} {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(address.clone());
                bar.set_message(format!("{}...", verb.ing()));
                bar.enable_steady_tick(Duration::from_millis(100));
                live.bars.insert(address.clone(), bar);
            }
            Event::Note { address, message } => {
                if let Some(bar) = live.bars.get(address) {
                    bar.set_message(message.clone());
                } else {
                    let _ = live.multi.println(line);
                }
            }
            Event::Done { address, .. }
            | Event::Failed { address, .. }
            | Event::Skipped { address, .. } => {
                if let Some(bar) = live.bars.remove(address) {
                    bar.finish_and_clear();
                    live.multi.remove(&bar);
                }
                let mark = match event {
                    Event::Done { .. } => "✓",
                    Event::Failed { .. } => "✗",
                    _ => "-",
                };
                let _ = live.multi.println(format!("{mark} {line}"));
                live.total.inc(1);
            }
        }
    }

    /// Prints a line above the live display (or plainly).
    pub fn println(&mut self, line: &str) {
        match &self.live {
            Some(live) => {
                let _ = live.multi.println(line);
            }
            None => {
                let _ = writeln!(self.out, "{line}");
            }
        }
    }

    /// Clears the live display (the lines printed above it stay).
    pub fn finish(&mut self) {
        if let Some(live) = self.live.take() {
            for bar in live.bars.values() {
                bar.finish_and_clear();
            }
            live.total.finish_and_clear();
            let _ = live.multi.clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(data);
            }
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_mode_prints_one_line_per_event() {
        let buf = Buf::default();
        let mut p = Progress::plain_to(Box::new(buf.clone()));
        let events = [
            Event::Started {
                address: "aws.vpc.main".into(),
                verb: Verb::Create,
            },
            Event::Note {
                address: "aws.vpc.main".into(),
                message: "waiting for state == \"available\"".into(),
            },
            Event::Done {
                address: "aws.vpc.main".into(),
                verb: Verb::Create,
                id: Some("vpc-1".into()),
            },
            Event::Started {
                address: "aws.vpc_subnet.a".into(),
                verb: Verb::Create,
            },
            Event::Failed {
                address: "aws.vpc_subnet.a".into(),
                verb: Verb::Create,
                error: "error[E0600]: tool call failed".into(),
            },
            Event::Skipped {
                address: "aws.ec2_instance.web".into(),
                reason: "depends on aws.vpc_subnet.a, which failed".into(),
            },
        ];
        for e in &events {
            p.event(e);
        }
        let text = String::from_utf8(buf.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), events.len(), "{text}");
        assert_eq!(lines.first(), Some(&"aws.vpc.main: creating..."));
        assert!(
            lines.get(2).is_some_and(
                |l| l.starts_with("aws.vpc.main: created in 0.") && l.ends_with("s [id=vpc-1]")
            ),
            "{text}"
        );
        assert!(
            lines.get(4).is_some_and(|l| l
                .starts_with("aws.vpc_subnet.a: creating failed after 0.")
                && l.ends_with("s: error[E0600]: tool call failed")),
            "{text}"
        );
        assert_eq!(
            lines.get(5),
            Some(&"aws.ec2_instance.web: skipped: depends on aws.vpc_subnet.a, which failed")
        );
    }

    #[test]
    fn elapsed_times_read_well() {
        assert_eq!(show_elapsed(Duration::from_millis(420)), "0.4s");
        assert_eq!(show_elapsed(Duration::from_secs(12)), "12s");
        assert_eq!(show_elapsed(Duration::from_secs(125)), "2m05s");
    }
}
