//! `fix`: applies every machine-applicable suggestion of `check` (did-you-mean renames of
//! attributes, types, references and functions) to the files, the way `cargo fix` does.
//!
//! The fixes are the ones the diagnostics carry and the language server offers as quick
//! fixes; choosing and applying them is `mcpo_diagnostics::fix`. A fix can uncover the
//! next problem (a corrected type name lets its attributes be checked), so the files are
//! checked again after each round, in memory, until nothing more applies.

use crate::error::Problem;
use crate::load::{CheckReport, check_paths};
use mcpo_diagnostics::{SourceMap, fix};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// At most this many check-and-fix rounds (a fix that undoes another cannot loop).
const MAX_ROUNDS: usize = 8;

/// One file the fixes change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Where it is.
    pub path: PathBuf,
    /// Its display name.
    pub name: String,
    /// Its text now.
    pub before: String,
    /// Its text with the fixes.
    pub after: String,
}

/// What [`fix`] found: the edits (not written), how many fixes they hold, and the check of
/// the files as they would be after them.
pub struct Fixed {
    /// The files that change.
    pub edits: Vec<Edit>,
    /// How many fixes were applied.
    pub applied: usize,
    /// What `check` reports of the fixed files.
    pub remaining: CheckReport,
}

/// Computes the fixes for the files under `paths`, round after round; writes nothing.
pub fn fix(paths: &[PathBuf]) -> Result<Fixed, Problem> {
    let mut edited: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut originals: BTreeMap<PathBuf, (String, String)> = BTreeMap::new();
    let mut applied = 0usize;
    let mut checked = check_paths(paths, false, &edited)?;
    for _ in 0..MAX_ROUNDS {
        let round = apply_round(&checked, &mut edited, &mut originals);
        if round == 0 {
            break;
        }
        applied += round;
        checked = check_paths(paths, false, &edited)?;
    }
    let edits = originals
        .into_iter()
        .filter_map(|(path, (name, before))| {
            let after = edited.get(&path).filter(|now| **now != before)?.clone();
            Some(Edit {
                path,
                name,
                before,
                after,
            })
        })
        .collect();
    Ok(Fixed {
        edits,
        applied,
        remaining: checked,
    })
}

/// `text` in the canonical layout, or `None` when it does not parse cleanly.
fn formatted(text: &str) -> Option<String> {
    let parsed = mcpo_syntax::parse(text, mcpo_diagnostics::FileId(0));
    parsed
        .diagnostics
        .is_empty()
        .then(|| mcpo_fmt::format(text, &parsed.file))
}

/// Applies the fixes of one check to the files' texts in `edited` (remembering each
/// file's first text and display name in `originals`); returns how many were applied.
fn apply_round(
    checked: &CheckReport,
    edited: &mut BTreeMap<PathBuf, String>,
    originals: &mut BTreeMap<PathBuf, (String, String)>,
) -> usize {
    let mut applied = 0;
    for (path, id) in &checked.files {
        let fixes = fix::select(&checked.diagnostics, *id);
        if fixes.is_empty() {
            continue;
        }
        let text = checked.sources.text(*id);
        let after = fix::apply(text, &fixes);
        if after == text {
            continue;
        }
        let (_, original) = originals
            .entry(path.clone())
            .or_insert_with(|| (checked.sources.name(*id).to_string(), text.to_string()));
        // A file that was in the canonical layout stays in it (a longer name shifts the
        // alignment of its neighbours' `=`).
        let after = match formatted(original) {
            Some(f) if f == *original => formatted(&after).unwrap_or(after),
            _ => after,
        };
        edited.insert(path.clone(), after);
        applied += fixes.len();
    }
    applied
}
