//! Walks the syntax tree and lays it out into [`Out`] lines.
//!
//! Layout decisions come from the tree; the source text is consulted only for what the
//! tree does not record: where the line breaks were (a bracket written over several
//! lines stays that way), where blank lines were, whether an optional comma was written,
//! and the exact text of templates, heredocs, comments and of anything printed as
//! written. Every comment is printed exactly once; `emitted` tracks that, and the caller
//! falls back to the unchanged source if some comment was not placed.

use mcpo_diagnostics::Span;
use mcpo_syntax::ast::{
    Attribute, Block, BlockLabel, Body, BodyItem, Comment, CommentKind, Expr, ExprKind, ForExpr,
    FunctionCall, ObjectItem, Template, TemplatePart, UnaryOp,
};

use crate::gap::{self, Gap};
use crate::lines::Out;

/// Nesting deeper than this is printed as written, so that pathological inputs cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 200;

/// Formats the file; returns the text and the number of comments that were not placed.
pub(crate) fn print(src: &str, file: &mcpo_syntax::ast::SourceFile) -> (String, usize) {
    let mut comments = file.comments.clone();
    comments.sort_by_key(|c| (c.span.start, c.span.end));
    let mut p = Printer {
        src,
        emitted: vec![false; comments.len()],
        comments,
        out: Out::default(),
        depth: 0,
    };
    p.body(&file.body, 0, src.len(), 0, true);
    let unplaced = p.emitted.iter().filter(|e| !**e).count();
    (p.out.finish(), unplaced)
}

struct Printer<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    emitted: Vec<bool>,
    out: Out,
    depth: usize,
}

/// An item of a bracketed sequence.
#[derive(Clone, Copy)]
enum SeqItem<'e> {
    Expr(&'e Expr),
    Object(&'e ObjectItem),
}

impl<'e> SeqItem<'e> {
    fn span(self) -> Span {
        match self {
            SeqItem::Expr(e) => e.span,
            SeqItem::Object(o) => o.span,
        }
    }

    fn last_expr(self) -> Option<&'e Expr> {
        match self {
            SeqItem::Expr(e) => Some(e),
            SeqItem::Object(o) => Some(&o.value),
        }
    }
}

/// What kind of bracketed sequence is printed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SeqKind {
    Tuple,
    Object,
    Call { expand_final: bool },
}

fn start(s: Span) -> usize {
    s.start as usize
}

fn end(s: Span) -> usize {
    s.end as usize
}

/// Whether the expression's last token is a heredoc (whose closing marker must end its
/// line).
fn ends_with_heredoc(e: &Expr) -> bool {
    let mut e = e;
    loop {
        match &e.kind {
            ExprKind::Heredoc(_) => return true,
            ExprKind::Binary { rhs, .. } => e = rhs,
            ExprKind::Unary { operand, .. } => e = operand,
            ExprKind::Conditional { otherwise, .. } => e = otherwise,
            _ => return false,
        }
    }
}

/// The spans of an expression's direct sub-expressions (template parts excluded: a
/// template with a comment inside is printed as written).
fn children(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::Template(_)
        | ExprKind::Heredoc(_)
        | ExprKind::Variable(_)
        | ExprKind::Error => Vec::new(),
        ExprKind::Tuple(items) => items.iter().collect(),
        ExprKind::Object(items) => items.iter().flat_map(|i| [&i.key, &i.value]).collect(),
        ExprKind::FunctionCall(fc) => fc.args.iter().collect(),
        ExprKind::GetAttr { object, .. } => vec![object],
        ExprKind::Index { collection, key } => vec![collection, key],
        ExprKind::LegacyIndex { collection, .. } => vec![collection],
        ExprKind::Splat { collection, .. } => vec![collection],
        ExprKind::Unary { operand, .. } => vec![operand],
        ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
        ExprKind::Conditional {
            condition,
            then,
            otherwise,
        } => vec![condition, then, otherwise],
        ExprKind::For(f) => {
            let mut v = vec![&f.collection];
            v.extend(f.key_expr.as_ref());
            v.push(&f.value_expr);
            v.extend(f.condition.as_ref());
            v
        }
        ExprKind::Parens(inner) => vec![inner],
    }
}

