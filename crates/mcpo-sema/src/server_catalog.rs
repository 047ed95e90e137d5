//! One server's pulled schema as mcpo types: its resource types (from the convention's
//! `T.create`/`T.read`/... tools) and its tools.

use crate::SchemaFile;
use mcpo_schema::{Attr, ObjectTy, SchemaWarning, ServerSchema, Ty, convert};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A resource type following the convention.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// The name `T` (without the server).
    pub name: String,
    /// The inputs: `T.create`'s `inputSchema` (an object, or `any`).
    pub input: Ty,
    /// What references may read: `T.create`'s (else `T.read`'s) `outputSchema`, plus `id`.
    pub output: Ty,
    /// The tool whose schema gave the inputs (`T.create`), for messages.
    pub create_tool: String,
    /// Whether `T.read` exists (data blocks need it).
    pub has_read: bool,
    /// The create tool's description, shown on hover.
    pub description: Option<String>,
    /// The inputs `T.update` takes (without `id`); `None` when the type has no update
    /// tool, so that any change means a replacement.
    pub updatable: Option<Vec<String>>,
}

impl ResourceType {
    /// The input attributes whose change forces a replacement: those `T.update` does not
    /// take, or every one when there is no `T.update`.
    pub fn force_new(&self) -> Vec<String> {
        let Some(o) = self.input.as_object() else {
            return Vec::new();
        };
        o.attrs
            .keys()
            .filter(|k| {
                self.updatable
                    .as_ref()
                    .is_none_or(|u| !u.iter().any(|n| n == *k))
            })
            .cloned()
            .collect()
    }
}

/// One tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    /// The arguments' type.
    pub input: Ty,
    /// The result's type (`any` without an `outputSchema`).
    pub output: Ty,
    /// `readOnlyHint: true`.
    pub read_only: bool,
    /// The tool's description.
    pub description: Option<String>,
}

/// A server's resource types and tools.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalog {
    /// The server's name.
    pub server: String,
    /// Resource types by name.
    pub resource_types: BTreeMap<String, ResourceType>,
    /// Tools by name.
    pub tools: BTreeMap<String, ToolInfo>,
    /// What degraded to `any`, as (tool, input or output, warning).
    pub warnings: Vec<(String, &'static str, SchemaWarning)>,
    /// Why the file could not be read, if it could not.
    pub error: Option<String>,
}

/// Converts one schema file (memoized per file).
#[salsa::tracked(returns(ref))]
pub fn catalog(db: &dyn salsa::Database, schema: SchemaFile) -> Catalog {
    let mut out = Catalog {
        server: schema.server(db).clone(),
        ..Catalog::default()
    };
    let parsed = match ServerSchema::from_file_text(schema.name(db), schema.text(db)) {
        Ok(p) => p,
        Err(e) => {
            out.error = Some(e.reason);
            return out;
        }
    };
    for tool in &parsed.tools {
        let input = convert(&tool.input_schema);
        for w in input.warnings {
            out.warnings.push((tool.name.clone(), "input", w));
        }
        let output = match &tool.output_schema {
            Some(s) => {
                let c = convert(s);
                for w in c.warnings {
                    out.warnings.push((tool.name.clone(), "output", w));
                }
                c.ty
            }
            None => Ty::Any,
        };
        let read_only = tool
            .annotations
            .as_ref()
            .and_then(|a| a.get("readOnlyHint"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        out.tools.insert(
            tool.name.clone(),
            ToolInfo {
                input: input.ty,
                output,
                read_only,
                description: tool.description.clone(),
            },
        );
    }
    let names: Vec<String> = out
        .tools
        .keys()
        .filter_map(|n| n.strip_suffix(".create").map(str::to_string))
        .collect();
    for name in names {
        let create = out.tools.get(&format!("{name}.create"));
        let read = out.tools.get(&format!("{name}.read"));
        let input = create.map(|c| c.input.clone()).unwrap_or(Ty::Any);
        let output_src = match (create, read) {
            (Some(c), _) if c.output != Ty::Any => c.output.clone(),
            (_, Some(r)) => r.output.clone(),
            _ => Ty::Any,
        };
        let output = with_id(output_src);
        let description = create.and_then(|c| c.description.clone());
        // An update tool whose arguments are not an object is taken to accept everything.
        let updatable = out.tools.get(&format!("{name}.update")).map(|u| {
            let keys = |t: &Ty| -> Option<Vec<String>> {
                t.as_object()
                    .map(|o| o.attrs.keys().filter(|k| *k != "id").cloned().collect())
            };
            keys(&u.input).or_else(|| keys(&input)).unwrap_or_default()
        });
        out.resource_types.insert(
            name.clone(),
            ResourceType {
                create_tool: format!("{name}.create"),
                has_read: read.is_some(),
                description,
                updatable,
                name,
                input,
                output,
            },
        );
    }
    out
}

/// Adds the computed `id` attribute to an output object type.
fn with_id(ty: Ty) -> Ty {
    match ty {
        Ty::Object(o) => {
            let mut o: ObjectTy = (*o).clone();
            o.attrs.entry("id".to_string()).or_insert_with(|| {
                let mut a = Attr::new(Ty::String, true);
                a.description = Some("The resource's id, assigned on create.".to_string());
                a
            });
            Ty::Object(Arc::new(o))
        }
        other => other,
    }
}
