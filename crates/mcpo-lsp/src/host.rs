//! The workspace model of an editor session and the master database.
//!
//! The root folder's `*.mcpo` files are read from disk when the session starts; an open
//! document's text overrides the file's on disk until it is closed. Schemas come from
//! `<root>/.mcpo/schemas/*.json` and the lock from `<root>/mcpo.lock`, read at start and
//! again when the client's file watcher reports them changed; `server` blocks read the
//! server process's environment. Servers declared outside the workspace's `.mcpo` files
//! come from the [`Discover`](crate::Discover) hook the front end passes in (this crate
//! does no discovery itself), at start and when a discovery file changes. Only the
//! writer thread calls the `&mut` methods here; requests work on [`Snapshot`]s.
//!
//! Modules are arranged as `mcpoc check` arranges them: the files of the local module
//! directories the `use` blocks name ([`mcpo_modules::local_module_dirs`]) are not the
//! workspace's but their module's, loaded with every other module the `use` blocks name
//! through [`mcpo_modules::load_modules_with`] (the editor's texts where it holds them),
//! so each module's names are its own. A file of a module is worked on in its module's
//! workspace (the first instance met, when several `use` blocks load it); a file in a
//! module directory that no module reads (a subdirectory no `use` names) in a workspace of
//! its own. An edit that changes no file's `use` links only sets the file's text (in every
//! module instance that holds it); one that does, or a file added or removed, arranges the
//! modules again.

use crate::Discover;
use mcpo_diagnostics::FileId;
use mcpo_sema::{Database, EnvVars, Module, SchemaFile, SourceFile, Workspace};
use salsa::Setter;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower_lsp_server::ls_types::Uri;

/// Directories never searched for sources (version control, build output, mcpo's cache).
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", ".git", ".mcpo", ".terraform"];

/// Files are read at most this deep below the root (a guard against symlink loops).
const MAX_DEPTH: usize = 32;

/// Files under the root that declare servers for discovery (the Claude Desktop
/// configuration lives outside the workspace and is read at start only).
pub(crate) const DISCOVERY_FILES: &[&str] = &["mcpo.toml", ".vscode/mcp.json", ".cursor/mcp.json"];

/// One file of the workspace.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The salsa input the editor features work on: the file in [`Entry::ws`].
    pub source: SourceFile,
    /// The workspace the file is checked in: the session's, its module's, or its own.
    pub ws: Workspace,
    /// The file's own input (in the session's workspace when the file is the
    /// workspace's); always holds the current text.
    own: SourceFile,
    /// The inputs of the file in the module instances that load it.
    copies: Vec<SourceFile>,
    /// Its id in diagnostics and locations.
    pub id: FileId,
    /// The URI the client uses for it (or one made from its path).
    pub uri: Uri,
    /// The version of the open document; `None` when not open (the text is the disk's).
    pub version: Option<i32>,
}

/// The files by key (a path, or the URI's text for documents that are not files) and by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileTable {
    by_key: BTreeMap<PathBuf, Entry>,
    by_id: BTreeMap<FileId, PathBuf>,
}

impl FileTable {
    /// The entry of the document `uri`.
    pub fn get(&self, uri: &Uri) -> Option<&Entry> {
        self.by_key.get(&key_of(uri))
    }

    /// The entry of file `id`.
    pub fn by_id(&self, id: FileId) -> Option<&Entry> {
        self.by_key.get(self.by_id.get(&id)?)
    }
}

/// A consistent view of the workspace for one request, on its own thread.
pub(crate) struct Snapshot {
    /// A clone of the master database (shared storage).
    pub db: Database,
    /// The session's workspace input (its modules hang below it).
    pub ws: Workspace,
    /// The workspaces of files in module directories that no module reads, one each.
    pub lone: Arc<Vec<Workspace>>,
    /// The files as they were when the snapshot was taken.
    pub table: Arc<FileTable>,
}

