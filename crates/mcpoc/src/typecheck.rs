//! Wiring for the type checker: finds the workspace root, reads the pulled schemas,
//! `mcpo.lock` and the environment and hands them to the `mcpo-sema` database. No rule
//! lives here.

use mcpo_diagnostics::{Diagnostic, FileId, SourceMap, Sources};
use mcpo_mcp::discovery::Registry;
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use salsa::Setter;
use std::path::{Path, PathBuf};

/// The workspace root: the nearest directory, from `start` up, holding `mcpo.toml` or
/// `.mcpo`; `start` itself when there is none.
pub fn find_root(start: &Path) -> PathBuf {
    let start = if start.as_os_str().is_empty() {
        Path::new(".")
    } else {
        start
    };
    let abs = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    let mut cur: Option<&Path> = Some(&abs);
    while let Some(dir) = cur {
        if dir.join("mcpo.toml").is_file() || dir.join(".mcpo").is_dir() {
            return dir.to_path_buf();
        }
        cur = dir.parent();
    }
    start.to_path_buf()
}

/// `(server, display name, text)` of every `.mcpo/schemas/*.json` under `root`, sorted.
pub fn read_schemas(root: &Path) -> Vec<(String, String, String)> {
    mcpo_schema::read_pulled_schemas(root)
}

/// Name, type and server diagnostics for the loaded files, against what is pulled under
/// the workspace root found from `start`.
pub fn semantic_diagnostics(start: &Path, files: &[FileId], sources: &Sources) -> Vec<Diagnostic> {
    let (db, ws, _) = database(&find_root(start), files, sources);
    mcpo_sema::check_semantics(&db, ws)
}

/// The checker's database for the loaded files: the schemas and `mcpo.lock` pulled under
/// `root`, the process's environment, and, when a `server` block names no transport,
/// what discovery finds (returned too: the deployment path starts servers from it).
pub fn database(
    root: &Path,
    files: &[FileId],
    sources: &Sources,
) -> (Database, Workspace, Registry) {
    let (mut db, ws) = sources_database(files, sources);
    let schemas: Vec<SchemaFile> = read_schemas(root)
        .into_iter()
        .map(|(server, name, text)| SchemaFile::new(&db, server, name, text))
        .collect();
    ws.set_schemas(&mut db).to(schemas);
    let decls = mcpo_sema::servers(&db, ws);
    if decls.is_empty() {
        return (db, ws, Registry::default());
    }
    let registry = crate::workspace::discover_if_needed(decls, root);
    ws.set_lock(&mut db).to(read_lock(root));
    ws.set_discovered(&mut db)
        .to(crate::workspace::identities(&registry));
    (db, ws, registry)
}

/// A database holding the loaded files and the process's environment (no schemas).
pub fn sources_database(files: &[FileId], sources: &Sources) -> (Database, Workspace) {
    let db = Database::default();
    let inputs: Vec<SourceFile> = files
        .iter()
        .map(|id| {
            SourceFile::new(
                &db,
                *id,
                sources.name(*id).to_string(),
                sources.text(*id).to_string(),
            )
        })
        .collect();
    let ws = Workspace::builder(inputs, Vec::new())
        .env(mcpo_sema::EnvVars::from_os(std::env::vars_os()))
        .new(&db);
    (db, ws)
}

/// The text of `mcpo.lock` under `root`; `None` when there is none. An unreadable file is
/// reported here (the checker then says the lock is missing).
fn read_lock(root: &Path) -> Option<String> {
    let store = mcpo_schema::DiskFiles::new(root);
    match mcpo_schema::Files::read(&store, Path::new(mcpo_schema::LOCK_FILE)) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "warning: cannot read `{}`: {}",
                mcpo_schema::LOCK_FILE,
                crate::files::io_reason(&e)
            );
            None
        }
    }
}

/// A JSON deployment template as formatted `.mcpo` source, against the schemas pulled
/// under the workspace root found from `start`.
pub fn template_source(start: &Path, json: &str) -> Result<String, String> {
    let root = find_root(start);
    let db = Database::default();
    let schemas: Vec<SchemaFile> = read_schemas(&root)
        .into_iter()
        .map(|(server, name, text)| SchemaFile::new(&db, server, name, text))
        .collect();
    let ws = Workspace::new(&db, Vec::new(), schemas);
    let source = mcpo_sema::convert_template(&db, ws, json)?;
    let parsed = mcpo_syntax::parse(&source, FileId(0));
    Ok(if parsed.diagnostics.is_empty() {
        mcpo_fmt::format(&source, &parsed.file)
    } else {
        source
    })
}

/// Adds to a diagnostic found in a template's converted source a label on the template
/// itself: the `"name"` of the resource whose block holds the problem.
pub fn point_into_template(d: &mut Diagnostic, sources: &Sources, json: FileId) {
    let text = sources.text(d.file);
    let at = (d.span.start as usize).min(text.len());
    // The enclosing top-level block starts at the last line before `at` that begins
    // with a block keyword.
    let head = text
        .get(..at)
        .unwrap_or("")
        .lines()
        .rev()
        .find(|l| l.starts_with("resource ") || l.starts_with("data "));
    let Some(name) = head.and_then(|h| h.split('"').nth(3)) else {
        return;
    };
    let json_text = sources.text(json);
    let needle = format!("\"{name}\"");
    let mut from = 0;
    while let Some(i) = json_text.get(from..).and_then(|t| t.find(&needle)) {
        let pos = from + i;
        let before = json_text.get(..pos).unwrap_or("").trim_end();
        if before.ends_with(':')
            && before
                .trim_end_matches(':')
                .trim_end()
                .ends_with("\"name\"")
        {
            let span = mcpo_diagnostics::Span::new(pos, pos + needle.len());
            let label = format!("in the template's resource `{name}`");
            *d = d.clone().with_label_in(json, span, label);
            return;
        }
        from = pos + needle.len();
    }
}

/// `mcpoc convert`: a JSON deployment template to formatted `.mcpo` source.
pub fn convert(file: &Path, to_stdout: bool) -> u8 {
    let json = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", file.display());
            return crate::EXIT_USAGE;
        }
    };
    let start = file.parent().unwrap_or(Path::new("."));
    let text = match template_source(start, &json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: `{}` is not a deployment template: {e}",
                file.display()
            );
            return crate::EXIT_ERRORS;
        }
    };
    if to_stdout {
        print!("{text}");
        return crate::EXIT_OK;
    }
    let name = file.to_string_lossy();
    let out = PathBuf::from(
        name.strip_suffix(".json")
            .map_or_else(|| format!("{name}.mcpo"), str::to_string),
    );
    match std::fs::write(&out, text) {
        Ok(()) => {
            println!("{}", out.display());
            crate::EXIT_OK
        }
        Err(e) => {
            eprintln!("error: cannot write `{}`: {e}", out.display());
            crate::EXIT_USAGE
        }
    }
}
