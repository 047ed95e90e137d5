//! The editor features on fixtures: each `tests/ide/<feature>/<case>.mcpo` is a workspace
//! (files split by `//- name.mcpo` lines, else one file `main.mcpo`) with the cursor
//! marked `$0`, checked against the twins' pulled schemas (`tests/check/.mcpo/schemas`).
//! The result is rendered as text and snapshotted with insta
//! (`tests/ide/snapshots/<feature>__<case>.snap`).

use mcpo_diagnostics::{FileId, Span};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixture loaded into a database: the files, and the cursor's file and offset.
struct Fixture {
    db: Database,
    ws: Workspace,
    files: Vec<SourceFile>,
    cursor: Option<(SourceFile, u32)>,
}

impl Fixture {
    fn load(text: &str) -> Fixture {
        let db = Database::default();
        let mut parts: Vec<(String, String)> = Vec::new();
        for line in text.split_inclusive('\n') {
            if let Some(name) = line.strip_prefix("//- ") {
                parts.push((name.trim().to_string(), String::new()));
            } else {
                if parts.is_empty() {
                    parts.push(("main.mcpo".to_string(), String::new()));
                }
                if let Some(last) = parts.last_mut() {
                    last.1.push_str(line);
                }
            }
        }
        let mut files = Vec::new();
        let mut cursor = None;
        for (i, (name, text)) in parts.into_iter().enumerate() {
            let at = text.find("$0");
            let text = text.replacen("$0", "", 1);
            let f = SourceFile::new(&db, FileId(i as u32), name, text);
            if let Some(at) = at {
                cursor = Some((f, at as u32));
            }
            files.push(f);
        }
        let dir = repo().join("tests/check/.mcpo/schemas");
        let schemas = ["aws", "docker", "kubernetes", "opnsense"]
            .iter()
            .map(|s| {
                let text = std::fs::read_to_string(dir.join(format!("{s}.json")))
                    .expect("read a twin's schema");
                SchemaFile::new(&db, (*s).to_string(), format!("{s}.json"), text)
            })
            .collect();
        let ws = Workspace::new(&db, files.clone(), schemas);
        Fixture {
            db,
            ws,
            files,
            cursor,
        }
    }

    fn cursor(&self) -> (SourceFile, u32) {
        self.cursor.expect("the fixture marks the cursor with $0")
    }

    fn name(&self, id: FileId) -> String {
        mcpo_ide::file_by_id(&self.db, self.ws, id)
            .map(|f| f.name(&self.db).clone())
            .unwrap_or_default()
    }

    /// `file:line:column` and the text at a span.
    fn place(&self, id: FileId, span: Span) -> String {
        let Some(f) = mcpo_ide::file_by_id(&self.db, self.ws, id) else {
            return "?".into();
        };
        let text = f.text(&self.db);
        let lc = mcpo_diagnostics::LineIndex::new(text).line_col(text, span.start as usize);
        format!(
            "{}:{}:{} `{}`",
            f.name(&self.db),
            lc.line,
            lc.column,
            &text[span.range()]
        )
    }
}

/// Runs `render` on every case of `tests/ide/<feature>/` and snapshots the output.
fn each_case(feature: &str, render: impl Fn(&Fixture) -> String) {
    let dir = repo().join("tests/ide").join(feature);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "mcpo"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(repo().join("tests/ide/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for case in cases {
            let text = std::fs::read_to_string(&case).expect("read fixture");
            let fx = Fixture::load(&text);
            let stem = case.file_stem().and_then(|s| s.to_str()).unwrap_or("case");
            let out = format!("{text}\n---\n{}", render(&fx));
            insta::assert_snapshot!(format!("{feature}__{stem}"), out);
        }
    });
}

#[test]
fn hover() {
    each_case("hover", |fx| {
        let (file, at) = fx.cursor();
        match mcpo_ide::hover(&fx.db, fx.ws, file, at) {
            Some(h) => format!(
                "on {}\n\n{}\n",
                fx.place(file.id(&fx.db), h.span),
                h.markdown
            ),
            None => "no hover\n".into(),
        }
    });
}

