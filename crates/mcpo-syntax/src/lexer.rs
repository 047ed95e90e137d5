//! The hand-written, context-sensitive lexer.
//!
//! It turns the text into a flat list of [`Tok`]s with byte spans and guarantees three
//! things the parser relies on:
//!
//! - **Balanced delimiters.** Every `{`, `[`, `(`, `${` and `%{` has a closer: an unclosed
//!   one gets an `E0002` diagnostic and a zero-width synthetic closer; a stray closer is
//!   reported and dropped. Quoted strings and heredocs always get their end token too.
//! - **Significant newlines only.** A [`Tok::Newline`] is emitted only where HCL gives
//!   newlines meaning: at the top level and directly inside `{ }` (bodies and object
//!   constructors), but not inside `( )`, `[ ]`, `${ }`, `%{ }` or a `{ for ... }`.
//! - **Bounded depth.** One budget, [`MAX_DEPTH`], bounds the depth of the syntax tree,
//!   so that neither the parser nor anything that later recurses over the tree (checker,
//!   evaluator, formatter, editor features) can overflow its stack. Every construct that
//!   makes the tree one level deeper spends one unit while it is open: a delimiter
//!   (`{` of a block or object, `[` of a tuple or `for`, `(` of parentheses or a call,
//!   quotes, heredocs, `${`, `%{`), an operator of the current expression (unary and
//!   binary operators, `?`, `.` of attribute access, legacy index and `.*`, and the `[`
//!   of an index or `[*]` splat), and an open template directive (`%{ if }` /
//!   `%{ for }` until its `%{ endif }` / `%{ endfor }`). Operators are given back where
//!   an expression ends (`,`, a significant newline, `=`, `=>`, the frame's closer).
//!   An operator also wraps the operand before it, which may have gone deep inside
//!   brackets already closed: it is cut too when that operand's depth plus one would
//!   pass the budget.
//!   Whatever goes deeper is cut out as one [`Tok::Error`] with an `E0007` diagnostic.
//!
//! Comments are collected on the side. Diagnostics that the lexer reports are never
//! repeated by the parser: it ignores errors found at a [`Tok::Error`] token or at a
//! synthetic (zero-width) closer.

use crate::ast::{Comment, CommentKind};
use mcpo_diagnostics::{Diagnostic, FileId, Span, codes};

/// How deep the syntax tree may nest: open delimiters, operators of the expressions
/// being lexed and open template directives together (see the module documentation).
pub const MAX_DEPTH: usize = 256;

/// A token kind. The text is `source[span]`; tokens carry no data of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Tok {
    /// An identifier or keyword (`true`, `for`, `in`, ...).
    Ident,
    /// A number literal.
    Number,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBrack,
    /// `]`
    RBrack,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!`
    Bang,
    /// `?`
    Question,
    /// `:`
    Colon,
    /// `::`
    ColonColon,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `...`
    Ellipsis,
    /// `=>`
    FatArrow,
    /// A significant newline (one token for a run of blank lines and comments).
    Newline,
    /// `"` opening a quoted template.
    OQuote,
    /// `"` closing a quoted template (zero-width when the string was unterminated).
    CQuote,
    /// Literal text of a template, raw (escapes not decoded).
    TemplateLit,
    /// `${` or `${~`.
    TemplateInterp,
    /// `%{` or `%{~`.
    TemplateControl,
    /// `}` or `~}` closing `${` / `%{`.
    TemplateSeqEnd,
    /// `<<EOT` or `<<-EOT` (the newline after it belongs to no token).
    HeredocBegin,
    /// The closing marker line's marker (zero-width when missing).
    HeredocEnd,
    /// Text the lexer already reported as an error.
    Error,
}

impl Tok {
    /// How the token reads in a message.
    pub fn describe(self) -> &'static str {
        match self {
            Tok::Ident => "identifier",
            Tok::Number => "number",
            Tok::LBrace => "`{`",
            Tok::RBrace => "`}`",
            Tok::LBrack => "`[`",
            Tok::RBrack => "`]`",
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::Eq => "`=`",
            Tok::EqEq => "`==`",
            Tok::NotEq => "`!=`",
            Tok::Lt => "`<`",
            Tok::Le => "`<=`",
            Tok::Gt => "`>`",
            Tok::Ge => "`>=`",
            Tok::Plus => "`+`",
            Tok::Minus => "`-`",
            Tok::Star => "`*`",
            Tok::Slash => "`/`",
            Tok::Percent => "`%`",
            Tok::AndAnd => "`&&`",
            Tok::OrOr => "`||`",
            Tok::Bang => "`!`",
            Tok::Question => "`?`",
            Tok::Colon => "`:`",
            Tok::ColonColon => "`::`",
            Tok::Comma => "`,`",
            Tok::Dot => "`.`",
            Tok::Ellipsis => "`...`",
            Tok::FatArrow => "`=>`",
            Tok::Newline => "newline",
            Tok::OQuote => "string",
            Tok::CQuote => "`\"`",
            Tok::TemplateLit => "template text",
            Tok::TemplateInterp => "`${`",
            Tok::TemplateControl => "`%{`",
            Tok::TemplateSeqEnd => "`}`",
            Tok::HeredocBegin => "heredoc",
            Tok::HeredocEnd => "heredoc end marker",
            Tok::Error => "invalid text",
        }
    }
}

