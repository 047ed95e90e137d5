//! The grammar, written with chumsky over the lexer's token slice.
//!
//! The parser is built once per [`crate::parse`] call (it captures the source text, so
//! it cannot outlive it) and reused for every construct of the file. Recovery works at
//! three levels: a broken bracketed group becomes one `Error` expression, a broken
//! attribute or block becomes one [`BodyItem::Error`] (the rest of its line is skipped),
//! and junk after a complete item is skipped up to the end of the line. The lexer
//! guarantees balanced delimiters, which is what makes skipping a group safe.

use crate::ast::*;
use crate::lexer::{Tok, TokSpan};
use crate::template::{self, Flat, Problem};
use chumsky::error::LabelError;
use chumsky::input::{MapExtra, ValueInput};
use chumsky::prelude::*;
use chumsky::util::MaybeRef;
use mcpo_diagnostics::{Code, Span, codes};

/// What the parser expected, besides plain tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Expect {
    /// Any expression.
    Expression = 64,
    /// The end of an attribute or block: a newline, `}` or the end of the file.
    ItemEnd,
    /// An attribute or a block.
    Item,
    /// An identifier.
    Ident,
    /// The end of the file.
    End,
    /// The keyword `for`.
    KwFor,
    /// The keyword `in`.
    KwIn,
    /// The keyword `if`.
    KwIf,
    /// A template directive keyword.
    Directive,
    /// A block label.
    Label,
}

impl Expect {
    fn describe(self) -> &'static str {
        match self {
            Expect::Expression => "expression",
            Expect::ItemEnd => "newline",
            Expect::Item => "attribute or block",
            Expect::Ident => "identifier",
            Expect::End => "end of file",
            Expect::KwFor => "`for`",
            Expect::KwIn => "`in`",
            Expect::KwIf => "`if`",
            Expect::Directive => "`if`, `else`, `endif`, `for` or `endfor`",
            Expect::Label => "block label",
        }
    }

    const ALL: [Expect; 10] = [
        Expect::Expression,
        Expect::ItemEnd,
        Expect::Item,
        Expect::Ident,
        Expect::End,
        Expect::KwFor,
        Expect::KwIn,
        Expect::KwIf,
        Expect::Directive,
        Expect::Label,
    ];
}

/// A custom error: a code, message and label, for errors that are not "expected X".
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Custom {
    pub code: Code,
    pub message: String,
    pub label: String,
}

/// The parser's error type: cheap to build (no allocation) for the common
/// expected/found case, which chumsky builds for every failed alternative.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PErr {
    pub span: TokSpan,
    pub found: Option<Tok>,
    /// Bit `t` for token kind `t` (< 64), bit `64 + k` for [`Expect`] labels.
    pub expected: u128,
    pub custom: Option<Box<Custom>>,
}

impl PErr {
    pub(crate) fn custom(
        code: Code,
        span: TokSpan,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        PErr {
            span,
            found: None,
            expected: 0,
            custom: Some(Box::new(Custom {
                code,
                message: message.into(),
                label: label.into(),
            })),
        }
    }

    /// Whether the error expected `e`.
    pub(crate) fn expects(&self, e: Expect) -> bool {
        self.expected & (1u128 << (e as u8)) != 0
    }

    /// The expected things in a readable list.
    pub(crate) fn expected_list(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for e in Expect::ALL {
            if self.expects(e) {
                out.push(e.describe());
            }
        }
        // With "expression" in the list, the tokens that start one add nothing.
        let expr_starts: u64 = [
            Tok::Ident,
            Tok::Number,
            Tok::LBrace,
            Tok::LBrack,
            Tok::LParen,
            Tok::Minus,
            Tok::Bang,
            Tok::OQuote,
            Tok::HeredocBegin,
            Tok::Error,
        ]
        .iter()
        .fold(0, |acc, t| acc | (1u64 << (*t as u8)));
        let mut toks = self.expected as u64;
        if self.expects(Expect::Expression) {
            toks &= !expr_starts;
        }
        if self.expects(Expect::ItemEnd) || self.expects(Expect::Item) {
            toks &= !(1u64 << (Tok::Newline as u8));
        }
        // Tokens that would merely continue a complete expression (operators, `.`, `[`,
        // `?`) are noise next to what was really expected.
        let continuations: u64 = [
            Tok::EqEq,
            Tok::NotEq,
            Tok::Lt,
            Tok::Le,
            Tok::Gt,
            Tok::Ge,
            Tok::Plus,
            Tok::Minus,
            Tok::Star,
            Tok::Slash,
            Tok::Percent,
            Tok::AndAnd,
            Tok::OrOr,
            Tok::Question,
            Tok::Dot,
            Tok::LBrack,
        ]
        .iter()
        .fold(0, |acc, t| acc | (1u64 << (*t as u8)));
        if toks & !continuations != 0 || !out.is_empty() {
            toks &= !continuations;
        }
        if self.expects(Expect::Item) {
            out.retain(|d| *d != Expect::ItemEnd.describe());
        }
        for t in ALL_TOKS {
            if toks & (1u64 << (t as u8)) != 0 {
                out.push(t.describe());
            }
        }
        out
    }
}

