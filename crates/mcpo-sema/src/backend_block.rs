//! The `backend` block: where the workspace's state lives.
//!
//! ```hcl
//! backend "postgres" {
//!   url  = env("MCPO_PG_URL")   # any expression that needs no server
//!   name = "prod"               # one database holds many states; default "default"
//! }
//! ```
//!
//! Either kind may encrypt what it stores (the state, its history, saved plans):
//!
//! ```hcl
//! backend "local" {
//!   encryption {
//!     passphrase = env("MCPO_STATE_PASSPHRASE")   # or: key_file = "/run/secrets/mcpo.key"
//!   }
//! }
//! ```
//!
//! Without a block the state is the local file (`backend "local" {}` says so explicitly).
//! Like a `server` block, it is evaluated before anything else exists: literals,
//! templates, `env("NAME")` (from [`Workspace::env`]) and built-in functions that read no
//! files; anything else is E0511, as are an unknown kind or attribute and a second block.
//! An `env(...)` that is not set where the workspace is checked is not an error here (a
//! checkout may be checked without the database's address): the value is a
//! [`Setting::Unset`], and opening the backend reports it.

use crate::server_blocks::{Early, EnvIo, evaluate, why_unknown};
use crate::value::Val;
use crate::{Setting, SourceFile, Workspace, parse};
use mcpo_diagnostics::{Diagnostic, FileId, Span, codes};
use mcpo_syntax::ast::{Block, BlockLabel, BodyItem};

/// The kinds of backend, as written in the block's label.
pub const BACKEND_KINDS: &[&str] = &["local", "postgres"];

/// The state's name when a `postgres` block names none.
pub const DEFAULT_STATE_NAME: &str = "default";

/// The workspace's `backend` block, evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendDecl {
    /// The file that declares it.
    pub file: FileId,
    /// The block's first line (`backend "postgres"`), where problems found when opening it
    /// point.
    pub header: Span,
    /// Which backend, with its settings.
    pub kind: BackendKind,
    /// Its `encryption` block, if any.
    pub encryption: Option<EncryptionDecl>,
}

/// An `encryption` block: the key everything the backend stores is sealed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionDecl {
    /// The block's `encryption` keyword, where problems found when opening it point.
    pub span: Span,
    /// Where the key comes from.
    pub key: KeySource,
}

/// Where an `encryption` block's key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `passphrase`: stretched into the key (its value, or why it is not known here).
    Passphrase(Setting),
    /// `key_file`: a file holding the key (relative to the workspace root unless
    /// absolute), read when the backend is opened.
    KeyFile(String),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The passphrase itself never appears in a debug print.
        match self {
            KeySource::Passphrase(Setting::Value(_)) => f.write_str("Passphrase(..)"),
            KeySource::Passphrase(unset) => write!(f, "Passphrase({unset:?})"),
            KeySource::KeyFile(path) => write!(f, "KeyFile({path:?})"),
        }
    }
}

/// A backend and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendKind {
    /// `.mcpo/state/` in the workspace.
    Local,
    /// A PostgreSQL database.
    Postgres {
        /// `url`: a `postgresql://` URL or `key=value` connection string.
        url: Setting,
        /// `name`: which of the database's states ([`DEFAULT_STATE_NAME`] by default).
        name: String,
    },
}

impl BackendKind {
    /// The kind as written in the block's label.
    pub fn label(&self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::Postgres { .. } => "postgres",
        }
    }
}

/// The workspace's backend: the first valid block (none: the local file), and what is
/// wrong with the blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkspaceBackend {
    /// The declared backend; `None` when the workspace has no (valid) `backend` block.
    pub decl: Option<BackendDecl>,
    /// E0511 for invalid and extra blocks.
    pub diagnostics: Vec<Diagnostic>,
}

