//! JSON deployment templates (LANGUAGE.md section 7) converted to `.mcpo` source.
//!
//! A template is `{ "name": ..., "resources": [{ "server", "type", "name", "properties" }] }`.
//! Types map by joining their `:`-separated parts with `_` in snake_case (`ec2:securityGroup`
//! -> `ec2_security_group`); when the server has no such type and the last part is a verb
//! (`container:run`), the verb is dropped. Property names become snake_case unless the
//! schema has the name as written. Strings `${server:type:name.attr}` become references
//! (interpolations inside longer strings), also when they leave out the verb of the
//! declaration's type (`${docker:image:app.tag}` for an `image:build` named `app`); a
//! reference to a resource the template does not declare reads an existing one through a
//! `data` block; `${version}`-style names become
//! variables. The result is unformatted but valid source; callers format it.

use crate::{Workspace, catalog};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Verbs that name the action creating a resource rather than the resource.
const VERBS: &[&str] = &[
    "run",
    "build",
    "create",
    "launch",
    "deploy",
    "start",
    "provision",
];

/// `camelCase` / `kebab-case` to `snake_case`.
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c == '-' || c == ' ' {
            out.push('_');
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

struct Cx<'a> {
    db: &'a dyn salsa::Database,
    ws: Workspace,
    /// Declared resources: (server, template type) -> names.
    declared: BTreeSet<(String, String, String)>,
    variables: BTreeSet<String>,
    data: BTreeMap<String, String>,
}

impl Cx<'_> {
    /// The mcpo type name for a template type on `server`.
    fn type_name(&self, server: &str, ty: &str) -> String {
        let parts: Vec<String> = ty.split(':').map(snake).collect();
        let joined = parts.join("_");
        let db = self.db;
        let cat = self
            .ws
            .schemas(db)
            .iter()
            .find(|s| s.server(db) == server)
            .map(|s| catalog(db, *s));
        let Some(cat) = cat else { return joined };
        if cat.resource_types.contains_key(&joined) {
            return joined;
        }
        if let Some((last, rest)) = parts.split_last()
            && VERBS.contains(&last.as_str())
            && !rest.is_empty()
        {
            let without = rest.join("_");
            if cat.resource_types.contains_key(&without) {
                return without;
            }
        }
        joined
    }

    /// The attribute name for a template property of `server.ty`.
    fn property(&self, server: &str, ty: &str, name: &str) -> String {
        let db = self.db;
        let has_as_written = self
            .ws
            .schemas(db)
            .iter()
            .find(|s| s.server(db) == server)
            .map(|s| catalog(db, *s))
            .and_then(|c| c.resource_types.get(ty))
            .and_then(|rt| rt.input.as_object().map(|o| o.get(name).is_some()))
            .unwrap_or(false);
        if has_as_written {
            name.to_string()
        } else {
            snake(name)
        }
    }

    /// The type of the one resource declared on `server` as `label` whose type starts with
    /// `ty` and a `_` (a reference that leaves out the verb of the declaration's type, as
    /// `image` for `image:build`), when `ty` itself is not a resource type of the server.
    fn declared_by_prefix(&self, server: &str, ty: &str, label: &str) -> Option<String> {
        let db = self.db;
        let known = self
            .ws
            .schemas(db)
            .iter()
            .find(|s| s.server(db) == server)
            .is_some_and(|s| catalog(db, *s).resource_types.contains_key(ty));
        if known {
            return None;
        }
        let prefix = format!("{ty}_");
        let mut found = self
            .declared
            .iter()
            .filter(|(s, t, l)| s == server && l == label && t.starts_with(&prefix));
        let first = found.next()?;
        found.next().is_none().then(|| first.1.clone())
    }

    /// The expression for a `${...}` reference.
    fn reference(&mut self, inner: &str) -> String {
        let Some((path, attr)) = inner.split_once('.') else {
            // `${version}`: a variable.
            let v = snake(inner);
            self.variables.insert(v.clone());
            return format!("var.{v}");
        };
        let parts: Vec<&str> = path.split(':').collect();
        let [server, ty @ .., name] = parts.as_slice() else {
            return format!("var.{}", snake(path));
        };
        if ty.is_empty() {
            let v = snake(path);
            self.variables.insert(v.clone());
            return format!("var.{v}.{attr}");
        }
        let ty_text = ty.join(":");
        let mapped = self.type_name(server, &ty_text);
        let label = snake(name);
        let attr = snake(attr);
        if self
            .declared
            .contains(&(server.to_string(), mapped.clone(), label.clone()))
        {
            format!("{server}.{mapped}.{label}.{attr}")
        } else if let Some(declared) = self.declared_by_prefix(server, &mapped, &label) {
            // `${docker:image:app.tag}` for the template's `image:build` named `app`.
            format!("{server}.{declared}.{label}.{attr}")
        } else {
            self.data
                .insert(format!("{server}.{mapped}\" \"{label}"), name.to_string());
            format!("data.{server}.{mapped}.{label}.{attr}")
        }
    }

    fn string(&mut self, s: &str) -> String {
        // A whole-string reference is the reference itself.
        if let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}'))
            && !inner.contains("${")
            && !inner.contains('}')
        {
            return self.reference(inner);
        }
        let mut out = String::from("\"");
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            let (before, after) = rest.split_at(i);
            out.push_str(&escape(before));
            match after.find('}') {
                Some(j) => {
                    let inner = after.get(2..j).unwrap_or("");
                    let r = self.reference(inner);
                    out.push_str(&format!("${{{r}}}"));
                    rest = after.get(j + 1..).unwrap_or("");
                }
                None => {
                    out.push_str(&escape(after));
                    rest = "";
                }
            }
        }
        out.push_str(&escape(rest));
        out.push('"');
        out
    }

    fn value(&mut self, v: &Value, indent: usize) -> String {
        match v {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(|i| self.value(i, indent)).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Object(map) => {
                if map.is_empty() {
                    return "{}".to_string();
                }
                let pad = "  ".repeat(indent + 1);
                let mut out = String::from("{\n");
                for (k, val) in map {
                    let key = if is_ident(k) {
                        k.clone()
                    } else {
                        format!("\"{}\"", escape(k))
                    };
                    let _ = writeln!(out, "{pad}{key} = {}", self.value(val, indent + 1));
                }
                out.push_str(&"  ".repeat(indent));
                out.push('}');
                out
            }
        }
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace("%{", "%%{")
}

