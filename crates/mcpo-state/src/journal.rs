//! The local backend's journal: the changes written since `state.json` (the snapshot), one
//! JSON line per version, appended and fsynced.
//!
//! ```text
//! {"lineage":"3f2a…","serial":8,"resources":{"aws.vpc.main":{…}},"intents":[…]}
//! {"lineage":"3f2a…","serial":9,"resources":{"aws.vpc.web":null},"intents":[]}
//! ```
//!
//! A step of an apply costs one small append instead of a rewrite of the whole state. The
//! current state is the snapshot with the journal's records applied in order; a record is
//! the next version (same lineage, serial one more). Records at or below the snapshot's
//! serial are what a compaction already wrote into the snapshot (a crash between the
//! snapshot's rename and the journal's removal leaves them): they are skipped. A last line
//! cut short (a crash in the middle of an append, which was therefore never reported
//! durable) is ignored and cut off before the next append; anything else that does not
//! continue the state is damage (E0501), never guessed around.
//!
//! With encryption configured each line is sealed on its own ([`crate::crypt`]): one
//! append still costs one small line, and a line is opened when the journal is replayed.

use crate::crypt::{Encryption, OpenError};
use crate::{Delta, State};
use serde::{Deserialize, Serialize};

/// The journal's file name in `.mcpo/state/`.
pub(crate) const JOURNAL_FILE: &str = "journal";

/// One line of the journal, as written.
#[derive(Serialize)]
struct RecordOut<'a> {
    lineage: &'a str,
    serial: u64,
    #[serde(flatten)]
    delta: &'a Delta,
}

/// One line of the journal, as read.
#[derive(Deserialize)]
struct RecordIn {
    lineage: String,
    serial: u64,
    #[serde(flatten)]
    delta: Delta,
}

/// The line recording version `serial` of `lineage` as `delta`, sealed with `keys` when
/// given, newline included.
pub(crate) fn encode(
    lineage: &str,
    serial: u64,
    delta: &Delta,
    keys: Option<&Encryption>,
) -> Result<Vec<u8>, String> {
    let mut line = serde_json::to_vec(&RecordOut {
        lineage,
        serial,
        delta,
    })
    .map_err(|e| e.to_string())?;
    if let Some(keys) = keys {
        line = keys.seal(&line)?;
    }
    line.push(b'\n');
    Ok(line)
}

/// Why a journal could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplayError {
    /// A line is not a record that continues the state: what and where.
    Damaged(String),
    /// A sealed line cannot be opened with the configured keys.
    Key(OpenError),
}

/// What [`replay`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Replayed {
    /// Records applied to the snapshot.
    pub(crate) applied: usize,
    /// The length of the complete records: a cut-off last line starts here.
    pub(crate) valid: u64,
}

