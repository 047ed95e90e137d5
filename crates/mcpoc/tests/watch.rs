//! `mcpoc watch` end to end: a workspace whose server is an AWS twin over HTTP (so that a
//! change can be made to the very twin the watch is connected to, by another client, as
//! someone working outside mcpo would), applied, then watched. A change is reported within
//! a second when the watch is subscribed to the twin's resources, within the interval when
//! it polls (`--no-subscribe`); `--once` exits 0 in sync, 2 after drift and 3 when a
//! resource's health check fails; a health check's result is reported as it changes; a
//! resource made outside mcpo is reported once, with the import that would manage it;
//! every JSON line parses and carries its time; Ctrl-C and SIGTERM stop the watch cleanly.

mod deploy_support;
mod twins_support;

use deploy_support::Ws;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An applied workspace and the HTTP twin its server block names.
struct Setup {
    ws: Ws,
    rt: tokio::runtime::Runtime,
    url: String,
    _twin: tokio::process::Child,
    twin_state: tempfile::TempDir,
}

/// The VPC workspace: a VPC, a subnet in it and an output reading it.
const VPC: &str = r#"
resource "aws.vpc" "main" {
  cidr_block = "10.0.0.0/16"
  name       = "app"
}

resource "aws.vpc_subnet" "a" {
  vpc_id            = aws.vpc.main.id
  cidr_block        = "10.0.1.0/24"
  availability_zone = "us-east-1a"
}

output "vpc_id" {
  value = aws.vpc.main.id
}
"#;

/// The health-check workspace: the twin's Route 53 health checks through an adapter that
/// declares their health check (the twin's `status` tool), one check, and an output
/// reading it.
const HEALTH: &str = r#"
adapter "aws" "route53_health_check" {
  inputs       = object({ name = string, region = string, fqdn = string })
  create       = aws::route53_health_check.create({ name = self.name, region = self.region, fqdn = self.fqdn })
  read         = aws::route53_health_check.read({ id = self.id })
  delete       = aws::route53_health_check.delete({ id = self.id })
  list         = aws::route53_health_check.list({})
  outputs      = { arn = result.arn }
  health       = aws::route53_health_check.status({ id = self.id })
  healthy_when = result.status == "Healthy"
}

resource "aws.route53_health_check" "west" {
  name   = "app-west"
  region = "us-west-2"
  fqdn   = "app.us-west-2.example.com"
}

output "west_check" {
  value = aws.route53_health_check.west.arn
}
"#;

impl Setup {
    /// The VPC workspace, applied on a fresh twin.
    fn applied() -> Setup {
        Setup::applied_with(VPC)
    }

    /// `source` (after the `server` block), applied on a fresh twin whose health checks
    /// fail for the regions listed in the file [`Setup::unhealthy`] writes.
    fn applied_with(source: &str) -> Setup {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let twin_state = tempfile::tempdir().expect("temp dir");
        let dir = twin_state.path().display().to_string();
        let switch = format!("@{}", twin_state.path().join("unhealthy").display());
        let (twin, url) = rt.block_on(twins_support::spawn_http_env(
            "aws",
            &["--state-dir", &dir],
            &[("MCPO_TWIN_UNHEALTHY", &switch)],
        ));
        let ws = Ws::empty();
        ws.write(
            "main.mcpo",
            &format!("server \"aws\" {{\n  url = \"{url}\"\n}}\n{source}"),
        );
        ws.pull();
        ws.apply_ok();
        Setup {
            ws,
            rt,
            url,
            _twin: twin,
            twin_state,
        }
    }

    /// Makes the twin's health checks of `regions` fail from its next call on (none:
    /// all pass).
    fn unhealthy(&self, regions: &str) {
        std::fs::write(self.twin_state.path().join("unhealthy"), regions).expect("write");
    }

    /// The id the state recorded for `address`.
    fn id_of(&self, address: &str) -> String {
        let run = self.ws.run(&["state", "show", address, "--format", "json"]);
        run.expect_code(0);
        let doc: Value = serde_json::from_str(&run.stdout).expect("state show JSON");
        doc.get("id")
            .and_then(Value::as_str)
            .expect("id")
            .to_string()
    }

    /// Calls `tool` on the twin directly, through a client of its own (not mcpoc).
    fn twin_call(&self, tool: &str, args: Value) -> Value {
        self.rt.block_on(async {
            let twin = twins_support::connect_http(&self.url).await;
            let out = twin.ok(tool, args).await;
            twin.stop().await;
            out
        })
    }

    /// Renames the VPC on the twin, outside mcpo.
    fn rename_vpc(&self, name: &str) {
        let id = self.id_of("aws.vpc.main");
        self.twin_call(
            "vpc.update",
            json!({"id": id, "cidr_block": "10.0.0.0/16", "name": name}),
        );
    }
}