/// A token's byte range. Offsets are `u32`, as in [`Span`]: a token takes 12 bytes
/// instead of 24, and a file's tokens live as long as its parse.
pub type TokSpan = chumsky::span::SimpleSpan<u32>;

/// The token span of `start..end`; offsets past `u32::MAX` saturate as [`Span::new`]'s do.
pub fn tok_span(start: usize, end: usize) -> TokSpan {
    let s = Span::new(start, end);
    TokSpan::from(s.start..s.end)
}

/// What the lexer produces.
#[derive(Debug)]
pub struct Lexed {
    /// The tokens with their byte ranges.
    pub tokens: Vec<(Tok, TokSpan)>,
    /// Every comment, in source order.
    pub comments: Vec<Comment>,
    /// Lexical diagnostics (unterminated strings, unclosed delimiters, ...).
    pub diagnostics: Vec<Diagnostic>,
    /// Byte ranges from an unclosed `(`, `[`, `${` or `%{` to where it was closed for it.
    /// Inside them the parser cannot resynchronise, so its own errors there are
    /// consequences of the unclosed delimiter and are not reported.
    pub unclosed_regions: Vec<(usize, usize)>,
    /// The deepest nesting reached, counted as for [`MAX_DEPTH`] (at most a little past
    /// it, where the cut starts).
    pub max_depth: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    /// `{`; `newlines` is false for a `{ for ... }` expression.
    Brace {
        newlines: bool,
    },
    Bracket,
    Paren,
    /// `${`
    Interp,
    /// `%{`
    Control,
    /// A quoted template.
    Quoted,
    /// A heredoc body; `line_start` is true at the beginning of a line.
    Heredoc {
        marker_start: usize,
        marker_end: usize,
        line_start: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    kind: FrameKind,
    /// The opener's span.
    open: (usize, usize),
    /// Operators seen in the current expression segment of this frame.
    ops: usize,
    /// The deepest tree level reached so far in the current expression segment of this
    /// frame, nested frames included (a cut region counts as one level): an operator that
    /// follows wraps all of it in one more node.
    deepest: usize,
}

/// A region being cut out of the token stream (E0007).
#[derive(Debug, Clone, Copy)]
struct Skip {
    /// The frame count at which the region ends (when the stack shrinks back to it), or
    /// for an operator chain, the frame whose segment is being cut.
    level: usize,
    start: usize,
    /// Cutting an operator chain rather than a too-deep delimiter.
    ops: bool,
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    file: FileId,
    frames: Vec<Frame>,
    total_ops: usize,
    /// [`Frame::deepest`] for the top level, which has no frame.
    top_deepest: usize,
    skip: Option<Skip>,
    out: Lexed,
}

/// Lexes a whole file.
pub fn lex(src: &str, file: FileId) -> Lexed {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        file,
        frames: Vec::new(),
        total_ops: 0,
        top_deepest: 0,
        skip: None,
        out: Lexed {
            tokens: Vec::with_capacity(src.len() / 3 + 8),
            comments: Vec::new(),
            diagnostics: Vec::new(),
            unclosed_regions: Vec::new(),
            max_depth: 0,
        },
    };
    if src.starts_with('\u{feff}') {
        lx.pos = 3;
    }
    lx.run();
    lx.out
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c == '-' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    fn byte(&self, at: usize) -> u8 {
        self.bytes.get(at).copied().unwrap_or(0)
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..).and_then(|s| s.chars().next())
    }

    fn diag(
        &mut self,
        code: mcpo_diagnostics::Code,
        start: usize,
        end: usize,
        msg: String,
    ) -> usize {
        // Inside a region cut out for depth (E0007), nothing else is reported.
        if self.skip.is_some() {
            return self.out.diagnostics.len();
        }
        self.out.diagnostics.push(Diagnostic::error(
            code,
            self.file,
            Span::new(start, end),
            msg,
        ));
        self.out.diagnostics.len() - 1
    }

    fn help_last(&mut self, help: &str) {
        if self.skip.is_some() {
            return;
        }
        if let Some(d) = self.out.diagnostics.last_mut() {
            d.help = Some(help.to_string());
        }
    }

    fn label_last(&mut self, label: &str) {
        if self.skip.is_some() {
            return;
        }
        if let Some(d) = self.out.diagnostics.last_mut() {
            d.primary_label = label.to_string();
        }
    }

    /// Pushes a token unless a region is being cut out.
    fn emit(&mut self, tok: Tok, start: usize, end: usize) {
        if self.skip.is_some() {
            return;
        }
        if tok == Tok::Newline && matches!(self.out.tokens.last(), Some((Tok::Newline, _))) {
            return;
        }
        self.out.tokens.push((tok, tok_span(start, end)));
    }

    fn top(&self) -> Option<FrameKind> {
        self.frames.last().map(|f| f.kind)
    }

    fn depth(&self) -> usize {
        self.frames.len() + self.total_ops
    }

    /// Emits an opener token and pushes its frame, or starts cutting if too deep.
    fn push_frame(&mut self, tok: Tok, kind: FrameKind, start: usize, end: usize) {
        if self.skip.is_none() && self.depth() >= MAX_DEPTH {
            self.diag(
                codes::E0007,
                start,
                end,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            );
            self.label_last("too deep from here; the nested text is skipped");
            self.skip = Some(Skip {
                level: self.frames.len(),
                start,
                ops: false,
            });
            // The cut text stands in the tree as one node, one level down.
            let cut = self.depth() + 1;
            let d = self.deepest_mut();
            *d = (*d).max(cut);
        }
        self.emit(tok, start, end);
        self.frames.push(Frame {
            kind,
            open: (start, end),
            ops: 0,
            deepest: 0,
        });
        let now = self.depth();
        self.out.max_depth = self.out.max_depth.max(now);
        if self.skip.is_none() {
            let d = self.deepest_mut();
            *d = (*d).max(now);
        }
    }

    /// The deepest level reached in the current expression segment of the top frame (or
    /// of the top level).
    fn deepest_mut(&mut self) -> &mut usize {
        match self.frames.last_mut() {
            Some(f) => &mut f.deepest,
            None => &mut self.top_deepest,
        }
    }

    /// Pops the top frame; ends a cut region that it closes. `end` is where the closer ends.
    fn pop_frame(&mut self, end: usize) {
        if let Some(f) = self.frames.pop() {
            self.total_ops = self.total_ops.saturating_sub(f.ops);
            // What the closed frame reached is part of the operand it ends; text being
            // cut is not in the tree.
            if self.skip.is_none() {
                let d = self.deepest_mut();
                *d = (*d).max(f.deepest);
            }
        }
        if let Some(s) = self.skip
            && self.frames.len() <= s.level
            && !s.ops
        {
            self.skip = None;
            self.emit(Tok::Error, s.start, end);
        }
    }

    /// Ends an operator-chain cut when its frame's segment ends (before the current token).
    fn end_ops_skip(&mut self, frame_count: usize) {
        if let Some(s) = self.skip
            && s.ops
            && frame_count <= s.level
        {
            self.skip = None;
            let end = self.pos;
            self.emit(Tok::Error, s.start, end);
        }
    }

    fn reset_ops(&mut self) {
        if let Some(f) = self.frames.last_mut() {
            self.total_ops = self.total_ops.saturating_sub(f.ops);
            f.ops = 0;
        }
        *self.deepest_mut() = 0;
    }

    /// Counts an operator towards the depth: unary and binary operators, `?`, `.`, an
    /// index's `[` and a template directive each wrap what came before in one more node.
    fn count_op(&mut self, start: usize, end: usize) {
        self.count_op_then_open(start, end, 0);
    }

    /// Counts an operator that is followed at once by a frame of its own (an index's `[`,
    /// a directive's `%{`): `frames` more levels must fit, so that the cut starts here, at
    /// the operator, rather than at the frame (which would end the cut at its closer and
    /// report again at the next operator).
    fn count_op_then_open(&mut self, start: usize, end: usize, frames: usize) {
        if let Some(f) = self.frames.last_mut() {
            f.ops += 1;
        }
        self.total_ops += 1;
        // The operator wraps what came before it in this segment, however deep that went
        // inside frames already closed, in one more node.
        let wrapped = *self.deepest_mut() + 1;
        let reach = (self.depth() + frames).max(wrapped);
        self.out.max_depth = self.out.max_depth.max(reach);
        if self.skip.is_none() {
            *self.deepest_mut() = reach;
        }
        if self.skip.is_none() && reach > MAX_DEPTH {
            self.diag(
                codes::E0007,
                start,
                end,
                format!("expression nested deeper than {MAX_DEPTH} levels"),
            );
            self.label_last("too deep from here; the rest of the expression is skipped");
            self.skip = Some(Skip {
                level: self.frames.len(),
                start,
                ops: true,
            });
        }
    }

    /// Removes one count from the top frame (a template's `%{ endif }` / `%{ endfor }`).
    fn uncount_op(&mut self) {
        if let Some(f) = self.frames.last_mut()
            && f.ops > 0
        {
            f.ops -= 1;
            self.total_ops = self.total_ops.saturating_sub(1);
        }
    }

    /// Whether the last token ends an operand, so that a `[` here indexes it. Keywords
    /// (`in`, `if`) lex as identifiers too: counting one more level there is harmless.
    fn follows_operand(&self) -> bool {
        matches!(
            self.out.tokens.last(),
            Some((
                Tok::Ident
                    | Tok::Number
                    | Tok::RParen
                    | Tok::RBrack
                    | Tok::RBrace
                    | Tok::CQuote
                    | Tok::HeredocEnd
                    | Tok::Star
                    | Tok::Error,
                _
            ))
        )
    }

    fn newlines_significant(&self) -> bool {
        matches!(self.top(), None | Some(FrameKind::Brace { newlines: true }))
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            match self.top() {
                Some(FrameKind::Quoted) => self.quoted(),
                Some(FrameKind::Heredoc { .. }) => self.heredoc_line(),
                _ => self.normal(),
            }
        }
        self.finish();
    }

    /// Closes everything still open at the end of the file.
    fn finish(&mut self) {
        let end = self.bytes.len();
        if let Some(s) = self.skip
            && s.ops
        {
            self.skip = None;
            self.emit(Tok::Error, s.start, end);
        }
        // An unclosed `${` already explains why its string or heredoc never ends.
        let mut after_sequence = false;
        while let Some(f) = self.frames.last().copied() {
            let inside_cut = self.skip.is_some_and(|s| self.frames.len() > s.level + 1);
            let is_template = matches!(f.kind, FrameKind::Quoted | FrameKind::Heredoc { .. });
            let explained = is_template && after_sequence;
            if !inside_cut && !explained {
                self.report_unclosed(f, end);
            }
            after_sequence = matches!(f.kind, FrameKind::Interp | FrameKind::Control);
            self.emit_closer(f.kind, end, end);
            self.pop_frame(end);
        }
    }

    fn report_unclosed(&mut self, f: Frame, at: usize) {
        let (s, e) = f.open;
        if matches!(
            f.kind,
            FrameKind::Bracket | FrameKind::Paren | FrameKind::Interp | FrameKind::Control
        ) {
            self.out.unclosed_regions.push((s, at));
        }
        match f.kind {
            FrameKind::Quoted => {
                self.diag(
                    codes::E0003,
                    s,
                    at,
                    "unterminated string: expected `\"`".to_string(),
                );
                self.label_last("this string is never closed");
                self.help_last("strings end at the end of their line; use a heredoc (<<EOT) for text over several lines");
            }
            FrameKind::Heredoc {
                marker_start,
                marker_end,
                ..
            } => {
                let marker = self.src.get(marker_start..marker_end).unwrap_or("");
                self.diag(
                    codes::E0005,
                    s,
                    e,
                    format!("unterminated heredoc: no line holding only `{marker}`"),
                );
                self.label_last("this heredoc is never closed");
                self.help_last(&format!("end it with a line holding only `{marker}`"));
            }
            kind => {
                let (open, close) = match kind {
                    FrameKind::Brace { .. } => ("{", "}"),
                    FrameKind::Bracket => ("[", "]"),
                    FrameKind::Paren => ("(", ")"),
                    FrameKind::Interp => ("${", "}"),
                    _ => ("%{", "}"),
                };
                self.diag(
                    codes::E0002,
                    s,
                    e,
                    format!("unclosed `{open}`: expected `{close}`"),
                );
                self.label_last(&format!("this `{open}` is never closed"));
                self.help_last(&format!("add the missing `{close}`"));
            }
        }
    }

    /// Emits the token that closes a frame of this kind.
    fn emit_closer(&mut self, kind: FrameKind, start: usize, end: usize) {
        let tok = match kind {
            FrameKind::Brace { .. } => Tok::RBrace,
            FrameKind::Bracket => Tok::RBrack,
            FrameKind::Paren => Tok::RParen,
            FrameKind::Interp | FrameKind::Control => Tok::TemplateSeqEnd,
            FrameKind::Quoted => Tok::CQuote,
            FrameKind::Heredoc { .. } => Tok::HeredocEnd,
        };
        self.emit(tok, start, end);
    }

    /// Handles a closing `)`, `]` or `}` (or `~}`) spanning `start..end`.
    fn closer(&mut self, want: u8, start: usize, end: usize) {
        let matches = |k: FrameKind| match want {
            b'}' => matches!(
                k,
                FrameKind::Brace { .. } | FrameKind::Interp | FrameKind::Control
            ),
            b']' => k == FrameKind::Bracket,
            _ => k == FrameKind::Paren,
        };
        // Look for the frame this closer closes, not crossing into an enclosing template.
        let mut found = None;
        // Bounded search: only a cut-out region can be deeper, and there a closer that
        // matches nothing near the top is treated as stray (keeps this linear).
        let floor = self.frames.len().saturating_sub(MAX_DEPTH + 8);
        for (i, f) in self.frames.iter().enumerate().skip(floor).rev() {
            if matches(f.kind) {
                found = Some(i);
                break;
            }
            if matches!(
                f.kind,
                FrameKind::Interp
                    | FrameKind::Control
                    | FrameKind::Quoted
                    | FrameKind::Heredoc { .. }
            ) {
                break;
            }
        }
        let Some(idx) = found else {
            let text = self.src.get(start..end).unwrap_or("}");
            self.diag(
                codes::E0001,
                start,
                end,
                format!("unexpected `{text}`: nothing here to close"),
            );
            self.label_last("no matching opening delimiter");
            return;
        };
        self.end_ops_skip(self.frames.len());
        while self.frames.len() > idx + 1 {
            if let Some(f) = self.frames.last().copied() {
                let inside_cut = self.skip.is_some_and(|s| self.frames.len() > s.level + 1);
                if !inside_cut {
                    self.report_unclosed(f, start);
                }
                self.emit_closer(f.kind, start, start);
                self.pop_frame(start);
            }
        }
        if let Some(f) = self.frames.last().copied() {
            if want == b'}' && matches!(f.kind, FrameKind::Interp | FrameKind::Control) {
                self.emit(Tok::TemplateSeqEnd, start, end);
            } else {
                self.emit_closer(f.kind, start, end);
            }
        }
        self.pop_frame(end);
    }

    fn normal(&mut self) {
        let start = self.pos;
        let b = self.byte(start);
        let b1 = self.byte(start + 1);
        match b {
            b' ' | b'\t' | b'\r' => {
                self.pos += 1;
                while matches!(self.byte(self.pos), b' ' | b'\t' | b'\r') {
                    self.pos += 1;
                }
            }
            b'\n' => {
                self.pos += 1;
                if self.newlines_significant() {
                    self.end_ops_skip(self.frames.len());
                    self.reset_ops();
                    self.emit(Tok::Newline, start, start + 1);
                }
            }
            b'#' => self.line_comment(CommentKind::Hash),
            b'/' if b1 == b'/' => self.line_comment(CommentKind::DoubleSlash),
            b'/' if b1 == b'*' => self.block_comment(),
            b'0'..=b'9' => self.number(),
            b'"' if self.closes_unclosed_sequence(start) => {}
            b'"' => {
                self.pos += 1;
                self.push_frame(Tok::OQuote, FrameKind::Quoted, start, start + 1);
            }
            b'{' => {
                self.pos += 1;
                let newlines = !self.next_word_is_for(self.pos);
                self.push_frame(Tok::LBrace, FrameKind::Brace { newlines }, start, start + 1);
                self.reset_ops();
            }
            b'[' => {
                self.pos += 1;
                // `x[i]` and `x[*]` wrap `x` in one more tree node, like an operator; a
                // tuple's `[` only opens a frame.
                if self.follows_operand() {
                    self.count_op_then_open(start, start + 1, 1);
                }
                self.push_frame(Tok::LBrack, FrameKind::Bracket, start, start + 1);
            }
            b'(' => {
                self.pos += 1;
                self.push_frame(Tok::LParen, FrameKind::Paren, start, start + 1);
            }
            b'}' | b']' | b')' => {
                self.pos += 1;
                self.closer(b, start, start + 1);
            }
            b'~' if b1 == b'}'
                && matches!(self.top(), Some(FrameKind::Interp | FrameKind::Control)) =>
            {
                self.pos += 2;
                self.closer(b'}', start, start + 2);
            }
            b'<' if b1 == b'<' && self.try_heredoc() => {}
            _ => self.operator_or_ident(),
        }
    }

    fn operator_or_ident(&mut self) {
        let start = self.pos;
        let b = self.byte(start);
        let b1 = self.byte(start + 1);
        let (tok, len, op) = match (b, b1) {
            (b'=', b'=') => (Tok::EqEq, 2, true),
            (b'=', b'>') => (Tok::FatArrow, 2, false),
            (b'=', _) => (Tok::Eq, 1, false),
            (b'!', b'=') => (Tok::NotEq, 2, true),
            (b'!', _) => (Tok::Bang, 1, true),
            (b'<', b'=') => (Tok::Le, 2, true),
            (b'<', _) => (Tok::Lt, 1, true),
            (b'>', b'=') => (Tok::Ge, 2, true),
            (b'>', _) => (Tok::Gt, 1, true),
            (b'+', _) => (Tok::Plus, 1, true),
            (b'-', _) => (Tok::Minus, 1, true),
            (b'*', _) => (Tok::Star, 1, true),
            (b'/', _) => (Tok::Slash, 1, true),
            (b'%', _) => (Tok::Percent, 1, true),
            (b'&', b'&') => (Tok::AndAnd, 2, true),
            (b'|', b'|') => (Tok::OrOr, 2, true),
            (b'?', _) => (Tok::Question, 1, true),
            (b':', b':') => (Tok::ColonColon, 2, false),
            (b':', _) => (Tok::Colon, 1, false),
            (b',', _) => (Tok::Comma, 1, false),
            (b'.', b'.') if self.byte(start + 2) == b'.' => (Tok::Ellipsis, 3, false),
            (b'.', _) => (Tok::Dot, 1, true),
            _ => {
                self.ident_or_invalid();
                return;
            }
        };
        self.pos += len;
        match tok {
            Tok::Comma => {
                self.end_ops_skip(self.frames.len());
                self.emit(tok, start, start + len);
                self.reset_ops();
            }
            Tok::Eq | Tok::FatArrow => {
                self.emit(tok, start, start + len);
                if self.skip.is_none() {
                    self.reset_ops();
                }
            }
            _ => {
                // The `*` of a splat (`.*`, `[*]`) is not an operator.
                let splat = tok == Tok::Star
                    && matches!(self.out.tokens.last(), Some((Tok::Dot | Tok::LBrack, _)));
                // Counted first: an operator past the budget is the first token cut out.
                if op && !splat {
                    self.count_op(start, start + len);
                }
                self.emit(tok, start, start + len);
            }
        }
    }

    fn ident_or_invalid(&mut self) {
        let start = self.pos;
        let Some(c) = self.char_at(start) else {
            self.pos += 1;
            return;
        };
        if is_ident_start(c) {
            let mut end = start + c.len_utf8();
            // ASCII fast path, then the general case for the rest.
            while matches!(self.byte(end), b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-') {
                end += 1;
            }
            while let Some(c) = self.char_at(end) {
                if !is_ident_continue(c) {
                    break;
                }
                end += c.len_utf8();
            }
            self.pos = end;
            self.emit(Tok::Ident, start, end);
            return;
        }
        // A run of invalid characters is one diagnostic and one error token.
        let mut end = start + c.len_utf8();
        while let Some(c) = self.char_at(end) {
            if c.is_ascii() || is_ident_start(c) {
                break;
            }
            end += c.len_utf8();
        }
        let shown = if c.is_control() || c.is_whitespace() {
            format!("{:?}", c)
        } else {
            format!("`{c}`")
        };
        self.diag(
            codes::E0008,
            start,
            end,
            format!("invalid character {shown}"),
        );
        self.label_last("not valid outside strings and comments");
        self.pos = end;
        self.emit(Tok::Error, start, end);
    }

    /// Whether the next word (after blanks, newlines and comments) is the keyword `for`.
    fn next_word_is_for(&self, mut at: usize) -> bool {
        loop {
            match (self.byte(at), self.byte(at + 1)) {
                (b' ' | b'\t' | b'\r' | b'\n', _) => at += 1,
                (b'#', _) | (b'/', b'/') => {
                    while at < self.bytes.len() && self.byte(at) != b'\n' {
                        at += 1;
                    }
                }
                (b'/', b'*') => {
                    at += 2;
                    while at < self.bytes.len()
                        && !(self.byte(at) == b'*' && self.byte(at + 1) == b'/')
                    {
                        at += 1;
                    }
                    at += 2;
                }
                _ => break,
            }
        }
        self.bytes.get(at..at + 3) == Some(b"for")
            && self.char_at(at + 3).is_none_or(|c| !is_ident_continue(c))
    }

    fn line_comment(&mut self, kind: CommentKind) {
        let start = self.pos;
        let mut end = start;
        while end < self.bytes.len() && self.byte(end) != b'\n' {
            end += 1;
        }
        self.pos = end;
        let mut stop = end;
        if stop > start && self.byte(stop - 1) == b'\r' {
            stop -= 1;
        }
        self.out.comments.push(Comment {
            kind,
            span: Span::new(start, stop),
        });
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        let mut at = start + 2;
        loop {
            if at >= self.bytes.len() {
                self.diag(
                    codes::E0010,
                    start,
                    start + 2,
                    "unterminated block comment: expected `*/`".to_string(),
                );
                self.label_last("this comment is never closed");
                at = self.bytes.len();
                break;
            }
            if self.byte(at) == b'*' && self.byte(at + 1) == b'/' {
                at += 2;
                break;
            }
            at += 1;
        }
        self.pos = at;
        self.out.comments.push(Comment {
            kind: CommentKind::Block,
            span: Span::new(start, at),
        });
    }

    fn digits(&self, mut at: usize) -> usize {
        while self.byte(at).is_ascii_digit() {
            at += 1;
        }
        at
    }

    fn number(&mut self) {
        let start = self.pos;
        let mut end = self.digits(start);
        // After `.`, only digits: `a.0.1` is two legacy index steps.
        let after_dot = matches!(self.out.tokens.last(), Some((Tok::Dot, _)));
        let mut bad = false;
        if !after_dot {
            if self.byte(end) == b'.' && self.byte(end + 1).is_ascii_digit() {
                end = self.digits(end + 1);
            }
            if matches!(self.byte(end), b'e' | b'E') {
                let mut at = end + 1;
                if matches!(self.byte(at), b'+' | b'-') {
                    at += 1;
                }
                if self.byte(at).is_ascii_digit() {
                    end = self.digits(at);
                } else {
                    bad = true;
                    end = at;
                }
            }
        }
        // Letters glued to a number (`12abc`) make it invalid.
        while let Some(c) = self.char_at(end) {
            if !(c == '_' || c.is_alphanumeric()) {
                break;
            }
            bad = true;
            end += c.len_utf8();
        }
        self.pos = end;
        if bad {
            let text = self.src.get(start..end).unwrap_or("");
            self.diag(codes::E0006, start, end, format!("invalid number `{text}`"));
            self.label_last("not a number");
            self.emit(Tok::Error, start, end);
        } else {
            self.emit(Tok::Number, start, end);
        }
    }

    /// At `<<`: lexes a heredoc opener if one is here.
    fn try_heredoc(&mut self) -> bool {
        let start = self.pos;
        let mut at = start + 2;
        let indented = self.byte(at) == b'-';
        if indented {
            at += 1;
        }
        let marker_start = at;
        match self.char_at(at) {
            Some(c) if is_ident_start(c) => at += c.len_utf8(),
            _ => return false,
        }
        while let Some(c) = self.char_at(at) {
            if !is_ident_continue(c) {
                break;
            }
            at += c.len_utf8();
        }
        let marker_end = at;
        let mut nl = at;
        if self.byte(nl) == b'\r' {
            nl += 1;
        }
        if self.byte(nl) != b'\n' {
            return false;
        }
        self.pos = nl + 1;
        self.push_frame(
            Tok::HeredocBegin,
            FrameKind::Heredoc {
                marker_start,
                marker_end,
                line_start: true,
            },
            start,
            marker_end,
        );
        true
    }

    /// Lexes one stretch of a heredoc body: up to the end of a line or to a `${`/`%{`.
    fn heredoc_line(&mut self) {
        let Some(Frame {
            kind:
                FrameKind::Heredoc {
                    marker_start,
                    marker_end,
                    line_start,
                },
            ..
        }) = self.frames.last().copied()
        else {
            return;
        };
        let start = self.pos;
        if line_start {
            // Is this the closing marker line?
            let mut at = start;
            while matches!(self.byte(at), b' ' | b'\t') {
                at += 1;
            }
            let marker = self.bytes.get(marker_start..marker_end).unwrap_or(b"");
            let len = marker.len();
            if self.bytes.get(at..at + len) == Some(marker) {
                let mut after = at + len;
                if self.byte(after) == b'\r' {
                    after += 1;
                }
                if after >= self.bytes.len() || self.byte(after) == b'\n' {
                    self.pos = start;
                    self.end_ops_skip(self.frames.len());
                    self.emit(Tok::HeredocEnd, at, at + len);
                    self.pos = at + len;
                    self.pop_frame(at + len);
                    return;
                }
            }
            self.set_line_start(false);
        }
        let mut at = start;
        loop {
            if at >= self.bytes.len() {
                if at > start {
                    self.emit(Tok::TemplateLit, start, at);
                }
                self.pos = at;
                return;
            }
            match (self.byte(at), self.byte(at + 1)) {
                (b'\n', _) => {
                    self.emit(Tok::TemplateLit, start, at + 1);
                    self.pos = at + 1;
                    self.set_line_start(true);
                    return;
                }
                (b'$' | b'%', b'{') => {
                    if at > start {
                        self.emit(Tok::TemplateLit, start, at);
                    }
                    self.pos = at;
                    self.template_sequence();
                    return;
                }
                (b'$', b'$') | (b'%', b'%') if self.byte(at + 2) == b'{' => at += 3,
                _ => at += 1,
            }
        }
    }

    fn set_line_start(&mut self, value: bool) {
        if let Some(Frame {
            kind: FrameKind::Heredoc { line_start, .. },
            ..
        }) = self.frames.last_mut()
        {
            *line_start = value;
        }
    }

    /// At a `"` inside a `${ }` or `%{ }` of a quoted string (possibly within brackets):
    /// when nothing after it on its line could close that sequence, the sequence was left
    /// open (`"x ${var.name y"`) and this `"` ends the string. Reports one E0002 at the
    /// `${`, closes the sequence and the string here and returns true; the parser's errors
    /// inside the sequence are consequences and are not reported. Otherwise (a string
    /// nested in the sequence, `"${"a"}"`) returns false.
    fn closes_unclosed_sequence(&mut self, at: usize) -> bool {
        let Some(seq) = self.frames.iter().rposition(|f| {
            !matches!(
                f.kind,
                FrameKind::Paren | FrameKind::Bracket | FrameKind::Brace { .. }
            )
        }) else {
            return false;
        };
        let in_quoted_sequence = matches!(
            self.frames.get(seq).map(|f| f.kind),
            Some(FrameKind::Interp | FrameKind::Control)
        ) && seq
            .checked_sub(1)
            .and_then(|i| self.frames.get(i))
            .is_some_and(|f| f.kind == FrameKind::Quoted);
        if !in_quoted_sequence {
            return false;
        }
        let line_end = self
            .bytes
            .get(at + 1..)
            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
            .map_or(self.bytes.len(), |i| at + 1 + i);
        if self
            .bytes
            .get(at + 1..line_end)
            .is_some_and(|rest| rest.contains(&b'}'))
        {
            return false;
        }
        self.end_ops_skip(self.frames.len());
        while self.frames.len() > seq + 1 {
            if let Some(f) = self.frames.last().copied() {
                self.emit_closer(f.kind, at, at);
                self.pop_frame(at);
            }
        }
        if let Some(f) = self.frames.last().copied() {
            let inside_cut = self.skip.is_some_and(|s| self.frames.len() > s.level + 1);
            if !inside_cut {
                self.report_unclosed(f, at);
                self.help_last("add the missing `}` before the closing `\"`");
            }
            self.emit_closer(f.kind, at, at);
            self.pop_frame(at);
        }
        self.emit(Tok::CQuote, at, at + 1);
        self.pos = at + 1;
        self.pop_frame(at + 1);
        true
    }

    /// At `${` or `%{` inside a template: emits the opener and enters expression mode.
    fn template_sequence(&mut self) {
        let start = self.pos;
        let tok = if self.byte(start) == b'$' {
            Tok::TemplateInterp
        } else {
            Tok::TemplateControl
        };
        let mut end = start + 2;
        if self.byte(end) == b'~' {
            end += 1;
        }
        self.pos = end;
        let kind = if tok == Tok::TemplateInterp {
            FrameKind::Interp
        } else {
            // `%{ if }` and `%{ for }` nest the template's parts until their `%{ endif }` /
            // `%{ endfor }`: they count on the template's frame like operators.
            match self.word_at(end) {
                "if" | "for" => self.count_op_then_open(start, end, 1),
                "endif" | "endfor" => self.uncount_op(),
                _ => {}
            }
            FrameKind::Control
        };
        self.push_frame(tok, kind, start, end);
    }

    /// The identifier at `at` after blanks (empty if there is none).
    fn word_at(&self, mut at: usize) -> &'a str {
        while matches!(self.byte(at), b' ' | b'\t' | b'\r' | b'\n') {
            at += 1;
        }
        let mut end = at;
        while self.byte(end).is_ascii_alphanumeric() || self.byte(end) == b'_' {
            end += 1;
        }
        self.src.get(at..end).unwrap_or("")
    }

    /// Lexes one stretch of a quoted template.
    fn quoted(&mut self) {
        let start = self.pos;
        let mut at = start;
        loop {
            let b = self.byte(at);
            if at >= self.bytes.len() || b == b'\n' {
                if at > start {
                    self.emit(Tok::TemplateLit, start, at);
                }
                // The string ends with the line: report it and close it here.
                self.pos = at;
                self.end_ops_skip(self.frames.len());
                if let Some(f) = self.frames.last().copied() {
                    self.report_unclosed(f, at);
                }
                let mut stop = at;
                if stop > start && self.byte(stop - 1) == b'\r' {
                    stop -= 1;
                }
                self.emit(Tok::CQuote, stop, stop);
                self.pop_frame(stop);
                self.pos = at;
                return;
            }
            match (b, self.byte(at + 1)) {
                (b'"', _) => {
                    if at > start {
                        self.emit(Tok::TemplateLit, start, at);
                    }
                    self.pos = at;
                    self.end_ops_skip(self.frames.len());
                    self.emit(Tok::CQuote, at, at + 1);
                    self.pos = at + 1;
                    self.pop_frame(at + 1);
                    return;
                }
                (b'\\', _) => at = self.escape(at),
                (b'$' | b'%', b'{') => {
                    if at > start {
                        self.emit(Tok::TemplateLit, start, at);
                    }
                    self.pos = at;
                    self.template_sequence();
                    return;
                }
                (b'$', b'$') | (b'%', b'%') if self.byte(at + 2) == b'{' => at += 3,
                _ => at += 1,
            }
        }
    }

    /// Checks the escape at `at` (a backslash); returns where the text continues.
    fn escape(&mut self, at: usize) -> usize {
        let hex = |lx: &Self, from: usize, n: usize| {
            (from..from + n).all(|i| lx.byte(i).is_ascii_hexdigit())
        };
        match self.byte(at + 1) {
            b'n' | b'r' | b't' | b'"' | b'\\' => at + 2,
            b'u' if hex(self, at + 2, 4) => at + 6,
            b'U' if hex(self, at + 2, 8) => at + 10,
            b'\n' | 0 if at + 1 >= self.bytes.len() || self.byte(at + 1) == b'\n' => at + 1,
            _ => {
                let len = self.char_at(at + 1).map_or(1, char::len_utf8);
                let text = self.src.get(at..at + 1 + len).unwrap_or("\\");
                self.diag(
                    codes::E0004,
                    at,
                    at + 1 + len,
                    format!("invalid escape sequence `{text}`"),
                );
                self.label_last("valid escapes: \\n \\r \\t \\\" \\\\ \\uNNNN \\UNNNNNNNN");
                at + 1 + len
            }
        }
    }
}
