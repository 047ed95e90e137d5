//! Span-insensitive comparison of syntax trees: what "the formatter never changes
//! meaning" is checked against.

use mcpo_syntax::ast::{
    Attribute, Block, BlockLabel, Body, BodyItem, Expr, ExprKind, ForExpr, FunctionCall, Heredoc,
    Ident, ObjectItem, SourceFile, TemplatePart,
};

/// Trees nested deeper than this compare as different rather than risk the stack.
const MAX_DEPTH: usize = 1000;

/// Whether two files have the same syntax tree once spans (and comments) are ignored:
/// the same items, names, labels, operators, literals (numbers as written, strings and
/// heredocs by their decoded text) and the same structure, parentheses included.
pub fn same_meaning(a: &SourceFile, b: &SourceFile) -> bool {
    body(&a.body, &b.body, 0)
}

fn body(a: &Body, b: &Body, d: usize) -> bool {
    d < MAX_DEPTH
        && a.items.len() == b.items.len()
        && a.items.iter().zip(&b.items).all(|(x, y)| item(x, y, d + 1))
}

fn item(a: &BodyItem, b: &BodyItem, d: usize) -> bool {
    match (a, b) {
        (BodyItem::Attribute(x), BodyItem::Attribute(y)) => attribute(x, y, d),
        (BodyItem::Block(x), BodyItem::Block(y)) => block(x, y, d),
        (BodyItem::Error(_), BodyItem::Error(_)) => true,
        _ => false,
    }
}

fn ident(a: &Ident, b: &Ident) -> bool {
    a.name == b.name
}

fn attribute(a: &Attribute, b: &Attribute, d: usize) -> bool {
    ident(&a.name, &b.name) && expr(&a.value, &b.value, d)
}

fn block(a: &Block, b: &Block, d: usize) -> bool {
    ident(&a.ty, &b.ty)
        && a.labels.len() == b.labels.len()
        && a.labels.iter().zip(&b.labels).all(|(x, y)| label(x, y))
        && a.close_brace.is_some() == b.close_brace.is_some()
        && body(&a.body, &b.body, d)
}

fn label(a: &BlockLabel, b: &BlockLabel) -> bool {
    match (a, b) {
        (BlockLabel::String { value: x, .. }, BlockLabel::String { value: y, .. }) => x == y,
        (BlockLabel::Ident(x), BlockLabel::Ident(y)) => ident(x, y),
        _ => false,
    }
}

fn exprs(a: &[Expr], b: &[Expr], d: usize) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| expr(x, y, d))
}

fn opt_expr(a: Option<&Expr>, b: Option<&Expr>, d: usize) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => expr(x, y, d),
        (None, None) => true,
        _ => false,
    }
}

fn expr(a: &Expr, b: &Expr, d: usize) -> bool {
    if d >= MAX_DEPTH {
        return false;
    }
    let d = d + 1;
    match (&a.kind, &b.kind) {
        (ExprKind::Null, ExprKind::Null) => true,
        (ExprKind::Bool(x), ExprKind::Bool(y)) => x == y,
        (ExprKind::Number(x), ExprKind::Number(y)) => x == y,
        (ExprKind::Template(x), ExprKind::Template(y)) => parts(&x.parts, &y.parts, d),
        (ExprKind::Heredoc(x), ExprKind::Heredoc(y)) => heredoc(x, y, d),
        (ExprKind::Variable(x), ExprKind::Variable(y)) => ident(x, y),
        (ExprKind::Tuple(x), ExprKind::Tuple(y)) => exprs(x, y, d),
        (ExprKind::Object(x), ExprKind::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| object_item(p, q, d))
        }
        (ExprKind::FunctionCall(x), ExprKind::FunctionCall(y)) => call(x, y, d),
        (
            ExprKind::GetAttr {
                object: o1,
                name: n1,
            },
            ExprKind::GetAttr {
                object: o2,
                name: n2,
            },
        ) => ident(n1, n2) && expr(o1, o2, d),
        (
            ExprKind::Index {
                collection: c1,
                key: k1,
            },
            ExprKind::Index {
                collection: c2,
                key: k2,
            },
        ) => expr(c1, c2, d) && expr(k1, k2, d),
        (
            ExprKind::LegacyIndex {
                collection: c1,
                index: i1,
                ..
            },
            ExprKind::LegacyIndex {
                collection: c2,
                index: i2,
                ..
            },
        ) => i1 == i2 && expr(c1, c2, d),
        (
            ExprKind::Splat {
                collection: c1,
                full: f1,
            },
            ExprKind::Splat {
                collection: c2,
                full: f2,
            },
        ) => f1 == f2 && expr(c1, c2, d),
        (
            ExprKind::Unary {
                op: o1,
                operand: x1,
                ..
            },
            ExprKind::Unary {
                op: o2,
                operand: x2,
                ..
            },
        ) => o1 == o2 && expr(x1, x2, d),
        (
            ExprKind::Binary {
                op: o1,
                lhs: l1,
                rhs: r1,
                ..
            },
            ExprKind::Binary {
                op: o2,
                lhs: l2,
                rhs: r2,
                ..
            },
        ) => o1 == o2 && expr(l1, l2, d) && expr(r1, r2, d),
        (
            ExprKind::Conditional {
                condition: c1,
                then: t1,
                otherwise: e1,
            },
            ExprKind::Conditional {
                condition: c2,
                then: t2,
                otherwise: e2,
            },
        ) => expr(c1, c2, d) && expr(t1, t2, d) && expr(e1, e2, d),
        (ExprKind::For(x), ExprKind::For(y)) => for_expr(x, y, d),
        (ExprKind::Parens(x), ExprKind::Parens(y)) => expr(x, y, d),
        (ExprKind::Error, ExprKind::Error) => true,
        _ => false,
    }
}