const ALL_TOKS: [Tok; 40] = [
    Tok::Ident,
    Tok::Number,
    Tok::LBrace,
    Tok::RBrace,
    Tok::LBrack,
    Tok::RBrack,
    Tok::LParen,
    Tok::RParen,
    Tok::Eq,
    Tok::EqEq,
    Tok::NotEq,
    Tok::Lt,
    Tok::Le,
    Tok::Gt,
    Tok::Ge,
    Tok::Plus,
    Tok::Minus,
    Tok::Star,
    Tok::Slash,
    Tok::Percent,
    Tok::AndAnd,
    Tok::OrOr,
    Tok::Bang,
    Tok::Question,
    Tok::Colon,
    Tok::ColonColon,
    Tok::Comma,
    Tok::Dot,
    Tok::Ellipsis,
    Tok::FatArrow,
    Tok::Newline,
    Tok::OQuote,
    Tok::CQuote,
    Tok::TemplateLit,
    Tok::TemplateInterp,
    Tok::TemplateControl,
    Tok::TemplateSeqEnd,
    Tok::HeredocBegin,
    Tok::HeredocEnd,
    Tok::Error,
];

fn found_tok(found: Option<MaybeRef<'_, Tok>>) -> Option<Tok> {
    found.map(|t| *t)
}

impl<'a, I: chumsky::input::Input<'a, Token = Tok, Span = TokSpan>> chumsky::error::Error<'a, I>
    for PErr
{
    fn merge(mut self, other: Self) -> Self {
        if self.custom.is_none() {
            self.expected |= other.expected;
            self.found = self.found.or(other.found);
        }
        self
    }
}

impl<'a, I: chumsky::input::Input<'a, Token = Tok, Span = TokSpan>>
    LabelError<'a, I, chumsky::DefaultExpected<'a, Tok>> for PErr
{
    fn expected_found<E: IntoIterator<Item = chumsky::DefaultExpected<'a, Tok>>>(
        expected: E,
        found: Option<MaybeRef<'a, Tok>>,
        span: TokSpan,
    ) -> Self {
        let mut bits = 0u128;
        for e in expected {
            bits |= default_bit(&e);
        }
        PErr {
            span,
            found: found_tok(found),
            expected: bits,
            custom: None,
        }
    }

    fn merge_expected_found<E: IntoIterator<Item = chumsky::DefaultExpected<'a, Tok>>>(
        mut self,
        expected: E,
        found: Option<MaybeRef<'a, Tok>>,
        _span: TokSpan,
    ) -> Self {
        if self.custom.is_none() {
            for e in expected {
                self.expected |= default_bit(&e);
            }
            self.found = self.found.or(found_tok(found));
        }
        self
    }

    fn replace_expected_found<E: IntoIterator<Item = chumsky::DefaultExpected<'a, Tok>>>(
        mut self,
        expected: E,
        found: Option<MaybeRef<'a, Tok>>,
        span: TokSpan,
    ) -> Self {
        self.span = span;
        self.custom = None;
        self.expected = 0;
        for e in expected {
            self.expected |= default_bit(&e);
        }
        self.found = found_tok(found);
        self
    }

    fn label_with(&mut self, label: chumsky::DefaultExpected<'a, Tok>) {
        if self.custom.is_none() {
            self.expected = default_bit(&label);
        }
    }
}

fn default_bit(e: &chumsky::DefaultExpected<'_, Tok>) -> u128 {
    match e {
        chumsky::DefaultExpected::Token(t) => 1u128 << (**t as u8),
        chumsky::DefaultExpected::EndOfInput => 1u128 << (Expect::End as u8),
        _ => 0,
    }
}

