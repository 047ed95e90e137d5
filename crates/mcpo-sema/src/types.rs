//! Type expressions (`list(string)`, `object({a = optional(number)})`), assignability with
//! HCL's implicit conversions, and joining the types of conditional branches.

use mcpo_diagnostics::Span;
use mcpo_schema::{Attr, ObjectTy, Ty};
use mcpo_syntax::ast::{Expr, ExprKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A malformed type expression.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeExprError {
    /// Where.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

fn err(span: Span, message: impl Into<String>) -> TypeExprError {
    TypeExprError {
        span,
        message: message.into(),
    }
}

/// Reads a type expression as written in `variable { type = ... }` or a `param`.
pub fn parse_type_expr(expr: &Expr) -> Result<Ty, TypeExprError> {
    parse_attr(expr, 0).map(|a| a.ty)
}

fn parse_attr(expr: &Expr, depth: usize) -> Result<Attr, TypeExprError> {
    if depth > 64 {
        return Err(err(expr.span, "type expression nested too deep"));
    }
    match &expr.kind {
        ExprKind::Parens(inner) => parse_attr(inner, depth + 1),
        ExprKind::Variable(id) => {
            let ty = match id.name.as_str() {
                "string" => Ty::String,
                "number" => Ty::Number,
                "bool" => Ty::Bool,
                "any" => Ty::Any,
                other => {
                    return Err(err(
                        id.span,
                        format!(
                            "`{other}` is not a type (types are string, number, bool, any, list(T), set(T), map(T), object({{...}}), tuple([...]))"
                        ),
                    ));
                }
            };
            Ok(Attr::new(ty, true))
        }
        ExprKind::Template(t) => {
            // `"pass" | "block"` is not HCL; a single string literal is an enum of one.
            match t.as_literal() {
                Some(s) => Ok(Attr::new(Ty::Enum(vec![Value::String(s)]), true)),
                None => Err(err(expr.span, "a type cannot hold an interpolation")),
            }
        }
        ExprKind::FunctionCall(call) if call.namespace.is_empty() => {
            let name = call.name.name.as_str();
            let one = |depth: usize| -> Result<Attr, TypeExprError> {
                match call.args.as_slice() {
                    [a] => parse_attr(a, depth + 1),
                    [a, _default] if name == "optional" => parse_attr(a, depth + 1),
                    _ => Err(err(
                        call.name.span,
                        format!("`{name}(...)` takes one type argument"),
                    )),
                }
            };
            match name {
                "list" => Ok(Attr::new(Ty::List(Box::new(one(depth)?.ty)), true)),
                "set" => Ok(Attr::new(Ty::Set(Box::new(one(depth)?.ty)), true)),
                "map" => Ok(Attr::new(Ty::Map(Box::new(one(depth)?.ty)), true)),
                "sensitive" => Ok(Attr::new(Ty::Sensitive(Box::new(one(depth)?.ty)), true)),
                "optional" => {
                    let mut a = one(depth)?;
                    a.required = false;
                    Ok(a)
                }
                "tuple" => match call.args.as_slice() {
                    [
                        Expr {
                            kind: ExprKind::Tuple(items),
                            ..
                        },
                    ] => {
                        let mut tys = Vec::new();
                        for i in items {
                            tys.push(parse_attr(i, depth + 1)?.ty);
                        }
                        Ok(Attr::new(Ty::Tuple(tys), true))
                    }
                    _ => Err(err(
                        expr.span,
                        "`tuple` takes a list of types: tuple([string, number])",
                    )),
                },
                "object" => match call.args.as_slice() {
                    [
                        Expr {
                            kind: ExprKind::Object(items),
                            ..
                        },
                    ] => {
                        let mut attrs = BTreeMap::new();
                        for item in items {
                            let key = match object_key(&item.key) {
                                Some(k) => k,
                                None => {
                                    return Err(err(
                                        item.key.span,
                                        "an attribute name must be a plain name or string",
                                    ));
                                }
                            };
                            attrs.insert(key, parse_attr(&item.value, depth + 1)?);
                        }
                        Ok(Attr::new(
                            Ty::Object(Arc::new(ObjectTy { attrs, extra: None })),
                            true,
                        ))
                    }
                    _ => Err(err(
                        expr.span,
                        "`object` takes an object of types: object({ name = string })",
                    )),
                },
                other => Err(err(
                    call.name.span,
                    format!("`{other}` is not a type constructor"),
                )),
            }
        }
        _ => Err(err(
            expr.span,
            "expected a type, e.g. string or list(number)",
        )),
    }
}

/// The literal name of an object key: a bare identifier or a plain string.
pub fn object_key(key: &Expr) -> Option<String> {
    match &key.kind {
        ExprKind::Variable(id) => Some(id.name.clone()),
        ExprKind::Template(t) => t.as_literal(),
        ExprKind::Parens(inner) => match &inner.kind {
            ExprKind::Template(t) => t.as_literal(),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a value of type `found` may be used where `expected` is wanted, allowing HCL's
/// conversions (a number or bool where a string is wanted, a tuple where a list is, an
/// object where a map is). `any` on either side is always accepted.
pub fn assignable(found: &Ty, expected: &Ty) -> bool {
    assignable_at(found, expected, 0)
}

fn assignable_at(found: &Ty, expected: &Ty, depth: usize) -> bool {
    if depth > 64 {
        return true;
    }
    let found = found.strip_sensitive();
    let expected = expected.strip_sensitive();
    let d = depth + 1;
    match (found, expected) {
        (Ty::Any, _) | (_, Ty::Any) | (Ty::Null, _) => true,
        (Ty::Union(fs), _) => fs.iter().all(|f| assignable_at(f, expected, d)),
        (_, Ty::Union(es)) => es.iter().any(|e| assignable_at(found, e, d)),
        (Ty::Enum(fv), Ty::Enum(ev)) => fv.iter().all(|v| ev.contains(v)),
        (Ty::Enum(fv), _) => fv
            .iter()
            .all(|v| assignable_at(&literal_ty(v), expected, d)),
        (_, Ty::Enum(ev)) => ev.iter().any(|v| assignable_at(found, &literal_ty(v), d)),
        (Ty::String | Ty::Number | Ty::Bool, Ty::String) => true,
        (Ty::Number, Ty::Number) | (Ty::Bool, Ty::Bool) => true,
        (Ty::List(f) | Ty::Set(f), Ty::List(e) | Ty::Set(e)) => assignable_at(f, e, d),
        (Ty::Tuple(fs), Ty::List(e) | Ty::Set(e)) => fs.iter().all(|f| assignable_at(f, e, d)),
        (Ty::Tuple(fs), Ty::Tuple(es)) => {
            fs.len() == es.len() && fs.iter().zip(es).all(|(f, e)| assignable_at(f, e, d))
        }
        (Ty::List(f), Ty::Tuple(es)) => es.iter().all(|e| assignable_at(f, e, d)),
        (Ty::Map(f), Ty::Map(e)) => assignable_at(f, e, d),
        (Ty::Object(fo), Ty::Map(e)) => fo.attrs.values().all(|a| assignable_at(&a.ty, e, d)),
        (Ty::Map(f), Ty::Object(eo)) => eo.attrs.values().all(|a| assignable_at(f, &a.ty, d)),
        (Ty::Object(fo), Ty::Object(eo)) => object_fits(fo, eo, d),
        _ => false,
    }
}

fn object_fits(found: &ObjectTy, expected: &ObjectTy, depth: usize) -> bool {
    for (name, want) in &expected.attrs {
        match found.attrs.get(name) {
            Some(have) => {
                if !assignable_at(&have.ty, &want.ty, depth) {
                    return false;
                }
            }
            None => {
                if want.required {
                    return false;
                }
            }
        }
    }
    found.attrs.iter().all(|(name, have)| {
        expected.attrs.contains_key(name)
            || expected
                .extra
                .as_ref()
                .is_some_and(|x| assignable_at(&have.ty, x, depth))
    })
}

/// The type of a literal JSON value.
pub fn literal_ty(v: &Value) -> Ty {
    match v {
        Value::Null => Ty::Null,
        Value::Bool(_) => Ty::Bool,
        Value::Number(_) => Ty::Number,
        Value::String(_) => Ty::String,
        Value::Array(_) => Ty::List(Box::new(Ty::Any)),
        Value::Object(_) => Ty::Map(Box::new(Ty::Any)),
    }
}

/// The type of a value that is either `a` or `b` (conditional branches, list elements).
pub fn join(a: &Ty, b: &Ty) -> Ty {
    if a == b {
        return a.clone();
    }
    let sensitive = a.is_sensitive() || b.is_sensitive();
    let (sa, sb) = (a.strip_sensitive(), b.strip_sensitive());
    let joined = match (sa, sb) {
        (Ty::Null, t) | (t, Ty::Null) => t.clone(),
        (Ty::Any, _) | (_, Ty::Any) => Ty::Any,
        _ if sa == sb => sa.clone(),
        (Ty::Enum(x), Ty::Enum(y)) => {
            let mut v = x.clone();
            for e in y {
                if !v.contains(e) {
                    v.push(e.clone());
                }
            }
            Ty::Enum(v)
        }
        (Ty::Enum(_), Ty::String) | (Ty::String, Ty::Enum(_)) => Ty::String,
        (Ty::Enum(_), Ty::Number) | (Ty::Number, Ty::Enum(_)) => Ty::Number,
        (Ty::Tuple(_) | Ty::List(_), Ty::Tuple(_) | Ty::List(_)) => {
            Ty::List(Box::new(join(&element(sa), &element(sb))))
        }
        (Ty::Object(_) | Ty::Map(_), Ty::Object(_) | Ty::Map(_)) => {
            if assignable(sa, sb) {
                sb.clone()
            } else if assignable(sb, sa) {
                sa.clone()
            } else {
                Ty::Map(Box::new(join(&element(sa), &element(sb))))
            }
        }
        _ if assignable(sa, sb) => sb.clone(),
        _ if assignable(sb, sa) => sa.clone(),
        _ => mcpo_schema::types::union(vec![sa.clone(), sb.clone()]),
    };
    if sensitive {
        Ty::Sensitive(Box::new(joined))
    } else {
        joined
    }
}

/// The element type of a collection (the join of a tuple's or object's members); `any`
/// for anything else.
pub fn element(ty: &Ty) -> Ty {
    match ty.strip_sensitive() {
        Ty::List(t) | Ty::Set(t) | Ty::Map(t) => (**t).clone(),
        Ty::Tuple(items) => items.iter().fold(Ty::Null, |acc, t| join(&acc, t)),
        Ty::Object(o) => o.attrs.values().fold(Ty::Null, |acc, a| join(&acc, &a.ty)),
        _ => Ty::Any,
    }
    .null_to_any()
}

trait NullToAny {
    fn null_to_any(self) -> Ty;
}

impl NullToAny for Ty {
    fn null_to_any(self) -> Ty {
        if self == Ty::Null { Ty::Any } else { self }
    }
}

/// Marks `ty` sensitive when `sensitive` is true.
pub fn taint(ty: Ty, sensitive: bool) -> Ty {
    if sensitive && !ty.is_sensitive() {
        Ty::Sensitive(Box::new(ty))
    } else {
        ty
    }
}

/// A short name of a type's kind for messages ("a string", "a list").
pub fn describe(ty: &Ty) -> String {
    match ty.strip_sensitive() {
        Ty::Enum(v) if v.len() == 1 => v
            .first()
            .map(|x| format!("the literal {x}"))
            .unwrap_or_default(),
        Ty::Tuple(_) => "a tuple".to_string(),
        Ty::Object(_) => "an object".to_string(),
        t => {
            let text = t.to_string();
            if text.chars().count() <= 48 {
                return format!("`{text}`");
            }
            match t {
                Ty::List(_) => "a list of objects".to_string(),
                Ty::Set(_) => "a set".to_string(),
                Ty::Map(_) => "a map".to_string(),
                _ => "a union of types".to_string(),
            }
        }
    }
}
