//! The built-in function library: a corpus of calls and their results
//! (`tests/functions/*.txt`), the agreement between the checker's signature table and the
//! runtime, and a property test that no argument makes a function panic.
//!
//! Corpus format, one case a line (`#` starts a comment line):
//!
//! ```text
//! upper("abc") == "ABC"            the result, a literal
//! upper([1]) !! must be a string   an error containing the text
//! uuid() =~ ^[0-9a-f-]{36}$        the result, a string matching the regex
//! ```
//!
//! Literals are JSON plus `unknown` and `sensitive(<literal>)`; map keys may be bare.
//! A line `## name: description` opens a function's cases; the book's page of built-in
//! functions (`book/src/functions.md`) is generated from these descriptions and cases
//! (`UPDATE_BOOK=1 cargo test -p mcpo-plan --test functions book_functions_page`).

use mcpo_plan::functions::{call, exists, impure, names, templatefile_source};
use mcpo_plan::{Io, Val};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Files and environment in memory, a fixed clock.
struct MemIo {
    files: BTreeMap<String, Vec<u8>>,
    env: BTreeMap<String, String>,
}

impl MemIo {
    fn new() -> Self {
        let files = BTreeMap::from([
            ("hello.txt".to_string(), b"hello\n".to_vec()),
            ("binary.bin".to_string(), vec![0xff, 0x00, 0xfe]),
            ("t.tpl".to_string(), b"Hello, ${name}!".to_vec()),
        ]);
        let env = BTreeMap::from([
            ("HOME".to_string(), "/home/me".to_string()),
            ("PWD".to_string(), "/work/ws".to_string()),
            ("REGION".to_string(), "eu-west-1".to_string()),
        ]);
        MemIo { files, env }
    }
}

impl Io for MemIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        let bytes = self.read_bytes(path)?;
        String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_string())
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| "no such file".to_string())
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn now_rfc3339(&self) -> String {
        "2024-01-02T04:04:05.123+01:00".to_string()
    }
}

// ---------------------------------------------------------------------------------------
// A small literal parser for the corpus.

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if self.rest().starts_with(t) {
            self.pos += t.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &str) -> Result<(), String> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(format!("expected {t:?} at {:?}", self.rest()))
        }
    }

    fn ident(&mut self) -> String {
        self.ws();
        let r = self.rest();
        let n = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        self.pos += n;
        r.get(..n).unwrap_or("").to_string()
    }

    fn string(&mut self) -> Result<String, String> {
        self.ws();
        let r = self.rest();
        let mut escaped = false;
        for (i, c) in r.char_indices().skip(1) {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    let lit = r.get(..=i).unwrap_or("");
                    self.pos += i + 1;
                    return serde_json::from_str(lit).map_err(|e| format!("{lit}: {e}"));
                }
                _ => {}
            }
        }
        Err(format!("unterminated string at {r:?}"))
    }

    fn literal(&mut self) -> Result<Val, String> {
        self.ws();
        let r = self.rest();
        if r.starts_with('"') {
            return Ok(Val::String(self.string()?));
        }
        if self.eat("[") {
            let mut items = Vec::new();
            if self.eat("]") {
                return Ok(Val::List(items));
            }
            loop {
                items.push(self.literal()?);
                if self.eat("]") {
                    return Ok(Val::List(items));
                }
                self.expect(",")?;
            }
        }
        if self.eat("{") {
            let mut m = BTreeMap::new();
            if self.eat("}") {
                return Ok(Val::Map(m));
            }
            loop {
                self.ws();
                let key = if self.rest().starts_with('"') {
                    self.string()?
                } else {
                    self.ident()
                };
                if !self.eat(":") {
                    self.expect("=")?;
                }
                m.insert(key, self.literal()?);
                if self.eat("}") {
                    return Ok(Val::Map(m));
                }
                self.expect(",")?;
            }
        }
        if r.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            let n = r
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
                .unwrap_or(r.len());
            let text = r.get(..n).unwrap_or("");
            self.pos += n;
            return text
                .parse::<f64>()
                .map(Val::Number)
                .map_err(|e| format!("{text}: {e}"));
        }
        match self.ident().as_str() {
            "null" => Ok(Val::Null),
            "true" => Ok(Val::Bool(true)),
            "false" => Ok(Val::Bool(false)),
            "unknown" => Ok(Val::Unknown),
            "sensitive" => {
                self.expect("(")?;
                let inner = self.literal()?;
                self.expect(")")?;
                Ok(inner.mark_sensitive())
            }
            other => Err(format!("unexpected {other:?} at {:?}", self.rest())),
        }
    }

    /// `name(args...)`.
    fn call(&mut self) -> Result<(String, Vec<Val>), String> {
        let name = self.ident();
        self.expect("(")?;
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok((name, args));
        }
        loop {
            args.push(self.literal()?);
            if self.eat(")") {
                return Ok((name, args));
            }
            self.expect(",")?;
        }
    }
}

