//! Input variables from the command line, variable files and the environment
//! (`MCPO_VAR_<name>`), in that precedence. Their values are converted to the declared
//! types when the workspace is planned.

use crate::error::Problem;
use mcpo_diagnostics::{FileId, codes};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where variable values come from besides the environment.
#[derive(Debug, Clone, Default)]
pub struct VarSources {
    /// `name=value` settings (`--var`), later ones win.
    pub vars: Vec<String>,
    /// Variable files (`--var-file`): JSON objects, or `name = value` lines in mcpo
    /// syntax; later files win.
    pub files: Vec<PathBuf>,
}

/// A variable's value as given, before conversion to the declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum RawVar {
    /// From `--var` or the environment: text, converted by the variable's type.
    Text(String),
    /// From a variable file: already a value.
    Json(serde_json::Value),
}

/// Collects input variables: `MCPO_VAR_<name>` from the environment, then `--var-file`s
/// in order, then `--var`s in order (later wins).
pub fn collect_vars(
    given: &VarSources,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, RawVar>, Problem> {
    let mut out = BTreeMap::new();
    for (k, v) in env {
        if let Some(name) = k.strip_prefix("MCPO_VAR_")
            && !name.is_empty()
        {
            out.insert(name.to_string(), RawVar::Text(v));
        }
    }
    for file in &given.files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Problem::new(
                codes::E0633,
                format!(
                    "cannot read the variable file `{}`: {}",
                    file.display(),
                    crate::files::io_reason(&e)
                ),
            )
            .usage()
        })?;
        for (name, value) in parse_var_file(file, &text)? {
            out.insert(name, RawVar::Json(value));
        }
    }
    for v in &given.vars {
        let Some((name, value)) = v.split_once('=') else {
            return Err(
                Problem::new(codes::E0633, format!("`--var {v}` has no `=`"))
                    .help("write `--var name=value`")
                    .usage(),
            );
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(
                Problem::new(codes::E0633, format!("`--var {v}` names no variable"))
                    .help("write `--var name=value`")
                    .usage(),
            );
        }
        out.insert(name.to_string(), RawVar::Text(value.to_string()));
    }
    Ok(out)
}

fn parse_var_file(path: &Path, text: &str) -> Result<Vec<(String, serde_json::Value)>, Problem> {
    let bad = |why: String| {
        Problem::new(
            codes::E0633,
            format!("the variable file `{}` {why}", path.display()),
        )
        .help("write a JSON object `{\"name\": value}`, or `name = value` lines")
        .usage()
    };
    if path.extension().is_some_and(|e| e == "json") {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("is not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(bad("is not a JSON object".into()));
        };
        return Ok(map.into_iter().collect());
    }
    let parsed = mcpo_syntax::parse(text, FileId(0));
    if let Some(d) = parsed.diagnostics.iter().find(|d| d.is_error()) {
        let line = text
            .get(..d.span.start as usize)
            .map_or(1, |t| t.matches('\n').count() + 1);
        return Err(bad(format!(
            "has a syntax error on line {line}: {}",
            d.message
        )));
    }
    let mut out = Vec::new();
    for item in &parsed.file.body.items {
        match item {
            mcpo_syntax::ast::BodyItem::Attribute(a) => {
                let value = literal(&a.value).ok_or_else(|| {
                    bad(format!(
                        "sets `{}` to an expression; only literal values can be used",
                        a.name.name
                    ))
                })?;
                out.push((a.name.name.clone(), value));
            }
            mcpo_syntax::ast::BodyItem::Block(b) => {
                return Err(bad(format!(
                    "has a `{}` block; it may only set variables",
                    b.ty.name
                )));
            }
            mcpo_syntax::ast::BodyItem::Error(_) => {
                return Err(bad("cannot be read".into()));
            }
        }
    }
    Ok(out)
}

