//! Expectations: a value checked against the type its position expects (an attribute of
//! a schema, a variable's type), with the constraints of literal values (enums, patterns,
//! lengths, bounds).

use super::{Cx, MAX_EXPR_DEPTH, Origin, chars, fmt_num, list_names, literal};
use crate::suggest;
use crate::types::{assignable, describe, literal_ty, object_key};
use mcpo_diagnostics::{Fix, Span, codes};
use mcpo_schema::{Attr, ObjectTy, Ty};
use mcpo_syntax::ast::{Expr, ExprKind, ObjectItem};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

impl<'db> Cx<'db> {
    pub(super) fn against(&mut self, expr: &Expr, want: &Attr, origin: &Origin) {
        if self.depth >= MAX_EXPR_DEPTH {
            return;
        }
        self.depth += 1;
        self.against_inner(expr, want, origin);
        self.depth -= 1;
    }

    pub(super) fn against_inner(&mut self, expr: &Expr, want: &Attr, origin: &Origin) {
        let expected = want.ty.strip_sensitive();
        match (&expr.kind, expected) {
            (ExprKind::Parens(inner), _) => self.against(inner, want, origin),
            (ExprKind::Object(items), Ty::Object(o)) => {
                self.object_against(items, o, origin, expr.span)
            }
            (ExprKind::Object(items), Ty::Map(elem)) => {
                let a = Attr::new((**elem).clone(), true);
                for i in items {
                    self.key(&i.key);
                    self.against(&i.value, &a, origin);
                }
            }
            (ExprKind::Tuple(items), Ty::List(elem) | Ty::Set(elem)) => {
                let a = Attr::new((**elem).clone(), true);
                for i in items {
                    self.against(i, &a, origin);
                }
                self.items_count(items.len(), want, expr.span, origin);
            }
            (ExprKind::Tuple(items), Ty::Tuple(elems)) if items.len() == elems.len() => {
                for (i, t) in items.iter().zip(elems) {
                    self.against(i, &Attr::new(t.clone(), true), origin);
                }
            }
            (
                ExprKind::Conditional {
                    condition,
                    then,
                    otherwise,
                },
                _,
            ) => {
                self.condition(condition);
                self.against(then, want, origin);
                self.against(otherwise, want, origin);
            }
            _ => {
                let found = self.infer(expr);
                if let Some(lit) = literal(expr) {
                    if let Ty::Enum(allowed) = expected
                        && !allowed.contains(&lit)
                        && assignable(
                            &literal_ty(&lit),
                            &Ty::Union(allowed.iter().map(literal_ty).collect()),
                        )
                    {
                        let all: Vec<String> = allowed.iter().map(Value::to_string).collect();
                        let shown: Vec<&str> = all.iter().take(12).map(String::as_str).collect();
                        let more = if all.len() > 12 {
                            format!(" and {} more", all.len() - 12)
                        } else {
                            String::new()
                        };
                        let close = suggest::best(&lit.to_string(), all.iter().map(String::as_str))
                            .map(str::to_string);
                        // The allowed values in the help, the did-you-mean first.
                        let values = format!("the allowed values are {}{more}", shown.join(", "));
                        let help = match &close {
                            Some(c) => format!("did you mean `{c}`? {values}"),
                            None => values,
                        };
                        let span = expr.span;
                        self.error(codes::E0202, span, format!("{lit} is not an allowed value"))
                            .label(format!("not in the `enum` of {}", origin.text))
                            .help(help)
                            .map(|d| match close {
                                Some(c) => d.with_fix(Fix {
                                    title: format!("replace with `{c}`"),
                                    span,
                                    replacement: c,
                                }),
                                None => d,
                            })
                            .emit();
                        return;
                    }
                    if assignable(&found, expected) {
                        self.constraints(&lit, want, expr.span, origin);
                        return;
                    }
                }
                if !assignable(&found, expected) {
                    let mut b = self
                        .error(
                            codes::E0201,
                            expr.span,
                            format!("expected `{}`, found {}", want.ty, describe(&found)),
                        )
                        .label(format!("expected `{}` because of {}", want.ty, origin.text));
                    if matches!(expected, Ty::Number | Ty::Bool)
                        && let Some(Value::String(s)) = literal(expr)
                        && (s.parse::<f64>().is_ok() || s == "true" || s == "false")
                    {
                        b = b.help("remove the quotes");
                    }
                    b.emit();
                }
            }
        }
    }

