//! Finding source files under the paths a command names, and reading them into a
//! [`Sources`] map (bytes that are not UTF-8 become an `E0012` diagnostic).

use mcpo_diagnostics::{Diagnostic, FileId, Sources, Span, codes};
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name endings `mcpoc` reads as source.
pub const SOURCE_EXTENSIONS: &[&str] = &["mcpo", "tf", "hcl"];

/// Directories never searched (version control, build output, mcpo's own cache).
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", ".git", ".mcpo", ".terraform"];

/// A problem with a path argument: a usage or I/O error (exit code 2).
#[derive(Debug)]
pub struct PathError(pub String);

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_source(path: &Path) -> bool {
    is_template(path)
        || path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| SOURCE_EXTENSIONS.contains(&e))
}

/// Whether the file is a JSON deployment template (`*.mcpo.json`).
pub fn is_template(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".mcpo.json") && n.len() > ".mcpo.json".len())
}

/// Expands files and directories into a sorted, de-duplicated list of source files.
/// Directories are searched recursively for `.mcpo`, `.tf`, `.hcl` and `.mcpo.json` (deployment
/// template) files; a file named explicitly must have one of those extensions.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PathError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| PathError(format!("cannot read `{}`: {}", p.display(), io_reason(&e))))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else if is_source(p) {
            out.push(p.clone());
        } else {
            return Err(PathError(format!(
                "`{}` is not an mcpo source file (expected a .mcpo, .tf, .hcl or .mcpo.json file, or a directory)",
                p.display()
            )));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PathError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        PathError(format!(
            "cannot read directory `{}`: {}",
            dir.display(),
            io_reason(&e)
        ))
    })?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(ty) = entry.file_type() else { continue };
        if ty.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) {
                walk(&path, out)?;
            }
        } else if is_source(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// A short reason for an I/O error, without Rust's `(os error N)` suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// The display name of a path: as given, with `./` removed.
pub fn display_name(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// One loaded file.
#[derive(Debug)]
pub struct Loaded {
    /// Where it came from.
    pub path: PathBuf,
    /// Its id in the source map.
    pub id: FileId,
    /// Whether the bytes were valid UTF-8 (if not, the text holds replacement characters
    /// and an E0012 diagnostic was reported).
    pub utf8: bool,
}

/// Reads every file. An unreadable file is an I/O error (the caller exits 2); a file
/// that is not UTF-8 yields an E0012 diagnostic and is read lossily so the rest of it can
/// still be shown.
pub fn load(
    paths: &[PathBuf],
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<Loaded>, String> {
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read `{}`: {}", path.display(), io_reason(&e)))?;
        out.push(load_bytes(path, bytes, sources, diags));
    }
    Ok(out)
}

/// Adds one file's bytes to the source map.
pub fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Loaded {
    match String::from_utf8(bytes) {
        Ok(text) => {
            let id = sources.add(display_name(path), text);
            Loaded {
                path: path.to_path_buf(),
                id,
                utf8: true,
            }
        }
        Err(e) => {
            let valid_up_to = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let id = sources.add(display_name(path), text);
            diags.push(
                Diagnostic::error(
                    codes::E0012,
                    id,
                    Span::new(
                        valid_up_to,
                        valid_up_to + char::REPLACEMENT_CHARACTER.len_utf8(),
                    ),
                    "file is not valid UTF-8",
                )
                .with_primary_label("this byte does not start a UTF-8 character")
                .with_help("re-save the file as UTF-8"),
            );
            Loaded {
                path: path.to_path_buf(),
                id,
                utf8: false,
            }
        }
    }
}

/// Replaces a file's contents atomically (temp file in the same directory, fsync, rename),
/// keeping its permissions, so an interrupted `fmt` never leaves a half-written file.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.mcpo-write.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
