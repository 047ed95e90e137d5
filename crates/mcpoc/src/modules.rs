//! `mcpoc doc`, `get` and `publish`: modules through `mcpo-modules` (and `mcpo-deploy`
//! for the workspace's files); this file only parses arguments and prints.

use crate::{EXIT_OK, EXIT_USAGE};
use std::path::PathBuf;

/// Arguments of `mcpoc doc`.
#[derive(Debug, clap::Args)]
pub struct DocArgs {
    /// The module: `stdlib/<name>` or a module directory. Default: the current directory.
    #[arg(value_name = "MODULE", default_value = ".")]
    module: String,
    /// Write the page to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `mcpoc doc`.
pub fn doc(args: DocArgs) -> u8 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let page = match mcpo_modules::doc::page(&args.module, &cwd) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match args.out {
        None => {
            println!("{page}");
            EXIT_OK
        }
        Some(path) => match std::fs::write(&path, format!("{page}\n")) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                EXIT_USAGE
            }
        },
    }
}

/// Arguments of `mcpoc get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The workspace directory. Default: the workspace around the current directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Move to the newest version each constraint allows (a git ref's current commit)
    /// instead of what mcpo.lock pins, and lock it.
    #[arg(long)]
    update: bool,
}

/// `mcpoc get`.
pub fn get(args: GetArgs) -> u8 {
    let root = args
        .dir
        .unwrap_or_else(|| mcpo_deploy::load::find_root(std::path::Path::new(".")));
    let opts = mcpo_modules::fetch::GetOptions {
        update: args.update,
    };
    match mcpo_deploy::load::get_modules(&root, opts) {
        Ok(got) if got.is_empty() => println!("no git or registry modules to fetch"),
        Ok(got) => got.iter().for_each(|g| println!("{g}")),
        Err(problems) => {
            problems.iter().for_each(|p| eprintln!("error: {p}"));
            return crate::EXIT_ERRORS;
        }
    }
    EXIT_OK
}

/// Arguments of `mcpoc publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The module directory (with its `mcpo.toml`). Default: the current directory.
    #[arg(value_name = "DIR", default_value = ".")]
    module: PathBuf,
    /// The registry's directory (served as static files over HTTP).
    #[arg(long, value_name = "DIR")]
    registry: PathBuf,
}

/// `mcpoc publish`.
pub fn publish(args: PublishArgs) -> u8 {
    match mcpo_modules::publish::publish(&args.module, &args.registry) {
        Ok(p) => println!("{p}"),
        Err(e) => {
            eprintln!("error: {e}");
            return crate::EXIT_ERRORS;
        }
    }
    EXIT_OK
}
