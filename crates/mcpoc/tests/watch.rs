//! `mcpoc watch` end to end: a workspace whose server is an AWS twin over HTTP (so that a
//! change can be made to the very twin the watch is connected to, by another client, as
//! someone working outside mcpo would), applied, then watched. A change is reported within
//! a second when the watch is subscribed to the twin's resources, within the interval when
//! it polls (`--no-subscribe`); `--once` exits 0 in sync and 2 after drift; every JSON line
//! parses; Ctrl-C stops the watch cleanly.

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
    _twin_state: tempfile::TempDir,
}

impl Setup {
    /// A VPC, a subnet in it and an output reading it, applied on a fresh twin.
    fn applied() -> Setup {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let twin_state = tempfile::tempdir().expect("temp dir");
        let dir = twin_state.path().display().to_string();
        let (twin, url) = rt.block_on(twins_support::spawn_http("aws", &["--state-dir", &dir]));
        let ws = Ws::empty();
        ws.write(
            "main.mcpo",
            &format!(
                "server \"aws\" {{\n  url = \"{url}\"\n}}\n\n\
                 resource \"aws.vpc\" \"main\" {{\n  cidr_block = \"10.0.0.0/16\"\n  name       = \"app\"\n}}\n\n\
                 resource \"aws.vpc_subnet\" \"a\" {{\n  vpc_id            = aws.vpc.main.id\n  \
                 cidr_block        = \"10.0.1.0/24\"\n  availability_zone = \"us-east-1a\"\n}}\n\n\
                 output \"vpc_id\" {{\n  value = aws.vpc.main.id\n}}\n"
            ),
        );
        ws.pull();
        ws.apply_ok();
        Setup {
            ws,
            rt,
            url,
            _twin: twin,
            _twin_state: twin_state,
        }
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
            self.seen.push(line);
            if want(&doc) {
                return doc;
            }
        }
    }

    /// Sends Ctrl-C (SIGINT) and waits for the exit; returns the exit code and the lines
    /// printed after the ones already seen.
    fn interrupt(mut self) -> (Option<i32>, Vec<String>) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
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
                "the watch did not stop within 10s of Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest: Vec<String> = self.lines.iter().collect();
        (code, rest)
    }
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
    assert_eq!(
        rest.last().map(String::as_str),
        Some("{\"event\":\"stopped\"}"),
        "{rest:?}"
    );
    // Something drifted while it watched: the same exit code as `--once`.
    assert_eq!(code, Some(2), "{rest:?}");
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
    assert!(took < Duration::from_secs(2), "reported after {took:?}");
    let (code, _) = w.interrupt();
    assert_eq!(code, Some(2));
}

/// `--once` for CI: 0 when everything matches the state, 2 after a change or a deletion
/// outside mcpo (reported as lines, or as JSON lines that parse), 0 again once an apply
/// has put things back.
#[test]
fn once_exits_0_in_sync_and_2_after_drift() {
    let s = Setup::applied();
    let clean = s.ws.run(&["watch", "--once", "--format", "json"]);
    clean.expect_code(0);
    let events: Vec<Value> = clean
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
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
