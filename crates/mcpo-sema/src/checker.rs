//! Checking one file: blocks against their schemas, expressions against their types.
//!
//! The checker walks the file's tree once. Types of things declared elsewhere come from
//! the workspace [`Index`](crate::Index) (variables, resources, ...), the server
//! [`catalog`]s (resource and tool types) and, for local values, from inferring their
//! expressions (in whatever file declares them, without reporting there).

use crate::builtins::{self, P};
use crate::names::{self, Index, Repeat, Step, Traversal, labels, split_type};
use crate::server_catalog::{Catalog, catalog};
use crate::suggest;
use crate::types::{
    assignable, describe, element, join, literal_ty, object_key, parse_type_expr, taint,
};
use crate::{SourceFile, Workspace, index, parse, signature};
use mcpo_diagnostics::{Code, Diagnostic, FileId, Fix, Span, codes};
use mcpo_schema::{Attr, ObjectTy, Ty};
use mcpo_syntax::ast::{
    BinaryOp, Block, BodyItem, Expr, ExprKind, FunctionCall, Ident, ObjectItem, TemplatePart,
    UnaryOp,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Expressions nested deeper than this are not checked (typed `any`).
const MAX_EXPR_DEPTH: usize = 48;

/// The top-level block types.
pub const TOP_BLOCKS: &[&str] = &[
    "adapter", "data", "function", "locals", "output", "pattern", "resource", "runbook", "server",
    "task", "use", "variable",
];

/// Attributes and blocks every resource may have besides its schema's.
pub const RESOURCE_META: &[&str] = &["count", "depends_on", "for_each", "lifecycle", "wait_for"];

/// Checks one file.
pub(crate) fn check_file(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
) -> Vec<Diagnostic> {
    let parsed = parse(db, file);
    let mut cx = Cx::new(db, ws, file.id(db));
    for item in &parsed.file.body.items {
        if let BodyItem::Block(b) = item {
            cx.top_block(b);
        }
    }
    cx.diags
}

/// The type the checker gives the innermost expression around byte `offset` of `file`,
/// with that expression's span (hover in the language server). Runs the checker on the
/// top-level block holding `offset`, silently; `None` outside any checked expression.
pub fn type_at(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    offset: u32,
) -> Option<(Span, Ty)> {
    let parsed = parse(db, file);
    let mut cx = Cx::new(db, ws, file.id(db));
    cx.quiet = 1;
    cx.probe = Some(offset);
    for item in &parsed.file.body.items {
        if let BodyItem::Block(b) = item
            && b.span.start <= offset
            && offset <= b.span.end
        {
            cx.top_block(b);
        }
    }
    cx.found
}

/// A resolved `"<server>.<type>"`: server, type, and (input, output, where the inputs come
/// from) when known.
type ResolvedType = (String, String, Option<(Ty, Ty, String)>);

/// What names an expression can see besides the workspace's.
#[derive(Debug, Clone, Default)]
struct Scope {
    /// `self` (inside a resource): its input and output types, merged when used.
    self_parts: Option<(Ty, Ty)>,
    /// `count.index` is available.
    count: bool,
    /// `each.value`'s type, when `for_each` is set.
    each: Option<Ty>,
    /// `param.x` (inside a pattern or runbook).
    params: Option<BTreeMap<String, Ty>>,
    /// Bare names: `for` variables and function parameters (innermost last).
    vars: Vec<(String, Ty)>,
    /// Tool calls are allowed (tasks, data, runbook steps, adapters).
    tool_calls: bool,
    /// Inside a `data` block: tool calls must be read-only.
    in_data: bool,
    /// Inside a runbook: the steps before this one and their results' types.
    steps: Option<BTreeMap<String, Ty>>,
    /// Resource addresses declared inside the pattern being checked.
    pattern_resources: BTreeMap<String, (String, String, Repeat)>,
}

/// Where an expected type comes from, for messages.
#[derive(Debug, Clone)]
struct Origin {
    text: String,
}

impl Origin {
    fn new(text: impl Into<String>) -> Self {
        Origin { text: text.into() }
    }
}

struct Cx<'db> {
    db: &'db dyn salsa::Database,
    ws: Workspace,
    file: FileId,
    index: &'db Index,
    diags: Vec<Diagnostic>,
    /// While > 0, diagnostics are dropped (inferring another declaration's type).
    quiet: usize,
    scope: Scope,
    local_types: HashMap<String, Ty>,
    visiting: Vec<String>,
    catalogs: HashMap<String, Option<&'db Catalog>>,
    /// Current nesting of `infer`/`against`.
    depth: usize,
    /// For [`type_at`]: the offset whose innermost inferred expression is wanted.
    probe: Option<u32>,
    /// For [`type_at`]: the innermost expression around `probe` seen so far, and its type.
    found: Option<(Span, Ty)>,
}

impl<'db> Cx<'db> {
    fn new(db: &'db dyn salsa::Database, ws: Workspace, file: FileId) -> Self {
        Cx {
            db,
            ws,
            file,
            index: index(db, ws),
            diags: Vec::new(),
            quiet: 0,
            scope: Scope::default(),
            local_types: HashMap::new(),
            visiting: Vec::new(),
            catalogs: HashMap::new(),
            depth: 0,
            probe: None,
            found: None,
        }
    }

    fn report(&mut self, d: Diagnostic) {
        if self.quiet == 0 {
            self.diags.push(d);
        }
    }

    fn error(
        &mut self,
        code: mcpo_diagnostics::Code,
        span: Span,
        msg: impl Into<String>,
    ) -> DiagBuilder<'_, 'db> {
        DiagBuilder {
            cx: self,
            diag: Some(Diagnostic::error(code, FileId::default(), span, msg)),
        }
    }

    // ----- servers and catalogs -----

    fn catalog(&mut self, server: &str) -> Option<&'db Catalog> {
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

    fn server_known(&mut self, server: &str) -> bool {
        self.index.decls.contains_key(&format!("server.{server}"))
            || self.catalog(server).is_some()
            || self
                .index
                .names_with_prefix(&format!("adapter.{server}."))
                .next()
                .is_some()
    }

