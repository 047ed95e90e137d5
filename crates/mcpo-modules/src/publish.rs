//! `mcpoc publish`: a module directory (with `mcpo.toml`) as a versioned archive with its
//! checksum in a static registry (a directory any HTTP server or object store can serve).

use crate::archive;
use crate::manifest::Manifest;
use crate::registry::{Listed, ModuleIndex, Published, RegistryIndex};
use crate::source::{Source, Version};
use mcpo_diagnostics::FileId;
use std::path::{Path, PathBuf};

/// What was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// `namespace/name`.
    pub name: String,
    /// The version.
    pub version: String,
    /// The archive written.
    pub archive: PathBuf,
    /// Hex SHA-256 of the archive.
    pub sha256: String,
    /// Whether this exact archive was already published (nothing written).
    pub unchanged: bool,
}

impl std::fmt::Display for Publication {
    /// What `mcpoc publish` reports: the archive written, or that it was already there.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, version, sha) = (&self.name, &self.version, &self.sha256);
        if self.unchanged {
            write!(f, "{name} {version} was already published ({sha})")
        } else {
            let archive = self.archive.display();
            write!(f, "published {name} {version} -> {archive} (sha256 {sha})")
        }
    }
}

/// Which files of a module directory are published: its top-level `.mcpo` files,
/// `mcpo.toml` and Markdown files.
fn publishable(name: &str) -> bool {
    !name.contains('/') && (name.ends_with(".mcpo") || name == "mcpo.toml" || name.ends_with(".md"))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            format!(
                "cannot create `{}`: {}",
                parent.display(),
                crate::load::reason(&e)
            )
        })?;
    }
    // Written beside, then renamed: a reader never sees half an index.
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            format!(
                "cannot write `{}`: {}",
                path.display(),
                crate::load::reason(&e)
            )
        })
}

fn read_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| format!("`{}` is not a registry index: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(format!(
            "cannot read `{}`: {}",
            path.display(),
            crate::load::reason(&e)
        )),
    }
}

/// Publishes the module in `dir` into the registry directory `registry`.
pub fn publish(dir: &Path, registry: &Path) -> Result<Publication, String> {
    let toml = std::fs::read_to_string(dir.join("mcpo.toml")).map_err(|e| {
        format!(
            "`{}` has no readable mcpo.toml ({}): a module says its name and version there",
            dir.display(),
            crate::load::reason(&e)
        )
    })?;
    let m: Manifest = Manifest::parse(&toml)?
        .ok_or("mcpo.toml has no `[module]` table (name, version, description, servers)")?;
    if !matches!(Source::parse(&m.name), Ok(Source::Registry { .. })) {
        return Err(format!(
            "module name `{}` must be `<namespace>/<name>` (letters, digits, '_', '-')",
            m.name
        ));
    }
    let version = Version::parse(&m.version)
        .filter(|v| v.to_string() == m.version.trim())
        .ok_or_else(|| format!("version `{}` must be `major.minor.patch`", m.version))?;
    let files: archive::Files = archive::read_dir(dir)?
        .into_iter()
        .filter(|(p, _)| publishable(p))
        .collect();
    let mut patterns = 0;
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with(".mcpo")) {
        let text =
            String::from_utf8(bytes.clone()).map_err(|_| format!("`{path}` is not UTF-8"))?;
        let parsed = mcpo_syntax::parse(&text, FileId(0));
        if let Some(d) = parsed.diagnostics.first() {
            return Err(format!(
                "`{path}` has syntax errors ({}): run `mcpoc check` on the module",
                d.message
            ));
        }
        patterns += parsed
            .file
            .body
            .items
            .iter()
            .filter(|i| matches!(i, mcpo_syntax::ast::BodyItem::Block(b) if b.ty.name == "pattern"))
            .count();
    }
    if patterns == 0 {
        return Err("the module declares no `pattern` block".into());
    }
    let bytes = archive::pack(&files)?;
    let sha256 = archive::sha256_hex(&bytes);
    let module_dir = registry.join(&m.name);
    let file = format!("{version}.tar.gz");
    let path = module_dir.join(&file);
    let index_path = module_dir.join("index.json");
    let mut index: ModuleIndex = read_json(&index_path)?;
    index.name = m.name.clone();
    if let Some(existing) = index
        .versions
        .iter()
        .find(|p| p.version == m.version.trim())
    {
        if existing.sha256 == sha256 {
            return Ok(Publication {
                name: m.name,
                version: version.to_string(),
                archive: path,
                sha256,
                unchanged: true,
            });
        }
        return Err(format!(
            "{} {version} is already published with other content; a published version never changes: raise `version` in mcpo.toml",
            m.name
        ));
    }
    write(&path, &bytes)?;
    index.versions.push(Published {
        version: version.to_string(),
        archive: file,
        sha256: sha256.clone(),
        content_hash: archive::content_hash(&files),
        description: m.description.clone(),
        servers: m.servers.clone(),
    });
    index
        .versions
        .sort_by_key(|p| Version::parse(&p.version).unwrap_or(Version(0, 0, 0)));
    let text = serde_json::to_vec_pretty(&index).map_err(|e| e.to_string())?;
    write(&index_path, &text)?;
    let top_path = registry.join("index.json");
    let mut top: RegistryIndex = read_json(&top_path)?;
    let latest = index
        .versions
        .last()
        .map_or(version.to_string(), |p| p.version.clone());
    top.modules.retain(|l| l.name != m.name);
    top.modules.push(Listed {
        name: m.name.clone(),
        latest,
        description: m.description.clone(),
    });
    top.modules.sort_by(|a, b| a.name.cmp(&b.name));
    let text = serde_json::to_vec_pretty(&top).map_err(|e| e.to_string())?;
    write(&top_path, &text)?;
    Ok(Publication {
        name: m.name,
        version: version.to_string(),
        archive: path,
        sha256,
        unchanged: false,
    })
}
