//! Source text a client's request turns into: a `use` block for a pattern with its
//! params, and the params of an existing `use` block changed in place. Values arrive as
//! JSON and are written as `.mcpo` literals (strings escaped, `${` kept literal), and the
//! result is formatted, so what is written into the workspace reads like what a person
//! writes.

use mcpo_deploy::Problem;
use mcpo_diagnostics::FileId;
use mcpo_syntax::ast::{BodyItem, SourceFile};
use serde_json::{Map, Value};

/// A JSON value as an `.mcpo` literal.
pub fn literal(v: &Value) -> String {
    match v {
        Value::String(s) => string(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), literal(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A string literal: quotes, backslashes and control characters escaped, and `${` / `%{`
/// doubled so they stay text instead of starting an interpolation.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key(k: &str) -> String {
    if is_name(k) { k.to_string() } else { string(k) }
}

/// Whether `s` is a bare name of the language (a param or `use` name).
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn bad_param(name: &str) -> Problem {
    Problem::uncoded(format!(
        "`{name}` is not a parameter name (letters, digits, `_` and `-`, not starting with a digit; `pattern` and `source` are not params)"
    ))
    .usage()
}

/// The formatted text of `text` (unchanged when it does not parse).
fn formatted(text: &str) -> String {
    let parsed = mcpo_syntax::parse(text, FileId(0));
    if parsed.diagnostics.is_empty() {
        mcpo_fmt::format(text, &parsed.file)
    } else {
        text.to_string()
    }
}

/// A `use` block named `name` of the pattern `origin` names (`("pattern", "web_app")` or
/// `("source", "stdlib/web_app")`), setting `params`.
pub fn use_block(
    name: &str,
    origin: (&str, String),
    params: &Map<String, Value>,
) -> Result<String, Problem> {
    let mut out = format!(
        "use {} {{\n  {} = {}\n",
        string(name),
        origin.0,
        string(&origin.1)
    );
    for (k, v) in params {
        if !is_name(k) || k == "pattern" || k == "source" {
            return Err(bad_param(k));
        }
        out.push_str(&format!("  {k} = {}\n", literal(v)));
    }
    out.push_str("}\n");
    Ok(formatted(&out))
}

/// The file among `files` (`(name, text)`) that declares `use "<name>"`, and its text with
/// `params` set in that block (attributes replaced where they are written, added before the
/// closing brace where not).
pub fn modify_use(
    files: &[(String, String)],
    name: &str,
    params: &Map<String, Value>,
) -> Result<(String, String), Problem> {
    for (k, _) in params {
        if !is_name(k) || k == "pattern" || k == "source" {
            return Err(bad_param(k));
        }
    }
    for (file, text) in files {
        let parsed = mcpo_syntax::parse(text, FileId(0));
        if let Some(edited) = edit_use(&parsed.file, text, name, params) {
            return Ok((file.clone(), formatted(&edited)));
        }
    }
    let uses: Vec<String> = files
        .iter()
        .flat_map(|(_, text)| uses_in(text))
        .map(|u| format!("`{u}`"))
        .collect();
    let help = if uses.is_empty() {
        "the workspace has no `use` blocks; deploy a pattern with the `plan` tool's `pattern` and `params` first".to_string()
    } else {
        format!("the workspace's `use` blocks are {}", uses.join(", "))
    };
    Err(
        Problem::uncoded(format!("the workspace has no `use \"{name}\"` block"))
            .help(help)
            .usage(),
    )
}

/// The names of the `use` blocks in `text`.
pub fn uses_in(text: &str) -> Vec<String> {
    let parsed = mcpo_syntax::parse(text, FileId(0));
    parsed
        .file
        .body
        .items
        .iter()
        .filter_map(|it| match it {
            BodyItem::Block(b) if b.ty.name == "use" => {
                b.labels.first().map(|l| l.value().to_string())
            }
            _ => None,
        })
        .collect()
}

fn edit_use(
    file: &SourceFile,
    text: &str,
    name: &str,
    params: &Map<String, Value>,
) -> Option<String> {
    let block = file.body.items.iter().find_map(|it| match it {
        BodyItem::Block(b)
            if b.ty.name == "use" && b.labels.first().is_some_and(|l| l.value() == name) =>
        {
            Some(b)
        }
        _ => None,
    })?;
    let close = block.close_brace?;
    // Edits as (start, end, replacement), applied from the end so spans stay valid.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut added = String::new();
    for (k, v) in params {
        let existing = block.body.items.iter().find_map(|it| match it {
            BodyItem::Attribute(a) if a.name.name == *k => Some(a),
            _ => None,
        });
        match existing {
            Some(a) => edits.push((
                a.value.span.start as usize,
                a.value.span.end as usize,
                literal(v),
            )),
            None => added.push_str(&format!("  {k} = {}\n", literal(v))),
        }
    }
    if !added.is_empty() {
        let at = close.start as usize;
        let line_start = text
            .get(..at)
            .and_then(|t| t.rfind('\n'))
            .map_or(0, |i| i + 1);
        let only_space = text
            .get(line_start..at)
            .is_some_and(|t| t.trim().is_empty());
        let (pos, insert) = if only_space {
            (line_start, added)
        } else {
            (at, format!("\n{added}"))
        };
        edits.push((pos, pos, insert));
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, with) in edits {
        if start > end
            || end > out.len()
            || !out.is_char_boundary(start)
            || !out.is_char_boundary(end)
        {
            return None;
        }
        out.replace_range(start..end, &with);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn literals_escape_what_would_change_meaning() {
        assert_eq!(
            literal(&json!("a \"b\" ${c} %{d} \\ e\n")),
            r#""a \"b\" $${c} %%{d} \\ e\n""#
        );
        assert_eq!(literal(&json!([1, true, null])), "[1, true, null]");
        assert_eq!(
            literal(&json!({"a-b": 1, "c d": "x"})),
            r#"{ a-b = 1, "c d" = "x" }"#
        );
    }

    #[test]
    fn a_use_block_is_formatted() {
        let text = use_block(
            "shop",
            ("pattern", "web_app".into()),
            &obj(json!({"domain": "shop.example.com", "min_instances": 3})),
        )
        .expect("valid");
        assert_eq!(
            text,
            "use \"shop\" {\n  pattern       = \"web_app\"\n  domain        = \"shop.example.com\"\n  min_instances = 3\n}\n"
        );
        assert!(
            use_block(
                "shop",
                ("pattern", "web_app".into()),
                &obj(json!({"pattern": "x"}))
            )
            .is_err()
        );
        assert!(
            use_block(
                "shop",
                ("pattern", "web_app".into()),
                &obj(json!({"1x": 1}))
            )
            .is_err()
        );
    }

    #[test]
    fn modify_replaces_and_adds_params_in_place() {
        let files = vec![
            ("a.mcpo".to_string(), "variable \"x\" {\n  type = string\n}\n".to_string()),
            (
                "b.mcpo".to_string(),
                "# the shop\nuse \"shop\" {\n  pattern = \"web_app\"\n  min_instances = 2 # keep\n}\n".to_string(),
            ),
        ];
        let (file, text) = modify_use(
            &files,
            "shop",
            &obj(json!({"min_instances": 4, "domain": "d"})),
        )
        .expect("found");
        assert_eq!(file, "b.mcpo");
        assert_eq!(
            text,
            "# the shop\nuse \"shop\" {\n  pattern       = \"web_app\"\n  min_instances = 4 # keep\n  domain        = \"d\"\n}\n"
        );
        let missing = modify_use(&files, "blog", &obj(json!({}))).expect_err("no such use");
        assert_eq!(
            missing.help.as_deref(),
            Some("the workspace's `use` blocks are `shop`")
        );
    }
}
