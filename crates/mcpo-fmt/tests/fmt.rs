//! Data-driven formatter tests.
//!
//! - Every `tests/fmt/*.mcpo` fixture (at the repository root) is formatted and the
//!   output snapshotted with insta next to it (`tests/fmt/snapshots/`); each is also
//!   checked to parse cleanly, keep every comment, keep its meaning, and be a fixed point
//!   of the formatter.
//! - Every `*.tf` file of the HCL corpus (`$MCPO_HCL_CORPUS`, or `shared/corpus/hcl`
//!   beside the repository) gets the same checks, without snapshots; without the corpus
//!   that test is skipped with a notice (a failure with `MCPO_REQUIRE_CORPUS=1`, as in CI).
//! - The TextMate grammar and language configuration in `grammar/` are valid JSON of
//!   the expected shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mcpo_diagnostics::FileId;
use mcpo_syntax::ast::{CommentKind, SourceFile};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The comments of a file as text (line comments without trailing whitespace), counted.
fn comment_texts(src: &str, file: &SourceFile) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in &file.comments {
        let t = src.get(c.span.range()).unwrap_or("");
        let t = match c.kind {
            CommentKind::Hash | CommentKind::DoubleSlash => t.trim_end(),
            CommentKind::Block => t,
        };
        *m.entry(t.to_string()).or_insert(0) += 1;
    }
    m
}

/// Formats `src` and checks every property; returns the output or a description of
/// what went wrong.
fn check(name: &str, src: &str) -> Result<String, String> {
    let parsed = mcpo_syntax::parse(src, FileId(0));
    if let Some(d) = parsed.diagnostics.iter().find(|d| d.is_error()) {
        return Err(format!("{name}: input has a syntax error: {d:?}"));
    }
    let report = mcpo_fmt::format_with_report(src, &parsed.file);
    if report.unplaced_comments != 0 {
        return Err(format!(
            "{name}: {} comment(s) could not be placed",
            report.unplaced_comments
        ));
    }
    let out = report.text;
    let reparsed = mcpo_syntax::parse(&out, FileId(0));
    if let Some(d) = reparsed.diagnostics.iter().find(|d| d.is_error()) {
        return Err(format!(
            "{name}: output has a syntax error: {d:?}\n--- output\n{out}"
        ));
    }
    if !mcpo_fmt::same_meaning(&parsed.file, &reparsed.file) {
        return Err(format!(
            "{name}: output means something else\n--- output\n{out}"
        ));
    }
    let (before, after) = (
        comment_texts(src, &parsed.file),
        comment_texts(&out, &reparsed.file),
    );
    if before != after {
        return Err(format!(
            "{name}: comments changed\n before: {before:?}\n after: {after:?}\n--- output\n{out}"
        ));
    }
    let twice = mcpo_fmt::format(&out, &reparsed.file);
    if twice != out {
        return Err(format!(
            "{name}: not idempotent\n--- once\n{out}\n--- twice\n{twice}"
        ));
    }
    if mcpo_fmt::format_source(src).as_deref() != Ok(out.as_str()) {
        return Err(format!("{name}: format_source disagrees with format"));
    }
    Ok(out)
}

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_with_ext(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
}

