//! JSON Schema -> mcpo types (LANGUAGE.md section 3).
//!
//! [`convert`] turns one JSON Schema (a tool's `inputSchema` or `outputSchema`) into a
//! [`Ty`]. It is total: whatever a real server publishes, it returns a type, degrading what
//! it does not understand to [`Ty::Any`] with a [`SchemaWarning`] that says where and why.
//! It never recurses without bound: `$ref` cycles become `any` at the point where the
//! recursion would start again, and nesting deeper than [`MAX_DEPTH`] becomes `any`.
//!
//! Mapping: `type` (also arrays of types; `integer` is a number with the `integer`
//! constraint), `properties`/`required`/`additionalProperties` (objects, or `map(T)` when
//! only `additionalProperties` is given), `items` (`list(T)`, `set(T)` with
//! `uniqueItems`), `prefixItems` and array-valued `items` (tuples), `enum`/`const` (enums of
//! literals), `oneOf`/`anyOf` (unions; Pydantic's `anyOf [T, {type: null}]` is `T`, made
//! optional by the enclosing object), `allOf` (objects merged), `$ref` to `#/$defs/..`,
//! `#/definitions/..` or any JSON pointer in the same document. `description`, `default`
//! and the constraints (`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
//! `minLength`, `maxLength`, `pattern`, `format`, `minItems`, `maxItems`) are kept on the
//! attribute for hover and literal checks.
//!
//! An object that declares `properties` is closed unless `additionalProperties` allows
//! more (JSON Schema's default is open, but then no misspelt attribute could ever be
//! reported; servers that accept extra keys say so with `additionalProperties`).

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Schemas nested deeper than this degrade to `any` (with a warning).
pub const MAX_DEPTH: usize = 48;

/// An mcpo type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// Anything; checks nothing. Also what unsupported schema constructs become.
    Any,
    /// `null` (only as a value's type; unions drop it).
    Null,
    /// `bool`
    Bool,
    /// `number`
    Number,
    /// `string`
    String,
    /// `list(T)`
    List(Box<Ty>),
    /// `set(T)`
    Set(Box<Ty>),
    /// `map(T)`
    Map(Box<Ty>),
    /// `tuple([A, B])`
    Tuple(Vec<Ty>),
    /// `object({a = T, b = optional(U)})`
    Object(Arc<ObjectTy>),
    /// One of a set of literal values (`"pass" | "block"`), from `enum`/`const`.
    Enum(Vec<Value>),
    /// One of several types (`oneOf`/`anyOf`), never containing `null` or another union.
    Union(Vec<Ty>),
    /// `sensitive(T)`: a value that must not be shown.
    Sensitive(Box<Ty>),
}

impl Ty {
    /// An object type from attributes.
    pub fn object(attrs: BTreeMap<String, Attr>) -> Ty {
        Ty::Object(Arc::new(ObjectTy { attrs, extra: None }))
    }

    /// The type under `sensitive(...)`, if any.
    pub fn strip_sensitive(&self) -> &Ty {
        match self {
            Ty::Sensitive(inner) => inner.strip_sensitive(),
            other => other,
        }
    }

    /// Whether the type is, or contains at its top, `sensitive(...)`.
    pub fn is_sensitive(&self) -> bool {
        matches!(self, Ty::Sensitive(_))
    }

