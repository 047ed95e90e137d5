//! File access for the schema cache and the lock file, behind a trait.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Reads and writes files relative to a workspace root.
pub trait Files {
    /// The file's text, `Ok(None)` if it does not exist.
    fn read(&self, relative: &Path) -> std::io::Result<Option<String>>;
    /// Replaces the file's text (creating directories as needed).
    fn write(&self, relative: &Path, text: &str) -> std::io::Result<()>;
}

/// The real file system under a root directory. Writes are atomic (temp file, fsync,
/// rename), so an interrupted `schema pull` never leaves half a file.
#[derive(Debug, Clone)]
pub struct DiskFiles {
    root: PathBuf,
}

impl DiskFiles {
    /// Files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Files for DiskFiles {
    fn read(&self, relative: &Path) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(self.root.join(relative)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write(&self, relative: &Path, text: &str) -> std::io::Result<()> {
        let path = self.root.join(relative);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// `(server, display name, text)` of every pulled schema (`<root>/.mcpo/schemas/*.json`),
/// sorted by server. An unreadable file comes back with empty text (the checker then
/// reports it as an unreadable schema); a missing directory gives no schemas. Shared by
/// `mcpoc check` and the language server.
pub fn read_pulled_schemas(root: &Path) -> Vec<(String, String, String)> {
    let Ok(entries) = std::fs::read_dir(root.join(crate::SCHEMA_DIR)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Some(server) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let name = format!("{}/{server}.json", crate::SCHEMA_DIR);
        out.push((server, name, text));
    }
    out.sort();
    out
}

/// Files held in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryFiles {
    files: Mutex<BTreeMap<PathBuf, String>>,
}

impl MemoryFiles {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Files for MemoryFiles {
    fn read(&self, relative: &Path) -> std::io::Result<Option<String>> {
        let files = self
            .files
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        Ok(files.get(relative).cloned())
    }

    fn write(&self, relative: &Path, text: &str) -> std::io::Result<()> {
        let mut files = self
            .files
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        files.insert(relative.to_path_buf(), text.to_string());
        Ok(())
    }
}
