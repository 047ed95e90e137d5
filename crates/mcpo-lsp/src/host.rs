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

use crate::Discover;
use mcpo_diagnostics::FileId;
use mcpo_sema::{Database, EnvVars, SchemaFile, SourceFile, Workspace};
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
    /// Its salsa input.
    pub source: SourceFile,
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
    /// The workspace input.
    pub ws: Workspace,
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
    /// Each file's `use` links with a source that is not a local directory (local
    /// modules' files are part of the session's workspace).
    links: BTreeMap<FileId, Vec<String>>,
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
            modules_changed: false,
        }
    }

    /// A snapshot for a request. Cheap: the database clone shares the storage.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            db: self.db.clone(),
            ws: self.ws,
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
        let mut files = self.ws.files(&self.db).clone();
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
            let entry = self.new_entry(uri, name, text);
            files.push(entry.source);
            table.by_id.insert(entry.id, path.clone());
            table.by_key.insert(path, entry);
        }
        self.ws.set_files(&mut self.db).to(files);
        self.table = Arc::new(table);
        self.reload_schemas(root);
        self.reload_lock(root);
        self.rediscover(root);
        let texts: Vec<(FileId, String)> = self
            .ws
            .files(&self.db)
            .iter()
            .map(|f| (f.id(&self.db), f.text(&self.db).clone()))
            .collect();
        for (id, text) in texts {
            self.note_links(id, Some(&text));
        }
        self.reload_modules();
    }

    /// Records the module links of file `id` (`None`: it left the workspace); true when
    /// they changed.
    fn note_links(&mut self, id: FileId, text: Option<&str>) -> bool {
        let links = text.map(mcpo_modules::source_links).unwrap_or_default();
        let before = if links.is_empty() {
            self.links.remove(&id)
        } else {
            self.links.insert(id, links.clone())
        };
        before.unwrap_or_default() != links
    }

    /// Loads the modules the `use` blocks name by a source that is not a local directory
    /// (the standard library, and git and registry modules from the cache `mcpoc get`
    /// fills), checked against the current schemas; their files get ids of their own.
    fn reload_modules(&mut self) {
        let root = self
            .root
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let texts: Vec<String> = self
            .ws
            .files(&self.db)
            .iter()
            .map(|f| f.text(&self.db).clone())
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut modules = if self.links.is_empty() {
            Vec::new()
        } else {
            mcpo_modules::load_source_modules(&root, &refs)
        };
        self.number_module_files(&mut modules);
        let schemas = self.ws.schemas(&self.db).clone();
        let inputs = mcpo_modules::inputs(&self.db, &modules, &schemas);
        if inputs.is_empty() && self.ws.modules(&self.db).is_empty() {
            return;
        }
        self.ws.set_modules(&mut self.db).to(inputs);
        self.modules_changed = true;
    }

    /// Gives every module file an id (not in the file table: diagnostics and locations
    /// inside a module are not shown).
    fn number_module_files(&mut self, modules: &mut [mcpo_modules::LoadedModule]) {
        for m in modules {
            for f in &mut m.files {
                f.id = FileId(self.next_id);
                self.next_id += 1;
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
        Entry {
            source: SourceFile::new(&self.db, id, name, text),
            id,
            uri,
            version: None,
        }
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
            let (source, id) = (entry.source, entry.id);
            if *source.text(&self.db) != text {
                let relink = self.note_links(id, Some(&text));
                source.set_text(&mut self.db).to(text);
                if relink {
                    self.reload_modules();
                }
            }
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
        let relink_text = text.clone();
        let mut entry = self.new_entry(uri.clone(), name, text);
        entry.version = Some(version);
        let id = entry.id;
        let mut files = self.ws.files(&self.db).clone();
        files.push(entry.source);
        self.ws.set_files(&mut self.db).to(files);
        let table = Arc::make_mut(&mut self.table);
        table.by_id.insert(id, key.clone());
        table.by_key.insert(key, entry);
        if self.note_links(id, Some(&relink_text)) {
            self.reload_modules();
        }
        Some(id)
    }

    /// A document was closed: its text goes back to the file's on disk (or the file
    /// leaves the workspace if it is not on disk).
    pub fn close_document(&mut self, uri: &Uri) -> Option<FileId> {
        let key = key_of(uri);
        let entry = self.table.by_key.get(&key)?.clone();
        match std::fs::read_to_string(&key) {
            Ok(text) => {
                if *entry.source.text(&self.db) != text {
                    let relink = self.note_links(entry.id, Some(&text));
                    entry.source.set_text(&mut self.db).to(text);
                    if relink {
                        self.reload_modules();
                    }
                }
                if let Some(e) = Arc::make_mut(&mut self.table).by_key.get_mut(&key) {
                    e.version = None;
                }
            }
            Err(_) => {
                let files: Vec<SourceFile> = self
                    .ws
                    .files(&self.db)
                    .iter()
                    .copied()
                    .filter(|f| *f != entry.source)
                    .collect();
                self.ws.set_files(&mut self.db).to(files);
                let table = Arc::make_mut(&mut self.table);
                table.by_key.remove(&key);
                table.by_id.remove(&entry.id);
                if self.note_links(entry.id, None) {
                    self.reload_modules();
                }
            }
        }
        Some(entry.id)
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
            self.reload_modules();
            return self.table.ids().collect();
        }
        if path == root.join(mcpo_schema::LOCK_FILE) {
            self.reload_lock(&root);
            // `mcpoc get` fetched modules and pinned them.
            self.reload_modules();
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
                if *e.source.text(&self.db) != text {
                    let relink = self.note_links(e.id, Some(&text));
                    e.source.set_text(&mut self.db).to(text);
                    if relink {
                        self.reload_modules();
                    }
                }
                vec![e.id]
            }
            (Some(e), _, _) => {
                let files: Vec<SourceFile> = self
                    .ws
                    .files(&self.db)
                    .iter()
                    .copied()
                    .filter(|f| *f != e.source)
                    .collect();
                self.ws.set_files(&mut self.db).to(files);
                let table = Arc::make_mut(&mut self.table);
                table.by_key.remove(path);
                table.by_id.remove(&e.id);
                if self.note_links(e.id, None) {
                    self.reload_modules();
                }
                // Its diagnostics are cleared by the caller; the others may change.
                let mut ids: Vec<FileId> = self.table.ids().collect();
                ids.push(e.id);
                ids
            }
            (None, DiskChange::Written, Ok(text)) => {
                let Some(uri) = Uri::from_file_path(path) else {
                    return Vec::new();
                };
                let links_text = text.clone();
                let entry = self.new_entry(uri, display_name(&root, path), text);
                let id = entry.id;
                if self.note_links(id, Some(&links_text)) {
                    self.reload_modules();
                }
                let mut files = self.ws.files(&self.db).clone();
                files.push(entry.source);
                self.ws.set_files(&mut self.db).to(files);
                let table = Arc::make_mut(&mut self.table);
                table.by_id.insert(id, path.to_path_buf());
                table.by_key.insert(path.to_path_buf(), entry);
                self.table.ids().collect()
            }
            (None, _, _) => Vec::new(),
        }
    }
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
