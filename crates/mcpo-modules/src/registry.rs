//! The registry: static JSON files any HTTP server or object store can serve.
//!
//! ```text
//! <registry>/index.json                      {"modules": [{"name", "latest", "description"}]}
//! <registry>/<namespace>/<name>/index.json   {"name", "versions": [{"version", "archive", "sha256", ...}]}
//! <registry>/<namespace>/<name>/<version>.tar.gz
//! ```
//!
//! A registry is an `http://` URL, a `file://` URL or a directory.

use crate::source::{Constraint, Version};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One published version of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// `major.minor.patch`.
    pub version: String,
    /// The archive, relative to the module's index.
    pub archive: String,
    /// Hex SHA-256 of the archive's bytes.
    pub sha256: String,
    /// `sha256:<hex>` of the module's content (what `mcpo.lock` records).
    pub content_hash: String,
    /// The module's description.
    #[serde(default)]
    pub description: String,
    /// The servers its patterns need.
    #[serde(default)]
    pub servers: Vec<String>,
}

/// A module's index: every version published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ModuleIndex {
    /// `namespace/name`.
    pub name: String,
    /// Oldest first.
    pub versions: Vec<Published>,
}

impl ModuleIndex {
    /// The newest version `constraint` allows.
    pub fn best(&self, constraint: &Constraint) -> Option<&Published> {
        self.versions
            .iter()
            .filter_map(|p| Some((Version::parse(&p.version)?, p)))
            .filter(|(v, _)| constraint.allows(*v))
            .max_by_key(|(v, _)| *v)
            .map(|(_, p)| p)
    }
}

/// One module in the registry's top index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// `namespace/name`.
    pub name: String,
    /// Its newest version.
    pub latest: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
}

/// The registry's top index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RegistryIndex {
    /// Every module, by name.
    pub modules: Vec<Listed>,
}

/// The registry a workspace uses: `MCPO_REGISTRY`, else `url` in the `[registry]` table of
/// its `mcpo.toml`.
pub fn registry_of(root: &Path) -> Option<String> {
    if let Ok(r) = std::env::var("MCPO_REGISTRY")
        && !r.trim().is_empty()
    {
        return Some(r.trim().to_string());
    }
    #[derive(Deserialize)]
    struct Table {
        url: String,
    }
    #[derive(Deserialize)]
    struct File {
        registry: Option<Table>,
    }
    let text = std::fs::read_to_string(root.join("mcpo.toml")).ok()?;
    let f: File = toml::from_str(&text).ok()?;
    f.registry.map(|t| t.url)
}

/// `base` joined with a relative path.
pub fn join(base: &str, rel: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        rel.trim_start_matches('/')
    )
}

/// The directory of a `file://` URL or a plain path; `None` for `http(s)://`.
fn local(url: &str) -> Option<PathBuf> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return None;
    }
    Some(PathBuf::from(url.strip_prefix("file://").unwrap_or(url)))
}

/// Reads `url` (an `http://` URL, a `file://` URL or a path). Answers larger than 64 MiB
/// are refused.
pub fn fetch(url: &str) -> Result<Vec<u8>, String> {
    if let Some(path) = local(url) {
        return std::fs::read(&path).map_err(|e| {
            format!(
                "cannot read `{}`: {}",
                path.display(),
                crate::load::reason(&e)
            )
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("cannot reach `{url}`: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("`{url}` answered {status}"));
        }
        if resp.content_length().unwrap_or(0) > 64 << 20 {
            return Err(format!("`{url}` is larger than 64 MiB"));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("cannot read `{url}`: {e}"))?;
        Ok(bytes.to_vec())
    })
}

/// The index of module `name` in `registry`.
pub fn module_index(registry: &str, name: &str) -> Result<ModuleIndex, String> {
    let url = join(registry, &format!("{name}/index.json"));
    let bytes = fetch(&url).map_err(|e| format!("module `{name}` is not in the registry: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("`{url}` is not a module index: {e}"))
}