/// The master database and the session's files.
pub(crate) struct Host {
    db: Database,
    ws: Workspace,
    table: Arc<FileTable>,
    next_id: u32,
    root: Option<PathBuf>,
    discover: Option<Discover>,
    /// Each file's `use` links (what arranging the modules reads of it).
    links: BTreeMap<FileId, Vec<String>>,
    /// See [`Snapshot::lone`].
    lone: Arc<Vec<Workspace>>,
    /// Set when the modules were loaded again: every file's diagnostics may change.
    modules_changed: bool,
}

/// What happened to a file on disk (from the client's file watcher).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DiskChange {
    /// Created or changed.
    Written,
    /// Deleted.
    Deleted,
}

/// How a document URI is keyed: its file path, else its text.
pub(crate) fn key_of(uri: &Uri) -> PathBuf {
    match uri.to_file_path() {
        Some(p) => p.into_owned(),
        None => PathBuf::from(uri.as_str()),
    }
}

impl Host {
    /// A session with no files; `discover` finds the servers declared outside the
    /// workspace's `.mcpo` files.
    pub fn new(discover: Option<Discover>) -> Self {
        let db = Database::default();
        let ws = Workspace::builder(Vec::new(), Vec::new())
            .env(EnvVars::from_os(std::env::vars_os()))
            .new(&db);
        Host {
            db,
            ws,
            table: Arc::default(),
            next_id: 0,
            root: None,
            discover,
            links: BTreeMap::new(),
            lone: Arc::default(),
            modules_changed: false,
        }
    }

