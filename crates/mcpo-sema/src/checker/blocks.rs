//! Top-level blocks and their bodies: each block type's own rules (labels, meta-arguments,
//! nested blocks), and a body checked against an object type (unknown, repeated and
//! missing attributes).

use super::{
    ADAPTER_ATTRS, Cx, Origin, RESOURCE_META, Scope, TOP_BLOCKS, list_names, obj, optional_all,
    pattern_resources,
};
use crate::names::{labels, split_type};
use crate::types::{assignable, describe, element, object_key, parse_type_expr};
use crate::{names, suggest};
use mcpo_diagnostics::{Span, codes};
use mcpo_schema::{Attr, ObjectTy, Ty};
use mcpo_syntax::ast::{Block, BodyItem, Expr, ExprKind};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

impl<'db> Cx<'db> {
    pub(super) fn adapter(&mut self, b: &Block) {
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
        let header = b.labels.last().map_or(b.ty.span, |l| l.span());
        if names::attr(b, "create").is_none() {
            self.error(codes::E0212, header, "adapter has no `create`")
                .label("an adapter creates its resources with one tool call")
                .help(
                    "add `create = <server>::<tool>({ ... })`, its arguments computed from `self`",
                )
                .emit();
        }
        for it in &b.body.items {
            match it {
                BodyItem::Attribute(a) => match a.name.name.as_str() {
                    "inputs" => {}
                    "failed_when" | "gone_when" | "healthy_when" => self.condition(&a.value),
                    op @ ("create" | "read" | "update" | "delete" | "list" | "health") => {
                        self.infer(&a.value);
                        self.one_tool_call(&a.value, op);
                    }
                    "id" => {
                        // The id names the resource in read, update and delete: a string
                        // (or a number, which converts).
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
                    "outputs" => {
                        let t = self.infer(&a.value);
                        if !matches!(a.value.kind, ExprKind::Object(_)) {
                            self.error(
                                codes::E0201,
                                a.value.span,
                                format!("expected an object, found {}", describe(&t)),
                            )
                            .label("`outputs` maps each output's name to its expression")
                            .emit();
                        }
                    }
                    "items" => {
                        let t = self.infer(&a.value);
                        if !matches!(
                            t.strip_sensitive(),
                            Ty::Any | Ty::List(_) | Ty::Tuple(_) | Ty::Set(_)
                        ) {
                            self.error(
                                codes::E0201,
                                a.value.span,
                                format!("expected a list, found {}", describe(&t)),
                            )
                            .label(
                                "`items` is the list result's items, each an object with an `id`",
                            )
                            .emit();
                        }
                    }
                    "forget_on_delete" => {
                        if !matches!(a.value.kind, ExprKind::Bool(_)) {
                            self.error(codes::E0201, a.value.span, "expected `true` or `false`")
                                .label("`forget_on_delete` is a literal bool")
                                .emit();
                        }
                    }
                    other => {
                        let o = match obj(&ADAPTER_ATTRS
                            .iter()
                            .map(|n| (*n, Ty::Any))
                            .collect::<Vec<_>>())
                        {
                            Ty::Object(o) => o,
                            _ => continue,
                        };
                        let origin = Origin::new("the attributes of an `adapter` block").language();
                        self.unknown_attribute(other, a.name.span, &o, &origin, &[]);
                        self.infer(&a.value);
                    }
                },
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

    /// E0212 unless `e` makes exactly one tool call, `server::tool({...})` (it may choose
    /// between calls with a conditional).
    pub(super) fn one_tool_call(&mut self, e: &Expr, what: &str) {
        let mut calls = 0usize;
        let mut nested = false;
        names::walk(e, &mut |x| {
            if let ExprKind::FunctionCall(c) = &x.kind
                && c.namespace.len() == 1
            {
                calls += 1;
                if c.args.iter().any(|a| {
                    let mut inner = false;
                    names::walk(a, &mut |y| {
                        inner |=
                            matches!(&y.kind, ExprKind::FunctionCall(c) if c.namespace.len() == 1);
                    });
                    inner
                }) {
                    nested = true;
                }
            }
        });
        let direct = matches!(&e.kind, ExprKind::FunctionCall(c) if c.namespace.len() == 1)
            || matches!(&e.kind, ExprKind::Conditional { .. } | ExprKind::Parens(_));
        if calls == 0 || nested || !direct {
            self.error(
                codes::E0212,
                e.span,
                format!("`{what}` is not one tool call"),
            )
            .label(
                "this must be a tool call, `server::tool({ ... })`, or a conditional choosing one",
            )
            .help("compute the arguments inside the call; an operation makes exactly one call")
            .emit();
        }
    }

    pub(super) fn top_block(&mut self, b: &Block) {
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
            // Server blocks are evaluated by `servers` (E0303), except their default
            // `failed_when`, a condition on a tool's `result`.
            "server" => {
                if let Some(cond) = names::attr(b, "failed_when") {
                    self.scope.vars.push(("result".to_string(), Ty::Any));
                    self.condition(cond);
                }
            }
            // The backend is evaluated by `backend` (E0511).
            "backend" => {}
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

    pub(super) fn expect_labels(&mut self, b: &Block, n: usize, shape: &str) -> bool {
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

    pub(super) fn resource(&mut self, b: &Block, is_data: bool) {
        let what = if is_data { "data" } else { "resource" };
        if !self.expect_labels(b, 2, "a type `\"<server>.<type>\"` and a name") {
            return;
        }
        let Some(label) = b.labels.first() else {
            return;
        };
        if is_data
            && let Some((server, tool)) = split_type(label.value())
            && let Some((input, _)) = self.data_tool(server, tool)
        {
            self.data_on_tool(b, server, tool, input);
            return;
        }
        let resolved = self.resource_type(label, what);
        let (input, output, origin) = match &resolved {
            Some((server, ty, Some((input, output, origin)))) => (
                input.clone(),
                output.clone(),
                Origin::new(origin.clone()).about(format!("`{server}.{ty}`")),
            ),
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

    /// A `data` block whose type is a read-only tool: its attributes are the tool's
    /// arguments, its value the tool's result.
    fn data_on_tool(&mut self, b: &Block, server: &str, tool: &str, input: Ty) {
        let label_span = b.labels.first().map_or(b.ty.span, |l| l.span());
        if !self.read_only(server, tool) {
            self.error(
                codes::E0211,
                label_span,
                format!("`{server}` tool `{tool}` is not read-only"),
            )
            .label("a `data` block reads at plan time; its tools must not change anything")
            .help(format!(
                "call it from a `task`, or if it only reads, add `read_only_tools = [\"{tool}\"]` to `server \"{server}\"`"
            ))
            .emit();
        }
        self.repetition(b);
        self.scope.tool_calls = true;
        self.scope.in_data = true;
        let origin = Origin::new(format!("the inputSchema of `{server}` tool `{tool}`"))
            .about_tool(format!("{server}.{tool}"));
        self.body_against(&b.body.items, &input, &origin, RESOURCE_META, label_span);
        self.meta_blocks(&b.body.items);
    }

    /// `count` / `for_each`: checks them and sets up `count.index` / `each`.
    pub(super) fn repetition(&mut self, b: &Block) {
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
    pub(super) fn meta_blocks(&mut self, items: &[BodyItem]) {
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

    pub(super) fn block_body(&mut self, blk: &Block, schema: &Ty, origin: &Origin) {
        self.body_against(&blk.body.items, schema, origin, &[], blk.ty.span);
    }

    /// Checks a block body against an object type: unknown attributes, values, missing
    /// required attributes. `meta` names attributes and blocks handled elsewhere.
    pub(super) fn body_against(
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
                        // `failed_when` and `undo` see `result`: checked by their block;
                        // `servers` holds server names, read by `use_servers`; a step's
                        // `apply` names variables, read by `apply_step`.
                        if !matches!(
                            name,
                            "count"
                                | "for_each"
                                | "depends_on"
                                | "failed_when"
                                | "undo"
                                | "servers"
                                | "apply"
                        ) {
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
                    let nested = origin.nested();
                    match obj.as_ref().map(|o| o.get(name).cloned()) {
                        None => {
                            self.body_against(&blk.body.items, &Ty::Any, &nested, &[], blk.ty.span)
                        }
                        Some(Some(attr)) => {
                            let inner = match attr.ty.strip_sensitive() {
                                Ty::List(t) | Ty::Set(t) => (**t).clone(),
                                other => other.clone(),
                            };
                            self.body_against(&blk.body.items, &inner, &nested, &[], blk.ty.span);
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

    pub(super) fn unknown_attribute(
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
        // In the user's terms first (what they wrote has no such attribute); where the
        // rule comes from (the server's schema) under it.
        let message = match &origin.subject {
            Some(subject) => format!("{subject} has no {} `{name}`", origin.noun),
            None => format!("unknown attribute `{name}`"),
        };
        let mut b = self
            .error(codes::E0103, span, message)
            .label(format!("not in {}", origin.text));
        if hint.is_some() {
            b = b.suggest(hint, span);
        } else if !own.is_empty() && (own.len() <= 12 || origin.language) {
            b = b.help(format!("the attributes are {}", list_names(&own)));
        }
        b.emit();
    }

    pub(super) fn task(&mut self, b: &Block) {
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
        let output = self
            .catalog(server)
            .and_then(|c| c.tools.get(tool))
            .map_or(Ty::Any, |t| t.output.clone());
        self.repetition(b);
        self.scope.tool_calls = true;
        let origin = Origin::new(format!("the inputSchema of `{server}` tool `{tool}`"))
            .about_tool(format!("{server}.{tool}"));
        let input = input.unwrap_or(Ty::Any);
        self.body_against(
            &b.body.items,
            &input,
            &origin,
            &[
                "count",
                "depends_on",
                "for_each",
                "triggers",
                "failed_when",
                "undo",
            ],
            label.span(),
        );
        if let Some(t) = names::attr(b, "triggers") {
            self.infer(t);
        }
        // `failed_when` and `undo` see the task's arguments as `self` and its result as
        // `result`.
        let failed = names::attr(b, "failed_when");
        let undo = names::attr(b, "undo");
        if failed.is_some() || undo.is_some() {
            let saved = self.scope.clone();
            self.scope.self_parts = Some((input, Ty::object(BTreeMap::new())));
            self.scope.vars.push(("result".to_string(), output));
            if let Some(f) = failed {
                self.condition(f);
            }
            if let Some(u) = undo {
                self.infer(u);
                self.one_tool_call(u, "undo");
            }
            self.scope = saved;
        }
        self.meta_blocks(&b.body.items);
    }

    pub(super) fn variable(&mut self, b: &Block) {
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

    pub(super) fn locals(&mut self, b: &Block) {
        for it in &b.body.items {
            match it {
                BodyItem::Attribute(a) => {
                    self.infer(&a.value);
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

    pub(super) fn output(&mut self, b: &Block) {
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

    pub(super) fn use_block(&mut self, b: &Block) {
        if !self.expect_labels(b, 1, "one label, its name") {
            return;
        }
        let mut readable = true;
        let mut pattern = String::new();
        if let Some(p) = names::attr(b, "pattern") {
            match &p.kind {
                ExprKind::Template(t) if t.as_literal().is_some() => {
                    pattern = t.as_literal().unwrap_or_default();
                }
                _ => {
                    readable = false;
                    self.error(codes::E0201, p.span, "expected a pattern name as a string")
                        .label("`pattern` takes a literal string")
                        .emit();
                }
            }
        }
        for what in ["source", "version"] {
            if let Some(e) = names::attr(b, what)
                && !matches!(&e.kind, ExprKind::Template(t) if t.as_literal().is_some())
            {
                readable = false;
                self.error(codes::E0201, e.span, format!("expected the module's {what} as a string"))
                    .label(format!("`{what}` takes a literal string: modules are loaded before anything is evaluated"))
                    .emit();
            }
        }
        let mapping = match names::use_servers(b) {
            Ok(m) => m,
            Err(span) => {
                self.error(codes::E0201, span, "expected a server name")
                    .label("`servers` maps the pattern's server names to this workspace's: `{ aws = aws_eu }`")
                    .emit();
                BTreeMap::new()
            }
        };
        let link = names::use_link(b).unwrap_or_default();
        let source_span = names::attr(b, "source").map_or(b.ty.span, |e| e.span);
        // A package of adapters: its adapters become this workspace's; nothing to
        // instantiate, so no params.
        if readable
            && pattern.is_empty()
            && let Some(mws) = crate::package_module(self.db, self.ws, &link)
        {
            self.adapter_use(b, mws, &mapping);
            self.body_against(
                &b.body.items,
                &Ty::object(BTreeMap::new()),
                &Origin::new("a package of adapters (it takes no params)"),
                &["servers", "source", "version"],
                b.labels.first().map_or(b.ty.span, |l| l.span()),
            );
            return;
        }
        let mut params: Option<Vec<(String, Ty, bool)>> = None;
        let mut target = None;
        if readable && (!pattern.is_empty() || !link.is_empty()) {
            match crate::resolve_use(self.db, self.ws, &pattern, &link) {
                Ok((tws, name, module)) => {
                    params = crate::index(self.db, tws)
                        .get(self.db, &format!("pattern.{name}"))
                        .map(|d| d.params.clone());
                    target = Some((tws, name, module));
                }
                Err(problem) => self.use_problem(b, problem, source_span),
            }
        }
        if let Some((tws, name, Some(_))) = &target {
            self.pattern_servers(b, *tws, name, &mapping);
        }
        let meta = [
            "count",
            "depends_on",
            "for_each",
            "pattern",
            "servers",
            "source",
            "version",
        ];
        self.repetition(b);
        match params {
            Some(params) => {
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
                if let Some((tws, name, _)) = &target {
                    self.pattern_rules(b, *tws, name);
                }
            }
            None => self.body_against(
                &b.body.items,
                &Ty::Any,
                &Origin::new("the pattern's params"),
                &meta,
                b.ty.span,
            ),
        }
    }

    /// Reports why a `use` names no pattern.
    fn use_problem(&mut self, b: &Block, problem: crate::UseProblem, source_span: Span) {
        use crate::UseProblem as U;
        let pattern_span = names::attr(b, "pattern").map_or(source_span, |e| e.span);
        match problem {
            U::UnknownPattern {
                name,
                origin,
                names,
            } => {
                let hint = suggest::best(&name, names.iter().map(String::as_str))
                    .map(|h| format!("\"{h}\""));
                let label = match &origin {
                    None => "no `pattern` block has this name".to_string(),
                    Some(o) => format!("module `{o}` declares no pattern with this name"),
                };
                let mut e = self
                    .error(
                        codes::E0113,
                        pattern_span,
                        format!("unknown pattern `{name}`"),
                    )
                    .label(label)
                    .suggest(hint.clone(), pattern_span);
                if hint.is_none() && origin.is_some() && !names.is_empty() {
                    let shown: Vec<&str> = names.iter().map(String::as_str).collect();
                    e = e.help(format!("its patterns are {}", list_names(&shown)));
                }
                e.emit();
            }
            U::NotOne { origin: o, names } => {
                let (label, help) = if names.is_empty() {
                    (
                        format!("module `{o}` declares no `pattern` block"),
                        "a module used by `use` must declare a pattern".to_string(),
                    )
                } else {
                    let shown: Vec<&str> = names.iter().map(String::as_str).collect();
                    (
                        format!("module `{o}` declares several patterns"),
                        format!("name one with `pattern = \"...\"`: {}", list_names(&shown)),
                    )
                };
                self.error(codes::E0113, source_span, "which pattern?")
                    .label(label)
                    .help(help)
                    .emit();
            }
            U::NotLoaded { link } => {
                let e = self.error(
                    codes::E0116,
                    source_span,
                    format!("module `{link}` is not available"),
                );
                if names::local_source_dir(&link).is_some() {
                    e.label("the module directory was not loaded for this check")
                        .emit();
                } else {
                    e.label("this module has not been fetched")
                        .help("run `mcpoc get` to fetch it into `.mcpo/modules/` and pin it in `mcpo.lock`")
                        .emit();
                }
            }
            U::Unavailable { origin, reason } => {
                self.error(
                    codes::E0116,
                    source_span,
                    format!("module `{origin}` is not available"),
                )
                .label(reason)
                .emit();
            }
        }
    }

    pub(super) fn pattern(&mut self, b: &Block) {
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
                    self.param_body(blk);
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

    /// A pattern param's `description` and its `validation` blocks (which may read every
    /// param of the pattern).
    fn param_body(&mut self, p: &Block) {
        for it in &p.body.items {
            match it {
                BodyItem::Attribute(a) if a.name.name == "description" => {
                    self.against(
                        &a.value,
                        &Attr::new(Ty::String, true),
                        &Origin::new("a `param` block"),
                    );
                }
                BodyItem::Attribute(a) if matches!(a.name.name.as_str(), "type" | "default") => {}
                BodyItem::Attribute(a) => {
                    let allowed = ["default", "description", "type"];
                    let hint = suggest::best(&a.name.name, allowed).map(str::to_string);
                    self.error(
                        codes::E0103,
                        a.name.span,
                        format!("a `param` has no attribute `{}`", a.name.name),
                    )
                    .label("not an attribute of a `param` block")
                    .suggest(hint, a.name.span)
                    .emit();
                }
                BodyItem::Block(v) if v.ty.name == "validation" => {
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
                }
                BodyItem::Block(v) => {
                    let hint = suggest::best(&v.ty.name, ["validation"]).map(str::to_string);
                    self.error(
                        codes::E0100,
                        v.ty.span,
                        format!("unknown block type `{}`", v.ty.name),
                    )
                    .label("a `param` holds only `validation` blocks")
                    .suggest(hint, v.ty.span)
                    .emit();
                }
                BodyItem::Error(_) => {}
            }
        }
    }

    pub(super) fn function(&mut self, b: &Block) {
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

    pub(super) fn runbook(&mut self, b: &Block) {
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
                    let repeated = self.step_for_each(blk);
                    // `apply` names the workspace's variables: checked by `apply_step`.
                    self.body_against(
                        &blk.body.items,
                        &step_schema(),
                        &Origin::new("a `step` block"),
                        &["apply"],
                        blk.ty.span,
                    );
                    self.step_rules(blk, b);
                    // What later steps read as `step.<name>`: the result of `run`, or
                    // what an `apply` did; of a step with `for_each`, a map of them by key.
                    let result = match (names::attr(blk, "run"), names::attr(blk, "apply")) {
                        (Some(run), _) => {
                            self.quiet += 1;
                            let t = self.infer(run);
                            self.quiet -= 1;
                            t
                        }
                        (None, Some(apply)) => {
                            self.apply_step(apply);
                            apply_result_type()
                        }
                        (None, None) => Ty::Any,
                    };
                    let result = if repeated {
                        Ty::Map(Box::new(result))
                    } else {
                        result
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

    /// A step's `apply = { name = value, ... }`: an object whose keys are variables the
    /// workspace declares (E0104 otherwise) and whose values fit their types.
    fn apply_step(&mut self, e: &Expr) {
        let inner = match &e.kind {
            ExprKind::Parens(inner) => inner,
            _ => e,
        };
        let ExprKind::Object(items) = &inner.kind else {
            self.infer(e);
            self.error(codes::E0118, e.span, "invalid runbook step")
                .label("`apply` takes an object of the workspace's variables")
                .help("write the variables that change, e.g. `apply = { region = param.target_region }`; `apply = {}` applies the workspace as it is")
                .emit();
            return;
        };
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        for i in items {
            let Some(k) = object_key(&i.key) else {
                self.key(&i.key);
                self.infer(&i.value);
                self.error(codes::E0118, i.key.span, "invalid runbook step")
                    .label("a variable's name")
                    .help("the keys of `apply` are the names of the workspace's variables, written as they are")
                    .emit();
                continue;
            };
            if let Some(first) = seen.get(&k).copied() {
                self.error(
                    codes::E0108,
                    i.key.span,
                    format!("attribute `{k}` is set twice"),
                )
                .label("set again here")
                .secondary(first, "first set here")
                .help("remove one of them")
                .emit();
            }
            seen.insert(k.clone(), i.key.span);
            match self.index.get(self.db, &format!("var.{k}")) {
                Some(d) => {
                    let want = Attr::new(d.ty.clone(), true);
                    let origin = Origin::new(format!("the type of variable `{k}`"));
                    self.against(&i.value, &want, &origin);
                }
                None => {
                    self.infer(&i.value);
                    let names: Vec<&str> = self.index.names_with_prefix("var.").collect();
                    let hint = suggest::best(&k, names).map(str::to_string);
                    self.error(
                        codes::E0104,
                        i.key.span,
                        format!("unknown variable `{k}`"),
                    )
                    .label("`apply` changes the workspace's variables; no `variable` block has this name")
                    .suggest(hint, i.key.span)
                    .emit();
                }
            }
        }
    }

    /// A step's `for_each`: a list or set of strings (each instance's `each.key` and
    /// `each.value` are the string) or a map (`each.key` the key, `each.value` the value),
    /// like a resource's; sets up `each` for the step's body. Whether it has one.
    fn step_for_each(&mut self, blk: &Block) -> bool {
        let Some(f) = names::attr(blk, "for_each") else {
            return false;
        };
        // Its own names and types are reported when the body is checked.
        self.quiet += 1;
        let ty = self.infer(f);
        self.quiet -= 1;
        let strings = |t: &Ty| matches!(t.strip_sensitive(), Ty::String | Ty::Any);
        let (ok, each) = match ty.strip_sensitive() {
            Ty::Any => (true, Ty::Any),
            Ty::Map(_) | Ty::Object(_) => (true, element(&ty)),
            Ty::List(t) | Ty::Set(t) => (strings(t), Ty::String),
            Ty::Tuple(items) => (items.iter().all(strings), Ty::String),
            _ => (false, Ty::Any),
        };
        if !ok {
            self.error(
                codes::E0201,
                f.span,
                format!(
                    "expected a list or set of strings, or a map, found {}",
                    describe(&ty)
                ),
            )
            .label("a step's `for_each` takes a list or set of strings, or a map")
            .help("make strings of the items (`[for x in ... : tostring(x)]`), or a map with `{ for x in ... : key => x }`")
            .emit();
        }
        self.scope.each = Some(each);
        true
    }

    /// What a step does and how it fails: exactly one of `run`, `approve` and `apply`;
    /// `on_failure` is `"stop"`, `"continue"` or a list of the runbook's step names (its
    /// compensating steps); durations are durations.
    fn step_rules(&mut self, blk: &Block, runbook: &Block) {
        let at = blk.labels.first().map_or(blk.ty.span, |l| l.span());
        let acts: Vec<&str> = ["run", "approve", "apply"]
            .into_iter()
            .filter(|a| names::attr(blk, a).is_some())
            .collect();
        if acts.len() != 1 {
            let what = if acts.is_empty() {
                "a step does nothing".to_string()
            } else {
                format!("a step does one thing, this one sets {}", list_names(&acts))
            };
            self.error(codes::E0118, at, "invalid runbook step")
                .label(what)
                .help("give the step one of `run = server::tool({...})`, `approve = \"question\"` or `apply = { variable = value }`")
                .emit();
        }
        let steps: Vec<String> = runbook
            .body
            .items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Block(s) if s.ty.name == "step" => {
                    labels(s).first().map(|l| l.to_string())
                }
                _ => None,
            })
            .collect();
        if let Some(f) = names::attr(blk, "on_failure") {
            let bad = |this: &mut Self, span: Span, label: String| {
                this.error(codes::E0118, span, "invalid runbook step")
                    .label(label)
                    .help("`on_failure` is \"stop\" (the default), \"continue\", or the names of the steps that compensate, e.g. `[\"restore_dns\"]`")
                    .emit();
            };
            match &f.kind {
                ExprKind::Template(_) => match static_string(f).as_deref() {
                    Some("stop" | "continue") => {}
                    _ => bad(self, f.span, "not \"stop\" or \"continue\"".into()),
                },
                ExprKind::Tuple(items) => {
                    for item in items {
                        match static_string(item) {
                            Some(name) if steps.contains(&name) => {}
                            Some(name) => {
                                bad(self, item.span, format!("no step `{name}` in this runbook"))
                            }
                            None => bad(self, item.span, "a step's name, as a string".into()),
                        }
                    }
                }
                _ => bad(self, f.span, "a string or a list of step names".into()),
            }
        }
        if let Some(d) = names::attr(blk, "depends_on") {
            let own = labels(blk).first().map(|l| l.to_string());
            let earlier: Vec<String> = steps
                .iter()
                .take_while(|s| Some(*s) != own.as_ref())
                .cloned()
                .collect();
            let bad = |this: &mut Self, span: Span, label: String| {
                this.error(codes::E0118, span, "invalid runbook step")
                    .label(label)
                    .help("`depends_on` names the steps of this runbook that must finish first, e.g. `[\"promote_database\"]`")
                    .emit();
            };
            match &d.kind {
                ExprKind::Tuple(items) => {
                    for item in items {
                        match static_string(item) {
                            Some(name) if own.as_ref() == Some(&name) => {
                                bad(self, item.span, "a step cannot wait for itself".into())
                            }
                            // Like `step.<name>`, only an earlier step: so steps never
                            // wait for each other in a circle.
                            Some(name) if earlier.contains(&name) => {}
                            Some(name) if steps.contains(&name) => bad(
                                self,
                                item.span,
                                format!(
                                    "`{name}` is declared after this step, which can wait only for earlier ones"
                                ),
                            ),
                            Some(name) => {
                                bad(self, item.span, format!("no step `{name}` in this runbook"))
                            }
                            None => bad(self, item.span, "a step's name, as a string".into()),
                        }
                    }
                }
                _ => bad(self, d.span, "a list of step names".into()),
            }
        }
        let duration = |this: &mut Self, e: &Expr| {
            if let Some(text) = static_string(e)
                && crate::value::parse_duration(&text).is_none()
            {
                this.error(codes::E0118, e.span, "invalid runbook step")
                    .label(format!("`{text}` is not a duration"))
                    .help("write a duration such as \"500ms\", \"30s\", \"5m\" or \"1h\"")
                    .emit();
            }
        };
        for name in ["timeout", "backoff"] {
            if let Some(e) = names::attr(blk, name) {
                duration(self, e);
            }
        }
        if let Some(w) = blk.body.items.iter().find_map(|i| match i {
            BodyItem::Block(w) if w.ty.name == "wait_for" => Some(w),
            _ => None,
        }) {
            for name in ["timeout", "interval"] {
                if let Some(e) = names::attr(w, name) {
                    duration(self, e);
                }
            }
        }
    }
}

/// The attributes of a runbook `step` block.
fn step_schema() -> Ty {
    obj(&[
        ("run", Ty::Any),
        ("approve", Ty::String),
        ("apply", Ty::Any),
        ("for_each", Ty::Any),
        ("when", Ty::Bool),
        ("description", Ty::String),
        ("depends_on", Ty::Any),
        ("retries", Ty::Number),
        ("backoff", Ty::String),
        ("timeout", Ty::String),
        ("idempotent", Ty::Bool),
        ("on_failure", Ty::Any),
        (
            "wait_for",
            obj(&[
                ("run", Ty::Any),
                ("condition", Ty::Bool),
                ("timeout", Ty::String),
                ("interval", Ty::String),
            ]),
        ),
    ])
}

/// What a later step reads as `step.<name>` of an `apply` step: how many resources the
/// apply created, updated, replaced and deleted.
fn apply_result_type() -> Ty {
    obj(&[
        ("created", Ty::Number),
        ("updated", Ty::Number),
        ("replaced", Ty::Number),
        ("deleted", Ty::Number),
    ])
}

/// The text of a string literal without interpolation.
fn static_string(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Template(t) => {
            let mut out = String::new();
            for part in &t.parts {
                match part {
                    mcpo_syntax::ast::TemplatePart::Literal { value, .. } => out.push_str(value),
                    _ => return None,
                }
            }
            Some(out)
        }
        _ => None,
    }
}