/// A running `mcpoc watch` whose stdout lines arrive on a channel as they are printed.
struct Watching {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watching {
    fn start(ws: &Ws, args: &[&str]) -> Watching {
        let mut child = ws.spawn(args);
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watching {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to `within` for a JSON line matching `want`; returns it.
    fn next_matching(&mut self, within: Duration, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => panic!(
                    "no matching event within {within:?}; lines so far:\n{}",
                    self.seen.join("\n")
                ),
            };
            let doc: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(doc.get("event").is_some_and(Value::is_string), "{line}");
            assert_recent_time(&doc);
            self.seen.push(line);
            if want(&doc) {
                return doc;
            }
        }
    }

    /// The JSON lines printed during `span` from now.
    fn lines_for(&mut self, span: Duration) -> Vec<Value> {
        let deadline = Instant::now() + span;
        let mut out = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            let doc: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert_recent_time(&doc);
            self.seen.push(line);
            out.push(doc);
        }
        out
    }

    /// Sends Ctrl-C (SIGINT) and waits for the exit; returns the exit code and the lines
    /// printed after the ones already seen.
    fn interrupt(self) -> (Option<i32>, Vec<String>) {
        self.signal("INT")
    }

    /// Sends the signal `name` (`INT`, `TERM`) and waits for the exit; returns the exit
    /// code and the lines printed after the ones already seen.
    fn signal(mut self, name: &str) -> (Option<i32>, Vec<String>) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let started = Instant::now();
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status.code();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the watch did not stop within 10s of SIG{name}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest: Vec<String> = self.lines.iter().collect();
        (code, rest)
    }
}

/// Asserts that a JSON line's `time` is RFC 3339 in UTC (`2026-12-07T20:31:05.123Z`) and
/// within the last minute.
fn assert_recent_time(doc: &Value) {
    let time = doc.get("time").and_then(Value::as_str).unwrap_or_default();
    let parsed = chrono::DateTime::parse_from_rfc3339(time)
        .unwrap_or_else(|e| panic!("`time` is not RFC 3339 ({e}): {doc}"));
    assert!(time.ends_with('Z') && time.len() == 24, "{doc}");
    let age = chrono::Utc::now().signed_duration_since(parsed);
    assert!(
        age >= chrono::Duration::zero() && age < chrono::Duration::seconds(60),
        "{doc}"
    );
}

/// The lines of a terminal watch without their `HH:MM:SS ` prefix (checked here).
fn untimed(stdout: &str) -> String {
    stdout
        .lines()
        .map(|l| {
            let (time, rest) = l.split_at_checked(9).unwrap_or_else(|| panic!("{l}"));
            let b = time.as_bytes();
            assert!(
                b.len() == 9
                    && b[8] == b' '
                    && b[2] == b':'
                    && b[5] == b':'
                    && [0, 1, 3, 4, 6, 7].iter().all(|i| b[*i].is_ascii_digit()),
                "no HH:MM:SS prefix: {l}"
            );
            format!("{rest}\n")
        })
        .collect()
}

/// The JSON lines of a `--once` run, without their (checked) times.
fn json_events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| {
            let mut doc: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_recent_time(&doc);
            doc.as_object_mut().map(|o| o.remove("time"));
            doc
        })
        .collect()
}

fn is(event: &str) -> impl Fn(&Value) -> bool + '_ {
    move |doc| doc.get("event").and_then(Value::as_str) == Some(event)
}

fn drift_of<'a>(address: &'a str, attribute: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |doc| {
        is("drift")(doc)
            && doc.get("address").and_then(Value::as_str) == Some(address)
            && doc.get("attribute").and_then(Value::as_str) == Some(attribute)
    }
}