/// Runs one corpus line; `Err` says how it failed.
fn run_case(line: &str, io: &MemIo) -> Result<(), String> {
    let mut p = Parser { s: line, pos: 0 };
    let (name, args) = p.call()?;
    let got = call(&name, args, io);
    if p.eat("==") {
        let want = p.literal()?;
        p.ws();
        if !p.rest().is_empty() {
            return Err(format!("trailing text {:?}", p.rest()));
        }
        return match got {
            Ok(v) if v == want => Ok(()),
            Ok(v) => Err(format!("got {v:?}, want {want:?}")),
            Err(e) => Err(format!("got error {e:?}, want {want:?}")),
        };
    }
    if p.eat("!!") {
        let want = p.rest().trim();
        return match got {
            Err(e) if e.contains(want) && e.starts_with(&format!("{name}: ")) => Ok(()),
            Err(e) if e.contains(want) && !exists(&name) => Ok(()),
            Err(e) => Err(format!(
                "error {e:?} does not contain {want:?} after the name"
            )),
            Ok(v) => Err(format!("got {v:?}, want an error containing {want:?}")),
        };
    }
    if p.eat("=~") {
        let re = regex::Regex::new(p.rest().trim()).map_err(|e| e.to_string())?;
        return match got {
            Ok(Val::String(s)) if re.is_match(&s) => Ok(()),
            other => Err(format!("got {other:?}, want a string matching {re}")),
        };
    }
    Err(format!("no ==, !! or =~ at {:?}", p.rest()))
}

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/functions");
    let io = MemIo::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut called: BTreeMap<String, usize> = BTreeMap::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            cases += 1;
            let name: String = line.chars().take_while(|c| *c != '(').collect();
            *called.entry(name).or_default() += 1;
            if let Err(e) = run_case(line, &io) {
                failures.push(format!("{}:{}: {line}\n    {e}", path.display(), n + 1));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let thin: Vec<String> = names()
        .filter(|n| called.get(*n).copied().unwrap_or(0) < 2)
        .map(str::to_string)
        .collect();
    assert!(
        thin.is_empty(),
        "functions with fewer than 2 cases: {thin:?}"
    );
    assert!(cases > 300, "only {cases} cases");
}

/// The book's sections: corpus file stem and title, in page order.
const SECTIONS: &[(&str, &str)] = &[
    ("strings", "Strings"),
    ("numbers", "Numbers"),
    ("collections", "Collections and conversions"),
    ("encoding", "Encodings and hashes"),
    ("network", "Network addresses"),
    ("files", "Files, paths and the environment"),
    ("time", "Time"),
    ("evaluator", "Run by the evaluator"),
];

