//! The modules a workspace's `use` blocks name, read from the standard library, local
//! directories and the module cache (never the network), and the checker's inputs made
//! from them.
//!
//! A front end (`mcpo-deploy`'s loader, the language server's host) calls
//! [`local_module_dirs`] to keep local modules' files out of the workspace's own (their
//! pattern names are theirs), [`load_modules`] to read every module (the language server
//! [`load_modules_with`] the texts of the documents it holds), [`register`] to give their
//! files ids in its source map, and [`inputs`] once the workspace's schemas are known.

use crate::source::Source;
use crate::stdlib;
use mcpo_diagnostics::{FileId, Sources};
use mcpo_schema::Lockfile;
use mcpo_sema::{Database, Module, SchemaFile, SourceFile, Workspace};
use mcpo_syntax::ast::{Block, BodyItem};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Modules may use modules this deep at most (a module that uses itself stops here).
const MAX_DEPTH: usize = 16;

/// One file of a loaded module.
#[derive(Debug, Clone)]
pub struct ModuleFile {
    /// Its display name (`stdlib/iot_edge/main.mcpo`, `modules/web/main.mcpo`).
    pub name: String,
    /// Its text.
    pub text: String,
    /// Where it is on disk (the path as found); `None` for the standard library's.
    pub path: Option<PathBuf>,
    /// Its id in the front end's source map, once [`register`]ed.
    pub id: FileId,
}

/// The `.mcpo` files a front end holds for a directory, `(path, text)` sorted by path,
/// instead of what is on disk (the editor's open documents); `None`: read the disk.
pub type Overlay<'a> = &'a dyn Fn(&Path) -> Option<Vec<(PathBuf, String)>>;

/// A module as loaded for one link.
#[derive(Debug, Clone)]
pub struct LoadedModule {
    /// The link the `use` blocks that name it compute ([`mcpo_sema::use_link`]).
    pub link: String,
    /// Where it came from, for messages.
    pub origin: String,
    /// The `servers` mapping of the `use` (the pattern's name -> the user's).
    pub servers: BTreeMap<String, String>,
    /// Its `.mcpo` files.
    pub files: Vec<ModuleFile>,
    /// Why it could not be loaded.
    pub problem: Option<String>,
    /// The modules its own `use` blocks name.
    pub children: Vec<LoadedModule>,
}

/// Where a module's files are, for resolving the local sources it names.
#[derive(Debug, Clone)]
enum Base {
    /// A directory on disk (the workspace root, a local module, a cached module).
    Dir(PathBuf),
    /// A module of the standard library.
    Stdlib(String),
}

/// What a `use` block names.
pub(crate) struct UseRef {
    /// Its link ([`mcpo_sema::use_link`]).
    pub link: String,
    /// Its `source` as written.
    pub source: String,
    /// Its `servers` mapping.
    pub servers: BTreeMap<String, String>,
}

/// The `use` blocks of a file's text (top level and inside patterns) that name a
/// `source`, each link once.
pub(crate) fn uses_of(text: &str, out: &mut Vec<UseRef>) {
    let parsed = mcpo_syntax::parse(text, FileId(0));
    let mut blocks: Vec<&Block> = Vec::new();
    for item in &parsed.file.body.items {
        let BodyItem::Block(b) = item else { continue };
        match b.ty.name.as_str() {
            "use" => blocks.push(b),
            "pattern" => blocks.extend(b.body.items.iter().filter_map(|i| match i {
                BodyItem::Block(inner) if inner.ty.name == "use" => Some(inner),
                _ => None,
            })),
            _ => {}
        }
    }
    for b in blocks {
        let Some(link) = mcpo_sema::use_link(b) else {
            continue;
        };
        if out.iter().any(|u| u.link == link) {
            continue;
        }
        let source = match b.body.items.iter().find_map(|i| match i {
            BodyItem::Attribute(a) if a.name.name == "source" => Some(&a.value),
            _ => None,
        }) {
            Some(e) => match &e.kind {
                mcpo_syntax::ast::ExprKind::Template(t) => t.as_literal().unwrap_or_default(),
                _ => continue,
            },
            None => continue,
        };
        out.push(UseRef {
            link,
            source,
            servers: mcpo_sema::use_servers(b).unwrap_or_default(),
        });
    }
}

