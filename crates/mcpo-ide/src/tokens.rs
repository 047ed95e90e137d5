//! Semantic tokens: what each name is, for highlighting beyond the grammar's.

use mcpo_diagnostics::Span;
use mcpo_sema::SourceFile;
use mcpo_syntax::ast::{BlockLabel, Body, BodyItem, Expr, ExprKind, TemplatePart};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenKind {
    /// A block type, `true`/`false`/`null`, a reference root (`var`, `local`, ...).
    Keyword,
    /// A resource type or tool label.
    Type,
    /// A declaration's name or a reference to one.
    Variable,
    /// An attribute name.
    Property,
    /// A function name.
    Function,
    /// A server name (in a reference or tool call).
    Namespace,
    /// String text.
    String,
    /// A number.
    Number,
    /// A comment.
    Comment,
}

/// One token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Where.
    pub span: Span,
    /// What.
    pub kind: TokenKind,
}

/// The tokens of a file, sorted, without overlaps.
pub fn semantic_tokens(db: &dyn salsa::Database, file: SourceFile) -> Vec<Token> {
    let parsed = mcpo_sema::parse(db, file);
    let mut out = Vec::new();
    for c in &parsed.file.comments {
        out.push(Token {
            span: c.span,
            kind: TokenKind::Comment,
        });
    }
    body(&parsed.file.body, true, &mut out);
    out.sort_by_key(|t| (t.span.start, std::cmp::Reverse(t.span.end)));
    let mut clean: Vec<Token> = Vec::with_capacity(out.len());
    for t in out {
        if t.span.is_empty() || clean.last().is_some_and(|l| t.span.start < l.span.end) {
            continue;
        }
        clean.push(t);
    }
    clean
}

fn body(b: &Body, top: bool, out: &mut Vec<Token>) {
    for item in &b.items {
        match item {
            BodyItem::Attribute(a) => {
                out.push(Token {
                    span: a.name.span,
                    kind: TokenKind::Property,
                });
                expr(&a.value, out);
            }
            BodyItem::Block(blk) => {
                out.push(Token {
                    span: blk.ty.span,
                    kind: TokenKind::Keyword,
                });
                let typed = top && matches!(blk.ty.name.as_str(), "resource" | "data" | "task");
                for (i, l) in blk.labels.iter().enumerate() {
                    let kind = match (typed, i, l) {
                        (true, 0, _) => TokenKind::Type,
                        (_, _, BlockLabel::Ident(_)) => TokenKind::Variable,
                        _ if top => TokenKind::Variable,
                        _ => TokenKind::String,
                    };
                    out.push(Token {
                        span: l.span(),
                        kind,
                    });
                }
                body(&blk.body, false, out);
            }
            BodyItem::Error(_) => {}
        }
    }
}

fn expr(e: &Expr, out: &mut Vec<Token>) {
    mcpo_sema::walk(e, &mut |x| match &x.kind {
        ExprKind::Number(_) => out.push(Token {
            span: x.span,
            kind: TokenKind::Number,
        }),
        ExprKind::Bool(_) | ExprKind::Null => out.push(Token {
            span: x.span,
            kind: TokenKind::Keyword,
        }),
        ExprKind::Template(t) => {
            if t.parts
                .iter()
                .all(|p| matches!(p, TemplatePart::Literal { .. }))
            {
                out.push(Token {
                    span: t.span,
                    kind: TokenKind::String,
                });
            } else {
                for p in &t.parts {
                    if let TemplatePart::Literal { span, .. } = p {
                        out.push(Token {
                            span: *span,
                            kind: TokenKind::String,
                        });
                    }
                }
            }
        }
        ExprKind::Variable(id) => {
            let kind = match id.name.as_str() {
                "var" | "local" | "data" | "task" | "module" | "self" | "count" | "each"
                | "path" | "param" | "step" | "result" => TokenKind::Keyword,
                _ if mcpo_sema::reference(x).is_some() => TokenKind::Namespace,
                _ => TokenKind::Variable,
            };
            out.push(Token {
                span: id.span,
                kind,
            });
        }
        ExprKind::FunctionCall(c) => {
            for ns in &c.namespace {
                out.push(Token {
                    span: ns.span,
                    kind: TokenKind::Namespace,
                });
            }
            out.push(Token {
                span: c.name.span,
                kind: TokenKind::Function,
            });
        }
        ExprKind::GetAttr { name, .. } => {
            out.push(Token {
                span: name.span,
                kind: TokenKind::Property,
            });
        }
        _ => {}
    });
    // The identifier naming a declaration in a reference reads as a variable.
    mcpo_sema::walk(e, &mut |x| {
        if let Some((_, span)) = mcpo_sema::reference(x) {
            out.retain(|t| t.span != span);
            out.push(Token {
                span,
                kind: TokenKind::Variable,
            });
        }
    });
}
