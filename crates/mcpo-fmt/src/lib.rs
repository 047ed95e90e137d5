//! The canonical formatter for mcpo and HCL source.
//!
//! [`format`] lays a parsed file out the way `terraform fmt` would: two-space
//! indentation, one space around `=` and binary operators, `=` aligned within runs of
//! consecutive single-line attributes, trailing comments aligned within runs of
//! consecutive commented lines, blank lines collapsed to at most one, and exactly one
//! newline at the end. It keeps every comment, reproduces templates' literal text and
//! heredocs byte for byte, and never changes what the file means: reparsing the output
//! gives the same tree up to spans ([`same_meaning`]). Where a comment sits somewhere the
//! layout rules cannot place it (inside an operator expression, say), the smallest
//! expression holding it is printed as written, re-indented.
//!
//! The formatter knows nothing of files or editors: it maps text to text.
#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

mod gap;
mod lines;
mod meaning;
mod printer;

use mcpo_diagnostics::{Diagnostic, FileId};
use mcpo_syntax::ast::SourceFile;

pub use meaning::same_meaning;

/// The result of [`format_with_report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatted {
    /// The formatted text.
    pub text: String,
    /// How many comments the layout could not place. When this is not zero, `text` is
    /// the source unchanged (the formatter never drops a comment); a non-zero count is
    /// a formatter bug worth reporting.
    pub unplaced_comments: usize,
}

/// Formats `source`, whose syntax tree is `parsed` (as returned by
/// [`mcpo_syntax::parse`] for that same text).
///
/// Files with syntax errors are formatted on a best-effort basis (the text the parser
/// skipped is kept as written); callers that want to refuse them should use
/// [`format_source`].
pub fn format(source: &str, parsed: &SourceFile) -> String {
    format_with_report(source, parsed).text
}

/// Like [`format`], and also says whether every comment could be placed.
pub fn format_with_report(source: &str, parsed: &SourceFile) -> Formatted {
    let (mut text, unplaced) = printer::print(source, parsed);
    // A byte-order mark is not part of any item; keep it where it was.
    if source.starts_with('\u{feff}') && !text.starts_with('\u{feff}') {
        text.insert(0, '\u{feff}');
    }
    if unplaced == 0 {
        Formatted {
            text,
            unplaced_comments: 0,
        }
    } else {
        Formatted {
            text: source.to_string(),
            unplaced_comments: unplaced,
        }
    }
}

/// Parses `text` and formats it; refuses (returning the error diagnostics) when the
/// file has syntax errors, since formatting a broken file could move text the parser
/// skipped.
pub fn format_source(text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = mcpo_syntax::parse(text, FileId(0));
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if errors.is_empty() {
        Ok(format(text, &parsed.file))
    } else {
        Err(errors)
    }
}