/// The workspace's `backend` block (memoized; re-runs when a file or the environment
/// changes).
#[salsa::tracked(returns(ref))]
pub fn backend(db: &dyn salsa::Database, ws: Workspace) -> WorkspaceBackend {
    let mut out = WorkspaceBackend::default();
    let mut first: Option<(FileId, Span)> = None;
    for file in ws.files(db) {
        let file: SourceFile = *file;
        let id = file.id(db);
        for item in &parse(db, file).file.body.items {
            let BodyItem::Block(b) = item else { continue };
            if b.ty.name != "backend" {
                continue;
            }
            let header = header_of(b);
            if first.is_some() {
                out.diagnostics.push(
                    Diagnostic::error(codes::E0511, id, header, "invalid backend block")
                        .with_primary_label("a workspace has one `backend` block; this is another")
                        .with_help("keep one `backend` block for the whole workspace"),
                );
                continue;
            }
            first = Some((id, header));
            if let Some(decl) = backend_block(ws.env(db), id, b, &mut out.diagnostics) {
                out.decl = Some(decl);
            }
        }
    }
    out
}

fn header_of(b: &Block) -> Span {
    b.ty.span
        .cover(b.labels.last().map(BlockLabel::span).unwrap_or(b.ty.span))
}

const HELP: &str =
    "a backend block takes literals, templates, `env(\"NAME\")` and built-in functions";

