//! A module rendered as Markdown (`mcpoc doc`): what its `mcpo.toml` says, and for each
//! pattern its description (the comment above it), how to use it, its params (type,
//! default, description), its rules, its outputs and its resources; for each adapter the
//! resource type it defines, its inputs, operations and what is readable (a package of
//! adapters also gets its files' top comments and how to import it); for each runbook how
//! to bring it and run it, its params and its steps. The standard
//! library's READMEs and book pages are this text.

use crate::Manifest;
use mcpo_diagnostics::FileId;
use mcpo_syntax::ast::{Block, BodyItem, Expr, ExprKind};
use std::fmt::Write as _;

/// The Markdown page of a module: `source` is how a `use` names it, `manifest` its
/// `mcpo.toml` when it has one, `files` its `.mcpo` files as (name, text).
pub fn render(source: &str, manifest: Option<&Manifest>, files: &[(String, String)]) -> String {
    let mut out = String::new();
    let title = manifest.map_or(source, |m| m.name.as_str());
    let _ = write!(out, "# `{title}`");
    if let Some(m) = manifest
        && !m.version.is_empty()
    {
        let _ = write!(out, " {}", m.version);
    }
    out.push_str("\n\n");
    if let Some(m) = manifest {
        if !m.description.is_empty() {
            let _ = writeln!(out, "{}\n", m.description.trim());
        }
        if !m.servers.is_empty() {
            let servers: Vec<String> = m.servers.iter().map(|s| format!("`{s}`")).collect();
            let _ = writeln!(
                out,
                "Servers: {}. A workspace whose servers have other names maps them with `servers = {{ {} = <yours> }}` in the `use` block.\n",
                servers.join(", "),
                m.servers.first().map_or("aws", String::as_str),
            );
        }
    }
    let parsed: Vec<(&str, mcpo_syntax::Parse)> = files
        .iter()
        .map(|(_, text)| (text.as_str(), mcpo_syntax::parse(text, FileId(0))))
        .collect();
    let blocks = |kind: &'static str| {
        parsed.iter().flat_map(move |(text, p)| {
            p.file.body.items.iter().filter_map(move |item| match item {
                BodyItem::Block(b) if b.ty.name == kind && !b.labels.is_empty() => Some((*text, b)),
                _ => None,
            })
        })
    };
    if blocks("pattern").next().is_none()
        && let Some((_, first)) = blocks("adapter").next()
    {
        let server = first.labels.first().map_or("adapters", |l| l.value());
        package_intro(&mut out, source, server, &parsed);
    }
    for (text, b) in blocks("pattern") {
        let name = b
            .labels
            .first()
            .map(|l| l.value().to_string())
            .unwrap_or_default();
        pattern(&mut out, source, &name, b, text, &leading_comment(text));
    }
    for (text, b) in blocks("adapter") {
        adapter(&mut out, b, text);
    }
    for (text, b) in blocks("runbook") {
        let servers = manifest.map(|m| m.servers.as_slice()).unwrap_or_default();
        runbook(&mut out, source, b, text, servers);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// A package of adapters' introduction: each file's top comment, as Markdown (its
/// indented lines are code), and how to import it (named after its first server).
fn package_intro(
    out: &mut String,
    source: &str,
    name: &str,
    parsed: &[(&str, mcpo_syntax::Parse)],
) {
    for (text, _) in parsed {
        let mut code = false;
        for line in text.lines() {
            let Some(c) = line.trim_start().strip_prefix('#') else {
                break;
            };
            let c = c.strip_prefix(' ').unwrap_or(c);
            let is_code = c.starts_with("  ");
            if is_code != code {
                if is_code && !out.ends_with("\n\n") {
                    out.push('\n');
                }
                out.push_str(if is_code { "```hcl\n" } else { "```\n" });
                code = is_code;
            }
            if code {
                let _ = writeln!(out, "{}", c.get(2..).unwrap_or(""));
            } else if c.trim().is_empty() {
                if !out.ends_with("\n\n") {
                    out.push('\n');
                }
            } else {
                let _ = writeln!(out, "{}", c.trim_end());
            }
        }
        if code {
            out.push_str("```\n");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "A package of adapters: a `use` of it makes its resource types the workspace's.\n\n```hcl\nuse \"{name}\" {{\n  source = \"{source}\"\n}}\n```\n"
    );
}

/// The `#` comment lines right above a block, as a paragraph.
fn comment_above(text: &str, b: &Block) -> String {
    let before = text.get(..b.ty.span.start as usize).unwrap_or("");
    let mut lines: Vec<&str> = Vec::new();
    for line in before.lines().rev() {
        match line.trim().strip_prefix('#') {
            Some(c) => lines.push(c.trim()),
            None => break,
        }
    }
    lines.reverse();
    lines.join(" ").trim().to_string()
}

/// The `#` comment lines right above a block as Markdown: lines joined into paragraphs,
/// except that a line starting with `- ` starts an item of a list.
fn comment_above_with_lists(text: &str, b: &Block) -> String {
    let before = text.get(..b.ty.span.start as usize).unwrap_or("");
    let mut lines: Vec<&str> = Vec::new();
    for line in before.lines().rev() {
        match line.trim().strip_prefix('#') {
            Some(c) => lines.push(c.trim()),
            None => break,
        }
    }
    lines.reverse();
    let mut out = String::new();
    let mut in_list = false;
    for line in lines.iter().filter(|l| !l.is_empty()) {
        if line.starts_with("- ") {
            out.push_str(if in_list { "\n" } else { "\n\n" });
            in_list = true;
        } else if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    out.trim().to_string()
}

/// One adapter: the resource type it defines, its inputs, operations and outputs.
fn adapter(out: &mut String, b: &Block, text: &str) {
    let labels: Vec<&str> = b.labels.iter().map(|l| l.value()).collect();
    let [server, ty] = labels.as_slice() else {
        return;
    };
    let _ = writeln!(out, "## Resource type `{server}.{ty}`\n");
    let about = comment_above(text, b);
    if !about.is_empty() {
        let _ = writeln!(out, "{about}\n");
    }
    if let Some(inputs) = attr(b, "inputs") {
        let _ = writeln!(out, "Inputs: `{}`\n", cell(&text_of(text, inputs)));
    }
    let ops: Vec<String> = ["create", "read", "update", "delete", "list"]
        .iter()
        .filter(|op| attr(b, op).is_some())
        .map(|op| format!("`{op}`"))
        .collect();
    let mut missing = Vec::new();
    if attr(b, "update").is_none() {
        missing.push("no `update`: a change replaces");
    }
    if attr(b, "read").is_none() {
        missing.push("no `read`: no drift detection");
    }
    if attr(b, "delete").is_none() {
        missing.push(match attr(b, "forget_on_delete").map(|e| &e.kind) {
            Some(ExprKind::Bool(true)) => "no `delete`: destroy forgets it and leaves it be",
            _ => "no `delete`: destroy refuses",
        });
    }
    let _ = write!(out, "Operations: {}", ops.join(", "));
    if !missing.is_empty() {
        let _ = write!(out, " ({})", missing.join("; "));
    }
    out.push_str(".\n\n");
    if let Some(call) = attr(b, "health").or_else(|| attr(b, "read")) {
        if let Some(cond) = attr(b, "healthy_when") {
            let _ = writeln!(
                out,
                "Health (`mcpoc watch`): `{}` when `{}`.\n",
                cell(&text_of(text, call)),
                cell(&text_of(text, cond))
            );
        } else if attr(b, "health").is_some() {
            let _ = writeln!(
                out,
                "Health (`mcpoc watch`): healthy when `{}` succeeds.\n",
                cell(&text_of(text, call))
            );
        }
    }
    let outputs: Vec<String> = match attr(b, "outputs").map(|e| &e.kind) {
        Some(ExprKind::Object(items)) => items
            .iter()
            .filter_map(|i| mcpo_sema::types::object_key(&i.key))
            .map(|k| format!("`{k}`"))
            .collect(),
        _ => Vec::new(),
    };
    let _ = writeln!(
        out,
        "Readable: `id`, every input{}.\n",
        if outputs.is_empty() {
            String::new()
        } else {
            format!(", and {}", outputs.join(", "))
        }
    );
}

/// One runbook: the comment above it, how a `use` brings it and `mcpoc run` runs it, its
/// params and its steps.
fn runbook(out: &mut String, source: &str, b: &Block, text: &str, servers: &[String]) {
    let Some(name) = b.labels.first().map(|l| l.value().to_string()) else {
        return;
    };
    let _ = writeln!(out, "## Runbook `{name}`\n");
    let intro = comment_above_with_lists(text, b);
    if !intro.is_empty() {
        let _ = writeln!(out, "{intro}\n");
    }
    let via = source.rsplit('/').next().unwrap_or(source);
    let _ = writeln!(
        out,
        "```hcl,fragment\nuse \"{via}\" {{\n  source = \"{source}\""
    );
    if let Some(server) = servers.first() {
        let _ = writeln!(
            out,
            "  # servers = {{ {server} = <yours> }}   when yours is not named `{server}`"
        );
    }
    out.push_str("}\n```\n\n");
    let blocks = |kind: &'static str| {
        b.body.items.iter().filter_map(move |i| match i {
            BodyItem::Block(p) if p.ty.name == kind && !p.labels.is_empty() => Some(p),
            _ => None,
        })
    };
    let label = |p: &Block| {
        p.labels
            .first()
            .map(|l| l.value().to_string())
            .unwrap_or_default()
    };
    let mut run = format!("mcpoc run {name}");
    for p in blocks("param").filter(|p| attr(p, "default").is_none()) {
        let _ = write!(run, " --param {}=...", label(p));
    }
    let _ = writeln!(
        out,
        "It runs as `{run}` (or `mcpoc run {via}.{name}`, which always names it).\n"
    );
    params_table(out, text, &blocks("param").collect::<Vec<_>>());
    out.push_str("### Steps\n\n| step | does | notes |\n|---|---|---|\n");
    for step in blocks("step") {
        let does = match (attr(step, "run"), attr(step, "approve")) {
            (Some(e), _) => match &e.kind {
                ExprKind::FunctionCall(c) if c.namespace.len() == 1 => {
                    let server = c.namespace.first().map_or("", |n| n.name.as_str());
                    format!("calls `{server}::{}`", c.name.name)
                }
                _ => "computes a value".to_string(),
            },
            (None, Some(_)) => "asks for approval".to_string(),
            (None, None) => String::new(),
        };
        let mut notes = Vec::new();
        if let Some(e) = attr(step, "for_each") {
            notes.push(format!("for each of `{}`", text_of(text, e)));
        }
        if let Some(e) = attr(step, "when") {
            notes.push(format!("when `{}`", text_of(text, e)));
        }
        if let Some(e) = attr(step, "on_failure") {
            notes.push(format!("on failure: `{}`", text_of(text, e)));
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            label(step),
            cell(&does),
            cell(&notes.join("; "))
        );
    }
    out.push('\n');
}

/// The `#` comment lines at the top of a file, as a paragraph.
fn leading_comment(text: &str) -> String {
    let mut lines = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix('#') {
            lines.push(c.trim().to_string());
        } else if t.is_empty() && lines.is_empty() {
            continue;
        } else {
            break;
        }
    }
    lines.join(" ").trim().to_string()
}

/// The text of an expression as written, on one line.
fn text_of(text: &str, e: &Expr) -> String {
    let s = text
        .get(e.span.start as usize..e.span.end as usize)
        .unwrap_or("");
    // Lines of a multi-line object become comma-separated, as on one line.
    let mut out = String::new();
    for line in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            let open = out.ends_with(['{', '(', '[', ',']);
            let close = line.starts_with(['}', ')', ']']);
            out.push_str(if open || close { " " } else { ", " });
        }
        out.push_str(&line.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    out
}

fn attr<'a>(b: &'a Block, name: &str) -> Option<&'a Expr> {
    b.body.items.iter().find_map(|i| match i {
        BodyItem::Attribute(a) if a.name.name == name => Some(&a.value),
        _ => None,
    })
}