/// The page of built-in functions, from the corpus: each function's signature (from the
/// checker's table), description and examples, errors shown as the function words them.
fn functions_page() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/functions");
    let io = MemIo::new();
    let mut out = String::from(
        "# Built-in functions\n\n\
         <!-- Generated from crates/mcpo-plan/tests/functions/*.txt by \
         `UPDATE_BOOK=1 cargo test -p mcpo-plan --test functions book_functions_page`; \
         do not edit by hand. -->\n\n\
         mcpo has Terraform's function library, with Terraform's semantics; every example \
         below is a test case. Arguments convert as in Terraform: a number or bool passes \
         where a string is expected, a numeric string where a number is.\n\n\
         - A function that looks inside its arguments gives `(known after apply)` when any \
         part of them is not known yet, and a sensitive result when any part is sensitive.\n\
         - Functions that only move elements around (`concat`, `element`, `flatten`, \
         `length`, `lookup`, `merge`, `slice`, `tolist`, ...) leave each element's marks \
         with the element: `length([a, b])` is known even when `b` is not.\n\
         - `sensitive(x)` marks a value; `nonsensitive(x)` removes the mark.\n",
    );
    for (stem, title) in SECTIONS {
        let text = std::fs::read_to_string(dir.join(format!("{stem}.txt"))).unwrap_or_default();
        out.push_str(&format!("\n## {title}\n"));
        let mut examples: Vec<(String, String)> = Vec::new();
        let flush = |out: &mut String, examples: &mut Vec<(String, String)>| {
            if examples.is_empty() {
                return;
            }
            let width = examples
                .iter()
                .map(|(c, _)| c.chars().count())
                .max()
                .unwrap_or(0);
            out.push_str("\n```hcl\n");
            for (c, r) in examples.drain(..) {
                let pad = " ".repeat(width.min(48).saturating_sub(c.chars().count()));
                out.push_str(&format!("{c}{pad}  # {r}\n"));
            }
            out.push_str("```\n");
        };
        for line in text.lines().map(str::trim) {
            if let Some(head) = line.strip_prefix("## ") {
                flush(&mut out, &mut examples);
                let (name, desc) = head.split_once(": ").unwrap_or((head, ""));
                let sig = mcpo_sema::lookup(name)
                    .map(|s| s.display(name))
                    .unwrap_or_default();
                out.push_str(&format!("\n### `{name}`\n\n`{sig}`\n\n{desc}\n"));
                continue;
            }
            if line.is_empty() || line.starts_with('#') || line.contains("unknown") {
                continue;
            }
            if examples.len() >= 4 {
                continue;
            }
            let mut p = Parser { s: line, pos: 0 };
            let Ok((name, args)) = p.call() else { continue };
            let shown = line.get(..p.pos).unwrap_or(line).to_string();
            let result = if p.eat("==") {
                p.rest().trim().to_string()
            } else if p.eat("=~") {
                format!("a string matching {}", p.rest().trim())
            } else {
                match call(&name, args, &io) {
                    Err(e) => format!("error: {e}"),
                    Ok(v) => v.display(),
                }
            };
            examples.push((shown, result));
        }
        flush(&mut out, &mut examples);
    }
    out
}

#[test]
fn book_functions_page_matches_the_corpus() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/functions.md");
    let page = functions_page();
    if std::env::var_os("UPDATE_BOOK").is_some() {
        let written = std::fs::write(&path, &page);
        assert!(written.is_ok(), "{written:?}");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == page,
        "book/src/functions.md is out of date: regenerate it with \
         UPDATE_BOOK=1 cargo test -p mcpo-plan --test functions book_functions_page"
    );
    for (name, _) in mcpo_sema::BUILTINS {
        assert!(
            page.contains(&format!("### `{name}`")),
            "{name} is not on the page"
        );
    }
}

#[test]
fn the_checker_and_the_runtime_know_the_same_functions() {
    let missing: Vec<&str> = mcpo_sema::BUILTINS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !exists(n))
        .collect();
    assert!(
        missing.is_empty(),
        "in the checker, not implemented: {missing:?}"
    );
    let unchecked: Vec<&str> = names().filter(|n| mcpo_sema::lookup(n).is_none()).collect();
    assert!(
        unchecked.is_empty(),
        "implemented, unknown to the checker: {unchecked:?}"
    );
    assert!(!exists("nope"));
    let impure_names: Vec<&str> = names().filter(|n| impure(n)).collect();
    assert_eq!(impure_names, ["bcrypt", "timestamp", "uuid"]);
}

