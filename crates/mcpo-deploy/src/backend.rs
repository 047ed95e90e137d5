//! The workspace's state backend: what its `backend` block declares (the local file when
//! there is none), opened. Every command that touches the state comes here, so a
//! workspace's state is in the same place for `apply`, `state list` and the rest.
//!
//! PostgreSQL (`mcpo-state-pg`) is compiled in with the `postgres` feature (on in
//! `mcpoc`); without it a `postgres` block is refused with a clear message.

use crate::error::{DeployError, Problem};
use crate::files;
use crate::load::Checked;
use mcpo_diagnostics::{Diagnostic, Sources, codes};
use mcpo_sema::{BackendDecl, BackendKind, Database, KeySource, Setting, Workspace};
use mcpo_state::crypt::{Encryption, Secret};
use mcpo_state::{Backend, LocalBackend, State, StateError};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The local state of the workspace at `root` (`.mcpo/state/`), whatever its block says.
pub fn local(root: &Path) -> Arc<dyn Backend> {
    Arc::new(LocalBackend::new(root))
}

/// The backend a checked workspace declares, opened (connected, for a database).
pub fn of_checked(checked: &Checked) -> Result<Arc<dyn Backend>, DeployError> {
    declared(
        &checked.db,
        checked.workspace,
        &checked.root,
        &checked.sources,
    )
}

/// The backend declared by the workspace in `db`, opened. An invalid `backend` block is
/// reported with its diagnostics (E0511).
pub fn declared(
    db: &Database,
    ws: Workspace,
    root: &Path,
    sources: &Sources,
) -> Result<Arc<dyn Backend>, DeployError> {
    let block = mcpo_sema::backend(db, ws);
    if block.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(invalid_block(block.diagnostics.clone(), sources));
    }
    match &block.decl {
        None => Ok(local(root)),
        Some(decl) => open_decl(decl, root, sources),
    }
}

/// The backend of the workspace at `root` for the commands that only read or edit the
/// state (`state list`, `output`, ...): its `.mcpo` files are read for the `backend`
/// block alone, so a workspace with errors elsewhere can still show its state.
pub fn for_workspace(root: &Path) -> Result<Arc<dyn Backend>, DeployError> {
    match workspace_decl(root)? {
        (None, _) => Ok(local(root)),
        (Some(decl), sources) => open_decl(&decl, root, &sources),
    }
}

/// The `backend` block of the workspace at `root` (read without checking the rest), and
/// the sources it points into. An invalid block is reported (E0511).
fn workspace_decl(root: &Path) -> Result<(Option<BackendDecl>, Sources), DeployError> {
    let mut sources = Sources::new();
    let Ok(found) = files::collect(&[root.to_path_buf()]) else {
        return Ok((None, sources));
    };
    let mut diags = Vec::new();
    let loaded =
        files::load(&found, &mut sources, &mut diags).map_err(|e| Problem::uncoded(e).usage())?;
    // Deployment templates declare no backend.
    let ids: Vec<_> = loaded
        .iter()
        .filter(|f| !files::is_template(&f.path))
        .map(|f| f.id)
        .collect();
    let (db, ws) = crate::load::sources_database(&ids, &sources);
    let block = mcpo_sema::backend(&db, ws);
    if block.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(invalid_block(block.diagnostics.clone(), &sources));
    }
    Ok((block.decl.clone(), sources))
}

fn invalid_block(diagnostics: Vec<Diagnostic>, sources: &Sources) -> DeployError {
    DeployError::Diagnostics {
        diagnostics,
        sources: sources.clone(),
        then: Some(
            Problem::new(
                codes::E0511,
                "the `backend` block is invalid (above), so the state cannot be found; nothing was read or changed",
            )
            .help("fix the block, then run the command again"),
        ),
    }
}

/// The backend a `backend` block names, opened, with the keys its `encryption` block
/// configures.
pub fn open_decl(
    decl: &BackendDecl,
    root: &Path,
    sources: &Sources,
) -> Result<Arc<dyn Backend>, DeployError> {
    let keys = keys_of(decl, root, sources)?;
    open_with(decl, root, sources, keys)
}