fn backend_block(
    env: &crate::EnvVars,
    file: FileId,
    b: &Block,
    diags: &mut Vec<Diagnostic>,
) -> Option<BackendDecl> {
    let header = header_of(b);
    let invalid = |span: Span, label: String| {
        Diagnostic::error(codes::E0511, file, span, "invalid backend block")
            .with_primary_label(label)
    };
    let [label] = b.labels.as_slice() else {
        diags.push(
            invalid(
                header,
                "a backend block has exactly one label, its kind".into(),
            )
            .with_help("write `backend \"postgres\" { ... }` or `backend \"local\" {}`"),
        );
        return None;
    };
    let kind = label.value();
    if !BACKEND_KINDS.contains(&kind) {
        diags.push(
            invalid(label.span(), format!("`{kind}` is not a kind of backend"))
                .with_help("the kinds are `local` (the default) and `postgres`"),
        );
        return None;
    }
    let io = EnvIo(env);
    let mut encryption: Option<EncryptionDecl> = None;
    let mut url: Option<Setting> = None;
    let mut name: Option<String> = None;
    let mut ok = true;
    for item in &b.body.items {
        match item {
            BodyItem::Attribute(a) => {
                let allowed: &[&str] = if kind == "postgres" {
                    &["url", "name"]
                } else {
                    &[]
                };
                let key = a.name.name.as_str();
                if !allowed.contains(&key) {
                    let what = if allowed.is_empty() {
                        format!("a `{kind}` backend takes no attributes")
                    } else {
                        format!(
                            "a `{kind}` backend has no attribute `{key}`; it takes {}",
                            allowed
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        )
                    };
                    diags.push(invalid(a.name.span, what));
                    ok = false;
                    continue;
                }
                let val = match evaluate(&a.value, &io, Early::Backend) {
                    Ok(v) => v,
                    Err((span, why)) => {
                        diags.push(invalid(span, why).with_help(HELP));
                        ok = false;
                        continue;
                    }
                };
                match (key, val.unmarked()) {
                    ("url", Val::String(s)) => url = Some(Setting::Value(s.clone())),
                    ("url", Val::Unknown) => {
                        let (span, message) = why_unknown(&a.value, &io);
                        url = Some(Setting::Unset { message, span });
                    }
                    ("name", Val::String(s)) => match check_name(s) {
                        Ok(()) => name = Some(s.clone()),
                        Err(why) => {
                            diags.push(invalid(a.value.span, why));
                            ok = false;
                        }
                    },
                    ("name", Val::Unknown) => {
                        let (span, why) = why_unknown(&a.value, &io);
                        diags.push(
                            invalid(span, why)
                                .with_help("the state's name must be known wherever the workspace is checked: write it as a literal"),
                        );
                        ok = false;
                    }
                    _ => {
                        diags.push(invalid(a.span, format!("`{key}` must be a string")));
                        ok = false;
                    }
                }
            }
            BodyItem::Block(inner) if inner.ty.name == "encryption" && encryption.is_none() => {
                match encryption_block(&io, file, inner, diags) {
                    Some(e) => encryption = Some(e),
                    None => ok = false,
                }
            }
            BodyItem::Block(inner) => {
                let what = if inner.ty.name == "encryption" {
                    "a backend has one `encryption` block; this is another".to_string()
                } else {
                    format!(
                        "a `{kind}` backend has no `{}` block; it may have an `encryption` block",
                        inner.ty.name
                    )
                };
                diags.push(invalid(inner.ty.span, what));
                ok = false;
            }
            BodyItem::Error(_) => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let kind = match kind {
        "postgres" => {
            let Some(url) = url else {
                diags.push(
                    invalid(header, "a `postgres` backend needs `url`".into())
                        .with_help("add `url = env(\"MCPO_PG_URL\")` and set MCPO_PG_URL to a postgresql:// URL"),
                );
                return None;
            };
            BackendKind::Postgres {
                url,
                name: name.unwrap_or_else(|| DEFAULT_STATE_NAME.to_string()),
            }
        }
        _ => BackendKind::Local,
    };
    Some(BackendDecl {
        file,
        header,
        kind,
        encryption,
    })
}

/// The `encryption` block: exactly one of `passphrase` and `key_file`.
fn encryption_block(
    io: &EnvIo<'_>,
    file: FileId,
    b: &Block,
    diags: &mut Vec<Diagnostic>,
) -> Option<EncryptionDecl> {
    let invalid = |span: Span, label: String| {
        Diagnostic::error(codes::E0511, file, span, "invalid backend block")
            .with_primary_label(label)
    };
    let before = diags.len();
    if !b.labels.is_empty() {
        diags.push(invalid(
            b.ty.span,
            "an `encryption` block has no labels".into(),
        ));
    }
    let mut key: Option<KeySource> = None;
    for item in &b.body.items {
        match item {
            BodyItem::Attribute(a) => {
                let name = a.name.name.as_str();
                if !["passphrase", "key_file"].contains(&name) {
                    diags.push(invalid(
                        a.name.span,
                        format!("an `encryption` block has no attribute `{name}`; it takes `passphrase` or `key_file`"),
                    ));
                    continue;
                }
                if key.is_some() {
                    diags.push(
                        invalid(a.name.span, "the key is given twice".into())
                            .with_help("give either `passphrase` or `key_file`, not both"),
                    );
                    continue;
                }
                let val = match evaluate(&a.value, io, Early::Backend) {
                    Ok(v) => v,
                    Err((span, why)) => {
                        diags.push(invalid(span, why).with_help(HELP));
                        continue;
                    }
                };
                match (name, val.unmarked()) {
                    ("passphrase", Val::String(s)) if s.is_empty() => {
                        diags.push(invalid(a.value.span, "the passphrase is empty".into()));
                    }
                    ("passphrase", Val::String(s)) => {
                        key = Some(KeySource::Passphrase(Setting::Value(s.clone())));
                    }
                    ("passphrase", Val::Unknown) => {
                        let (span, message) = why_unknown(&a.value, io);
                        key = Some(KeySource::Passphrase(Setting::Unset { message, span }));
                    }
                    ("key_file", Val::String(s)) if !s.is_empty() => {
                        key = Some(KeySource::KeyFile(s.clone()));
                    }
                    ("key_file", Val::Unknown) => {
                        let (span, why) = why_unknown(&a.value, io);
                        diags.push(invalid(span, why).with_help(
                            "the key file's path must be known wherever the workspace is checked: write it as a literal",
                        ));
                    }
                    _ => diags.push(invalid(
                        a.span,
                        format!("`{name}` must be a non-empty string"),
                    )),
                }
            }
            BodyItem::Block(inner) => diags.push(invalid(
                inner.ty.span,
                format!("an `encryption` block has no `{}` block", inner.ty.name),
            )),
            BodyItem::Error(_) => return None,
        }
    }
    if diags.len() > before {
        return None;
    }
    let Some(key) = key else {
        diags.push(
            invalid(b.ty.span, "an `encryption` block needs `passphrase` or `key_file`".into())
                .with_help("add `passphrase = env(\"MCPO_STATE_PASSPHRASE\")`, or `key_file = \"...\"` naming a file with a 32-byte key"),
        );
        return None;
    };
    Some(EncryptionDecl {
        span: b.ty.span,
        key,
    })
}

/// A state's name: 1 to 200 printable characters.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the state's `name` is empty".into());
    }
    if name.chars().count() > 200 {
        return Err("the state's `name` is longer than 200 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("the state's `name` holds a control character".into());
    }
    Ok(())
}