fn literal(e: Option<&Expr>) -> String {
    match e.map(|e| &e.kind) {
        Some(ExprKind::Template(t)) => t.as_literal().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A table cell: pipes escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn pattern(out: &mut String, source: &str, name: &str, b: &Block, text: &str, intro: &str) {
    let _ = writeln!(out, "## Pattern `{name}`\n");
    if !intro.is_empty() {
        let _ = writeln!(out, "{intro}\n");
    }
    let params: Vec<&Block> = b
        .body
        .items
        .iter()
        .filter_map(|i| match i {
            BodyItem::Block(p) if p.ty.name == "param" && !p.labels.is_empty() => Some(p),
            _ => None,
        })
        .collect();
    let label = |p: &Block| {
        p.labels
            .first()
            .map(|l| l.value().to_string())
            .unwrap_or_default()
    };
    // A use with the required params.
    let required: Vec<String> = params
        .iter()
        .filter(|p| attr(p, "default").is_none())
        .map(|p| label(p))
        .collect();
    let width = required
        .iter()
        .map(String::len)
        .chain(["source".len()])
        .max()
        .unwrap_or(6);
    let _ = writeln!(out, "```hcl,fragment\nuse \"{name}\" {{");
    let _ = writeln!(out, "  {:width$} = \"{source}\"", "source");
    for r in &required {
        let _ = writeln!(out, "  {r:width$} = ...");
    }
    out.push_str("}\n```\n\n");
    params_table(out, text, &params);
    let mut rules = Vec::new();
    for p in &params {
        for it in &p.body.items {
            if let BodyItem::Block(v) = it
                && v.ty.name == "validation"
            {
                rules.push(format!(
                    "- `{}`: {}",
                    label(p),
                    literal(attr(v, "message").or_else(|| attr(v, "error_message")))
                ));
            }
        }
    }
    if !rules.is_empty() {
        let _ = writeln!(
            out,
            "### Rules\n\n`mcpoc check` refuses a use that breaks one of these, at the use (when the values are known then; else `mcpoc plan` does):\n"
        );
        for r in rules {
            let _ = writeln!(out, "{r}");
        }
        out.push('\n');
    }
    let outputs: Vec<&Block> = b
        .body
        .items
        .iter()
        .filter_map(|i| match i {
            BodyItem::Block(o) if o.ty.name == "output" && !o.labels.is_empty() => Some(o),
            _ => None,
        })
        .collect();
    if !outputs.is_empty() {
        out.push_str("### Outputs\n\n| name | description |\n|---|---|\n");
        for o in outputs {
            let _ = writeln!(
                out,
                "| `{}` | {} |",
                label(o),
                cell(&literal(attr(o, "description")))
            );
        }
        out.push('\n');
    }
    let resources: Vec<String> = b
        .body
        .items
        .iter()
        .filter_map(|i| match i {
            BodyItem::Block(r) if matches!(r.ty.name.as_str(), "resource" | "data" | "task") => {
                let ls: Vec<&str> = r.labels.iter().map(|l| l.value()).collect();
                let (ty, n) = (ls.first()?, ls.get(1)?);
                let repeat = if attr(r, "count").is_some() {
                    format!(" (`count = {}`)", text_of(text, attr(r, "count")?))
                } else if attr(r, "for_each").is_some() {
                    " (`for_each`)".to_string()
                } else {
                    String::new()
                };
                let kind = if r.ty.name == "resource" {
                    String::new()
                } else {
                    format!("{} ", r.ty.name)
                };
                Some(format!("- {kind}`{ty}` `{n}`{}", cell(&repeat)))
            }
            _ => None,
        })
        .collect();
    if !resources.is_empty() {
        out.push_str("### Resources\n\n");
        for r in resources {
            let _ = writeln!(out, "{r}");
        }
        out.push('\n');
    }
}

/// The page of the module `module` names: `stdlib/<name>`, or a module directory (with
/// its `mcpo.toml`), relative to `cwd`.
pub fn page(module: &str, cwd: &std::path::Path) -> Result<String, String> {
    if let Some(name) = module.strip_prefix("stdlib/") {
        let files = crate::stdlib::files(name.trim_end_matches('/'));
        if files.is_empty() {
            return Err(format!(
                "the standard library has no module `{module}`; it has {}",
                crate::stdlib::modules()
                    .iter()
                    .map(|m| format!("`stdlib/{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let manifest = files
            .iter()
            .find(|(f, _)| *f == "mcpo.toml")
            .and_then(|(_, t)| Manifest::parse(t).ok().flatten());
        let sources: Vec<(String, String)> = files
            .iter()
            .filter(|(f, _)| f.ends_with(".mcpo"))
            .map(|(f, t)| ((*f).to_string(), (*t).to_string()))
            .collect();
        return Ok(render(module, manifest.as_ref(), &sources));
    }
    let dir = cwd.join(module);
    let manifest = match std::fs::read_to_string(dir.join("mcpo.toml")) {
        Ok(t) => Manifest::parse(&t).map_err(|e| format!("`{module}/mcpo.toml`: {e}"))?,
        Err(_) => None,
    };
    let files = crate::load::dir_files(cwd, &dir)?;
    if files.is_empty() {
        return Err(format!("`{module}` holds no .mcpo files"));
    }
    let sources: Vec<(String, String)> = files.into_iter().map(|f| (f.name, f.text)).collect();
    let shown = manifest
        .as_ref()
        .map_or(module.to_string(), |m| m.name.clone());
    Ok(render(&shown, manifest.as_ref(), &sources))
}

/// The "Parameters" table of a pattern's or a runbook's `param` blocks (nothing when there
/// are none): name, type, default ("required" without one) and description.
fn params_table(out: &mut String, text: &str, params: &[&Block]) {
    if params.is_empty() {
        return;
    }
    out.push_str("### Parameters\n\n| name | type | default | description |\n|---|---|---|---|\n");
    for p in params {
        let name = p
            .labels
            .first()
            .map(|l| l.value().to_string())
            .unwrap_or_default();
        let ty = attr(p, "type").map_or("any".to_string(), |e| text_of(text, e));
        let default = attr(p, "default").map_or("required".to_string(), |e| {
            format!("`{}`", text_of(text, e))
        });
        let _ = writeln!(
            out,
            "| `{name}` | `{}` | {} | {} |",
            cell(&ty),
            cell(&default),
            cell(&literal(attr(p, "description")))
        );
    }
    out.push('\n');
}
