//! Recovery from an interpolation or directive left open inside a quoted string: one
//! diagnostic at the `${` or `%{`, and the block around it parses with all its
//! attributes (the text after the string is not swallowed into it).

use mcpo_diagnostics::{FileId, codes};
use mcpo_syntax::ast::{BodyItem, ExprKind};

/// The attribute names of every top-level block, and the diagnostics' codes and texts.
fn parse(text: &str) -> (Vec<Vec<String>>, Vec<(String, String)>) {
    let parsed = mcpo_syntax::parse(text, FileId(0));
    let blocks = parsed
        .file
        .body
        .items
        .iter()
        .filter_map(|i| match i {
            BodyItem::Block(b) => Some(
                b.body
                    .items
                    .iter()
                    .filter_map(|i| match i {
                        BodyItem::Attribute(a) => Some(a.name.name.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    let diags = parsed
        .diagnostics
        .iter()
        .map(|d| {
            let at = text.get(d.span.range()).unwrap_or("").to_string();
            (d.code.as_str().to_string(), at)
        })
        .collect();
    (blocks, diags)
}

#[test]
fn unclosed_interpolation_is_one_error_at_the_interpolation() {
    let text = "resource \"aws.vpc\" \"main\" {\n  name       = \"x ${var.name y\"\n  cidr_block = \"10.0.0.0/16\"\n}\n\noutput \"o\" {\n  value = 1\n}\n";
    let (blocks, diags) = parse(text);
    assert_eq!(
        diags,
        vec![(codes::E0002.as_str().to_string(), "${".to_string())]
    );
    assert_eq!(
        blocks,
        vec![
            vec!["name".to_string(), "cidr_block".to_string()],
            vec!["value".to_string()]
        ]
    );
}

#[test]
fn unclosed_directive_and_nested_call_are_one_error_each() {
    let text = "resource \"a\" \"b\" {\n  x = \"a %{ if var.on b\"\n  y = \"n:${lower(var.t \"\n  z = [\"run\"]\n}\n";
    let (blocks, diags) = parse(text);
    assert_eq!(
        diags,
        vec![
            (codes::E0002.as_str().to_string(), "%{".to_string()),
            (codes::E0002.as_str().to_string(), "${".to_string()),
        ]
    );
    assert_eq!(
        blocks,
        vec![vec!["x".to_string(), "y".to_string(), "z".to_string()]]
    );
}

#[test]
fn strings_nested_in_interpolations_still_parse() {
    for text in [
        "a = \"${\"x\"}\"\n",
        "a = \"${upper(\"x\")} and ${\"y\"}\"\n",
        "a = \"${{ k = \"v\" }.k}\"\n",
        "a = \"%{ if \"x\" == \"x\" }yes%{ endif }\"\n",
    ] {
        let parsed = mcpo_syntax::parse(text, FileId(0));
        assert!(
            parsed.diagnostics.is_empty(),
            "{text}: {:?}",
            parsed.diagnostics
        );
        let Some(BodyItem::Attribute(a)) = parsed.file.body.items.first() else {
            panic!("{text}: no attribute");
        };
        assert!(matches!(a.value.kind, ExprKind::Template(_)), "{text}");
    }
}
