//! `yamlencode` (in Terraform's style: block style, every string double-quoted) and
//! `yamldecode` (YAML 1.2 core schema, one document).

use super::encoding::json_string;
use super::{Args, number_text};
use crate::{Io, Val};
use std::collections::BTreeMap;

pub(super) fn yamlencode(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut text = lines(a.get(0), 0).join("\n");
    text.push('\n');
    Ok(Val::String(text))
}

fn scalar(v: &Val) -> Option<String> {
    Some(match v {
        Val::Null | Val::Unknown => "null".to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Number(n) if n.is_finite() => number_text(*n),
        Val::Number(n) if n.is_nan() => ".nan".to_string(),
        Val::Number(n) if *n > 0.0 => ".inf".to_string(),
        Val::Number(_) => "-.inf".to_string(),
        Val::String(s) => quoted(s),
        Val::List(items) if items.is_empty() => "[]".to_string(),
        Val::Map(m) if m.is_empty() => "{}".to_string(),
        Val::Sensitive(inner) => return scalar(inner),
        Val::List(_) | Val::Map(_) => return None,
    })
}

fn quoted(s: &str) -> String {
    let mut q = String::new();
    json_string(s, false, &mut q);
    q
}

/// The lines of a node, not indented (the caller indents).
fn lines(v: &Val, depth: usize) -> Vec<String> {
    if let Some(s) = scalar(v) {
        return vec![s];
    }
    if depth > 200 {
        return vec!["null".to_string()];
    }
    match v {
        Val::List(items) => {
            let mut out = Vec::new();
            for item in items {
                for (i, line) in lines(item, depth + 1).into_iter().enumerate() {
                    out.push(if i == 0 {
                        format!("- {line}")
                    } else {
                        format!("  {line}")
                    });
                }
            }
            out
        }
        Val::Map(m) => {
            let mut out = Vec::new();
            for (k, item) in m {
                let key = quoted(k);
                if let Some(s) = scalar(item) {
                    out.push(format!("{key}: {s}"));
                    continue;
                }
                out.push(format!("{key}:"));
                // Sequences in a mapping are not indented (go-yaml's style).
                let indent = if matches!(item.unmarked(), Val::List(_)) {
                    ""
                } else {
                    "  "
                };
                out.extend(
                    lines(item, depth + 1)
                        .into_iter()
                        .map(|l| format!("{indent}{l}")),
                );
            }
            out
        }
        Val::Sensitive(inner) => lines(inner, depth),
        _ => vec!["null".to_string()],
    }
}

pub(super) fn yamldecode(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    if s.trim().is_empty() {
        return Ok(Val::Null);
    }
    let mut doc: serde_norway::Value = match serde_norway::from_str(&s) {
        Ok(v) => v,
        Err(e) => return a.err(format!("the argument is not valid YAML: {e}")),
    };
    if let Err(e) = doc.apply_merge() {
        return a.err(format!("the argument is not valid YAML: {e}"));
    }
    convert(&doc, 0).or_else(|e| a.err(e))
}

fn convert(v: &serde_norway::Value, depth: usize) -> Result<Val, String> {
    use serde_norway::Value as Y;
    if depth > 200 {
        return Err("the YAML is nested too deeply".to_string());
    }
    Ok(match v {
        Y::Null => Val::Null,
        Y::Bool(b) => Val::Bool(*b),
        Y::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => Val::Number(f),
            _ => return Err(format!("{n} is not a finite number")),
        },
        Y::String(s) => Val::String(s.clone()),
        Y::Sequence(items) => Val::List(
            items
                .iter()
                .map(|i| convert(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = BTreeMap::new();
            for (k, item) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => match n.as_f64() {
                        Some(f) if f.is_finite() => number_text(f),
                        _ => n.to_string(),
                    },
                    Y::Null => "null".to_string(),
                    _ => {
                        return Err(
                            "a mapping key is a collection; keys must be strings".to_string()
                        );
                    }
                };
                out.insert(key, convert(item, depth + 1)?);
            }
            Val::Map(out)
        }
        Y::Tagged(t) => convert(&t.value, depth + 1)?,
    })
}