fn object_item(a: &ObjectItem, b: &ObjectItem, d: usize) -> bool {
    a.equals == b.equals && expr(&a.key, &b.key, d) && expr(&a.value, &b.value, d)
}

fn call(a: &FunctionCall, b: &FunctionCall, d: usize) -> bool {
    a.namespace.len() == b.namespace.len()
        && a.namespace
            .iter()
            .zip(&b.namespace)
            .all(|(x, y)| ident(x, y))
        && ident(&a.name, &b.name)
        && a.expand_final == b.expand_final
        && a.close_paren.is_some() == b.close_paren.is_some()
        && exprs(&a.args, &b.args, d)
}

fn for_expr(a: &ForExpr, b: &ForExpr, d: usize) -> bool {
    let key_var = match (&a.key_var, &b.key_var) {
        (Some(x), Some(y)) => ident(x, y),
        (None, None) => true,
        _ => false,
    };
    key_var
        && ident(&a.value_var, &b.value_var)
        && a.grouping == b.grouping
        && a.is_object == b.is_object
        && expr(&a.collection, &b.collection, d)
        && opt_expr(a.key_expr.as_ref(), b.key_expr.as_ref(), d)
        && expr(&a.value_expr, &b.value_expr, d)
        && opt_expr(a.condition.as_ref(), b.condition.as_ref(), d)
}

fn heredoc(a: &Heredoc, b: &Heredoc, d: usize) -> bool {
    a.marker == b.marker
        && a.indented == b.indented
        && parts(&a.template.parts, &b.template.parts, d)
}

/// Template parts compare by decoded text, with adjacent literals merged (how the text
/// is split into literal pieces is not meaning).
fn parts(a: &[TemplatePart], b: &[TemplatePart], d: usize) -> bool {
    if d >= MAX_DEPTH {
        return false;
    }
    let (x, y) = (merge_literals(a), merge_literals(b));
    x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| part(p, q, d + 1))
}

enum Part<'a> {
    Literal(String),
    Other(&'a TemplatePart),
}

fn merge_literals(parts: &[TemplatePart]) -> Vec<Part<'_>> {
    let mut out: Vec<Part> = Vec::new();
    for p in parts {
        match p {
            TemplatePart::Literal { value, .. } => {
                if let Some(Part::Literal(s)) = out.last_mut() {
                    s.push_str(value);
                } else {
                    out.push(Part::Literal(value.clone()));
                }
            }
            other => out.push(Part::Other(other)),
        }
    }
    out.retain(|p| !matches!(p, Part::Literal(s) if s.is_empty()));
    out
}

fn part(a: &Part, b: &Part, d: usize) -> bool {
    match (a, b) {
        (Part::Literal(x), Part::Literal(y)) => x == y,
        (Part::Other(x), Part::Other(y)) => match (x, y) {
            (
                TemplatePart::Interpolation {
                    expr: e1,
                    strip: s1,
                    ..
                },
                TemplatePart::Interpolation {
                    expr: e2,
                    strip: s2,
                    ..
                },
            ) => s1 == s2 && expr(e1, e2, d),
            (TemplatePart::If(x), TemplatePart::If(y)) => {
                expr(&x.condition, &y.condition, d)
                    && parts(&x.then, &y.then, d)
                    && match (&x.otherwise, &y.otherwise) {
                        (Some(x), Some(y)) => parts(x, y, d),
                        (None, None) => true,
                        _ => false,
                    }
            }
            (TemplatePart::For(x), TemplatePart::For(y)) => {
                let kv = match (&x.key_var, &y.key_var) {
                    (Some(k1), Some(k2)) => ident(k1, k2),
                    (None, None) => true,
                    _ => false,
                };
                kv && ident(&x.value_var, &y.value_var)
                    && expr(&x.collection, &y.collection, d)
                    && parts(&x.body, &y.body, d)
            }
            _ => false,
        },
        _ => false,
    }
}
