//! References: the type a traversal names (`var.x`, resources, data, tasks, modules,
//! `self`, `each`, `count`, `param`, `step`, bound names) and the steps after it
//! (attributes, indexes, splats).

use super::{Cx, list_names, literal, merge_objects, short};
use crate::names::{Repeat, Step, Traversal};
use crate::types::{assignable, describe, element, join, taint};
use crate::{names, suggest};
use mcpo_diagnostics::{Code, codes};
use mcpo_schema::Ty;
use mcpo_syntax::ast::{Expr, Ident};
use serde_json::Value;
use std::collections::BTreeMap;

impl<'db> Cx<'db> {
    pub(super) fn traversal(&mut self, t: &Traversal<'_>) -> Ty {
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
                let target = self.index.get(self.db, &key).and_then(|d| {
                    crate::resolve_use(self.db, self.ws, &d.type_name, &d.module).ok()
                });
                let Some((tws, pattern, _)) = target else {
                    // The `use` itself is reported; its outputs are unknown.
                    return Ty::Any;
                };
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
                let outputs = crate::index(self.db, tws)
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
                        let ty = self.pattern_output_type(tws, &pattern, &out.name);
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
    pub(super) fn scoped_member(
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

    pub(super) fn needs_attr(&mut self, t: &Traversal<'_>, form: &str) -> Ty {
        self.error(
            codes::E0111,
            t.root.span,
            format!("`{}` must be followed by a name", t.root.name),
        )
        .label(format!("write `{form}`"))
        .emit();
        Ty::Any
    }

    pub(super) fn unknown_member(&mut self, t: &Traversal<'_>, root: &str, members: &[&str]) -> Ty {
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
    pub(super) fn declared_ref(&mut self, t: &Traversal<'_>, prefix: &str) -> Ty {
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
            // A task's value is its tool's result; its arguments are not part of it.
            self.catalog(&server.name)
                .and_then(|c| c.tools.get(&ty.name))
                .map_or((Ty::Any, Ty::Any), |t| (t.input.clone(), t.output.clone()))
        } else {
            match self.adapter_type(&server.name, &ty.name) {
                Some(pair) => pair,
                None => match self
                    .catalog(&server.name)
                    .and_then(|c| c.resource_types.get(&ty.name))
                {
                    // Every input is readable on a resource, as in Terraform; what the
                    // server reports wins where both have an attribute. A data block
                    // reads what the server reports only.
                    Some(rt) if prefix.is_empty() => {
                        (rt.input.clone(), readable(&rt.input, &rt.output))
                    }
                    Some(rt) => (rt.input.clone(), rt.output.clone()),
                    None => match self.data_tool_output(prefix, &server.name, &ty.name) {
                        Some(out) => (Ty::Any, out),
                        None => (Ty::Any, Ty::Any),
                    },
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
    pub(super) fn steps(&mut self, mut ty: Ty, steps: &[Step<'_>], inputs: Option<&Ty>) -> Ty {
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

    pub(super) fn step(&mut self, ty: &Ty, s: &Step<'_>, inputs: Option<&Ty>) -> Ty {
        match s {
            Step::Attr(name) => self.get_attr(ty, name, inputs),
            Step::Index(key) => self.index_into(ty, key),
            Step::Legacy => element(ty),
            Step::Splat => ty.clone(),
        }
    }

    pub(super) fn get_attr(
        &mut self,
        ty: &Ty,
        name: &mcpo_syntax::ast::Ident,
        inputs: Option<&Ty>,
    ) -> Ty {
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
                        format!("`{}` is an argument, not part of the result", name.name),
                    )
                    .label("a task's value is its tool's result; its arguments are not in it")
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

    pub(super) fn index_into(&mut self, ty: &Ty, key: &Expr) -> Ty {
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

    pub(super) fn index_key(&mut self, found: &Ty, want: &Ty, key: &Expr) {
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
}

/// What references read on a resource: its inputs and its outputs (the output's type
/// wins where both have an attribute). Anything but two object types stays the output.
fn readable(input: &Ty, output: &Ty) -> Ty {
    match (input.strip_sensitive(), output.strip_sensitive()) {
        (Ty::Object(i), Ty::Object(o)) => {
            let mut attrs = i.attrs.clone();
            for (k, a) in &o.attrs {
                attrs.insert(k.clone(), a.clone());
            }
            let mut merged = (**o).clone();
            merged.attrs = attrs;
            Ty::Object(std::sync::Arc::new(merged))
        }
        _ => output.clone(),
    }
}