    /// A snapshot for a request. Cheap: the database clone shares the storage.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            db: self.db.clone(),
            ws: self.ws,
            lone: self.lone.clone(),
            table: self.table.clone(),
        }
    }

    /// Reads the workspace under `root`: every `*.mcpo` file and the pulled schemas.
    pub fn load(&mut self, root: &Path) {
        self.root = Some(root.to_path_buf());
        let mut paths = Vec::new();
        walk(root, 0, &mut paths);
        paths.sort();
        let mut table = (*self.table).clone();
        for path in paths {
            if table.by_key.contains_key(&path) {
                continue;
            }
            // A file that cannot be read as UTF-8 is skipped; opening it in the editor
            // brings it in with the editor's text.
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Some(uri) = Uri::from_file_path(&path) else {
                continue;
            };
            let name = display_name(root, &path);
            self.note_links(FileId(self.next_id), Some(&text));
            let entry = self.new_entry(uri, name, text);
            table.by_id.insert(entry.id, path.clone());
            table.by_key.insert(path, entry);
        }
        self.table = Arc::new(table);
        self.reload_schemas(root);
        self.reload_lock(root);
        self.rediscover(root);
        self.arrange();
    }

    /// Records the module links of file `id` (`None`: it left the workspace); true when
    /// they changed.
    fn note_links(&mut self, id: FileId, text: Option<&str>) -> bool {
        let links = text.map(mcpo_modules::use_links).unwrap_or_default();
        let before = if links.is_empty() {
            self.links.remove(&id)
        } else {
            self.links.insert(id, links.clone())
        };
        before.unwrap_or_default() != links
    }

    /// Arranges the files and modules as `mcpoc check` does (see the module's
    /// documentation): which files are the session's workspace's, the modules the `use`
    /// blocks name (loaded again, checked against the current schemas), and the workspace
    /// each file is worked on in.
    fn arrange(&mut self) {
        let root = self
            .root
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let (dirs, mut modules) = if self.links.is_empty() {
            // No `use` names a source: every file is the workspace's.
            (Vec::new(), Vec::new())
        } else {
            let all: Vec<(PathBuf, String)> = self
                .table
                .by_key
                .iter()
                .map(|(k, e)| (k.clone(), e.own.text(&self.db).clone()))
                .collect();
            let dirs = mcpo_modules::local_module_dirs(&root, &all);
            let texts: Vec<&str> = all
                .iter()
                .filter(|(p, _)| !in_dirs(&dirs, p))
                .map(|(_, t)| t.as_str())
                .collect();
            let overlay = |dir: &Path| self.dir_texts(dir);
            let modules = mcpo_modules::load_modules_with(&root, &texts, &overlay);
            (dirs, modules)
        };
        self.number_module_files(&mut modules);
        let schemas = self.ws.schemas(&self.db).clone();
        let inputs = mcpo_modules::inputs(&self.db, &modules, &schemas);
        let mut homes: BTreeMap<PathBuf, Home> = BTreeMap::new();
        homes_of(&self.db, &modules, &inputs, &mut homes);

        let env = self.ws.env(&self.db).clone();
        let mut files = Vec::new();
        let mut lone = Vec::new();
        let mut table = (*self.table).clone();
        for (key, e) in &mut table.by_key {
            if !in_dirs(&dirs, key) {
                e.source = e.own;
                e.ws = self.ws;
                e.copies = Vec::new();
                files.push(e.own);
            } else if let Some(home) = homes.remove(key) {
                e.source = home.source;
                e.ws = home.ws;
                e.copies = home.copies;
            } else {
                e.source = e.own;
                e.copies = Vec::new();
                let ws = Workspace::builder(vec![e.own], schemas.clone())
                    .env(env.clone())
                    .new(&self.db);
                e.ws = ws;
                lone.push(ws);
            }
        }
        self.table = Arc::new(table);
        if self.lone.as_slice() != lone.as_slice() {
            self.lone = Arc::new(lone);
        }
        if *self.ws.files(&self.db) != files {
            self.ws.set_files(&mut self.db).to(files);
        }
        if inputs.is_empty() && self.ws.modules(&self.db).is_empty() {
            return;
        }
        self.ws.set_modules(&mut self.db).to(inputs);
        self.modules_changed = true;
    }

    /// The `.mcpo` files directly in `dir` with the editor's texts: those on disk (the
    /// editor's text where it holds the file) and those only the editor holds. `None`
    /// when there are none and the directory cannot be read (the loader says why).
    fn dir_texts(&self, dir: &Path) -> Option<Vec<(PathBuf, String)>> {
        let mut files: BTreeMap<PathBuf, String> = self
            .table
            .by_key
            .range(dir.to_path_buf()..)
            .take_while(|(k, _)| k.starts_with(dir))
            .filter(|(k, _)| k.parent() == Some(dir))
            .map(|(k, e)| (k.clone(), e.own.text(&self.db).clone()))
            .collect();
        let on_disk = std::fs::read_dir(dir);
        if on_disk.is_err() && files.is_empty() {
            return None;
        }
        for entry in on_disk.into_iter().flatten().flatten() {
            let path = entry.path();
            if files.contains_key(&path)
                || !path.is_file()
                || path.extension().is_none_or(|e| e != "mcpo")
            {
                continue;
            }
            // A file that cannot be read is left to the loader, which says why.
            let Ok(text) = std::fs::read_to_string(&path) else {
                return None;
            };
            files.insert(path, text);
        }
        Some(files.into_iter().collect())
    }

    /// Gives every module file an id: the editor's file's for the files it holds, so that
    /// diagnostics and locations in them are shown; new ones for the others (the standard
    /// library's, the module cache's, directories outside the root).
    fn number_module_files(&mut self, modules: &mut [mcpo_modules::LoadedModule]) {
        for m in modules {
            for f in &mut m.files {
                let known = f.path.as_ref().and_then(|p| self.table.by_key.get(p));
                f.id = match known {
                    Some(e) => e.id,
                    None => {
                        self.next_id += 1;
                        FileId(self.next_id - 1)
                    }
                };
            }
            self.number_module_files(&mut m.children);
        }
    }

    /// Whether the modules were loaded again since the last call.
    pub fn take_modules_changed(&mut self) -> bool {
        std::mem::take(&mut self.modules_changed)
    }

    /// Reads the pulled schemas again.
    fn reload_schemas(&mut self, root: &Path) {
        let schemas: Vec<SchemaFile> = mcpo_schema::read_pulled_schemas(root)
            .into_iter()
            .map(|(server, name, text)| SchemaFile::new(&self.db, server, name, text))
            .collect();
        self.ws.set_schemas(&mut self.db).to(schemas);
    }

    /// Reads `mcpo.lock` again (an unreadable lock counts as none: the checker then says
    /// the lock is missing).
    fn reload_lock(&mut self, root: &Path) {
        let text = std::fs::read_to_string(root.join(mcpo_schema::LOCK_FILE)).ok();
        if *self.ws.lock(&self.db) != text {
            self.ws.set_lock(&mut self.db).to(text);
        }
    }

    /// Runs discovery again through the front end's hook.
    fn rediscover(&mut self, root: &Path) {
        let Some(discover) = &self.discover else {
            return;
        };
        let found = discover(root);
        if *self.ws.discovered(&self.db) != found {
            self.ws.set_discovered(&mut self.db).to(found);
        }
    }

    fn new_entry(&mut self, uri: Uri, name: String, text: String) -> Entry {
        let id = FileId(self.next_id);
        self.next_id += 1;
        let source = SourceFile::new(&self.db, id, name, text);
        Entry {
            source,
            ws: self.ws,
            own: source,
            copies: Vec::new(),
            id,
            uri,
            version: None,
        }
    }

    /// Sets the text of file `key` (every input holding it); arranges the modules again
    /// when its `use` links changed.
    fn set_text(&mut self, key: &Path, text: String) {
        let Some(e) = self.table.by_key.get(key) else {
            return;
        };
        if *e.own.text(&self.db) == text {
            return;
        }
        let (id, own, copies) = (e.id, e.own, e.copies.clone());
        let relink = self.note_links(id, Some(&text));
        for copy in copies.into_iter().filter(|c| *c != own) {
            copy.set_text(&mut self.db).to(text.clone());
        }
        own.set_text(&mut self.db).to(text);
        if relink {
            self.arrange();
        }
    }

    /// Adds file `key` (not yet in the table) and arranges the modules again.
    fn add_file(&mut self, key: PathBuf, uri: Uri, name: String, text: String) -> FileId {
        self.note_links(FileId(self.next_id), Some(&text));
        let entry = self.new_entry(uri, name, text);
        let id = entry.id;
        let table = Arc::make_mut(&mut self.table);
        table.by_id.insert(id, key.clone());
        table.by_key.insert(key, entry);
        self.arrange();
        id
    }

    /// Removes file `key` and arranges the modules again.
    fn remove_file(&mut self, key: &Path) {
        let table = Arc::make_mut(&mut self.table);
        if let Some(e) = table.by_key.remove(key) {
            table.by_id.remove(&e.id);
            self.note_links(e.id, None);
        }
        self.arrange();
    }

    /// A document was opened or changed to `text` at `version`. Older versions than the
    /// one applied last are ignored (notifications may arrive out of order). Returns the
    /// file's id when something was applied.
    pub fn set_document(&mut self, uri: &Uri, text: String, version: i32) -> Option<FileId> {
        let key = key_of(uri);
        if let Some(entry) = self.table.by_key.get(&key) {
            if entry.version.is_some_and(|v| v > version) {
                return None;
            }
            let id = entry.id;
            self.set_text(&key, text);
            if let Some(e) = Arc::make_mut(&mut self.table).by_key.get_mut(&key) {
                e.version = Some(version);
                e.uri = uri.clone();
            }
            return Some(id);
        }
        let name = key.file_name().map_or_else(
            || uri.as_str().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let id = self.add_file(key.clone(), uri.clone(), name, text);
        if let Some(e) = Arc::make_mut(&mut self.table).by_key.get_mut(&key) {
            e.version = Some(version);
        }
        Some(id)
    }

    /// A document was closed: its text goes back to the file's on disk (or the file
    /// leaves the workspace if it is not on disk).
    pub fn close_document(&mut self, uri: &Uri) -> Option<FileId> {
        let key = key_of(uri);
        let id = self.table.by_key.get(&key)?.id;
        match std::fs::read_to_string(&key) {
            Ok(text) => {
                self.set_text(&key, text);
                if let Some(e) = Arc::make_mut(&mut self.table).by_key.get_mut(&key) {
                    e.version = None;
                }
            }
            Err(_) => self.remove_file(&key),
        }
        Some(id)
    }
}

