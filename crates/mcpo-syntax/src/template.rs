//! Template post-processing: escape decoding, `~` stripping, `<<-` indentation removal
//! and turning the flat list of template parts into the nested [`TemplatePart`] tree.

use crate::ast::{Expr, Ident, Strip, TemplateFor, TemplateIf, TemplatePart};
use mcpo_diagnostics::{Code, Span, codes};

/// One part of a template as the parser sees it, before directives are nested.
#[derive(Debug)]
pub(crate) enum Flat {
    /// Raw literal text.
    Lit(Span),
    /// `${ expr }`
    Interp {
        expr: Expr,
        strip: Strip,
        span: Span,
    },
    /// `%{ if cond }`
    If {
        cond: Expr,
        strip: Strip,
        span: Span,
    },
    /// `%{ else }`
    Else { strip: Strip, span: Span },
    /// `%{ endif }`
    EndIf { strip: Strip, span: Span },
    /// `%{ for k, v in coll }`
    For {
        key: Option<Ident>,
        value: Ident,
        coll: Expr,
        strip: Strip,
        span: Span,
    },
    /// `%{ endfor }`
    EndFor { strip: Strip, span: Span },
}

impl Flat {
    fn strip(&self) -> Strip {
        match self {
            Flat::Lit(_) => Strip::default(),
            Flat::Interp { strip, .. }
            | Flat::If { strip, .. }
            | Flat::Else { strip, .. }
            | Flat::EndIf { strip, .. }
            | Flat::For { strip, .. }
            | Flat::EndFor { strip, .. } => *strip,
        }
    }
}

