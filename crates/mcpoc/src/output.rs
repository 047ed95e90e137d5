//! Printing diagnostics: human reports on stderr, or on stdout one JSON document (and for
//! `check`, GitHub workflow commands or a SARIF log).

use clap::ValueEnum;
use mcpo_diagnostics::{Diagnostic, SourceMap, render};
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

/// How `mcpoc check` prints diagnostics: [`Format`]'s two, or one of the formats for CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CheckFormat {
    /// Reports for people, on stderr (coloured on a terminal).
    #[default]
    Human,
    /// One JSON document on stdout: `{"version":1,"diagnostics":[...]}`.
    Json,
    /// GitHub Actions workflow commands on stdout (annotations on a pull request).
    Github,
    /// A SARIF 2.1.0 log on stdout (code scanning).
    Sarif,
}

/// Prints `diags` (sorted) in `format`.
pub fn print_check(diags: &mut [Diagnostic], sources: &dyn SourceMap, format: CheckFormat) {
    match format {
        CheckFormat::Human => print(diags, sources, Format::Human),
        CheckFormat::Json => print(diags, sources, Format::Json),
        CheckFormat::Github => {
            mcpo_diagnostics::sort(diags);
            print!("{}", mcpo_diagnostics::github::to_string(diags, sources));
        }
        CheckFormat::Sarif => {
            mcpo_diagnostics::sort(diags);
            println!(
                "{}",
                mcpo_diagnostics::sarif::to_string(diags, sources, env!("CARGO_PKG_VERSION"))
            );
        }
    }
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
            if let Some(line) = render::counts(diags) {
                eprintln!("{line}");
            }
        }
    }
}
