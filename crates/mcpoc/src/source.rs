//! Reading source files into a [`Sources`] map, turning bad bytes into diagnostics.

use crate::files::{display_name, io_reason};
use mcpo_diagnostics::{Diagnostic, FileId, Sources, Span, codes};
use std::path::{Path, PathBuf};

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