impl<'a, I: chumsky::input::Input<'a, Token = Tok, Span = TokSpan>> LabelError<'a, I, Expect>
    for PErr
{
    fn expected_found<E: IntoIterator<Item = Expect>>(
        expected: E,
        found: Option<MaybeRef<'a, Tok>>,
        span: TokSpan,
    ) -> Self {
        let mut bits = 0u128;
        for e in expected {
            bits |= 1u128 << (e as u8);
        }
        PErr {
            span,
            found: found_tok(found),
            expected: bits,
            custom: None,
        }
    }

    fn label_with(&mut self, label: Expect) {
        if self.custom.is_none() {
            self.expected = 1u128 << (label as u8);
        }
    }
}

type Extra = extra::Err<PErr>;

fn sp(s: TokSpan) -> Span {
    Span::new(s.start as usize, s.end as usize)
}

/// Items of a body, collected without the `None`s that stand for blank lines.
#[derive(Default)]
struct Items(Vec<BodyItem>);

impl FromIterator<Option<BodyItem>> for Items {
    fn from_iter<T: IntoIterator<Item = Option<BodyItem>>>(iter: T) -> Self {
        Items(fit(iter.into_iter().flatten().collect()))
    }
}

/// `v` without spare capacity. A vector collected item by item has up to twice the room
/// it needs; the tree keeps its vectors as long as it lives, so they are trimmed.
fn fit<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

fn is_opener(t: Tok) -> bool {
    matches!(
        t,
        Tok::LBrace
            | Tok::LBrack
            | Tok::LParen
            | Tok::TemplateInterp
            | Tok::TemplateControl
            | Tok::OQuote
            | Tok::HeredocBegin
    )
}

fn is_closer(t: Tok) -> bool {
    matches!(
        t,
        Tok::RBrace
            | Tok::RBrack
            | Tok::RParen
            | Tok::TemplateSeqEnd
            | Tok::CQuote
            | Tok::HeredocEnd
    )
}

/// Skips one token, or a whole balanced group if it is an opener.
fn skip_one<'src, I>(inp: &mut chumsky::input::InputRef<'src, '_, I, Extra>)
where
    I: ValueInput<'src, Token = Tok, Span = TokSpan>,
{
    let Some(t) = inp.next() else { return };
    if is_opener(t) {
        let mut depth = 1usize;
        while depth > 0 {
            match inp.next() {
                Some(t) if is_opener(t) => depth += 1,
                Some(t) if is_closer(t) => depth -= 1,
                Some(_) => {}
                None => break,
            }
        }
    }
}

/// Skips the rest of the line (balanced groups whole), stopping before a newline, a
/// closer or the end. Fails if there is nothing to skip.
fn skip_line<'src, I>() -> impl Parser<'src, I, TokSpan, Extra> + Clone
where
    I: ValueInput<'src, Token = Tok, Span = TokSpan>,
{
    custom(|inp| {
        let before = inp.cursor();
        let mut n = 0;
        loop {
            match inp.peek() {
                None | Some(Tok::Newline) => break,
                Some(t) if is_closer(t) => break,
                Some(_) => {
                    skip_one(inp);
                    n += 1;
                }
            }
        }
        let span = inp.span_since(&before);
        if n == 0 {
            Err(PErr {
                span,
                found: None,
                expected: 0,
                custom: None,
            })
        } else {
            Ok(span)
        }
    })
}

/// Skips exactly one balanced group starting with an opener (for recovery).
fn skip_group<'src, I>() -> impl Parser<'src, I, TokSpan, Extra> + Clone
where
    I: ValueInput<'src, Token = Tok, Span = TokSpan>,
{
    custom(|inp| {
        let before = inp.cursor();
        match inp.peek() {
            Some(t) if is_opener(t) => {
                skip_one(inp);
                Ok(inp.span_since(&before))
            }
            found => {
                let span = inp.span_since(&before);
                Err(PErr {
                    span,
                    found,
                    expected: 0,
                    custom: None,
                })
            }
        }
    })
}

fn err_expr(s: TokSpan) -> Expr {
    Expr {
        kind: ExprKind::Error,
        span: sp(s),
    }
}

