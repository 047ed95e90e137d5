//! Editor features of mcpo over the salsa database, in editor terms.
//!
//! Every feature is a plain function taking the database first, then the [`Workspace`]
//! and the [`SourceFile`] it works in, and byte offsets into that file's text. Results
//! are byte [`Span`]s and [`FileId`]s; converting them to a protocol (lines and UTF-16
//! columns, URIs) is the language server's business (`mcpo-lsp`).
//!
//! Nothing here re-implements a rule of the language: diagnostics come from
//! [`mcpo_sema::check`], names from [`mcpo_sema::index`] and [`mcpo_sema::reference`],
//! types from [`mcpo_sema::catalog`] and [`mcpo_sema::type_at`], the layout from
//! [`mcpo_fmt`].
//!
//! **Architecture invariant:** no LSP types, no I/O, no paths: the caller reads files and
//! sets the database's inputs. Nothing here calls an MCP server.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

mod actions;
mod at;
mod completion;
mod diagnostics;
mod format;
mod hover;
mod navigation;
mod signature;
mod symbols;
mod tokens;

pub use actions::{Action, code_actions};
pub use completion::{Completion, CompletionKind, Completions, completions};
pub use diagnostics::diagnostics;
pub use format::format;
pub use hover::{Hover, hover};
pub use navigation::{RenameError, declaration, definition, prepare_rename, references, rename};
pub use signature::{SignatureHelp, signature_help};
pub use symbols::{Symbol, WorkspaceSymbol, document_symbols, workspace_symbols};
pub use tokens::{Token, TokenKind, semantic_tokens};

use mcpo_diagnostics::{FileId, Span};
use mcpo_sema::{SourceFile, Workspace};

/// A place in a file of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file.
    pub file: FileId,
    /// Where in it.
    pub span: Span,
}

/// One replacement of text in one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TextEdit {
    /// The file.
    pub file: FileId,
    /// The bytes replaced.
    pub span: Span,
    /// What they are replaced with.
    pub text: String,
}

/// The workspace's source file with id `id`, if there is one.
pub fn file_by_id(db: &dyn salsa::Database, ws: Workspace, id: FileId) -> Option<SourceFile> {
    ws.files(db).iter().copied().find(|f| f.id(db) == id)
}