#[test]
fn base64gzip_round_trips() {
    use base64::Engine as _;
    use std::io::Read as _;
    let io = MemIo::new();
    let text = "hello hello hello hello\n".repeat(20);
    let Ok(Val::String(b64)) = call("base64gzip", vec![Val::String(text.clone())], &io) else {
        panic!("base64gzip gave no string");
    };
    let gz = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_default();
    assert!(gz.len() < text.len(), "compressed to {} bytes", gz.len());
    let mut out = String::new();
    let read = flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut out);
    assert!(read.is_ok(), "{read:?}");
    assert_eq!(out, text);
}

#[test]
fn bcrypt_hashes_verify_and_are_salted() {
    let io = MemIo::new();
    let args = || vec![Val::String("hunter2".into()), Val::Number(4.0)];
    let (Ok(Val::String(h1)), Ok(Val::String(h2))) =
        (call("bcrypt", args(), &io), call("bcrypt", args(), &io))
    else {
        panic!("bcrypt gave no string");
    };
    assert!(h1.starts_with("$2a$04$"), "{h1}");
    assert_ne!(h1, h2, "two hashes of one password share a salt");
    assert_eq!(bcrypt::verify("hunter2", &h1).ok(), Some(true));
    assert_eq!(bcrypt::verify("hunter3", &h1).ok(), Some(false));
    // A sensitive password gives a sensitive hash.
    let marked = call(
        "bcrypt",
        vec![Val::String("x".into()).mark_sensitive(), Val::Number(4.0)],
        &io,
    );
    assert!(matches!(marked, Ok(Val::Sensitive(_))), "{marked:?}");
}

#[test]
fn uuids_differ() {
    let io = MemIo::new();
    let a = call("uuid", vec![], &io);
    let b = call("uuid", vec![], &io);
    assert!(matches!(a, Ok(Val::String(_))));
    assert_ne!(a, b);
}

#[test]
fn templatefile_source_reads_through_io() {
    let io = MemIo::new();
    assert_eq!(
        templatefile_source("t.tpl", &io),
        Ok("Hello, ${name}!".to_string())
    );
    let missing = templatefile_source("nope.tpl", &io);
    assert!(
        matches!(&missing, Err(e) if e.contains("nope.tpl") && e.contains("no such file")),
        "{missing:?}"
    );
}

#[test]
fn yamlencode_output_reads_back() {
    let io = MemIo::new();
    let v = Val::Map(BTreeMap::from([
        (
            "list".to_string(),
            Val::List(vec![Val::Number(1.0), Val::String("a: b\n\"c\"".into())]),
        ),
        (
            "nested".to_string(),
            Val::Map(BTreeMap::from([
                (
                    "deeper".to_string(),
                    Val::List(vec![Val::List(vec![Val::Bool(true), Val::Null])]),
                ),
                ("empty".to_string(), Val::Map(BTreeMap::new())),
            ])),
        ),
        ("n".to_string(), Val::Number(-2.5)),
    ]));
    let encoded = call("yamlencode", vec![v.clone()], &io);
    let Ok(text) = encoded else {
        panic!("yamlencode failed: {encoded:?}");
    };
    assert_eq!(call("yamldecode", vec![text], &io), Ok(v));
}

// ---------------------------------------------------------------------------------------
// No argument makes a function panic.

fn leaf() -> impl Strategy<Value = Val> {
    prop_oneof![
        Just(Val::Null),
        Just(Val::Unknown),
        any::<bool>().prop_map(Val::Bool),
        (-40i32..300).prop_map(|n| Val::Number(f64::from(n))),
        any::<f64>().prop_map(Val::Number),
        prop::sample::select(vec![
            "",
            "a",
            "10.0.0.0/8",
            "fd00::/8",
            "10.0.0.0/30",
            "2024-01-02T03:04:05Z",
            "%s %d %v %q %[2]s %05.2f %",
            "/(a)(b)/",
            "YYYY-MM-DD hh:mm ZZZZZ 'x'",
            "1h30m",
            "~/x",
            "a,b\n1,2",
            "{\"a\": [1]}",
            "- a\n- b",
            "ff",
            "-1",
            "1e3",
            "\u{2603}🤔",
            "a\"b,\"",
            "../x/./y//",
            "(?P<n>a)",
            "[",
            "true",
        ])
        .prop_map(|s| Val::String(s.to_string())),
        "\\PC{0,12}".prop_map(Val::String),
    ]
}