/// A problem found while building a template: code, span, message, label.
pub(crate) type Problem = (Code, Span, String, &'static str);

/// Decodes a quoted string's literal text: backslash escapes and `$${` / `%%{`.
/// Invalid escapes (already reported by the lexer) are kept as written.
pub(crate) fn decode_quoted(raw: &str) -> String {
    if !raw.contains(['\\', '$', '%']) {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 't')) => out.push('\t'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((j, u @ ('u' | 'U'))) => {
                    let n = if u == 'u' { 4 } else { 8 };
                    let hex = raw.get(j + 1..j + 1 + n);
                    match hex
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                    {
                        Some(ch) => {
                            out.push(ch);
                            for _ in 0..n {
                                chars.next();
                            }
                        }
                        None => {
                            out.push('\\');
                            out.push(u);
                        }
                    }
                }
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '$' | '%' if raw.get(i + 1..i + 3) == Some(if c == '$' { "${" } else { "%{" }) => {
                // `$${` is a literal `${`: drop one of the doubled characters.
                out.push(c);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Decodes a heredoc's literal text: only `$${` and `%%{` are escapes.
pub(crate) fn decode_heredoc(raw: &str) -> String {
    if !raw.contains("$${") && !raw.contains("%%{") {
        return raw.to_string();
    }
    raw.replace("$${", "${").replace("%%{", "%{")
}

/// Number of leading whitespace characters (not newlines).
fn indent_chars(s: &str) -> usize {
    s.chars()
        .take_while(|c| c.is_whitespace() && *c != '\n' && *c != '\r')
        .count()
}

/// Removes the first `n` whitespace characters of `s`.
fn drop_indent(s: &str, n: usize) -> &str {
    let mut at = 0;
    for (count, c) in s.chars().enumerate() {
        if count >= n || !c.is_whitespace() || c == '\n' || c == '\r' {
            break;
        }
        at += c.len_utf8();
    }
    s.get(at..).unwrap_or("")
}

/// Builds the literal values of a template's flat parts. For a `<<-` heredoc, removes
/// the common indentation of its lines first.
pub(crate) fn literal_values(
    src: &str,
    parts: &[Flat],
    heredoc: bool,
    indented: bool,
) -> Vec<String> {
    let raw = |s: Span| src.get(s.range()).unwrap_or("");
    let mut min_indent: Option<usize> = None;
    if indented {
        let mut line_start = true;
        for p in parts {
            match p {
                Flat::Lit(s) => {
                    let text = raw(*s);
                    if line_start {
                        let blank = text
                            .trim_start_matches([' ', '\t'])
                            .starts_with(['\n', '\r'])
                            || text.chars().all(char::is_whitespace) && text.ends_with('\n');
                        if !blank {
                            let n = indent_chars(text);
                            min_indent = Some(min_indent.map_or(n, |m| m.min(n)));
                        }
                    }
                    line_start = text.ends_with('\n');
                }
                _ => {
                    if line_start {
                        min_indent = Some(0);
                    }
                    line_start = false;
                }
            }
        }
    }
    let strip_n = min_indent.unwrap_or(0);
    let mut line_start = true;
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        if let Flat::Lit(s) = p {
            let mut text = raw(*s);
            if indented && line_start && strip_n > 0 {
                text = drop_indent(text, strip_n);
            }
            line_start = raw(*s).ends_with('\n');
            out.push(if heredoc {
                decode_heredoc(text)
            } else {
                decode_quoted(text)
            });
        } else {
            line_start = false;
            out.push(String::new());
        }
    }
    // `~` markers strip the whitespace of the neighbouring literals.
    for (i, p) in parts.iter().enumerate() {
        let strip = p.strip();
        if strip.left
            && let Some(prev) = i.checked_sub(1)
            && matches!(parts.get(prev), Some(Flat::Lit(_)))
            && let Some(v) = out.get_mut(prev)
        {
            let t = v.trim_end().len();
            v.truncate(t);
        }
        if strip.right
            && matches!(parts.get(i + 1), Some(Flat::Lit(_)))
            && let Some(v) = out.get_mut(i + 1)
        {
            let t = v.len() - v.trim_start().len();
            v.drain(..t);
        }
    }
    out
}

enum Open {
    If {
        cond: Expr,
        span: Span,
        then: Option<Vec<TemplatePart>>,
    },
    For {
        key: Option<Ident>,
        value: Ident,
        coll: Expr,
        span: Span,
    },
}

/// Nests the flat parts into [`TemplatePart`]s, reporting unbalanced directives.
pub(crate) fn build(
    parts: Vec<Flat>,
    values: Vec<String>,
    problems: &mut Vec<Problem>,
) -> Vec<TemplatePart> {
    // Each level: the directive that opened it and the parts collected so far.
    let mut stack: Vec<(Open, Vec<TemplatePart>)> = Vec::new();
    let mut cur: Vec<TemplatePart> = Vec::new();
    for (p, value) in parts.into_iter().zip(values) {
        match p {
            Flat::Lit(span) => cur.push(TemplatePart::Literal { value, span }),
            Flat::Interp { expr, strip, span } => {
                cur.push(TemplatePart::Interpolation { expr, strip, span })
            }
            Flat::If { cond, span, .. } => {
                stack.push((
                    Open::If {
                        cond,
                        span,
                        then: None,
                    },
                    std::mem::take(&mut cur),
                ));
            }
            Flat::For {
                key,
                value: v,
                coll,
                span,
                ..
            } => {
                stack.push((
                    Open::For {
                        key,
                        value: v,
                        coll,
                        span,
                    },
                    std::mem::take(&mut cur),
                ));
            }
            Flat::Else { span, .. } => match stack.last_mut() {
                Some((
                    Open::If {
                        then: then @ None, ..
                    },
                    _,
                )) => {
                    *then = Some(std::mem::take(&mut cur));
                }
                _ => problems.push((
                    codes::E0011,
                    span,
                    "`%{ else }` without a matching `%{ if }`".into(),
                    "no open `%{ if }` here",
                )),
            },
            Flat::EndIf { span, .. } => {
                if matches!(stack.last(), Some((Open::If { .. }, _))) {
                    if let Some((open, outer)) = stack.pop() {
                        close(open, outer, &mut cur, span);
                    }
                } else {
                    problems.push((
                        codes::E0011,
                        span,
                        "`%{ endif }` without a matching `%{ if }`".into(),
                        "no open `%{ if }` here",
                    ));
                }
            }
            Flat::EndFor { span, .. } => {
                if matches!(stack.last(), Some((Open::For { .. }, _))) {
                    if let Some((open, outer)) = stack.pop() {
                        close(open, outer, &mut cur, span);
                    }
                } else {
                    problems.push((
                        codes::E0011,
                        span,
                        "`%{ endfor }` without a matching `%{ for }`".into(),
                        "no open `%{ for }` here",
                    ));
                }
            }
        }
    }
    while let Some((open, outer)) = stack.pop() {
        let (span, what) = match &open {
            Open::If { span, .. } => (*span, "`%{ if }` without a matching `%{ endif }`"),
            Open::For { span, .. } => (*span, "`%{ for }` without a matching `%{ endfor }`"),
        };
        problems.push((
            codes::E0011,
            span,
            what.into(),
            "this directive is never closed",
        ));
        let end = Span::empty(span.end as usize);
        close(open, outer, &mut cur, end);
    }
    cur.shrink_to_fit();
    cur
}

/// Finishes an `if`/`for` directive: wraps `cur` into it and appends it to `outer`.
fn close(open: Open, mut outer: Vec<TemplatePart>, cur: &mut Vec<TemplatePart>, end: Span) {
    let mut inner = std::mem::take(cur);
    inner.shrink_to_fit();
    let part = match open {
        Open::If { cond, span, then } => {
            let (then, otherwise) = match then {
                Some(t) => (t, Some(inner)),
                None => (inner, None),
            };
            TemplatePart::If(Box::new(TemplateIf {
                condition: cond,
                then,
                otherwise,
                span: span.cover(end),
            }))
        }
        Open::For {
            key,
            value,
            coll,
            span,
        } => TemplatePart::For(Box::new(TemplateFor {
            key_var: key,
            value_var: value,
            collection: coll,
            body: inner,
            span: span.cover(end),
        })),
    };
    outer.push(part);
    *cur = outer;
}
