//! Wiring for the type checker: finds the workspace root, reads the pulled schemas and
//! hands files and schemas to the `mcpo-sema` database. No rule lives here.

use mcpo_diagnostics::{Diagnostic, FileId, SourceMap, Sources};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
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

/// Name and type diagnostics for the loaded files, against the schemas under the
/// workspace root found from `start`.
pub fn semantic_diagnostics(start: &Path, files: &[FileId], sources: &Sources) -> Vec<Diagnostic> {
    let root = find_root(start);
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
    let schemas: Vec<SchemaFile> = read_schemas(&root)
        .into_iter()
        .map(|(server, name, text)| SchemaFile::new(&db, server, name, text))
        .collect();
    let ws = Workspace::new(&db, inputs, schemas);
    mcpo_sema::check_semantics(&db, ws)
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
    let root = find_root(start);
    let db = Database::default();
    let schemas: Vec<SchemaFile> = read_schemas(&root)
        .into_iter()
        .map(|(server, name, text)| SchemaFile::new(&db, server, name, text))
        .collect();
    let ws = Workspace::new(&db, Vec::new(), schemas);
    let source = match mcpo_sema::convert_template(&db, ws, &json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: `{}` is not a deployment template: {e}",
                file.display()
            );
            return crate::EXIT_ERRORS;
        }
    };
    let parsed = mcpo_syntax::parse(&source, FileId(0));
    let text = if parsed.diagnostics.is_empty() {
        mcpo_fmt::format(&source, &parsed.file)
    } else {
        source
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