    /// The object type, if this is one (through `sensitive`).
    pub fn as_object(&self) -> Option<&ObjectTy> {
        match self.strip_sensitive() {
            Ty::Object(o) => Some(o),
            _ => None,
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Any => f.write_str("any"),
            Ty::Null => f.write_str("null"),
            Ty::Bool => f.write_str("bool"),
            Ty::Number => f.write_str("number"),
            Ty::String => f.write_str("string"),
            Ty::List(t) => write!(f, "list({t})"),
            Ty::Set(t) => write!(f, "set({t})"),
            Ty::Map(t) => write!(f, "map({t})"),
            Ty::Tuple(items) => {
                f.write_str("tuple([")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Ty::Object(o) => {
                f.write_str("object({")?;
                // Long objects are abbreviated: messages must stay readable.
                for (i, (name, attr)) in o.attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if i >= 6 {
                        f.write_str("...")?;
                        break;
                    }
                    if attr.required {
                        write!(f, "{name} = {}", attr.ty)?;
                    } else {
                        write!(f, "{name} = optional({})", attr.ty)?;
                    }
                }
                f.write_str("})")
            }
            Ty::Enum(values) => {
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    if i >= 8 {
                        write!(f, "... ({} more)", values.len() - i)?;
                        break;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            Ty::Union(items) => {
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    if matches!(t, Ty::Union(_) | Ty::Enum(_)) {
                        write!(f, "({t})")?;
                    } else {
                        write!(f, "{t}")?;
                    }
                }
                Ok(())
            }
            Ty::Sensitive(t) => write!(f, "sensitive({t})"),
        }
    }
}

/// An object type: named attributes, and what other keys may hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectTy {
    /// The declared attributes, by name.
    pub attrs: BTreeMap<String, Attr>,
    /// The type of undeclared keys when the object is open (`additionalProperties`);
    /// `None` when it is closed.
    pub extra: Option<Box<Ty>>,
}

impl ObjectTy {
    /// The attribute called `name`.
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.attrs.get(name)
    }
}

/// One attribute of an object type.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    /// Its type.
    pub ty: Ty,
    /// Whether it must be given (`required`).
    pub required: bool,
    /// The schema's `description`, shown on hover.
    pub description: Option<String>,
    /// The schema's `default`, if any.
    pub default: Option<Value>,
    /// Checks on literal values.
    pub constraints: Constraints,
}

impl Attr {
    /// An attribute of type `ty` with nothing else known.
    pub fn new(ty: Ty, required: bool) -> Self {
        Attr {
            ty,
            required,
            description: None,
            default: None,
            constraints: Constraints::default(),
        }
    }
}

/// Constraints a schema puts on values, checked on literals at compile time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Constraints {
    /// `type: integer`.
    pub integer: bool,
    /// `minimum` (or `exclusiveMinimum`, with `exclusive_minimum` set).
    pub minimum: Option<f64>,
    /// `maximum` (or `exclusiveMaximum`, with `exclusive_maximum` set).
    pub maximum: Option<f64>,
    /// Whether `minimum` is exclusive.
    pub exclusive_minimum: bool,
    /// Whether `maximum` is exclusive.
    pub exclusive_maximum: bool,
    /// `minLength`, in characters.
    pub min_length: Option<u64>,
    /// `maxLength`, in characters.
    pub max_length: Option<u64>,
    /// `pattern` (ECMA-262 regular expression; checked where the regex engine accepts it).
    pub pattern: Option<String>,
    /// `format` (informational).
    pub format: Option<String>,
    /// `minItems`.
    pub min_items: Option<u64>,
    /// `maxItems`.
    pub max_items: Option<u64>,
}

impl Constraints {
    /// Whether no constraint is set.
    pub fn is_empty(&self) -> bool {
        *self == Constraints::default()
    }
}

/// Something in a schema that could not be mapped exactly; the type there is `any`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaWarning {
    /// JSON pointer of the construct inside the converted schema, e.g. `/properties/x`.
    pub pointer: String,
    /// What was not understood.
    pub message: String,
}

/// The result of converting one schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The type (always present).
    pub ty: Ty,
    /// The schema's own description and constraints (for the root).
    pub attr: Attr,
    /// What degraded to `any`, in the order found.
    pub warnings: Vec<SchemaWarning>,
}

/// Converts a JSON Schema document into an mcpo type. Never fails, never panics.
pub fn convert(schema: &Value) -> Converted {
    let mut cx = Cx {
        root: schema,
        // The root is being expanded: `{"$ref": "#"}` inside it is a recursion point.
        stack: vec!["#".to_string()],
        warnings: Vec::new(),
    };
    let attr = cx.attr(schema, "", 0, true);
    Converted {
        ty: attr.ty.clone(),
        attr,
        warnings: cx.warnings,
    }
}

