//! `mcpoc get`: fetching git and registry modules into `<root>/.mcpo/modules/` and
//! pinning each in `mcpo.lock` by its exact version and the hash of its content.
//!
//! A module already locked is fetched at its locked version; its content must hash as the
//! lock says, else it is refused ("a changed hash is an error, never a silent update"):
//! `update` takes the newest version the constraint allows (or a git ref's new commit)
//! and records the new hash.

use crate::archive::{self, Files};
use crate::load::{UseRef, uses_of};
use crate::registry;
use crate::source::{Constraint, Source, Version};
use mcpo_schema::{LOCK_FILE, Lockfile, ModuleLock};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `get` did for one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    /// Its key in `mcpo.lock` (source and constraint).
    pub key: String,
    /// The exact version (registry version or git commit).
    pub version: String,
    /// `sha256:<hex>` of its content.
    pub hash: String,
    /// What happened.
    pub action: GotAction,
}

/// What happened to a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GotAction {
    /// Already in the cache as locked.
    Cached,
    /// Fetched at the locked version.
    Fetched,
    /// Fetched and locked for the first time, or at a new version with `update`.
    Locked,
}

impl std::fmt::Display for Got {
    /// One line for `mcpoc get`: `<key>: <version> <what happened> (<hash>)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.action {
            GotAction::Cached => "cached",
            GotAction::Fetched => "fetched",
            GotAction::Locked => "fetched and locked",
        };
        write!(f, "{}: {} {what} ({})", self.key, self.version, self.hash)
    }
}

/// Where a git module's commit is cached.
pub fn git_dir(root: &Path, url: &str, commit: &str) -> PathBuf {
    let h = archive::sha256_hex(url.as_bytes());
    root.join(".mcpo/modules/git")
        .join(h.get(..16).unwrap_or(&h))
        .join(commit)
}

/// Where a registry module's version is cached.
pub fn registry_dir(root: &Path, name: &str, version: &str) -> PathBuf {
    root.join(".mcpo/modules/registry").join(name).join(version)
}

/// The key of a module in `mcpo.lock`: its link without the server mapping.
pub fn lock_key(link: &str) -> String {
    link.split(" [").next().unwrap_or(link).to_string()
}

/// The constraint of a link (`acme/web @ ~> 1.2` -> `~> 1.2`).
pub fn link_constraint(link: &str) -> &str {
    lock_key_ref(link).split_once(" @ ").map_or("", |(_, c)| c)
}

fn lock_key_ref(link: &str) -> &str {
    link.split(" [").next().unwrap_or(link)
}

/// Reads `<root>/mcpo.lock` (an empty lock when there is none).
pub fn read_lock(root: &Path) -> Result<Lockfile, String> {
    match std::fs::read_to_string(root.join(LOCK_FILE)) {
        Ok(t) => Lockfile::from_file_text(&t).map_err(|e| format!("{}: {}", e.file, e.reason)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lockfile::default()),
        Err(e) => Err(format!(
            "cannot read `{LOCK_FILE}`: {}",
            crate::load::reason(&e)
        )),
    }
}

/// Options of [`get`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GetOptions {
    /// Take the newest allowed version (registry) or the ref's current commit (git), and
    /// lock its hash, instead of what `mcpo.lock` pins.
    pub update: bool,
}

