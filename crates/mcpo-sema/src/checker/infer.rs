//! Inference: the type of an expression where nothing in particular is expected
//! (operators, conditionals, `for`, templates, function and tool calls).

use super::{Cx, MAX_EXPR_DEPTH, Origin, arg_count, literal, param_desc};
use crate::types::{assignable, describe, element, join, object_key, taint};
use crate::{builtins, names, suggest};
use mcpo_diagnostics::{Span, codes};
use mcpo_schema::{Attr, Ty};
use mcpo_syntax::ast::{
    BinaryOp, Expr, ExprKind, FunctionCall, TemplateFor, TemplatePart, UnaryOp,
};
use std::collections::BTreeMap;
use std::sync::Arc;

impl<'db> Cx<'db> {
    pub(super) fn infer(&mut self, expr: &Expr) -> Ty {
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

    pub(super) fn infer_inner(&mut self, expr: &Expr) -> Ty {
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
    pub(super) fn postfix(&mut self, expr: &Expr) -> Ty {
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

    pub(super) fn template(&mut self, parts: &[TemplatePart]) -> Ty {
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
                TemplatePart::If(i) => {
                    self.condition(&i.condition);
                    sensitive |= self.template(&i.then).is_sensitive();
                    if let Some(o) = &i.otherwise {
                        sensitive |= self.template(o).is_sensitive();
                    }
                }
                TemplatePart::For(f) => {
                    let TemplateFor {
                        key_var,
                        value_var,
                        collection,
                        body,
                        ..
                    } = &**f;
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

    pub(super) fn call(&mut self, c: &FunctionCall, span: Span) -> Ty {
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

    pub(super) fn tool_call(
        &mut self,
        server: &str,
        c: &FunctionCall,
        server_span: Span,
        span: Span,
    ) -> Ty {
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
}