struct Cx<'a> {
    root: &'a Value,
    /// `$ref`s being expanded, to cut cycles.
    stack: Vec<String>,
    warnings: Vec<SchemaWarning>,
}

impl<'a> Cx<'a> {
    fn warn(&mut self, pointer: &str, message: impl Into<String>) {
        // Huge schemas can degrade in many places; a few warnings say enough.
        if self.warnings.len() < 64 {
            self.warnings.push(SchemaWarning {
                pointer: if pointer.is_empty() {
                    "/".to_string()
                } else {
                    pointer.to_string()
                },
                message: message.into(),
            });
        }
    }

    /// Converts `node` and gathers what an attribute keeps (description, constraints).
    fn attr(&mut self, node: &'a Value, at: &str, depth: usize, required: bool) -> Attr {
        let ty = self.ty(node, at, depth);
        let mut attr = Attr::new(ty, required);
        if let Value::Object(map) = node {
            self.annotate(map, &mut attr, depth);
            // A value the server accepts but never returns (a password) is a secret:
            // `writeOnly`, or the `password` format.
            let write_only = map.get("writeOnly").and_then(Value::as_bool) == Some(true)
                || map.get("format").and_then(Value::as_str) == Some("password");
            if write_only && !matches!(attr.ty, Ty::Sensitive(_)) {
                attr.ty = Ty::Sensitive(Box::new(attr.ty.clone()));
            }
        }
        attr
    }

