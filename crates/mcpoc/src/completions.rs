//! `mcpoc completions SHELL` and `mcpoc man`: shell completion scripts and manual pages,
//! generated from the same clap definition that parses the arguments, so they never
//! disagree with the CLI.

use crate::{EXIT_OK, EXIT_USAGE};
use clap::Command;
use std::io::Write;
use std::path::Path;

/// The shells `mcpoc completions` writes scripts for.
pub use clap_complete::Shell;

/// Prints the completion script of `shell` for `cli` on stdout.
pub fn completions(mut cli: Command, shell: Shell) -> u8 {
    let name = cli.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cli, name, &mut out);
    write_stdout(&out)
}

/// Prints the manual page of `cli` (roff) on stdout, or with `dir` writes `mcpoc.1` and
/// one page per subcommand (`mcpoc-check.1`, `mcpoc-state-list.1`, ...) there.
pub fn man(cli: Command, dir: Option<&Path>) -> u8 {
    let Some(dir) = dir else {
        let mut out = Vec::new();
        if let Err(e) = clap_mangen::Man::new(cli).render(&mut out) {
            eprintln!("error: cannot render the manual page: {e}");
            return EXIT_USAGE;
        }
        return write_stdout(&out);
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return EXIT_USAGE;
    }
    // One page per command and subcommand (`mcpoc-state-list.1`), as man(1) finds them.
    if let Err(e) = clap_mangen::generate_to(cli, dir) {
        eprintln!(
            "error: cannot write the manual pages to {}: {e}",
            dir.display()
        );
        return EXIT_USAGE;
    }
    println!("wrote the manual pages to {}", dir.display());
    EXIT_OK
}

fn write_stdout(bytes: &[u8]) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => EXIT_OK,
        // A closed pipe (`mcpoc man | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            EXIT_USAGE
        }
    }
}
