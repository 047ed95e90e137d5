//! Live progress of the commands that run steps (`apply`, `destroy`, runbooks) on a
//! terminal (built with the `live` feature).
//!
//! On a terminal (stderr), every running step has a spinner line with its elapsed time and
//! latest note, finished steps scroll above as one line each, and a bar at the bottom
//! counts what is done. Anywhere else (a pipe, a CI log, a test), the same events are
//! plain lines, exactly one per event (`mcpo_deploy::render::EventLines`), so that logs
//! stay readable and diffable.

use crate::render::{EventLines, LineKind};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Shows events as they come.
pub struct Progress {
    lines: EventLines,
    begun: Instant,
    live: Option<Live>,
}

/// The terminal display.
struct Live {
    multi: MultiProgress,
    total: ProgressBar,
    bars: BTreeMap<String, ProgressBar>,
}

impl Progress {
    /// A display for `total` steps: live on a terminal when `live` is true, plain lines
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
            lines: EventLines::default(),
            begun: Instant::now(),
            live,
        }
    }

    /// Time since the display was created.
    pub fn elapsed(&self) -> Duration {
        self.begun.elapsed()
    }

    /// Shows one event of the executor.
    pub fn event(&mut self, ev: &mcpo_exec::Event) {
        let Some(line) = self.lines.line(ev) else {
            return;
        };
        let Some(live) = &mut self.live else {
            eprintln!("{}", line.text);
            return;
        };
        match &line.kind {
            LineKind::Started(doing) => {
                let bar = live.multi.insert_from_back(1, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.green} {prefix} {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(line.address.clone());
                bar.set_message(format!("{doing}..."));
                bar.enable_steady_tick(Duration::from_millis(100));
                live.bars.insert(line.address.clone(), bar);
            }
            LineKind::Note(message) => match live.bars.get(&line.address) {
                Some(bar) => bar.set_message(message.clone()),
                None => {
                    let _ = live.multi.println(&line.text);
                }
            },
            LineKind::Done | LineKind::Failed | LineKind::Skipped => {
                if let Some(bar) = live.bars.remove(&line.address) {
                    bar.finish_and_clear();
                    live.multi.remove(&bar);
                }
                let mark = match line.kind {
                    LineKind::Done => "✓",
                    LineKind::Failed => "✗",
                    _ => "-",
                };
                let _ = live.multi.println(format!("{mark} {}", line.text));
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
            None => eprintln!("{line}"),
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

/// Prints an apply or destroy summary: problems on stderr, the headline and the outputs
/// on stdout.
pub fn print_summary(
    summary: &mcpo_exec::Summary,
    title: &str,
    state: &mcpo_state::State,
    elapsed: std::time::Duration,
) {
    let text = crate::render::summary(summary, title, state, elapsed);
    if !summary.failed.is_empty() {
        eprintln!();
    }
    for line in &text.problems {
        eprintln!("{line}");
    }
    println!("\n{}", text.headline);
    if !text.outputs.is_empty() {
        println!("\nOutputs:");
        for line in &text.outputs {
            println!("  {line}");
        }
    }
}

/// How much of a refresh report to show, and where.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RefreshShow {
    /// Before a plan: what changed the state, on stderr; drift is left to the plan.
    Quiet,
    /// Before a plan that shows drift too: everything on stderr.
    Notes,
    /// `mcpoc refresh`: the report and its summary are the output, on stdout; errors on
    /// stderr.
    Report,
}

/// Prints a refresh report as `show` says.
pub fn print_refresh(report: &mcpo_exec::RefreshReport, show: RefreshShow) {
    for line in crate::render::refresh_notes(report, show != RefreshShow::Quiet) {
        if show == RefreshShow::Report {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
    for e in &report.errors {
        eprintln!("{}", e);
    }
    if show == RefreshShow::Report {
        for line in crate::render::refresh_summary(report) {
            println!("{line}");
        }
    }
}

/// Runs `watch`, printing each event on stdout as it comes: a line for people, or with
/// `json` one JSON object per line. SIGINT (Ctrl-C) or SIGTERM stops it cleanly: the
/// servers it started are shut down, a last `stopped` line names the signal, and the
/// outcome says it ([`crate::watch::Outcome::exit_code`] is then 0). A second signal while
/// it winds down returns at once (the servers' processes are killed as they are dropped).
pub async fn watch(
    watch: crate::watch::Watch,
    opts: crate::watch::WatchOptions,
    json: bool,
) -> Result<crate::watch::Outcome, crate::DeployError> {
    use crate::watch::{Noticed, WatchEvent};
    let print = |n: &Noticed| {
        let line = if json {
            crate::render::watch_json(n)
        } else {
            crate::render::watch_line(n)
        };
        println!("{line}");
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = mcpo_exec::CancellationToken::new();
    let run = watch.run(opts, tx, cancel.clone());
    tokio::pin!(run);
    let mut signals = crate::interrupt::Signals::new();
    let mut signal: Option<&'static str> = None;
    let result = loop {
        tokio::select! {
            done = &mut run => {
                while let Ok(n) = rx.try_recv() {
                    print(&n);
                }
                break Some(done);
            }
            Some(n) = rx.recv() => print(&n),
            name = signals.next() => {
                if signal.is_some() {
                    break None;
                }
                signal = Some(name);
                cancel.cancel();
            }
        }
    };
    let mut outcome = match result {
        Some(done) => done?,
        None => crate::watch::Outcome::default(),
    };
    if opts.once && signal.is_none() {
        return Ok(outcome);
    }
    outcome.signal = signal.map(str::to_string);
    print(&Noticed::now(WatchEvent::Stopped {
        signal: outcome.signal.clone(),
    }));
    Ok(outcome)
}
