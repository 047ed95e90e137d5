//! The types of declarations checked in their own right elsewhere: an adapter's outputs, a
//! pattern's outputs and a local value, inferred in their own scope without reporting there.
//!
//! Each is a tracked query keyed by the declaration's address, so a file that reads
//! `local.x` depends on the type of `x`, not on the text of the file declaring it: an
//! edit there that leaves the type as it was re-checks nothing else.
//!
//! Inferring one of these types can need itself: an adapter's output typed through a
//! local that reads a resource of that adapter's type, or locals that refer to each other
//! (E0400). Salsa then iterates from `any` (an adapter's outputs all `any`) until the
//! types stop changing; types that keep growing (`a = [local.b]`, `b = [local.a]`) are
//! `any` after [`MAX_TYPE_ITERATIONS`].

use super::{Cx, Scope, pattern_resources};
use crate::names::labels;
use crate::{SourceFile, Workspace, index, names, parse, signature};
use mcpo_schema::{Attr, Ty};
use mcpo_syntax::ast::{BodyItem, Expr, ExprKind};
use std::collections::BTreeMap;

pub use key::DeclKey;

mod key {
    #![expect(missing_docs, reason = "salsa generates an undocumented constructor")]

    /// A declaration's address (`local.x`, `adapter.aws.vpc`, `pattern.web.url` for an
    /// output of a pattern), interned: the key of the type queries.
    #[salsa::interned(debug)]
    pub struct DeclKey<'db> {
        /// The address.
        #[returns(ref)]
        pub address: String,
    }
}

/// The type of local value `local.<name>` (the first declaration of that name).
#[salsa::tracked(returns(ref), cycle_initial = any_initial, cycle_fn = settle)]
pub fn local_type<'db>(db: &'db dyn salsa::Database, ws: Workspace, key: DeclKey<'db>) -> Ty {
    let Some((file, item, sub)) = declared(db, ws, key.address(db)) else {
        return Ty::Any;
    };
    let parsed = parse(db, file);
    let expr = match parsed.file.body.items.get(item) {
        Some(BodyItem::Block(b)) => match b.body.items.get(sub) {
            Some(BodyItem::Attribute(a)) => &a.value,
            _ => return Ty::Any,
        },
        _ => return Ty::Any,
    };
    infer_quietly(db, ws, file, Scope::default(), expr)
}

/// The type of output `<output>` of pattern `<pattern>` (key `pattern.<pattern>.<output>`):
/// its value inferred in the pattern's scope (params and the pattern's own resources).
#[salsa::tracked(returns(ref), cycle_initial = any_initial, cycle_fn = settle)]
pub fn pattern_output_type<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    key: DeclKey<'db>,
) -> Ty {
    let address = key.address(db);
    let Some((pattern, name)) = address.rsplit_once('.') else {
        return Ty::Any;
    };
    let Some(&(file, i)) = index(db, ws).decls.get(pattern).and_then(|v| v.first()) else {
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
    let scope = Scope {
        params: Some(params),
        pattern_resources: pattern_resources(pb),
        ..Scope::default()
    };
    infer_quietly(db, ws, file, scope, value)
}

/// The (input, output) types of the resource type an `adapter` block defines (key
/// `adapter.<server>.<type>`): its `inputs`, and what references read: the inputs, its
/// `outputs` (each typed by its expression, inferred in the adapter's scope:
/// `tostring(result.x)` is a string) and `id`. `None` when no adapter defines the type.
#[salsa::tracked(
    returns(ref),
    cycle_initial = adapter_initial,
    cycle_fn = settle_adapter
)]
pub fn adapter_type<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    key: DeclKey<'db>,
) -> Option<(Ty, Ty)> {
    adapter_type_of(db, ws, key, true)
}

