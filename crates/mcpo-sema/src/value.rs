//! Runtime values: what expressions evaluate to at plan and apply time.
//!
//! A value is JSON-shaped (what MCP tools take and return) plus two marks that planning
//! needs: [`Val::Unknown`] for values only known after apply (a computed output of a
//! resource that does not exist yet) and [`Val::Sensitive`] for values that must never be
//! printed.

use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// A runtime value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number (HCL numbers are arbitrary precision; f64 covers what tools exchange).
    Number(f64),
    /// A string.
    String(String),
    /// A list, set or tuple.
    List(Vec<Val>),
    /// A map or object, keys sorted.
    Map(BTreeMap<String, Val>),
    /// Known only after apply: `(known after apply)` in a plan.
    Unknown,
    /// A value that must not be shown (`sensitive = true`, `sensitive(...)`, secrets).
    Sensitive(Box<Val>),
}

impl Val {
    /// Converts a JSON value (a tool result, a stored state) to a value.
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Number(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => Val::String(s.clone()),
            Value::Array(items) => Val::List(items.iter().map(Val::from_json).collect()),
            Value::Object(m) => Val::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The JSON form, with sensitive marks dropped (the value itself is kept: this is what
    /// is sent to a tool or stored). `None` when anything inside is unknown.
    pub fn to_json(&self) -> Option<Value> {
        Some(match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Number(n) => number_json(*n),
            Val::String(s) => Value::String(s.clone()),
            Val::List(items) => {
                Value::Array(items.iter().map(Val::to_json).collect::<Option<Vec<_>>>()?)
            }
            Val::Map(m) => {
                let mut out = Map::new();
                for (k, v) in m {
                    out.insert(k.clone(), v.to_json()?);
                }
                Value::Object(out)
            }
            Val::Unknown => return None,
            Val::Sensitive(inner) => inner.to_json()?,
        })
    }

    /// Whether nothing inside is unknown.
    pub fn is_known(&self) -> bool {
        match self {
            Val::Unknown => false,
            Val::List(items) => items.iter().all(Val::is_known),
            Val::Map(m) => m.values().all(Val::is_known),
            Val::Sensitive(inner) => inner.is_known(),
            _ => true,
        }
    }

    /// Whether this value, or anything inside it, is sensitive.
    pub fn is_sensitive(&self) -> bool {
        match self {
            Val::Sensitive(_) => true,
            Val::List(items) => items.iter().any(Val::is_sensitive),
            Val::Map(m) => m.values().any(Val::is_sensitive),
            _ => false,
        }
    }

    /// The value without sensitive marks at the top (marks inside are kept).
    pub fn unmarked(&self) -> &Val {
        match self {
            Val::Sensitive(inner) => inner.unmarked(),
            other => other,
        }
    }

    /// Marks the value sensitive (once).
    pub fn mark_sensitive(self) -> Val {
        match self {
            Val::Sensitive(_) => self,
            other => Val::Sensitive(Box::new(other)),
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "bool",
            Val::Number(_) => "number",
            Val::String(_) => "string",
            Val::List(_) => "list",
            Val::Map(_) => "object",
            Val::Unknown => "unknown value",
            Val::Sensitive(inner) => inner.kind_name(),
        }
    }

    /// The attribute `name` of an object value (through sensitive marks, which carry over).
    pub fn get_attr(&self, name: &str) -> Option<Val> {
        match self {
            Val::Map(m) => m.get(name).cloned(),
            Val::Sensitive(inner) => inner.get_attr(name).map(Val::mark_sensitive),
            Val::Unknown => Some(Val::Unknown),
            _ => None,
        }
    }

    /// A text rendering for plans and logs: sensitive values are `(sensitive value)`,
    /// unknown ones `(known after apply)`, strings are quoted.
    pub fn display(&self) -> String {
        match self {
            Val::Null => "null".to_string(),
            Val::Bool(b) => b.to_string(),
            Val::Number(n) => number_json(*n).to_string(),
            Val::String(s) => Value::String(s.clone()).to_string(),
            Val::List(items) => {
                let parts: Vec<String> = items.iter().map(Val::display).collect();
                format!("[{}]", parts.join(", "))
            }
            Val::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", v.display()))
                    .collect();
                format!("{{ {} }}", parts.join(", "))
            }
            Val::Unknown => "(known after apply)".to_string(),
            Val::Sensitive(_) => "(sensitive value)".to_string(),
        }
    }
}

/// A number as JSON: integral values within `i64` become JSON integers (a tool that takes
/// an `integer` must not receive `100.0`).
pub fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "integral and within the exactly representable range"
        )]
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// Parses `30s`, `5m`, `1h`, `250ms`, `1m30s`.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let mut total = std::time::Duration::ZERO;
    let mut num = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(*n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let secs = match unit.as_str() {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return None,
        };
        total += std::time::Duration::from_secs_f64(secs);
        any = true;
    }
    if !num.is_empty() {
        return None;
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip_keeps_integers_integral() {
        let v = json!({"tag": 100, "ratio": 0.5, "names": ["a", null, true]});
        let val = Val::from_json(&v);
        assert_eq!(val.to_json(), Some(v));
    }

    #[test]
    fn unknown_inside_makes_the_whole_unknown() {
        let val = Val::List(vec![Val::String("a".into()), Val::Unknown]);
        assert!(!val.is_known());
        assert_eq!(val.to_json(), None);
        assert_eq!(val.display(), "[\"a\", (known after apply)]");
    }

    #[test]
    fn sensitive_values_never_display() {
        let val = Val::Map(BTreeMap::from([(
            "password".to_string(),
            Val::String("hunter2".into()).mark_sensitive(),
        )]));
        assert!(val.is_sensitive());
        assert!(!val.display().contains("hunter2"));
        assert_eq!(
            val.to_json(),
            Some(serde_json::json!({"password": "hunter2"}))
        );
    }
}
