//! Loading and checking a workspace exactly as `mcpoc check` does: its source files and
//! deployment templates, the pulled schemas, the `server` blocks, the checker's
//! diagnostics. Nothing is printed: diagnostics come back with their sources.

use crate::error::{DeployError, Problem};
use crate::files;
use crate::servers;
use mcpo_diagnostics::{Diagnostic, FileId, SourceMap, Sources, Span, codes};
use mcpo_mcp::ServerSpec;
use mcpo_mcp::discovery::Registry;
use mcpo_modules::LoadedModule;
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use salsa::Setter;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A workspace that checks clean, ready to be planned.
pub struct Checked {
    /// The workspace root.
    pub root: PathBuf,
    /// The checker's database holding the files and schemas.
    pub db: Database,
    /// The workspace input.
    pub workspace: Workspace,
    /// The source texts, for rendering diagnostics.
    pub sources: Sources,
    /// `(name, text)` of every source file (templates as the source they convert to), for
    /// saved plans.
    pub texts: Vec<(String, String)>,
    /// The servers the workspace declares, by name (discovered declarations for `server`
    /// blocks without a transport).
    pub servers: BTreeMap<String, ServerSpec>,
    /// Warnings of the check (the workspace has no errors).
    pub warnings: Vec<Diagnostic>,
    /// Things worth saying that are not diagnostics (an unreadable `mcpo.lock`).
    pub notes: Vec<String>,
}

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

/// The workspace root for a list of paths: the first directory named, or the directory of
/// the first file.
pub fn root_of(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::from(".");
    };
    if first.is_dir() {
        first.clone()
    } else {
        match first.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// The checker's database for `files` of `sources`: the schemas and `mcpo.lock` pulled
/// under `root`, the process's environment, and, when a `server` block names no transport,
/// what discovery finds (returned too: the session starts servers from it). Problems
/// reading `mcpo.lock` go to `notes`.
pub fn database(
    root: &Path,
    files: &[FileId],
    sources: &Sources,
    modules: &[LoadedModule],
    notes: &mut Vec<String>,
) -> (Database, Workspace, Registry) {
    let (mut db, ws) = sources_database(files, sources);
    let schemas: Vec<SchemaFile> = mcpo_schema::read_pulled_schemas(root)
        .into_iter()
        .map(|(server, name, text)| SchemaFile::new(&db, server, name, text))
        .collect();
    let module_inputs = mcpo_modules::inputs(&db, modules, &schemas);
    ws.set_schemas(&mut db).to(schemas);
    ws.set_modules(&mut db).to(module_inputs);
    // File by file, so that a large workspace's syntax trees are not all in memory at once.
    mcpo_sema::prepare(&mut db, ws);
    let decls = mcpo_sema::servers(&db, ws);
    if decls.is_empty() {
        return (db, ws, Registry::default());
    }
    let registry = servers::discover_if_needed(decls, root);
    ws.set_lock(&mut db).to(read_lock(root, notes));
    ws.set_discovered(&mut db)
        .to(servers::identities(&registry));
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
/// noted (the checker then says the lock is missing).
fn read_lock(root: &Path, notes: &mut Vec<String>) -> Option<String> {
    let store = mcpo_schema::DiskFiles::new(root);
    match mcpo_schema::Files::read(&store, Path::new(mcpo_schema::LOCK_FILE)) {
        Ok(text) => text,
        Err(e) => {
            notes.push(format!(
                "cannot read `{}`: {}",
                mcpo_schema::LOCK_FILE,
                files::io_reason(&e)
            ));
            None
        }
    }
}

/// A JSON deployment template as formatted `.mcpo` source, against the schemas pulled
/// under the workspace root found from `start`.
pub fn template_source(start: &Path, json: &str) -> Result<String, String> {
    let root = find_root(start);
    let db = Database::default();
    let schemas: Vec<SchemaFile> = mcpo_schema::read_pulled_schemas(&root)
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
            let span = Span::new(pos, pos + needle.len());
            let label = format!("in the template's resource `{name}`");
            *d = d.clone().with_label_in(json, span, label);
            return;
        }
        from = pos + needle.len();
    }
}

/// What `mcpoc check` found under some paths.
pub struct CheckReport {
    /// Every file read, and the `.mcpo` source of converted templates.
    pub sources: Sources,
    /// The `.mcpo` (and `.tf`, `.hcl`) files checked, with their ids in `sources` (not the
    /// deployment templates).
    pub files: Vec<(PathBuf, FileId)>,
    /// The diagnostics, in any order.
    pub diagnostics: Vec<Diagnostic>,
    /// Things worth saying that are not diagnostics (an unreadable `mcpo.lock`).
    pub notes: Vec<String>,
}

