//! The checker's fixture corpus: every `tests/check/*.mcpo` file is one case, every
//! directory under `tests/check/` (but `snapshots`) a whole-workspace case. They are checked
//! against the twins' pulled schemas in `tests/check/.mcpo/schemas/` (plus a directory
//! case's own `.mcpo/schemas/`, which override them) and `tests/check/mcpo.lock` (or a
//! directory case's own `mcpo.lock`, which replaces it). A schema file edited by hand
//! must be locked again (its hash is in the lock), else its `server` blocks are E0302.
//!
//! Expected diagnostics are written on the offending line, as in ty's mdtest:
//! `# error[E0103]` or `# warning[W0001]` (several on one line allowed). The codes and
//! lines must match exactly; the rendered diagnostics are an insta snapshot.

use mcpo_diagnostics::{Diagnostic, FileId, LineIndex, Sources, render};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/check")
}

fn schemas_in(dir: &Path, out: &mut BTreeMap<String, (String, String)>) {
    let Ok(rd) = std::fs::read_dir(dir.join(".mcpo/schemas")) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            let server = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            out.insert(
                server.clone(),
                (format!(".mcpo/schemas/{server}.json"), text),
            );
        }
    }
}

/// Expected `(file, line, code)` from the `# error[...]` comments.
fn expectations(sources: &Sources, ids: &[FileId]) -> Vec<(u32, usize, String)> {
    let mut out = Vec::new();
    for id in ids {
        let text = mcpo_diagnostics::SourceMap::text(sources, *id);
        for (n, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(i) = rest.find("error[").or_else(|| rest.find("warning[")) {
                let after = rest.get(i..).unwrap_or("");
                let open = after.find('[').unwrap_or(0);
                let close = after.find(']').unwrap_or(after.len());
                let code = after.get(open + 1..close).unwrap_or("").to_string();
                out.push((id.0, n + 1, code));
                rest = after.get(close..).unwrap_or("");
            }
        }
    }
    out.sort();
    out
}

/// One case: `files` are `(name, text)`; a directory case also gives its root and each
/// file's path, and its modules are loaded as `mcpoc check` loads them (the files of the
/// local module directories its `use` blocks name are the modules', not the workspace's).
fn run_case(
    name: &str,
    files: &[(String, String)],
    dir: Option<(&Path, &[PathBuf])>,
    schemas: &BTreeMap<String, (String, String)>,
    lock: Option<&str>,
    mismatches: &mut Vec<String>,
) {
    let db = Database::default();
    let mut sources = Sources::new();
    let mut inputs = Vec::new();
    let mut ids = Vec::new();
    let mut by_path: BTreeMap<PathBuf, FileId> = BTreeMap::new();
    let module_dirs = dir.map_or_else(Vec::new, |(root, paths)| {
        let all: Vec<(PathBuf, String)> = paths
            .iter()
            .cloned()
            .zip(files.iter().map(|(_, t)| t.clone()))
            .collect();
        mcpo_modules::local_module_dirs(root, &all)
    });
    let mut root_texts = Vec::new();
    for (i, (fname, text)) in files.iter().enumerate() {
        let id = sources.add(fname.clone(), text.clone());
        ids.push(id);
        let path = dir.and_then(|(_, paths)| paths.get(i));
        if let Some(p) = path {
            by_path.insert(p.clone(), id);
            if module_dirs.iter().any(|d| p.starts_with(d)) {
                continue;
            }
        }
        root_texts.push(text.as_str());
        inputs.push(SourceFile::new(&db, id, fname.clone(), text.clone()));
    }
    let schema_inputs: Vec<SchemaFile> = schemas
        .iter()
        .map(|(server, (n, t))| SchemaFile::new(&db, server.clone(), n.clone(), t.clone()))
        .collect();
    let modules = match dir {
        Some((root, _)) => {
            let mut loaded = mcpo_modules::load_modules(root, &root_texts);
            number(&mut loaded, &by_path, &mut sources);
            mcpo_modules::inputs(&db, &loaded, &schema_inputs)
        }
        None => Vec::new(),
    };
    let ws = Workspace::builder(inputs, schema_inputs)
        .lock(lock.map(str::to_string))
        .modules(modules)
        .new(&db);
    let mut diags: Vec<Diagnostic> = mcpo_sema::check(&db, ws);
    mcpo_diagnostics::sort(&mut diags);

    let want = expectations(&sources, &ids);
    let mut got: Vec<(u32, usize, String)> = diags
        .iter()
        .map(|d| {
            let text = mcpo_diagnostics::SourceMap::text(&sources, d.file);
            let line = LineIndex::new(text)
                .line_col(text, d.span.start as usize)
                .line as usize;
            (d.file.0, line, d.code.as_str().to_string())
        })
        .collect();
    got.sort();
    if want != got {
        mismatches.push(format!("{name}:\n  expected {want:?}\n  got      {got:?}"));
    }

    let rendered = render::render(&diags, &sources, render::RenderConfig { color: false });
    let mut snap = String::new();
    for (fname, text) in files {
        let _ = writeln!(snap, "--- {fname} ---\n{text}");
    }
    let _ = writeln!(snap, "--- diagnostics ---\n{rendered}");
    insta::with_settings!({
        snapshot_path => corpus().join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name.to_string(), snap);
    });
}

