//! Printing diagnostics: human reports on stderr, or one JSON document on stdout.

use clap::ValueEnum;
use mcpo_diagnostics::{Diagnostic, Severity, SourceMap, render};
use std::io::IsTerminal;

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Reports for people, on stderr (coloured on a terminal).
    #[default]
    Human,
    /// One JSON document on stdout: `{"version":1,"diagnostics":[...]}`.
    Json,
}

/// Whether stderr should get ANSI colours: only on a terminal, and never with `NO_COLOR`.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints `diags` (sorted) in `format`, with a closing summary line for people.
pub fn print(diags: &mut [Diagnostic], sources: &dyn SourceMap, format: Format) {
    mcpo_diagnostics::sort(diags);
    match format {
        Format::Json => println!("{}", mcpo_diagnostics::json::to_string(diags, sources)),
        Format::Human => {
            let text = render::render(
                diags,
                sources,
                render::RenderConfig {
                    color: stderr_color(),
                },
            );
            eprint!("{text}");
            let errors = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let warnings = diags
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .count();
            if errors + warnings > 0 {
                eprintln!("{}", summary(errors, warnings));
            }
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// "2 errors, 1 warning" style summary.
pub fn summary(errors: usize, warnings: usize) -> String {
    match (errors, warnings) {
        (0, w) => plural(w, "warning"),
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}
