//! Canonical JSON: object keys sorted, no insignificant whitespace.
//!
//! Written by hand rather than relying on `serde_json::Map` ordering, because a crate
//! elsewhere in the build can turn on serde_json's `preserve_order` feature, which would
//! silently change the hash of every schema.

use serde_json::Value;

/// The canonical text of a JSON value: keys sorted by their UTF-8 bytes, no whitespace,
/// strings and numbers as serde_json writes them. Equal values give equal text.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level() {
        let v = json!({"b": 1, "a": {"z": [1, {"y": null, "x": "s\"q"}], "c": true}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":true,"z":[1,{"x":"s\"q","y":null}]},"b":1}"#
        );
    }
}
