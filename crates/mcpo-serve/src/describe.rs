//! `describe_type`: a resource type of a server as the checker sees it, from the schema
//! pulled into `.mcpo/schemas/` (never by calling the server): its inputs with their types,
//! whether they are required, their descriptions, enums, defaults and constraints, its
//! outputs, what can change in place, and an example block.

use crate::tools::{AttrInfo, DescribeTypeOut};
use mcpo_deploy::Problem;
use mcpo_schema::{Attr, Ty};
use mcpo_sema::{Database, SchemaFile};
use std::path::Path;

/// What the pulled schema of `server` says of resource type `type_name`.
pub fn describe_type(
    root: &Path,
    server: &str,
    type_name: &str,
) -> Result<DescribeTypeOut, Problem> {
    let pulled = mcpo_schema::read_pulled_schemas(root);
    let Some((srv, name, text)) = pulled.iter().find(|(s, _, _)| s == server) else {
        let known: Vec<String> = pulled.iter().map(|(s, _, _)| format!("`{s}`")).collect();
        let help = if known.is_empty() {
            "no schema is pulled in this workspace: run `mcpoc schema pull` in it".to_string()
        } else {
            format!(
                "the pulled servers are {}; run `mcpoc schema pull` after declaring a new one",
                known.join(", ")
            )
        };
        return Err(Problem::new(
            mcpo_diagnostics::codes::E0101,
            format!("no schema of server `{server}` is pulled in this workspace"),
        )
        .help(help)
        .usage());
    };
    let db = Database::default();
    let file = SchemaFile::new(&db, srv.clone(), name.clone(), text.clone());
    let catalog = mcpo_sema::catalog(&db, file);
    if let Some(e) = &catalog.error {
        return Err(Problem::uncoded(format!(
            "the pulled schema of `{server}` cannot be read: {e}"
        )));
    }
    let Some(rt) = catalog.resource_types.get(type_name) else {
        let types: Vec<&str> = catalog.resource_types.keys().map(String::as_str).collect();
        return Err(Problem::new(
            mcpo_diagnostics::codes::E0102,
            format!("server `{server}` has no resource type `{type_name}`"),
        )
        .help(format!("its resource types are {}", types.join(", ")))
        .usage());
    };
    let inputs = attrs(&rt.input);
    let outputs = attrs(&rt.output);
    let mut example = format!("resource \"{server}.{type_name}\" \"example\" {{\n");
    for a in inputs.iter().filter(|a| a.required) {
        example.push_str(&format!("  {} = {}\n", a.name, placeholder(a)));
    }
    example.push_str("}\n");
    Ok(DescribeTypeOut {
        server: server.to_string(),
        type_name: type_name.to_string(),
        description: rt.description.clone(),
        create_tool: rt.create_tool.clone(),
        inputs,
        outputs,
        updatable: rt.updatable.clone(),
        force_new: rt.updatable.as_ref().map(|_| rt.force_new()),
        example,
    })
}

fn attrs(ty: &Ty) -> Vec<AttrInfo> {
    let Some(obj) = ty.strip_sensitive().as_object() else {
        return Vec::new();
    };
    obj.attrs.iter().map(|(name, a)| attr(name, a)).collect()
}

fn attr(name: &str, a: &Attr) -> AttrInfo {
    let enum_values = match a.ty.strip_sensitive() {
        Ty::Enum(values) => Some(values.clone()),
        _ => None,
    };
    let c = &a.constraints;
    let mut constraints = Vec::new();
    if c.integer {
        constraints.push("integer".to_string());
    }
    if let Some(m) = c.minimum {
        constraints.push(format!(
            "{} {m}",
            if c.exclusive_minimum { ">" } else { ">=" }
        ));
    }
    if let Some(m) = c.maximum {
        constraints.push(format!(
            "{} {m}",
            if c.exclusive_maximum { "<" } else { "<=" }
        ));
    }
    if let Some(m) = c.min_length {
        constraints.push(format!("at least {m} characters"));
    }
    if let Some(m) = c.max_length {
        constraints.push(format!("at most {m} characters"));
    }
    if let Some(p) = &c.pattern {
        constraints.push(format!("matches {p}"));
    }
    if let Some(f) = &c.format {
        constraints.push(format!("format {f}"));
    }
    if let Some(m) = c.min_items {
        constraints.push(format!("at least {m} items"));
    }
    if let Some(m) = c.max_items {
        constraints.push(format!("at most {m} items"));
    }
    AttrInfo {
        name: name.to_string(),
        ty: a.ty.to_string(),
        required: a.required,
        sensitive: a.ty.is_sensitive(),
        description: a.description.clone(),
        default: a.default.clone(),
        enum_values,
        constraints,
    }
}

fn placeholder(a: &AttrInfo) -> String {
    if let Some(first) = a.enum_values.as_ref().and_then(|v| v.first()) {
        return crate::source::literal(first);
    }
    let ty = a.ty.trim_start_matches("sensitive(");
    if ty.starts_with("number") {
        "1".into()
    } else if ty.starts_with("bool") {
        "true".into()
    } else if ty.starts_with("list") || ty.starts_with("set") || ty.starts_with("tuple") {
        "[]".into()
    } else if ty.starts_with("map") || ty.starts_with("object") {
        "{}".into()
    } else {
        format!("\"example-{}\"", a.name.replace('_', "-"))
    }
}
