//! `mcpoc fix [PATH...] [--dry-run]`: applies every machine-applicable suggestion of
//! `check` (did-you-mean renames of attributes, types, references and functions), the way
//! `cargo fix` does, then reports what is left.
//!
//! The fixes are the ones the diagnostics carry and the language server offers as quick
//! fixes; choosing and applying them is `mcpo_diagnostics::fix`. A fix can uncover the
//! next problem (a corrected type name lets its attributes be checked), so `fix` checks
//! again after each round, in memory, until nothing more applies.

use crate::commands::{Checked, diagnose, write_atomically};
use crate::output::{self, Format};
use crate::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use clap::Args;
use mcpo_diagnostics::{Diagnostic, SourceMap, fix};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `mcpoc fix`.
#[derive(Debug, Args)]
pub struct FixArgs {
    /// Files or directories (searched recursively). Default: the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Change nothing: print the changes as a unified diff on stdout.
    #[arg(long)]
    pub dry_run: bool,
}

/// At most this many check-and-fix rounds (a fix that undoes another cannot loop).
const MAX_ROUNDS: usize = 8;

/// Runs `mcpoc fix`.
pub fn fix_command(args: FixArgs) -> u8 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let mut edited: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut originals: BTreeMap<PathBuf, (String, String)> = BTreeMap::new();
    let mut applied = 0usize;
    let mut checked = match diagnose(&paths, false, &edited) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for _ in 0..MAX_ROUNDS {
        let round = apply_round(&checked, &mut edited, &mut originals);
        if round == 0 {
            break;
        }
        applied += round;
        checked = match diagnose(&paths, false, &edited) {
            Ok(c) => c,
            Err(code) => return code,
        };
    }
    let changed: Vec<(&PathBuf, &(String, String), &String)> = originals
        .iter()
        .filter_map(|(path, original)| {
            edited
                .get(path)
                .filter(|now| **now != original.1)
                .map(|now| (path, original, now))
        })
        .collect();
    let mut failed = false;
    for (path, (name, before), after) in &changed {
        if args.dry_run {
            print!(
                "{}",
                similar::TextDiff::from_lines(before.as_str(), after.as_str())
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{name}"), &format!("b/{name}"))
            );
        } else if let Err(e) = write_atomically(path, after) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            failed = true;
        }
    }
    let files = changed.len();
    let verb = if args.dry_run { "would fix" } else { "fixed" };
    eprintln!(
        "{verb} {applied} problem{} in {files} file{}",
        if applied == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    );
    let Checked {
        sources, mut diags, ..
    } = checked;
    output::print(&mut diags, &sources, Format::Human);
    if failed {
        EXIT_USAGE
    } else if diags.iter().any(Diagnostic::is_error) {
        EXIT_ERRORS
    } else {
        EXIT_OK
    }
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
    checked: &Checked,
    edited: &mut BTreeMap<PathBuf, String>,
    originals: &mut BTreeMap<PathBuf, (String, String)>,
) -> usize {
    let mut applied = 0;
    for (path, id) in &checked.files {
        let fixes = fix::select(&checked.diags, *id);
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
