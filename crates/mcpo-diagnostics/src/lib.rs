//! The one diagnostic model of mcpo.
//!
//! Every stage (parser, checker, planner, executor) reports problems as [`Diagnostic`]s:
//! a stable [`Code`], a [`Severity`], a terse message, a primary [`Span`] in a file, optional
//! secondary [`Label`]s and a help line. Stages collect diagnostics and go on; sorting and
//! rendering happen only at the edge ([`render`] for the terminal, [`json`] for tools,
//! [`github`] for workflow annotations, [`sarif`] for code scanning).
//!
//! This crate knows nothing of files on disk: callers hand it a [`SourceMap`] that maps a
//! [`FileId`] to a display name and the file's text.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::indexing_slicing, clippy::unwrap_used))]

pub mod codes;
pub mod fix;
pub mod github;
pub mod json;
mod line_index;
pub mod render;
pub mod sarif;

pub use codes::{Code, CodeInfo};
pub use line_index::{LineCol, LineIndex};

use std::ops::Range;

/// A half-open byte range `start..end` into one file's UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    /// First byte of the range.
    pub start: u32,
    /// One past the last byte of the range.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets. Offsets beyond `u32::MAX` saturate.
    pub fn new(start: usize, end: usize) -> Self {
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let end = u32::try_from(end).unwrap_or(u32::MAX).max(start);
        Span { start, end }
    }

    /// An empty span at one offset.
    pub fn empty(at: usize) -> Self {
        Span::new(at, at)
    }

    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span covers no byte.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The span as a `usize` range, for slicing.
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Self {
        Span::new(r.start, r.end)
    }
}

/// Identifies one source file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The program is wrong; `mcpoc check` exits 1.
    Error,
    /// Probably a mistake, but the program still means something.
    Warning,
    /// Extra information.
    Note,
}

impl Severity {
    /// The lower-case name used in JSON output and on the terminal.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A secondary annotation: another place that explains the diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// The file the label points into.
    pub file: FileId,
    /// Where.
    pub span: Span,
    /// What to say there.
    pub message: String,
}

/// A suggested edit that fixes the problem (did-you-mean, a missing attribute, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fix {
    /// A short description ("replace with `tag`").
    pub title: String,
    /// The byte range to replace.
    pub span: Span,
    /// The replacement text.
    pub replacement: String,
}

/// One problem found in the user's input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Stable code, e.g. `E0001`.
    pub code: Code,
    /// Error, warning or note.
    pub severity: Severity,
    /// The file of the primary span.
    pub file: FileId,
    /// The primary span: where the problem is.
    pub span: Span,
    /// The message. Specific to this occurrence (may name things from the source).
    pub message: String,
    /// Text shown under the primary span; empty for none.
    pub primary_label: String,
    /// Secondary labels.
    pub labels: Vec<Label>,
    /// A help line ("did you mean `tag`?").
    pub help: Option<String>,
    /// Machine-applicable fixes.
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.default_severity(),
            file,
            span,
            message: message.into(),
            primary_label: String::new(),
            labels: Vec::new(),
            help: None,
            fixes: Vec::new(),
        }
    }

    /// An error diagnostic.
    pub fn error(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, file, span, message).with_severity(Severity::Error)
    }

    /// A warning diagnostic.
    pub fn warning(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Self::new(code, file, span, message).with_severity(Severity::Warning)
    }

    /// Sets the severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sets the text shown under the primary span.
    pub fn with_primary_label(mut self, text: impl Into<String>) -> Self {
        self.primary_label = text.into();
        self
    }

    /// Adds a secondary label in the same file as the primary span.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            file: self.file,
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a secondary label in any file.
    pub fn with_label_in(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            file,
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a fix.
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fixes.push(fix);
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Looks up what the renderers need to know about a file.
pub trait SourceMap {
    /// The file's display name (a path relative to the workspace, usually).
    fn name(&self, file: FileId) -> &str;
    /// The file's full text.
    fn text(&self, file: FileId) -> &str;
}

/// A simple in-memory [`SourceMap`]: files are added in order and get consecutive ids.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<(String, String)>,
}

impl Sources {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push((name.into(), text.into()));
        id
    }

    /// Every file id, in insertion order.
    pub fn ids(&self) -> impl Iterator<Item = FileId> + '_ {
        (0..self.files.len()).map(|i| FileId(u32::try_from(i).unwrap_or(u32::MAX)))
    }
}

impl SourceMap for Sources {
    fn name(&self, file: FileId) -> &str {
        self.files
            .get(file.0 as usize)
            .map(|f| f.0.as_str())
            .unwrap_or("<unknown>")
    }

    fn text(&self, file: FileId) -> &str {
        self.files
            .get(file.0 as usize)
            .map(|f| f.1.as_str())
            .unwrap_or("")
    }
}

/// Sorts diagnostics for display: by file, then position, then code.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (a.file, a.span.start, a.span.end, a.code.as_str()).cmp(&(
            b.file,
            b.span.start,
            b.span.end,
            b.code.as_str(),
        ))
    });
}
