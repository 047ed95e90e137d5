//! Terminal rendering with ariadne.

use crate::{Diagnostic, FileId, Severity, SourceMap};
use ariadne::{Cache, Color, Config, FnCache, IndexType, Label, Report, ReportKind};
use std::convert::Infallible;
use std::fmt;

/// How to render on a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderConfig {
    /// Use ANSI colours (only when writing to a terminal).
    pub color: bool,
}

/// Renders diagnostics as human-readable reports, one after another, in the order given.
///
/// Each file's lines are indexed once for the whole call, when a report first needs
/// them, so a thousand errors in one large file cost one pass over it, not a thousand.
pub fn render(diags: &[Diagnostic], sources: &dyn SourceMap, config: RenderConfig) -> String {
    let mut out = Vec::new();
    let mut cache = FnCache::new(|file: &Named| Ok::<_, Infallible>(sources.text(file.id)));
    for d in diags {
        render_one(d, sources, config, &mut cache, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A file as the reports name it: ariadne shows the name and keys its cache by the id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Named {
    id: FileId,
    name: String,
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The closing line under a report for people: "2 errors, 1 warning" (notes are not
/// counted); `None` when there is neither.
pub fn counts(diags: &[Diagnostic]) -> Option<String> {
    let count = |sev| diags.iter().filter(|d| d.severity == sev).count();
    let plural = |n: usize, word: &str| match n {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    };
    match (count(Severity::Error), count(Severity::Warning)) {
        (0, 0) => None,
        (0, w) => Some(plural(w, "warning")),
        (e, 0) => Some(plural(e, "error")),
        (e, w) => Some(format!("{}, {}", plural(e, "error"), plural(w, "warning"))),
    }
}

fn kind(sev: Severity) -> ReportKind<'static> {
    match sev {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
        Severity::Note => ReportKind::Advice,
    }
}

/// Clamps a span to the file's text so that a bad span never breaks rendering.
fn clamp(text: &str, span: crate::Span) -> std::ops::Range<usize> {
    let mut start = (span.start as usize).min(text.len());
    let mut end = (span.end as usize).min(text.len()).max(start);
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

fn render_one(
    d: &Diagnostic,
    sources: &dyn SourceMap,
    config: RenderConfig,
    cache: &mut impl Cache<Named>,
    out: &mut Vec<u8>,
) {
    let name = |f: FileId| Named {
        id: f,
        name: sources.name(f).to_string(),
    };
    let primary = clamp(sources.text(d.file), d.span);
    let mut report = Report::build(kind(d.severity), (name(d.file), primary.clone()))
        .with_code(d.code)
        .with_message(&d.message)
        .with_config(
            Config::default()
                .with_color(config.color)
                .with_index_type(IndexType::Byte),
        );
    let color = match d.severity {
        Severity::Error => Color::Red,
        Severity::Warning => Color::Yellow,
        Severity::Note => Color::Blue,
    };
    let mut primary_label = Label::new((name(d.file), primary)).with_color(color);
    if !d.primary_label.is_empty() {
        primary_label = primary_label.with_message(&d.primary_label);
    }
    report = report.with_label(primary_label);
    for l in &d.labels {
        let range = clamp(sources.text(l.file), l.span);
        report = report.with_label(
            Label::new((name(l.file), range))
                .with_message(&l.message)
                .with_color(Color::Cyan),
        );
    }
    if let Some(help) = &d.help {
        report = report.with_help(help);
    }
    // Writing into a Vec cannot fail; a failure would only lose this one report.
    let _ = report.finish().write(cache, &mut *out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Sources, Span, codes};

    #[test]
    fn renders_code_message_label_and_help() {
        let mut s = Sources::new();
        let f = s.add("main.mcpo", "locals {\n  a = = 1\n}\n");
        let d = Diagnostic::error(codes::E0001, f, Span::new(15, 16), "unexpected `=`")
            .with_primary_label("expected an expression")
            .with_help("remove the second `=`");
        let text = render(&[d], &s, RenderConfig { color: false });
        insta::assert_snapshot!(text);
    }
}