/// The links of the `use` blocks of a file's text (top level and inside patterns), sorted:
/// everything of a file that [`local_module_dirs`] and [`load_modules`] read. A front end
/// that keeps files across edits (the language server) loads the modules again when these
/// change, and otherwise only updates the edited file's text.
pub fn use_links(text: &str) -> Vec<String> {
    let mut refs = Vec::new();
    uses_of(text, &mut refs);
    let mut links: Vec<String> = refs.into_iter().map(|r| r.link).collect();
    links.sort();
    links
}

/// `base` joined with a relative path, `.` and `..` resolved without touching the disk.
pub(crate) fn join_clean(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The local module directories the workspace's own files name (relative to `root`), so
/// that the front end keeps their files out of the workspace: a file is the workspace's
/// unless it lies in one of these. `files` are (path, text) of every source found.
pub fn local_module_dirs(root: &Path, files: &[(PathBuf, String)]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    // A file inside a module directory is the module's, and the directories it names are
    // relative to it: repeat until no new directory appears.
    loop {
        let mut refs = Vec::new();
        for (path, text) in files {
            if !dirs.iter().any(|d| path.starts_with(d)) {
                uses_of(text, &mut refs);
            }
        }
        let mut grew = false;
        for r in refs {
            if let Ok(Source::Local(rel)) = Source::parse(&r.source) {
                let d = join_clean(root, &rel);
                if !dirs.contains(&d) && d != root {
                    dirs.push(d);
                    grew = true;
                }
            }
        }
        if !grew {
            return dirs;
        }
    }
}

/// Every module the `use` blocks of `texts` (the workspace's own files) name, with the
/// modules they name in turn. Nothing is fetched: git and registry modules are read from
/// `<root>/.mcpo/modules/` where `mcpoc get` put them.
pub fn load_modules(root: &Path, texts: &[&str]) -> Vec<LoadedModule> {
    load_modules_with(root, texts, &|_| None)
}

/// [`load_modules`], with the files of local module directories as `overlay` gives them
/// where it knows them (an editor's documents, saved or not), from the disk elsewhere.
pub fn load_modules_with(root: &Path, texts: &[&str], overlay: Overlay<'_>) -> Vec<LoadedModule> {
    let mut refs = Vec::new();
    for t in texts {
        uses_of(t, &mut refs);
    }
    let base = Base::Dir(root.to_path_buf());
    let lock = crate::fetch::read_lock(root);
    refs.into_iter()
        .map(|r| load_one(root, &lock, overlay, &base, r, &mut Vec::new()))
        .collect()
}

fn load_one(
    root: &Path,
    lock: &Result<Lockfile, String>,
    overlay: Overlay<'_>,
    base: &Base,
    r: UseRef,
    stack: &mut Vec<String>,
) -> LoadedModule {
    let mut m = LoadedModule {
        link: r.link,
        origin: r.source.trim().to_string(),
        servers: r.servers,
        files: Vec::new(),
        problem: None,
        children: Vec::new(),
    };
    if stack.len() >= MAX_DEPTH || stack.contains(&m.origin) {
        m.problem = Some(format!(
            "modules use each other in a cycle or more than {MAX_DEPTH} levels deep: {} -> {}",
            stack.join(" -> "),
            m.origin
        ));
        return m;
    }
    let source = match Source::parse(&r.source) {
        Ok(s) => s,
        Err(e) => {
            m.problem = Some(e);
            return m;
        }
    };
    let (files, inner) = match (&source, base) {
        (Source::Stdlib(name), _) => match stdlib_files(name) {
            Ok(f) => (f, Base::Stdlib(name.clone())),
            Err(e) => {
                m.problem = Some(e);
                return m;
            }
        },
        (Source::Local(rel), Base::Dir(dir)) => {
            let d = join_clean(dir, rel);
            m.origin = display(root, &d);
            let found = match overlay(&d) {
                Some(files) => Ok(files
                    .into_iter()
                    .map(|(p, text)| module_file(p, text))
                    .collect()),
                None => dir_files(root, &d),
            };
            match found {
                Ok(f) => (f, Base::Dir(d)),
                Err(e) => {
                    m.problem = Some(e);
                    return m;
                }
            }
        }
        (Source::Local(rel), Base::Stdlib(name)) => {
            m.problem = Some(format!(
                "`{rel}`: a module of the standard library (`stdlib/{name}`) names other modules as `stdlib/<name>`"
            ));
            return m;
        }
        (Source::Git { .. } | Source::Registry { .. }, _) => {
            match cached(root, lock, &m.link, &source) {
                Ok((origin, files, dir)) => {
                    m.origin = origin;
                    (files, Base::Dir(dir))
                }
                Err(e) => {
                    m.problem = Some(e);
                    return m;
                }
            }
        }
    };
    m.files = files;
    let mut refs = Vec::new();
    for f in &m.files {
        uses_of(&f.text, &mut refs);
    }
    stack.push(m.origin.clone());
    m.children = refs
        .into_iter()
        .map(|r| load_one(root, lock, overlay, &inner, r, stack))
        .collect();
    stack.pop();
    m
}

/// A git or registry module from the cache, as `mcpo.lock` pins it: (origin, its `.mcpo`
/// files, its directory). Missing, not allowed by the constraint, or changed since it
/// was locked: why.
fn cached(
    root: &Path,
    lock: &Result<Lockfile, String>,
    link: &str,
    source: &Source,
) -> Result<(String, Vec<ModuleFile>, PathBuf), String> {
    let lock = lock.as_ref().map_err(Clone::clone)?;
    let key = crate::fetch::lock_key(link);
    let not_fetched = "this module has not been fetched: run `mcpoc get`".to_string();
    let entry = lock.modules.get(&key).ok_or_else(|| not_fetched.clone())?;
    let (dir, origin) = match source {
        Source::Git { url, reference } => (
            crate::fetch::git_dir(root, url, &entry.version),
            format!(
                "git {url} {reference} ({})",
                entry.version.get(..12).unwrap_or(&entry.version)
            ),
        ),
        Source::Registry { name } => {
            let c = crate::source::Constraint::parse(crate::fetch::link_constraint(link))?;
            let allowed =
                crate::source::Version::parse(&entry.version).is_some_and(|v| c.allows(v));
            if !allowed {
                return Err(format!(
                    "mcpo.lock pins version {}, which the version constraint does not allow: run `mcpoc get` to fetch an allowed one",
                    entry.version
                ));
            }
            (
                crate::fetch::registry_dir(root, name, &entry.version),
                format!("{name} {}", entry.version),
            )
        }
        _ => return Err(not_fetched),
    };
    let all = crate::archive::read_dir(&dir).map_err(|_| not_fetched.clone())?;
    let hash = crate::archive::content_hash(&all);
    if hash != entry.hash {
        return Err(format!(
            "its files in `{}` changed after `mcpoc get` fetched them: they hash to {hash}, mcpo.lock records {}; run `mcpoc get` to fetch them again",
            display(root, &dir),
            entry.hash
        ));
    }
    Ok((origin, dir_files(root, &dir)?, dir))
}

/// The `.mcpo` files of standard library module `name`.
fn stdlib_files(name: &str) -> Result<Vec<ModuleFile>, String> {
    let files: Vec<ModuleFile> = stdlib::files(name)
        .into_iter()
        .filter(|(f, _)| f.ends_with(".mcpo"))
        .map(|(f, text)| ModuleFile {
            name: format!("stdlib/{name}/{f}"),
            text: text.to_string(),
            path: None,
            id: FileId::default(),
        })
        .collect();
    if files.is_empty() {
        let known = stdlib::modules();
        let wanted = name.replace('-', "_");
        let close = known
            .iter()
            .map(|k| (k, distance(k, name).min(distance(k, &wanted))))
            .filter(|(_, d)| *d <= 3)
            .min_by_key(|(_, d)| *d)
            .map(|(k, _)| k);
        return Err(match close {
            Some(k) => {
                format!("the standard library has no module `{name}`; did you mean `stdlib/{k}`?")
            }
            None => format!(
                "the standard library has no module `{name}`; it has {}",
                known
                    .iter()
                    .map(|k| format!("`stdlib/{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(files)
}

/// A path for messages: relative to the root when inside it.
fn display(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.display().to_string())
}

/// The `.mcpo` files directly in `dir`, sorted.
pub(crate) fn dir_files(root: &Path, dir: &Path) -> Result<Vec<ModuleFile>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read module directory `{}`: {}",
            display(root, dir),
            reason(&e)
        )
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "mcpo"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| format!("cannot read `{}`: {}", display(root, &p), reason(&e)))?;
        out.push(module_file(p, text));
    }
    Ok(out)
}

/// A module file found at `path`, named as the workspace's own files are: the path as
/// found, without `./`.
fn module_file(path: PathBuf, text: String) -> ModuleFile {
    let shown = path.display().to_string();
    ModuleFile {
        name: shown.strip_prefix("./").unwrap_or(&shown).to_string(),
        text,
        path: Some(path),
        id: FileId::default(),
    }
}

/// An I/O error in a few words.
pub(crate) fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Gives every module file an id in `sources` (so that diagnostics in it render).
pub fn register(modules: &mut [LoadedModule], sources: &mut Sources) {
    for m in modules {
        for f in &mut m.files {
            f.id = sources.add(f.name.clone(), f.text.clone());
        }
        register(&mut m.children, sources);
    }
}

/// The checker's inputs for `modules`: each a workspace of its files, checked against
/// `schemas` (the using workspace's) under the pattern's own server names.
pub fn inputs(db: &Database, modules: &[LoadedModule], schemas: &[SchemaFile]) -> Vec<Module> {
    modules
        .iter()
        .map(|m| {
            let schemas = renamed(db, schemas, &m.servers);
            let files: Vec<SourceFile> = m
                .files
                .iter()
                .map(|f| SourceFile::new(db, f.id, f.name.clone(), f.text.clone()))
                .collect();
            let children = inputs(db, &m.children, &schemas);
            let ws = match &m.problem {
                None => Some(Workspace::builder(files, schemas).modules(children).new(db)),
                Some(_) => None,
            };
            Module::new(db, m.link.clone(), m.origin.clone(), ws, m.problem.clone())
        })
        .collect()
}

/// `schemas` with each server the mapping renames offered under the pattern's name.
fn renamed(
    db: &Database,
    schemas: &[SchemaFile],
    mapping: &BTreeMap<String, String>,
) -> Vec<SchemaFile> {
    if mapping.iter().all(|(from, to)| from == to) {
        return schemas.to_vec();
    }
    let mut out: Vec<SchemaFile> = schemas
        .iter()
        .filter(|s| !mapping.contains_key(s.server(db)))
        .copied()
        .collect();
    for (from, to) in mapping {
        if let Some(s) = schemas.iter().find(|s| s.server(db) == to) {
            out.push(SchemaFile::new(
                db,
                from.clone(),
                s.name(db).clone(),
                s.text(db).clone(),
            ));
        }
    }
    out.sort_by(|a, b| a.server(db).cmp(b.server(db)));
    out
}

/// The edit distance between two names (for a did-you-mean).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let here = row.get(j + 1).copied().unwrap_or(0);
            let left = row.get(j).copied().unwrap_or(0);
            let best = (prev + cost).min(here + 1).min(left + 1);
            prev = here;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = best;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}
