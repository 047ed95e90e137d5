//! The subcommands that work on source files: `check`, `fmt`, `explain`.

use crate::output::{self, CheckFormat, Format};
use crate::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use mcpo_deploy::files;
use mcpo_diagnostics::{Code, Diagnostic, FileId, SourceMap, Sources};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `mcpoc check`: parses every file and reports diagnostics.
///
/// Besides syntax, `check` reports `server` blocks whose pulled schema is missing or
/// stale (E0301/E0302; reads `mcpo.lock` and `.mcpo/schemas/` only) and runs the type
/// checker (`mcpo-sema`) against the pulled schemas, unless `--syntax-only` is given.
pub fn check(paths: &[PathBuf], syntax_only: bool, format: CheckFormat) -> u8 {
    let mut report = match mcpo_deploy::load::check_paths(
        paths,
        syntax_only,
        &std::collections::BTreeMap::new(),
    ) {
        Ok(r) => r,
        Err(p) => return crate::report::problem(&p),
    };
    for note in &report.notes {
        eprintln!("warning: {note}");
    }
    output::print_check(&mut report.diagnostics, &report.sources, format);
    if report.diagnostics.iter().any(Diagnostic::is_error) {
        EXIT_ERRORS
    } else {
        EXIT_OK
    }
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
        } else if let Err(e) = files::write_atomically(&file.path, &formatted) {
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