#[test]
fn fixtures() {
    let dir = repo_root().join("tests/fmt");
    let mut fixtures = Vec::new();
    files_with_ext(&dir, "mcpo", &mut fixtures);
    assert!(!fixtures.is_empty(), "no fixtures in {}", dir.display());
    let mut failures = Vec::new();
    for path in &fixtures {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let src = std::fs::read_to_string(path).unwrap_or_default();
        match check(&name, &src) {
            Ok(out) => {
                let mut settings = insta::Settings::clone_current();
                settings.set_snapshot_path(dir.join("snapshots"));
                settings.set_prepend_module_to_snapshot(false);
                settings.set_input_file(path);
                settings.set_omit_expression(true);
                settings.bind(|| insta::assert_snapshot!(name.as_str(), out));
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn corpus() {
    let Some(dir) = mcpo_test_support::hcl_corpus("corpus") else {
        return;
    };
    let mut files = Vec::new();
    files_with_ext(&dir, "tf", &mut files);
    assert!(!files.is_empty(), "no .tf files under {}", dir.display());
    let mut failures = Vec::new();
    let mut unchanged = 0;
    let mut comments = 0;
    for path in &files {
        let name = path.display().to_string();
        let Ok(src) = std::fs::read_to_string(path) else {
            failures.push(format!("{name}: unreadable"));
            continue;
        };
        comments += mcpo_syntax::parse(&src, FileId(0)).file.comments.len();
        match check(&name, &src) {
            Ok(out) => unchanged += usize::from(out == src),
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "corpus: {} files, {} comments, {} failed, {} already in canonical form",
        files.len(),
        comments,
        failures.len(),
        unchanged
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn json(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap_or_default();
    match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("{path} is not valid JSON: {e}"),
    }
}

/// Every `match`/`begin`/`end`/`while` in a grammar, with its JSON path.
fn regexes(v: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}/{k}");
                match (k.as_str(), x) {
                    ("match" | "begin" | "end" | "while", serde_json::Value::String(s)) => {
                        out.push((p, s.clone()));
                    }
                    _ => regexes(x, &p, out),
                }
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                regexes(x, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn grammar_files_are_valid() {
    let g = json("grammar/mcpo.tmLanguage.json");
    assert_eq!(g["scopeName"], "source.mcpo");
    assert!(
        g["patterns"].is_array(),
        "grammar has no top-level patterns"
    );
    assert!(
        g["fileTypes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|t| t == "mcpo")),
        "grammar does not claim .mcpo files"
    );
    // Every `include` of a repository rule names a rule that exists.
    let repo = g["repository"].as_object().cloned().unwrap_or_default();
    let mut all = Vec::new();
    regexes(&g, "", &mut all);
    assert!(all.len() > 20, "suspiciously few patterns: {}", all.len());
    let text = serde_json::to_string(&g).unwrap_or_default();
    for inc in text.split("\"include\":\"#").skip(1) {
        let name = inc.split('"').next().unwrap_or("");
        assert!(repo.contains_key(name), "include of missing rule #{name}");
    }
    for (p, re) in &all {
        assert!(!re.is_empty(), "empty regex at {p}");
    }

    let c = json("grammar/language-configuration.json");
    assert_eq!(c["comments"]["lineComment"], "#");
    assert!(c["comments"]["blockComment"].is_array());
    assert!(c["brackets"].is_array());
    assert!(c["autoClosingPairs"].is_array());
    assert!(c["folding"].is_object());
}

/// Every prefix of every fixture (cut at each character boundary) is formatted without
/// panicking; the prefixes that parse cleanly must pass all the checks. The same goes for
/// each fixture with CRLF line endings.
#[test]
fn truncated_and_crlf_fixtures() {
    let dir = repo_root().join("tests/fmt");
    let mut fixtures = Vec::new();
    files_with_ext(&dir, "mcpo", &mut fixtures);
    let mut failures = Vec::new();
    let mut clean = 0;
    for path in &fixtures {
        let src = std::fs::read_to_string(path).unwrap_or_default();
        let name = path.display().to_string();
        for (cut, _) in src.char_indices() {
            let prefix = src.get(..cut).unwrap_or("");
            let parsed = mcpo_syntax::parse(prefix, FileId(0));
            let _ = mcpo_fmt::format(prefix, &parsed.file);
            if !parsed.diagnostics.iter().any(|d| d.is_error()) {
                clean += 1;
                if let Err(e) = check(&format!("{name}[..{cut}]"), prefix) {
                    failures.push(e);
                }
            } else if mcpo_fmt::format_source(prefix).is_ok() {
                failures.push(format!(
                    "{name}[..{cut}]: format_source accepted a broken file"
                ));
            }
        }
        let crlf = src.replace("\r\n", "\n").replace('\n', "\r\n");
        if let Err(e) = check(&format!("{name} (CRLF)"), &crlf) {
            failures.push(e);
        }
    }
    assert!(clean > 0);
    failures.truncate(10);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Byte offsets where a comment may be inserted: the starts and ends of every item,
/// label and expression.
fn boundaries(body: &mcpo_syntax::ast::Body, out: &mut Vec<usize>) {
    use mcpo_syntax::ast::{BodyItem, Expr, ExprKind, TemplatePart};
    fn expr(e: &Expr, out: &mut Vec<usize>) {
        out.push(e.span.start as usize);
        out.push(e.span.end as usize);
        let kids: Vec<&Expr> = match &e.kind {
            ExprKind::Tuple(items) => items.iter().collect(),
            ExprKind::Object(items) => items.iter().flat_map(|i| [&i.key, &i.value]).collect(),
            ExprKind::FunctionCall(fc) => fc.args.iter().collect(),
            ExprKind::GetAttr { object, .. } => vec![object],
            ExprKind::Index { collection, key } => vec![collection, key],
            ExprKind::LegacyIndex { collection, .. } | ExprKind::Splat { collection, .. } => {
                vec![collection]
            }
            ExprKind::Unary { operand, .. } => vec![operand],
            ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            ExprKind::Conditional {
                condition,
                then,
                otherwise,
            } => vec![condition, then, otherwise],
            ExprKind::For(f) => {
                let mut v = vec![&f.collection, &f.value_expr];
                v.extend(f.key_expr.as_ref());
                v.extend(f.condition.as_ref());
                v
            }
            ExprKind::Parens(inner) => vec![inner],
            ExprKind::Template(t) => t
                .parts
                .iter()
                .filter_map(|p| match p {
                    TemplatePart::Interpolation { expr, .. } => Some(expr),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for k in kids {
            expr(k, out);
        }
    }
    for item in &body.items {
        out.push(item.span().start as usize);
        out.push(item.span().end as usize);
        match item {
            BodyItem::Attribute(a) => {
                out.push(a.name.span.end as usize);
                expr(&a.value, out);
            }
            BodyItem::Block(b) => {
                out.push(b.ty.span.end as usize);
                out.extend(b.labels.iter().map(|l| l.span().end as usize));
                out.push(b.open_brace.end as usize);
                boundaries(&b.body, out);
            }
            BodyItem::Error(_) => {}
        }
    }
}

/// A block comment, a line comment or a line break inserted at any token boundary of
/// any fixture: when the result is valid syntax, all the checks hold (comments kept,
/// same meaning, idempotent).
#[test]
fn comments_anywhere() {
    let dir = repo_root().join("tests/fmt");
    let mut fixtures = Vec::new();
    files_with_ext(&dir, "mcpo", &mut fixtures);
    let mut failures = Vec::new();
    let mut tried = 0;
    for path in &fixtures {
        let src = std::fs::read_to_string(path).unwrap_or_default();
        let parsed = mcpo_syntax::parse(&src, FileId(0));
        let mut positions = Vec::new();
        boundaries(&parsed.file.body, &mut positions);
        positions.sort_unstable();
        positions.dedup();
        for pos in positions {
            for insert in [" /* c */ ", " # c\n", "\n"] {
                let (Some(a), Some(b)) = (src.get(..pos), src.get(pos..)) else {
                    continue;
                };
                let text = format!("{a}{insert}{b}");
                let p = mcpo_syntax::parse(&text, FileId(0));
                if p.diagnostics.iter().any(|d| d.is_error()) {
                    continue;
                }
                tried += 1;
                if let Err(e) = check(&format!("{} +{insert:?}@{pos}", path.display()), &text) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(tried > 100, "only {tried} insertions parsed");
    let n = failures.len();
    failures.truncate(5);
    assert!(
        failures.is_empty(),
        "{n} failures:\n{}",
        failures.join("\n\n")
    );
}

/// Deeply nested input neither overflows the stack nor loses text: nesting beyond the
/// formatter's depth limit is printed as written.
#[test]
fn deep_nesting() {
    for depth in [10, 100, 190, 210, 400, 1000, 10_000] {
        for (open, close) in [("[", "]"), ("(", ")"), ("{ a = ", " }"), ("f(", ")")] {
            let src = format!("x = {}1{}\n", open.repeat(depth), close.repeat(depth));
            let parsed = mcpo_syntax::parse(&src, FileId(0));
            let out = mcpo_fmt::format(&src, &parsed.file);
            if !parsed.diagnostics.iter().any(|d| d.is_error()) {
                assert_eq!(out, src, "depth {depth} of {open}");
            }
        }
        let src = format!("{}{}", "b {\n".repeat(depth), "}\n".repeat(depth));
        let parsed = mcpo_syntax::parse(&src, FileId(0));
        let _ = mcpo_fmt::format(&src, &parsed.file);
    }
}

/// Spans of strings and heredocs, inside which spaces are text.
fn string_spans(src: &str) -> Vec<(usize, usize)> {
    use mcpo_syntax::ast::{BodyItem, Expr, ExprKind};
    fn walk(e: &Expr, out: &mut Vec<(usize, usize)>) {
        match &e.kind {
            ExprKind::Template(_) | ExprKind::Heredoc(_) => {
                out.push((e.span.start as usize, e.span.end as usize));
            }
            ExprKind::Tuple(items) => items.iter().for_each(|i| walk(i, out)),
            ExprKind::Object(items) => items.iter().for_each(|i| {
                walk(&i.key, out);
                walk(&i.value, out);
            }),
            ExprKind::FunctionCall(fc) => fc.args.iter().for_each(|i| walk(i, out)),
            ExprKind::GetAttr { object: x, .. }
            | ExprKind::LegacyIndex { collection: x, .. }
            | ExprKind::Splat { collection: x, .. }
            | ExprKind::Unary { operand: x, .. }
            | ExprKind::Parens(x) => walk(x, out),
            ExprKind::Index { collection, key } => {
                walk(collection, out);
                walk(key, out);
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            ExprKind::Conditional {
                condition,
                then,
                otherwise,
            } => [condition, then, otherwise]
                .into_iter()
                .for_each(|x| walk(x, out)),
            ExprKind::For(f) => {
                walk(&f.collection, out);
                walk(&f.value_expr, out);
                f.key_expr
                    .iter()
                    .chain(f.condition.iter())
                    .for_each(|x| walk(x, out));
            }
            _ => {}
        }
    }
    fn body(b: &mcpo_syntax::ast::Body, out: &mut Vec<(usize, usize)>) {
        for item in &b.items {
            match item {
                BodyItem::Attribute(a) => walk(&a.value, out),
                BodyItem::Block(bl) => body(&bl.body, out),
                BodyItem::Error(_) => {}
            }
        }
    }
    let parsed = mcpo_syntax::parse(src, FileId(0));
    let mut out = Vec::new();
    body(&parsed.file.body, &mut out);
    out
}

/// The innermost attribute or block header holding `pos`.
fn enclosing_item(body: &mcpo_syntax::ast::Body, pos: usize) -> Option<(usize, usize)> {
    use mcpo_syntax::ast::BodyItem;
    for item in &body.items {
        let (a, b) = (item.span().start as usize, item.span().end as usize);
        if pos < a || pos > b {
            continue;
        }
        return match item {
            BodyItem::Block(bl) if pos > bl.open_brace.start as usize => {
                enclosing_item(&bl.body, pos).or(Some((a, b)))
            }
            BodyItem::Block(bl) => Some((a, bl.open_brace.end as usize)),
            _ => Some((a, b)),
        };
    }
    None
}

/// Extra spaces between tokens (outside strings) change nothing: the output is the same
/// as for the fixture itself.
#[test]
fn extra_spaces_are_normalized() {
    let dir = repo_root().join("tests/fmt");
    let mut fixtures = Vec::new();
    files_with_ext(&dir, "mcpo", &mut fixtures);
    let mut failures = Vec::new();
    let mut tried = 0;
    for path in &fixtures {
        let src = std::fs::read_to_string(path).unwrap_or_default();
        let parsed = mcpo_syntax::parse(&src, FileId(0));
        let expected = mcpo_fmt::format(&src, &parsed.file);
        let strings = string_spans(&src);
        let mut positions = Vec::new();
        boundaries(&parsed.file.body, &mut positions);
        positions.sort_unstable();
        positions.dedup();
        for pos in positions {
            if strings.iter().any(|&(a, b)| a < pos && pos < b) {
                continue;
            }
            // Expressions holding comments are printed as written, spaces included.
            if let Some((a, b)) = enclosing_item(&parsed.file.body, pos)
                && parsed
                    .file
                    .comments
                    .iter()
                    .any(|c| a <= c.span.start as usize && (c.span.start as usize) < b)
            {
                continue;
            }
            let (Some(a), Some(b)) = (src.get(..pos), src.get(pos..)) else {
                continue;
            };
            let text = format!("{a}   {b}");
            let p = mcpo_syntax::parse(&text, FileId(0));
            if p.diagnostics.iter().any(|d| d.is_error())
                || !mcpo_fmt::same_meaning(&parsed.file, &p.file)
            {
                continue;
            }
            tried += 1;
            let out = mcpo_fmt::format(&text, &p.file);
            if out != expected {
                failures.push(format!(
                    "{} +spaces@{pos}:\n--- expected\n{expected}\n--- got\n{out}",
                    path.display()
                ));
            }
        }
    }
    assert!(tried > 100, "only {tried} insertions parsed");
    let n = failures.len();
    failures.truncate(3);
    assert!(
        failures.is_empty(),
        "{n} failures:\n{}",
        failures.join("\n\n")
    );
}
