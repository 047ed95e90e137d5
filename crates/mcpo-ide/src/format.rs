//! Formatting: the same formatter as `mcpoc fmt`.

use mcpo_sema::SourceFile;

/// The file's text in the canonical layout, or `None` when it has syntax errors (as
/// `mcpoc fmt`, which leaves such files alone) or is already formatted.
pub fn format(db: &dyn salsa::Database, file: SourceFile) -> Option<String> {
    let parsed = mcpo_sema::parse(db, file);
    if parsed.diagnostics.iter().any(|d| d.is_error()) {
        return None;
    }
    let text = file.text(db);
    let formatted = mcpo_fmt::format(text, &parsed.file);
    (formatted != *text).then_some(formatted)
}