/// Folds `first (op operand)*` into a tree by precedence, all operators being
/// left-associative (HCL's rule), without recursion.
fn climb(first: Expr, rest: Vec<((BinaryOp, Span), Expr)>) -> Expr {
    if rest.is_empty() {
        return first;
    }
    let mut operands: Vec<Expr> = Vec::with_capacity(rest.len() + 1);
    let mut ops: Vec<(BinaryOp, Span)> = Vec::with_capacity(rest.len());
    operands.push(first);
    let reduce = |operands: &mut Vec<Expr>, (op, s): (BinaryOp, Span)| {
        if let (Some(r), Some(l)) = (operands.pop(), operands.pop()) {
            operands.push(bin(op, s, l, r));
        }
    };
    for ((op, s), e) in rest {
        while let Some(&top) = ops.last() {
            if top.0.precedence() < op.precedence() {
                break;
            }
            ops.pop();
            reduce(&mut operands, top);
        }
        ops.push((op, s));
        operands.push(e);
    }
    while let Some(top) = ops.pop() {
        reduce(&mut operands, top);
    }
    operands
        .pop()
        .unwrap_or_else(|| err_expr(TokSpan::from(0..0)))
}

fn bin(op: BinaryOp, op_span: Span, lhs: Expr, rhs: Expr) -> Expr {
    Expr {
        span: lhs.span.cover(rhs.span),
        kind: ExprKind::Binary {
            op,
            op_span,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
    }
}

#[derive(Clone)]
enum Trav {
    Attr(Ident),
    Legacy(TokSpan),
    AttrSplat,
    FullSplat,
    Index(Expr),
}

enum ItemTail {
    Attr(Expr),
    Block(Vec<BlockLabel>, TokSpan, Vec<BodyItem>, TokSpan),
}

/// Builds the whole-file parser for `src`.
pub(crate) fn file<'src, I>(src: &'src str) -> impl Parser<'src, I, Vec<BodyItem>, Extra>
where
    I: ValueInput<'src, Token = Tok, Span = TokSpan>,
{
    let text = move |s: TokSpan| src.get(s.start as usize..s.end as usize).unwrap_or("");
    let tok = |t: Tok| just(t).to_span();
    let ident = just(Tok::Ident)
        .map_with(move |_, e| {
            let s: TokSpan = e.span();
            Ident {
                name: text(s).to_string(),
                span: sp(s),
            }
        })
        .labelled(Expect::Ident);
    let kw = move |w: &'static str, label: Expect| {
        just(Tok::Ident)
            .to_span()
            .filter(move |s: &TokSpan| text(*s) == w)
            .labelled(label)
    };

    let expr = recursive(|expr| {
        // `for k, v in coll :`
        let for_head = kw("for", Expect::KwFor)
            .ignore_then(ident)
            .then(just(Tok::Comma).ignore_then(ident).or_not())
            .then_ignore(kw("in", Expect::KwIn))
            .then(expr.clone())
            .map(|((first, second), coll)| match second {
                Some(v) => (Some(first), v, coll),
                None => (None, first, coll),
            })
            .boxed();
        let for_cond = kw("if", Expect::KwIf).ignore_then(expr.clone()).or_not();
        let for_tuple = for_head
            .clone()
            .then_ignore(just(Tok::Colon))
            .then(expr.clone())
            .then(for_cond.clone())
            .map(|((head, value), cond)| {
                let (key_var, value_var, collection) = head;
                ExprKind::For(Box::new(ForExpr {
                    key_var,
                    value_var,
                    collection,
                    key_expr: None,
                    value_expr: value,
                    grouping: false,
                    condition: cond,
                    is_object: false,
                }))
            });
        let for_object = for_head
            .clone()
            .then_ignore(just(Tok::Colon))
            .then(expr.clone())
            .then_ignore(just(Tok::FatArrow))
            .then(expr.clone())
            .then(just(Tok::Ellipsis).or_not())
            .then(for_cond)
            .map(|((((head, key), value), group), cond)| {
                let (key_var, value_var, collection) = head;
                ExprKind::For(Box::new(ForExpr {
                    key_var,
                    value_var,
                    collection,
                    key_expr: Some(key),
                    value_expr: value,
                    grouping: group.is_some(),
                    condition: cond,
                    is_object: true,
                }))
            });

        // Templates: quoted strings and heredocs share their parts.
        let strip_of = move |open: TokSpan, close: TokSpan| Strip {
            left: text(open).ends_with('~'),
            right: text(close).starts_with('~'),
        };
        let interp = just(Tok::TemplateInterp)
            .to_span()
            .then(expr.clone())
            .then(just(Tok::TemplateSeqEnd).to_span())
            .map(move |((o, expr), c)| Flat::Interp {
                expr,
                strip: strip_of(o, c),
                span: sp(o).cover(sp(c)),
            });
        let simple_directive = move |w: &'static str| kw(w, Expect::Directive).to(w);
        let directive = just(Tok::TemplateControl)
            .to_span()
            .then(choice((
                kw("if", Expect::Directive)
                    .ignore_then(expr.clone())
                    .map(|e| (Some(e), None)),
                for_head.clone().map(|h| (None, Some(h))),
                simple_directive("else").map(|_| (None, None)),
                simple_directive("endif").map(|_| (None, None)),
                simple_directive("endfor").map(|_| (None, None)),
            )))
            .then(just(Tok::TemplateSeqEnd).to_span())
            .map(move |((o, body), c)| {
                let strip = strip_of(o, c);
                let span = sp(o).cover(sp(c));
                // Which keyword: the first identifier after `%{`.
                let word = text(TokSpan::from(o.end..c.start));
                let word = word
                    .trim_start()
                    .split(|ch: char| !ch.is_alphanumeric())
                    .next()
                    .unwrap_or("");
                match body {
                    (Some(cond), _) => Flat::If { cond, strip, span },
                    (None, Some((key, value, coll))) => Flat::For {
                        key,
                        value,
                        coll,
                        strip,
                        span,
                    },
                    _ => match word {
                        "else" => Flat::Else { strip, span },
                        "endif" => Flat::EndIf { strip, span },
                        _ => Flat::EndFor { strip, span },
                    },
                }
            });
        let part = choice((
            just(Tok::TemplateLit).to_span().map(|s| Flat::Lit(sp(s))),
            interp,
            directive,
        ))
        .boxed();
        let parts = part.repeated().collect::<Vec<Flat>>().boxed();

        let quoted = just(Tok::OQuote)
            .to_span()
            .then(parts.clone())
            .then(just(Tok::CQuote).to_span())
            .map_with(move |((o, parts), c), e| {
                let values = template::literal_values(src, &parts, false, false);
                let mut problems: Vec<Problem> = Vec::new();
                let parts = template::build(parts, values, &mut problems);
                emit_problems(e, problems);
                ExprKind::Template(Template {
                    parts,
                    span: sp(o).cover(sp(c)),
                })
            })
            .boxed();

        let heredoc = just(Tok::HeredocBegin)
            .to_span()
            .then(parts)
            .then(just(Tok::HeredocEnd).to_span())
            .map_with(move |((o, parts), c), e| {
                let head = text(o);
                let indented = head.starts_with("<<-");
                let marker = head
                    .trim_start_matches('<')
                    .trim_start_matches('-')
                    .to_string();
                let values = template::literal_values(src, &parts, true, indented);
                let mut problems: Vec<Problem> = Vec::new();
                let parts = template::build(parts, values, &mut problems);
                emit_problems(e, problems);
                ExprKind::Heredoc(Box::new(Heredoc {
                    marker,
                    indented,
                    template: Template {
                        parts,
                        span: sp(o).cover(sp(c)),
                    },
                }))
            });

        let parens = expr
            .clone()
            .delimited_by(just(Tok::LParen), just(Tok::RParen))
            .map(|e| ExprKind::Parens(Box::new(e)));

        let tuple_items = expr
            .clone()
            .separated_by(just(Tok::Comma))
            .allow_trailing()
            .collect::<Vec<Expr>>()
            .map(|items| ExprKind::Tuple(fit(items)));
        let tuple = choice((for_tuple, tuple_items))
            .delimited_by(just(Tok::LBrack), just(Tok::RBrack))
            .boxed();

        let newlines = just(Tok::Newline).repeated();
        let obj_sep = choice((
            just(Tok::Comma).ignore_then(newlines),
            just(Tok::Newline).ignore_then(newlines),
        ));
        let obj_item = expr
            .clone()
            .then(choice((just(Tok::Eq).to(true), just(Tok::Colon).to(false))))
            .then(expr.clone())
            .map(|((key, equals), value)| ObjectItem {
                span: key.span.cover(value.span),
                key,
                equals,
                value,
            });
        let obj_items = newlines
            .ignore_then(
                obj_item
                    .separated_by(obj_sep)
                    .allow_trailing()
                    .collect::<Vec<ObjectItem>>(),
            )
            .then_ignore(newlines)
            .map(|items| ExprKind::Object(fit(items)));
        let object = choice((for_object, obj_items))
            .delimited_by(just(Tok::LBrace), just(Tok::RBrace))
            .boxed();

        // `f(args)`, `ns::f(args)`, or a plain variable / keyword literal.
        let args = expr
            .clone()
            .separated_by(just(Tok::Comma))
            .allow_trailing()
            .collect::<Vec<Expr>>()
            .map(fit)
            .then(just(Tok::Ellipsis).or_not())
            .then_ignore(just(Tok::Comma).or_not());
        let call_args = tok(Tok::LParen)
            .then(args)
            .then(tok(Tok::RParen))
            .map(|((o, (args, ell)), c)| (o, args, ell.is_some(), c))
            .recover_with(via_parser(
                just(Tok::LParen)
                    .rewind()
                    .ignore_then(skip_group())
                    .map(|s: TokSpan| {
                        (
                            TokSpan::from(s.start..s.start + 1),
                            vec![err_expr(s)],
                            false,
                            TokSpan::from(s.end..s.end),
                        )
                    }),
            ));
        // A tool's name may hold dots (`aws::rds_instance.promote(...)`): after `::`, the
        // dotted name up to `(` is one name, spanning all its parts.
        let dotted = ident
            .then(
                just(Tok::Dot)
                    .ignore_then(ident)
                    .repeated()
                    .collect::<Vec<Ident>>(),
            )
            .map(|(first, rest): (Ident, Vec<Ident>)| {
                let Some(last) = rest.last() else {
                    return first;
                };
                let mut name = first.name.clone();
                for part in &rest {
                    name.push('.');
                    name.push_str(&part.name);
                }
                Ident {
                    span: first.span.cover(last.span),
                    name,
                }
            });
        let call_tail = just(Tok::ColonColon)
            .ignore_then(dotted)
            .repeated()
            .collect::<Vec<Ident>>()
            .then(call_args);
        let name_or_call = just(Tok::Ident)
            .to_span()
            .then(call_tail.or_not())
            .map(move |(s, tail)| {
                let first = Ident {
                    name: text(s).to_string(),
                    span: sp(s),
                };
                match tail {
                    None => match first.name.as_str() {
                        "true" => ExprKind::Bool(true),
                        "false" => ExprKind::Bool(false),
                        "null" => ExprKind::Null,
                        _ => ExprKind::Variable(first),
                    },
                    Some((mut path, (open, args, expand_final, close))) => {
                        let name = path.pop().unwrap_or_else(|| first.clone());
                        let mut namespace = Vec::with_capacity(path.len() + 1);
                        if name.span != first.span {
                            namespace.push(first);
                        }
                        namespace.extend(path);
                        let namespace = fit(namespace);
                        ExprKind::FunctionCall(Box::new(FunctionCall {
                            namespace,
                            name,
                            args,
                            expand_final,
                            open_paren: sp(open),
                            close_paren: (close.start != close.end).then(|| sp(close)),
                        }))
                    }
                }
            })
            .boxed();

        // Most frequent first: every failed alternative costs an error record.
        let atom = choice((
            name_or_call,
            quoted,
            just(Tok::Number).map_with(move |_, e| ExprKind::Number(text(e.span()).to_string())),
            tuple,
            object,
            parens,
            heredoc,
            just(Tok::Error).to(ExprKind::Error),
        ))
        .map_with(|kind, e| Expr {
            kind,
            span: sp(e.span()),
        })
        .recover_with(via_parser(skip_group().map(err_expr)))
        .labelled(Expect::Expression)
        .boxed();

        let trav = choice((
            just(Tok::Dot).ignore_then(choice((
                ident.map(Trav::Attr),
                just(Tok::Number).to_span().map(Trav::Legacy),
                just(Tok::Star).to(Trav::AttrSplat),
            ))),
            just(Tok::LBrack).ignore_then(choice((
                just(Tok::Star).then(just(Tok::RBrack)).to(Trav::FullSplat),
                expr.clone().then_ignore(just(Tok::RBrack)).map(Trav::Index),
            ))),
        ))
        .boxed();

        let postfix = atom.foldl_with(trav.repeated(), move |lhs, t, e| {
            let span = sp(e.span());
            let kind = match t {
                Trav::Attr(name) => ExprKind::GetAttr {
                    object: Box::new(lhs),
                    name,
                },
                Trav::Legacy(s) => ExprKind::LegacyIndex {
                    collection: Box::new(lhs),
                    index: text(s).to_string(),
                    index_span: sp(s),
                },
                Trav::AttrSplat => ExprKind::Splat {
                    collection: Box::new(lhs),
                    full: false,
                },
                Trav::FullSplat => ExprKind::Splat {
                    collection: Box::new(lhs),
                    full: true,
                },
                Trav::Index(key) => ExprKind::Index {
                    collection: Box::new(lhs),
                    key: Box::new(key),
                },
            };
            Expr { kind, span }
        });

        // Operators: unary prefixes folded from the right, then a flat chain of binary
        // operators folded by precedence (iteratively, see `climb`). One token test per
        // operator position keeps this fast.
        let unary = select! {
            Tok::Minus => UnaryOp::Neg,
            Tok::Bang => UnaryOp::Not,
        }
        .map_with(|op, e| (op, sp(e.span())));
        let binary_op = select! {
            Tok::Star => BinaryOp::Mul,
            Tok::Slash => BinaryOp::Div,
            Tok::Percent => BinaryOp::Mod,
            Tok::Plus => BinaryOp::Add,
            Tok::Minus => BinaryOp::Sub,
            Tok::Gt => BinaryOp::Gt,
            Tok::Ge => BinaryOp::Ge,
            Tok::Lt => BinaryOp::Lt,
            Tok::Le => BinaryOp::Le,
            Tok::EqEq => BinaryOp::Eq,
            Tok::NotEq => BinaryOp::Ne,
            Tok::AndAnd => BinaryOp::And,
            Tok::OrOr => BinaryOp::Or,
        }
        .map_with(|op, e| (op, sp(e.span())));
        let operand = unary
            .repeated()
            .foldr(postfix, |(op, op_span): (UnaryOp, Span), rhs: Expr| Expr {
                span: op_span.cover(rhs.span),
                kind: ExprKind::Unary {
                    op,
                    op_span,
                    operand: Box::new(rhs),
                },
            })
            .boxed();
        let operators = operand
            .clone()
            .then(
                binary_op
                    .then(operand)
                    .repeated()
                    .collect::<Vec<((BinaryOp, Span), Expr)>>(),
            )
            .map(|(first, rest)| climb(first, rest))
            .boxed();

        operators
            .then(
                just(Tok::Question)
                    .ignore_then(expr.clone())
                    .then_ignore(just(Tok::Colon))
                    .then(expr.clone())
                    .or_not(),
            )
            .map(|(cond, branches)| match branches {
                None => cond,
                Some((then, otherwise)) => Expr {
                    span: cond.span.cover(otherwise.span),
                    kind: ExprKind::Conditional {
                        condition: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    },
                },
            })
            .boxed()
    });

    // Block labels: a quoted string without interpolation, or an identifier.
    let label = choice((
        just(Tok::OQuote)
            .then(just(Tok::TemplateLit).to_span().or_not())
            .then(just(Tok::CQuote))
            .map_with(move |((_, lit), _), e| BlockLabel::String {
                value: lit
                    .map(|s| template::decode_quoted(text(s)))
                    .unwrap_or_default(),
                span: sp(e.span()),
            }),
        ident.map(BlockLabel::Ident),
        // A label with `${ }` or `%{ }`: report it, keep the raw text as the value.
        just(Tok::OQuote)
            .rewind()
            .ignore_then(skip_group())
            .validate(move |s: TokSpan, _e, emitter| {
                emitter.emit(PErr::custom(
                    codes::E0001,
                    s,
                    "a block label cannot contain interpolations or directives",
                    "use a plain string here",
                ));
                BlockLabel::String {
                    value: text(TokSpan::from(
                        s.start + 1..s.end.saturating_sub(1).max(s.start + 1),
                    ))
                    .to_string(),
                    span: sp(s),
                }
            }),
    ))
    .labelled(Expect::Label);

    let item_end = choice((
        just(Tok::Newline).ignored(),
        just(Tok::RBrace).rewind().ignored(),
        end(),
    ))
    .labelled(Expect::ItemEnd)
    .recover_with(via_parser(skip_line().ignored()));

    // A body is a sequence of items, each ended by a newline (or the closing brace).
    let body_of = move |item| {
        choice((
            just(Tok::Newline).to(None),
            Parser::then_ignore(item, item_end.clone()).map(Some),
        ))
        .repeated()
        .collect::<Items>()
        .map(|items: Items| items.0)
        .boxed()
    };

    // `recursive` (not `Recursive::declare` + `define`) so that the item parser refers to
    // itself through a weak reference: a declared pair that refer to each other would form
    // a reference cycle and leak the whole parser on every call to `parse`.
    let item = recursive(|item| {
        let block_tail = label
            .repeated()
            .collect::<Vec<BlockLabel>>()
            .map(fit)
            .then(tok(Tok::LBrace))
            .then(block_body(body_of(item.clone().boxed()), item.clone()))
            .then(tok(Tok::RBrace))
            .map(|(((labels, open), items), close)| ItemTail::Block(labels, open, items, close));
        ident
            .then(choice((
                just(Tok::Eq).ignore_then(expr.clone()).map(ItemTail::Attr),
                block_tail,
            )))
            .map_with(|(name, tail), e| build_item(name, tail, e.span()))
            .labelled(Expect::Item)
            .recover_with(via_parser(skip_line().map(|s| BodyItem::Error(sp(s)))))
            .boxed()
    });
    let body = body_of(item.boxed());

    // Anything left over (should not happen) becomes one error item rather than a failure.
    body.then(
        any()
            .repeated()
            .at_least(1)
            .to_span()
            .map(|s: TokSpan| BodyItem::Error(sp(s)))
            .or_not(),
    )
    .then_ignore(end())
    .map(|(mut items, rest)| {
        items.extend(rest);
        items
    })
}

