//! Fixture-driven parser tests: every `tests/syntax/*.mcpo` file at the repository root is
//! one case. Its first line may say `# expect: E0002 E0009` (or `# expect: none`); the
//! codes of the diagnostics must match. The snapshot holds the source, the rendered
//! diagnostics and, for files without errors, the expressions of the tree written as
//! S-expressions (which pins precedence and associativity).

use mcpo_diagnostics::{FileId, Sources, render};
use mcpo_syntax::ast::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/syntax")
}

#[test]
fn fixtures() {
    let dir = fixtures_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "mcpo"));
    files.sort();
    assert!(files.len() >= 20, "fixtures missing in {}", dir.display());
    let mut mismatches = Vec::new();
    for path in &files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let parse = mcpo_syntax::parse(&text, FileId(0));

        if let Some(first) = text.lines().next()
            && let Some(want) = first.strip_prefix("# expect:")
        {
            let mut want: Vec<&str> = want.split_whitespace().filter(|w| *w != "none").collect();
            want.sort();
            let mut got: Vec<&str> = parse.diagnostics.iter().map(|d| d.code.as_str()).collect();
            got.sort();
            if want != got {
                mismatches.push(format!("{name}: expected codes {want:?}, got {got:?}"));
            }
        } else {
            mismatches.push(format!("{name}: first line must be `# expect: ...`"));
        }

        let mut sources = Sources::new();
        sources.add(format!("{name}.mcpo"), text.as_str());
        let rendered = render::render(
            &parse.diagnostics,
            &sources,
            render::RenderConfig { color: false },
        );
        let mut snap = String::new();
        let _ = writeln!(snap, "--- source ---\n{text}");
        let _ = writeln!(snap, "--- diagnostics ---\n{rendered}");
        if parse.diagnostics.is_empty() {
            let _ = writeln!(snap, "--- tree ---");
            body_sexp(&text, &parse.file.body, 0, &mut snap);
        }
        insta::with_settings!({
            snapshot_path => dir.join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, snap);
        });
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

fn body_sexp(src: &str, body: &Body, indent: usize, out: &mut String) {
    for item in &body.items {
        let pad = "  ".repeat(indent);
        match item {
            BodyItem::Attribute(a) => {
                let _ = writeln!(out, "{pad}{} = {}", a.name.name, sexp(src, &a.value));
            }
            BodyItem::Block(b) => {
                let labels: Vec<String> = b
                    .labels
                    .iter()
                    .map(|l| format!("{:?}", l.value()))
                    .collect();
                let _ = writeln!(out, "{pad}block {} {}", b.ty.name, labels.join(" "));
                body_sexp(src, &b.body, indent + 1, out);
            }
            BodyItem::Error(s) => {
                let _ = writeln!(out, "{pad}<error {:?}>", src.get(s.range()).unwrap_or(""));
            }
        }
    }
}

fn parts_sexp(src: &str, parts: &[TemplatePart]) -> String {
    let mut v = Vec::new();
    for p in parts {
        v.push(match p {
            TemplatePart::Literal { value, .. } => format!("{value:?}"),
            TemplatePart::Interpolation { expr, strip, .. } => format!(
                "(${}{}{})",
                if strip.left { "~ " } else { "" },
                sexp(src, expr),
                if strip.right { " ~" } else { "" }
            ),
            TemplatePart::If(i) => format!(
                "(%if {} [{}]{})",
                sexp(src, &i.condition),
                parts_sexp(src, &i.then),
                i.otherwise
                    .as_ref()
                    .map(|o| format!(" else [{}]", parts_sexp(src, o)))
                    .unwrap_or_default()
            ),
            TemplatePart::For(f) => format!(
                "(%for {}{} {} [{}])",
                f.key_var
                    .as_ref()
                    .map(|k| format!("{}, ", k.name))
                    .unwrap_or_default(),
                f.value_var.name,
                sexp(src, &f.collection),
                parts_sexp(src, &f.body)
            ),
        });
    }
    v.join(" ")
}

fn sexp(src: &str, e: &Expr) -> String {
    match &e.kind {
        ExprKind::Null => "null".into(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Number(n) => n.clone(),
        ExprKind::Template(t) => format!("(str {})", parts_sexp(src, &t.parts)),
        ExprKind::Heredoc(h) => format!(
            "(heredoc{} {} {})",
            if h.indented { "-" } else { "" },
            h.marker,
            parts_sexp(src, &h.template.parts)
        ),
        ExprKind::Variable(i) => i.name.clone(),
        ExprKind::Tuple(items) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| sexp(src, i))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        ExprKind::Object(items) => format!(
            "{{{}}}",
            items
                .iter()
                .map(|i| format!(
                    "{} {} {}",
                    sexp(src, &i.key),
                    if i.equals { "=" } else { ":" },
                    sexp(src, &i.value)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ExprKind::FunctionCall(c) => {
            let mut name = String::new();
            for n in &c.namespace {
                name.push_str(&n.name);
                name.push_str("::");
            }
            name.push_str(&c.name.name);
            let args: Vec<String> = c.args.iter().map(|a| sexp(src, a)).collect();
            format!(
                "(call {name} {}{})",
                args.join(" "),
                if c.expand_final { " ..." } else { "" }
            )
        }
        ExprKind::GetAttr { object, name } => format!("(. {} {})", sexp(src, object), name.name),
        ExprKind::Index { collection, key } => {
            format!("(index {} {})", sexp(src, collection), sexp(src, key))
        }
        ExprKind::LegacyIndex {
            collection, index, ..
        } => format!("(.{index} {})", sexp(src, collection)),
        ExprKind::Splat { collection, full } => {
            format!(
                "({} {})",
                if *full { "[*]" } else { ".*" },
                sexp(src, collection)
            )
        }
        ExprKind::Unary { op, operand, .. } => format!(
            "({} {})",
            match op {
                UnaryOp::Neg => "-",
                UnaryOp::Not => "!",
            },
            sexp(src, operand)
        ),
        ExprKind::Binary { op, lhs, rhs, .. } => {
            format!("({} {} {})", op.as_str(), sexp(src, lhs), sexp(src, rhs))
        }
        ExprKind::Conditional {
            condition,
            then,
            otherwise,
        } => {
            format!(
                "(? {} {} {})",
                sexp(src, condition),
                sexp(src, then),
                sexp(src, otherwise)
            )
        }
        ExprKind::For(f) => format!(
            "(for{} {}{} in {} : {}{}{}{})",
            if f.is_object { "{}" } else { "[]" },
            f.key_var
                .as_ref()
                .map(|k| format!("{}, ", k.name))
                .unwrap_or_default(),
            f.value_var.name,
            sexp(src, &f.collection),
            f.key_expr
                .as_ref()
                .map(|k| format!("{} => ", sexp(src, k)))
                .unwrap_or_default(),
            sexp(src, &f.value_expr),
            if f.grouping { " ..." } else { "" },
            f.condition
                .as_ref()
                .map(|c| format!(" if {}", sexp(src, c)))
                .unwrap_or_default()
        ),
        ExprKind::Parens(inner) => format!("(paren {})", sexp(src, inner)),
        ExprKind::Error => format!("<error {:?}>", src.get(e.span.range()).unwrap_or("")),
    }
}