    pub(super) fn items_count(&mut self, n: usize, want: &Attr, span: Span, origin: &Origin) {
        let c = &want.constraints;
        let n64 = n as u64;
        if let Some(min) = c.min_items
            && n64 < min
        {
            self.error(
                codes::E0203,
                span,
                format!("{n} items, fewer than the minimum of {min}"),
            )
            .label(format!("`minItems` is {min} in {}", origin.text))
            .emit();
        }
        if let Some(max) = c.max_items
            && n64 > max
        {
            self.error(
                codes::E0203,
                span,
                format!("{n} items, more than the maximum of {max}"),
            )
            .label(format!("`maxItems` is {max} in {}", origin.text))
            .emit();
        }
    }

    pub(super) fn constraints(&mut self, lit: &Value, want: &Attr, span: Span, origin: &Origin) {
        let c = &want.constraints;
        match lit {
            Value::Number(n) => {
                let Some(x) = n.as_f64() else { return };
                if c.integer && x.fract() != 0.0 {
                    self.error(codes::E0203, span, format!("{x} is not a whole number"))
                        .label(format!("{} takes an integer", origin.text))
                        .emit();
                }
                if let Some(min) = c.minimum
                    && (x < min || (c.exclusive_minimum && x == min))
                {
                    let word = if c.exclusive_minimum {
                        "greater than"
                    } else {
                        "at least"
                    };
                    self.error(
                        codes::E0203,
                        span,
                        format!("{} is below the minimum", fmt_num(x)),
                    )
                    .label(format!("must be {word} {} ({})", fmt_num(min), origin.text))
                    .emit();
                }
                if let Some(max) = c.maximum
                    && (x > max || (c.exclusive_maximum && x == max))
                {
                    let word = if c.exclusive_maximum {
                        "less than"
                    } else {
                        "at most"
                    };
                    self.error(
                        codes::E0203,
                        span,
                        format!("{} is above the maximum", fmt_num(x)),
                    )
                    .label(format!("must be {word} {} ({})", fmt_num(max), origin.text))
                    .emit();
                }
            }
            Value::String(s) => {
                let len = s.chars().count() as u64;
                if let Some(min) = c.min_length
                    && len < min
                {
                    self.error(
                        codes::E0203,
                        span,
                        format!("string of {} is shorter than the minimum", chars(len)),
                    )
                    .label(format!("`minLength` is {min} in {}", origin.text))
                    .emit();
                }
                if let Some(max) = c.max_length
                    && len > max
                {
                    self.error(
                        codes::E0203,
                        span,
                        format!("string of {} is longer than the maximum", chars(len)),
                    )
                    .label(format!("`maxLength` is {max} in {}", origin.text))
                    .emit();
                }
                // A known `format` is checked first, and says what is wrong in words; the
                // `pattern` (often describing the same shape) only when the format passed.
                let format_error = c.format.as_deref().and_then(|f| format_problem(f, s));
                if let Some((what, format)) = format_error {
                    let mut b = self
                        .error(codes::E0203, span, format!("\"{s}\" is not {what}"))
                        .label(format!("`format` is `{format}` in {}", origin.text));
                    if let Some(d) = &want.description {
                        b = b.help(format!("expected: {d}"));
                    }
                    b.emit();
                } else if let Some(p) = &c.pattern
                    && pattern_matches(p, s) == Some(false)
                {
                    let mut b = self
                        .error(
                            codes::E0203,
                            span,
                            format!("\"{s}\" does not match the required pattern"),
                        )
                        .label(format!("`pattern` is `{p}` in {}", origin.text));
                    // What the schema says the value should be, in words, when it says.
                    if let Some(d) = &want.description {
                        b = b.help(format!("expected: {d}"));
                    }
                    b.emit();
                }
            }
            _ => {}
        }
    }