/// Gives module files the ids of the case's files they are (so expectations written in
/// them are met), others new ones.
fn number(
    modules: &mut [mcpo_modules::LoadedModule],
    by_path: &BTreeMap<PathBuf, FileId>,
    sources: &mut Sources,
) {
    for m in modules {
        for f in &mut m.files {
            f.id = match f.path.as_ref().and_then(|p| by_path.get(p)) {
                Some(id) => *id,
                None => sources.add(f.name.clone(), f.text.clone()),
            };
        }
        number(&mut m.children, by_path, sources);
    }
}

/// The `.mcpo` files under `dir`, subdirectories (modules) included.
fn mcpo_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != ".mcpo") {
                mcpo_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "mcpo") {
            out.push(p);
        }
    }
}

#[test]
fn fixtures() {
    let dir = corpus();
    let mut base = BTreeMap::new();
    schemas_in(&dir, &mut base);
    let base_lock = std::fs::read_to_string(dir.join("mcpo.lock")).ok();
    assert!(
        base.len() >= 4,
        "the twins' schemas are missing from {}",
        dir.display()
    );
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    let mut mismatches = Vec::new();
    let mut cases = 0;
    for path in entries {
        let name = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || name == "snapshots" {
            continue;
        }
        if path.is_dir() {
            let mut schemas = base.clone();
            schemas_in(&path, &mut schemas);
            let mut files: Vec<PathBuf> = Vec::new();
            mcpo_files(&path, &mut files);
            files.sort();
            let texts: Vec<(String, String)> = files
                .iter()
                .map(|p| {
                    let n = p
                        .strip_prefix(&path)
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (
                        format!("{name}/{n}"),
                        std::fs::read_to_string(p).unwrap_or_default(),
                    )
                })
                .collect();
            let lock = std::fs::read_to_string(path.join("mcpo.lock"))
                .ok()
                .or_else(|| base_lock.clone());
            run_case(
                &name,
                &texts,
                Some((&path, &files)),
                &schemas,
                lock.as_deref(),
                &mut mismatches,
            );
            cases += 1;
        } else if path.extension().is_some_and(|e| e == "mcpo") {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            run_case(
                &stem,
                &[(name.clone(), text)],
                None,
                &base,
                base_lock.as_deref(),
                &mut mismatches,
            );
            cases += 1;
        }
    }
    assert!(cases >= 1, "no fixtures in {}", dir.display());
    assert!(
        mismatches.is_empty(),
        "{} case(s) differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
