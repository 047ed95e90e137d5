//! The patterns a workspace can `use`: what each one takes (params with their types,
//! defaults and descriptions), what it makes (resources, nested uses) and gives back
//! (outputs), and an example `use` block. Read from the source text of the workspace's
//! files (and of the standard library's, when it ships some), so a workspace that does not
//! check yet still lists its patterns.

use crate::files;
use mcpo_diagnostics::FileId;
use mcpo_syntax::ast::{Attribute, Block, BodyItem, ExprKind};
use serde::Serialize;
use std::path::Path;

/// Where a pattern comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A `pattern` block in one of the workspace's files: `use` it with `pattern = "name"`.
    Workspace,
    /// A pattern of the standard library: `use` it with `source = "stdlib/<name>"`.
    Stdlib,
}

/// One parameter of a pattern.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ParamInfo {
    /// The parameter's name (an attribute of the `use` block).
    pub name: String,
    /// Its type as written (`string`, `number`, `list(string)`, ...); `any` when not given.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether a `use` must set it (it has no default).
    pub required: bool,
    /// The default as written in source, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One output of a pattern.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct OutputInfo {
    /// The output's name (`module.<use>.<name>` outside the pattern).
    pub name: String,
    /// What it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether its value is sensitive (never shown).
    pub sensitive: bool,
}

/// A pattern and what it takes, makes and gives back.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PatternInfo {
    /// The pattern's name.
    pub name: String,
    /// Where it comes from.
    pub origin: Origin,
    /// The file that declares it.
    pub file: String,
    /// What it is for: its `description` attribute, else the comment lines just above it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its parameters, in source order.
    pub params: Vec<ParamInfo>,
    /// Its outputs, in source order.
    pub outputs: Vec<OutputInfo>,
    /// The resources it declares, as `server.type.name` inside the pattern (each one is
    /// `module.<use>.server.type.name` once used); nested `use` blocks as `module.<name>`.
    pub resources: Vec<String>,
    /// A `use` block instantiating it with every required parameter (placeholder values
    /// of the right type).
    pub example: String,
}

/// The standard library's patterns as `(file name, source text)`; empty until the
/// standard library ships patterns in the binary.
pub fn stdlib_sources() -> Vec<(String, String)> {
    Vec::new()
}

/// Every pattern the workspace at `root` can use: the standard library's, then the
/// workspace's own (sorted by file, then in source order). Files that cannot be read are
/// skipped; a file with syntax errors still gives the patterns the parser recovered.
pub fn list(root: &Path) -> Vec<PatternInfo> {
    let mut out = Vec::new();
    for (name, text) in stdlib_sources() {
        out.extend(in_source(&name, &text, Origin::Stdlib));
    }
    let found = files::collect(&[root.to_path_buf()]).unwrap_or_default();
    for path in found {
        if files::is_template(&path) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        out.extend(in_source(
            &files::display_name(&path),
            &text,
            Origin::Workspace,
        ));
    }
    out
}

/// The pattern `name` among `patterns`, or what the name may have meant.
pub fn find<'p>(patterns: &'p [PatternInfo], name: &str) -> Result<&'p PatternInfo, Vec<String>> {
    if let Some(p) = patterns.iter().find(|p| p.name == name) {
        return Ok(p);
    }
    let names: Vec<String> = patterns.iter().map(|p| p.name.clone()).collect();
    let mut near: Vec<String> = names
        .iter()
        .filter(|n| n.contains(name) || name.contains(n.as_str()) || edit_distance(n, name) <= 3)
        .cloned()
        .collect();
    if near.is_empty() {
        near = names;
    }
    Err(near)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(0);
            let left = row.get(j).copied().unwrap_or(0);
            let cost = usize::from(ca != *cb);
            let value = (prev + cost).min(above + 1).min(left + 1);
            prev = above;
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = value;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

/// The patterns declared in one file's text.
pub fn in_source(file: &str, text: &str, origin: Origin) -> Vec<PatternInfo> {
    let parsed = mcpo_syntax::parse(text, FileId(0));
    let mut out = Vec::new();
    let mut prev_end = 0usize;
    for item in &parsed.file.body.items {
        let start = item.span().start as usize;
        if let BodyItem::Block(b) = item
            && b.ty.name == "pattern"
            && let [label] = b.labels.as_slice()
        {
            let leading = leading_comment(text, prev_end, start);
            out.push(pattern(file, text, b, label.value(), origin, leading));
        }
        prev_end = item.span().end as usize;
    }
    out
}

/// The comment lines between the previous item and this one (a blank line cuts them off).
fn leading_comment(text: &str, from: usize, to: usize) -> Option<String> {
    let between = text.get(from..to)?;
    let mut lines: Vec<&str> = Vec::new();
    for line in between.lines().rev().map(str::trim) {
        if line.is_empty() {
            if lines.is_empty() {
                continue;
            }
            break;
        }
        let Some(body) = line.strip_prefix('#').or_else(|| line.strip_prefix("//")) else {
            break;
        };
        lines.push(body.trim());
    }
    lines.reverse();
    let joined = lines.join(" ");
    (!joined.is_empty()).then_some(joined)
}

