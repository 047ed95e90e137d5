//! `mcpoc convert`: a JSON deployment template to `.mcpo` source, written beside it.

use std::path::{Path, PathBuf};

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
    let text = match mcpo_deploy::load::template_source(start, &json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: `{}` is not a deployment template: {e}",
                file.display()
            );
            return crate::EXIT_ERRORS;
        }
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
