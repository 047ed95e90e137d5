//! The evaluator, table-driven: each case is an expression, the declarations it may see,
//! and the expected result written as mcpo source (or the expected error's text).
//! Unknown values are written `unknown`, sensitive ones `sensitive(...)`, both only in the
//! declarations: results are compared through [`Val::display`], which redacts.

use mcpo_plan::eval::{Scope, UserFn, eval};
use mcpo_plan::{Io, Val};
use mcpo_syntax::ast::{BodyItem, Expr};
use std::collections::{BTreeMap, BTreeSet};

struct NoIo;

impl Io for NoIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        match path {
            "greeting.tpl" => Ok("Hello, ${name}!%{ for x in items } [${x}]%{ endfor }".into()),
            _ => Err(format!("{path}: no such file")),
        }
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("{path}: no such file"))
    }
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
    fn now_rfc3339(&self) -> String {
        "2026-11-24T12:00:00Z".into()
    }
}

fn expr(src: &str) -> Expr {
    let parsed = mcpo_syntax::parse(&format!("x = {src}\n"), mcpo_diagnostics::FileId(0));
    assert!(
        parsed.diagnostics.is_empty(),
        "{src}: {:?}",
        parsed.diagnostics
    );
    match parsed.file.body.items.into_iter().next() {
        Some(BodyItem::Attribute(a)) => a.value,
        other => panic!("{src}: not an attribute: {other:?}"),
    }
}