/// Fetches every git and registry module the `use` blocks of `texts` (the workspace's
/// own files) name, and the modules those name, then writes `mcpo.lock`. Returns what
/// was done, or every problem found.
pub fn get(root: &Path, texts: &[&str], opts: GetOptions) -> Result<Vec<Got>, Vec<String>> {
    let mut lock = read_lock(root).map_err(|e| vec![e])?;
    let mut refs = Vec::new();
    for t in texts {
        uses_of(t, &mut refs);
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut todo: Vec<(UseRef, Option<PathBuf>)> = refs
        .into_iter()
        .map(|r| (r, Some(root.to_path_buf())))
        .collect();
    let mut seen: Vec<String> = Vec::new();
    while let Some((r, base)) = todo.pop() {
        let key = lock_key(&r.link);
        if seen.len() > 256 {
            problems.push("more than 256 modules: a module that uses itself?".to_string());
            break;
        }
        let source = match Source::parse(&r.source) {
            Ok(s) => s,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        // Local and standard library modules are not fetched, but the modules they
        // name may be.
        match &source {
            Source::Stdlib(_) => {}
            Source::Local(rel) => {
                let Some(b) = &base else { continue };
                let dir = crate::load::join_clean(b, rel);
                if seen.contains(&dir.display().to_string()) {
                    continue;
                }
                seen.push(dir.display().to_string());
                match archive::read_dir(&dir) {
                    Ok(f) => {
                        for (path, bytes) in &f {
                            if path.ends_with(".mcpo") && !path.contains('/') {
                                let mut inner = Vec::new();
                                uses_of(&String::from_utf8_lossy(bytes), &mut inner);
                                todo.extend(inner.into_iter().map(|i| (i, Some(dir.clone()))));
                            }
                        }
                    }
                    Err(e) => problems.push(e),
                }
            }
            Source::Git { url, reference } => {
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key.clone());
                match get_git(root, &key, url, reference, &mut lock, opts) {
                    Ok((got, files, dir)) => {
                        out.push(got);
                        todo.extend(nested(&files, &dir));
                    }
                    Err(e) => problems.push(format!("`{}`: {e}", r.source)),
                }
            }
            Source::Registry { name } => {
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key.clone());
                match get_registry(root, &key, name, link_constraint(&r.link), &mut lock, opts) {
                    Ok((got, files, dir)) => {
                        out.push(got);
                        todo.extend(nested(&files, &dir));
                    }
                    Err(e) => problems.push(format!("`{}`: {e}", r.source)),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Entries no `use` names any more are dropped.
    lock.modules.retain(|k, _| out.iter().any(|g| &g.key == k));
    std::fs::write(root.join(LOCK_FILE), lock.to_file_text()).map_err(|e| {
        vec![format!(
            "cannot write `{LOCK_FILE}`: {}",
            crate::load::reason(&e)
        )]
    })?;
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The `use` blocks of a fetched module's top-level files.
fn nested(files: &Files, dir: &Path) -> Vec<(UseRef, Option<PathBuf>)> {
    let mut refs = Vec::new();
    for (path, bytes) in files {
        if path.ends_with(".mcpo") && !path.contains('/') {
            uses_of(&String::from_utf8_lossy(bytes), &mut refs);
        }
    }
    refs.into_iter()
        .map(|r| (r, Some(dir.to_path_buf())))
        .collect()
}

/// Records `hash` for `key`, or refuses it when the lock says otherwise (and `update` is
/// off or the version is the locked one).
fn settle(
    lock: &mut Lockfile,
    key: &str,
    version: &str,
    hash: &str,
    update: bool,
) -> Result<GotAction, String> {
    match lock.modules.get(key) {
        Some(l) if l.version == version && l.hash != hash => Err(format!(
            "its content changed since it was locked: version {version} hashes to {hash}, but mcpo.lock records {}; find out why before trusting it (republished? a tag moved?), then remove its entry from mcpo.lock to accept the new content",
            l.hash
        )),
        Some(l) if l.version == version => Ok(GotAction::Fetched),
        Some(l) if !update => Err(format!(
            "mcpo.lock pins version {}, but {version} was found; run `mcpoc get --update` to move to it",
            l.version
        )),
        _ => {
            lock.modules.insert(
                key.to_string(),
                ModuleLock {
                    version: version.to_string(),
                    hash: hash.to_string(),
                },
            );
            Ok(GotAction::Locked)
        }
    }
}

fn git(args: &[&str], dir: Option<&Path>) -> Result<String, String> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run git: {e} (is git installed?)"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn get_git(
    root: &Path,
    key: &str,
    url: &str,
    reference: &str,
    lock: &mut Lockfile,
    opts: GetOptions,
) -> Result<(Got, Files, PathBuf), String> {
    // Already cached at the locked commit with the locked hash: nothing to fetch.
    if !opts.update
        && let Some(l) = lock.modules.get(key)
    {
        let dir = git_dir(root, url, &l.version);
        if let Ok(files) = archive::read_dir(&dir)
            && archive::content_hash(&files) == l.hash
        {
            let got = Got {
                key: key.to_string(),
                version: l.version.clone(),
                hash: l.hash.clone(),
                action: GotAction::Cached,
            };
            return Ok((got, files, dir));
        }
    }
    let tmp = root.join(".mcpo/modules/tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(root.join(".mcpo/modules")).map_err(|e| e.to_string())?;
    let tmp_s = tmp.display().to_string();
    let cloned = git(&["clone", "--quiet", "--no-checkout", url, &tmp_s], None);
    let result = cloned.and_then(|_| {
        // The locked commit when there is one, else what the ref names now.
        let target = match lock.modules.get(key) {
            Some(l) if !opts.update => l.version.clone(),
            _ => reference.to_string(),
        };
        git(&["checkout", "--quiet", "--detach", &target], Some(&tmp))
            .map_err(|e| format!("cannot check out `{target}`: {e}"))?;
        let commit = git(&["rev-parse", "HEAD"], Some(&tmp))?;
        let files = archive::read_dir(&tmp)?;
        Ok((commit, files))
    });
    let _ = std::fs::remove_dir_all(&tmp);
    let (commit, files) = result?;
    let hash = archive::content_hash(&files);
    let action = settle(lock, key, &commit, &hash, opts.update)?;
    let dir = git_dir(root, url, &commit);
    archive::write_dir(&dir, &files)?;
    Ok((
        Got {
            key: key.to_string(),
            version: commit,
            hash,
            action,
        },
        files,
        dir,
    ))
}

fn get_registry(
    root: &Path,
    key: &str,
    name: &str,
    constraint: &str,
    lock: &mut Lockfile,
    opts: GetOptions,
) -> Result<(Got, Files, PathBuf), String> {
    let c = Constraint::parse(constraint)?;
    if !opts.update
        && let Some(l) = lock.modules.get(key)
        && Version::parse(&l.version).is_some_and(|v| c.allows(v))
    {
        let dir = registry_dir(root, name, &l.version);
        if let Ok(files) = archive::read_dir(&dir)
            && archive::content_hash(&files) == l.hash
        {
            let got = Got {
                key: key.to_string(),
                version: l.version.clone(),
                hash: l.hash.clone(),
                action: GotAction::Cached,
            };
            return Ok((got, files, dir));
        }
    }
    let registry = registry::registry_of(root).ok_or_else(|| {
        "no registry is configured: set `url` in the `[registry]` table of mcpo.toml, or MCPO_REGISTRY".to_string()
    })?;
    let index = registry::module_index(&registry, name)?;
    let locked = lock
        .modules
        .get(key)
        .filter(|l| !opts.update && Version::parse(&l.version).is_some_and(|v| c.allows(v)))
        .map(|l| l.version.clone());
    let chosen = match &locked {
        Some(v) => index
            .versions
            .iter()
            .find(|p| &p.version == v)
            .ok_or_else(|| format!("the locked version {v} is no longer in the registry"))?,
        None => index.best(&c).ok_or_else(|| {
            let all: Vec<&str> = index.versions.iter().map(|p| p.version.as_str()).collect();
            format!(
                "no version allows `{constraint}`; the registry has {}",
                if all.is_empty() {
                    "none".to_string()
                } else {
                    all.join(", ")
                }
            )
        })?,
    };
    let url = registry::join(&registry, &format!("{name}/{}", chosen.archive));
    let bytes = registry::fetch(&url)?;
    let sum = archive::sha256_hex(&bytes);
    if sum != chosen.sha256 {
        return Err(format!(
            "the archive of version {} was refused: its SHA-256 is {sum}, the registry's index says {}; it was changed after it was published",
            chosen.version, chosen.sha256
        ));
    }
    let files = archive::unpack(&bytes)?;
    let hash = archive::content_hash(&files);
    if hash != chosen.content_hash {
        return Err(format!(
            "the archive of version {} was refused: its content hashes to {hash}, the registry's index says {}",
            chosen.version, chosen.content_hash
        ));
    }
    let action = settle(lock, key, &chosen.version, &hash, true)?;
    let dir = registry_dir(root, name, &chosen.version);
    archive::write_dir(&dir, &files)?;
    Ok((
        Got {
            key: key.to_string(),
            version: chosen.version.clone(),
            hash,
            action,
        },
        files,
        dir,
    ))
}
