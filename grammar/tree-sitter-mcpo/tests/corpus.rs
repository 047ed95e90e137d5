//! The grammar's tests without the tree-sitter CLI: the corpus cases in test/corpus/*.txt
//! (the CLI's format), the highlight query, and every example and HCL corpus file parsing
//! with no ERROR or MISSING node.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tree_sitter::{Node, Parser, Query, Tree};

fn parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_mcpo::LANGUAGE.into())
        .expect("the generated parser's ABI is supported by the tree-sitter runtime");
    parser
}

fn parse(parser: &mut Parser, text: &str) -> Tree {
    parser
        .parse(text, None)
        .expect("no timeout or cancellation is set")
}

/// The tree as the CLI prints it in corpus files: named nodes only, no fields.
fn sexp(node: Node<'_>, out: &mut String) {
    if node.is_missing() {
        let _ = write!(out, "(MISSING {})", node.kind());
        return;
    }
    out.push('(');
    out.push_str(if node.is_error() {
        "ERROR"
    } else {
        node.kind()
    });
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        out.push(' ');
        sexp(child, out);
    }
    out.push(')');
}

fn normalize(expected: &str) -> String {
    // Drop field names (`name: (...)`) and whitespace differences.
    let mut out = String::new();
    for token in expected
        .replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .filter(|t| !t.ends_with(':'))
    {
        out.push_str(token);
        out.push(' ');
    }
    out.replace("( ", "(").replace(" )", ")").trim().to_owned()
}

struct Case {
    file: String,
    name: String,
    input: String,
    expected: String,
}

/// Reads the CLI's corpus format: a `===` header around the name, the input, a `---`
/// line, the expected tree.
fn read_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).expect("corpus file is readable");
    let is_rule = |line: &str, c: char| line.len() >= 3 && line.chars().all(|x| x == c);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut cases = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_rule(lines[i], '=') {
            i += 1;
            continue;
        }
        let name = lines[i + 1].trim().to_owned();
        i += 3; // header, name, header
        let start = i;
        while !is_rule(lines[i], '-') {
            i += 1;
        }
        let input = lines[start..i].join("\n");
        i += 1;
        let start = i;
        while i < lines.len() && !is_rule(lines[i], '=') {
            i += 1;
        }
        let expected = lines[start..i].join("\n");
        // The CLI strips the blank line after the header and before the `---`.
        let input = input.strip_prefix('\n').unwrap_or(&input);
        let input = input.strip_suffix('\n').unwrap_or(input);
        cases.push(Case {
            file: path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            name,
            input: format!("{input}\n"),
            expected: normalize(&expected),
        });
    }
    cases
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn corpus_cases_parse_to_their_expected_trees() {
    let mut parser = parser();
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join("test/corpus"))
        .expect("test/corpus exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        for case in read_cases(file) {
            count += 1;
            let tree = parse(&mut parser, &case.input);
            let mut actual = String::new();
            sexp(tree.root_node(), &mut actual);
            if actual != case.expected {
                failures.push(format!(
                    "{} / {}:\n  expected {}\n  actual   {}",
                    case.file, case.name, case.expected, actual
                ));
            }
        }
    }
    println!("{count} corpus cases in {} files", files.len());
    assert!(count >= 20, "only {count} corpus cases found");
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_queries_compile() {
    let language = tree_sitter_mcpo::LANGUAGE.into();
    let query =
        Query::new(&language, tree_sitter_mcpo::HIGHLIGHTS_QUERY).expect("highlights.scm is valid");
    let names = query.capture_names();
    let folds = Query::new(&language, tree_sitter_mcpo::FOLDS_QUERY).expect("folds.scm is valid");
    assert_eq!(folds.capture_names(), &["fold"]);
    for expected in [
        "keyword",
        "type",
        "property",
        "string",
        "comment",
        "function.call",
        "variable.builtin",
    ] {
        assert!(names.contains(&expected), "no @{expected} capture");
    }
}

/// Every node with an error, as `line:column kind`, for the message.
fn errors(node: Node<'_>, out: &mut Vec<String>) {
    if node.is_error() || node.is_missing() {
        let p = node.start_position();
        out.push(format!(
            "{}:{} {}",
            p.row + 1,
            p.column + 1,
            if node.is_missing() {
                "MISSING"
            } else {
                "ERROR"
            }
        ));
        return;
    }
    if node.has_error() {
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            errors(child, out);
        }
    }
}

fn files_with(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_with(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn assert_all_parse(files: &[PathBuf]) {
    let mut parser = parser();
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("file is readable UTF-8");
        let tree = parse(&mut parser, &text);
        let mut found = Vec::new();
        errors(tree.root_node(), &mut found);
        if !found.is_empty() {
            failures.push(format!("{}: {}", file.display(), found.join(", ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files have errors:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_example_parses_without_errors() {
    let mut files = Vec::new();
    files_with(&manifest_dir().join("../../examples"), "mcpo", &mut files);
    files_with(&manifest_dir().join("../../stdlib"), "mcpo", &mut files);
    assert!(
        files.len() >= 4,
        "only {} .mcpo files found under examples/ and stdlib/",
        files.len()
    );
    assert_all_parse(&files);
    println!("{} .mcpo files parse", files.len());
}

#[test]
fn every_hcl_corpus_file_parses_without_errors() {
    let dir = match std::env::var_os("MCPO_HCL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => manifest_dir().join("../../../shared/corpus/hcl"),
    };
    if !dir.is_dir() {
        // CI sets MCPO_REQUIRE_CORPUS=1: there a missing corpus is a failure, not a skip.
        assert!(
            std::env::var("MCPO_REQUIRE_CORPUS").as_deref() != Ok("1"),
            "no HCL corpus at {} (MCPO_REQUIRE_CORPUS=1 requires it; set MCPO_HCL_CORPUS)",
            dir.display()
        );
        println!(
            "skipped: no HCL corpus at {} (set MCPO_HCL_CORPUS to the directory of .tf files)",
            dir.display()
        );
        return;
    }
    let mut files = Vec::new();
    files_with(&dir, "tf", &mut files);
    let tf = files.len();
    // HCL's spec suite: a case's .t file lists the diagnostics it expects; the valid ones
    // (no diagnostics) must parse cleanly, the others are meant to fail.
    let mut spec = Vec::new();
    files_with(&dir, "hcl", &mut spec);
    files.extend(spec.into_iter().filter(|hcl| {
        std::fs::read_to_string(hcl.with_extension("t")).is_ok_and(|t| !t.contains("diagnostics"))
    }));
    assert!(tf > 0, "no .tf files under {}", dir.display());
    assert_all_parse(&files);
    println!(
        "{} HCL corpus files parse ({tf} .tf, {} valid spec-suite cases)",
        files.len(),
        files.len() - tf
    );
}

#[test]
fn a_broken_file_has_errors() {
    // The zero-error checks above mean something only if errors are found at all.
    let mut parser = parser();
    for text in [
        "a = = 1\n",
        "block {\n",
        "a = \"${x\"\n",
        "a = <<EOT\nno end\n",
    ] {
        let tree = parse(&mut parser, text);
        let mut found = Vec::new();
        errors(tree.root_node(), &mut found);
        assert!(!found.is_empty(), "no error found in {text:?}");
    }
}