/// The keys of the workspace at `root` (its `backend` block's `encryption`), for what is
/// stored beside the state: saved plans. `None` when it configures no encryption.
pub fn keys(root: &Path) -> Result<Option<Arc<Encryption>>, DeployError> {
    match workspace_decl(root)? {
        (None, _) => Ok(None),
        (Some(decl), sources) => keys_of(&decl, root, &sources),
    }
}

/// The keys an `encryption` block configures: its passphrase (which must be set) or the
/// key in its key file (which must hold one). E0515 otherwise, pointing at the block.
pub fn keys_of(
    decl: &BackendDecl,
    root: &Path,
    sources: &Sources,
) -> Result<Option<Arc<Encryption>>, DeployError> {
    Ok(secret_of(decl, root, sources)?.map(|s| Arc::new(Encryption::new(s))))
}

/// The secret an `encryption` block configures (see [`keys_of`]).
fn secret_of(
    decl: &BackendDecl,
    root: &Path,
    sources: &Sources,
) -> Result<Option<Secret>, DeployError> {
    let Some(enc) = &decl.encryption else {
        return Ok(None);
    };
    let refuse =
        |span: mcpo_diagnostics::Span, label: String, help: &str| DeployError::Diagnostics {
            diagnostics: vec![
                Diagnostic::error(codes::E0515, decl.file, span, "state key missing or wrong")
                    .with_primary_label(label)
                    .with_help(help.to_string()),
            ],
            sources: sources.clone(),
            then: None,
        };
    let secret = match &enc.key {
        KeySource::Passphrase(Setting::Value(p)) => Secret::Passphrase(p.clone()),
        KeySource::Passphrase(Setting::Unset { message, span }) => {
            return Err(refuse(
                *span,
                format!(
                    "{message}: the state is encrypted with this passphrase, so nothing can be read or written without it"
                ),
                "set the variable to the state's passphrase",
            ));
        }
        KeySource::KeyFile(path) => {
            let full = root.join(path);
            let bytes = std::fs::read(&full).map_err(|e| {
                refuse(
                    enc.span,
                    format!(
                        "the key file `{path}` cannot be read: {}",
                        crate::files::io_reason(&e)
                    ),
                    "point `key_file` at the file holding the state's key",
                )
            })?;
            Secret::from_key_file(&bytes).map_err(|why| {
                refuse(
                    enc.span,
                    format!("the key file `{path}` holds no key: {why}"),
                    "make one with `openssl rand -base64 32 > FILE` (and keep it safe: without it the state cannot be read)",
                )
            })?
        }
    };
    Ok(Some(secret))
}

/// The backend `decl` names, opened with `keys`.
fn open_with(
    decl: &BackendDecl,
    root: &Path,
    sources: &Sources,
    keys: Option<Arc<Encryption>>,
) -> Result<Arc<dyn Backend>, DeployError> {
    match &decl.kind {
        BackendKind::Local => Ok(local_with(root, keys)),
        BackendKind::Postgres { url, name } => {
            let url = match url {
                Setting::Value(v) => v,
                Setting::Unset { message, span } => {
                    return Err(DeployError::Diagnostics {
                        diagnostics: vec![
                            Diagnostic::error(
                                codes::E0511,
                                decl.file,
                                *span,
                                "invalid backend block",
                            )
                            .with_primary_label(message.clone())
                            .with_help(
                                "set it to the database's postgresql:// URL: the state lives there",
                            ),
                        ],
                        sources: sources.clone(),
                        then: None,
                    });
                }
            };
            postgres(url, name, keys)
        }
    }
}

/// The local state of the workspace at `root`, sealed with `keys` when given.
fn local_with(root: &Path, keys: Option<Arc<Encryption>>) -> Arc<dyn Backend> {
    let backend = LocalBackend::new(root);
    match keys {
        Some(keys) => Arc::new(backend.with_encryption(keys)),
        None => Arc::new(backend),
    }
}

#[cfg(feature = "postgres")]
fn postgres(
    url: &str,
    name: &str,
    keys: Option<Arc<Encryption>>,
) -> Result<Arc<dyn Backend>, DeployError> {
    let backend = mcpo_state_pg::PgBackend::connect(url, name)?;
    Ok(match keys {
        Some(keys) => Arc::new(backend.with_encryption(keys)),
        None => Arc::new(backend),
    })
}

