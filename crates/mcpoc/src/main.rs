//! `mcpoc`: the mcpo compiler and interpreter.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "mcpoc", version, about = "Deploy across MCP servers from declarative .mcpo files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a twin MCP server (a simulated OPNsense, AWS, Docker or Kubernetes).
    Twin(mcpo_twins::TwinArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Twin(args) => match mcpo_twins::run(args) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::from(2)
            }
        },
    }
}
