//! Diagnostics as GitHub Actions workflow commands (`mcpoc check --format github`): one
//! `::error file=...,line=...::message` line each, which a workflow run shows as an
//! annotation on the pull request's diff.
//!
//! Positions are 1-based; columns count characters. The message carries the code and,
//! on further lines, the primary label and the help, so the annotation reads like the
//! terminal report without its source excerpt.

use crate::{Diagnostic, FileId, LineIndex, Severity, SourceMap};
use std::collections::HashMap;

/// The workflow commands for `diags`, one per line, each ending in a newline.
pub fn to_string(diags: &[Diagnostic], sources: &dyn SourceMap) -> String {
    let mut indexes: HashMap<FileId, LineIndex> = HashMap::new();
    let mut out = String::new();
    for d in diags {
        let text = sources.text(d.file);
        let idx = indexes
            .entry(d.file)
            .or_insert_with(|| LineIndex::new(text));
        let a = idx.line_col(text, d.span.start as usize);
        let b = idx.line_col(text, d.span.end as usize);
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let title = match d.code.info() {
            Some(info) => format!("{}: {}", d.code, info.summary),
            None => d.code.to_string(),
        };
        let mut message = format!("{} [{}]", d.message, d.code);
        if !d.primary_label.is_empty() {
            message.push('\n');
            message.push_str(&d.primary_label);
        }
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{command} file={},line={},endLine={},col={},endColumn={},title={}::{}\n",
            property(sources.name(d.file)),
            a.line,
            b.line,
            a.column,
            b.column,
            property(&title),
            data(&message)
        ));
    }
    out
}

/// Escapes a command's message (GitHub's `escapeData`).
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value (GitHub's `escapeProperty`).
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Sources, Span, codes};

    #[test]
    fn one_escaped_command_per_diagnostic() {
        let mut s = Sources::new();
        let f = s.add("dir,x/a.mcpo", "x = 1\ny = \"é\" = 2\n");
        let d = Diagnostic::error(codes::E0001, f, Span::new(15, 16), "unexpected `=`")
            .with_primary_label("50% sure: not here")
            .with_help("remove it");
        let w = Diagnostic::warning(codes::W0001, f, Span::new(0, 1), "unused");
        let out = to_string(&[d, w], &s);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(
            lines[0],
            "::error file=dir%2Cx/a.mcpo,line=2,endLine=2,col=9,endColumn=10,\
             title=E0001%3A unexpected token::unexpected `=` [E0001]%0A50%25 sure: not here%0Ahelp: remove it"
        );
        assert!(
            lines[1].starts_with("::warning file=dir%2Cx/a.mcpo,line=1,"),
            "{out}"
        );
    }
}