#[cfg(not(feature = "postgres"))]
fn postgres(
    _url: &str,
    _name: &str,
    _keys: Option<Arc<Encryption>>,
) -> Result<Arc<dyn Backend>, DeployError> {
    Err(Problem::new(
        codes::E0512,
        "the workspace keeps its state in PostgreSQL, but this build of mcpo has no PostgreSQL support",
    )
    .help("use an mcpoc built with the `postgres` feature (the released one is)")
    .into())
}

/// Where `mcpoc state migrate --to` moves a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateTo {
    /// From the database the `backend` block names to `.mcpo/state/`.
    Local,
    /// From `.mcpo/state/` to the database the `backend` block names.
    Postgres,
}

impl std::str::FromStr for MigrateTo {
    type Err = String;

    fn from_str(text: &str) -> Result<MigrateTo, String> {
        match text {
            "local" => Ok(MigrateTo::Local),
            "postgres" => Ok(MigrateTo::Postgres),
            other => Err(format!(
                "`{other}` is not a backend: migrate `--to local` or `--to postgres`"
            )),
        }
    }
}

/// A `--lock-timeout` value: how long to wait for the holder of the state lock (`30s`,
/// `5m`, `1h`; `0` fails at once).
pub fn lock_timeout(text: &str) -> Result<std::time::Duration, String> {
    if text.trim() == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    mcpo_plan::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration: write it like `30s`, `5m` or `1h`"))
}

/// What [`migrate`] moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Where the state was read.
    pub from: String,
    /// Where it was written.
    pub to: String,
    /// Its lineage and serial, the same in both places.
    pub lineage: String,
    /// Its serial.
    pub serial: u64,
    /// How many resources it records.
    pub resources: usize,
    /// How many earlier versions came with it.
    pub versions: usize,
}

impl std::fmt::Display for Migrated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "moved the state (lineage {}, serial {}, {} resources, {} earlier versions) from {} to {}\n\
             {} was left as it is; remove it once the workspace works from {}",
            self.lineage,
            self.serial,
            self.resources,
            self.versions,
            self.from,
            self.to,
            self.from,
            self.to
        )
    }
}

/// Copies the state, with its history, between the local file and the database the
/// workspace's `backend "postgres"` block names. Both are locked for the copy. The target
/// must hold no state (E0513); the source is left as it is. Waits up to `wait` for another
/// holder of either lock.
pub fn migrate(root: &Path, to: MigrateTo, wait: Duration) -> Result<Migrated, DeployError> {
    let (decl, sources) = workspace_decl(root)?;
    let Some(decl) = decl.filter(|d| matches!(d.kind, BackendKind::Postgres { .. })) else {
        return Err(Problem::new(
            codes::E0511,
            "the workspace has no `backend \"postgres\"` block, so there is no database to migrate to or from",
        )
        .help("add `backend \"postgres\" { url = env(\"MCPO_PG_URL\") }` to the workspace, then migrate")
        .usage()
        .into());
    };
    // Both ends are sealed with the workspace's key, when it configures one.
    let keys = keys_of(&decl, root, &sources)?;
    let database = open_with(&decl, root, &sources, keys.clone())?;
    let local = local_with(root, keys);
    let (source, target) = match to {
        MigrateTo::Postgres => (local, database),
        MigrateTo::Local => (database, local),
    };
    copy_state(
        source.as_ref(),
        target.as_ref(),
        "mcpoc state migrate",
        wait,
    )
}

/// Copies `source`'s state and history into `target`, which must hold none; both locked,
/// waiting up to `wait` for another holder.
pub fn copy_state(
    source: &dyn Backend,
    target: &dyn Backend,
    command: &str,
    wait: Duration,
) -> Result<Migrated, DeployError> {
    let info = mcpo_state::LockInfo::current(command);
    let _source_lock = source.lock_wait(info.clone(), wait)?;
    let _target_lock = target.lock_wait(info, wait)?;
    let there = target.read()?;
    if there.serial != 0 || !there.resources.is_empty() {
        return Err(StateError::TargetNotEmpty {
            location: target.location(),
            detail: format!(
                "lineage {}, serial {}, {} resources",
                there.lineage,
                there.serial,
                there.resources.len()
            ),
        }
        .into());
    }
    let current = source.read()?;
    if current.serial == 0 {
        return Err(Problem::new(
            codes::E0513,
            format!(
                "{} holds no state yet: there is nothing to migrate",
                source.location()
            ),
        )
        .usage()
        .into());
    }
    let mut history: Vec<State> = Vec::new();
    for serial in source.history()? {
        history.push(source.read_version(serial)?);
    }
    target.adopt(&history, &current)?;
    Ok(Migrated {
        from: source.location(),
        to: target.location(),
        lineage: current.lineage.clone(),
        serial: current.serial,
        resources: current.resources.len(),
        versions: history.len(),
    })
}

