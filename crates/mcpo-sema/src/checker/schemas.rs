//! Servers, resource types and tools: `"<server>.<type>"` labels and `server::tool` names
//! resolved against the pulled schemas' catalogs and the workspace's adapters, with
//! did-you-mean for the names that resolve to nothing.

use super::{Cx, ResolvedType, list_names};
use crate::names::split_type;
use crate::server_catalog::{Catalog, catalog};
use crate::suggest;
use mcpo_diagnostics::{Span, codes};
use mcpo_schema::Ty;
use std::collections::BTreeSet;

impl<'db> Cx<'db> {
    pub(super) fn catalog(&mut self, server: &str) -> Option<&'db Catalog> {
        if let Some(c) = self.catalogs.get(server) {
            return *c;
        }
        let db = self.db;
        let found = self
            .ws
            .schemas(db)
            .iter()
            .find(|s| s.server(db) == server)
            .map(|s| catalog(db, *s));
        self.catalogs.insert(server.to_string(), found);
        found
    }

    pub(super) fn server_known(&mut self, server: &str) -> bool {
        self.index.decls.contains_key(&format!("server.{server}"))
            || self.catalog(server).is_some()
            || self
                .index
                .names_with_prefix(&format!("adapter.{server}."))
                .next()
                .is_some()
    }

    pub(super) fn server_names(&self) -> Vec<String> {
        let db = self.db;
        let mut names: BTreeSet<String> = self
            .index
            .names_with_prefix("server.")
            .map(str::to_string)
            .collect();
        for s in self.ws.schemas(db) {
            names.insert(s.server(db).clone());
        }
        names.into_iter().collect()
    }

    /// The tool a `data` block reads when its type names one of the server's tools rather
    /// than a resource type (`data "fs.read_text_file" "motd"`): its (input, output).
    pub(super) fn data_tool(&mut self, server: &str, ty: &str) -> Option<(Ty, Ty)> {
        if self.adapter_type(server, ty).is_some() {
            return None;
        }
        let cat = self.catalog(server)?;
        if cat.resource_types.contains_key(ty) {
            return None;
        }
        cat.tools
            .get(ty)
            .map(|t| (t.input.clone(), t.output.clone()))
    }

    /// What a reference `data.<server>.<tool>.<name>` reads when the data block reads a
    /// tool: the tool's result.
    pub(super) fn data_tool_output(&mut self, prefix: &str, server: &str, ty: &str) -> Option<Ty> {
        if prefix != "data" {
            return None;
        }
        self.data_tool(server, ty).map(|(_, o)| o)
    }

    /// Checks a `"<server>.<type>"` label; returns the server's catalog and the type's
    /// input and output types when they are known.
    pub(super) fn resource_type(
        &mut self,
        label: &mcpo_syntax::ast::BlockLabel,
        what: &str,
    ) -> Option<ResolvedType> {
        let text = label.value();
        let span = label.span();
        let Some((server, ty)) = split_type(text) else {
            self.error(
                codes::E0114,
                span,
                format!("a {what} type is written `\"<server>.<type>\"`"),
            )
            .label(format!("`{text}` names no server"))
            .emit();
            return None;
        };
        let (server, ty) = (server.to_string(), ty.to_string());
        let server_span = Span::new(
            span.start as usize + 1,
            span.start as usize + 1 + server.len(),
        );
        let type_span = Span::new(
            server_span.end as usize + 1,
            span.end.saturating_sub(1) as usize,
        );
        // An adapter block defines the type (and overrides the convention).
        if let Some((input, output)) = self.adapter_type(&server, &ty) {
            let origin = format!("the `inputs` of adapter `{server}.{ty}`");
            return Some((server, ty, Some((input, output, origin))));
        }
        if !self.server_known(&server) {
            let names = self.server_names();
            let hint = suggest::best(&server, names.iter().map(String::as_str)).map(str::to_string);
            self.error(
                codes::E0101,
                server_span,
                format!("unknown server `{server}`"),
            )
            .label("no `server` block or pulled schema has this name")
            .suggest(hint, server_span)
            .emit();
            return Some((server, ty, None));
        }
        let Some(cat) = self.catalog(&server) else {
            // Declared but never pulled: `mcpoc check` reports the missing schema itself.
            return Some((server, ty, None));
        };
        if cat.error.is_some() {
            return Some((server, ty, None));
        }
        if let Some(rt) = cat.resource_types.get(&ty) {
            let origin = format!("the inputSchema of `{server}` tool `{}`", rt.create_tool);
            return Some((
                server.clone(),
                ty,
                Some((rt.input.clone(), rt.output.clone(), origin)),
            ));
        }
        let hint =
            suggest::best(&ty, cat.resource_types.keys().map(String::as_str)).map(str::to_string);
        let listed: Vec<&str> = cat.resource_types.keys().map(String::as_str).collect();
        let mut b = self
            .error(
                codes::E0102,
                type_span,
                format!("server `{server}` has no resource type `{ty}`"),
            )
            .label(format!(
                "no tool `{ty}.create` in the pulled schema of `{server}`"
            ));
        if hint.is_some() {
            b = b.suggest(hint, type_span);
        } else if !listed.is_empty() {
            b = b.help(format!("its types are {}", list_names(&listed)));
        }
        b.emit();
        Some((server, ty, None))
    }

    /// The (input, output) types of `server`'s tool, reporting unknown servers and tools.
    pub(super) fn tool_type(
        &mut self,
        server: &str,
        tool: &str,
        tool_span: Span,
        server_span: Span,
    ) -> Option<(Ty, Ty)> {
        if !self.server_known(server) {
            let names = self.server_names();
            let hint = suggest::best(server, names.iter().map(String::as_str)).map(str::to_string);
            self.error(
                codes::E0101,
                server_span,
                format!("unknown server `{server}`"),
            )
            .label("no `server` block or pulled schema has this name")
            .suggest(hint, server_span)
            .emit();
            return None;
        }
        let cat = self.catalog(server)?;
        if cat.error.is_some() {
            return None;
        }
        if let Some(t) = cat.tools.get(tool) {
            return Some((t.input.clone(), t.output.clone()));
        }
        let hint = suggest::best(tool, cat.tools.keys().map(String::as_str)).map(str::to_string);
        self.error(
            codes::E0112,
            tool_span,
            format!("server `{server}` has no tool `{tool}`"),
        )
        .label("not in the server's pulled schema")
        .suggest(hint, tool_span)
        .emit();
        None
    }

    /// Whether `tool` is annotated `readOnlyHint: true` or listed in the `server` block's
    /// `read_only_tools`.
    pub(super) fn read_only(&mut self, server: &str, tool: &str) -> bool {
        if self
            .catalog(server)
            .and_then(|c| c.tools.get(tool))
            .is_some_and(|t| t.read_only)
        {
            return true;
        }
        crate::read_only_tools(self.db, self.ws)
            .get(server)
            .is_some_and(|tools| tools.contains(tool))
    }
}
