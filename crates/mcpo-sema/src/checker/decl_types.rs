//! The types of declarations checked in their own right elsewhere: an adapter's outputs, a
//! pattern's outputs and a local value, inferred in their own scope without reporting there.

use super::{Cx, Scope, pattern_resources};
use crate::names::labels;
use crate::{names, parse, signature};
use mcpo_schema::{Attr, Ty};
use mcpo_syntax::ast::{BodyItem, ExprKind};
use std::collections::BTreeMap;

impl<'db> Cx<'db> {
    /// The (input, output) types of a resource type defined by an `adapter` block: its
    /// `inputs`, and its `outputs` (each typed by its expression, inferred in the
    /// adapter's scope without reporting there: `tostring(result.x)` is a string) plus
    /// `id`.
    pub(super) fn adapter_type(&mut self, server: &str, ty: &str) -> Option<(Ty, Ty)> {
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
    pub(super) fn pattern_output_type(&mut self, pattern: &str, name: &str) -> Ty {
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

    /// The type of local value `name`, inferred from its expression (in whatever file).
    pub(super) fn local_type(&mut self, name: &str) -> Ty {
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
