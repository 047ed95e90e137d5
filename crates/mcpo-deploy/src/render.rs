//! Text every front end shows the same way: the summary of a run, what a refresh found,
//! values as written in `.mcpo` source, a resource of the state, durations. Only text:
//! where it goes (a terminal, a tool result, a log) is the front end's business.

use mcpo_exec::{Action, Event, EventKind, RefreshReport, Summary};
use mcpo_state::{ResourceState, State};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A problem as shown to people:
///
/// ```text
/// error[E0631]: the saved plan is out of date
///   the plan was made from state serial 3; the state is now at serial 5
///   help: run `mcpoc plan --out plan.json` again and apply the new plan
/// ```
pub fn problem(p: &crate::Problem) -> String {
    let Some(code) = p.code else {
        return format!("error: {}\n", p.detail);
    };
    let summary = code.info().map_or("error", |i| i.summary);
    let mut out = format!("error[{code}]: {summary}\n");
    for line in p.detail.lines() {
        out.push_str(&format!("  {line}\n"));
    }
    if let Some(help) = &p.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out
}

/// Shows a duration like `0.4s`, `12s`, `2m05s`.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// A value as written in `.mcpo` source: strings quoted, lists and objects inline.
pub fn value(v: &Value) -> String {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Object(_) => "{}".into(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// An object key as written in source: bare when it is a name, else quoted.
fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

/// A resource of the state for people (`state show`): server, type, id, dependencies and
/// its inputs and outputs, sensitive values redacted.
pub fn resource(address: &str, r: &ResourceState) -> String {
    let shown = r.redacted();
    let mut out = format!("{address}\n");
    out.push_str(&format!("  server: {}\n", r.server));
    out.push_str(&format!("  type:   {}\n", r.type_name));
    out.push_str(&format!("  id:     {}\n", r.id));
    if r.tainted {
        out.push_str("  tainted: the next apply replaces it\n");
    }
    if !r.deps.is_empty() {
        out.push_str(&format!("  depends on: {}\n", r.deps.join(", ")));
    }
    for title in ["inputs", "outputs"] {
        let Some(map) = shown.get(title).and_then(Value::as_object) else {
            continue;
        };
        out.push_str(&format!("  {title}:\n"));
        let width = map.keys().map(|k| key(k).len()).max().unwrap_or(0);
        for (k, v) in map {
            out.push_str(&format!("    {:<width$} = {}\n", key(k), value(v)));
        }
    }
    out
}

/// The outputs of a state, one `name = value` line each (sensitive ones redacted), names
/// aligned.
pub fn outputs(state: &State) -> Vec<String> {
    let width = state.outputs.keys().map(String::len).max().unwrap_or(0);
    state
        .outputs
        .iter()
        .map(|(k, o)| {
            let shown = if o.sensitive {
                mcpo_state::REDACTED.to_string()
            } else {
                value(&o.value)
            };
            format!("{k:<width$} = {shown}")
        })
        .collect()
}

/// The addresses in a state, one line each, tainted ones marked.
pub fn addresses(state: &State) -> Vec<String> {
    state
        .resources
        .iter()
        .map(|(address, r)| {
            if r.tainted {
                format!("{address} (tainted)")
            } else {
                address.clone()
            }
        })
        .collect()
}

/// A note when a state holds operations interrupted before their result was recorded.
pub fn interrupted(state: &State) -> Option<String> {
    (!state.intents.is_empty()).then(|| {
        format!(
            "note: {} operation(s) were interrupted before their result was recorded; the next `mcpoc plan` or `mcpoc refresh` settles them",
            state.intents.len()
        )
    })
}

/// The outputs of a state as one JSON object, sensitive values redacted.
pub fn outputs_json(state: &State) -> Value {
    Value::Object(
        state
            .outputs
            .iter()
            .map(|(k, o)| (k.clone(), o.redacted()))
            .collect(),
    )
}

/// What `state restore` did, in one line: where the old versions went is the backend's
/// own account (a directory of the local state, a table of the database).
pub fn restored(restored: &crate::query::Restored) -> String {
    match restored {
        crate::query::Restored::Version { serial, state } => format!(
            "restored version {serial} as the current state (serial {}, {} resources); `mcpoc plan` shows what changed since",
            state.serial,
            state.resources.len()
        ),
        crate::query::Restored::Fresh { kept: Some(kept) } => {
            format!("started a new, empty state; {kept}")
        }
        crate::query::Restored::Fresh { kept: None } => {
            "started a new, empty state; there were no earlier versions to keep".to_string()
        }
    }
}

/// One line per resource removed from the state by `state rm`.
pub fn forgotten(removed: &[(String, ResourceState)]) -> Vec<String> {
    removed
        .iter()
        .map(|(address, r)| {
            format!(
                "removed {address} (id {}) from the state; it still exists on server `{}`",
                r.id, r.server
            )
        })
        .collect()
}

/// Rows as a table: columns padded to their widest cell, two spaces apart, the last
/// column unpadded.
pub fn table(rows: &[Vec<String>]) -> Vec<String> {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c + 1 == r.len() {
                    line.push_str(cell);
                } else {
                    let w = widths.get(c).copied().unwrap_or(0);
                    line.push_str(&format!("{cell:<w$}  "));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// What a refresh changed in the state, one line each: interrupted operations settled,
/// resources deleted outside mcpo, and with `drift` the attributes changed outside mcpo.
pub fn refresh_notes(report: &RefreshReport, drift: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for (address, id) in &report.adopted {
        lines.push(format!(
            "{address}: found the resource an interrupted create made (id {id}); it is now in the state"
        ));
    }
    for (address, what) in &report.resolved {
        lines.push(format!(
            "{address}: an interrupted operation was settled: {what}"
        ));
    }
    for g in &report.gone {
        lines.push(format!(
            "{}: deleted outside mcpo (server `{}` has no {} `{}`); removed from the state",
            g.address, g.server, g.type_name, g.id
        ));
    }
    if drift {
        for d in &report.drift {
            lines.push(format!(
                "{}: `{}` changed outside mcpo: {} -> {}",
                d.address, d.attribute, d.recorded, d.live
            ));
        }
    }
    lines
}

/// The closing lines of `refresh`: how many resources were read and what changed.
pub fn refresh_summary(report: &RefreshReport) -> Vec<String> {
    let changed = report.drift.len() + report.gone.len() + report.adopted.len();
    let mut lines = vec![format!(
        "Read {} resource(s): {}.",
        report.read,
        if changed == 0 && report.errors.is_empty() {
            "no drift".to_string()
        } else {
            format!(
                "{} attribute(s) changed outside mcpo, {} deleted outside mcpo, {} interrupted create(s) adopted, {} read(s) failed",
                report.drift.len(),
                report.gone.len(),
                report.adopted.len(),
                report.errors.len()
            )
        }
    )];
    if !report.drift.is_empty() {
        lines.push(
            "The next `mcpoc apply` changes the drifted attributes back to the configuration."
                .into(),
        );
    }
    lines
}

/// A run's summary for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryText {
    /// The problems, one or more lines each (errors, skipped steps, what was not started,
    /// rollback).
    pub problems: Vec<String>,
    /// `Apply complete in 1.2s: 3 created, 0 updated, 0 replaced, 0 deleted.`
    pub headline: String,
    /// The workspace's outputs after a successful run (see [`outputs`]).
    pub outputs: Vec<String>,
}

/// The summary of a run titled `title` (`Apply`, `Destroy`), with the state it left.
pub fn summary(summary: &Summary, title: &str, state: &State, took: Duration) -> SummaryText {
    let n = |a: Action| summary.count(a);
    let mut parts = vec![
        format!("{} created", n(Action::Create)),
        format!("{} updated", n(Action::Update)),
        format!("{} replaced", n(Action::Replace)),
        format!("{} deleted", n(Action::Delete)),
    ];
    if n(Action::Run) > 0 {
        parts.push(format!("{} tasks run", n(Action::Run)));
    }
    if n(Action::Forget) > 0 {
        parts.push(format!("{} forgotten", n(Action::Forget)));
    }
    for (count, what) in [
        (summary.failed.len(), "failed"),
        (summary.skipped.len(), "skipped"),
        (summary.not_started.len(), "not started"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {what}"));
        }
    }
    let mut problems: Vec<String> = summary.failed.iter().map(ToString::to_string).collect();
    for (address, because) in &summary.skipped {
        problems.push(format!(
            "{address}: skipped: depends on {because}, which failed"
        ));
    }
    if summary.cancelled {
        let shown: BTreeSet<&str> = summary.not_started.iter().map(String::as_str).collect();
        problems.push(format!(
            "not started (the run was interrupted): {}",
            shown.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !summary.rolled_back.is_empty() {
        problems.push(format!(
            "rolled back {} step(s) of this run: {}",
            summary.rolled_back.len(),
            summary.rolled_back.join(", ")
        ));
    }
    for e in &summary.rollback_failed {
        problems.push(format!("{e} (while rolling back)"));
    }
    let outcome = if summary.ok() { "complete" } else { "failed" };
    SummaryText {
        problems,
        headline: format!(
            "{title} {outcome} in {}: {}.",
            elapsed(took),
            parts.join(", ")
        ),
        outputs: if summary.ok() {
            outputs(state)
        } else {
            Vec::new()
        },
    }
}

/// What a step is doing: "creating", "deleting", ...
pub fn doing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::Read | Action::NoOp => "reading",
        Action::Run => "running",
        Action::Forget => "forgetting",
    }
}

/// What a step did: "created", "deleted", ...
pub fn done(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Read | Action::NoOp => "read",
        Action::Run => "ran",
        Action::Forget => "forgot",
    }
}

/// One event of a run, as a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The step's address.
    pub address: String,
    /// What kind of line.
    pub kind: LineKind,
    /// The line: `aws.vpc.main: created in 0.4s`.
    pub text: String,
}

/// What a [`Line`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// The step started, doing this ("creating").
    Started(&'static str),
    /// A note while it runs (waiting for readiness, a retry, a phase).
    Note(String),
    /// It finished well (or was rolled back).
    Done,
    /// It failed.
    Failed,
    /// It did not run.
    Skipped,
}

/// Turns the executor's events into one line each, remembering when each step started and
/// what it does (a failure line says what failed and after how long).
#[derive(Debug, Default)]
pub struct EventLines {
    started: BTreeMap<String, (Instant, Action)>,
}

impl EventLines {
    /// The line of `ev`; `None` for steps that change nothing.
    pub fn line(&mut self, ev: &Event) -> Option<Line> {
        let address = ev.address.clone();
        let took = |s: &Self| {
            elapsed(
                s.started
                    .get(&address)
                    .map_or(Duration::ZERO, |(t, _)| t.elapsed()),
            )
        };
        let (kind, text) = match &ev.kind {
            EventKind::Started { action } => {
                self.started.insert(address.clone(), (ev.at, *action));
                if *action == Action::NoOp {
                    return None;
                }
                let d = doing(*action);
                (LineKind::Started(d), format!("{address}: {d}..."))
            }
            EventKind::Progress(m) => self.note(&address, m.clone()),
            EventKind::Waiting => self.note(&address, "waiting until it is ready".into()),
            EventKind::Retrying { attempt, error } => self.note(
                &address,
                format!("attempt {attempt} failed ({error}); retrying"),
            ),
            EventKind::Done { action, .. } => {
                if *action == Action::NoOp {
                    return None;
                }
                (
                    LineKind::Done,
                    format!("{address}: {} in {}", done(*action), took(self)),
                )
            }
            EventKind::Failed { error } => {
                let action = self
                    .started
                    .get(&address)
                    .map_or(Action::Create, |(_, a)| *a);
                // One line here; the whole error (stderr tail, help) is in the summary.
                let first = error.message.lines().next().unwrap_or_default();
                (
                    LineKind::Failed,
                    format!(
                        "{address}: {} failed after {}: error[{}]: {first}",
                        doing(action),
                        took(self),
                        error.code
                    ),
                )
            }
            EventKind::Skipped { because } => (
                LineKind::Skipped,
                format!("{address}: skipped: depends on {because}, which failed"),
            ),
            EventKind::RolledBack { .. } => (
                LineKind::Done,
                format!("{address}: rolled back in {}", took(self)),
            ),
        };
        Some(Line {
            address,
            kind,
            text,
        })
    }

    fn note(&self, address: &str, message: String) -> (LineKind, String) {
        let took = elapsed(
            self.started
                .get(address)
                .map_or(Duration::ZERO, |(t, _)| t.elapsed()),
        );
        let text = format!("{address}: {message} ({took})");
        (LineKind::Note(message), text)
    }
}

/// One event of `mcpoc watch` as a line for people: the local time it was noticed
/// (`HH:MM:SS`), then [`watch_text`].
pub fn watch_line(noticed: &crate::watch::Noticed) -> String {
    let time = chrono::DateTime::<chrono::Local>::from(noticed.time);
    format!("{} {}", time.format("%H:%M:%S"), watch_text(&noticed.event))
}

/// What a line of `mcpoc watch` says of an event, without its time.
pub fn watch_text(event: &crate::watch::WatchEvent) -> String {
    use crate::watch::WatchEvent as W;
    let depending = |dependents: &[String]| {
        if dependents.is_empty() {
            String::new()
        } else {
            format!(" (depending on it: {})", dependents.join(", "))
        }
    };
    match event {
        W::Watching {
            resources,
            subscribed,
            interval_secs,
        } => format!(
            "watching {resources} resource(s): {subscribed} subscribed to, all read every {}; Ctrl-C stops",
            mcpo_mcp::show_duration(std::time::Duration::from_secs_f64(*interval_secs))
        ),
        W::Health {
            server,
            healthy: true,
            ..
        } => format!("health: server `{server}` answers"),
        W::Health {
            server, message, ..
        } => format!("health: server `{server}` does not answer: {message}"),
        W::Drift {
            address,
            attribute,
            recorded,
            live,
            dependents,
        } => format!(
            "drift: {address}: `{attribute}` changed outside mcpo: {recorded} -> {live}{}",
            depending(dependents)
        ),
        W::Gone {
            address,
            server,
            id,
            dependents,
        } => format!(
            "drift: {address}: deleted outside mcpo (server `{server}` has no `{id}`){}",
            depending(dependents)
        ),
        W::OutputChanged {
            address,
            attribute,
            recorded,
            live,
            dependents,
        } => format!(
            "output: {address}: `{attribute}` is now {live} (was {recorded}){}",
            depending(dependents)
        ),
        W::InSync { address } => format!("in sync: {address} matches the state again"),
        W::ResourceHealth {
            address,
            healthy: true,
            dependents,
            ..
        } => format!("health: {address} is healthy{}", depending(dependents)),
        W::ResourceHealth {
            address,
            reason,
            dependents,
            ..
        } => format!(
            "health: {address} is unhealthy: {reason}{}",
            depending(dependents)
        ),
        W::Unmanaged {
            server,
            type_name,
            id,
        } => format!(
            "unmanaged: {server}.{type_name} `{id}` exists on server `{server}` but not in the state (to manage it: declare it and run `mcpoc import {server}.{type_name}.NAME {id}`)"
        ),
        W::Stopped { signal: Some(s) } => format!("stopped ({s})"),
        W::Stopped { signal: None } => "stopped".to_string(),
    }
}

/// One event of `mcpoc watch` as a JSON line for log pipelines: an object with the time it
/// was noticed (`time`, RFC 3339 in UTC, to the millisecond), its kind (`event`) and its
/// fields.
pub fn watch_json(noticed: &crate::watch::Noticed) -> String {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        time: String,
        #[serde(flatten)]
        event: &'a crate::watch::WatchEvent,
    }
    let time = chrono::DateTime::<chrono::Utc>::from(noticed.time)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::to_string(&Line {
        time,
        event: &noticed.event,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_source() {
        let v = serde_json::json!({"a": [1, "x"], "b c": {}, "1d": null});
        assert_eq!(value(&v), r#"{ "1d" = null, a = [1, "x"], "b c" = {} }"#);
    }

    #[test]
    fn one_line_per_event() {
        use mcpo_exec::ExecError;
        let at = Instant::now();
        let ev = |address: &str, kind| Event {
            address: address.into(),
            at,
            kind,
        };
        let mut lines = EventLines::default();
        let mut text = |e| lines.line(&e).map(|l| l.text);
        assert_eq!(
            text(ev(
                "aws.vpc.main",
                EventKind::Started {
                    action: Action::Create
                }
            ))
            .as_deref(),
            Some("aws.vpc.main: creating...")
        );
        let done = text(ev(
            "aws.vpc.main",
            EventKind::Done {
                action: Action::Create,
                elapsed: Duration::ZERO,
            },
        ))
        .unwrap_or_default();
        assert!(done.starts_with("aws.vpc.main: created in 0."), "{done}");
        text(ev(
            "aws.vpc_subnet.a",
            EventKind::Started {
                action: Action::Create,
            },
        ));
        let failed = text(ev(
            "aws.vpc_subnet.a",
            EventKind::Failed {
                error: ExecError::new(mcpo_diagnostics::codes::E0600, "no\nmore"),
            },
        ))
        .unwrap_or_default();
        assert!(
            failed.starts_with("aws.vpc_subnet.a: creating failed after 0."),
            "{failed}"
        );
        assert!(failed.ends_with("s: error[E0600]: no"), "{failed}");
        assert_eq!(
            text(ev(
                "aws.ec2_instance.web",
                EventKind::Skipped {
                    because: "aws.vpc_subnet.a".into()
                }
            ))
            .as_deref(),
            Some("aws.ec2_instance.web: skipped: depends on aws.vpc_subnet.a, which failed")
        );
        assert_eq!(
            text(ev(
                "x.y.z",
                EventKind::Started {
                    action: Action::NoOp
                }
            )),
            None
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(elapsed(Duration::from_millis(400)), "0.4s");
        assert_eq!(elapsed(Duration::from_secs(12)), "12s");
        assert_eq!(elapsed(Duration::from_secs(125)), "2m05s");
    }
}