/// The value of a literal expression (strings without interpolation, numbers, bools,
/// null, lists and objects of literals).
fn literal(expr: &mcpo_syntax::ast::Expr) -> Option<serde_json::Value> {
    use mcpo_syntax::ast::{ExprKind, TemplatePart};
    use serde_json::Value;
    Some(match &expr.kind {
        ExprKind::Null => Value::Null,
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Number(n) => serde_json::from_str::<serde_json::Number>(n)
            .ok()
            .map(Value::Number)?,
        ExprKind::Template(t) => {
            let mut s = String::new();
            for part in &t.parts {
                match part {
                    TemplatePart::Literal { value, .. } => s.push_str(value),
                    _ => return None,
                }
            }
            Value::String(s)
        }
        ExprKind::Tuple(items) => Value::Array(items.iter().map(literal).collect::<Option<_>>()?),
        ExprKind::Object(items) => {
            let mut map = serde_json::Map::new();
            for item in items {
                let key = match &item.key.kind {
                    ExprKind::Variable(id) => id.name.clone(),
                    _ => match literal(&item.key)? {
                        Value::String(s) => s,
                        _ => return None,
                    },
                };
                map.insert(key, literal(&item.value)?);
            }
            Value::Object(map)
        }
        ExprKind::Parens(inner) => literal(inner)?,
        _ => return None,
    })
}

/// A variable value as `mcpo-plan` takes it: text in HCL syntax, where a string is
/// given bare (its declared type decides how the text is read).
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// [`collect_vars`]' values as `mcpo-plan` takes them.
pub fn var_texts(vars: BTreeMap<String, RawVar>) -> BTreeMap<String, String> {
    vars.into_iter()
        .map(|(k, v)| match v {
            RawVar::Text(t) => (k, t),
            RawVar::Json(j) => (k, value_text(&j)),
        })
        .collect()
}

/// Rewrites Terraform-style single-dash long options (`-var x=1`, `-var-file f`,
/// `-var=x=1`) into clap's `--var` form, so both spellings work.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            for opt in ["-var", "-var-file"] {
                if a == opt {
                    return format!("-{a}");
                }
                if let Some(rest) = a.strip_prefix(opt)
                    && rest.starts_with('=')
                {
                    return format!("-{opt}{rest}");
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_files_and_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let json = dir.path().join("v.json");
        std::fs::write(&json, r#"{"a": 1, "b": [true]}"#).expect("write");
        let hcl = dir.path().join("v.mcpovars");
        std::fs::write(&hcl, "b = \"two\"\nc = { k = [1, 2] }\n").expect("write");
        let given = VarSources {
            vars: vec!["c=3".into(), "d=x=y".into()],
            files: vec![json, hcl],
        };
        let env = [
            ("MCPO_VAR_a".to_string(), "env".to_string()),
            ("MCPO_VAR_e".to_string(), "5".to_string()),
            ("HOME".to_string(), "/".to_string()),
        ];
        let vars = collect_vars(&given, env).expect("vars");
        assert_eq!(vars.get("a"), Some(&RawVar::Json(serde_json::json!(1))));
        assert_eq!(vars.get("b"), Some(&RawVar::Json(serde_json::json!("two"))));
        assert_eq!(vars.get("c"), Some(&RawVar::Text("3".into())));
        assert_eq!(vars.get("d"), Some(&RawVar::Text("x=y".into())));
        assert_eq!(vars.get("e"), Some(&RawVar::Text("5".into())));
        assert_eq!(vars.len(), 5);
    }

    #[test]
    fn bad_settings_are_e0633_usage_errors() {
        for (setting, detail) in [
            ("novalue", "`--var novalue` has no `=`"),
            ("=1", "`--var =1` names no variable"),
        ] {
            let given = VarSources {
                vars: vec![setting.into()],
                files: vec![],
            };
            let p = collect_vars(&given, []).expect_err(setting);
            assert_eq!(p.code.map(|c| c.as_str()), Some("E0633"));
            assert_eq!(p.detail, detail);
            assert!(p.usage);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("v.mcpovars");
        std::fs::write(&file, "a = var.b\n").expect("write");
        let given = VarSources {
            vars: vec![],
            files: vec![file],
        };
        let p = collect_vars(&given, []).expect_err("an expression");
        assert!(
            p.detail
                .ends_with("sets `a` to an expression; only literal values can be used"),
            "{}",
            p.detail
        );
    }
}