/// Subscribed (the twin publishes `mcpo://vpc/<id>`; the interval is an hour, so no
/// polling pass can explain it): the change is reported within a second, with what depends
/// on the VPC; Ctrl-C then stops the watch with a last `stopped` line.
#[test]
fn a_change_outside_mcpo_is_reported_within_a_second_when_subscribed() {
    let s = Setup::applied();
    let mut w = Watching::start(&s.ws, &["watch", "--format", "json", "--interval", "1h"]);
    let ready = w.next_matching(Duration::from_secs(30), is("watching"));
    assert_eq!(ready.get("resources"), Some(&json!(2)), "{ready}");
    assert_eq!(ready.get("subscribed"), Some(&json!(2)), "{ready}");

    let changed = Instant::now();
    s.rename_vpc("renamed by hand");
    let drift = w.next_matching(Duration::from_secs(10), drift_of("aws.vpc.main", "name"));
    let took = changed.elapsed();
    eprintln!("watch latency, subscribed drift: {took:?}");
    assert!(took < Duration::from_secs(1), "reported after {took:?}");
    assert_eq!(drift.get("recorded"), Some(&json!("\"app\"")), "{drift}");
    assert_eq!(
        drift.get("live"),
        Some(&json!("\"renamed by hand\"")),
        "{drift}"
    );
    let dependents: Vec<&str> = drift
        .get("dependents")
        .and_then(Value::as_array)
        .expect("dependents")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(dependents, ["aws.vpc_subnet.a", "output.vpc_id"], "{drift}");

    // Put back as recorded: reported in sync again.
    s.rename_vpc("app");
    w.next_matching(Duration::from_secs(10), |d| {
        is("in_sync")(d) && d.get("address") == Some(&json!("aws.vpc.main"))
    });

    let (code, rest) = w.interrupt();
    let last: Value = serde_json::from_str(rest.last().expect("a last line")).expect("JSON");
    assert_recent_time(&last);
    assert_eq!(last.get("event"), Some(&json!("stopped")), "{rest:?}");
    assert_eq!(last.get("signal"), Some(&json!("SIGINT")), "{rest:?}");
    // Stopped by a signal: it did what it was started for, whatever it saw.
    assert_eq!(code, Some(0), "{rest:?}");
}

/// Polled (`--no-subscribe --interval 1s`): the change is reported within the interval
/// (plus the time a read takes).
#[test]
fn a_change_outside_mcpo_is_reported_within_the_interval_when_polled() {
    let s = Setup::applied();
    let mut w = Watching::start(
        &s.ws,
        &[
            "watch",
            "--format",
            "json",
            "--no-subscribe",
            "--interval",
            "1s",
        ],
    );
    let ready = w.next_matching(Duration::from_secs(30), is("watching"));
    assert_eq!(ready.get("subscribed"), Some(&json!(0)), "{ready}");
    assert_eq!(ready.get("interval_secs"), Some(&json!(1.0)), "{ready}");

    let changed = Instant::now();
    s.rename_vpc("renamed by hand");
    w.next_matching(Duration::from_secs(10), drift_of("aws.vpc.main", "name"));
    let took = changed.elapsed();
    eprintln!("watch latency, polled drift: {took:?}");
    assert!(took < Duration::from_secs(2), "reported after {took:?}");
    let (code, _) = w.interrupt();
    assert_eq!(code, Some(0));
}

/// `--once` for CI: 0 when everything matches the state, 2 after a change or a deletion
/// outside mcpo (reported as lines, or as JSON lines that parse), 0 again once an apply
/// has put things back.
#[test]
fn once_exits_0_in_sync_and_2_after_drift() {
    let s = Setup::applied();
    let clean = s.ws.run(&["watch", "--once", "--format", "json"]);
    clean.expect_code(0);
    let events = json_events(&clean.stdout);
    assert_eq!(
        events,
        [json!({"event": "health", "server": "aws", "healthy": true})],
        "{}",
        clean.both()
    );

    s.rename_vpc("renamed by hand");
    let subnet = s.id_of("aws.vpc_subnet.a");
    s.twin_call("vpc_subnet.delete", json!({"id": subnet}));
    let drifted = s.ws.run(&["watch", "--once"]);
    drifted.expect_code(2);
    assert!(
        drifted.stdout.contains(
            "drift: aws.vpc.main: `name` changed outside mcpo: \"app\" -> \"renamed by hand\" (depending on it: aws.vpc_subnet.a, output.vpc_id)"
        ),
        "{}",
        drifted.both()
    );
    assert!(
        drifted
            .stdout
            .contains("drift: aws.vpc_subnet.a: deleted outside mcpo (server `aws` has no `"),
        "{}",
        drifted.both()
    );
    // The watch writes nothing: the state still holds the subnet, and a second pass says
    // the same.
    s.ws.run(&["watch", "--once"]).expect_code(2);

    s.ws.apply_ok();
    s.ws.run(&["watch", "--once"]).expect_code(0);
}

fn health_of<'a>(address: &'a str, healthy: bool) -> impl Fn(&Value) -> bool + 'a {
    move |doc| {
        is("resource_health")(doc)
            && doc.get("address").and_then(Value::as_str) == Some(address)
            && doc.get("healthy") == Some(&json!(healthy))
    }
}

