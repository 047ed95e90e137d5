//! Lexer, parser and syntax tree for mcpo, a strict superset of HCL's native syntax.
//!
//! [`parse`] never fails: it returns a [`Parse`] holding a tree (with `Error` nodes where it
//! recovered) and the diagnostics found. This crate knows nothing of files on disk, of
//! schemas, of salsa or of editors.
//!
//! Pipeline: [`lexer`] (hand-written, context-sensitive for templates and heredocs; it
//! balances delimiters and bounds nesting depth) then a chumsky grammar over the token
//! slice (`parser`), then template post-processing (`template`).
//!
//! The chumsky parser is built once per call and reused for the whole file: its closures
//! borrow the source text, and chumsky's input lifetime is part of the parser's type, so
//! it cannot be cached across calls without `unsafe` (construction costs a few
//! microseconds, negligible next to real files).
//!
//! Architecture invariants: parsing never fails and never panics; every span is in
//! bounds and on a character boundary; one problem gives one diagnostic (the lexer's
//! reports win over the parser's follow-on errors); nothing is desugared.

#![warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod ast;
pub mod lexer;
mod parser;
mod template;

use chumsky::Parser as _;
use chumsky::input::Input as _;
use mcpo_diagnostics::{Diagnostic, FileId, Span, codes};
use std::collections::{HashMap, HashSet};

/// The result of parsing one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Parse {
    /// The syntax tree (always present, possibly with error nodes).
    pub file: ast::SourceFile,
    /// Syntax diagnostics, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Nesting up to which [`parse`] runs on the caller's stack (a few hundred KiB at most,
/// even unoptimized).
const SHALLOW: usize = 24;
/// The stack [`parse`] runs on for deeper text (mapped lazily: only the pages a parse
/// touches are used).
const PARSE_STACK: usize = 64 << 20;

/// Parses one file's text. `file` is stamped on every diagnostic.
///
/// Nesting is bounded (E0007), but one level of it costs tens of combinator frames: at
/// the full budget an unoptimized build needs more than a main thread's 8 MiB, and any
/// build more than a 2 MiB worker thread's. So text nested deeper than [`SHALLOW`] (as
/// the lexer measures it) is parsed on a stack of its own, whatever thread calls it;
/// ordinary text, on the caller's.
pub fn parse(text: &str, file: FileId) -> Parse {
    let lexed = lexer::lex(text, file);
    if lexed.max_depth <= SHALLOW {
        parse_lexed(text, file, lexed)
    } else {
        stacker::grow(PARSE_STACK, || parse_lexed(text, file, lexed))
    }
}

/// [`parse`] of lexed text, on the current stack.
fn parse_lexed(text: &str, file: FileId, lexed: lexer::Lexed) -> Parse {
    let mut diagnostics = lexed.diagnostics;
    // Where the lexer reported bad text, the parser's complaints later on the same line
    // are consequences of it, not new problems.
    // Line start -> first lexer error offset on that line.
    // Only needed (and only built) when the lexer reported something.
    let lines = if diagnostics.is_empty() {
        LineStarts(vec![0])
    } else {
        LineStarts::new(text)
    };
    let mut lexer_marks: HashMap<usize, usize> = HashMap::new();
    for d in diagnostics.iter().filter(|d| d.code != codes::E0002) {
        let at = d.span.start as usize;
        let first = lexer_marks.entry(lines.start_of(at)).or_insert(at);
        *first = (*first).min(at);
    }
    let tokens = lexed.tokens;
    let eoi = lexer::tok_span(text.len(), text.len());
    let input = tokens.as_slice().split_token_span(eoi);
    let (items, errors) = parser::file(text).parse(input).into_output_errors();

    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    for err in errors {
        // Errors at text the lexer already reported (an error token, or a synthetic
        // zero-width closer standing for an unclosed delimiter) would be duplicates.
        if err.custom.is_none() {
            if matches!(err.found, Some(lexer::Tok::Error)) {
                continue;
            }
            if err.found.is_some() && err.span.start == err.span.end {
                continue;
            }
        }
        if err.custom.is_none() {
            if lexed.unclosed_regions.iter().any(|&(open, close)| {
                let at = err.span.start as usize;
                at > open && at <= close
            }) {
                continue;
            }
            let line = lines.start_of(err.span.start as usize);
            if lexer_marks
                .get(&line)
                .is_some_and(|&at| at <= err.span.start as usize)
            {
                continue;
            }
        }
        let key = (err.span.start, err.span.end);
        if !seen.insert(key) && err.custom.is_none() {
            continue;
        }
        diagnostics.push(to_diagnostic(text, file, &err, &tokens));
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));

    let whole = Span::new(0, text.len());
    let items = match items {
        Some(items) => items,
        None => {
            // The grammar always produces a tree; keep a fallback rather than a panic.
            if !diagnostics.iter().any(|d| d.is_error()) {
                diagnostics.push(Diagnostic::error(
                    codes::E0001,
                    file,
                    whole,
                    "could not parse this file",
                ));
            }
            vec![ast::BodyItem::Error(whole)]
        }
    };
    Parse {
        file: ast::SourceFile {
            body: ast::Body { items, span: whole },
            comments: lexed.comments,
            span: whole,
        },
        diagnostics,
    }
}