fn val() -> impl Strategy<Value = Val> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Val::List),
            prop::collection::btree_map("[a-c]{1,2}", inner.clone(), 0..4).prop_map(Val::Map),
            inner.prop_map(Val::mark_sensitive),
        ]
    })
}

/// The number of property cases: `default`, or `PROPTEST_CASES` for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn all_names() -> Vec<&'static str> {
    names().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_function_panics(
        name in prop::sample::select(all_names()),
        args in prop::collection::vec(val(), 0..5),
    ) {
        let io = MemIo::new();
        let mut args = args;
        if name == "bcrypt" {
            // Real bcrypt costs double per step: keep the cost at the minimum.
            args.truncate(1);
            args.push(Val::Number(4.0));
        }
        let result = call(name, args, &io);
        if let Err(e) = &result {
            prop_assert!(e.starts_with(&format!("{name}: ")), "error without the name: {e}");
        }
    }
}

/// Functions that look only at their arguments' top level (so an element's mark or
/// unknown-ness stays with the element), or handle marks themselves.
const TOP_LEVEL_ONLY: &[&str] = &[
    "chunklist",
    "coalesce",
    "coalescelist",
    "compact",
    "concat",
    "element",
    "flatten",
    "keys",
    "length",
    "lookup",
    "merge",
    "nonsensitive",
    "one",
    "reverse",
    "sensitive",
    "setproduct",
    "slice",
    "tolist",
    "tomap",
    "toset",
    "values",
    "zipmap",
];

/// Functions the evaluator runs (they only explain that here).
const EVALUATOR_ONLY: &[&str] = &["can", "templatefile", "try"];

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1500), failure_persistence: None, ..ProptestConfig::default() })]

    /// A sensitive argument never gives a result that is not marked (except through
    /// `nonsensitive`, and for elements a structural function leaves alone).
    #[test]
    fn sensitive_arguments_never_leak(
        name in prop::sample::select(all_names()),
        args in prop::collection::vec(val(), 1..4),
        which in 0usize..4,
    ) {
        let io = MemIo::new();
        let mut args = args;
        if name == "bcrypt" {
            args.truncate(1);
            args.push(Val::Number(4.0));
        }
        let i = which % args.len();
        if let Some(a) = args.get_mut(i) {
            *a = a.clone().mark_sensitive();
        }
        let nested_sensitive = args.iter().any(Val::is_sensitive);
        if let Ok(v) = call(name, args, &io) {
            if name != "nonsensitive" {
                prop_assert!(matches!(v, Val::Sensitive(_)), "{name}: unmarked result {v:?}");
            }
            if nested_sensitive && !TOP_LEVEL_ONLY.contains(&name) {
                prop_assert!(v.is_sensitive(), "{name}: unmarked result {v:?}");
            }
        }
    }

    /// An unknown argument gives an unknown result, never an error or a guess.
    #[test]
    fn unknown_arguments_give_unknown_results(
        (name, args) in prop::sample::select(all_names())
            .prop_filter("the evaluator's or mark-handling", |n| {
                !EVALUATOR_ONLY.contains(n)
                    && !["coalesce", "coalescelist", "sensitive", "nonsensitive"].contains(n)
                    && mcpo_sema::lookup(n).is_some_and(|s| s.max_args() != Some(0))
            })
            .prop_flat_map(|name| {
                let (min, max) = mcpo_sema::lookup(name)
                    .map_or((1, 3), |s| (s.min_args().max(1), s.max_args().unwrap_or(4)));
                (Just(name), prop::collection::vec(val(), min..=max.max(min)))
            }),
        which in 0usize..4,
    ) {
        let io = MemIo::new();
        let mut args = args;
        let i = which % args.len();
        if let Some(a) = args.get_mut(i) {
            *a = Val::Unknown;
        }
        let result = call(name, args, &io);
        prop_assert!(
            matches!(&result, Ok(v) if v.unmarked() == &Val::Unknown),
            "{name}: {result:?}"
        );
    }
}