/// Applies the journal `bytes` to `state` (the snapshot), opening sealed lines with
/// `keys`. The error says what is wrong with which line.
pub(crate) fn replay(
    bytes: &[u8],
    state: &mut State,
    keys: Option<&Encryption>,
) -> Result<Replayed, ReplayError> {
    let mut out = Replayed {
        applied: 0,
        valid: 0,
    };
    let mut at = 0usize;
    let mut line_no = 0usize;
    while at < bytes.len() {
        line_no += 1;
        let rest = bytes.get(at..).unwrap_or_default();
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            // A last line without its newline: an append cut short.
            break;
        };
        let line = rest.get(..end).unwrap_or_default();
        let next = at + end + 1;
        let opened = match crate::codec::open(line, keys) {
            Ok(l) => l,
            Err(OpenError::Damaged(_)) if next == bytes.len() => break,
            Err(OpenError::Damaged(why)) => {
                return Err(ReplayError::Damaged(format!("line {line_no}: {why}")));
            }
            Err(e) => return Err(ReplayError::Key(e)),
        };
        let record = match serde_json::from_slice::<RecordIn>(&opened) {
            Ok(r) => r,
            // The last line, complete but unreadable: the tail of an append a power loss
            // cut (never reported durable).
            Err(_) if next == bytes.len() => break,
            Err(e) => {
                return Err(ReplayError::Damaged(format!(
                    "line {line_no} is not a journal record: {e}"
                )));
            }
        };
        if record.lineage != state.lineage {
            return Err(ReplayError::Damaged(format!(
                "line {line_no} belongs to another state (lineage {}, not {})",
                record.lineage, state.lineage
            )));
        }
        if out.applied == 0 && record.serial <= state.serial {
            // Already in the snapshot (written by a compaction).
        } else if Some(record.serial) == state.serial.checked_add(1) {
            record.delta.apply_to(state);
            state.serial = record.serial;
            out.applied += 1;
        } else {
            return Err(ReplayError::Damaged(format!(
                "line {line_no} is version {}, but the state is at version {}",
                record.serial, state.serial
            )));
        }
        at = next;
        out.valid = at as u64;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResourceState;

    fn resource(id: &str) -> ResourceState {
        ResourceState {
            server: "aws".into(),
            type_name: "vpc".into(),
            id: id.into(),
            inputs: serde_json::json!({}),
            outputs: serde_json::json!({"id": id}),
            sensitive: Vec::new(),
            deps: Vec::new(),
            tainted: false,
        }
    }

    fn delta(address: &str, r: Option<ResourceState>) -> Delta {
        Delta {
            resources: [(address.to_string(), r)].into_iter().collect(),
            ..Delta::default()
        }
    }

    fn journal(records: &[(u64, Delta)]) -> Vec<u8> {
        records
            .iter()
            .flat_map(|(s, d)| encode("L", *s, d, None).expect("encode"))
            .collect()
    }

    fn snapshot(serial: u64) -> State {
        let mut s = State::new("L");
        s.serial = serial;
        s
    }

    #[test]
    fn records_after_the_snapshot_apply_in_order_and_older_ones_are_skipped() {
        let bytes = journal(&[
            (3, delta("a", Some(resource("old")))),
            (4, delta("a", Some(resource("a1")))),
            (5, delta("b", Some(resource("b1")))),
            (6, delta("a", None)),
        ]);
        let mut s = snapshot(4);
        let r = replay(&bytes, &mut s, None).expect("replay");
        assert_eq!(r.applied, 2);
        assert_eq!(r.valid, bytes.len() as u64);
        assert_eq!(s.serial, 6);
        assert!(!s.resources.contains_key("a"));
        assert_eq!(s.resources.get("b").map(|r| r.id.as_str()), Some("b1"));
    }

    #[test]
    fn a_cut_off_last_line_is_ignored_and_a_damaged_middle_is_an_error() {
        let mut bytes = journal(&[(1, delta("a", Some(resource("a1"))))]);
        let whole = bytes.len() as u64;
        let more = journal(&[(2, delta("b", Some(resource("b1"))))]);
        bytes.extend_from_slice(more.get(..more.len() / 2).unwrap_or_default());
        let mut s = snapshot(0);
        let r = replay(&bytes, &mut s, None).expect("replay");
        assert_eq!((r.applied, r.valid, s.serial), (1, whole, 1));

        let mut damaged = b"{not json}\n".to_vec();
        damaged.extend(journal(&[(1, delta("a", None))]));
        let err = replay(&damaged, &mut snapshot(0), None).expect_err("damaged");
        assert!(
            matches!(&err, ReplayError::Damaged(e) if e.starts_with("line 1 is not a journal record")),
            "{err:?}"
        );
    }

    #[test]
    fn a_gap_or_another_lineage_is_an_error() {
        let gap = journal(&[(3, delta("a", None))]);
        let err = replay(&gap, &mut snapshot(1), None).expect_err("gap");
        assert_eq!(
            err,
            ReplayError::Damaged("line 1 is version 3, but the state is at version 1".into())
        );
        let mut other = snapshot(0);
        other.lineage = "M".into();
        let err = replay(&gap, &mut other, None).expect_err("lineage");
        assert!(
            matches!(&err, ReplayError::Damaged(e) if e.contains("another state")),
            "{err:?}"
        );
    }

    #[test]
    fn sealed_lines_replay_with_their_key_and_hold_no_plaintext() {
        let keys = Encryption::new(crate::crypt::Secret::Key([3; 32]));
        let mut bytes = encode(
            "L",
            1,
            &delta("a", Some(resource("vpc-secret-id"))),
            Some(&keys),
        )
        .expect("encode");
        bytes.extend(encode("L", 2, &delta("b", None), Some(&keys)).expect("encode"));
        assert!(!String::from_utf8_lossy(&bytes).contains("vpc-secret-id"));
        let mut s = snapshot(0);
        replay(&bytes, &mut s, Some(&keys)).expect("replay");
        assert_eq!(
            s.resources.get("a").map(|r| r.id.as_str()),
            Some("vpc-secret-id")
        );
        let wrong = Encryption::new(crate::crypt::Secret::Key([4; 32]));
        assert_eq!(
            replay(&bytes, &mut snapshot(0), Some(&wrong)),
            Err(ReplayError::Key(OpenError::WrongKey))
        );
        assert_eq!(
            replay(&bytes, &mut snapshot(0), None),
            Err(ReplayError::Key(OpenError::NoKey))
        );
    }
}
