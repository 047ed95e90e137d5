//! The subcommands that work on source files: `check`, `fmt`, `explain`.

use crate::output::{self, CheckFormat, Format};
use crate::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use mcpo_deploy::files;
use mcpo_diagnostics::{Code, Diagnostic, FileId, SourceMap, Sources};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `mcpoc check`: parses every file and reports diagnostics.
///
/// Besides syntax, `check` reports `server` blocks whose pulled schema is missing or
/// stale (E0301/E0302; reads `mcpo.lock` and `.mcpo/schemas/` only) and runs the type
/// checker (`mcpo-sema`) against the pulled schemas, unless `--syntax-only` is given.
pub fn check(paths: &[PathBuf], syntax_only: bool, format: CheckFormat) -> u8 {
    let mut checked = match diagnose(paths, syntax_only, &BTreeMap::new()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    output::print_check(&mut checked.diags, &checked.sources, format);
    if checked.diags.iter().any(Diagnostic::is_error) {
        EXIT_ERRORS
    } else {
        EXIT_OK
    }
}

/// What `check` found: the sources read, the `.mcpo` files among them (path and id; not
/// the deployment templates), and every diagnostic (unsorted).
pub struct Checked {
    /// Every file read, and the `.mcpo` source of converted templates.
    pub sources: Sources,
    /// The `.mcpo` files checked, with their ids in `sources`.
    pub files: Vec<(PathBuf, FileId)>,
    /// The diagnostics, in any order.
    pub diags: Vec<Diagnostic>,
}

/// What `check` prints and `fix` applies the suggestions of, for the files under `paths`
/// (`overrides`: texts to check instead of what is on disk). `Err` is the exit code of a
/// usage or I/O error, already reported.
pub fn diagnose(
    paths: &[PathBuf],
    syntax_only: bool,
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<Checked, u8> {
    let report = mcpo_deploy::load::check_paths(paths, syntax_only, overrides)
        .map_err(|p| crate::report::problem(&p))?;
    for note in &report.notes {
        eprintln!("warning: {note}");
    }
    Ok(Checked {
        sources: report.sources,
        files: report.files,
        diags: report.diagnostics,
    })
}

/// `mcpoc fmt`: formats files in place, or with `check` only lists those that would change.
pub fn fmt(paths: &[PathBuf], check: bool) -> u8 {
    if paths.len() == 1 && paths.first().is_some_and(|p| p.as_os_str() == "-") {
        return fmt_stdin(check);
    }
    let files = match files::collect(paths) {
        Ok(f) => f,
        Err(e) => return usage_error(&e.to_string()),
    };
    // JSON deployment templates are not formatted (they are not mcpo source).
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| !files::is_template(f))
        .collect();
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let loaded = match files::load(&files, &mut sources, &mut diags) {
        Ok(l) => l,
        Err(e) => return usage_error(&e),
    };
    let mut unformatted = 0usize;
    let mut io_failed = false;
    for file in loaded.iter().filter(|f| f.utf8) {
        let Some(formatted) = format_one(file.id, &sources, &mut diags) else {
            continue;
        };
        if formatted == sources.text(file.id) {
            continue;
        }
        unformatted += 1;
        if check {
            println!("{}", sources.name(file.id));
        } else if let Err(e) = write_atomically(&file.path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", file.path.display());
            io_failed = true;
        } else {
            println!("{}", sources.name(file.id));
        }
    }
    let had_errors = diags.iter().any(Diagnostic::is_error);
    if !diags.is_empty() {
        output::print(&mut diags, &sources, Format::Human);
    }
    if io_failed {
        EXIT_USAGE
    } else if had_errors || (check && unformatted > 0) {
        EXIT_ERRORS
    } else {
        EXIT_OK
    }
}

/// Parses and formats one file; `None` (with diagnostics added) if it has syntax errors.
fn format_one(id: FileId, sources: &Sources, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let text = sources.text(id);
    let parsed = mcpo_syntax::parse(text, id);
    if parsed.diagnostics.iter().any(Diagnostic::is_error) {
        diags.extend(parsed.diagnostics);
        return None;
    }
    Some(mcpo_fmt::format(text, &parsed.file))
}

fn fmt_stdin(check: bool) -> u8 {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        return usage_error(&format!("cannot read stdin: {}", files::io_reason(&e)));
    }
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let file = files::load_bytes(Path::new("<stdin>"), bytes, &mut sources, &mut diags);
    let formatted = if file.utf8 {
        format_one(file.id, &sources, &mut diags)
    } else {
        None
    };
    match formatted {
        Some(text) => {
            if check {
                return if text == sources.text(file.id) {
                    EXIT_OK
                } else {
                    println!("<stdin>");
                    EXIT_ERRORS
                };
            }
            let _ = std::io::stdout().write_all(text.as_bytes());
            EXIT_OK
        }
        None => {
            output::print(&mut diags, &sources, Format::Human);
            EXIT_ERRORS
        }
    }
}

/// Replaces a file's contents atomically (temp file in the same directory, fsync, rename),
/// keeping its permissions, so an interrupted `fmt` never leaves a half-written file.
pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.mcpoc-fmt.{}", std::process::id()));
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

/// `mcpoc explain`: prints a code's explanation, or lists every code.
pub fn explain(code: Option<&str>) -> u8 {
    match code {
        None => {
            for info in mcpo_diagnostics::codes::ALL {
                println!("{}  {}", info.code, info.summary);
            }
            EXIT_OK
        }
        Some(text) => match Code::parse(text).and_then(Code::info) {
            Some(info) => {
                println!("{}: {}\n\n{}", info.code, info.summary, info.explanation);
                EXIT_OK
            }
            None => usage_error(&format!(
                "unknown diagnostic code `{text}` (run `mcpoc explain` to list them)"
            )),
        },
    }
}

fn usage_error(message: &str) -> u8 {
    eprintln!("error: {message}");
    EXIT_USAGE
}