fn adapter_type_of<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    key: DeclKey<'db>,
    infer: bool,
) -> Option<(Ty, Ty)> {
    let &(file, i) = index(db, ws)
        .decls
        .get(key.address(db))
        .and_then(|v| v.first())?;
    let d = signature(db, file).decls.get(i)?;
    let outputs = match parse(db, file).file.body.items.get(d.item) {
        Some(BodyItem::Block(b)) if infer => names::attr(b, "outputs"),
        _ => None,
    };
    let inferred = match outputs {
        Some(o) if matches!(o.kind, ExprKind::Object(_)) => {
            let mut id = BTreeMap::new();
            id.insert("id".to_string(), Attr::new(Ty::String, true));
            let scope = Scope {
                self_parts: Some((d.ty.clone(), Ty::object(id))),
                tool_calls: true,
                vars: vec![("result".to_string(), Ty::Any)],
                ..Scope::default()
            };
            Some(infer_quietly(db, ws, file, scope, o))
        }
        _ => None,
    };
    // Every input is readable on the resource (as in Terraform); an output of the same
    // name (the value the server reports) wins.
    let mut attrs = match d.ty.strip_sensitive() {
        Ty::Object(o) => o.attrs.clone(),
        _ => BTreeMap::new(),
    };
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

/// The (input, output) types of resource type `server`.`ty` in `ws` when an adapter
/// defines it: one of `ws`'s own, else one a `use` imports from a package of adapters
/// (typed in its package, under the package's server names). The checker and the editor
/// both ask this.
pub fn adapter_types(
    db: &dyn salsa::Database,
    ws: Workspace,
    server: &str,
    ty: &str,
) -> Option<(Ty, Ty)> {
    let address = format!("adapter.{server}.{ty}");
    // Most types have no adapter: no key to intern for them.
    if index(db, ws).decls.contains_key(&address) {
        return adapter_type(db, ws, DeclKey::new(db, address)).clone();
    }
    let imported = crate::imported_adapters(db, ws).get(&address)?;
    let key = DeclKey::new(db, imported.address.clone());
    adapter_type(db, imported.module, key).clone()
}

/// Where `address` is declared: its file, top-level item and (for a local) attribute.
fn declared(
    db: &dyn salsa::Database,
    ws: Workspace,
    address: &str,
) -> Option<(SourceFile, usize, usize)> {
    let &(file, i) = index(db, ws).decls.get(address).and_then(|v| v.first())?;
    let d = signature(db, file).decls.get(i)?;
    Some((file, d.item, d.sub))
}

/// The type of `expr` in `file` under `scope`, without reporting anything.
fn infer_quietly(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    scope: Scope,
    expr: &Expr,
) -> Ty {
    let mut cx = Cx::new(db, ws, file.id(db));
    cx.quiet = 1;
    cx.scope = scope;
    cx.infer(expr)
}

/// How many times a cycle of these queries is inferred again before its types are `any`.
pub const MAX_TYPE_ITERATIONS: u32 = 8;

fn any_initial<'db>(
    _db: &'db dyn salsa::Database,
    _id: salsa::Id,
    _ws: Workspace,
    _key: DeclKey<'db>,
) -> Ty {
    Ty::Any
}

fn settle<'db>(
    _db: &'db dyn salsa::Database,
    cycle: &salsa::Cycle,
    _last: &Ty,
    value: Ty,
    _ws: Workspace,
    _key: DeclKey<'db>,
) -> Ty {
    if cycle.iteration() > MAX_TYPE_ITERATIONS {
        Ty::Any
    } else {
        value
    }
}

/// An adapter in a cycle starts with its outputs typed `any`.
fn adapter_initial<'db>(
    db: &'db dyn salsa::Database,
    _id: salsa::Id,
    ws: Workspace,
    key: DeclKey<'db>,
) -> Option<(Ty, Ty)> {
    adapter_type_of(db, ws, key, false)
}

fn settle_adapter<'db>(
    db: &'db dyn salsa::Database,
    cycle: &salsa::Cycle,
    _last: &Option<(Ty, Ty)>,
    value: Option<(Ty, Ty)>,
    ws: Workspace,
    key: DeclKey<'db>,
) -> Option<(Ty, Ty)> {
    if cycle.iteration() > MAX_TYPE_ITERATIONS {
        adapter_type_of(db, ws, key, false)
    } else {
        value
    }
}

impl<'db> Cx<'db> {
    /// The (input, output) types of resource type `server`.`ty` when an adapter defines it.
    pub(super) fn adapter_type(&mut self, server: &str, ty: &str) -> Option<(Ty, Ty)> {
        adapter_types(self.db, self.ws, server, ty)
    }

    /// The type of output `name` of pattern `pattern` declared in workspace `ws` (this
    /// one, or a module's).
    pub(super) fn pattern_output_type(&mut self, ws: Workspace, pattern: &str, name: &str) -> Ty {
        let key = DeclKey::new(self.db, format!("pattern.{pattern}.{name}"));
        pattern_output_type(self.db, ws, key).clone()
    }

    /// The type of local value `name`.
    pub(super) fn local_type(&mut self, name: &str) -> Ty {
        let key = DeclKey::new(self.db, format!("local.{name}"));
        local_type(self.db, self.ws, key).clone()
    }
}