impl Host {
    /// A file changed on disk. Open documents keep the editor's text; a pulled schema
    /// reloads every schema, `mcpo.lock` the lock, a discovery file the discovered
    /// servers. Returns the files whose diagnostics may change.
    pub fn disk_changed(&mut self, path: &Path, change: DiskChange) -> Vec<FileId> {
        let Some(root) = self.root.clone() else {
            return Vec::new();
        };
        let schema_dir = root.join(mcpo_schema::SCHEMA_DIR);
        if path.starts_with(&schema_dir) && path.extension().is_some_and(|e| e == "json") {
            self.reload_schemas(&root);
            // Modules are checked against the schemas.
            self.arrange();
            return self.table.ids().collect();
        }
        if path == root.join(mcpo_schema::LOCK_FILE) {
            self.reload_lock(&root);
            // `mcpoc get` fetched modules and pinned them.
            self.arrange();
            return self.table.ids().collect();
        }
        if DISCOVERY_FILES.iter().any(|f| path == root.join(f)) {
            self.rediscover(&root);
            return self.table.ids().collect();
        }
        if path.extension().is_none_or(|e| e != "mcpo") {
            return Vec::new();
        }
        let existing = self.table.by_key.get(path).cloned();
        if existing.as_ref().is_some_and(|e| e.version.is_some()) {
            return Vec::new();
        }
        match (existing, change, std::fs::read_to_string(path)) {
            (Some(e), DiskChange::Written, Ok(text)) => {
                self.set_text(path, text);
                vec![e.id]
            }
            (Some(e), _, _) => {
                self.remove_file(path);
                // Its diagnostics are cleared by the caller; the others may change.
                let mut ids: Vec<FileId> = self.table.ids().collect();
                ids.push(e.id);
                ids
            }
            (None, DiskChange::Written, Ok(text)) => {
                let Some(uri) = Uri::from_file_path(path) else {
                    return Vec::new();
                };
                self.add_file(path.to_path_buf(), uri, display_name(&root, path), text);
                self.table.ids().collect()
            }
            (None, _, _) => Vec::new(),
        }
    }
}