    /// Copies description, default and constraints, following a `$ref` and a nullable
    /// `anyOf` to find them (Pydantic puts them on the outer or the inner schema).
    fn annotate(&mut self, map: &'a Map<String, Value>, attr: &mut Attr, depth: usize) {
        if attr.description.is_none() {
            attr.description = map
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if attr.default.is_none() {
            attr.default = map.get("default").cloned();
        }
        let c = &mut attr.constraints;
        let types = type_names(map);
        if types.contains(&"integer") {
            c.integer = true;
        }
        let num = |k: &str| map.get(k).and_then(Value::as_f64);
        let uint = |k: &str| map.get(k).and_then(Value::as_u64);
        if let Some(v) = num("minimum") {
            c.minimum = Some(v);
        }
        if let Some(v) = num("maximum") {
            c.maximum = Some(v);
        }
        if let Some(v) = num("exclusiveMinimum") {
            c.minimum = Some(v);
            c.exclusive_minimum = true;
        }
        if let Some(v) = num("exclusiveMaximum") {
            c.maximum = Some(v);
            c.exclusive_maximum = true;
        }
        if let Some(v) = uint("minLength") {
            c.min_length = Some(v);
        }
        if let Some(v) = uint("maxLength") {
            c.max_length = Some(v);
        }
        if let Some(v) = uint("minItems") {
            c.min_items = Some(v);
        }
        if let Some(v) = uint("maxItems") {
            c.max_items = Some(v);
        }
        if let Some(p) = map.get("pattern").and_then(Value::as_str) {
            c.pattern = Some(p.to_string());
        }
        if let Some(p) = map.get("format").and_then(Value::as_str) {
            c.format = Some(p.to_string());
        }
        if depth > MAX_DEPTH {
            return;
        }
        if let Some(target) = map.get("$ref").and_then(Value::as_str) {
            if self.stack.iter().any(|s| s == target) {
                return;
            }
            if let Some(Value::Object(inner)) = self.resolve(target) {
                self.stack.push(target.to_string());
                self.annotate(inner, attr, depth + 1);
                self.stack.pop();
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(variants)) = map.get(key) {
                let non_null: Vec<&'a Value> =
                    variants.iter().filter(|v| !is_null_schema(v)).collect();
                if let [Value::Object(inner)] = non_null.as_slice() {
                    self.annotate(inner, attr, depth + 1);
                }
            }
        }
    }

    fn resolve(&self, target: &str) -> Option<&'a Value> {
        let pointer = target.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(self.root);
        }
        // JSON pointers escape `~` and `/`; percent-encoding is rare in tool schemas.
        self.root.pointer(pointer)
    }

    fn ty(&mut self, node: &'a Value, at: &str, depth: usize) -> Ty {
        if depth > MAX_DEPTH {
            self.warn(at, format!("nested deeper than {MAX_DEPTH} levels"));
            return Ty::Any;
        }
        let map = match node {
            Value::Bool(_) => return Ty::Any,
            Value::Object(map) => map,
            _ => {
                self.warn(at, "a schema must be an object or a boolean");
                return Ty::Any;
            }
        };
        if let Some(target) = map.get("$ref") {
            return self.reference(target, at, depth);
        }
        if let Some(c) = map.get("const") {
            return literal_enum(std::slice::from_ref(c)).unwrap_or(Ty::Any);
        }
        if let Some(values) = map.get("enum") {
            return match values.as_array().and_then(|v| literal_enum(v)) {
                Some(t) => t,
                None => {
                    self.warn(&format!("{at}/enum"), "an enum of non-literal values");
                    Ty::Any
                }
            };
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(variants) = map.get(key) {
                let Some(variants) = variants.as_array() else {
                    self.warn(&format!("{at}/{key}"), format!("`{key}` is not an array"));
                    return Ty::Any;
                };
                let mut tys = Vec::new();
                for (i, v) in variants.iter().enumerate() {
                    tys.push(self.ty(v, &format!("{at}/{key}/{i}"), depth + 1));
                }
                // A `type` beside the variants (rare) constrains nothing we check.
                return union(tys);
            }
        }
        if let Some(Value::Array(parts)) = map.get("allOf") {
            return self.all_of(map, parts, at, depth);
        }
        let types = type_names(map);
        if types.is_empty() {
            // No `type`: guess from the keywords present.
            if map.contains_key("properties") || map.contains_key("additionalProperties") {
                return self.object(map, at, depth);
            }
            if map.contains_key("items") || map.contains_key("prefixItems") {
                return self.array(map, at, depth);
            }
            return Ty::Any;
        }
        let mut tys = Vec::new();
        for t in types {
            let ty = match t {
                "string" => Ty::String,
                "number" | "integer" => Ty::Number,
                "boolean" => Ty::Bool,
                "null" => Ty::Null,
                "object" => self.object(map, at, depth),
                "array" => self.array(map, at, depth),
                other => {
                    self.warn(&format!("{at}/type"), format!("unknown type `{other}`"));
                    Ty::Any
                }
            };
            tys.push(ty);
        }
        union(tys)
    }

    fn reference(&mut self, target: &'a Value, at: &str, depth: usize) -> Ty {
        let Some(target) = target.as_str() else {
            self.warn(&format!("{at}/$ref"), "`$ref` is not a string");
            return Ty::Any;
        };
        if self.stack.iter().any(|s| s == target) {
            // A recursive type: mcpo types are finite, so the recursion point is `any`.
            return Ty::Any;
        }
        let Some(resolved) = self.resolve(target) else {
            self.warn(
                &format!("{at}/$ref"),
                format!("`{target}` cannot be resolved in this schema"),
            );
            return Ty::Any;
        };
        self.stack.push(target.to_string());
        let ty = self.ty(resolved, target.trim_start_matches('#'), depth + 1);
        self.stack.pop();
        ty
    }

    fn all_of(
        &mut self,
        map: &'a Map<String, Value>,
        parts: &'a [Value],
        at: &str,
        depth: usize,
    ) -> Ty {
        let mut merged = ObjectTy::default();
        let mut any_object = false;
        // The node's own properties count as one more part.
        let own = if map.contains_key("properties") {
            Some(self.object(map, at, depth))
        } else {
            None
        };
        let mut tys: Vec<Ty> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            tys.push(self.ty(part, &format!("{at}/allOf/{i}"), depth + 1));
        }
        tys.extend(own);
        let mut others = Vec::new();
        for t in tys {
            match t {
                Ty::Object(o) => {
                    any_object = true;
                    for (k, v) in &o.attrs {
                        merged.attrs.insert(k.clone(), v.clone());
                    }
                    if o.extra.is_some() {
                        merged.extra = o.extra.clone();
                    }
                }
                Ty::Any => {}
                other => others.push(other),
            }
        }
        match (any_object, others.as_slice()) {
            (true, []) => Ty::Object(Arc::new(merged)),
            (false, [one]) => one.clone(),
            (false, []) => Ty::Any,
            _ => {
                self.warn(
                    &format!("{at}/allOf"),
                    "`allOf` of parts that are not all objects",
                );
                Ty::Any
            }
        }
    }

    fn object(&mut self, map: &'a Map<String, Value>, at: &str, depth: usize) -> Ty {
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let extra = match map.get("additionalProperties") {
            None => None,
            Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => Some(Box::new(Ty::Any)),
            Some(schema) => Some(Box::new(self.ty(
                schema,
                &format!("{at}/additionalProperties"),
                depth + 1,
            ))),
        };
        let props = map.get("properties").and_then(Value::as_object);
        let Some(props) = props else {
            // No declared properties: a map (of `additionalProperties`, or of anything).
            return Ty::Map(extra.unwrap_or(Box::new(Ty::Any)));
        };
        let mut attrs = BTreeMap::new();
        for (name, prop) in props {
            let here = format!("{at}/properties/{}", escape(name));
            let attr = self.attr(prop, &here, depth + 1, required.contains(&name.as_str()));
            attrs.insert(name.clone(), attr);
        }
        // `patternProperties` keys cannot be checked by name; allow them as extras.
        let extra = if map.contains_key("patternProperties") && extra.is_none() {
            Some(Box::new(Ty::Any))
        } else {
            extra
        };
        Ty::Object(Arc::new(ObjectTy { attrs, extra }))
    }

    fn array(&mut self, map: &'a Map<String, Value>, at: &str, depth: usize) -> Ty {
        if let Some(Value::Array(prefix)) = map.get("prefixItems") {
            let mut items = Vec::new();
            for (i, p) in prefix.iter().enumerate() {
                items.push(self.ty(p, &format!("{at}/prefixItems/{i}"), depth + 1));
            }
            return Ty::Tuple(items);
        }
        let item = match map.get("items") {
            None => Ty::Any,
            Some(Value::Array(prefix)) => {
                // Draft-07 tuple form.
                let mut items = Vec::new();
                for (i, p) in prefix.iter().enumerate() {
                    items.push(self.ty(p, &format!("{at}/items/{i}"), depth + 1));
                }
                return Ty::Tuple(items);
            }
            Some(schema) => self.ty(schema, &format!("{at}/items"), depth + 1),
        };
        if map.get("uniqueItems") == Some(&Value::Bool(true)) {
            Ty::Set(Box::new(item))
        } else {
            Ty::List(Box::new(item))
        }
    }
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn type_names(map: &Map<String, Value>) -> Vec<&str> {
    match map.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
        || v.get("const").is_some_and(Value::is_null)
}

