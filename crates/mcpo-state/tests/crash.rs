//! Atomicity: a process that writes the state in a loop is SIGKILLed at random moments;
//! after every kill the state file (and every version in the history) is a complete,
//! valid state of some serial, and serials only grow.

#![cfg(unix)]

mod support;

use mcpo_state::{Backend, LocalBackend, State};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const RESOURCES: usize = 200;

/// A state written by `mcpo-state-child write-loop` is complete: every resource carries
/// the generation of the output `gen`.
fn check_complete(state: &State, what: &str) {
    let generation = state.outputs.get("gen").map(|o| o.value.clone());
    let Some(generation) = generation else {
        assert!(state.resources.is_empty(), "{what}: resources without gen");
        return;
    };
    assert_eq!(state.resources.len(), RESOURCES, "{what}: resource count");
    for (address, r) in &state.resources {
        assert_eq!(
            r.inputs["gen"], generation,
            "{what}: {address} from another write"
        );
        assert_eq!(
            r.outputs["gen"], generation,
            "{what}: {address} from another write"
        );
    }
}

fn inode(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// xorshift64*: enough randomness for kill times; the seed is printed on failure.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[test]
fn sigkill_at_any_moment_leaves_a_complete_state() {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf-8 temp path").to_string();
    let state_file = LocalBackend::new(&root).state_path();
    let mut last_serial = 0;
    let mut progressed = 0;
    let rounds = 30;
    for round in 0..rounds {
        let before = inode(&state_file);
        let mut child = Command::new(support::CHILD)
            .args(["write-loop", &root, &RESOURCES.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the writer");
        // Wait for its first write (a rename gives state.json a new inode), then kill it at
        // a random moment of the writes that follow.
        let started = Instant::now();
        while inode(&state_file) == before && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.below(30_000)));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(
            !status.success(),
            "seed {seed}, round {round}: the writer was killed"
        );

        let backend = LocalBackend::new(&root);
        let state = backend
            .read()
            .unwrap_or_else(|e| panic!("seed {seed}, round {round}: {}", e.render()));
        check_complete(
            &state,
            &format!("seed {seed}, round {round}, serial {}", state.serial),
        );
        assert!(state.serial >= last_serial, "seed {seed}: serial went back");
        if state.serial > last_serial {
            progressed += 1;
        }
        last_serial = state.serial;
    }
    assert!(
        progressed == rounds,
        "the writer made progress in {progressed} rounds"
    );

    let backend = LocalBackend::new(&root);
    // A kill between keeping the replaced version and pruning leaves one version too
    // many; the next write prunes it.
    assert!(backend.history().expect("history").len() <= mcpo_state::HISTORY_KEPT + 1);
    let mut state = backend
        .read()
        .unwrap_or_else(|e| panic!("seed {seed}: {}", e.render()));
    backend
        .write(&mut state)
        .unwrap_or_else(|e| panic!("seed {seed}: {}", e.render()));
    let history = backend.history().expect("history");
    assert!(history.len() <= mcpo_state::HISTORY_KEPT);
    assert!(!history.is_empty());
    for serial in history {
        let old = backend
            .read_version(serial)
            .unwrap_or_else(|e| panic!("seed {seed}: version {serial}: {}", e.render()));
        assert_eq!(
            old.serial, serial,
            "seed {seed}: history file named by its serial"
        );
        check_complete(&old, &format!("seed {seed}, history {serial}"));
    }
}
