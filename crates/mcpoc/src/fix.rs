//! `mcpoc fix [PATH...] [--dry-run]`: applies every machine-applicable suggestion of
//! `check` (did-you-mean renames of attributes, types, references and functions), the way
//! `cargo fix` does, then reports what is left.
//!
//! The rounds of fixes are `mcpo_deploy::fix`; this prints them (a diff with `--dry-run`)
//! or writes them.

use crate::output::{self, Format};
use crate::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use clap::Args;
use mcpo_diagnostics::Diagnostic;
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

/// Runs `mcpoc fix`.
pub fn fix_command(args: FixArgs) -> u8 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let fixed = match mcpo_deploy::fix::fix(&paths) {
        Ok(f) => f,
        Err(p) => return crate::report::problem(&p),
    };
    let mut failed = false;
    for e in &fixed.edits {
        if args.dry_run {
            print!(
                "{}",
                similar::TextDiff::from_lines(e.before.as_str(), e.after.as_str())
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{}", e.name), &format!("b/{}", e.name))
            );
        } else if let Err(err) = mcpo_deploy::files::write_atomically(&e.path, &e.after) {
            eprintln!("error: cannot write `{}`: {err}", e.path.display());
            failed = true;
        }
    }
    let (applied, files) = (fixed.applied, fixed.edits.len());
    let verb = if args.dry_run { "would fix" } else { "fixed" };
    eprintln!(
        "{verb} {applied} problem{} in {files} file{}",
        if applied == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    );
    let mut remaining = fixed.remaining;
    output::print(
        &mut remaining.diagnostics,
        &remaining.sources,
        Format::Human,
    );
    if failed {
        EXIT_USAGE
    } else if remaining.diagnostics.iter().any(Diagnostic::is_error) {
        EXIT_ERRORS
    } else {
        EXIT_OK
    }
}
