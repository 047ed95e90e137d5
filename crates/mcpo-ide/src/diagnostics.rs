//! Diagnostics, grouped by file: exactly what `mcpoc check` reports from the checker.

use mcpo_diagnostics::{Diagnostic, FileId};
use mcpo_sema::Workspace;
use std::collections::BTreeMap;

/// Every diagnostic of the workspace ([`mcpo_sema::check`]), grouped by the file of its
/// primary span, each group sorted by position. Every file of the workspace has an entry
/// (empty when clean), so that a caller can clear what it showed before.
pub fn diagnostics(db: &dyn salsa::Database, ws: Workspace) -> BTreeMap<FileId, Vec<Diagnostic>> {
    let mut out: BTreeMap<FileId, Vec<Diagnostic>> = ws
        .files(db)
        .iter()
        .map(|f| (f.id(db), Vec::new()))
        .collect();
    for d in mcpo_sema::check(db, ws) {
        out.entry(d.file).or_default().push(d);
    }
    for v in out.values_mut() {
        mcpo_diagnostics::sort(v);
    }
    out
}