/// A resource whose type declares a health check (the adapter's `health` and
/// `healthy_when`): `--once` reports it healthy and exits 0, then unhealthy once its
/// endpoint fails and exits 3; a running watch reports each change within its interval;
/// SIGTERM stops it cleanly with exit 0.
#[test]
fn resource_health_is_reported_as_it_changes() {
    let s = Setup::applied_with(HEALTH);
    let healthy = s.ws.run(&["watch", "--once", "--format", "json"]);
    healthy.expect_code(0);
    assert_eq!(
        json_events(&healthy.stdout),
        [
            json!({"event": "health", "server": "aws", "healthy": true}),
            json!({
                "event": "resource_health",
                "address": "aws.route53_health_check.west",
                "healthy": true,
                "dependents": ["output.west_check"]
            }),
        ],
        "{}",
        healthy.both()
    );

    s.unhealthy("us-west-2");
    let down = s.ws.run(&["watch", "--once"]);
    down.expect_code(3);
    insta::assert_snapshot!("once_unhealthy", untimed(&down.stdout));

    s.unhealthy("");
    let mut w = Watching::start(&s.ws, &["watch", "--format", "json", "--interval", "1s"]);
    w.next_matching(
        Duration::from_secs(30),
        health_of("aws.route53_health_check.west", true),
    );
    w.next_matching(Duration::from_secs(30), is("watching"));
    let failed = Instant::now();
    s.unhealthy("us-west-2");
    let down = w.next_matching(
        Duration::from_secs(10),
        health_of("aws.route53_health_check.west", false),
    );
    let took = failed.elapsed();
    eprintln!("watch latency, polled health: failed: {took:?}");
    assert!(took < Duration::from_secs(2), "reported after {took:?}");
    let reason = down
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(reason.contains("\"status\":\"Unhealthy\""), "{down}");
    // Still unhealthy on the next passes: not reported again.
    let later = w.lines_for(Duration::from_millis(2500));
    assert!(!later.iter().any(is("resource_health")), "{later:?}");

    let recovered = Instant::now();
    s.unhealthy("");
    w.next_matching(
        Duration::from_secs(10),
        health_of("aws.route53_health_check.west", true),
    );
    let took = recovered.elapsed();
    eprintln!("watch latency, polled health: recovered: {took:?}");
    assert!(took < Duration::from_secs(2), "reported after {took:?}");

    let (code, rest) = w.signal("TERM");
    let last: Value = serde_json::from_str(rest.last().expect("a last line")).expect("JSON");
    assert_eq!(last.get("event"), Some(&json!("stopped")), "{rest:?}");
    assert_eq!(last.get("signal"), Some(&json!("SIGTERM")), "{rest:?}");
    assert_eq!(code, Some(0), "{rest:?}");
}

/// A VPC made on the twin outside mcpo (a type the state holds, listed through `vpc.list`)
/// is reported once by a running watch, and by `--once` with the import that would
/// manage it, which does not count as drift (exit 0). SIGTERM stops the watch cleanly.
#[test]
fn a_resource_made_outside_mcpo_is_reported_once_as_unmanaged() {
    let s = Setup::applied();
    let mut w = Watching::start(&s.ws, &["watch", "--format", "json", "--interval", "1s"]);
    w.next_matching(Duration::from_secs(30), is("watching"));
    let made = s.twin_call(
        "vpc.create",
        json!({"cidr_block": "10.9.0.0/16", "name": "by hand"}),
    );
    let id = made
        .get("id")
        .and_then(Value::as_str)
        .expect("id")
        .to_string();
    let found = w.next_matching(Duration::from_secs(10), is("unmanaged"));
    assert_eq!(found.get("server"), Some(&json!("aws")), "{found}");
    assert_eq!(found.get("type"), Some(&json!("vpc")), "{found}");
    assert_eq!(found.get("id"), Some(&json!(id)), "{found}");
    let later = w.lines_for(Duration::from_millis(2500));
    assert!(
        !later.iter().any(is("unmanaged")),
        "reported again: {later:?}"
    );

    let (code, rest) = w.signal("TERM");
    assert_eq!(code, Some(0), "{rest:?}");
    let last: Value = serde_json::from_str(rest.last().expect("a last line")).expect("JSON");
    assert_eq!(last.get("signal"), Some(&json!("SIGTERM")), "{rest:?}");

    let once = s.ws.run(&["watch", "--once"]);
    once.expect_code(0);
    assert_eq!(
        untimed(&once.stdout).replace(&id, "<ID>"),
        "health: server `aws` answers\n\
         unmanaged: aws.vpc `<ID>` exists on server `aws` but not in the state (to manage it: declare it and run `mcpoc import aws.vpc.NAME <ID>`)\n",
        "{}",
        once.both()
    );
}

/// `watch` never takes the state lock, so it offers no `--lock-timeout`.
#[test]
fn watch_takes_no_lock_timeout() {
    let ws = Ws::empty();
    let help = ws.run(&["watch", "--help"]);
    help.expect_code(0);
    assert!(help.stdout.contains("--interval"), "{}", help.stdout);
    assert!(!help.stdout.contains("--lock-timeout"), "{}", help.stdout);
    ws.run(&["watch", "--once", "--lock-timeout", "5s"])
        .expect_code(2);
}
