//! Conformance: every real-world HCL file parses cleanly, and HashiCorp's spec suite
//! files parse cleanly or fail at the line their `.t` file states.

use mcpo_diagnostics::{FileId, LineIndex, render};
use std::path::{Path, PathBuf};

/// The corpus directory (`$MCPO_HCL_CORPUS`, or `shared/corpus/hcl` beside the repo), or
/// `None` after a notice when it is absent (a failure with `MCPO_REQUIRE_CORPUS=1`).
fn corpus_dir(test: &str) -> Option<PathBuf> {
    mcpo_test_support::hcl_corpus(test)
}

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_with_ext(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
}

fn rendered(name: &str, text: &str, diags: &[mcpo_diagnostics::Diagnostic]) -> String {
    let mut sources = mcpo_diagnostics::Sources::new();
    sources.add(name, text);
    render::render(diags, &sources, render::RenderConfig { color: false })
}

#[test]
fn terraform_files_parse_without_diagnostics() {
    let Some(dir) = corpus_dir("terraform_files_parse_without_diagnostics") else {
        return;
    };
    let mut files = Vec::new();
    files_with_ext(&dir, "tf", &mut files);
    assert!(
        files.len() > 100,
        "expected the Terraform corpus, found {} files",
        files.len()
    );
    let mut failures = String::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let parse = mcpo_syntax::parse(&text, FileId(0));
        if !parse.diagnostics.is_empty() {
            failures.push_str(&rendered(
                &f.display().to_string(),
                &text,
                &parse.diagnostics,
            ));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// The error lines a spec-suite `.t` file expects: the `line` of every `from` block
/// inside `diagnostics { error { ... } }`. Empty when the file is expected to be valid.
fn expected_error_lines(t: &str) -> Vec<u32> {
    let mut lines = Vec::new();
    let mut in_diags = false;
    let mut in_from = false;
    let mut depth = 0i32;
    for raw in t.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with("diagnostics") && line.ends_with('{') {
            in_diags = true;
            depth = 0;
        }
        if in_diags {
            if line.starts_with("from") && line.ends_with('{') {
                in_from = true;
            }
            if in_from
                && let Some(v) = line.strip_prefix("line")
                && let Some(v) = v.trim().strip_prefix('=')
                && let Ok(n) = v.trim().parse()
            {
                lines.push(n);
            }
            depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
            if line == "}" && in_from {
                in_from = false;
            }
            if depth <= 0 && line.contains('}') {
                in_diags = false;
            }
        }
    }
    lines
}

/// Spec-suite cases whose expected diagnostic comes from decoding against a schema
/// (hcldec), not from the syntax: they must parse cleanly.
const SCHEMA_ONLY: &[&str] = &["structure/attributes/unexpected.hcl"];

#[test]
fn spec_suite() {
    let Some(dir) = corpus_dir("spec_suite") else {
        return;
    };
    let root = dir.join("hcl-specsuite");
    let mut files = Vec::new();
    files_with_ext(&root, "hcl", &mut files);
    assert!(!files.is_empty(), "no spec suite under {}", root.display());
    let mut failures = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let t = std::fs::read_to_string(f.with_extension("t")).unwrap_or_default();
        let mut want = expected_error_lines(&t);
        if SCHEMA_ONLY.contains(&rel.as_str()) {
            want.clear();
        }
        let parse = mcpo_syntax::parse(&text, FileId(0));
        let index = LineIndex::new(&text);
        let got: Vec<u32> = parse
            .diagnostics
            .iter()
            .map(|d| index.line_col(&text, d.span.start as usize).line)
            .collect();
        if want.is_empty() {
            if !got.is_empty() {
                failures.push(format!(
                    "{rel}: expected no diagnostics\n{}",
                    rendered(&rel, &text, &parse.diagnostics)
                ));
            }
        } else {
            for line in &want {
                if !got.contains(line) {
                    failures.push(format!(
                        "{rel}: expected an error on line {line}, got lines {got:?}\n{}",
                        rendered(&rel, &text, &parse.diagnostics)
                    ));
                }
            }
            for line in &got {
                if !want.contains(line) {
                    failures.push(format!(
                        "{rel}: unexpected error on line {line}\n{}",
                        rendered(&rel, &text, &parse.diagnostics)
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The spec suite's heredoc case also states each heredoc's value: check the literal
/// text the parser produced (after `<<-` indentation removal) against it. Interpolations
/// of `bar` stand for `Bar`, as in the suite's variables.
#[test]
fn spec_suite_heredoc_values() {
    use mcpo_syntax::ast::{BodyItem, ExprKind, TemplatePart};
    let Some(dir) = corpus_dir("spec_suite_heredoc_values") else {
        return;
    };
    let dir = dir.join("hcl-specsuite/expressions");
    let text = std::fs::read_to_string(dir.join("heredoc.hcl")).unwrap_or_default();
    let t = std::fs::read_to_string(dir.join("heredoc.t")).unwrap_or_default();
    // Expected values: `name = "..."` lines inside `normal = {` / `flush = {`.
    let mut expected = Vec::new();
    let mut group = "";
    for line in t.lines() {
        let line = line.trim();
        if line.starts_with("normal") && line.ends_with('{') {
            group = "normal";
        } else if line.starts_with("flush") && line.ends_with('{') {
            group = "flush";
        } else if let Some((name, value)) = line.split_once('=')
            && !group.is_empty()
            && value.trim().starts_with('"')
        {
            let v = value.trim().trim_start_matches('"').trim_end_matches('"');
            let v = v.replace("\\n", "\n").replace("\\\"", "\"");
            expected.push((group.to_string(), name.trim().to_string(), v));
        }
    }
    assert!(expected.len() > 10);
    let parse = mcpo_syntax::parse(&text, FileId(0));
    assert!(parse.diagnostics.is_empty());
    let mut checked = 0;
    for item in &parse.file.body.items {
        let BodyItem::Attribute(group) = item else {
            continue;
        };
        let ExprKind::Object(items) = &group.value.kind else {
            continue;
        };
        for it in items {
            let (ExprKind::Variable(key), ExprKind::Heredoc(h)) = (&it.key.kind, &it.value.kind)
            else {
                continue;
            };
            let mut value = String::new();
            let mut simple = true;
            for p in &h.template.parts {
                match p {
                    TemplatePart::Literal { value: v, .. } => value.push_str(v),
                    TemplatePart::Interpolation { expr, .. } if matches!(&expr.kind, ExprKind::Variable(v) if v.name == "bar") => {
                        value.push_str("Bar")
                    }
                    _ => simple = false,
                }
            }
            if !simple {
                continue;
            }
            let want = expected
                .iter()
                .find(|(g, n, _)| *g == group.name.name && *n == key.name)
                .map(|(_, _, v)| v.as_str());
            assert_eq!(
                Some(value.as_str()),
                want,
                "{}.{}",
                group.name.name,
                key.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} heredocs checked");
}