/// Where a module's file lives: its input in the first module instance met, that
/// instance's workspace, and its inputs in every instance.
struct Home {
    source: SourceFile,
    ws: Workspace,
    copies: Vec<SourceFile>,
}

/// The homes of the files of `modules` (their inputs are `inputs`, made from them in the
/// same order by [`mcpo_modules::inputs`]), depth first.
fn homes_of(
    db: &Database,
    modules: &[mcpo_modules::LoadedModule],
    inputs: &[Module],
    out: &mut BTreeMap<PathBuf, Home>,
) {
    for (m, input) in modules.iter().zip(inputs) {
        let Some(ws) = input.workspace(db) else {
            continue;
        };
        for (f, source) in m.files.iter().zip(ws.files(db)) {
            let Some(path) = &f.path else { continue };
            out.entry(path.clone())
                .and_modify(|h| h.copies.push(*source))
                .or_insert_with(|| Home {
                    source: *source,
                    ws,
                    copies: vec![*source],
                });
        }
        homes_of(db, &m.children, ws.modules(db), out);
    }
}

/// Whether `path` lies in one of the local module directories `dirs`.
fn in_dirs(dirs: &[PathBuf], path: &Path) -> bool {
    dirs.iter().any(|d| path.starts_with(d))
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ty) = entry.file_type() else { continue };
        if ty.is_dir() {
            let name = entry.file_name();
            if !SKIPPED_DIRS.contains(&name.to_string_lossy().as_ref()) {
                walk(&path, depth + 1, out);
            }
        } else if path.extension().is_some_and(|e| e == "mcpo") {
            out.push(path);
        }
    }
}

/// A path relative to the root, with `/` separators, for messages.
fn display_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl FileTable {
    /// Every file id.
    pub fn ids(&self) -> impl Iterator<Item = FileId> + '_ {
        self.by_id.keys().copied()
    }
}
