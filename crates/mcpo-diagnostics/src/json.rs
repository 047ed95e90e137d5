//! The JSON form of diagnostics, as printed by `mcpoc check --format json`.
//!
//! One document: `{"version":1,"diagnostics":[...]}`, each diagnostic with `code`,
//! `severity`, `file`, `line`, `column`, `end_line`, `end_column` (1-based; columns count
//! characters), `message`, and where present `labels` and `help`.

use crate::{Diagnostic, FileId, LineIndex, SourceMap};
use serde::Serialize;
use std::collections::HashMap;

/// The format version of [`Document`].
pub const VERSION: u32 = 1;

/// The whole JSON document.
#[derive(Debug, Serialize)]
pub struct Document {
    /// Format version, currently 1.
    pub version: u32,
    /// Every diagnostic, in the order given.
    pub diagnostics: Vec<JsonDiagnostic>,
}

/// One diagnostic in JSON form.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    /// Stable code.
    pub code: String,
    /// `error`, `warning` or `note`.
    pub severity: &'static str,
    /// File display name.
    pub file: String,
    /// 1-based start line.
    pub line: u32,
    /// 1-based start column (characters).
    pub column: u32,
    /// 1-based end line.
    pub end_line: u32,
    /// 1-based end column (exclusive, characters).
    pub end_column: u32,
    /// The message.
    pub message: String,
    /// Secondary labels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<JsonLabel>,
    /// Help line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// A secondary label in JSON form.
#[derive(Debug, Serialize)]
pub struct JsonLabel {
    /// File display name.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// 1-based end line.
    pub end_line: u32,
    /// 1-based end column (exclusive).
    pub end_column: u32,
    /// The label text.
    pub message: String,
}

/// Builds the JSON document for `diags`.
pub fn document(diags: &[Diagnostic], sources: &dyn SourceMap) -> Document {
    let mut indexes: HashMap<FileId, LineIndex> = HashMap::new();
    let mut pos = |file: FileId, span: crate::Span| {
        let text = sources.text(file);
        let idx = indexes.entry(file).or_insert_with(|| LineIndex::new(text));
        let a = idx.line_col(text, span.start as usize);
        let b = idx.line_col(text, span.end as usize);
        (a, b)
    };
    let diagnostics = diags
        .iter()
        .map(|d| {
            let (a, b) = pos(d.file, d.span);
            let labels = d
                .labels
                .iter()
                .map(|l| {
                    let (a, b) = pos(l.file, l.span);
                    JsonLabel {
                        file: sources.name(l.file).to_string(),
                        line: a.line,
                        column: a.column,
                        end_line: b.line,
                        end_column: b.column,
                        message: l.message.clone(),
                    }
                })
                .collect();
            JsonDiagnostic {
                code: d.code.to_string(),
                severity: d.severity.as_str(),
                file: sources.name(d.file).to_string(),
                line: a.line,
                column: a.column,
                end_line: b.line,
                end_column: b.column,
                message: d.message.clone(),
                labels,
                help: d.help.clone(),
            }
        })
        .collect();
    Document {
        version: VERSION,
        diagnostics,
    }
}

/// The JSON document as a pretty-printed string.
pub fn to_string(diags: &[Diagnostic], sources: &dyn SourceMap) -> String {
    serde_json::to_string_pretty(&document(diags, sources)).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Sources, Span, codes};

    #[test]
    fn positions_are_one_based() {
        let mut s = Sources::new();
        let f = s.add("a.mcpo", "x = 1\ny = = 2\n");
        let d = Diagnostic::error(codes::E0001, f, Span::new(10, 11), "unexpected `=`");
        let doc = document(&[d], &s);
        let j = &doc.diagnostics[0];
        assert_eq!((j.line, j.column, j.end_line, j.end_column), (2, 5, 2, 6));
        assert_eq!(j.code, "E0001");
        assert_eq!(j.severity, "error");
    }
}
