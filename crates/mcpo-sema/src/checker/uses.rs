//! What a `use` of a pattern is checked for besides its params' types: that the servers
//! the pattern's resources live on exist here (under the names `servers = {...}` maps
//! them to), and the pattern's rules (`validation` blocks of its params), evaluated at
//! check time on the values that are known then. A `use` of a package of adapters is
//! checked for the servers its adapters need.

use super::Cx;
use crate::eval::{self, Io, Scope};
use crate::names::{self, labels, split_type};
use crate::value::Val;
use crate::{SourceFile, Workspace, index, parse, signature};
use mcpo_diagnostics::{Span, codes};
use mcpo_syntax::ast::{Block, BodyItem};
use std::collections::{BTreeMap, BTreeSet};

/// The `pattern` block `name` of workspace `ws`, with its file.
pub fn pattern_block<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    name: &str,
) -> Option<(SourceFile, &'db Block)> {
    let &(file, i) = index(db, ws)
        .decls
        .get(&format!("pattern.{name}"))
        .and_then(|v| v.first())?;
    let d = signature(db, file).decls.get(i)?;
    match parse(db, file).file.body.items.get(d.item) {
        Some(BodyItem::Block(b)) => Some((file, b)),
        _ => None,
    }
}

/// The servers a pattern's resources, data reads and tasks live on, in name order.
pub fn pattern_servers(pattern: &Block) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for it in &pattern.body.items {
        let BodyItem::Block(b) = it else { continue };
        if !matches!(b.ty.name.as_str(), "resource" | "data" | "task") {
            continue;
        }
        if let Some(ty) = labels(b).first()
            && let Some((server, _)) = split_type(ty)
        {
            out.insert(server.to_string());
        }
    }
    out
}

/// The servers the adapters of package `mws` define types on and call tools of, in name
/// order (`aws` and `aws_api` for the EC2 package).
pub fn adapter_package_servers(db: &dyn salsa::Database, mws: Workspace) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in mws.files(db) {
        for it in &parse(db, *file).file.body.items {
            let BodyItem::Block(b) = it else { continue };
            if b.ty.name != "adapter" {
                continue;
            }
            if let Some(server) = labels(b).first() {
                out.insert((*server).to_string());
            }
            for item in &b.body.items {
                let BodyItem::Attribute(a) = item else {
                    continue;
                };
                crate::walk(&a.value, &mut |e| {
                    if let mcpo_syntax::ast::ExprKind::FunctionCall(c) = &e.kind
                        && let [server] = c.namespace.as_slice()
                    {
                        out.insert(server.name.clone());
                    }
                });
            }
        }
    }
    out
}

/// The spans of the entry for pattern server `from` in a `use` block's `servers`
/// mapping: (its key, its value).
fn mapping_entry(b: &Block, from: &str) -> Option<(Span, Span)> {
    let e = names::attr(b, "servers")?;
    let mcpo_syntax::ast::ExprKind::Object(items) = &e.kind else {
        return None;
    };
    items
        .iter()
        .find(|i| crate::types::object_key(&i.key).as_deref() == Some(from))
        .map(|i| (i.key.span, i.value.span))
}

/// Evaluation at check time: no files, no environment, no clock.
struct NoIo;

impl Io for NoIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        Err(format!("`{path}` is read at plan time"))
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("`{path}` is read at plan time"))
    }
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn now_rfc3339(&self) -> String {
        String::new()
    }
}

/// Whether a value holds no unknown part.
fn fully_known(v: &Val) -> bool {
    match v {
        Val::Unknown => false,
        Val::List(items) => items.iter().all(fully_known),
        Val::Map(m) => m.values().all(fully_known),
        Val::Sensitive(inner) => fully_known(inner),
        _ => true,
    }
}