/// What [`rekey`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rekeyed {
    /// Where the state is.
    pub location: String,
    /// How many versions (the current one and the history) were sealed with the new key.
    pub versions: usize,
}

impl std::fmt::Display for Rekeyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "encrypted {} version(s) of the state at {} with the key the workspace configures now; the old key no longer opens them",
            self.versions, self.location
        )
    }
}

/// The key being replaced, for [`rekey`]: a passphrase read from an environment variable,
/// or a key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldKey {
    /// The state was not encrypted yet (or only partly): plaintext versions are sealed.
    None,
    /// `--old-passphrase-env NAME`: the passphrase in that variable.
    PassphraseEnv(String),
    /// `--old-key-file PATH`.
    KeyFile(std::path::PathBuf),
}

impl OldKey {
    /// The old key as `--old-passphrase-env` and `--old-key-file` give it (the passphrase
    /// first), or [`OldKey::None`] without either.
    pub fn given(passphrase_env: Option<String>, key_file: Option<std::path::PathBuf>) -> OldKey {
        match (passphrase_env, key_file) {
            (Some(name), _) => OldKey::PassphraseEnv(name),
            (None, Some(path)) => OldKey::KeyFile(path),
            (None, None) => OldKey::None,
        }
    }
}

/// Seals every version of the workspace's state (the current one and the history) with
/// the key its `encryption` block configures now, opening them with `old` (or the new key,
/// or as plaintext). Under the lock, waiting up to `wait` for another holder. A version that
/// opens with neither key is E0515 and nothing was written.
pub fn rekey(root: &Path, old: &OldKey, wait: Duration) -> Result<Rekeyed, DeployError> {
    let (decl, sources) = workspace_decl(root)?;
    let decl = decl.filter(|d| d.encryption.is_some()).ok_or_else(|| {
        Problem::new(
            codes::E0515,
            "the workspace configures no key to encrypt the state with",
        )
        .help("add `encryption { passphrase = env(\"MCPO_STATE_PASSPHRASE\") }` (or `key_file`) to the `backend` block with the new key, then run `mcpoc state rekey` with the old one")
        .usage()
    })?;
    let older = match old {
        OldKey::None => None,
        OldKey::PassphraseEnv(name) => match std::env::var(name) {
            Ok(p) if !p.is_empty() => Some(Secret::Passphrase(p)),
            _ => {
                return Err(Problem::new(
                    codes::E0515,
                    format!("the old passphrase's variable {name} is not set; nothing was read or written"),
                )
                .usage()
                .into());
            }
        },
        OldKey::KeyFile(path) => {
            let bytes = std::fs::read(root.join(path)).map_err(|e| {
                Problem::new(
                    codes::E0515,
                    format!(
                        "the old key file `{}` cannot be read: {}; nothing was read or written",
                        path.display(),
                        crate::files::io_reason(&e)
                    ),
                )
                .usage()
            })?;
            Some(Secret::from_key_file(&bytes).map_err(|why| {
                Problem::new(
                    codes::E0515,
                    format!("the old key file `{}` holds no key: {why}", path.display()),
                )
                .usage()
            })?)
        }
    };
    let keys = secret_of(&decl, root, &sources)?.map(|new| {
        let keys = Encryption::new(new);
        Arc::new(match older {
            Some(o) => keys.also_opening(o),
            None => keys,
        })
    });
    let backend = open_with(&decl, root, &sources, keys)?;
    let _lock = backend.lock_wait(mcpo_state::LockInfo::current("mcpoc state rekey"), wait)?;
    let versions = backend.reseal()?;
    Ok(Rekeyed {
        location: backend.location(),
        versions,
    })
}