    pub(super) fn object_against(
        &mut self,
        items: &[ObjectItem],
        o: &Arc<ObjectTy>,
        origin: &Origin,
        span: Span,
    ) {
        let mut seen = BTreeSet::new();
        for i in items {
            let Some(k) = object_key(&i.key) else {
                self.key(&i.key);
                self.infer(&i.value);
                continue;
            };
            seen.insert(k.clone());
            match o.get(&k) {
                Some(a) => {
                    let a = a.clone();
                    self.against(&i.value, &a, origin);
                }
                None => match &o.extra {
                    Some(x) => {
                        let a = Attr::new((**x).clone(), false);
                        self.against(&i.value, &a, origin);
                    }
                    None => {
                        self.unknown_attribute(&k, i.key.span, o, &origin.nested(), &[]);
                        self.infer(&i.value);
                    }
                },
            }
        }
        let missing: Vec<&str> = o
            .attrs
            .iter()
            .filter(|(n, a)| a.required && !seen.contains(n.as_str()))
            .map(|(n, _)| n.as_str())
            .collect();
        if !missing.is_empty() {
            let plural = if missing.len() == 1 { "" } else { "s" };
            self.error(
                codes::E0200,
                span,
                format!(
                    "missing required attribute{plural} {}",
                    list_names(&missing)
                ),
            )
            .label(format!("required by {}", origin.text))
            .emit();
        }
    }

    pub(super) fn key(&mut self, key: &Expr) {
        if object_key(key).is_none() {
            self.infer(key);
        }
    }

    pub(super) fn condition(&mut self, e: &Expr) {
        let t = self.infer(e);
        if !assignable(&t, &Ty::Bool) {
            self.error(
                codes::E0201,
                e.span,
                format!("expected `bool`, found {}", describe(&t)),
            )
            .label("a condition must be a bool")
            .emit();
        }
    }
}

/// What is wrong with `s` for the JSON Schema `format` named `format`, for the formats
/// mcpo knows (`ipv4`, `ipv6`): `(what it is not, the format)`. `None` when it is fine
/// or the format is not one mcpo checks (formats are annotations in JSON Schema; these
/// two have one meaning everywhere).
fn format_problem<'f>(format: &'f str, s: &str) -> Option<(&'static str, &'f str)> {
    match format {
        "ipv4" => s
            .parse::<std::net::Ipv4Addr>()
            .is_err()
            .then_some(("an IPv4 address", format)),
        "ipv6" => s
            .parse::<std::net::Ipv6Addr>()
            .is_err()
            .then_some(("an IPv6 address", format)),
        _ => None,
    }
}

/// Whether `text` matches the JSON Schema `pattern`; `None` when the pattern is not a
/// regex this checker can compile (it is then not checked). Compiled patterns are kept
/// for the life of the process: schemas repeat a handful of patterns (CIDR blocks, names,
/// image ids) across thousands of literals, and compiling one costs more than checking
/// a whole resource.
fn pattern_matches(pattern: &str, text: &str) -> Option<bool> {
    /// Distinct patterns kept at most (a hostile schema cannot grow the cache forever).
    const MAX_PATTERNS: usize = 4096;
    static COMPILED: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let cache = COMPILED.get_or_init(Mutex::default);
    let cached = cache.lock().ok().and_then(|c| c.get(pattern).cloned());
    let re = match cached {
        Some(re) => re,
        None => {
            let re = regex::Regex::new(pattern).ok();
            if let Ok(mut c) = cache.lock() {
                if c.len() >= MAX_PATTERNS {
                    c.clear();
                }
                c.insert(pattern.to_string(), re.clone());
            }
            re
        }
    };
    re.map(|re| re.is_match(text))
}