/// An enum type from literal values; `None` when a value is an array or object. `null`
/// values are dropped (they make the value optional, which the object records).
fn literal_enum(values: &[Value]) -> Option<Ty> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        match v {
            Value::Null => {}
            Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            _ => return None,
        }
    }
    if out.is_empty() {
        return Some(Ty::Null);
    }
    Some(Ty::Enum(out))
}

/// A union of types: flattened, `null` and duplicates dropped, `any` absorbing, one member
/// unwrapped.
pub fn union(tys: Vec<Ty>) -> Ty {
    let mut out: Vec<Ty> = Vec::new();
    let mut saw_null = false;
    for t in tys {
        let parts = match t {
            Ty::Union(inner) => inner,
            Ty::Any => return Ty::Any,
            Ty::Null => {
                saw_null = true;
                continue;
            }
            other => vec![other],
        };
        for p in parts {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    match out.len() {
        0 if saw_null => Ty::Null,
        0 => Ty::Any,
        1 => out.pop().unwrap_or(Ty::Any),
        _ => Ty::Union(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(v: Value) -> String {
        convert(&v).ty.to_string()
    }

    #[test]
    fn scalars_and_collections() {
        assert_eq!(ty(json!({"type": "string"})), "string");
        assert_eq!(ty(json!({"type": "integer"})), "number");
        assert_eq!(ty(json!({"type": ["string", "null"]})), "string");
        assert_eq!(ty(json!({"type": ["string", "number"]})), "string | number");
        assert_eq!(
            ty(json!({"type": "array", "items": {"type": "boolean"}})),
            "list(bool)"
        );
        assert_eq!(
            ty(json!({"type": "array", "uniqueItems": true, "items": {"type": "string"}})),
            "set(string)"
        );
        assert_eq!(
            ty(json!({"type": "object", "additionalProperties": {"type": "string"}})),
            "map(string)"
        );
        assert_eq!(ty(json!({})), "any");
        assert_eq!(ty(json!(true)), "any");
        assert_eq!(
            ty(json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]})),
            "tuple([string, number])"
        );
    }

    #[test]
    fn write_only_properties_are_sensitive() {
        let c = convert(&json!({
            "type": "object",
            "properties": {
                "master_password": {"type": "string", "writeOnly": true},
                "token": {"type": "string", "format": "password"},
                "name": {"type": "string"}
            }
        }));
        let Ty::Object(o) = &c.ty else {
            panic!("expected an object, got {:?}", c.ty)
        };
        let ty = |k: &str| o.attrs.get(k).map(|a| a.ty.clone());
        assert_eq!(
            ty("master_password"),
            Some(Ty::Sensitive(Box::new(Ty::String)))
        );
        assert_eq!(ty("token"), Some(Ty::Sensitive(Box::new(Ty::String))));
        assert_eq!(ty("name"), Some(Ty::String));
    }

    #[test]
    fn objects_enums_unions() {
        let c = convert(&json!({
            "type": "object",
            "properties": {
                "action": {"enum": ["pass", "block"], "description": "what to do"},
                "port": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 65535}, {"type": "null"}], "default": null},
                "kind": {"const": "x"}
            },
            "required": ["action"]
        }));
        assert_eq!(
            c.ty.to_string(),
            r#"object({action = "pass" | "block", kind = optional("x"), port = optional(number)})"#
        );
        let o = c.ty.as_object().cloned().unwrap_or_default();
        let port = o.get("port").cloned();
        assert_eq!(
            port.as_ref().and_then(|p| p.constraints.maximum),
            Some(65535.0)
        );
        assert!(port.as_ref().is_some_and(|p| p.constraints.integer));
        assert_eq!(
            o.get("action")
                .and_then(|a| a.description.clone())
                .as_deref(),
            Some("what to do")
        );
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn refs_and_recursion() {
        let c = convert(&json!({
            "$defs": {
                "Node": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
                }}
            },
            "$ref": "#/$defs/Node"
        }));
        assert_eq!(
            c.ty.to_string(),
            "object({children = optional(list(any)), name = optional(string)})"
        );
        let missing = convert(&json!({"$ref": "#/definitions/Nope"}));
        assert_eq!(missing.ty, Ty::Any);
        assert_eq!(missing.warnings.len(), 1);
    }

    #[test]
    fn deep_nesting_degrades_without_overflow() {
        // serde_json refuses documents nested deeper than 128, so that is what a pulled
        // schema can hold; the converter stops at MAX_DEPTH either way.
        let mut text = String::from(r#"{"type": "string"}"#);
        for _ in 0..60 {
            text = format!(r#"{{"type": "array", "items": {text}}}"#);
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let c = convert(&v);
        assert!(c.ty.to_string().starts_with("list(list("));
        assert_eq!(c.warnings.len(), 1);
    }
}
