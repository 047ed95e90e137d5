//! Conversions between LSP terms (lines, UTF-16 columns, URIs) and mcpo's (byte offsets,
//! spans, file ids).

use crate::host::Snapshot;
use mcpo_diagnostics::{Diagnostic, Severity, Span};
use tower_lsp_server::ls_types as lsp;

/// Where the book is published, from the client's `initializationOptions.bookUrl`. The
/// project publishes no book at a fixed address, so without it diagnostics carry no link
/// (their code still names the explanation: `mcpoc explain CODE`).
static BOOK_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records the book's address from the client's initialization options (once).
pub(crate) fn set_book_url(options: Option<&serde_json::Value>) {
    if let Some(url) = options
        .and_then(|o| o.get("bookUrl"))
        .and_then(serde_json::Value::as_str)
        .map(|u| u.trim_end_matches('/'))
        .filter(|u| {
            u.starts_with("https://") || u.starts_with("http://") || u.starts_with("file://")
        })
    {
        let _ = BOOK_URL.set(url.to_string());
    }
}

/// Line starts of one text, for converting offsets to positions and back.
pub(crate) struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// The position of byte `offset` (clamped to the text, and back to a character
    /// boundary).
    pub fn position(&self, offset: usize) -> lsp::Position {
        let mut offset = offset.min(self.text.len());
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let col: usize = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().map(char::len_utf16).sum());
        lsp::Position::new(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(col).unwrap_or(u32::MAX),
        )
    }

    /// The byte offset of a position (a column past the line's end means its end; a
    /// line past the last means the end of the text).
    pub fn offset(&self, pos: lsp::Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(pos.line as usize + 1)
            .map_or(self.text.len(), |&s| s - 1);
        let line = self.text.get(start..end).unwrap_or("");
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            if units >= pos.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    /// The range of a span.
    pub fn range(&self, span: Span) -> lsp::Range {
        lsp::Range::new(
            self.position(span.start as usize),
            self.position(span.end as usize),
        )
    }

    /// The span of a range.
    pub fn span(&self, range: lsp::Range) -> Span {
        Span::new(self.offset(range.start), self.offset(range.end))
    }
}

/// The book's anchor of a code's section (mdBook's heading ids).
fn anchor(d: &Diagnostic) -> String {
    let summary = d.code.info().map_or("", |i| i.summary);
    let heading = format!("{}: {summary}", d.code.as_str());
    let mut out = String::new();
    for c in heading.chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            out.extend(c.to_lowercase());
        } else if c == ' ' {
            out.push('-');
        }
    }
    out
}

/// One diagnostic in LSP terms: code with a link to its explanation, the primary label
/// and help in the message, secondary labels as related information.
pub(crate) fn diagnostic(snap: &Snapshot, lines: &Lines<'_>, d: &Diagnostic) -> lsp::Diagnostic {
    let severity = match d.severity {
        Severity::Error => lsp::DiagnosticSeverity::ERROR,
        Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        Severity::Note => lsp::DiagnosticSeverity::INFORMATION,
    };
    let mut message = d.message.clone();
    // The squiggle is where the terminal's label points; its text is kept when it adds
    // something (a syntax error's "unexpected `x`" repeats "..., found `x`").
    let repeats = d
        .primary_label
        .strip_prefix("unexpected ")
        .is_some_and(|found| message.ends_with(&format!("found {found}")));
    if !d.primary_label.is_empty() && !repeats {
        message.push('\n');
        message.push_str(&d.primary_label);
    }
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter_map(|l| {
            let entry = snap.table.by_id(l.file)?;
            let text = entry.source.text(&snap.db);
            let range = if l.file == d.file {
                lines.range(l.span)
            } else {
                Lines::new(text).range(l.span)
            };
            Some(lsp::DiagnosticRelatedInformation {
                location: lsp::Location::new(entry.uri.clone(), range),
                message: l.message.clone(),
            })
        })
        .collect();
    let href = BOOK_URL.get().and_then(|book| {
        format!("{book}/codes.html#{}", anchor(d))
            .parse::<lsp::Uri>()
            .ok()
    });
    lsp::Diagnostic {
        range: lines.range(d.span),
        severity: Some(severity),
        code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
        code_description: href.map(|href| lsp::CodeDescription { href }),
        source: Some("mcpo".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}