/// Line starts, for finding the line of an offset in logarithmic time.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineStarts(starts)
    }

    /// The offset of the start of the line holding `at`.
    fn start_of(&self, at: usize) -> usize {
        let i = self.0.partition_point(|&s| s <= at);
        self.0.get(i.saturating_sub(1)).copied().unwrap_or(0)
    }
}

/// How a found token reads in a message: its text when short, else its kind.
fn describe_found(text: &str, err: &parser::PErr) -> String {
    match err.found {
        None => "end of file".to_string(),
        Some(lexer::Tok::Newline) => "newline".to_string(),
        Some(tok @ (lexer::Tok::Ident | lexer::Tok::Number)) => {
            let t = text
                .get(err.span.start as usize..err.span.end as usize)
                .unwrap_or("");
            if t.is_empty() || t.chars().count() > 24 {
                tok.describe().to_string()
            } else {
                format!("`{t}`")
            }
        }
        Some(tok) => tok.describe().to_string(),
    }
}

/// The last token before `at` other than a newline: the one left dangling when a line
/// (or the file) ends too early (`a = 1 +`).
fn dangling_token(tokens: &[(lexer::Tok, lexer::TokSpan)], at: usize) -> Option<Span> {
    let i = tokens.partition_point(|(_, s)| (s.end as usize) <= at);
    tokens
        .get(..i)?
        .iter()
        .rev()
        .find(|(t, s)| *t != lexer::Tok::Newline && s.start < s.end)
        .map(|(_, s)| Span::new(s.start as usize, s.end as usize))
}

fn to_diagnostic(
    text: &str,
    file: FileId,
    err: &parser::PErr,
    tokens: &[(lexer::Tok, lexer::TokSpan)],
) -> Diagnostic {
    let span = Span::new(err.span.start as usize, err.span.end as usize);
    if let Some(c) = &err.custom {
        return Diagnostic::error(c.code, file, span, c.message.clone())
            .with_primary_label(c.label.clone());
    }
    let code = parser::code_for(err);
    let found = describe_found(text, err);
    if code == codes::E0009 {
        return Diagnostic::error(
            code,
            file,
            span,
            format!("expected a newline, found {found}"),
        )
        .with_primary_label("each attribute and block must end with a line break");
    }
    let expected = err.expected_list();
    let list = match expected.as_slice() {
        [] => "something else".to_string(),
        [one] => (*one).to_string(),
        many => {
            let shown: Vec<&str> = many.iter().take(8).copied().collect();
            match shown.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => shown.join(", "),
            }
        }
    };
    // A line or file that ends too early: the squiggle goes on the token left dangling,
    // not on the line break (which an editor draws at the start of the next line).
    if matches!(err.found, None | Some(lexer::Tok::Newline))
        && let Some(dangling) = dangling_token(tokens, err.span.start as usize)
    {
        let label = if err.found.is_none() {
            "the file ends after this"
        } else {
            "the line ends after this"
        };
        return Diagnostic::error(
            code,
            file,
            dangling,
            format!("expected {list}, found {found}"),
        )
        .with_primary_label(label);
    }
    Diagnostic::error(code, file, span, format!("expected {list}, found {found}"))
        .with_primary_label(format!("unexpected {found}"))
}
