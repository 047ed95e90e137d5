//! The salsa inputs: source files, schema files and the workspace that groups them.

#![expect(
    missing_docs,
    reason = "salsa generates undocumented constructors and setters"
)]

use mcpo_diagnostics::FileId;

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

/// The files and schemas checked together.
#[salsa::input(debug)]
pub struct Workspace {
    /// The source files, in a stable order.
    #[returns(ref)]
    pub files: Vec<SourceFile>,
    /// The pulled schemas, sorted by server name.
    #[returns(ref)]
    pub schemas: Vec<SchemaFile>,
}