/// What `mcpoc check` reports for `paths`: every diagnostic (unsorted) and the sources
/// they point into. Deployment templates are checked as the source they convert to, with
/// a label on the template. With `syntax_only`, only syntax. A file named in `overrides`
/// is checked with that text instead of what is on disk (to check edits before writing
/// them); one that is not on disk is checked as if it were.
pub fn check_paths(
    paths: &[PathBuf],
    syntax_only: bool,
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<CheckReport, Problem> {
    let found = files::collect(paths).map_err(|e| Problem::uncoded(e.0).usage())?;
    let root = root_of(paths);
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let mut loaded =
        files::load(&found, &mut sources, &mut diags).map_err(|e| Problem::uncoded(e).usage())?;
    apply_overrides(&mut loaded, &mut sources, overrides);
    let modules = modules_of(&root, &mut loaded, &mut sources);
    let checked_files: Vec<(PathBuf, FileId)> = loaded
        .iter()
        .filter(|f| f.utf8 && !files::is_template(&f.path))
        .map(|f| (f.path.clone(), f.id))
        .collect();
    let (ids, converted) = sources_of(&root, &loaded, &mut sources, &mut diags);
    let mut notes = Vec::new();
    if syntax_only {
        for id in &ids {
            diags.extend(mcpo_syntax::parse(sources.text(*id), *id).diagnostics);
        }
    } else {
        let (mut db, ws, _) = database(&find_root(&root), &ids, &sources, &modules, &mut notes);
        diags.extend(mcpo_sema::check_batch(&mut db, ws));
    }
    for d in &mut diags {
        if let Some((_, json)) = converted.iter().find(|(id, _)| *id == d.file) {
            point_into_template(d, &sources, *json);
        }
    }
    Ok(CheckReport {
        sources,
        files: checked_files,
        diagnostics: diags,
        notes,
    })
}

/// The files to check: sources as they are, templates as the source they convert to (or
/// E0014). Returns the ids to check and `(converted, template)` pairs.
fn sources_of(
    root: &Path,
    loaded: &[files::Loaded],
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<FileId>, Vec<(FileId, FileId)>) {
    let mut ids = Vec::with_capacity(loaded.len());
    let mut converted = Vec::new();
    for f in loaded {
        if !files::is_template(&f.path) {
            ids.push(f.id);
            continue;
        }
        let json = sources.text(f.id).to_string();
        match template_source(root, &json) {
            Ok(text) => {
                let name = format!("{} (as .mcpo)", sources.name(f.id));
                let id = sources.add(name, text);
                ids.push(id);
                converted.push((id, f.id));
            }
            Err(e) => diags.push(
                Diagnostic::error(
                    codes::E0014,
                    f.id,
                    Span::new(0, 0),
                    "invalid deployment template",
                )
                .with_primary_label(e),
            ),
        }
    }
    (ids, converted)
}

/// Loads and checks the workspace at `root` as `mcpoc check` does. With errors: the
/// diagnostics (warnings too) and E0630.
pub fn load(root: &Path) -> Result<Checked, DeployError> {
    load_with(root, &BTreeMap::new())
}

/// Loads and checks the workspace at `root` as [`load`] does, with the files named in
/// `overrides` (paths as `root.join(name)`) holding the given texts instead of what is on
/// disk; a file that is not on disk is added. So an edit can be checked and planned before
/// it is written.
pub fn load_with(
    root: &Path,
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<Checked, DeployError> {
    let found = files::collect(&[root.to_path_buf()]).map_err(|e| Problem::uncoded(e.0).usage())?;
    if found.is_empty() && overrides.is_empty() {
        return Err(Problem::new(
            codes::E0630,
            format!("no .mcpo files under `{}`", root.display()),
        )
        .help("run the command in a workspace directory, or name one with --dir")
        .usage()
        .into());
    }
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let mut loaded =
        files::load(&found, &mut sources, &mut diags).map_err(|e| Problem::uncoded(e).usage())?;
    apply_overrides(&mut loaded, &mut sources, overrides);
    let modules = modules_of(root, &mut loaded, &mut sources);
    // Deployment templates (`*.mcpo.json`) are planned as the source they convert to.
    let (ids, _) = sources_of(root, &loaded, &mut sources, &mut diags);
    check_loaded(root, sources, ids, modules, diags)
}

/// The modules the loaded files' `use` blocks name; the files of local module
/// directories leave `loaded` (they are the module's, with names of its own).
fn modules_of(
    root: &Path,
    loaded: &mut Vec<files::Loaded>,
    sources: &mut Sources,
) -> Vec<LoadedModule> {
    let all: Vec<(PathBuf, String)> = loaded
        .iter()
        .filter(|f| !files::is_template(&f.path))
        .map(|f| (f.path.clone(), sources.text(f.id).to_string()))
        .collect();
    let dirs = mcpo_modules::local_module_dirs(root, &all);
    loaded.retain(|f| !dirs.iter().any(|d| f.path.starts_with(d)));
    let texts: Vec<&str> = loaded
        .iter()
        .filter(|f| !files::is_template(&f.path))
        .map(|f| sources.text(f.id))
        .collect();
    let mut modules = mcpo_modules::load_modules(root, &texts);
    mcpo_modules::register(&mut modules, sources);
    modules
}

/// Replaces the texts of the loaded files named in `overrides` and adds the ones that are
/// not loaded (sorted with the others by path).
pub(crate) fn apply_overrides(
    loaded: &mut Vec<files::Loaded>,
    sources: &mut Sources,
    overrides: &BTreeMap<PathBuf, String>,
) {
    for (path, text) in overrides {
        match loaded.iter_mut().find(|f| &f.path == path) {
            Some(file) => {
                file.id = sources.add(sources.name(file.id).to_string(), text.clone());
                file.utf8 = true;
            }
            None => loaded.push(files::Loaded {
                path: path.clone(),
                id: sources.add(files::display_name(path), text.clone()),
                utf8: true,
            }),
        }
    }
    loaded.sort_by(|a, b| a.path.cmp(&b.path));
}

/// Checks a workspace given as `(name, text)` pairs (the sources embedded in a saved
/// plan), with the schemas pulled under `root`.
pub fn load_texts(root: &Path, texts: Vec<(String, String)>) -> Result<Checked, DeployError> {
    let mut sources = Sources::new();
    let ids: Vec<FileId> = texts
        .into_iter()
        .map(|(name, text)| sources.add(name, text))
        .collect();
    let texts: Vec<&str> = ids.iter().map(|id| sources.text(*id)).collect();
    let mut modules = mcpo_modules::load_modules(root, &texts);
    mcpo_modules::register(&mut modules, &mut sources);
    check_loaded(root, sources, ids, modules, Vec::new())
}

fn check_loaded(
    root: &Path,
    sources: Sources,
    ids: Vec<FileId>,
    modules: Vec<LoadedModule>,
    mut diags: Vec<Diagnostic>,
) -> Result<Checked, DeployError> {
    let mut notes = Vec::new();
    let (mut db, workspace, registry) = database(root, &ids, &sources, &modules, &mut notes);
    let specs = servers::server_specs(
        mcpo_sema::servers(&db, workspace),
        &registry,
        &sources,
        root,
    );
    diags.extend(specs.diagnostics());
    diags.extend(mcpo_sema::check_batch(&mut db, workspace));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(DeployError::Diagnostics {
            diagnostics: diags,
            sources,
            then: Some(
                Problem::new(
                    codes::E0630,
                    "the workspace has errors (above); nothing was planned or changed",
                )
                .help("fix them (`mcpoc check` shows the same list), then run the command again"),
            ),
        });
    }
    let texts = ids
        .iter()
        .map(|id| (sources.name(*id).to_string(), sources.text(*id).to_string()))
        .collect();
    Ok(Checked {
        root: root.to_path_buf(),
        db,
        workspace,
        sources,
        texts,
        servers: specs.by_name(),
        warnings: diags,
        notes,
    })
}

/// `mcpoc get`: fetches the git and registry modules the workspace at `root` names (and
/// the modules they name) into `.mcpo/modules/`, and pins them in `mcpo.lock`.
pub fn get_modules(
    root: &Path,
    opts: mcpo_modules::fetch::GetOptions,
) -> Result<Vec<mcpo_modules::fetch::Got>, Vec<String>> {
    let found = files::collect(&[root.to_path_buf()]).map_err(|e| vec![e.0])?;
    let mut all: Vec<(PathBuf, String)> = Vec::new();
    for path in found.iter().filter(|p| !files::is_template(p)) {
        match std::fs::read_to_string(path) {
            Ok(text) => all.push((path.clone(), text)),
            Err(e) => {
                return Err(vec![format!(
                    "cannot read `{}`: {}",
                    path.display(),
                    files::io_reason(&e)
                )]);
            }
        }
    }
    let dirs = mcpo_modules::local_module_dirs(root, &all);
    let texts: Vec<&str> = all
        .iter()
        .filter(|(p, _)| !dirs.iter().any(|d| p.starts_with(d)))
        .map(|(_, t)| t.as_str())
        .collect();
    mcpo_modules::fetch::get(root, &texts, opts)
}