    /// The (input, output) types of a resource type defined by an `adapter` block: its
    /// `inputs`, and its `outputs` (each typed by its expression, inferred in the
    /// adapter's scope without reporting there: `tostring(result.x)` is a string) plus
    /// `id`.
    fn adapter_type(&mut self, server: &str, ty: &str) -> Option<(Ty, Ty)> {
        let db = self.db;
        let key = format!("adapter.{server}.{ty}");
        let &(file, i) = self.index.decls.get(&key).and_then(|v| v.first())?;
        let d = signature(db, file).decls.get(i)?.clone();
        let inferred = match parse(db, file).file.body.items.get(d.item) {
            Some(BodyItem::Block(b)) if !self.visiting.contains(&key) => {
                match names::attr(b, "outputs").map(|e| &e.kind) {
                    Some(ExprKind::Object(_)) => {
                        let outputs = names::attr(b, "outputs");
                        self.visiting.push(key.clone());
                        let mut id = BTreeMap::new();
                        id.insert("id".to_string(), Attr::new(Ty::String, true));
                        let saved = std::mem::replace(
                            &mut self.scope,
                            Scope {
                                self_parts: Some((d.ty.clone(), Ty::object(id))),
                                tool_calls: true,
                                vars: vec![("result".to_string(), Ty::Any)],
                                ..Scope::default()
                            },
                        );
                        self.quiet += 1;
                        let t = outputs.map(|o| self.infer(o));
                        self.quiet -= 1;
                        self.scope = saved;
                        self.visiting.pop();
                        t
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let mut attrs = BTreeMap::new();
        for o in &d.outputs {
            let t = match &inferred {
                Some(Ty::Object(obj)) => obj.attrs.get(o).map_or(Ty::Any, |a| a.ty.clone()),
                _ => Ty::Any,
            };
            attrs.insert(o.clone(), Attr::new(t, true));
        }
        attrs.insert("id".to_string(), Attr::new(Ty::String, true));
        Some((d.ty.clone(), Ty::object(attrs)))
    }

    /// The type of output `name` of pattern `pattern`: its value inferred in the pattern's
    /// scope (params and the pattern's own resources), without reporting there.
    fn pattern_output_type(&mut self, pattern: &str, name: &str) -> Ty {
        let db = self.db;
        let key = format!("pattern.{pattern}");
        let Some(&(file, i)) = self.index.decls.get(&key).and_then(|v| v.first()) else {
            return Ty::Any;
        };
        let Some(d) = signature(db, file).decls.get(i) else {
            return Ty::Any;
        };
        let params: BTreeMap<String, Ty> = d
            .params
            .iter()
            .map(|(n, t, _)| (n.clone(), t.clone()))
            .collect();
        let Some(BodyItem::Block(pb)) = parse(db, file).file.body.items.get(d.item) else {
            return Ty::Any;
        };
        let value = pb.body.items.iter().find_map(|it| match it {
            BodyItem::Block(o) if o.ty.name == "output" && labels(o).as_slice() == [name] => {
                names::attr(o, "value")
            }
            _ => None,
        });
        let Some(value) = value else { return Ty::Any };
        let key = format!("{key}.{name}");
        if self.visiting.contains(&key) {
            return Ty::Any;
        }
        self.visiting.push(key);
        let saved = std::mem::replace(
            &mut self.scope,
            Scope {
                params: Some(params),
                pattern_resources: pattern_resources(pb),
                ..Scope::default()
            },
        );
        self.quiet += 1;
        let ty = self.infer(value);
        self.quiet -= 1;
        self.scope = saved;
        self.visiting.pop();
        ty
    }

    fn adapter(&mut self, b: &Block) {
        if !self.expect_labels(b, 2, "a server and a type name") {
            return;
        }
        let mut inputs = Ty::Any;
        if let Some(t) = names::attr(b, "inputs") {
            match parse_type_expr(t) {
                Ok(parsed) => inputs = parsed,
                Err(e) => {
                    self.error(codes::E0204, e.span, "invalid type expression")
                        .label(e.message)
                        .emit();
                }
            }
        }
        let mut id = BTreeMap::new();
        id.insert("id".to_string(), Attr::new(Ty::String, true));
        self.scope.self_parts = Some((inputs, Ty::object(id)));
        self.scope.tool_calls = true;
        self.scope.vars.push(("result".to_string(), Ty::Any));
        for it in &b.body.items {
            match it {
                BodyItem::Attribute(a) if a.name.name == "inputs" => {}
                BodyItem::Attribute(a) if a.name.name == "failed_when" => self.condition(&a.value),
                BodyItem::Attribute(a) if a.name.name == "id" => {
                    // The id names the resource in read, update and delete: a string (or
                    // a number, which converts).
                    let t = self.infer(&a.value);
                    if !assignable(&t, &Ty::String) {
                        self.error(
                            codes::E0201,
                            a.value.span,
                            format!("expected `string`, found {}", describe(&t)),
                        )
                        .label("an adapter's `id` must be a string")
                        .emit();
                    }
                }
                BodyItem::Attribute(a) if a.name.name == "outputs" => {
                    if !matches!(a.value.kind, ExprKind::Object(_)) {
                        let t = self.infer(&a.value);
                        self.error(
                            codes::E0201,
                            a.value.span,
                            format!("expected an object, found {}", describe(&t)),
                        )
                        .label("`outputs` maps each output's name to its expression")
                        .emit();
                    } else {
                        self.infer(&a.value);
                    }
                }
                BodyItem::Attribute(a) => {
                    self.infer(&a.value);
                }
                BodyItem::Block(blk) => {
                    self.error(
                        codes::E0100,
                        blk.ty.span,
                        format!("unknown block type `{}`", blk.ty.name),
                    )
                    .label("an `adapter` holds attributes only")
                    .emit();
                }
                BodyItem::Error(_) => {}
            }
        }
        self.scope = Scope::default();
    }

    fn server_names(&self) -> Vec<String> {
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

    /// Checks a `"<server>.<type>"` label; returns the server's catalog and the type's
    /// input and output types when they are known.
    fn resource_type(
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

    // ----- top-level blocks -----

    fn top_block(&mut self, b: &Block) {
        let name = b.ty.name.as_str();
        self.scope = Scope::default();
        match name {
            "resource" => self.resource(b, false),
            "data" => self.resource(b, true),
            "task" => self.task(b),
            "variable" => self.variable(b),
            "locals" => self.locals(b),
            "output" => self.output(b),
            "use" => self.use_block(b),
            "pattern" => self.pattern(b),
            "function" => self.function(b),
            "runbook" => self.runbook(b),
            "adapter" => self.adapter(b),
            // Server blocks are evaluated by `servers` (E0303).
            "server" => {}
            other => {
                let hint = suggest::best(other, TOP_BLOCKS.iter().copied()).map(str::to_string);
                self.error(
                    codes::E0100,
                    b.ty.span,
                    format!("unknown block type `{other}`"),
                )
                .label("not a top-level block of the language")
                .suggest(hint, b.ty.span)
                .emit();
            }
        }
    }

    fn expect_labels(&mut self, b: &Block, n: usize, shape: &str) -> bool {
        if b.labels.len() == n {
            return true;
        }
        let span = b
            .labels
            .iter()
            .map(|l| l.span())
            .reduce(Span::cover)
            .unwrap_or(b.ty.span);
        self.error(codes::E0114, span, format!("`{}` takes {shape}", b.ty.name))
            .label(format!(
                "found {} label{}",
                b.labels.len(),
                if b.labels.len() == 1 { "" } else { "s" }
            ))
            .emit();
        false
    }

    fn resource(&mut self, b: &Block, is_data: bool) {
        let what = if is_data { "data" } else { "resource" };
        if !self.expect_labels(b, 2, "a type `\"<server>.<type>\"` and a name") {
            return;
        }
        let Some(label) = b.labels.first() else {
            return;
        };
        let resolved = self.resource_type(label, what);
        let (input, output, origin) = match &resolved {
            Some((_, _, Some((input, output, origin)))) => {
                (input.clone(), output.clone(), Origin::new(origin.clone()))
            }
            _ => (Ty::Any, Ty::Any, Origin::new("the schema")),
        };
        self.repetition(b);

        // A data block filters on what the type reports: any output attribute, optional.
        let expected = if is_data {
            optional_all(&output)
        } else {
            input.clone()
        };
        self.scope.self_parts = if is_data { None } else { Some((input, output)) };
        self.scope.tool_calls = is_data;
        self.scope.in_data = is_data;
        self.body_against(
            &b.body.items,
            &expected,
            &origin,
            RESOURCE_META,
            b.labels.first().map_or(b.ty.span, |l| l.span()),
        );
        self.meta_blocks(&b.body.items);
    }

    /// `count` / `for_each`: checks them and sets up `count.index` / `each`.
    fn repetition(&mut self, b: &Block) {
        let count = names::attr(b, "count");
        let for_each = names::attr(b, "for_each");
        if let (Some(c), Some(f)) = (count, for_each) {
            self.error(
                codes::E0208,
                f.span,
                "`count` and `for_each` on the same block",
            )
            .label("`for_each` here")
            .secondary(c.span, "`count` here")
            .help("keep one of them")
            .emit();
        }
        if let Some(c) = count {
            self.against(
                c,
                &Attr::new(Ty::Number, true),
                &Origin::new("`count`, which takes a number"),
            );
            self.scope.count = true;
        }
        if let Some(f) = for_each {
            let ty = self.infer(f);
            let ok = matches!(
                ty.strip_sensitive(),
                Ty::Any
                    | Ty::Map(_)
                    | Ty::Object(_)
                    | Ty::Set(_)
                    | Ty::List(_)
                    | Ty::Tuple(_)
                    | Ty::Union(_)
            );
            if !ok {
                self.error(
                    codes::E0201,
                    f.span,
                    format!("expected a map or set, found {}", describe(&ty)),
                )
                .label("`for_each` takes a map or a set of strings")
                .emit();
            }
            self.scope.each = Some(element(&ty));
        }
    }

    /// `depends_on`, `lifecycle`, `wait_for`: the meta-arguments' own checks.
    fn meta_blocks(&mut self, items: &[BodyItem]) {
        for it in items {
            match it {
                BodyItem::Attribute(a) if a.name.name == "depends_on" => {
                    if let ExprKind::Tuple(refs) = &a.value.kind {
                        for r in refs {
                            self.infer(r);
                        }
                    } else {
                        self.error(codes::E0201, a.value.span, "expected a list of references")
                            .label("`depends_on` takes a list such as [aws.vpc.main]")
                            .emit();
                    }
                }
                BodyItem::Block(blk) if blk.ty.name == "lifecycle" => {
                    let schema = obj(&[
                        ("prevent_destroy", Ty::Bool),
                        ("create_before_destroy", Ty::Bool),
                        ("ignore_changes", Ty::List(Box::new(Ty::Any))),
                        ("replace_triggered_by", Ty::List(Box::new(Ty::Any))),
                    ]);
                    self.block_body(blk, &schema, &Origin::new("the `lifecycle` block"));
                }
                BodyItem::Block(blk) if blk.ty.name == "wait_for" => {
                    let mut schema = obj(&[
                        ("condition", Ty::Bool),
                        ("timeout", Ty::String),
                        ("interval", Ty::String),
                    ]);
                    if let Ty::Object(o) = &mut schema
                        && let Some(a) = Arc::make_mut(o).attrs.get_mut("condition")
                    {
                        a.required = true;
                    }
                    self.block_body(blk, &schema, &Origin::new("the `wait_for` block"));
                }
                _ => {}
            }
        }
    }

    fn block_body(&mut self, blk: &Block, schema: &Ty, origin: &Origin) {
        self.body_against(&blk.body.items, schema, origin, &[], blk.ty.span);
    }

    /// Checks a block body against an object type: unknown attributes, values, missing
    /// required attributes. `meta` names attributes and blocks handled elsewhere.
    fn body_against(
        &mut self,
        items: &[BodyItem],
        ty: &Ty,
        origin: &Origin,
        meta: &[&str],
        at: Span,
    ) {
        // Shared, not copied: schemas' object types are big and bodies are many.
        let obj: Option<Arc<ObjectTy>> = match ty.strip_sensitive() {
            Ty::Object(o) => Some(o.clone()),
            _ => None,
        };
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut attr_spans: BTreeMap<&str, Span> = BTreeMap::new();
        for it in items {
            match it {
                BodyItem::Attribute(a) => {
                    let name = a.name.name.as_str();
                    if let Some(first) = attr_spans.get(name).copied() {
                        self.error(
                            codes::E0108,
                            a.name.span,
                            format!("attribute `{name}` is set twice"),
                        )
                        .label("set again here")
                        .secondary(first, "first set here")
                        .help("remove one of them")
                        .emit();
                    }
                    attr_spans.insert(name, a.name.span);
                    seen.insert(name.to_string());
                    if meta.contains(&name) {
                        if !matches!(name, "count" | "for_each" | "depends_on") {
                            self.infer(&a.value);
                        }
                        continue;
                    }
                    match obj.as_deref().map(|o| (o.get(name), o)) {
                        None => {
                            self.infer(&a.value);
                        }
                        Some((Some(attr), _)) => self.against(&a.value, attr, origin),
                        Some((None, o)) => {
                            if let Some(extra) = &o.extra {
                                let extra = Attr::new((**extra).clone(), false);
                                self.against(&a.value, &extra, origin);
                            } else {
                                self.unknown_attribute(&a.name.name, a.name.span, o, origin, meta);
                                self.infer(&a.value);
                            }
                        }
                    }
                }
                BodyItem::Block(blk) => {
                    let name = blk.ty.name.as_str();
                    seen.insert(name.to_string());
                    if meta.contains(&name) {
                        continue;
                    }
                    match obj.as_ref().map(|o| o.get(name).cloned()) {
                        None => {
                            self.body_against(&blk.body.items, &Ty::Any, origin, &[], blk.ty.span)
                        }
                        Some(Some(attr)) => {
                            let inner = match attr.ty.strip_sensitive() {
                                Ty::List(t) | Ty::Set(t) => (**t).clone(),
                                other => other.clone(),
                            };
                            self.body_against(&blk.body.items, &inner, origin, &[], blk.ty.span);
                        }
                        Some(None) => {
                            let mut names: Vec<&str> = obj
                                .as_ref()
                                .map(|o| o.attrs.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            names.extend(meta.iter().copied());
                            names.sort();
                            let hint = suggest::best(name, names).map(str::to_string);
                            self.error(
                                codes::E0100,
                                blk.ty.span,
                                format!("unknown block type `{name}`"),
                            )
                            .label(format!("not an attribute of {}", origin.text))
                            .suggest(hint, blk.ty.span)
                            .emit();
                        }
                    }
                }
                BodyItem::Error(_) => {}
            }
        }
        // After a syntax error in the body, a "missing" attribute may just be unreadable.
        let recovered = items.iter().any(|i| matches!(i, BodyItem::Error(_)));
        if let Some(o) = obj.filter(|_| !recovered) {
            let missing: Vec<&str> = o
                .attrs
                .iter()
                .filter(|(n, a)| a.required && !seen.contains(n.as_str()))
                .map(|(n, _)| n.as_str())
                .collect();
            if !missing.is_empty() {
                let plural = if missing.len() == 1 { "" } else { "s" };
                let first = missing.first().copied().unwrap_or("");
                let ty_hint = o.get(first).map(|a| a.ty.to_string()).unwrap_or_default();
                self.error(
                    codes::E0200,
                    at,
                    format!(
                        "missing required attribute{plural} {}",
                        list_names(&missing)
                    ),
                )
                .label(format!("required by {}", origin.text))
                .help(format!("add `{first} = ...` (a value of type `{ty_hint}`)"))
                .emit();
            }
        }
    }

    fn unknown_attribute(
        &mut self,
        name: &str,
        span: Span,
        o: &ObjectTy,
        origin: &Origin,
        meta: &[&str],
    ) {
        let own: Vec<&str> = o.attrs.keys().map(String::as_str).collect();
        let mut names = own.clone();
        names.extend(meta.iter().copied());
        names.sort();
        let hint = suggest::best(name, names.iter().copied()).map(str::to_string);
        let mut b = self
            .error(codes::E0103, span, format!("unknown attribute `{name}`"))
            .label(format!("not in {}", origin.text));
        if hint.is_some() {
            b = b.suggest(hint, span);
        } else if !own.is_empty() && own.len() <= 12 {
            b = b.help(format!("the attributes are {}", list_names(&own)));
        }
        b.emit();
    }

    fn task(&mut self, b: &Block) {
        if !self.expect_labels(b, 2, "a tool `\"<server>.<tool>\"` and a name") {
            return;
        }
        let Some(label) = b.labels.first() else {
            return;
        };
        let text = label.value().to_string();
        let Some((server, tool)) = split_type(&text) else {
            self.error(
                codes::E0114,
                label.span(),
                "a task's tool is written `\"<server>.<tool>\"`",
            )
            .emit();
            return;
        };
        let tool_span = Span::new(
            label.span().start as usize + server.len() + 2,
            label.span().end.saturating_sub(1) as usize,
        );
        let input = self
            .tool_type(server, tool, tool_span, label.span())
            .map(|t| t.0);
        self.repetition(b);
        self.scope.tool_calls = true;
        let origin = Origin::new(format!("the inputSchema of `{server}` tool `{tool}`"));
        self.body_against(
            &b.body.items,
            &input.unwrap_or(Ty::Any),
            &origin,
            &["count", "depends_on", "for_each", "triggers"],
            label.span(),
        );
        if let Some(t) = names::attr(b, "triggers") {
            self.infer(t);
        }
        self.meta_blocks(&b.body.items);
    }

    /// The (input, output) types of `server`'s tool, reporting unknown servers and tools.
    fn tool_type(
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
    fn read_only(&mut self, server: &str, tool: &str) -> bool {
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

    fn variable(&mut self, b: &Block) {
        if !self.expect_labels(b, 1, "one label, its name") {
            return;
        }
        let mut ty = Ty::Any;
        if let Some(t) = names::attr(b, "type") {
            match parse_type_expr(t) {
                Ok(parsed) => ty = parsed,
                Err(e) => {
                    self.error(codes::E0204, e.span, "invalid type expression")
                        .label(e.message)
                        .emit();
                }
            }
        }
        let schema = obj(&[
            ("type", Ty::Any),
            ("default", Ty::Any),
            ("description", Ty::String),
            ("sensitive", Ty::Bool),
            ("nullable", Ty::Bool),
        ]);
        for it in &b.body.items {
            match it {
                BodyItem::Attribute(a) => match a.name.name.as_str() {
                    "type" => {}
                    "default" => {
                        let origin = Origin::new("the variable's `type`");
                        self.against(&a.value, &Attr::new(ty.clone(), true), &origin);
                    }
                    name => {
                        if let Some(o) = schema.as_object() {
                            if let Some(attr) = o.get(name).cloned() {
                                self.against(&a.value, &attr, &Origin::new("a `variable` block"));
                            } else {
                                let o = o.clone();
                                self.unknown_attribute(
                                    name,
                                    a.name.span,
                                    &o,
                                    &Origin::new("a `variable` block"),
                                    &["validation"],
                                );
                            }
                        }
                    }
                },
                BodyItem::Block(v) if v.ty.name == "validation" => {
                    let label = b
                        .labels
                        .first()
                        .map(|l| l.value().to_string())
                        .unwrap_or_default();
                    self.scope.vars.push((format!("var.{label}"), ty.clone()));
                    let mut schema = obj(&[
                        ("condition", Ty::Bool),
                        ("message", Ty::String),
                        ("error_message", Ty::String),
                    ]);
                    if let Ty::Object(o) = &mut schema
                        && let Some(a) = Arc::make_mut(o).attrs.get_mut("condition")
                    {
                        a.required = true;
                    }
                    self.block_body(v, &schema, &Origin::new("a `validation` block"));
                    self.scope.vars.pop();
                }
                BodyItem::Block(v) => {
                    let hint = suggest::best(&v.ty.name, ["validation"]).map(str::to_string);
                    self.error(
                        codes::E0100,
                        v.ty.span,
                        format!("unknown block type `{}`", v.ty.name),
                    )
                    .label("a `variable` holds only `validation` blocks")
                    .suggest(hint, v.ty.span)
                    .emit();
                }
                BodyItem::Error(_) => {}
            }
        }
    }

    fn locals(&mut self, b: &Block) {
        for it in &b.body.items {
            match it {
                BodyItem::Attribute(a) => {
                    let ty = self.infer(&a.value);
                    self.local_types.entry(a.name.name.clone()).or_insert(ty);
                }
                BodyItem::Block(blk) => {
                    self.error(
                        codes::E0100,
                        blk.ty.span,
                        format!("unknown block type `{}`", blk.ty.name),
                    )
                    .label("`locals` holds attributes only")
                    .emit();
                }
                BodyItem::Error(_) => {}
            }
        }
    }

    fn output(&mut self, b: &Block) {
        if !self.expect_labels(b, 1, "one label, its name") {
            return;
        }
        let schema = obj(&[
            ("value", Ty::Any),
            ("description", Ty::String),
            ("sensitive", Ty::Bool),
            ("depends_on", Ty::Any),
        ]);
        let sensitive = matches!(
            names::attr(b, "sensitive").map(|e| &e.kind),
            Some(ExprKind::Bool(true))
        );
        for it in &b.body.items {
            match it {
                BodyItem::Attribute(a) if a.name.name == "value" => {
                    let ty = self.infer(&a.value);
                    if ty.is_sensitive() && !sensitive {
                        let name_span = b.labels.first().map_or(b.ty.span, |l| l.span());
                        self.error(
                            codes::E0207,
                            a.value.span,
                            "sensitive value in an output not marked sensitive",
                        )
                        .label("this value is sensitive")
                        .secondary(name_span, "this output would show it")
                        .help("add `sensitive = true` to the output")
                        .emit();
                    }
                }
                BodyItem::Attribute(a) if a.name.name == "depends_on" => {}
                BodyItem::Attribute(a) => {
                    if let Some(o) = schema.as_object().cloned() {
                        match o.get(&a.name.name) {
                            Some(attr) => {
                                self.against(&a.value, attr, &Origin::new("an `output` block"))
                            }
                            None => self.unknown_attribute(
                                &a.name.name,
                                a.name.span,
                                &o,
                                &Origin::new("an `output` block"),
                                &[],
                            ),
                        }
                    }
                }
                BodyItem::Block(blk) => {
                    self.error(
                        codes::E0100,
                        blk.ty.span,
                        format!("unknown block type `{}`", blk.ty.name),
                    )
                    .label("an `output` holds attributes only")
                    .emit();
                }
                BodyItem::Error(_) => {}
            }
        }
        self.meta_blocks(&b.body.items);
        if names::attr(b, "value").is_none() {
            let at = b.labels.first().map_or(b.ty.span, |l| l.span());
            self.error(codes::E0200, at, "missing required attribute `value`")
                .label("an output needs a `value`")
                .emit();
        }
    }

    fn use_block(&mut self, b: &Block) {
        if !self.expect_labels(b, 1, "one label, its name") {
            return;
        }
        let pattern = names::attr(b, "pattern");
        let has_source = names::attr(b, "source").is_some();
        let mut params: Option<Vec<(String, Ty, bool)>> = None;
        if let Some(p) = pattern {
            match &p.kind {
                ExprKind::Template(t) if t.as_literal().is_some() => {
                    let name = t.as_literal().unwrap_or_default();
                    match self.index.get(self.db, &format!("pattern.{name}")) {
                        Some(d) => params = Some(d.params.clone()),
                        None => {
                            let names: Vec<&str> =
                                self.index.names_with_prefix("pattern.").collect();
                            let hint = suggest::best(&name, names.iter().copied())
                                .map(|h| format!("\"{h}\""));
                            self.error(codes::E0113, p.span, format!("unknown pattern `{name}`"))
                                .label("no `pattern` block has this name")
                                .suggest(hint, p.span)
                                .emit();
                        }
                    }
                }
                _ => {
                    self.error(codes::E0201, p.span, "expected a pattern name as a string")
                        .label("`pattern` takes a literal string")
                        .emit();
                }
            }
        }
        // A local `source` directory (a module) provides the pattern when none is named.
        if pattern.is_none()
            && let Some(src) = names::attr(b, "source")
            && let ExprKind::Template(t) = &src.kind
            && let Some(text) = t.as_literal()
            && let Some(dir) = names::local_source_dir(&text)
        {
            let key = format!("{}{text}", names::SOURCE_PREFIX);
            match self.index.use_pattern(self.db, &key) {
                Some(name) => {
                    params = self
                        .index
                        .get(self.db, &format!("pattern.{name}"))
                        .map(|d| d.params.clone());
                }
                None => {
                    self.error(codes::E0113, src.span, format!("no pattern in `{text}`"))
                        .label(format!(
                            "the module directory `{dir}` must declare exactly one `pattern` block"
                        ))
                        .help("name the pattern with `pattern = \"...\"`, or check the path (relative to the workspace root)")
                        .emit();
                }
            }
        }
        let local_source = names::attr(b, "source")
            .and_then(|s| match &s.kind {
                ExprKind::Template(t) => t.as_literal(),
                _ => None,
            })
            .is_some_and(|t| names::local_source_dir(&t).is_some());
        let meta = [
            "count",
            "depends_on",
            "for_each",
            "pattern",
            "source",
            "version",
        ];
        self.repetition(b);
        match params {
            Some(params) if !has_source || local_source => {
                let mut attrs = BTreeMap::new();
                for (n, t, req) in params {
                    attrs.insert(n, Attr::new(t, req));
                }
                let label = b.labels.first().map_or(b.ty.span, |l| l.span());
                self.body_against(
                    &b.body.items,
                    &Ty::object(attrs),
                    &Origin::new("the pattern's params"),
                    &meta,
                    label,
                );
            }
            _ => self.body_against(
                &b.body.items,
                &Ty::Any,
                &Origin::new("the pattern's params"),
                &meta,
                b.ty.span,
            ),
        }
    }

    fn pattern(&mut self, b: &Block) {
        if !self.expect_labels(b, 1, "one label, its name") {
            return;
        }
        let mut params = BTreeMap::new();
        let pattern_resources = pattern_resources(b);
        for it in &b.body.items {
            if let BodyItem::Block(blk) = it
                && blk.ty.name == "param"
                && let [p] = labels(blk).as_slice()
            {
                let ty = match names::attr(blk, "type").map(parse_type_expr) {
                    Some(Ok(t)) => t,
                    Some(Err(e)) => {
                        self.error(codes::E0204, e.span, "invalid type expression")
                            .label(e.message)
                            .emit();
                        Ty::Any
                    }
                    None => Ty::Any,
                };
                params.insert(p.to_string(), ty);
            }
        }
        for it in &b.body.items {
            let BodyItem::Block(blk) = it else { continue };
            self.scope = Scope {
                params: Some(params.clone()),
                pattern_resources: pattern_resources.clone(),
                ..Scope::default()
            };
            match blk.ty.name.as_str() {
                "param" => {
                    if let (Some(d), Some(Ok(t))) = (
                        names::attr(blk, "default"),
                        names::attr(blk, "type").map(parse_type_expr),
                    ) {
                        self.against(d, &Attr::new(t, true), &Origin::new("the param's `type`"));
                    }
                }
                "resource" => self.resource(blk, false),
                "data" => self.resource(blk, true),
                "output" => self.output(blk),
                "locals" => self.locals(blk),
                "task" => self.task(blk),
                other => {
                    let allowed = ["data", "locals", "output", "param", "resource", "task"];
                    let hint = suggest::best(other, allowed).map(str::to_string);
                    self.error(
                        codes::E0100,
                        blk.ty.span,
                        format!("unknown block type `{other}`"),
                    )
                    .label("not a block of a `pattern`")
                    .suggest(hint, blk.ty.span)
                    .emit();
                }
            }
        }
        self.scope = Scope::default();
    }

    fn function(&mut self, b: &Block) {
        if !self.expect_labels(b, 1, "one label, its name") {
            return;
        }
        let mut vars = Vec::new();
        if let Some(p) = names::attr(b, "params") {
            match &p.kind {
                ExprKind::Object(items) => {
                    for i in items {
                        let Some(k) = object_key(&i.key) else {
                            continue;
                        };
                        match parse_type_expr(&i.value) {
                            Ok(t) => vars.push((k, t)),
                            Err(e) => {
                                self.error(codes::E0204, e.span, "invalid type expression")
                                    .label(e.message)
                                    .emit();
                                vars.push((k, Ty::Any));
                            }
                        }
                    }
                }
                _ => {
                    self.error(
                        codes::E0201,
                        p.span,
                        "expected an object of parameter types",
                    )
                    .label("`params` takes { name = type, ... }")
                    .emit();
                }
            }
        }
        self.scope.vars = vars;
        match names::attr(b, "result") {
            Some(r) => {
                self.infer(r);
            }
            None => {
                let at = b.labels.first().map_or(b.ty.span, |l| l.span());
                self.error(codes::E0200, at, "missing required attribute `result`")
                    .label("a function needs a `result` expression")
                    .emit();
            }
        }
    }

    fn runbook(&mut self, b: &Block) {
        if !self.expect_labels(b, 1, "one label, its name") {
            return;
        }
        let mut params = BTreeMap::new();
        for it in &b.body.items {
            if let BodyItem::Block(blk) = it
                && blk.ty.name == "param"
                && let [p] = labels(blk).as_slice()
            {
                let ty = names::attr(blk, "type")
                    .and_then(|t| parse_type_expr(t).ok())
                    .unwrap_or(Ty::Any);
                params.insert(p.to_string(), ty);
            }
        }
        let mut steps: BTreeMap<String, Ty> = BTreeMap::new();
        for it in &b.body.items {
            let BodyItem::Block(blk) = it else { continue };
            self.scope = Scope {
                params: Some(params.clone()),
                tool_calls: true,
                steps: Some(steps.clone()),
                ..Scope::default()
            };
            match blk.ty.name.as_str() {
                "param" => {}
                "step" => {
                    let schema = obj(&[
                        ("run", Ty::Any),
                        ("when", Ty::Bool),
                        ("description", Ty::String),
                    ]);
                    self.block_body(blk, &schema, &Origin::new("a `step` block"));
                    // What later steps read as `step.<name>`: the result of `run`.
                    let result = match names::attr(blk, "run") {
                        Some(run) => {
                            self.quiet += 1;
                            let t = self.infer(run);
                            self.quiet -= 1;
                            t
                        }
                        None => Ty::Any,
                    };
                    if let [name] = labels(blk).as_slice() {
                        steps.insert(name.to_string(), result);
                    }
                }
                other => {
                    let hint = suggest::best(other, ["param", "step"]).map(str::to_string);
                    self.error(
                        codes::E0100,
                        blk.ty.span,
                        format!("unknown block type `{other}`"),
                    )
                    .label("a `runbook` holds `param` and `step` blocks")
                    .suggest(hint, blk.ty.span)
                    .emit();
                }
            }
        }
        self.scope = Scope::default();
    }

    // ----- values against expected types -----

    fn against(&mut self, expr: &Expr, want: &Attr, origin: &Origin) {
        if self.depth >= MAX_EXPR_DEPTH {
            return;
        }
        self.depth += 1;
        self.against_inner(expr, want, origin);
        self.depth -= 1;
    }

    fn against_inner(&mut self, expr: &Expr, want: &Attr, origin: &Origin) {
        let expected = want.ty.strip_sensitive();
        match (&expr.kind, expected) {
            (ExprKind::Parens(inner), _) => self.against(inner, want, origin),
            (ExprKind::Object(items), Ty::Object(o)) => {
                self.object_against(items, o, origin, expr.span)
            }
            (ExprKind::Object(items), Ty::Map(elem)) => {
                let a = Attr::new((**elem).clone(), true);
                for i in items {
                    self.key(&i.key);
                    self.against(&i.value, &a, origin);
                }
            }
            (ExprKind::Tuple(items), Ty::List(elem) | Ty::Set(elem)) => {
                let a = Attr::new((**elem).clone(), true);
                for i in items {
                    self.against(i, &a, origin);
                }
                self.items_count(items.len(), want, expr.span, origin);
            }
            (ExprKind::Tuple(items), Ty::Tuple(elems)) if items.len() == elems.len() => {
                for (i, t) in items.iter().zip(elems) {
                    self.against(i, &Attr::new(t.clone(), true), origin);
                }
            }
            (
                ExprKind::Conditional {
                    condition,
                    then,
                    otherwise,
                },
                _,
            ) => {
                self.condition(condition);
                self.against(then, want, origin);
                self.against(otherwise, want, origin);
            }
            _ => {
                let found = self.infer(expr);
                if let Some(lit) = literal(expr) {
                    if let Ty::Enum(allowed) = expected
                        && !allowed.contains(&lit)
                        && assignable(
                            &literal_ty(&lit),
                            &Ty::Union(allowed.iter().map(literal_ty).collect()),
                        )
                    {
                        let shown: Vec<String> =
                            allowed.iter().take(12).map(Value::to_string).collect();
                        let more = if allowed.len() > 12 {
                            format!(" and {} more", allowed.len() - 12)
                        } else {
                            String::new()
                        };
                        let close =
                            suggest::best(&lit.to_string(), shown.iter().map(String::as_str))
                                .map(str::to_string);
                        self.error(
                            codes::E0202,
                            expr.span,
                            format!("{lit} is not an allowed value"),
                        )
                        .label(format!(
                            "allowed by {}: {}{more}",
                            origin.text,
                            shown.join(", ")
                        ))
                        .suggest(close, expr.span)
                        .emit();
                        return;
                    }
                    if assignable(&found, expected) {
                        self.constraints(&lit, want, expr.span, origin);
                        return;
                    }
                }
                if !assignable(&found, expected) {
                    let mut b = self
                        .error(
                            codes::E0201,
                            expr.span,
                            format!("expected `{}`, found {}", want.ty, describe(&found)),
                        )
                        .label(format!("expected `{}` because of {}", want.ty, origin.text));
                    if matches!(expected, Ty::Number | Ty::Bool)
                        && let Some(Value::String(s)) = literal(expr)
                        && (s.parse::<f64>().is_ok() || s == "true" || s == "false")
                    {
                        b = b.help("remove the quotes");
                    }
                    b.emit();
                }
            }
        }
    }

    fn items_count(&mut self, n: usize, want: &Attr, span: Span, origin: &Origin) {
        let c = &want.constraints;
        let n64 = n as u64;
        if let Some(min) = c.min_items
            && n64 < min
        {
            self.error(
                codes::E0203,
                span,
                format!("{n} items, fewer than the minimum of {min}"),
            )
            .label(format!("`minItems` is {min} in {}", origin.text))
            .emit();
        }
        if let Some(max) = c.max_items
            && n64 > max
        {
            self.error(
                codes::E0203,
                span,
                format!("{n} items, more than the maximum of {max}"),
            )
            .label(format!("`maxItems` is {max} in {}", origin.text))
            .emit();
        }
    }

    fn constraints(&mut self, lit: &Value, want: &Attr, span: Span, origin: &Origin) {
        let c = &want.constraints;
        match lit {
            Value::Number(n) => {
                let Some(x) = n.as_f64() else { return };
                if c.integer && x.fract() != 0.0 {
                    self.error(codes::E0203, span, format!("{x} is not a whole number"))
                        .label(format!("{} takes an integer", origin.text))
                        .emit();
                }
                if let Some(min) = c.minimum
                    && (x < min || (c.exclusive_minimum && x == min))
                {
                    let word = if c.exclusive_minimum {
                        "greater than"
                    } else {
                        "at least"
                    };
                    self.error(
                        codes::E0203,
                        span,
                        format!("{} is below the minimum", fmt_num(x)),
                    )
                    .label(format!("must be {word} {} ({})", fmt_num(min), origin.text))
                    .emit();
                }
                if let Some(max) = c.maximum
                    && (x > max || (c.exclusive_maximum && x == max))
                {
                    let word = if c.exclusive_maximum {
                        "less than"
                    } else {
                        "at most"
                    };
                    self.error(
                        codes::E0203,
                        span,
                        format!("{} is above the maximum", fmt_num(x)),
                    )
                    .label(format!("must be {word} {} ({})", fmt_num(max), origin.text))
                    .emit();
                }
            }
            Value::String(s) => {
                let len = s.chars().count() as u64;
                if let Some(min) = c.min_length
                    && len < min
                {
                    self.error(
                        codes::E0203,
                        span,
                        format!("string of {} is shorter than the minimum", chars(len)),
                    )
                    .label(format!("`minLength` is {min} in {}", origin.text))
                    .emit();
                }
                if let Some(max) = c.max_length
                    && len > max
                {
                    self.error(
                        codes::E0203,
                        span,
                        format!("string of {} is longer than the maximum", chars(len)),
                    )
                    .label(format!("`maxLength` is {max} in {}", origin.text))
                    .emit();
                }
                if let Some(p) = &c.pattern
                    && let Ok(re) = regex::Regex::new(p)
                    && !re.is_match(s)
                {
                    self.error(
                        codes::E0203,
                        span,
                        format!("\"{s}\" does not match the required pattern"),
                    )
                    .label(format!("`pattern` is `{p}` in {}", origin.text))
                    .emit();
                }
            }
            _ => {}
        }
    }

    fn object_against(
        &mut self,
        items: &[ObjectItem],
        o: &Arc<ObjectTy>,
        origin: &Origin,
        span: Span,
    ) {
        let mut seen = BTreeSet::new();
        for i in items {
            let Some(k) = object_key(&i.key) else {
                self.key(&i.key);
                self.infer(&i.value);
                continue;
            };
            seen.insert(k.clone());
            match o.get(&k) {
                Some(a) => {
                    let a = a.clone();
                    self.against(&i.value, &a, origin);
                }
                None => match &o.extra {
                    Some(x) => {
                        let a = Attr::new((**x).clone(), false);
                        self.against(&i.value, &a, origin);
                    }
                    None => {
                        self.unknown_attribute(&k, i.key.span, o, origin, &[]);
                        self.infer(&i.value);
                    }
                },
            }
        }
        let missing: Vec<&str> = o
            .attrs
            .iter()
            .filter(|(n, a)| a.required && !seen.contains(n.as_str()))
            .map(|(n, _)| n.as_str())
            .collect();
        if !missing.is_empty() {
            let plural = if missing.len() == 1 { "" } else { "s" };
            self.error(
                codes::E0200,
                span,
                format!(
                    "missing required attribute{plural} {}",
                    list_names(&missing)
                ),
            )
            .label(format!("required by {}", origin.text))
            .emit();
        }
    }

    fn key(&mut self, key: &Expr) {
        if object_key(key).is_none() {
            self.infer(key);
        }
    }

    fn condition(&mut self, e: &Expr) {
        let t = self.infer(e);
        if !assignable(&t, &Ty::Bool) {
            self.error(
                codes::E0201,
                e.span,
                format!("expected `bool`, found {}", describe(&t)),
            )
            .label("a condition must be a bool")
            .emit();
        }
    }

    // ----- inference -----

    fn infer(&mut self, expr: &Expr) -> Ty {
        // Nesting is bounded by the parser (256), but a frame per level of every
        // recursive helper is too much stack for a debug build: deeper than this, values
        // are not checked.
        if self.depth >= MAX_EXPR_DEPTH {
            return Ty::Any;
        }
        self.depth += 1;
        let ty = self.infer_inner(expr);
        self.depth -= 1;
        if let Some(p) = self.probe
            && expr.span.start <= p
            && p <= expr.span.end
            && self
                .found
                .as_ref()
                .is_none_or(|(s, _)| s.len() > expr.span.len())
        {
            self.found = Some((expr.span, ty.clone()));
        }
        ty
    }

    fn infer_inner(&mut self, expr: &Expr) -> Ty {
        match &expr.kind {
            ExprKind::Null => Ty::Null,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Number(_) => Ty::Number,
            ExprKind::Error => Ty::Any,
            ExprKind::Template(t) => self.template(&t.parts),
            ExprKind::Heredoc(h) => self.template(&h.template.parts),
            ExprKind::Parens(inner) => self.infer(inner),
            ExprKind::Tuple(items) => Ty::Tuple(items.iter().map(|i| self.infer(i)).collect()),
            ExprKind::Object(items) => {
                let mut attrs = BTreeMap::new();
                let mut dynamic = false;
                let mut all = Ty::Null;
                let mut sensitive = false;
                for i in items {
                    let t = self.infer(&i.value);
                    sensitive |= t.is_sensitive();
                    all = join(&all, &t);
                    match object_key(&i.key) {
                        Some(k) => {
                            attrs.insert(k, Attr::new(t, true));
                        }
                        None => {
                            self.infer(&i.key);
                            dynamic = true;
                        }
                    }
                }
                if dynamic {
                    taint(
                        Ty::Map(Box::new(if all == Ty::Null { Ty::Any } else { all })),
                        sensitive,
                    )
                } else {
                    taint(Ty::object(attrs), sensitive)
                }
            }
            ExprKind::Variable(_)
            | ExprKind::GetAttr { .. }
            | ExprKind::Index { .. }
            | ExprKind::LegacyIndex { .. }
            | ExprKind::Splat { .. } => match names::traversal(expr) {
                Some(t) => self.traversal(&t),
                None => self.postfix(expr),
            },
            ExprKind::FunctionCall(c) => self.call(c, expr.span),
            ExprKind::Unary {
                op,
                operand,
                op_span,
            } => {
                let t = self.infer(operand);
                let (want, name) = match op {
                    UnaryOp::Neg => (Ty::Number, "-"),
                    UnaryOp::Not => (Ty::Bool, "!"),
                };
                if !assignable(&t, &want) {
                    self.error(
                        codes::E0206,
                        operand.span,
                        format!("operator `{name}` takes a {want}, found {}", describe(&t)),
                    )
                    .secondary(*op_span, "this operator")
                    .emit();
                }
                taint(want, t.is_sensitive())
            }
            ExprKind::Binary {
                op,
                lhs,
                rhs,
                op_span,
            } => {
                let l = self.infer(lhs);
                let r = self.infer(rhs);
                let sensitive = l.is_sensitive() || r.is_sensitive();
                let (operand, result) = match op {
                    BinaryOp::Add
                    | BinaryOp::Sub
                    | BinaryOp::Mul
                    | BinaryOp::Div
                    | BinaryOp::Mod => (Some(Ty::Number), Ty::Number),
                    BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le => {
                        (Some(Ty::Number), Ty::Bool)
                    }
                    BinaryOp::And | BinaryOp::Or => (Some(Ty::Bool), Ty::Bool),
                    BinaryOp::Eq | BinaryOp::Ne => (None, Ty::Bool),
                };
                if let Some(want) = operand {
                    for (side, t) in [(lhs, &l), (rhs, &r)] {
                        // Strings convert to numbers only when they hold one; a literal is checked.
                        let ok = assignable(t, &want)
                            || (want == Ty::Number
                                && matches!(t.strip_sensitive(), Ty::String | Ty::Enum(_))
                                && literal(side).is_none_or(|v| {
                                    v.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
                                }));
                        if !ok {
                            self.error(
                                codes::E0206,
                                side.span,
                                format!(
                                    "operator `{}` takes {}s, found {}",
                                    op.as_str(),
                                    want,
                                    describe(t)
                                ),
                            )
                            .secondary(*op_span, "this operator")
                            .emit();
                        }
                    }
                }
                taint(result, sensitive)
            }
            ExprKind::Conditional {
                condition,
                then,
                otherwise,
            } => {
                self.condition(condition);
                let a = self.infer(then);
                let b = self.infer(otherwise);
                join(&a, &b)
            }
            ExprKind::For(f) => {
                let coll = self.infer(&f.collection);
                let key_ty = match coll.strip_sensitive() {
                    Ty::Map(_) | Ty::Object(_) => Ty::String,
                    Ty::Any => Ty::Any,
                    _ => Ty::Number,
                };
                if matches!(coll.strip_sensitive(), Ty::String | Ty::Number | Ty::Bool) {
                    self.error(
                        codes::E0201,
                        f.collection.span,
                        format!("expected a collection, found {}", describe(&coll)),
                    )
                    .label("a `for` expression iterates over a list, set, tuple, map or object")
                    .emit();
                }
                let n = self.scope.vars.len();
                if let Some(k) = &f.key_var {
                    self.scope.vars.push((k.name.clone(), key_ty));
                }
                self.scope
                    .vars
                    .push((f.value_var.name.clone(), element(&coll)));
                if let Some(c) = &f.condition {
                    self.condition(c);
                }
                let v = self.infer(&f.value_expr);
                let out = match &f.key_expr {
                    Some(k) => {
                        let kt = self.infer(k);
                        if !assignable(&kt, &Ty::String) {
                            self.error(
                                codes::E0201,
                                k.span,
                                format!("expected `string`, found {}", describe(&kt)),
                            )
                            .label("object keys are strings")
                            .emit();
                        }
                        if f.grouping {
                            Ty::Map(Box::new(Ty::List(Box::new(v))))
                        } else {
                            Ty::Map(Box::new(v))
                        }
                    }
                    None => Ty::List(Box::new(v)),
                };
                self.scope.vars.truncate(n);
                taint(out, coll.is_sensitive())
            }
        }
    }

    /// Attribute access and indexing on something that is not a plain name traversal.
    fn postfix(&mut self, expr: &Expr) -> Ty {
        match &expr.kind {
            ExprKind::GetAttr { object, name } => {
                let t = self.infer(object);
                self.get_attr(&t, name, None)
            }
            ExprKind::Index { collection, key } => {
                let t = self.infer(collection);
                self.index_into(&t, key)
            }
            ExprKind::LegacyIndex { collection, .. } => {
                let t = self.infer(collection);
                element(&t)
            }
            ExprKind::Splat { collection, .. } => {
                let t = self.infer(collection);
                Ty::List(Box::new(element(&t)))
            }
            _ => self.infer(expr),
        }
    }

    fn template(&mut self, parts: &[TemplatePart]) -> Ty {
        let mut sensitive = false;
        for p in parts {
            match p {
                TemplatePart::Literal { .. } => {}
                TemplatePart::Interpolation { expr, .. } => {
                    let t = self.infer(expr);
                    sensitive |= t.is_sensitive();
                    if !assignable(&t, &Ty::String) {
                        self.error(
                            codes::E0201,
                            expr.span,
                            format!("expected a string, found {}", describe(&t)),
                        )
                        .label("only strings, numbers and bools can be interpolated")
                        .help("use jsonencode(...) or join(...) to turn it into a string")
                        .emit();
                    }
                }
                TemplatePart::If {
                    condition,
                    then,
                    otherwise,
                    ..
                } => {
                    self.condition(condition);
                    sensitive |= self.template(then).is_sensitive();
                    if let Some(o) = otherwise {
                        sensitive |= self.template(o).is_sensitive();
                    }
                }
                TemplatePart::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                    ..
                } => {
                    let coll = self.infer(collection);
                    let n = self.scope.vars.len();
                    if let Some(k) = key_var {
                        self.scope.vars.push((k.name.clone(), Ty::Any));
                    }
                    self.scope
                        .vars
                        .push((value_var.name.clone(), element(&coll)));
                    sensitive |= self.template(body).is_sensitive();
                    self.scope.vars.truncate(n);
                }
            }
        }
        taint(Ty::String, sensitive)
    }

    fn call(&mut self, c: &FunctionCall, span: Span) -> Ty {
        // A tool call checks its argument against the tool's schema (which infers it).
        if let [server] = c.namespace.as_slice() {
            return self.tool_call(&server.name, c, server.span, span);
        }
        let args: Vec<Ty> = c.args.iter().map(|a| self.infer(a)).collect();
        if !c.namespace.is_empty() {
            return Ty::Any;
        }
        let name = c.name.name.as_str();
        let sensitive = args.iter().any(Ty::is_sensitive) && name != "nonsensitive";
        if let Some(sig) = builtins::lookup(name) {
            let n = c.args.len();
            let too_few = n < sig.min_args() && !c.expand_final;
            let too_many = sig.max_args().is_some_and(|m| n > m);
            if too_few || too_many {
                let call_span = c.name.span.cover(c.close_paren.unwrap_or(c.open_paren));
                self.error(
                    codes::E0205,
                    call_span,
                    format!(
                        "`{name}` takes {}, found {n}",
                        arg_count(sig.min_args(), sig.max_args())
                    ),
                )
                .label(format!("the signature is {}", sig.display(name)))
                .emit();
            }
            for (i, (a, t)) in c.args.iter().zip(&args).enumerate() {
                let p = sig.param(i);
                if !(p.accepts(t) || c.expand_final && i + 1 == n) {
                    self.error(
                        codes::E0201,
                        a.span,
                        format!("expected {}, found {}", param_desc(p), describe(t)),
                    )
                    .label(format!("argument {} of {}", i + 1, sig.display(name)))
                    .emit();
                }
            }
            return taint(sig.result(&args), sensitive);
        }
        if let Some(d) = self.index.get(self.db, &format!("function.{name}")) {
            let params = d.params.clone();
            if params.len() != c.args.len() {
                let call_span = c.name.span.cover(c.close_paren.unwrap_or(c.open_paren));
                let names: Vec<&str> = params.iter().map(|p| p.0.as_str()).collect();
                self.error(
                    codes::E0205,
                    call_span,
                    format!(
                        "`{name}` takes {}, found {}",
                        arg_count(params.len(), Some(params.len())),
                        c.args.len()
                    ),
                )
                .label(format!("its params are ({})", names.join(", ")))
                .emit();
            }
            for ((a, t), (pn, pt, _)) in c.args.iter().zip(&args).zip(&params) {
                if !assignable(t, pt) {
                    self.error(
                        codes::E0201,
                        a.span,
                        format!("expected `{pt}`, found {}", describe(t)),
                    )
                    .label(format!("param `{pn}` of function `{name}`"))
                    .emit();
                }
            }
            return taint(Ty::Any, sensitive);
        }
        let mut candidates: Vec<&str> = builtins::BUILTINS.iter().map(|(n, _)| *n).collect();
        let user: Vec<&str> = self.index.names_with_prefix("function.").collect();
        candidates.extend(user);
        candidates.sort();
        let hint = suggest::best(name, candidates).map(str::to_string);
        self.error(
            codes::E0107,
            c.name.span,
            format!("unknown function `{name}`"),
        )
        .label("not a built-in or a `function` of the workspace")
        .suggest(hint, c.name.span)
        .emit();
        Ty::Any
    }

    fn tool_call(&mut self, server: &str, c: &FunctionCall, server_span: Span, span: Span) -> Ty {
        if !self.scope.tool_calls {
            self.error(codes::E0210, span, "a tool call in a plain value")
                .label("tool calls have side effects; planning must not")
                .help("call tools in a `task`, a `data` block or a runbook `step`, and reference the result")
                .emit();
        }
        let tool = c.name.name.as_str();
        let Some((input, output)) = self.tool_type(server, tool, c.name.span, server_span) else {
            for a in &c.args {
                self.infer(a);
            }
            return Ty::Any;
        };
        if self.scope.in_data && !self.read_only(server, tool) {
            self.error(codes::E0211, c.name.span, format!("`{server}` tool `{tool}` is not read-only"))
                .label("a `data` block reads at plan time; its tools must not change anything")
                .help(format!(
                    "call it from a `task`, or if it only reads, add `read_only_tools = [\"{tool}\"]` to `server \"{server}\"`"
                ))
                .emit();
        }
        let origin = Origin::new(format!("the inputSchema of `{server}` tool `{tool}`"));
        match c.args.as_slice() {
            [] => {
                if let Some(o) = input.as_object()
                    && o.attrs.values().any(|a| a.required)
                {
                    let o = Arc::new(o.clone());
                    self.object_against(&[], &o, &origin, span);
                }
            }
            [arg] => self.against(arg, &Attr::new(input, true), &origin),
            _ => {
                self.error(
                    codes::E0205,
                    span,
                    format!(
                        "a tool call takes one object argument, found {}",
                        c.args.len()
                    ),
                )
                .label("pass the arguments as one object: server::tool({ ... })")
                .emit();
            }
        }
        output
    }

    // ----- references -----

    fn traversal(&mut self, t: &Traversal<'_>) -> Ty {
        let root = t.root.name.as_str();
        // Bare names from the innermost scope first.
        if let Some((_, ty)) = self.scope.vars.iter().rev().find(|(n, _)| n == root) {
            let ty = ty.clone();
            return self.steps(ty, &t.steps, None);
        }
        let first = t.steps.first().and_then(|s| match s {
            Step::Attr(i) => Some(*i),
            _ => None,
        });
        match root {
            "var" => {
                let Some(name) = first else {
                    return self.needs_attr(t, "var.<name>");
                };
                // Inside a validation block, `var.<self>` is in scope.
                let key = format!("var.{}", name.name);
                if let Some((_, ty)) = self.scope.vars.iter().rev().find(|(n, _)| *n == key) {
                    let ty = ty.clone();
                    return self.steps(ty, t.steps.get(1..).unwrap_or(&[]), None);
                }
                match self.index.get(self.db, &key) {
                    Some(d) => {
                        let ty = d.ty.clone();
                        self.steps(ty, t.steps.get(1..).unwrap_or(&[]), None)
                    }
                    None => {
                        let names: Vec<&str> = self.index.names_with_prefix("var.").collect();
                        let hint = suggest::best(&name.name, names).map(str::to_string);
                        self.error(
                            codes::E0104,
                            name.span,
                            format!("unknown variable `{}`", name.name),
                        )
                        .label("no `variable` block has this name")
                        .suggest(hint, name.span)
                        .emit();
                        Ty::Any
                    }
                }
            }
            "local" => {
                let Some(name) = first else {
                    return self.needs_attr(t, "local.<name>");
                };
                if self
                    .index
                    .decls
                    .contains_key(&format!("local.{}", name.name))
                {
                    let ty = self.local_type(&name.name);
                    self.steps(ty, t.steps.get(1..).unwrap_or(&[]), None)
                } else {
                    let names: Vec<&str> = self.index.names_with_prefix("local.").collect();
                    let hint = suggest::best(&name.name, names).map(str::to_string);
                    self.error(
                        codes::E0105,
                        name.span,
                        format!("unknown local value `{}`", name.name),
                    )
                    .label("no `locals` block defines it")
                    .suggest(hint, name.span)
                    .emit();
                    Ty::Any
                }
            }
            "data" | "task" => self.declared_ref(t, root),
            "module" => {
                let Some(name) = first else {
                    return self.needs_attr(t, "module.<name>");
                };
                let key = format!("module.{}", name.name);
                if !self.index.decls.contains_key(&key) {
                    let names: Vec<&str> = self.index.names_with_prefix("module.").collect();
                    let hint = suggest::best(&name.name, names).map(str::to_string);
                    self.error(
                        codes::E0106,
                        name.span,
                        format!("no `use` block named `{}`", name.name),
                    )
                    .label("not declared")
                    .suggest(hint, name.span)
                    .emit();
                    return Ty::Any;
                }
                // The output must be one the pattern declares (their types are not
                // inferred yet: `any`).
                let pattern = self
                    .index
                    .get(self.db, &key)
                    .and_then(|d| self.index.use_pattern(self.db, &d.type_name))
                    .unwrap_or_default();
                // A `use` with `count`/`for_each` is a collection of instances: the
                // output comes after the instance's index (`module.web[0].url`).
                let repeated = self
                    .index
                    .get(self.db, &key)
                    .is_some_and(|d| d.repeat != Repeat::One);
                let at = match t.steps.get(1) {
                    Some(Step::Index(i)) if repeated => {
                        self.infer(i);
                        2
                    }
                    Some(Step::Legacy) if repeated => 2,
                    _ => 1,
                };
                let outputs = self
                    .index
                    .get(self.db, &format!("pattern.{pattern}"))
                    .map(|d| d.outputs.clone());
                if let (Some(outputs), Some(Step::Attr(out))) = (outputs, t.steps.get(at))
                    && !outputs.contains(&out.name)
                {
                    let hint = suggest::best(&out.name, outputs.iter().map(String::as_str))
                        .map(str::to_string);
                    let names: Vec<&str> = outputs.iter().map(String::as_str).collect();
                    let mut b = self
                        .error(
                            codes::E0109,
                            out.span,
                            format!("pattern `{pattern}` has no output `{}`", out.name),
                        )
                        .label(format!("not an `output` of pattern `{pattern}`"));
                    if hint.is_some() {
                        b = b.suggest(hint, out.span);
                    } else if !names.is_empty() {
                        b = b.help(format!("its outputs are {}", list_names(&names)));
                    }
                    b.emit();
                    return Ty::Any;
                }
                match t.steps.get(at) {
                    Some(Step::Attr(out)) => {
                        let ty = self.pattern_output_type(&pattern, &out.name);
                        self.steps(ty, t.steps.get(at + 1..).unwrap_or(&[]), None)
                    }
                    _ => Ty::Any,
                }
            }
            "self" => match self.scope.self_parts.clone() {
                Some((input, output)) => self.steps(merge_objects(&input, &output), &t.steps, None),
                None => {
                    self.error(codes::E0115, t.root.span, "`self` outside a resource")
                        .label("`self` is the resource being declared; there is none here")
                        .emit();
                    Ty::Any
                }
            },
            "count" => {
                if !self.scope.count {
                    self.error(
                        codes::E0115,
                        t.root.span,
                        "`count` in a block without `count`",
                    )
                    .label("`count.index` exists only where `count` is set")
                    .emit();
                    return Ty::Any;
                }
                match first.map(|i| i.name.as_str()) {
                    Some("index") => Ty::Number,
                    _ => self.unknown_member(t, "count", &["index"]),
                }
            }
            "each" => {
                let Some(value) = self.scope.each.clone() else {
                    self.error(
                        codes::E0115,
                        t.root.span,
                        "`each` in a block without `for_each`",
                    )
                    .label("`each.key` and `each.value` exist only where `for_each` is set")
                    .emit();
                    return Ty::Any;
                };
                match first.map(|i| i.name.as_str()) {
                    Some("key") => Ty::String,
                    Some("value") => self.steps(value, t.steps.get(1..).unwrap_or(&[]), None),
                    _ => self.unknown_member(t, "each", &["key", "value"]),
                }
            }
            "path" => match first.map(|i| i.name.as_str()) {
                Some("module" | "root" | "cwd") => Ty::String,
                _ => self.unknown_member(t, "path", &["cwd", "module", "root"]),
            },
            "param" => {
                let Some(params) = self.scope.params.clone() else {
                    self.error(
                        codes::E0115,
                        t.root.span,
                        "`param` outside a pattern or runbook",
                    )
                    .label("`param.<name>` reads a pattern's or runbook's params")
                    .emit();
                    return Ty::Any;
                };
                let Some(name) = first else {
                    return self.needs_attr(t, "param.<name>");
                };
                let message = format!("unknown param `{}`", name.name);
                let miss = (codes::E0104, message, "no `param` block has this name");
                self.scoped_member(t, name, &params, miss)
            }
            "step" => {
                let Some(steps) = self.scope.steps.clone() else {
                    self.error(codes::E0115, t.root.span, "`step` outside a runbook")
                        .label("`step.<name>` reads an earlier step of a runbook")
                        .emit();
                    return Ty::Any;
                };
                let Some(name) = first else {
                    return self.needs_attr(t, "step.<name>");
                };
                let message = format!("no earlier step `{}`", name.name);
                let miss = (
                    codes::E0106,
                    message,
                    "steps can read only the steps before them",
                );
                self.scoped_member(t, name, &steps, miss)
            }
            "result" => Ty::Any,
            _ => {
                if self.server_known(root)
                    || self
                        .scope
                        .pattern_resources
                        .keys()
                        .any(|k| k.starts_with(&format!("{root}.")))
                {
                    return self.declared_ref(t, "");
                }
                let mut names: Vec<String> = names::RESERVED_ROOTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                names.extend(self.server_names());
                names.extend(self.scope.vars.iter().map(|(n, _)| n.clone()));
                names.sort();
                let hint =
                    suggest::best(root, names.iter().map(String::as_str)).map(str::to_string);
                self.error(codes::E0111, t.root.span, format!("unknown name `{root}`"))
                    .label("not a variable, a server or a reference root")
                    .suggest(hint, t.root.span)
                    .emit();
                Ty::Any
            }
        }
    }

    /// Reads `<root>.<name>...` from a table of names in scope (a pattern's params, a
    /// runbook's earlier steps); a name not in the table is `miss` (code, message, label),
    /// with a did-you-mean from the table.
    fn scoped_member(
        &mut self,
        t: &Traversal<'_>,
        name: &Ident,
        table: &BTreeMap<String, Ty>,
        miss: (Code, String, &str),
    ) -> Ty {
        if let Some(ty) = table.get(&name.name) {
            return self.steps(ty.clone(), t.steps.get(1..).unwrap_or(&[]), None);
        }
        let hint = suggest::best(&name.name, table.keys().map(String::as_str)).map(str::to_string);
        let (code, message, label) = miss;
        self.error(code, name.span, message)
            .label(label)
            .suggest(hint, name.span)
            .emit();
        Ty::Any
    }

    fn needs_attr(&mut self, t: &Traversal<'_>, form: &str) -> Ty {
        self.error(
            codes::E0111,
            t.root.span,
            format!("`{}` must be followed by a name", t.root.name),
        )
        .label(format!("write `{form}`"))
        .emit();
        Ty::Any
    }

    fn unknown_member(&mut self, t: &Traversal<'_>, root: &str, members: &[&str]) -> Ty {
        let (name, span) = match t.steps.first() {
            Some(Step::Attr(i)) => (i.name.clone(), i.span),
            _ => (String::new(), t.root.span),
        };
        let hint = suggest::best(&name, members.iter().copied()).map(str::to_string);
        self.error(
            codes::E0109,
            span,
            format!("`{root}` has no attribute `{name}`"),
        )
        .label(format!("`{root}` has {}", list_names(members)))
        .suggest(hint, span)
        .emit();
        Ty::Any
    }

    /// `<server>.<type>.<name>`, `data.<server>.<type>.<name>`, `task.<server>.<tool>.<name>`.
    fn declared_ref(&mut self, t: &Traversal<'_>, prefix: &str) -> Ty {
        let mut parts: Vec<&mcpo_syntax::ast::Ident> = Vec::new();
        if prefix.is_empty() {
            parts.push(t.root);
        }
        let skip = usize::from(prefix.is_empty());
        let needed = 3 - skip;
        for s in t.steps.iter().take(needed) {
            match s {
                Step::Attr(i) => parts.push(i),
                _ => break,
            }
        }
        let [server, ty, name] = parts.as_slice() else {
            let form = match prefix {
                "data" => "data.<server>.<type>.<name>",
                "task" => "task.<server>.<tool>.<name>",
                _ => "<server>.<type>.<name>",
            };
            let span = parts.last().map_or(t.root.span, |p| p.span);
            self.error(
                codes::E0106,
                t.root.span.cover(span),
                "incomplete reference",
            )
            .label(format!("a reference is written `{form}`"))
            .emit();
            return Ty::Any;
        };
        let key = if prefix.is_empty() {
            format!("{}.{}.{}", server.name, ty.name, name.name)
        } else {
            format!("{prefix}.{}.{}.{}", server.name, ty.name, name.name)
        };
        let rest = t.steps.get(needed..).unwrap_or(&[]);
        let repeat = if let Some((_, _, r)) = self.scope.pattern_resources.get(&key) {
            *r
        } else if let Some(d) = self.index.get(self.db, &key) {
            d.repeat
        } else {
            let kind_prefix = if prefix.is_empty() {
                format!("{}.{}.", server.name, ty.name)
            } else {
                format!("{prefix}.{}.{}.", server.name, ty.name)
            };
            let mut names: Vec<&str> = self.index.names_with_prefix(&kind_prefix).collect();
            let local: Vec<String> = self
                .scope
                .pattern_resources
                .keys()
                .filter_map(|k| k.strip_prefix(&kind_prefix).map(str::to_string))
                .collect();
            names.extend(local.iter().map(String::as_str));
            names.sort();
            let what = match prefix {
                "data" => "data block",
                "task" => "task",
                _ => "resource",
            };
            let hint = suggest::best(&name.name, names.iter().copied()).map(str::to_string);
            let mut b = self
                .error(codes::E0106, name.span, format!("no {what} `{key}`"))
                .label(format!(
                    "no {what} of type `{}.{}` is named `{}`",
                    server.name, ty.name, name.name
                ))
                .suggest(hint.clone(), name.span);
            if hint.is_none() && !names.is_empty() {
                b = b.help(format!("declared: {}", list_names(&names)));
            }
            b.emit();
            return Ty::Any;
        };
        let (input, output) = if prefix == "task" {
            let out = self
                .catalog(&server.name)
                .and_then(|c| c.tools.get(&ty.name))
                .map(|t| t.output.clone())
                .unwrap_or(Ty::Any);
            (Ty::Any, out)
        } else {
            match self.adapter_type(&server.name, &ty.name) {
                Some(pair) => pair,
                None => match self
                    .catalog(&server.name)
                    .and_then(|c| c.resource_types.get(&ty.name))
                {
                    Some(rt) => (rt.input.clone(), rt.output.clone()),
                    None => (Ty::Any, Ty::Any),
                },
            }
        };
        let whole = match repeat {
            Repeat::One => output,
            Repeat::Count => Ty::List(Box::new(output)),
            Repeat::ForEach => Ty::Map(Box::new(output)),
        };
        self.steps(whole, rest, Some(&input))
    }

    /// Applies traversal steps to a type. `inputs` is the resource's input type, to say
    /// "input, not output" for an attribute only the inputs have.
    fn steps(&mut self, mut ty: Ty, steps: &[Step<'_>], inputs: Option<&Ty>) -> Ty {
        let mut splat = false;
        let mut first_attr = true;
        for s in steps {
            let sensitive = ty.is_sensitive();
            let next = if splat {
                let inner = self.step(&element(&ty), s, if first_attr { inputs } else { None });
                Ty::List(Box::new(inner))
            } else {
                match s {
                    Step::Splat => {
                        splat = true;
                        if matches!(ty.strip_sensitive(), Ty::Object(_)) {
                            // A splat on one object makes a one-element list.
                            Ty::List(Box::new(ty.clone()))
                        } else {
                            ty.clone()
                        }
                    }
                    _ => self.step(&ty, s, if first_attr { inputs } else { None }),
                }
            };
            if matches!(s, Step::Attr(_)) {
                first_attr = false;
            }
            ty = taint(next, sensitive);
        }
        ty
    }

    fn step(&mut self, ty: &Ty, s: &Step<'_>, inputs: Option<&Ty>) -> Ty {
        match s {
            Step::Attr(name) => self.get_attr(ty, name, inputs),
            Step::Index(key) => self.index_into(ty, key),
            Step::Legacy => element(ty),
            Step::Splat => ty.clone(),
        }
    }

    fn get_attr(&mut self, ty: &Ty, name: &mcpo_syntax::ast::Ident, inputs: Option<&Ty>) -> Ty {
        match ty.strip_sensitive() {
            Ty::Any => Ty::Any,
            Ty::Map(t) => (**t).clone(),
            Ty::Object(o) => {
                if let Some(a) = o.get(&name.name) {
                    return a.ty.clone();
                }
                if let Some(x) = &o.extra {
                    return (**x).clone();
                }
                if let Some(inp) = inputs.and_then(Ty::as_object)
                    && inp.get(&name.name).is_some()
                {
                    self.error(
                        codes::E0110,
                        name.span,
                        format!("`{}` is an input, not an output", name.name),
                    )
                    .label("the server does not return it, so it cannot be read back")
                    .help("read the value from where it comes from (a variable or a local) instead")
                    .emit();
                    return Ty::Any;
                }
                let hint = suggest::best(&name.name, o.attrs.keys().map(String::as_str))
                    .map(str::to_string);
                let names: Vec<&str> = o.attrs.keys().map(String::as_str).collect();
                let mut b = self
                    .error(
                        codes::E0109,
                        name.span,
                        format!("no attribute `{}`", name.name),
                    )
                    .label(format!("not in `{}`", short(ty)));
                if hint.is_some() {
                    b = b.suggest(hint, name.span);
                } else if names.len() <= 12 && !names.is_empty() {
                    b = b.help(format!("the attributes are {}", list_names(&names)));
                }
                b.emit();
                Ty::Any
            }
            Ty::Union(members) => {
                // Read from whichever members have it.
                let mut out = Ty::Null;
                self.quiet += 1;
                for m in members.clone() {
                    let t = self.get_attr(&m, name, None);
                    out = join(&out, &t);
                }
                self.quiet -= 1;
                if out == Ty::Null { Ty::Any } else { out }
            }
            Ty::List(_) | Ty::Tuple(_) | Ty::Set(_) => {
                self.error(
                    codes::E0209,
                    name.span,
                    format!("`.{}` on a list", name.name),
                )
                .label(format!("this is {}, not one object", describe(ty)))
                .help(format!(
                    "index one element (`[0].{0}`, `[count.index].{0}`) or all of them (`[*].{0}`)",
                    name.name
                ))
                .emit();
                Ty::Any
            }
            other => {
                self.error(
                    codes::E0209,
                    name.span,
                    format!("`.{}` on a value of type `{other}`", name.name),
                )
                .label("only objects and maps have attributes")
                .emit();
                Ty::Any
            }
        }
    }

    fn index_into(&mut self, ty: &Ty, key: &Expr) -> Ty {
        let kt = self.infer(key);
        match ty.strip_sensitive() {
            Ty::Any => Ty::Any,
            Ty::List(t) => {
                self.index_key(&kt, &Ty::Number, key);
                (**t).clone()
            }
            Ty::Tuple(items) => {
                self.index_key(&kt, &Ty::Number, key);
                match literal(key).and_then(|v| v.as_u64()) {
                    Some(i) => match items.get(i as usize) {
                        Some(t) => t.clone(),
                        None => {
                            self.error(codes::E0209, key.span, format!("index {i} out of range"))
                                .label(format!("the tuple has {} elements", items.len()))
                                .emit();
                            Ty::Any
                        }
                    },
                    None => element(ty),
                }
            }
            Ty::Map(t) => {
                self.index_key(&kt, &Ty::String, key);
                (**t).clone()
            }
            Ty::Object(o) => match literal(key) {
                Some(Value::String(s)) => match o.get(&s) {
                    Some(a) => a.ty.clone(),
                    None => {
                        self.error(codes::E0109, key.span, format!("no attribute \"{s}\""))
                            .label(format!("not in `{}`", short(ty)))
                            .emit();
                        Ty::Any
                    }
                },
                _ => element(ty),
            },
            Ty::Union(_) => Ty::Any,
            Ty::Set(_) => {
                self.error(codes::E0209, key.span, "a set cannot be indexed")
                    .label("sets have no order")
                    .help("convert it with tolist(...) first, or use [*]")
                    .emit();
                Ty::Any
            }
            other => {
                self.error(
                    codes::E0209,
                    key.span,
                    format!("a value of type `{other}` cannot be indexed"),
                )
                .label("only lists, tuples and maps have elements")
                .emit();
                Ty::Any
            }
        }
    }

    fn index_key(&mut self, found: &Ty, want: &Ty, key: &Expr) {
        if !assignable(found, want) {
            self.error(
                codes::E0201,
                key.span,
                format!("expected `{want}`, found {}", describe(found)),
            )
            .label(format!("the index must be a {want}"))
            .emit();
        }
    }

    /// The type of local value `name`, inferred from its expression (in whatever file).
    fn local_type(&mut self, name: &str) -> Ty {
        if let Some(t) = self.local_types.get(name) {
            return t.clone();
        }
        if self.visiting.iter().any(|v| v == name) {
            // A cycle: reported by the workspace check.
            return Ty::Any;
        }
        let db = self.db;
        let Some((file, i)) = self
            .index
            .decls
            .get(&format!("local.{name}"))
            .and_then(|v| v.first())
            .copied()
        else {
            return Ty::Any;
        };
        let Some(d) = signature(db, file).decls.get(i) else {
            return Ty::Any;
        };
        let (item, sub) = (d.item, d.sub);
        let parsed = parse(db, file);
        let expr = match parsed.file.body.items.get(item) {
            Some(BodyItem::Block(b)) => match b.body.items.get(sub) {
                Some(BodyItem::Attribute(a)) => &a.value,
                _ => return Ty::Any,
            },
            _ => return Ty::Any,
        };
        self.visiting.push(name.to_string());
        let saved = std::mem::take(&mut self.scope);
        self.quiet += 1;
        let t = self.infer(expr);
        self.quiet -= 1;
        self.scope = saved;
        self.visiting.pop();
        self.local_types.insert(name.to_string(), t.clone());
        t
    }
}

/// Builds one diagnostic fluently and reports it on `emit`.
struct DiagBuilder<'a, 'db> {
    cx: &'a mut Cx<'db>,
    diag: Option<Diagnostic>,
}

impl DiagBuilder<'_, '_> {
    fn map(mut self, f: impl FnOnce(Diagnostic) -> Diagnostic) -> Self {
        self.diag = self.diag.take().map(f);
        self
    }

    fn label(self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.map(|d| d.with_primary_label(text))
    }

    fn secondary(self, span: Span, text: impl Into<String>) -> Self {
        let text = text.into();
        self.map(|d| d.with_label(span, text))
    }

    fn help(self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.map(|d| d.with_help(text))
    }

    /// Adds "did you mean" help and a fix replacing `span`, when there is a suggestion.
    fn suggest(self, hint: Option<String>, span: Span) -> Self {
        match hint {
            Some(h) => self.map(|d| {
                d.with_help(format!("did you mean `{h}`?")).with_fix(Fix {
                    title: format!("replace with `{h}`"),
                    span,
                    replacement: h.clone(),
                })
            }),
            None => self,
        }
    }

    fn emit(mut self) {
        if let Some(mut d) = self.diag.take() {
            let file = self.cx.file;
            d.file = file;
            for l in &mut d.labels {
                l.file = file;
            }
            self.cx.report(d);
        }
    }
}

/// The resources and data blocks declared inside a pattern, by address.
fn pattern_resources(pattern: &Block) -> BTreeMap<String, (String, String, Repeat)> {
    let mut out = BTreeMap::new();
    for it in &pattern.body.items {
        let BodyItem::Block(blk) = it else { continue };
        let l = labels(blk);
        let (kind, [t, n]) = (blk.ty.name.as_str(), l.as_slice()) else {
            continue;
        };
        if kind != "resource" && kind != "data" {
            continue;
        }
        let Some((s, ty)) = split_type(t) else {
            continue;
        };
        let key = if kind == "resource" {
            format!("{s}.{ty}.{n}")
        } else {
            format!("data.{s}.{ty}.{n}")
        };
        let rep = if names::attr(blk, "count").is_some() {
            Repeat::Count
        } else if names::attr(blk, "for_each").is_some() {
            Repeat::ForEach
        } else {
            Repeat::One
        };
        out.insert(key, (s.to_string(), ty.to_string(), rep));
    }
    out
}

fn obj(attrs: &[(&str, Ty)]) -> Ty {
    let mut m = BTreeMap::new();
    for (n, t) in attrs {
        m.insert((*n).to_string(), Attr::new(t.clone(), false));
    }
    Ty::object(m)
}

/// The inputs and outputs together (what `self` can read).
fn merge_objects(a: &Ty, b: &Ty) -> Ty {
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => {
            let mut attrs = x.attrs.clone();
            for (k, v) in &y.attrs {
                attrs.insert(k.clone(), v.clone());
            }
            Ty::object(attrs)
        }
        _ => Ty::Any,
    }
}

/// Every attribute optional (a data block's filters).
fn optional_all(t: &Ty) -> Ty {
    match t.as_object() {
        Some(o) => {
            let mut o = o.clone();
            for a in o.attrs.values_mut() {
                a.required = false;
            }
            Ty::Object(Arc::new(o))
        }
        None => Ty::Any,
    }
}

/// A literal expression's value (`"x"`, `1`, `true`, `-1`).
fn literal(e: &Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Bool(b) => Some(Value::Bool(*b)),
        ExprKind::Number(n) => serde_json::from_str::<Value>(n).ok().or_else(|| {
            n.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        }),
        ExprKind::Template(t) => t.as_literal().map(Value::String),
        ExprKind::Parens(inner) => literal(inner),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
            ..
        } => match literal(operand)? {
            Value::Number(n) => n
                .as_f64()
                .and_then(|x| serde_json::Number::from_f64(-x))
                .map(Value::Number),
            _ => None,
        },
        _ => None,
    }
}

fn chars(n: u64) -> String {
    if n == 1 {
        "1 character".to_string()
    } else {
        format!("{n} characters")
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn list_names(names: &[&str]) -> String {
    let shown: Vec<String> = names.iter().take(10).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 10 {
        format!(" and {} more", names.len() - 10)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

fn arg_count(min: usize, max: Option<usize>) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match max {
        Some(m) if m == min => format!("{min} {}", plural(min)),
        Some(m) => format!("{min} to {m} arguments"),
        None => format!("at least {min} {}", plural(min)),
    }
}

fn param_desc(p: P) -> &'static str {
    match p {
        P::Str => "a string",
        P::Num => "a number",
        P::Any => "any value",
        P::List => "a list",
        P::Map => "a map or object",
        P::Coll => "a collection or string",
    }
}

/// A type for a label: objects abbreviated.
fn short(t: &Ty) -> String {
    let s = t.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}
