//! Modules: what a `use` block's `source` names, and how mcpo gets it.
//!
//! - [`source`]: the forms of `source` (the standard library, a local directory, git, a
//!   registry) and version constraints;
//! - [`stdlib`]: the standard library, embedded in the binary;
//! - [`manifest`]: a module's `mcpo.toml` (name, version, description, servers);
//! - [`doc`]: a module as Markdown (`mcpoc doc`);
//! - [`load`]: the modules a workspace's `use` blocks name, read from the standard
//!   library, local directories and the module cache (never the network), checked
//!   against `mcpo.lock`, and turned into the checker's [`mcpo_sema::Module`] inputs.
//!
//! **Architecture invariant:** loading reads files only; the checker never sees a path.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod archive;
pub mod doc;
pub mod fetch;
pub mod load;
pub mod manifest;
pub mod publish;
pub mod registry;
pub mod source;
pub mod stdlib;

pub use load::{
    LoadedModule, ModuleFile, Overlay, inputs, load_modules, load_modules_with, local_module_dirs,
    register, use_links,
};
pub use manifest::Manifest;
pub use source::Source;