/// The part of a block between its braces, with HCL's one-line block rules.
fn block_body<'src, I, P, Q>(body: P, item: Q) -> impl Parser<'src, I, Vec<BodyItem>, Extra> + Clone
where
    I: ValueInput<'src, Token = Tok, Span = TokSpan>,
    P: Parser<'src, I, Vec<BodyItem>, Extra> + Clone,
    Q: Parser<'src, I, BodyItem, Extra> + Clone,
{
    let multi = just(Tok::Newline).ignore_then(body.clone());
    let empty_block = just(Tok::RBrace).rewind().to(Vec::new());
    // One-line form `{ attr }`: one attribute, then `}` on the same line.
    let first = item.validate(|it: BodyItem, _e, emitter| {
        if let BodyItem::Block(b) = &it {
            let s = b.ty.span.cover(b.open_brace);
            emitter.emit(PErr::custom(
                codes::E0009,
                TokSpan::from(s.start..s.end),
                "a one-line block cannot contain a block",
                "put this block on its own line",
            ));
        }
        it
    });
    let tail = choice((
        just(Tok::RBrace).rewind().to(Vec::new()),
        just(Tok::Comma)
            .validate(|_, e, emitter| {
                emitter.emit(PErr::custom(
                    codes::E0009,
                    e.span(),
                    "a one-line block holds at most one attribute",
                    "put each further attribute on its own line",
                ));
            })
            .ignore_then(body.clone()),
        just(Tok::Newline)
            .validate(|_, e, emitter| {
                emitter.emit(PErr::custom(
                    codes::E0013,
                    e.span(),
                    "a one-line block must be closed on the same line",
                    "expected `}` before this line break",
                ));
            })
            .ignore_then(body.clone()),
    ))
    .labelled(Expect::ItemEnd)
    .recover_with(via_parser(skip_line().ignore_then(body)));
    let one_line = first.then(tail).map(|(first, rest)| {
        let mut items = Vec::with_capacity(rest.len() + 1);
        items.push(first);
        items.extend(rest);
        items
    });
    choice((multi, empty_block, one_line))
}

fn build_item(name: Ident, tail: ItemTail, span: TokSpan) -> BodyItem {
    match tail {
        ItemTail::Attr(value) => BodyItem::Attribute(Attribute {
            name,
            value,
            span: sp(span),
        }),
        ItemTail::Block(labels, open, items, close) => BodyItem::Block(Block {
            ty: name,
            labels,
            open_brace: sp(open),
            close_brace: (close.start != close.end).then(|| sp(close)),
            body: Body {
                items,
                span: Span::new(open.end as usize, close.start.max(open.end) as usize),
            },
            span: sp(span),
        }),
    }
}

fn emit_problems<'src, I>(e: &mut MapExtra<'src, '_, I, Extra>, problems: Vec<Problem>)
where
    I: ValueInput<'src, Token = Tok, Span = TokSpan>,
{
    for (code, span, msg, label) in problems {
        e.emit(PErr::custom(
            code,
            TokSpan::from(span.start..span.end),
            msg,
            label,
        ));
    }
}

/// Codes for errors the grammar itself produces.
pub(crate) fn code_for(err: &PErr) -> Code {
    if let Some(c) = &err.custom {
        return c.code;
    }
    if err.expects(Expect::ItemEnd) {
        return codes::E0009;
    }
    codes::E0001
}