fn decls() -> BTreeMap<String, Val> {
    let plain = |src: &str| {
        let e = expr(src);
        let empty = BTreeMap::new();
        let (s, f) = (BTreeSet::new(), BTreeMap::new());
        eval(&e, &Scope::new(&empty, &s, &f, &NoIo)).unwrap_or(Val::Null)
    };
    let mut m = BTreeMap::new();
    m.insert("var.names".into(), plain(r#"["a", "b", "c"]"#));
    m.insert("var.count".into(), Val::Number(3.0));
    m.insert(
        "var.password".into(),
        Val::String("hunter2".into()).mark_sensitive(),
    );
    m.insert("local.app".into(), Val::String("store".into()));
    m.insert(
        "aws.vpc.main".into(),
        Val::Map(BTreeMap::from([
            ("id".to_string(), Val::Unknown),
            ("cidr_block".to_string(), Val::String("10.0.0.0/16".into())),
        ])),
    );
    m.insert(
        "aws.ec2_instance.web".into(),
        plain(r#"[{ private_ip = "10.0.1.4", name = "web-0" }, { private_ip = "10.0.1.5", name = "web-1" }]"#),
    );
    m.insert(
        "kubernetes.namespace.env".into(),
        plain(r#"{ dev = { name = "dev" }, prod = { name = "prod" } }"#),
    );
    m.insert(
        "data.aws.vpc.found".into(),
        plain(r#"{ state = "available" }"#),
    );
    m.insert(
        "module.shop".into(),
        plain(r#"{ url = "https://shop.example.com" }"#),
    );
    m
}

fn run(src: &str) -> Result<String, String> {
    let d = decls();
    let servers: BTreeSet<String> = ["aws", "kubernetes"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let functions = BTreeMap::from([(
        "double".to_string(),
        UserFn {
            params: vec!["n".into()],
            result: expr("n * 2"),
        },
    )]);
    let scope = Scope::new(&d, &servers, &functions, &NoIo);
    eval(&expr(src), &scope)
        .map(|v| v.display())
        .map_err(|e| e.message)
}

#[test]
fn values() {
    let cases: &[(&str, &str)] = &[
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 / 4", "2.5"),
        ("7 % 3", "1"),
        ("-var.count", "-3"),
        ("!true", "false"),
        ("\"5\" + 1", "6"),
        ("1 < 2 && 2 <= 2", "true"),
        ("false || 3 > 2", "true"),
        ("[1, \"a\"] == [1, \"a\"]", "true"),
        ("{ a = 1 } != { a = 2 }", "true"),
        ("var.count > 2 ? \"many\" : \"few\"", "\"many\""),
        ("\"${local.app}-${var.count}\"", "\"store-3\""),
        ("\"${var.count}\"", "3"),
        ("\"%{ if var.count > 1 }s%{ else }one%{ endif }\"", "\"s\""),
        ("\"%{ for n in var.names }${n};%{ endfor }\"", "\"a;b;c;\""),
        ("\"a %{~ if true ~} b %{~ endif ~}\"", "\"ab\""),
        ("var.names[1]", "\"b\""),
        ("var.names.2", "\"c\""),
        (
            "aws.ec2_instance.web[*].private_ip",
            "[\"10.0.1.4\", \"10.0.1.5\"]",
        ),
        ("aws.ec2_instance.web.*.name", "[\"web-0\", \"web-1\"]"),
        ("aws.ec2_instance.web[1].name", "\"web-1\""),
        ("kubernetes.namespace.env[\"prod\"].name", "\"prod\""),
        (
            "[for n in var.names : upper(n) if n != \"b\"]",
            "[\"A\", \"C\"]",
        ),
        (
            "{ for i, n in var.names : n => i }",
            "{ a = 0, b = 1, c = 2 }",
        ),
        (
            "{ for n in [\"x\", \"y\", \"x\"] : n => n... }",
            "{ x = [\"x\", \"x\"], y = [\"y\"] }",
        ),
        ("data.aws.vpc.found.state", "\"available\""),
        ("module.shop.url", "\"https://shop.example.com\""),
        ("double(21)", "42"),
        ("try(var.names[9], \"fallback\")", "\"fallback\""),
        ("can(var.names[9])", "false"),
        ("can(var.names[0])", "true"),
        (
            "max(var.names...)",
            "max: the first argument must be a number",
        ),
        ("max([3, 9, 4]...)", "9"),
        ("\"${null}\"", "null"),
        (
            "templatefile(\"greeting.tpl\", { name = \"you\", items = [1, 2] })",
            "\"Hello, you! [1] [2]\"",
        ),
        ("<<EOT\n  line ${var.count}\nEOT", "\"  line 3\\n\""),
        (
            "<<-EOT\n    indented\n      more\n    EOT",
            "\"indented\\n  more\\n\"",
        ),
        ("null", "null"),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        let got = match run(src) {
            Ok(v) => v,
            Err(e) => e,
        };
        // Errors are matched by their start so that wording can grow.
        if got != *want && !got.starts_with(want) {
            failures.push(format!("{src}\n    want {want}\n    got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_values_propagate() {
    for src in [
        "aws.vpc.main.id",
        "\"vpc: ${aws.vpc.main.id}\"",
        "aws.vpc.main.id == \"x\"",
        "aws.vpc.main.id != null ? 1 : 2",
        "[for x in [aws.vpc.main.id] : x][0]",
        "upper(aws.vpc.main.id)",
    ] {
        assert_eq!(
            run(src).as_deref(),
            Ok("(known after apply)"),
            "{src} should be unknown"
        );
    }
    // Known parts stay known.
    assert_eq!(
        run("aws.vpc.main.cidr_block").as_deref(),
        Ok("\"10.0.0.0/16\"")
    );
    assert_eq!(
        run("[1, aws.vpc.main.id]").as_deref(),
        Ok("[1, (known after apply)]")
    );
}

#[test]
fn sensitive_values_stay_sensitive() {
    for src in [
        "var.password",
        "\"pw=${var.password}\"",
        "upper(var.password)",
        "[var.password][0]",
        "{ p = var.password }.p",
        "var.password == \"x\" ? \"a\" : \"b\"",
    ] {
        let got = run(src);
        assert_eq!(
            got.as_deref(),
            Ok("(sensitive value)"),
            "{src} must stay sensitive"
        );
    }
    assert_eq!(
        run("nonsensitive(var.password)").as_deref(),
        Ok("\"hunter2\"")
    );
}

#[test]
fn errors_say_what_went_wrong() {
    let cases: &[(&str, &str)] = &[
        (
            "var.names[5]",
            "index 5 is out of range: the list has 3 element(s)",
        ),
        ("var.names[\"a\"]", "a number is required"),
        ("1 / 0", "division by zero"),
        ("local.app.name", "cannot read `name` of a string"),
        (
            "kubernetes.namespace.env[\"qa\"]",
            "there is no key \"qa\" here",
        ),
        ("\"x${null}\"", "a null value cannot be interpolated"),
        (
            "{ for n in [\"x\", \"x\"] : n => 1 }",
            "duplicate key \"x\"",
        ),
        ("double(1, 2)", "`double` takes 1 argument(s), 2 given"),
        ("unknown_thing", "unknown name `unknown_thing`"),
        ("count.index", "`count` is only available"),
    ];
    let mut failures = Vec::new();
    for (src, want) in cases {
        match run(src) {
            Err(e) if e.starts_with(want) || e.contains(want) => {}
            other => failures.push(format!("{src}\n    want error {want}\n    got  {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
