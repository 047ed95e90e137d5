//! A short mutation-fuzz pass over the examples and the test corpora: a few thousand
//! mutated files through parse, fmt, check and plan, with the properties each promises.
//!
//! Deterministic: the seed is printed and `MCPO_FUZZ_SEED` sets it, `MCPO_FUZZ_CASES`
//! sets the number of cases (default 4,000; the pass also stops after 40 s, so that it
//! stays well under a minute on a slow machine, and says how many cases it ran). Each
//! input is written to `target/reliability/last-input.mcpo` before it runs, so one that
//! kills the process (a stack overflow aborts) can be replayed; a panic is reported with
//! its seed and case number, and the input is kept in `target/reliability/`.

use mcpo_diagnostics::FileId;
use mcpo_plan::{Io, PlanInputs, PlanMode};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use mcpo_state::State;
use mcpo_syntax::ast::MAX_TREE_DEPTH;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.mcpo` file of the examples and the test corpora, and the HCL corpus's `.tf`
/// files when it is there.
fn seeds() -> Vec<String> {
    fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                walk(&p, exts, out);
            } else if p.extension().is_some_and(|e| exts.iter().any(|x| e == *x)) {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("examples"), &["mcpo"], &mut files);
    walk(&repo().join("tests"), &["mcpo"], &mut files);
    if let Some(corpus) = mcpo_test_support::hcl_corpus("mutation") {
        walk(&corpus, &["tf"], &mut files);
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter(|t| t.len() < 64 << 10)
        .collect()
}

/// xorshift64*: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

/// Tokens and fragments that tend to reach the corners of the grammar.
const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "${",
    "%{",
    "%{ if x }",
    "%{ endif }",
    "%{ for v in x }",
    "%{ endfor }",
    "~",
    "<<EOT\n",
    "\nEOT\n",
    "<<-X\n",
    "\n",
    "=",
    ",",
    "#",
    "//",
    "/*",
    "*/",
    "\\",
    ".",
    "...",
    "?",
    ":",
    "=>",
    "[*]",
    ".*",
    "[0]",
    ".0",
    "for ",
    "in ",
    "if ",
    "é",
    "😀",
    "\u{feff}",
    "\r",
    "\t",
    "0",
    "1e",
    "-1",
    "::",
    "!",
    "-",
    "+",
    "*",
    "/",
    "%",
    "&&",
    "||",
    "==",
    "<=",
    "null",
    "true",
    "var.",
    "local.",
    "each.",
    "count.index",
    "self.",
    "f(",
    "x",
    "resource \"aws.vpc\" \"v\" {\n",
    "locals {\n",
    "variable \"v\" {\n",
    "output \"o\" {\n",
    "value = ",
    " = ",
    "length(",
    "jsonencode(",
    "range(",
    "try(",
    "\0",
];

fn floor(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// One to four random edits of `text`, with pieces of `other` spliced in sometimes.
fn mutate(rng: &mut Rng, text: &str, other: &str) -> String {
    let mut t = text.to_string();
    for _ in 0..1 + rng.below(4) {
        let at = floor(&t, rng.below(t.len() + 1));
        match rng.below(6) {
            0 => t.insert_str(at, PIECES[rng.below(PIECES.len())]),
            1 => {
                let end = floor(&t, at + 1 + rng.below(16));
                t.replace_range(at..end, "");
            }
            2 => {
                let end = floor(&t, at + 1 + rng.below(4));
                t.replace_range(at..end, PIECES[rng.below(PIECES.len())]);
            }
            3 => {
                // Repeat a stretch: nesting and long chains.
                let end = floor(&t, at + 1 + rng.below(12));
                let piece = t.get(at..end).unwrap_or("").repeat(1 + rng.below(40));
                t.insert_str(end, &piece);
            }
            4 => {
                let from = floor(other, rng.below(other.len() + 1));
                let to = floor(other, from + rng.below(200));
                t.insert_str(at, other.get(from..to).unwrap_or(""));
            }
            _ => t.truncate(at),
        }
    }
    t
}

struct NoIo;

impl Io for NoIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        Err(format!("{path}: no files here"))
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("{path}: no files here"))
    }
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
    fn now_rfc3339(&self) -> String {
        "2026-11-24T12:00:00Z".into()
    }
}

/// Runs one input through every stage and checks what each promises.
fn run_one(text: &str, schemas: &[(String, String)]) {
    let parsed = mcpo_syntax::parse(text, FileId(0));
    for d in &parsed.diagnostics {
        let (s, e) = (d.span.start as usize, d.span.end as usize);
        assert!(
            s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e),
            "diagnostic span out of bounds: {d:?}"
        );
    }
    assert!(parsed.file.depth() <= MAX_TREE_DEPTH, "tree too deep");
    let clean = !parsed.diagnostics.iter().any(|d| d.is_error());
    if clean {
        let once = mcpo_fmt::format(text, &parsed.file);
        let again = mcpo_syntax::parse(&once, FileId(0));
        assert!(
            !again.diagnostics.iter().any(|d| d.is_error()),
            "formatted output has errors: {:?}\n--- output\n{once}",
            again.diagnostics
        );
        assert!(
            mcpo_fmt::same_meaning(&parsed.file, &again.file),
            "formatting changed the meaning\n--- output\n{once}"
        );
        assert_eq!(
            mcpo_fmt::format(&once, &again.file),
            once,
            "formatting is not idempotent"
        );
    }
    let db = Database::default();
    let file = SourceFile::new(&db, FileId(0), "main.mcpo".into(), text.to_string());
    let schemas = schemas
        .iter()
        .map(|(server, json)| {
            SchemaFile::new(
                &db,
                server.clone(),
                format!(".mcpo/schemas/{server}.json"),
                json.clone(),
            )
        })
        .collect();
    let ws = Workspace::new(&db, vec![file], schemas);
    let diagnostics = mcpo_sema::check(&db, ws);
    if clean && !diagnostics.iter().any(|d| d.is_error()) {
        let state = State::new("mutation");
        let inputs = PlanInputs {
            variables: Default::default(),
            state: &state,
            reader: None,
            io: &NoIo,
            mode: PlanMode::Normal,
            sources: Vec::new(),
        };
        let _ = mcpo_plan::plan(&db, ws, &inputs);
    }
}

/// Before: the parser, formatter and checker were fuzzed only one at a time, by hand, and
/// the deep-nesting crash (case 1) and the formatter's comment drift (case 6) were found
/// by a person. After: every run of the suite pushes a few thousand mutations of the
/// corpora through parse, fmt, check and plan, checking spans, the depth bound, that
/// formatting keeps meaning and is a fixed point, and that nothing panics.
#[test]
fn mutated_corpora_through_parse_fmt_check_and_plan() {
    let seed = std::env::var("MCPO_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0x6D63_706F_2026);
    let cases = std::env::var("MCPO_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(4_000);
    let budget = Duration::from_secs(40);
    eprintln!("mutation pass: MCPO_FUZZ_SEED={seed} MCPO_FUZZ_CASES={cases}");
    let seeds = seeds();
    assert!(seeds.len() > 50, "too few seed files: {}", seeds.len());
    let schema_dir = repo().join("tests/check/.mcpo/schemas");
    let schemas: Vec<(String, String)> = ["aws", "docker", "kubernetes", "opnsense"]
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(schema_dir.join(format!("{s}.json")))
                .unwrap_or_else(|e| panic!("{s}.json: {e}"));
            (s.to_string(), text)
        })
        .collect();
    let out = repo().join("target/reliability");
    let _ = std::fs::create_dir_all(&out);
    let last = out.join("last-input.mcpo");
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut done = 0;
    for case in 0..cases {
        if started.elapsed() > budget {
            break;
        }
        let text = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, text, other);
        let _ = std::fs::write(&last, &input);
        let outcome = std::panic::catch_unwind(|| run_one(&input, &schemas));
        if let Err(panic) = outcome {
            let kept = out.join(format!("failure-{seed}-{case}.mcpo"));
            let _ = std::fs::write(&kept, &input);
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "case {case} of seed {seed} failed (input kept in {}): {what}",
                kept.display()
            );
        }
        done += 1;
    }
    eprintln!(
        "mutation pass: {done} cases in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(done >= cases.min(200), "only {done} cases ran");
}
