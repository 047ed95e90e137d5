//! The salsa inputs: source files, schema files, and the workspace that groups them with
//! `mcpo.lock`, the environment and the discovered servers.

#![expect(
    missing_docs,
    reason = "salsa generates undocumented constructors and setters"
)]

use mcpo_diagnostics::FileId;
use mcpo_schema::ServerIdentity;
use std::collections::BTreeMap;
use std::ffi::OsString;

/// One source file: its id in the caller's source map, its display name and its text.
#[salsa::input(debug)]
pub struct SourceFile {
    /// The id stamped on this file's diagnostics.
    #[returns(copy)]
    pub id: FileId,
    /// The display name (a path relative to the workspace root).
    #[returns(ref)]
    pub name: String,
    /// The text.
    #[returns(ref)]
    pub text: String,
}

/// The text of one pulled schema file (`.mcpo/schemas/<server>.json`).
#[salsa::input(debug)]
pub struct SchemaFile {
    /// The server's name (the file name without `.json`).
    #[returns(ref)]
    pub server: String,
    /// The file's display name, for messages.
    #[returns(ref)]
    pub name: String,
    /// The JSON text.
    #[returns(ref)]
    pub text: String,
}

/// The files and schemas checked together, and what `server` blocks are checked against.
///
/// `lock`, `env` and `discovered` default to empty: a front end that checks servers
/// (`mcpoc check`, the language server) sets them; `Workspace::new` leaves them out.
#[salsa::input(debug)]
pub struct Workspace {
    /// The source files, in a stable order.
    #[returns(ref)]
    pub files: Vec<SourceFile>,
    /// The pulled schemas, sorted by server name.
    #[returns(ref)]
    pub schemas: Vec<SchemaFile>,
    /// The text of `mcpo.lock`; `None` when the workspace has none.
    #[default]
    #[returns(ref)]
    pub lock: Option<String>,
    /// The environment that `env("NAME")` reads in `server` blocks.
    #[default]
    #[returns(ref)]
    pub env: EnvVars,
    /// What discovery (`mcpo.toml`, `MCPO_SERVER_*`, editor configurations) declares, by
    /// server name: the identities that `server` blocks without `command` or `url` are
    /// checked against. The front end runs discovery; the checker does no I/O.
    #[default]
    #[returns(ref)]
    pub discovered: BTreeMap<String, ServerIdentity>,
    /// The modules its `use` blocks name by `source`, as the front end loaded them (from
    /// the embedded standard library, a local directory or the module cache). The checker
    /// reads no files: a `use` whose module is not here is reported at the use.
    #[default]
    #[returns(ref)]
    pub modules: Vec<Module>,
}

/// A module one `use` names: its files as a workspace of their own (so its pattern names
/// are its own, never the user's), or why it could not be loaded.
#[salsa::input(debug)]
pub struct Module {
    /// What the `use` blocks that name it compute with [`crate::use_link`] (source,
    /// version constraint and server mapping).
    #[returns(ref)]
    pub link: String,
    /// Where it came from, for messages (`stdlib/iot_edge`, `acme/web 1.2.3`, `modules/web`).
    #[returns(ref)]
    pub origin: String,
    /// Its files, checked against the using workspace's schemas (under the pattern's own
    /// server names when the `use` maps them). `None` when it could not be loaded.
    #[returns(copy)]
    pub workspace: Option<Workspace>,
    /// Why it could not be loaded (not fetched, content changed since it was locked, ...).
    #[returns(ref)]
    pub problem: Option<String>,
}

/// Environment variables by name. Its `Debug` shows the names only: values may be secrets.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct EnvVars(pub BTreeMap<String, String>);

impl std::fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl EnvVars {
    /// The variables of `std::env::vars_os()`. Those whose name or value is not UTF-8
    /// cannot be named in a `.mcpo` file and are left out.
    pub fn from_os(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        vars.into_iter()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }
}

impl FromIterator<(String, String)> for EnvVars {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        EnvVars(iter.into_iter().collect())
    }
}