#[test]
fn completion() {
    each_case("completion", |fx| {
        let (file, at) = fx.cursor();
        let c = mcpo_ide::completions(&fx.db, fx.ws, file, at);
        let mut out = format!("replaces {:?}\n", c.replace);
        for i in c.items.iter().take(40) {
            let _ = writeln!(
                out,
                "{} ({:?}){}",
                i.label,
                i.kind,
                i.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
        if c.items.len() > 40 {
            let _ = writeln!(out, "... {} more", c.items.len() - 40);
        }
        out
    });
}

#[test]
fn definition() {
    each_case("definition", |fx| {
        let (file, at) = fx.cursor();
        match mcpo_ide::definition(&fx.db, fx.ws, file, at) {
            Some(l) => format!("{}\n", fx.place(l.file, l.span)),
            None => "no definition\n".into(),
        }
    });
}

#[test]
fn references() {
    each_case("references", |fx| {
        let (file, at) = fx.cursor();
        mcpo_ide::references(&fx.db, fx.ws, file, at, true)
            .iter()
            .map(|l| format!("{}\n", fx.place(l.file, l.span)))
            .collect()
    });
}

/// The files after applying edits.
fn apply(fx: &Fixture, edits: &[mcpo_ide::TextEdit]) -> String {
    let mut out = String::new();
    for f in &fx.files {
        let mut text = f.text(&fx.db).clone();
        let mut mine: Vec<&mcpo_ide::TextEdit> =
            edits.iter().filter(|e| e.file == f.id(&fx.db)).collect();
        mine.sort_by_key(|e| std::cmp::Reverse(e.span.start));
        for e in mine {
            text.replace_range(e.span.range(), &e.text);
        }
        let _ = write!(out, "//- {}\n{text}", fx.name(f.id(&fx.db)));
    }
    out
}

#[test]
fn rename() {
    each_case("rename", |fx| {
        let (file, at) = fx.cursor();
        let prep = mcpo_ide::prepare_rename(&fx.db, file, at)
            .map(|(s, n)| format!("renaming `{n}` at {s:?}\n"))
            .unwrap_or_default();
        let refused = match mcpo_ide::rename(&fx.db, fx.ws, file, at, "1bad") {
            Err(e) => format!("`1bad` refused: {}\n", e.0),
            Ok(_) => "`1bad` accepted\n".into(),
        };
        match mcpo_ide::rename(&fx.db, fx.ws, file, at, "renamed") {
            Ok(edits) => format!("{prep}{refused}\n{}", apply(fx, &edits)),
            Err(e) => format!("{prep}{refused}error: {}\n", e.0),
        }
    });
}

#[test]
fn actions() {
    each_case("actions", |fx| {
        let mut out = String::new();
        for f in &fx.files {
            let whole = Span::new(0, f.text(&fx.db).len());
            for a in mcpo_ide::code_actions(&fx.db, fx.ws, *f, whole) {
                let _ = write!(
                    out,
                    "== {} (fixes {})\n{}",
                    a.title,
                    a.fixes,
                    apply(fx, &a.edits)
                );
            }
        }
        out
    });
}

#[test]
fn signature() {
    each_case("signature", |fx| {
        let (file, at) = fx.cursor();
        match mcpo_ide::signature_help(&fx.db, fx.ws, file, at) {
            Some(h) => format!(
                "{}\nparams: {:?}\nactive: {}\n",
                h.label, h.params, h.active
            ),
            None => "no signature\n".into(),
        }
    });
}

#[test]
fn tokens() {
    each_case("tokens", |fx| {
        let mut out = String::new();
        for f in &fx.files {
            let text = f.text(&fx.db);
            for t in mcpo_ide::semantic_tokens(&fx.db, *f) {
                let _ = writeln!(out, "{:?} `{}`", t.kind, &text[t.span.range()]);
            }
        }
        out
    });
}

#[test]
fn symbols() {
    each_case("symbols", |fx| {
        let mut out = String::new();
        for f in &fx.files {
            for s in mcpo_ide::document_symbols(&fx.db, *f) {
                let _ = writeln!(
                    out,
                    "{} ({}) name at {}",
                    s.name,
                    s.kind.block_name(),
                    fx.place(f.id(&fx.db), s.name_span)
                );
            }
            for s in mcpo_ide::workspace_symbols(&fx.db, fx.ws, "a", 10) {
                let _ = writeln!(out, "workspace: {}", s.name);
            }
        }
        out
    });
}