/// Spans inside which text must not be re-indented or trimmed: strings, heredocs.
fn protected_spans(e: &Expr, out: &mut Vec<Span>) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Template(_) | ExprKind::Heredoc(_) => out.push(e.span),
            _ => stack.extend(children(e)),
        }
    }
}

fn body_protected_spans(body: &Body, out: &mut Vec<Span>) {
    let mut stack = vec![body];
    while let Some(b) = stack.pop() {
        for item in &b.items {
            match item {
                BodyItem::Attribute(a) => protected_spans(&a.value, out),
                BodyItem::Block(bl) => stack.push(&bl.body),
                BodyItem::Error(_) => {}
            }
        }
    }
}

impl<'a> Printer<'a> {
    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.src.get(from..to).unwrap_or("")
    }

    fn text_of(&self, s: Span) -> &'a str {
        self.slice(start(s), end(s))
    }

    /// Indices of the comments starting in `from..to`.
    fn comments_in(&self, from: usize, to: usize) -> std::ops::Range<usize> {
        let lo = self.comments.partition_point(|c| start(c.span) < from);
        let hi = self.comments.partition_point(|c| start(c.span) < to);
        lo..hi.max(lo)
    }

    fn has_comment(&self, from: usize, to: usize) -> bool {
        !self.comments_in(from, to).is_empty()
    }

    /// Whether a comment lies in `span` but in none of `kids`.
    fn has_own_comment(&self, span: Span, kids: &[&Expr]) -> bool {
        self.comments_in(start(span), end(span)).any(|i| {
            self.comments.get(i).is_some_and(|c| {
                !kids
                    .iter()
                    .any(|k| start(k.span) <= start(c.span) && start(c.span) < end(k.span))
            })
        })
    }

    fn mark_emitted(&mut self, from: usize, to: usize) {
        for i in self.comments_in(from, to) {
            if let Some(e) = self.emitted.get_mut(i) {
                *e = true;
            }
        }
    }

    /// A comment's text, marked as emitted. Line comments lose trailing whitespace.
    fn take_comment(&mut self, idx: usize) -> String {
        if let Some(e) = self.emitted.get_mut(idx) {
            *e = true;
        }
        match self.comments.get(idx) {
            Some(c) => {
                let t = self.text_of(c.span);
                match c.kind {
                    CommentKind::Hash | CommentKind::DoubleSlash => t.trim_end().to_string(),
                    CommentKind::Block => t.to_string(),
                }
            }
            None => String::new(),
        }
    }

    fn gap(&self, from: usize, to: usize) -> Gap {
        let range = self.comments_in(from, to);
        gap::analyse(self.src, &self.comments, range, from, to.max(from))
    }

    /// Writes comment text that may span lines: the first line goes on the current
    /// line, the others are reproduced exactly.
    fn write_multiline(&mut self, text: &str, as_trailing: bool) {
        let mut lines = text.split('\n');
        let first = lines.next().unwrap_or("");
        let rest: Vec<&str> = lines.collect();
        if as_trailing {
            self.out.comment(first);
        } else {
            self.out.text(first);
        }
        if !rest.is_empty() {
            // The first line ends inside the comment: its trailing whitespace is text.
            self.out.set_no_trim();
            for line in rest {
                self.out.raw(line, false);
            }
        }
    }

    /// Emits a gap's trailing comments onto the current line.
    fn trailing(&mut self, g: &Gap) {
        if g.trailing.is_empty() {
            return;
        }
        let texts: Vec<String> = g.trailing.iter().map(|&i| self.take_comment(i)).collect();
        let joined = texts.join(" ");
        self.write_multiline(&joined, true);
    }

    /// Emits a gap's own-line comment groups at `indent`; the first group's preceding
    /// blank line is dropped when `first_blank_ok` is false.
    fn groups(&mut self, g: &Gap, indent: usize, first_blank_ok: bool) {
        for (j, grp) in g.groups.iter().enumerate() {
            if grp.blank_before && (j > 0 || first_blank_ok) {
                self.out.blank();
            }
            self.out.line_break(indent);
            let texts: Vec<String> = grp.comments.iter().map(|&i| self.take_comment(i)).collect();
            let joined = texts.join(" ");
            self.write_multiline(&joined, false);
        }
    }

    /// Prints `span` as written, re-indented: lines keep their indentation relative to
    /// the first line, except lines that start inside `protected` spans (strings,
    /// heredocs, block comments), which are reproduced exactly. The last line stays
    /// open for the text that follows unless it is a heredoc's closing marker
    /// (`heredoc_last`).
    fn verbatim(&mut self, span: Span, mut protected: Vec<Span>, heredoc_last: bool) {
        let (from, to) = (start(span), end(span));
        self.mark_emitted(from, to);
        for i in self.comments_in(from, to) {
            if let Some(c) = self.comments.get(i) {
                protected.push(c.span);
            }
        }
        let text = self.slice(from, to);
        let line_start = self
            .src
            .get(..from)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |p| p + 1);
        let orig_base = self
            .slice(line_start, from)
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .count();
        let new_base = self.out.cur_indent();
        let inside = |pos: usize| protected.iter().any(|p| (start(*p)) < pos && pos < end(*p));
        let mut offset = from;
        let count = text.split('\n').count();
        for (i, line) in text.split('\n').enumerate() {
            let ls = offset;
            let le = offset + line.len();
            offset = le + 1;
            let end_protected = le < to && inside(le);
            if i == 0 {
                if end_protected {
                    self.out.text(line);
                    self.out.set_no_trim();
                } else {
                    self.out.text(line.trim_end());
                }
                continue;
            }
            if inside(ls) {
                if i + 1 == count && !heredoc_last {
                    // The end of a string or comment that spans lines: reproduce the line
                    // from column zero, but let the text after it follow on it. Blanks
                    // at the end are not part of it: the next token brings its own
                    // separator (a block header's ` {`), so keeping them would add one
                    // more on every run.
                    self.out.line_break(0);
                    if end_protected {
                        self.out.text(line);
                        self.out.set_no_trim();
                    } else {
                        self.out.text(line.trim_end());
                    }
                } else {
                    self.out.raw(line, false);
                }
                continue;
            }
            let trimmed = line.trim_start_matches([' ', '\t']);
            let w = line.len() - trimmed.len();
            let indent = (w + new_base).saturating_sub(orig_base);
            self.out.line_break(indent);
            if end_protected {
                self.out.text(trimmed);
                self.out.set_no_trim();
            } else {
                self.out.text(trimmed.trim_end());
            }
        }
    }

    fn verbatim_expr(&mut self, e: &Expr) {
        let mut prot = Vec::new();
        protected_spans(e, &mut prot);
        self.verbatim(e.span, prot, ends_with_heredoc(e));
        if ends_with_heredoc(e) && !self.out.at_raw_end() {
            // The closing marker was printed on a normal line; end it.
            let ind = self.out.cur_indent();
            self.out.line_break(ind);
        }
    }

    // ----- bodies -----

    /// Prints a body whose contents lie in `from..to`, items at `indent`.
    fn body(&mut self, body: &Body, from: usize, to: usize, indent: usize, is_file: bool) {
        let items = &body.items;
        let n = items.len();
        let mut prev_end = from;
        for (i, item) in items.iter().enumerate() {
            let g = self.gap(prev_end, start(item.span()));
            if is_file && i == 0 {
                let mut g2 = g.clone();
                if !g2.trailing.is_empty() {
                    g2.groups.insert(
                        0,
                        gap::Group {
                            comments: std::mem::take(&mut g2.trailing),
                            blank_before: false,
                        },
                    );
                }
                self.groups(&g2, indent, false);
            } else {
                self.trailing(&g);
                self.groups(&g, indent, i > 0);
            }
            if g.blank_before_next
                && (i > 0 || !g.groups.is_empty() || (is_file && !g.trailing.is_empty()))
            {
                self.out.blank();
            }
            self.out.line_break(indent);
            self.body_item(item, indent);
            prev_end = self.item_end(item);
        }
        let g = self.gap(prev_end, to);
        if is_file && n == 0 {
            let mut g2 = g.clone();
            if !g2.trailing.is_empty() {
                g2.groups.insert(
                    0,
                    gap::Group {
                        comments: std::mem::take(&mut g2.trailing),
                        blank_before: false,
                    },
                );
            }
            self.groups(&g2, indent, false);
        } else {
            self.trailing(&g);
            self.groups(&g, indent, n > 0);
        }
    }

    /// Where the text after an item starts, for gap analysis: a heredoc whose span
    /// includes its final newline gives that newline back to the gap.
    fn item_end(&self, item: &BodyItem) -> usize {
        match item {
            BodyItem::Attribute(a) if end(a.value.span) >= end(a.span) => self.expr_end(&a.value),
            _ => end(item.span()),
        }
    }

    fn expr_end(&self, e: &Expr) -> usize {
        let e_end = end(e.span);
        if ends_with_heredoc(e) && self.slice(start(e.span), e_end).ends_with('\n') {
            e_end - 1
        } else {
            e_end
        }
    }

    fn body_item(&mut self, item: &BodyItem, indent: usize) {
        match item {
            BodyItem::Attribute(a) => self.attribute(a, indent, true),
            BodyItem::Block(b) => self.block(b, indent),
            BodyItem::Error(s) => self.verbatim(*s, Vec::new(), false),
        }
    }

    fn attribute(&mut self, a: &Attribute, indent: usize, align: bool) {
        if self.has_comment(end(a.name.span), start(a.value.span)) {
            let mut prot = Vec::new();
            protected_spans(&a.value, &mut prot);
            self.verbatim(a.span, prot, ends_with_heredoc(&a.value));
            return;
        }
        self.out.text(&a.name.name);
        if align {
            self.out.mark_assign();
        }
        self.out.text(" = ");
        let first = self.out.lines.len();
        self.out.push_cont(indent + 2);
        self.expr(&a.value);
        self.out.pop_cont();
        if align && self.out.lines.len() != first && !self.out.only_transparent_since(first + 1) {
            self.out.clear_assign(first);
        }
    }

    fn block(&mut self, b: &Block, indent: usize) {
        let Some(close) = b.close_brace else {
            let mut prot = Vec::new();
            body_protected_spans(&b.body, &mut prot);
            self.verbatim(b.span, prot, false);
            return;
        };
        if self.depth > MAX_DEPTH {
            let mut prot = Vec::new();
            body_protected_spans(&b.body, &mut prot);
            self.verbatim(b.span, prot, false);
            return;
        }
        // The header: type and labels.
        if self.has_comment(start(b.ty.span), start(b.open_brace)) {
            self.verbatim(
                Span::new(start(b.ty.span), start(b.open_brace)),
                Vec::new(),
                false,
            );
        } else {
            self.out.text(&b.ty.name);
            for l in &b.labels {
                self.out.text(" ");
                match l {
                    BlockLabel::String { span, .. } => self.out.text(self.text_of(*span)),
                    BlockLabel::Ident(i) => self.out.text(&i.name),
                }
            }
        }
        let (inner_from, inner_to) = (end(b.open_brace), start(close));
        let one_line = !self.text_of(b.span).contains('\n')
            && b.body.items.len() <= 1
            && b.body
                .items
                .iter()
                .all(|i| matches!(i, BodyItem::Attribute(_)))
            && !self.comments_in(inner_from, inner_to).any(|i| {
                self.comments.get(i).is_some_and(|c| {
                    !b.body.items.iter().any(|it| match it {
                        BodyItem::Attribute(a) => {
                            start(a.value.span) <= start(c.span)
                                && start(c.span) < end(a.value.span)
                        }
                        _ => false,
                    })
                })
            });
        if one_line {
            match b.body.items.first() {
                Some(BodyItem::Attribute(a)) => {
                    self.out.text(" { ");
                    self.depth += 1;
                    self.attribute(a, indent, false);
                    self.depth -= 1;
                    self.out.text(" }");
                }
                _ => self.out.text(" {}"),
            }
            return;
        }
        self.out.text(" {");
        self.depth += 1;
        self.body(&b.body, inner_from, inner_to, indent + 2, false);
        self.depth -= 1;
        self.out.line_break(indent);
        self.out.text("}");
    }

    // ----- expressions -----

    fn expr(&mut self, e: &Expr) {
        if self.depth > MAX_DEPTH {
            self.verbatim_expr(e);
            return;
        }
        self.depth += 1;
        self.expr_inner(e);
        self.depth -= 1;
    }

    fn expr_inner(&mut self, e: &Expr) {
        let kids = children(e);
        let seq_like = matches!(
            e.kind,
            ExprKind::Tuple(_) | ExprKind::Object(_) | ExprKind::FunctionCall(_)
        );
        if !seq_like && self.has_own_comment(e.span, &kids) {
            self.verbatim_expr(e);
            return;
        }
        match &e.kind {
            ExprKind::Null => self.out.text("null"),
            ExprKind::Bool(b) => self.out.text(if *b { "true" } else { "false" }),
            ExprKind::Number(n) => self.out.text(n),
            ExprKind::Variable(i) => self.out.text(&i.name),
            ExprKind::Error => self.verbatim(e.span, Vec::new(), false),
            ExprKind::Template(t) => self.template(t, e),
            ExprKind::Heredoc(_) => self.heredoc(e.span),
            ExprKind::Tuple(items) => {
                let items: Vec<SeqItem> = items.iter().map(SeqItem::Expr).collect();
                let (o, c) = (start(e.span) + 1, end(e.span).saturating_sub(1));
                if !self.seq(&items, "[", "]", o, c, SeqKind::Tuple) {
                    self.verbatim_expr(e);
                }
            }
            ExprKind::Object(items) => {
                let items: Vec<SeqItem> = items.iter().map(SeqItem::Object).collect();
                let (o, c) = (start(e.span) + 1, end(e.span).saturating_sub(1));
                if !self.seq(&items, "{", "}", o, c, SeqKind::Object) {
                    self.verbatim_expr(e);
                }
            }
            ExprKind::FunctionCall(fc) => self.call(fc, e),
            ExprKind::GetAttr { object, name } => {
                self.expr(object);
                self.out.text(".");
                self.out.text(&name.name);
            }
            ExprKind::Index { collection, key } => {
                self.expr(collection);
                self.out.text("[");
                let ind = self.out.cur_indent();
                self.out.push_cont(ind + 2);
                self.expr(key);
                self.out.pop_cont();
                self.close(ind, "]");
            }
            ExprKind::LegacyIndex {
                collection, index, ..
            } => {
                self.expr(collection);
                self.out.text(".");
                self.out.text(index);
            }
            ExprKind::Splat { collection, full } => {
                self.expr(collection);
                self.out.text(if *full { "[*]" } else { ".*" });
            }
            ExprKind::Unary { op, operand, .. } => {
                self.out.text(match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Not => "!",
                });
                self.expr(operand);
            }
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                self.expr(lhs);
                let (os, oe) = (start(*op_span), end(*op_span));
                self.op_break(self.expr_end(lhs), os, oe, start(rhs.span), op.as_str());
                self.expr(rhs);
            }
            ExprKind::Conditional {
                condition,
                then,
                otherwise,
            } => {
                self.expr(condition);
                let (a, b) = (self.expr_end(condition), start(then.span));
                let q = self.find_in(a, b, "?");
                self.op_break(a, q, q + 1, b, "?");
                self.expr(then);
                let (a, b) = (self.expr_end(then), start(otherwise.span));
                let c = self.find_in(a, b, ":");
                self.op_break(a, c, c + 1, b, ":");
                self.expr(otherwise);
            }
            ExprKind::For(f) => self.for_expr(f, e),
            ExprKind::Parens(inner) => {
                self.out.text("(");
                let ind = self.out.cur_indent();
                self.out.push_cont(ind + 2);
                let vertical = self.slice(start(e.span), start(inner.span)).contains('\n');
                if vertical {
                    self.out.line_break(ind + 2);
                }
                self.expr(inner);
                self.out.pop_cont();
                let close_start = end(e.span).saturating_sub(1).max(self.expr_end(inner));
                if vertical || self.slice(self.expr_end(inner), close_start).contains('\n') {
                    self.out.line_break(ind);
                }
                self.close(ind, ")");
            }
        }
    }

    /// Writes a closing bracket; after a heredoc it goes on a new line at `indent`.
    fn close(&mut self, indent: usize, s: &str) {
        if self.out.at_raw_end() {
            self.out.line_break(indent);
        }
        self.out.text(s);
    }

    /// Position of `needle` in `src[from..to]`, or `from` if absent.
    fn find_in(&self, from: usize, to: usize, needle: &str) -> usize {
        self.slice(from, to).find(needle).map_or(from, |p| from + p)
    }

    /// Writes an infix operator with one space each side, keeping a line break before
    /// or after it when the source had one there.
    fn op_break(&mut self, prev_end: usize, op_start: usize, op_end: usize, next: usize, op: &str) {
        let before = self.slice(prev_end, op_start).contains('\n');
        let after = self.slice(op_end, next).contains('\n');
        if before {
            let c = self.out.cont_indent();
            self.out.line_break(c);
        } else {
            self.out.text(" ");
        }
        self.out.text(op);
        if after {
            let c = self.out.cont_indent();
            self.out.line_break(c);
        } else {
            self.out.text(" ");
        }
    }

    fn heredoc(&mut self, span: Span) {
        let (from, to) = (start(span), end(span));
        self.mark_emitted(from, to);
        let text = self.slice(from, to);
        let text = text.strip_suffix('\n').unwrap_or(text);
        let mut lines = text.split('\n');
        let first = lines.next().unwrap_or("");
        self.out.text(first.trim_end());
        for line in lines {
            self.out.raw(line, true);
        }
    }

    fn template(&mut self, t: &Template, e: &Expr) {
        let (from, to) = (start(e.span), end(e.span));
        let simple = t.parts.iter().all(|p| {
            matches!(
                p,
                TemplatePart::Literal { .. } | TemplatePart::Interpolation { .. }
            )
        });
        if !simple || self.has_comment(from, to) || self.slice(from, to).contains('\n') {
            self.verbatim(e.span, vec![e.span], false);
            return;
        }
        let mut pos = from;
        for part in &t.parts {
            if let TemplatePart::Interpolation { expr, strip, span } = part {
                let (ps, pe) = (start(*span), end(*span));
                if ps < pos || pe > to {
                    continue;
                }
                self.out.text(self.slice(pos, ps));
                self.out.text(if strip.left { "${~" } else { "${" });
                let braced = matches!(&expr.kind, ExprKind::Object(_))
                    || matches!(&expr.kind, ExprKind::For(f) if f.is_object);
                if braced {
                    self.out.text(" ");
                }
                self.expr(expr);
                if braced {
                    self.out.text(" ");
                }
                self.out.text(if strip.right { "~}" } else { "}" });
                pos = pe;
            }
        }
        self.out.text(self.slice(pos, to));
    }

    fn call(&mut self, fc: &FunctionCall, e: &Expr) {
        let own_header_comment = self.has_comment(start(e.span), start(fc.open_paren));
        if own_header_comment {
            self.verbatim_expr(e);
            return;
        }
        let mut name = String::new();
        for ns in &fc.namespace {
            name.push_str(&ns.name);
            name.push_str("::");
        }
        name.push_str(&fc.name.name);
        let open = format!("{name}(");
        let items: Vec<SeqItem> = fc.args.iter().map(SeqItem::Expr).collect();
        let o = end(fc.open_paren);
        let c = fc.close_paren.map_or(end(e.span), start);
        // Printing the name first would leave it behind if the sequence falls back to
        // verbatim, so the sequence writes `open` itself.
        if !self.seq(
            &items,
            &open,
            ")",
            o,
            c,
            SeqKind::Call {
                expand_final: fc.expand_final,
            },
        ) {
            self.verbatim_expr(e);
        }
    }

    /// Prints a bracketed sequence; returns false (having printed nothing) when it holds
    /// a comment that cannot be placed, so the caller prints it as written.
    fn seq(
        &mut self,
        items: &[SeqItem],
        open: &str,
        close: &str,
        open_end: usize,
        close_start: usize,
        kind: SeqKind,
    ) -> bool {
        let n = items.len();
        // The gaps: before the first item, between items, after the last.
        let mut gaps: Vec<Gap> = Vec::with_capacity(n + 1);
        let mut prev_end = open_end;
        let mut prev_heredoc = false;
        let mut vertical = false;
        for it in items {
            let g = self.gap(prev_end, start(it.span()));
            if g.newlines > usize::from(prev_heredoc) {
                vertical = true;
            }
            gaps.push(g);
            let last = it.last_expr();
            prev_heredoc = last.is_some_and(ends_with_heredoc);
            // In an object the line break after a heredoc's closing marker separates the
            // items (a comma cannot start the next line) and the closing brace needs a
            // line of its own: only the vertical layout holds a heredoc.
            if kind == SeqKind::Object && prev_heredoc {
                vertical = true;
            }
            prev_end = match last {
                Some(le) if end(le.span) == end(it.span()) => self.expr_end(le),
                _ => end(it.span()),
            };
        }
        gaps.push(self.gap(prev_end, close_start.max(prev_end)));
        // Comments inside an item but outside its sub-expressions (between an object
        // key and its value) cannot be placed by this sequence.
        for it in items {
            if let SeqItem::Object(o) = it
                && self.has_comment(end(o.key.span), start(o.value.span))
            {
                return false;
            }
        }
        let any_comments = gaps.iter().any(Gap::has_comments);
        if any_comments && n > 0 && !vertical {
            return false;
        }
        if n == 0 {
            vertical = any_comments;
        }
        let is_object = kind == SeqKind::Object;
        let expand = matches!(kind, SeqKind::Call { expand_final: true });
        if !vertical {
            self.out.text(open);
            if is_object && n > 0 {
                self.out.text(" ");
            }
            let ind = self.out.cur_indent();
            self.out.push_cont(ind + 2);
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    self.out.text(", ");
                }
                self.seq_item(*it, false);
            }
            if expand && n > 0 {
                self.out.text("...");
            }
            self.out.pop_cont();
            // A closing bracket written on a line of its own stays there.
            let close_on_own_line = n > 0
                && gaps
                    .get(n)
                    .is_some_and(|g| g.newlines > usize::from(prev_heredoc));
            if close_on_own_line {
                self.out.line_break(ind);
            } else if is_object && n > 0 {
                self.out.text(" ");
            }
            self.close(ind, close);
            return true;
        }
        self.out.text(open);
        let ind = self.out.cur_indent();
        self.out.push_cont(ind + 2);
        for (i, it) in items.iter().enumerate() {
            let Some(g) = gaps.get(i) else { break };
            self.trailing(g);
            self.groups(g, ind + 2, i > 0);
            if g.blank_before_next && (i > 0 || !g.groups.is_empty()) {
                self.out.blank();
            }
            self.out.line_break(ind + 2);
            self.seq_item(*it, true);
            let is_last = i + 1 == n;
            let comma_after = gaps.get(i + 1).is_some_and(|g| g.comma);
            let comma = match kind {
                SeqKind::Object => comma_after,
                SeqKind::Tuple => !is_last || comma_after,
                SeqKind::Call { expand_final } => {
                    if is_last && expand_final {
                        self.out.text("...");
                        false
                    } else {
                        !is_last || comma_after
                    }
                }
            };
            if comma {
                self.out.text(",");
            }
        }
        if let Some(g) = gaps.get(n) {
            self.trailing(g);
            self.groups(g, ind + 2, n > 0);
        }
        self.out.pop_cont();
        self.out.line_break(ind);
        self.out.text(close);
        true
    }

    fn seq_item(&mut self, it: SeqItem, align: bool) {
        match it {
            SeqItem::Expr(e) => self.expr(e),
            SeqItem::Object(o) => {
                self.expr(&o.key);
                if o.equals {
                    if align {
                        self.out.mark_assign();
                    }
                    self.out.text(" = ");
                } else {
                    self.out.text(" : ");
                }
                let first = self.out.lines.len();
                self.expr(&o.value);
                if align
                    && o.equals
                    && self.out.lines.len() != first
                    && !self.out.only_transparent_since(first + 1)
                {
                    self.out.clear_assign(first);
                }
            }
        }
    }

    fn for_expr(&mut self, f: &ForExpr, e: &Expr) {
        let (open, close) = if f.is_object { ("{", "}") } else { ("[", "]") };
        self.out.text(open);
        let ind = self.out.cur_indent();
        self.out.push_cont(ind + 2);
        let first_var = f.key_var.as_ref().map_or(f.value_var.span, |k| k.span);
        let vertical = self.slice(start(e.span), start(first_var)).contains('\n');
        if vertical {
            self.out.line_break(ind + 2);
        } else if f.is_object {
            self.out.text(" ");
        }
        self.out.text("for ");
        if let Some(k) = &f.key_var {
            self.out.text(&k.name);
            self.out.text(", ");
        }
        self.out.text(&f.value_var.name);
        self.out.text(" in ");
        self.expr(&f.collection);
        let body_start = f
            .key_expr
            .as_ref()
            .map_or(start(f.value_expr.span), |k| start(k.span));
        let a = self.expr_end(&f.collection);
        let c = self.find_in(a, body_start, ":");
        self.op_break(a, c, c + 1, body_start, ":");
        if let Some(k) = &f.key_expr {
            self.expr(k);
            let (a, b) = (self.expr_end(k), start(f.value_expr.span));
            let arrow = self.find_in(a, b, "=>");
            self.op_break(a, arrow, arrow + 2, b, "=>");
        }
        self.expr(&f.value_expr);
        if f.grouping {
            self.out.text("...");
        }
        if let Some(cond) = &f.condition {
            let before = self
                .slice(self.expr_end(&f.value_expr), start(cond.span))
                .contains('\n');
            if before {
                let c = self.out.cont_indent();
                self.out.line_break(c);
            } else {
                self.out.text(" ");
            }
            self.out.text("if ");
            self.expr(cond);
        }
        self.out.pop_cont();
        let last_end = f
            .condition
            .as_ref()
            .map_or_else(|| self.expr_end(&f.value_expr), |c| self.expr_end(c));
        let close_start = end(e.span).saturating_sub(1).max(last_end);
        let newline_before_close = self.slice(last_end, close_start).contains('\n');
        if vertical || newline_before_close {
            self.out.line_break(ind);
        } else if f.is_object && !self.out.at_raw_end() {
            self.out.text(" ");
        }
        self.close(ind, close);
    }
}
