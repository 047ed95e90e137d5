//! A module's `mcpo.toml`: what a publishable module says about itself.

use serde::{Deserialize, Serialize};

/// The `[module]` table of a module's `mcpo.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Manifest {
    /// `namespace/name` as published (`stdlib/<name>` for the standard library).
    pub name: String,
    /// The version, `major.minor.patch`.
    pub version: String,
    /// One paragraph about the module.
    #[serde(default)]
    pub description: String,
    /// The servers its patterns need, by the names its resources use.
    #[serde(default)]
    pub servers: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    module: Option<Manifest>,
}

impl Manifest {
    /// Reads the `[module]` table of an `mcpo.toml`'s text; `Ok(None)` when it has none
    /// (a workspace's `mcpo.toml` declares servers, not a module).
    pub fn parse(text: &str) -> Result<Option<Manifest>, String> {
        let f: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
        Ok(f.module)
    }
}