/// Converts a JSON deployment template to `.mcpo` source, using the workspace's pulled
/// schemas to map type and property names. `Err` says why the JSON is not a template.
pub fn convert_template(
    db: &dyn salsa::Database,
    ws: Workspace,
    json: &str,
) -> Result<String, String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("not valid JSON ({e})"))?;
    let resources = doc
        .get("resources")
        .and_then(Value::as_array)
        .ok_or("a template needs a `resources` array")?;
    let mut cx = Cx {
        db,
        ws,
        declared: BTreeSet::new(),
        variables: BTreeSet::new(),
        data: BTreeMap::new(),
    };
    // First the declarations, so that references can tell declared from existing.
    let mut items = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let field = |k: &str| r.get(k).and_then(Value::as_str);
        let (Some(server), Some(ty), Some(name)) = (field("server"), field("type"), field("name"))
        else {
            return Err(format!(
                "resource {i} needs `server`, `type` and `name` strings"
            ));
        };
        let mapped = cx.type_name(server, ty);
        let label = snake(name);
        cx.declared
            .insert((server.to_string(), mapped.clone(), label.clone()));
        items.push((server.to_string(), mapped, label, r.get("properties")));
    }
    let mut body = String::new();
    for (server, ty, label, props) in items {
        let _ = writeln!(body, "resource \"{server}.{ty}\" \"{label}\" {{");
        if let Some(Value::Object(map)) = props {
            for (k, v) in map {
                let key = cx.property(&server, &ty, k);
                let val = cx.value(v, 1);
                let _ = writeln!(body, "  {key} = {val}");
            }
        }
        body.push_str("}\n\n");
    }
    let mut out = String::new();
    if let Some(name) = doc.get("name").and_then(Value::as_str) {
        let _ = writeln!(
            out,
            "# Converted from the JSON deployment template `{name}`.\n"
        );
    }
    for v in &cx.variables {
        let _ = writeln!(out, "variable \"{v}\" {{\n  type = string\n}}\n");
    }
    for (labels, name) in &cx.data {
        let _ = writeln!(
            out,
            "data \"{labels}\" {{\n  name = \"{}\"\n}}\n",
            escape(name)
        );
    }
    out.push_str(&body);
    while out.ends_with("\n\n") {
        out.pop();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn snake_case() {
        assert_eq!(snake("securityGroup"), "security_group");
        assert_eq!(snake("instanceType"), "instance_type");
        assert_eq!(snake("app-vlan"), "app_vlan");
        assert_eq!(snake("vlan"), "vlan");
    }
}