fn attr<'b>(b: &'b Block, name: &str) -> Option<&'b Attribute> {
    b.body.items.iter().find_map(|it| match it {
        BodyItem::Attribute(a) if a.name.name == name => Some(a),
        _ => None,
    })
}

fn source_of(text: &str, a: &Attribute) -> String {
    let span = a.value.span;
    text.get(span.start as usize..span.end as usize)
        .unwrap_or("")
        .to_string()
}

fn literal(a: Option<&Attribute>) -> Option<String> {
    match &a?.value.kind {
        ExprKind::Template(t) => t.as_literal(),
        ExprKind::Heredoc(h) => h.template.as_literal(),
        _ => None,
    }
}

fn pattern(
    file: &str,
    text: &str,
    b: &Block,
    name: &str,
    origin: Origin,
    leading: Option<String>,
) -> PatternInfo {
    let mut params = Vec::new();
    let mut outputs = Vec::new();
    let mut resources = Vec::new();
    for item in &b.body.items {
        let BodyItem::Block(inner) = item else {
            continue;
        };
        let labels: Vec<&str> = inner.labels.iter().map(|l| l.value()).collect();
        match (inner.ty.name.as_str(), labels.as_slice()) {
            ("param", [p]) => {
                let default = attr(inner, "default").map(|a| source_of(text, a));
                params.push(ParamInfo {
                    name: (*p).to_string(),
                    ty: attr(inner, "type").map_or_else(|| "any".into(), |a| source_of(text, a)),
                    required: default.is_none(),
                    default,
                    description: literal(attr(inner, "description")),
                });
            }
            ("output", [o]) => outputs.push(OutputInfo {
                name: (*o).to_string(),
                description: literal(attr(inner, "description")),
                sensitive: attr(inner, "sensitive")
                    .is_some_and(|a| matches!(a.value.kind, ExprKind::Bool(true))),
            }),
            ("resource", [ty, n]) => resources.push(format!("{ty}.{n}")),
            ("use", [u]) => resources.push(format!("module.{u}")),
            _ => {}
        }
    }
    let example = example_use(name, origin, &params);
    PatternInfo {
        name: name.to_string(),
        origin,
        file: file.to_string(),
        description: literal(attr(b, "description")).or(leading),
        params,
        outputs,
        resources,
        example,
    }
}

/// A `use` block for `name` setting every required parameter to a placeholder of its type.
fn example_use(name: &str, origin: Origin, params: &[ParamInfo]) -> String {
    let mut lines = vec![match origin {
        Origin::Workspace => ("pattern".to_string(), format!("{name:?}")),
        Origin::Stdlib => ("source".to_string(), format!("\"stdlib/{name}\"")),
    }];
    for p in params.iter().filter(|p| p.required) {
        lines.push((p.name.clone(), placeholder(&p.ty, &p.name)));
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = format!("use \"{name}\" {{\n");
    for (k, v) in lines {
        out.push_str(&format!("  {k:<width$} = {v}\n"));
    }
    out.push_str("}\n");
    out
}

fn placeholder(ty: &str, name: &str) -> String {
    let ty = ty.trim();
    if ty.starts_with("number") {
        "1".into()
    } else if ty.starts_with("bool") {
        "true".into()
    } else if ty.starts_with("list") || ty.starts_with("set") || ty.starts_with("tuple") {
        "[]".into()
    } else if ty.starts_with("map") || ty.starts_with("object") {
        "{}".into()
    } else {
        format!("\"example-{}\"", name.replace('_', "-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
server "aws" {
  command = "mcpoc"
}

# A web tier behind a load balancer.
# Certificates included.
pattern "web_app" {
  param "domain" {
    type        = string
    description = "The public name."
  }
  param "min_instances" {
    type    = number
    default = 2
  }
  resource "aws.acm_certificate" "cert" {
    domain = param.domain
  }
  output "url" {
    value       = "https://${param.domain}"
    description = "Where it answers."
  }
}
"#;

    #[test]
    fn a_pattern_lists_its_params_outputs_resources_and_an_example() {
        let found = in_source("main.mcpo", SRC, Origin::Workspace);
        let [p] = found.as_slice() else {
            panic!("one pattern expected: {found:?}")
        };
        assert_eq!(p.name, "web_app");
        assert_eq!(
            p.description.as_deref(),
            Some("A web tier behind a load balancer. Certificates included.")
        );
        let [domain, min] = p.params.as_slice() else {
            panic!("two params expected: {:?}", p.params)
        };
        assert_eq!(domain.ty, "string");
        assert!(domain.required);
        assert_eq!(domain.description.as_deref(), Some("The public name."));
        assert_eq!(min.default.as_deref(), Some("2"));
        assert!(!min.required);
        assert_eq!(p.resources, ["aws.acm_certificate.cert"]);
        assert_eq!(
            p.outputs.first().and_then(|o| o.description.as_deref()),
            Some("Where it answers.")
        );
        assert_eq!(
            p.example,
            "use \"web_app\" {\n  pattern = \"web_app\"\n  domain  = \"example-domain\"\n}\n"
        );
    }

    #[test]
    fn an_unknown_name_suggests_the_near_ones() {
        let found = in_source("main.mcpo", SRC, Origin::Workspace);
        assert_eq!(find(&found, "web_ap"), Err(vec!["web_app".to_string()]));
        assert!(find(&found, "web_app").is_ok());
    }
}
