//! The mcpo grammar for [tree-sitter](https://tree-sitter.github.io/): HCL native syntax
//! as mcpo uses it (blocks, attributes, every expression, templates and heredocs).
//!
//! ```
//! let mut parser = tree_sitter::Parser::new();
//! parser.set_language(&tree_sitter_mcpo::LANGUAGE.into()).unwrap();
//! let tree = parser.parse("locals { app = \"store\" }\n", None).unwrap();
//! assert!(!tree.root_node().has_error());
//! ```

use tree_sitter_language::LanguageFn;

extern "C" {
    fn tree_sitter_mcpo() -> *const ();
}

/// The tree-sitter language of mcpo.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_mcpo) };

/// The node types (src/node-types.json).
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");

/// The highlight query (queries/highlights.scm).
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// The folding query (queries/folds.scm).
pub const FOLDS_QUERY: &str = include_str!("../../queries/folds.scm");