impl Cx<'_> {
    /// Every server the pattern `name` (of module workspace `tws`) uses must exist here,
    /// under the name `mapping` gives it.
    pub(super) fn pattern_servers(
        &mut self,
        b: &Block,
        tws: Workspace,
        name: &str,
        mapping: &BTreeMap<String, String>,
    ) {
        let Some((_, pattern)) = pattern_block(self.db, tws, name) else {
            return;
        };
        let at = b.labels.first().map_or(b.ty.span, |l| l.span());
        for server in pattern_servers(pattern) {
            let mine = mapping.get(&server).unwrap_or(&server).clone();
            if self.server_known(&mine) {
                continue;
            }
            let span = mapping_entry(b, &server).map_or(at, |(_, value)| value);
            let (message, label) = if mine == server {
                (
                    format!(
                        "pattern `{name}` needs server `{server}`, which this workspace does not have"
                    ),
                    format!("its resources live on `{server}`"),
                )
            } else {
                (
                    format!("unknown server `{mine}`"),
                    format!("`servers` maps the pattern's `{server}` to it"),
                )
            };
            self.error(codes::E0101, span, message)
                .label(label)
                .help(format!(
                    "declare `server \"{mine}\"` (and run `mcpoc schema pull`), or map the pattern's `{server}` to one of yours: `servers = {{ {server} = <server> }}`"
                ))
                .emit();
        }
        for from in mapping.keys() {
            if !pattern_servers(pattern).contains(from) {
                let span = mapping_entry(b, from).map_or(at, |(key, _)| key);
                self.error(
                    codes::E0101,
                    span,
                    format!("pattern `{name}` uses no server `{from}`"),
                )
                .label("not a server of the pattern")
                .emit();
            }
        }
    }

    /// A `use` of a package (module workspace `mws`: adapters, runbooks): it takes no
    /// params, and every server its adapters define types on or call, and its runbooks
    /// call, must exist here, under the name `mapping` gives it.
    pub(super) fn adapter_use(
        &mut self,
        b: &Block,
        mws: Workspace,
        mapping: &BTreeMap<String, String>,
    ) {
        let at = b.labels.first().map_or(b.ty.span, |l| l.span());
        let for_adapters = adapter_package_servers(self.db, mws);
        let mut for_runbooks = BTreeSet::new();
        for file in mws.files(self.db) {
            for it in &parse(self.db, *file).file.body.items {
                if let BodyItem::Block(r) = it
                    && r.ty.name == "runbook"
                {
                    for_runbooks.extend(crate::runbook_servers(r));
                }
            }
        }
        let needed: BTreeSet<String> = for_adapters.union(&for_runbooks).cloned().collect();
        for server in &needed {
            let mine = mapping.get(server).unwrap_or(server).clone();
            if self.server_known(&mine) {
                continue;
            }
            let what = if for_adapters.contains(server) {
                "these adapters"
            } else {
                "these runbooks"
            };
            let span = mapping_entry(b, server).map_or(at, |(_, value)| value);
            let (message, label) = if &mine == server {
                (
                    format!("{what} need server `{server}`, which this workspace does not have"),
                    if for_adapters.contains(server) {
                        format!("their types and tool calls are on `{server}`")
                    } else {
                        format!("their steps call tools of `{server}`")
                    },
                )
            } else {
                (
                    format!("unknown server `{mine}`"),
                    format!("`servers` maps the {}' `{server}` to it", &what[6..]),
                )
            };
            self.error(codes::E0101, span, message)
                .label(label)
                .help(format!(
                    "declare `server \"{mine}\"` (and run `mcpoc schema pull`), or map the {}' `{server}` to one of yours: `servers = {{ {server} = <server> }}`",
                    &what[6..]
                ))
                .emit();
        }
        for from in mapping.keys() {
            if !needed.contains(from) {
                let span = mapping_entry(b, from).map_or(at, |(key, _)| key);
                let shown: Vec<&str> = needed.iter().map(String::as_str).collect();
                let what = if for_runbooks.is_empty() {
                    "these adapters use"
                } else if for_adapters.is_empty() {
                    "these runbooks use"
                } else {
                    "this package uses"
                };
                self.error(codes::E0101, span, format!("{what} no server `{from}`"))
                    .label("not a server of the package")
                    .help(format!("its servers are {}", super::list_names(&shown)))
                    .emit();
            }
        }
    }

    /// The pattern's rules: each param's `validation` blocks, evaluated when every value
    /// they read is known now (given as a literal, or a default); a broken rule is
    /// reported at the `use`, on the value that breaks it.
    pub(super) fn pattern_rules(&mut self, b: &Block, tws: Workspace, name: &str) {
        let Some((_, pattern)) = pattern_block(self.db, tws, name) else {
            return;
        };
        let servers = BTreeSet::new();
        let functions = BTreeMap::new();
        let empty: BTreeMap<String, Val> = BTreeMap::new();
        // Each param's value: what the use gives (evaluated where the use is, with
        // nothing declared in scope), else its default; unknown when neither is known.
        let mut values: BTreeMap<String, Val> = BTreeMap::new();
        let mut given: BTreeMap<String, Span> = BTreeMap::new();
        for it in &pattern.body.items {
            let BodyItem::Block(p) = it else { continue };
            let ls = labels(p);
            let (true, [pn]) = (p.ty.name == "param", ls.as_slice()) else {
                continue;
            };
            let expr = match names::attr(b, pn) {
                Some(e) => {
                    given.insert((*pn).to_string(), e.span);
                    Some(e)
                }
                None => names::attr(p, "default"),
            };
            let scope = Scope::new(&empty, &servers, &functions, &NoIo);
            let v = match expr.map(|e| eval::eval(e, &scope)) {
                Some(Ok(v)) if fully_known(&v) => v,
                _ => Val::Unknown,
            };
            values.insert(format!("param.{pn}"), v);
        }
        let at = b.labels.first().map_or(b.ty.span, |l| l.span());
        for it in &pattern.body.items {
            let BodyItem::Block(p) = it else { continue };
            let ls = labels(p);
            let (true, [pn]) = (p.ty.name == "param", ls.as_slice()) else {
                continue;
            };
            for v in &p.body.items {
                let BodyItem::Block(rule) = v else { continue };
                if rule.ty.name != "validation" {
                    continue;
                }
                let Some(cond) = names::attr(rule, "condition") else {
                    continue;
                };
                let scope = Scope::new(&values, &servers, &functions, &NoIo);
                if !matches!(eval::eval(cond, &scope), Ok(Val::Bool(false))) {
                    continue;
                }
                let message = match names::attr(rule, "message").map(|m| eval::eval(m, &scope)) {
                    Some(Ok(Val::String(s))) => s,
                    _ => "the pattern's rule is broken".to_string(),
                };
                let (span, label) = rule_site(cond, pn, name, &given, at);
                self.error(codes::E0117, span, message).label(label).emit();
            }
        }
    }
}

/// Where a broken rule of param `param` (of pattern `pattern`) is reported, and its label:
/// on the param's value at the use; else on the value of another param the condition
/// reads that the use gives (`web_vlan_tag = 120` breaks `cde_vlan_tag`'s rule); else on
/// the use itself, where the defaults apply.
pub fn rule_site(
    condition: &mcpo_syntax::ast::Expr,
    param: &str,
    pattern: &str,
    given: &BTreeMap<String, Span>,
    at: Span,
) -> (Span, String) {
    if let Some(span) = given.get(param) {
        return (
            *span,
            format!("`{param}` breaks a rule of pattern `{pattern}`"),
        );
    }
    let read = eval::references(condition, &BTreeSet::new());
    let other = read
        .iter()
        .filter_map(|k| k.strip_prefix("param."))
        .find_map(|p| Some((p, given.get(p)?)));
    match other {
        Some((p, span)) => (
            *span,
            format!("`{p}` breaks the rule of `{param}` of pattern `{pattern}`"),
        ),
        None => (
            at,
            format!("the default of `{param}` breaks a rule of pattern `{pattern}` here"),
        ),
    }
}
