//! Lowering a checked workspace to a [`Program`] and planning it against state.
//!
//! Every declaration becomes a *config node* keyed by its address (`var.x`, `local.x`,
//! `aws.vpc.main`, `module.shop.aws.vpc.main`, `output.url`, ...), with edges from the
//! references in its expressions (and `depends_on`). Resources, data reads and tasks
//! expand into *instances* (one per `count` index or `for_each` key). [`plan`] walks the
//! config nodes in dependency order, evaluating what is known, reading data through a
//! [`ToolCaller`], and diffing each instance against the state.
//!
//! The [`Program`] outlives planning: the executor asks it for a node's arguments once
//! the nodes it depends on are done ([`Program::eval_args`]), for readiness conditions
//! and for outputs.

use crate::driver::{Driver, Drivers};
use crate::eval::{self, EvalError, Lookup, Scope, ToolCaller, UserFn, equal, references};
use crate::plan::{
    Action, AttrChange, Change, NodeKind, OutputChange, PLAN_FORMAT_VERSION, Plan, PlanMode,
    PlanSource,
};
use crate::{Io, Val};
use mcpo_diagnostics::{Diagnostic, FileId, Span, codes};
use mcpo_schema::Ty;
use mcpo_sema::{Catalog, Workspace};
use mcpo_state::{ResourceState, State};
use mcpo_syntax::ast::{Block, BodyItem, Expr, ExprKind};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Values of finished nodes, by instance address (a resource's value is its outputs
/// object, `id` included).
pub type Values = BTreeMap<String, Val>;

/// What a config node is.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Var,
    Local,
    Param,
    Output,
    Module {
        outputs: Vec<String>,
    },
    /// A `use` with `count`/`for_each`: its instances' module nodes (`module.x[0]`).
    ModuleSet {
        members: Vec<(InstanceKey, String)>,
    },
    Resource,
    Data,
    Task,
}

/// How a block repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    One,
    Count,
    ForEach,
}

/// One declaration, lowered.
#[derive(Debug, Clone)]
struct Node {
    key: String,
    kind: Kind,
    /// Prefix for references inside its expressions (`module.shop.` in a pattern).
    prefix: String,
    file: FileId,
    span: Span,
    /// The value expression (locals, params, outputs).
    expr: Option<Expr>,
    /// The block (resources, data, tasks, outputs).
    block: Option<Block>,
    server: String,
    type_name: String,
    /// Referenced config keys (prefixed).
    refs: BTreeSet<String>,
    repeat: Repeat,
    /// Instance addresses with their `count.index` / `each` values.
    instances: Vec<(String, InstanceKey)>,
    sensitive: bool,
    /// For a param of a repeated `use`: which instance (its `count.index` / `each`).
    inst: InstanceKey,
}

/// Which instance of a repeated block.
#[derive(Debug, Clone, PartialEq)]
enum InstanceKey {
    One,
    Index(usize),
    Key(String, Val),
}

/// A readiness wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitFor {
    /// How long to wait before giving up.
    pub timeout: Duration,
}

/// A lowered workspace.
pub struct Program {
    servers: BTreeSet<String>,
    /// How each resource type is created, read, updated, deleted and listed.
    drivers: Drivers,
    functions: BTreeMap<String, UserFn>,
    nodes: BTreeMap<String, Node>,
    /// Instance address -> config key.
    instances: BTreeMap<String, String>,
    vars: BTreeMap<String, Val>,
    planned: BTreeMap<String, Val>,
    planned_instances: BTreeMap<String, Val>,
}

/// What planning needs besides the workspace.
pub struct PlanInputs<'a> {
    /// Variable values as given on the command line or in the environment (HCL syntax;
    /// a bare word is a string).
    pub variables: BTreeMap<String, String>,
    /// The (refreshed) state.
    pub state: &'a State,
    /// Reads data sources at plan time; without one, data reads are deferred to apply.
    pub reader: Option<&'a dyn ToolCaller>,
    /// Files, environment, clock.
    pub io: &'a dyn Io,
    /// Normal or destroy.
    pub mode: PlanMode,
    /// The workspace's source files, embedded in the plan.
    pub sources: Vec<PlanSource>,
}

const RESOURCE_META: &[&str] = &["count", "for_each", "depends_on", "provider"];
const TASK_META: &[&str] = &["count", "for_each", "depends_on", "triggers"];
const META_BLOCKS: &[&str] = &["lifecycle", "wait_for"];

fn attr<'a>(block: &'a Block, name: &str) -> Option<&'a Expr> {
    block.body.items.iter().find_map(|i| match i {
        BodyItem::Attribute(a) if a.name.name == name => Some(&a.value),
        _ => None,
    })
}

fn sub_block<'a>(block: &'a Block, name: &str) -> Option<&'a Block> {
    block.body.items.iter().find_map(|i| match i {
        BodyItem::Block(b) if b.ty.name == name => Some(b),
        _ => None,
    })
}

fn labels(block: &Block) -> Vec<&str> {
    block.labels.iter().map(|l| l.value()).collect()
}

fn is_true(e: Option<&Expr>) -> bool {
    matches!(e.map(|e| &e.kind), Some(ExprKind::Bool(true)))
}

/// Collects the declarations of a workspace.
struct Builder<'a> {
    db: &'a dyn salsa::Database,
    index: &'a mcpo_sema::Index,
    /// The variables' values: a `use` block's `count`/`for_each` may read them.
    vars: BTreeMap<String, Val>,
    io: &'a dyn Io,
    servers: BTreeSet<String>,
    patterns: BTreeMap<String, (FileId, &'a Block)>,
    functions: BTreeMap<String, UserFn>,
    nodes: BTreeMap<String, Node>,
    diags: Vec<Diagnostic>,
}

impl<'a> Builder<'a> {
    fn node(&self, key: String, kind: Kind, prefix: &str, file: FileId, span: Span) -> Node {
        Node {
            key,
            kind,
            prefix: prefix.to_string(),
            file,
            span,
            expr: None,
            block: None,
            server: String::new(),
            type_name: String::new(),
            refs: BTreeSet::new(),
            repeat: Repeat::One,
            instances: Vec::new(),
            sensitive: false,
            inst: InstanceKey::One,
        }
    }

    fn refs_of(&self, expr: &Expr, prefix: &str) -> BTreeSet<String> {
        references(expr, &self.servers)
            .into_iter()
            .map(|k| format!("{prefix}{k}"))
            .collect()
    }

    fn block_refs(&self, block: &Block, prefix: &str, out: &mut BTreeSet<String>) {
        for item in &block.body.items {
            match item {
                BodyItem::Attribute(a) => out.extend(self.refs_of(&a.value, prefix)),
                // `self` inside wait_for refers to the block itself, not a dependency.
                BodyItem::Block(b) if b.ty.name == "wait_for" => {}
                BodyItem::Block(b) => self.block_refs(b, prefix, out),
                BodyItem::Error(_) => {}
            }
        }
    }

    fn add(&mut self, node: Node) {
        if self.nodes.contains_key(&node.key) {
            // Duplicates are the checker's E0105; keep the first.
            return;
        }
        self.nodes.insert(node.key.clone(), node);
    }

    /// Adds the declarations in one body (a file, or a pattern's body under `prefix`).
    fn body(&mut self, file: FileId, items: &'a [BodyItem], prefix: &str, depth: usize) {
        for item in items {
            let BodyItem::Block(block) = item else {
                continue;
            };
            let labels = labels(block);
            match (block.ty.name.as_str(), labels.as_slice()) {
                ("locals", _) => {
                    for i in &block.body.items {
                        if let BodyItem::Attribute(a) = i {
                            let mut n = self.node(
                                format!("{prefix}local.{}", a.name.name),
                                Kind::Local,
                                prefix,
                                file,
                                a.name.span,
                            );
                            n.refs = self.refs_of(&a.value, prefix);
                            n.expr = Some(a.value.clone());
                            self.add(n);
                        }
                    }
                }
                ("param", [name]) if !prefix.is_empty() => {
                    // Params are added by `use_block` with the value given at the use.
                    let _ = name;
                }
                ("resource" | "data" | "task", [ty, name]) => {
                    let Some((server, type_name)) = ty.split_once('.') else {
                        continue;
                    };
                    let (kind, key) = match block.ty.name.as_str() {
                        "resource" => (
                            Kind::Resource,
                            format!("{prefix}{server}.{type_name}.{name}"),
                        ),
                        "data" => (
                            Kind::Data,
                            format!("{prefix}data.{server}.{type_name}.{name}"),
                        ),
                        _ => (
                            Kind::Task,
                            format!("{prefix}task.{server}.{type_name}.{name}"),
                        ),
                    };
                    let mut n = self.node(
                        key,
                        kind,
                        prefix,
                        file,
                        block
                            .ty
                            .span
                            .cover(block.labels.last().map_or(block.ty.span, |l| l.span())),
                    );
                    n.server = server.to_string();
                    n.type_name = type_name.to_string();
                    self.block_refs(block, prefix, &mut n.refs);
                    n.repeat = if attr(block, "count").is_some() {
                        Repeat::Count
                    } else if attr(block, "for_each").is_some() {
                        Repeat::ForEach
                    } else {
                        Repeat::One
                    };
                    n.block = Some(block.clone());
                    self.add(n);
                }
                ("output", [name]) => {
                    let mut n = self.node(
                        format!("{prefix}output.{name}"),
                        Kind::Output,
                        prefix,
                        file,
                        block.ty.span,
                    );
                    if let Some(v) = attr(block, "value") {
                        n.refs = self.refs_of(v, prefix);
                        n.expr = Some(v.clone());
                    }
                    n.sensitive = is_true(attr(block, "sensitive"));
                    n.block = Some(block.clone());
                    self.add(n);
                }
                ("use", [name]) => self.use_block(file, block, name, prefix, depth),
                _ => {}
            }
        }
    }

    fn use_block(
        &mut self,
        file: FileId,
        block: &'a Block,
        name: &str,
        prefix: &str,
        depth: usize,
    ) {
        let inner = format!("{prefix}module.{name}.");
        let module_key = format!("{prefix}module.{name}");
        let literal = |name: &str| match attr(block, name).map(|e| &e.kind) {
            Some(ExprKind::Template(t)) => t.as_literal(),
            _ => None,
        };
        // A local `source` directory (a module) names its one pattern.
        let from_source = literal("source")
            .filter(|s| mcpo_sema::local_source_dir(s).is_some())
            .and_then(|s| self.index.use_pattern(self.db, &format!("source:{s}")));
        let Some(pname) = literal("pattern").or(from_source) else {
            if attr(block, "source").is_some() {
                self.diags.push(
                    not_expanded(
                        file,
                        block.ty.span,
                        "`plan` and `apply` expand patterns of this workspace and of local module directories (`source = \"./dir\"`) only",
                    )
                    .with_help(
                        "copy the pattern into the workspace and name it with `pattern = \"...\"`",
                    ),
                );
            }
            return;
        };
        let Some((pfile, pattern)) = self.patterns.get(&pname).copied() else {
            return;
        };
        if depth >= 16 {
            self.diags.push(not_expanded(
                file,
                block.ty.span,
                "patterns nest more than 16 levels deep here (a pattern that uses itself?)",
            ));
            return;
        }
        if attr(block, "count").is_some() || attr(block, "for_each").is_some() {
            self.repeated_use(file, block, name, prefix, depth, pfile, pattern);
            return;
        }
        self.instantiate(
            file,
            block,
            prefix,
            &inner,
            &module_key,
            depth,
            pfile,
            pattern,
            &InstanceKey::One,
        );
    }

    /// A `use` with `count`/`for_each`: one pattern instance per index or key
    /// (`module.x[0].`), and `module.x` the list or map of their outputs. How many must
    /// be known before anything is planned, so it may depend on variables only.
    #[expect(clippy::too_many_arguments, reason = "the pieces of one use block")]
    fn repeated_use(
        &mut self,
        file: FileId,
        block: &'a Block,
        name: &str,
        prefix: &str,
        depth: usize,
        pfile: FileId,
        pattern: &'a Block,
    ) {
        let module_key = format!("{prefix}module.{name}");
        let mut probe = self.node(
            module_key.clone(),
            Kind::Resource,
            prefix,
            file,
            block.ty.span,
        );
        probe.block = Some(block.clone());
        probe.repeat = if attr(block, "count").is_some() {
            Repeat::Count
        } else {
            Repeat::ForEach
        };
        let (functions, servers) = (self.functions.clone(), self.servers.clone());
        let mut scope = Scope::new(&self.vars, &servers, &functions, self.io);
        scope.prefix = prefix.to_string();
        let instances = match expand(&probe, &scope) {
            Ok(i) => i,
            Err(d) => {
                self.diags.push(d.with_help(
                    "a `use` block's `count` and `for_each` may read variables and literals only",
                ));
                return;
            }
        };
        let mut members = Vec::new();
        for (addr, key) in instances {
            let inner = format!("{addr}.");
            self.instantiate(
                file, block, prefix, &inner, &addr, depth, pfile, pattern, &key,
            );
            members.push((key, addr));
        }
        let mut n = self.node(
            module_key,
            Kind::ModuleSet {
                members: members.clone(),
            },
            prefix,
            file,
            block.ty.span,
        );
        n.repeat = probe.repeat;
        n.refs = members.into_iter().map(|(_, a)| a).collect();
        self.add(n);
    }

    /// One instance of a pattern under `inner` (`module.x.` or `module.x[0].`).
    #[expect(clippy::too_many_arguments, reason = "the pieces of one use block")]
    fn instantiate(
        &mut self,
        file: FileId,
        block: &'a Block,
        prefix: &str,
        inner: &str,
        module_key: &str,
        depth: usize,
        pfile: FileId,
        pattern: &'a Block,
        key: &InstanceKey,
    ) {
        let inner = inner.to_string();
        // Params: the value given at the use (evaluated where the use is) or the default.
        for item in &pattern.body.items {
            let BodyItem::Block(p) = item else { continue };
            if p.ty.name != "param" {
                continue;
            }
            let Some(pn) = p.labels.first().map(|l| l.value().to_string()) else {
                continue;
            };
            let mut n = self.node(
                format!("{inner}param.{pn}"),
                Kind::Param,
                prefix,
                file,
                block.ty.span,
            );
            if let Some(v) = attr(block, &pn) {
                n.refs = self.refs_of(v, prefix);
                n.expr = Some(v.clone());
                n.inst = key.clone();
            } else if let Some(d) = attr(p, "default") {
                n.prefix = inner.clone();
                n.file = pfile;
                n.refs = self.refs_of(d, &inner);
                n.expr = Some(d.clone());
            }
            self.add(n);
        }
        self.body(pfile, &pattern.body.items, &inner, depth + 1);
        let outputs: Vec<String> = pattern
            .body
            .items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Block(b) if b.ty.name == "output" => {
                    b.labels.first().map(|l| l.value().to_string())
                }
                _ => None,
            })
            .collect();
        let mut n = self.node(
            module_key.to_string(),
            Kind::Module {
                outputs: outputs.clone(),
            },
            prefix,
            file,
            block.ty.span,
        );
        n.refs = outputs
            .iter()
            .map(|o| format!("{inner}output.{o}"))
            .collect();
        self.add(n);
    }
}

/// Evaluation against planned values and, at apply time, finished nodes' values.
struct ProgramLookup<'p> {
    program: &'p Program,
    values: Option<&'p Values>,
    io: &'p dyn Io,
    depth: Cell<usize>,
}

impl Lookup for ProgramLookup<'_> {
    fn get(&self, key: &str) -> Option<Val> {
        let p = self.program;
        let node = p.nodes.get(key)?;
        match &node.kind {
            Kind::Var => p.vars.get(key).cloned(),
            Kind::Resource | Kind::Data | Kind::Task => {
                let Some(values) = self.values else {
                    return p.planned.get(key).cloned();
                };
                let value_of = |addr: &str| {
                    values
                        .get(addr)
                        .or_else(|| p.planned_instances.get(addr))
                        .cloned()
                        .unwrap_or(Val::Unknown)
                };
                Some(match node.repeat {
                    Repeat::One => node
                        .instances
                        .first()
                        .map_or(Val::Unknown, |(a, _)| value_of(a)),
                    Repeat::Count => {
                        Val::List(node.instances.iter().map(|(a, _)| value_of(a)).collect())
                    }
                    Repeat::ForEach => Val::Map(
                        node.instances
                            .iter()
                            .filter_map(|(a, k)| match k {
                                InstanceKey::Key(k, _) => Some((k.clone(), value_of(a))),
                                _ => None,
                            })
                            .collect(),
                    ),
                })
            }
            Kind::Local | Kind::Param | Kind::Output => {
                if self.values.is_none() || self.depth.get() > 200 {
                    return p.planned.get(key).cloned();
                }
                let planned = p.planned.get(key);
                if planned.is_some_and(Val::is_known) {
                    return planned.cloned();
                }
                let expr = node.expr.as_ref()?;
                self.depth.set(self.depth.get() + 1);
                let mut scope = Scope::new(self, &p.servers, &p.functions, self.io);
                scope.prefix = node.prefix.clone();
                set_instance(&mut scope, &node.inst);
                let v = eval::eval(expr, &scope).ok();
                self.depth.set(self.depth.get() - 1);
                let v = v.unwrap_or(Val::Unknown);
                Some(if node.sensitive {
                    v.mark_sensitive()
                } else {
                    v
                })
            }
            Kind::Module { outputs } => {
                let inner = format!("{key}.");
                Some(Val::Map(
                    outputs
                        .iter()
                        .map(|o| {
                            (
                                o.clone(),
                                self.get(&format!("{inner}output.{o}"))
                                    .unwrap_or(Val::Unknown),
                            )
                        })
                        .collect(),
                ))
            }
            Kind::ModuleSet { members } => Some(aggregate(
                node.repeat,
                members
                    .iter()
                    .map(|(k, m)| (k.clone(), self.get(m).unwrap_or(Val::Unknown)))
                    .collect(),
            )),
        }
    }
}

/// Lowers the workspace and plans it against the state.
///
/// `catalogs` are the servers' resource types and tools (from their pulled schemas).
pub fn plan(
    db: &dyn salsa::Database,
    ws: Workspace,
    inputs: &PlanInputs<'_>,
) -> Result<(Program, Plan), Vec<Diagnostic>> {
    let files: Vec<(FileId, &mcpo_syntax::ast::SourceFile)> = ws
        .files(db)
        .iter()
        .map(|f| (f.id(db), &mcpo_sema::parse(db, *f).file))
        .collect();
    let catalogs: BTreeMap<String, &Catalog> = ws
        .schemas(db)
        .iter()
        .map(|s| {
            let c = mcpo_sema::catalog(db, *s);
            (c.server.clone(), c)
        })
        .collect();
    let mut b = Builder {
        db,
        index: mcpo_sema::index(db, ws),
        vars: BTreeMap::new(),
        io: inputs.io,
        servers: BTreeSet::new(),
        patterns: BTreeMap::new(),
        functions: BTreeMap::new(),
        nodes: BTreeMap::new(),
        diags: Vec::new(),
    };
    let mut var_blocks: Vec<(FileId, &Block)> = Vec::new();
    for (fid, file) in &files {
        for item in &file.body.items {
            let BodyItem::Block(block) = item else {
                continue;
            };
            let l = labels(block);
            match (block.ty.name.as_str(), l.as_slice()) {
                ("server", [name]) => {
                    b.servers.insert((*name).to_string());
                }
                ("pattern", [name]) => {
                    b.patterns.insert((*name).to_string(), (*fid, block));
                }
                ("function", [name]) => {
                    let params = match attr(block, "params").map(|e| &e.kind) {
                        Some(ExprKind::Object(items)) => items
                            .iter()
                            .filter_map(|i| mcpo_sema::types::object_key(&i.key))
                            .collect(),
                        _ => Vec::new(),
                    };
                    if let Some(result) = attr(block, "result") {
                        b.functions.insert(
                            (*name).to_string(),
                            UserFn {
                                params,
                                result: result.clone(),
                            },
                        );
                    }
                }
                ("variable", [_]) => var_blocks.push((*fid, block)),
                _ => {}
            }
        }
    }
    // Resource references may name servers known only from their schemas.
    b.servers.extend(catalogs.keys().cloned());
    b.servers
        .extend(inputs.state.resources.values().map(|r| r.server.clone()));
    let mut vars = BTreeMap::new();
    for (fid, block) in &var_blocks {
        let Some(name) = block.labels.first().map(|l| l.value().to_string()) else {
            continue;
        };
        let mut n = b.node(
            format!("var.{name}"),
            Kind::Var,
            "",
            *fid,
            block
                .ty
                .span
                .cover(block.labels.first().map_or(block.ty.span, |l| l.span())),
        );
        n.sensitive = is_true(attr(block, "sensitive"));
        b.add(n);
    }
    // Variables: given value, else default, else an error.
    let empty = BTreeMap::new();
    for (fid, block) in &var_blocks {
        let Some(name) = block.labels.first().map(|l| l.value().to_string()) else {
            continue;
        };
        let key = format!("var.{name}");
        let ty = attr(block, "type").and_then(|t| mcpo_sema::types::parse_type_expr(t).ok());
        let scope = Scope::new(&empty, &b.servers, &b.functions, inputs.io);
        let value = if let Some(raw) = inputs.variables.get(&name) {
            Some(variable_from_text(raw, ty.as_ref(), inputs.io))
        } else if let Some(d) = attr(block, "default") {
            match eval::eval(d, &scope) {
                Ok(v) => Some(v),
                Err(e) => {
                    b.diags.push(eval_diag(*fid, e));
                    None
                }
            }
        } else {
            None
        };
        let Some(mut value) = value else {
            let span = block.labels.first().map_or(block.ty.span, |l| l.span());
            b.diags.push(
                Diagnostic::error(codes::E0403, *fid, span, "variable has no value")
                    .with_primary_label(format!("`{name}` has no default and was not given"))
                    .with_help(format!("give it with `-var {name}=...` or the environment variable MCPO_VAR_{name}, or add a `default`")),
            );
            continue;
        };
        if is_true(attr(block, "sensitive")) {
            value = value.mark_sensitive();
        }
        // Validation blocks.
        let one = BTreeMap::from([(key.clone(), value.clone())]);
        for item in &block.body.items {
            let BodyItem::Block(v) = item else { continue };
            if v.ty.name != "validation" {
                continue;
            }
            let Some(cond) = attr(v, "condition") else {
                continue;
            };
            let scope = Scope::new(&one, &b.servers, &b.functions, inputs.io);
            match eval::eval(cond, &scope) {
                Ok(Val::Bool(false)) => {
                    let message = match attr(v, "message").map(|m| eval::eval(m, &scope)) {
                        Some(Ok(Val::String(s))) => s,
                        _ => "the validation condition is false".to_string(),
                    };
                    b.diags.push(
                        Diagnostic::error(
                            codes::E0404,
                            *fid,
                            cond.span,
                            "variable validation failed",
                        )
                        .with_primary_label(format!("var.{name}: {message}")),
                    );
                }
                Ok(_) => {}
                Err(e) => b.diags.push(eval_diag(*fid, e)),
            }
        }
        vars.insert(key, value);
    }
    b.vars = vars.clone();
    for (fid, file) in &files {
        b.body(*fid, &file.body.items, "", 0);
    }
    let Builder {
        servers,
        functions,
        mut nodes,
        mut diags,
        ..
    } = b;
    // Dependency order of config nodes.
    let order = match topo_order(&nodes) {
        Ok(o) => o,
        Err(cycle) => {
            let first = cycle.first().and_then(|k| nodes.get(k));
            if let Some(n) = first {
                diags.push(
                    Diagnostic::error(codes::E0400, n.file, n.span, "dependency cycle")
                        .with_primary_label(format!(
                            "{} -> {}",
                            cycle.join(" -> "),
                            cycle.first().map_or("", String::as_str)
                        )),
                );
            }
            return Err(diags);
        }
    };
    if diags
        .iter()
        .any(|d| d.severity == mcpo_diagnostics::Severity::Error)
    {
        return Err(diags);
    }
    let drivers = crate::driver::workspace_drivers(db, ws);
    let mut program = Program {
        servers,
        drivers,
        functions,
        nodes: BTreeMap::new(),
        instances: BTreeMap::new(),
        vars,
        planned: BTreeMap::new(),
        planned_instances: BTreeMap::new(),
    };
    // Walk in order, evaluating and diffing.
    let mut changes: Vec<Change> = Vec::new();
    for key in &order {
        let Some(mut node) = nodes.remove(key) else {
            continue;
        };
        let value = {
            let lookup = &program.planned;
            let mut scope = Scope::new(lookup, &program.servers, &program.functions, inputs.io);
            scope.prefix = node.prefix.clone();
            scope.impure_unknown = true;
            // A param of a repeated `use` sees its instance's `count.index` / `each`.
            set_instance(&mut scope, &node.inst);
            match &node.kind {
                Kind::Var => program.vars.get(key).cloned().unwrap_or(Val::Unknown),
                Kind::Local | Kind::Param | Kind::Output => match &node.expr {
                    Some(e) => match eval::eval(e, &scope) {
                        Ok(v) if node.sensitive => v.mark_sensitive(),
                        Ok(v) => v,
                        Err(e) => {
                            diags.push(eval_diag(node.file, e));
                            Val::Unknown
                        }
                    },
                    None => Val::Null,
                },
                Kind::Module { outputs } => Val::Map(
                    outputs
                        .iter()
                        .map(|o| {
                            let v = lookup
                                .get(&format!("{key}.output.{o}"))
                                .cloned()
                                .unwrap_or(Val::Unknown);
                            (o.clone(), v)
                        })
                        .collect(),
                ),
                Kind::ModuleSet { members } => aggregate(
                    node.repeat,
                    members
                        .iter()
                        .map(|(k, m)| (k.clone(), lookup.get(m).cloned().unwrap_or(Val::Unknown)))
                        .collect(),
                ),
                Kind::Resource | Kind::Data | Kind::Task => {
                    match expand(&node, &scope) {
                        Ok(instances) => node.instances = instances,
                        Err(d) => {
                            diags.push(d);
                            continue;
                        }
                    }
                    let mut per_instance = Vec::new();
                    for (addr, ik) in &node.instances {
                        let mut s =
                            Scope::new(lookup, &program.servers, &program.functions, inputs.io);
                        s.prefix = node.prefix.clone();
                        s.impure_unknown = true;
                        s.tools = inputs.reader;
                        set_instance(&mut s, ik);
                        let args = match node.block.as_ref().map(|b| block_args(b, &node.kind, &s))
                        {
                            Some(Ok(a)) => a,
                            Some(Err(e)) => {
                                diags.push(eval_diag(node.file, e));
                                continue;
                            }
                            None => continue,
                        };
                        let catalog = catalogs.get(&node.server).copied();
                        let driver = program.drivers.get(&node.server, &node.type_name);
                        let (change, value) = match node.kind {
                            Kind::Resource => diff_resource(
                                &node,
                                addr,
                                &args,
                                inputs.state.resources.get(addr),
                                catalog,
                                driver.as_ref(),
                            ),
                            Kind::Task => {
                                let triggers = node
                                    .block
                                    .as_ref()
                                    .and_then(|b| attr(b, "triggers"))
                                    .map(|t| eval::eval(t, &s))
                                    .transpose();
                                let triggers = match triggers {
                                    Ok(t) => t.unwrap_or(Val::Null),
                                    Err(e) => {
                                        diags.push(eval_diag(node.file, e));
                                        continue;
                                    }
                                };
                                diff_task(
                                    &node,
                                    addr,
                                    &args,
                                    &triggers,
                                    inputs.state.resources.get(addr),
                                )
                            }
                            _ => match read_data(&args, driver.as_ref(), inputs.reader) {
                                Ok(Some(v)) => (None, v),
                                Ok(None) => (Some(data_change(&node, addr, &args)), Val::Unknown),
                                Err(message) => {
                                    diags.push(
                                        Diagnostic::error(
                                            codes::E0402,
                                            node.file,
                                            node.span,
                                            "data read failed",
                                        )
                                        .with_primary_label(message),
                                    );
                                    continue;
                                }
                            },
                        };
                        if let Some(c) = change {
                            changes.push(c);
                        }
                        program
                            .planned_instances
                            .insert(addr.clone(), value.clone());
                        per_instance.push((ik.clone(), value));
                    }
                    aggregate(node.repeat, per_instance)
                }
            }
        };
        program.planned.insert(key.clone(), value);
        for (addr, _) in &node.instances {
            program.instances.insert(addr.clone(), key.clone());
        }
        program.nodes.insert(key.clone(), node);
    }
    if diags
        .iter()
        .any(|d| d.severity == mcpo_diagnostics::Severity::Error)
    {
        return Err(diags);
    }
    // Instance-level dependencies.
    let mut memo: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &mut changes {
        let Some(key) = program.instances.get(&c.address) else {
            continue;
        };
        let mut deps = instance_deps(&program, key, &mut memo, 0);
        deps.remove(&c.address);
        c.deps = deps.into_iter().collect();
    }
    // Prevent-destroy and the resources that are no longer declared.
    let mut outputs = Vec::new();
    match inputs.mode {
        PlanMode::Normal => {
            for c in &changes {
                if matches!(c.action, Action::Replace)
                    && let Some(node) = program
                        .instances
                        .get(&c.address)
                        .and_then(|k| program.nodes.get(k))
                    && prevent_destroy(node)
                {
                    diags.push(
                        Diagnostic::error(codes::E0401, node.file, node.span, "plan would destroy a protected resource")
                            .with_primary_label(format!("{} must be replaced ({}), but `lifecycle {{ prevent_destroy = true }}` forbids it", c.address, c.reasons.join("; ")))
                            .with_help("change the configuration so no replacement is needed, or remove `prevent_destroy`"),
                    );
                }
            }
            for (addr, r) in &inputs.state.resources {
                if !program.instances.contains_key(addr) {
                    changes.push(removal_change(addr, r));
                }
            }
            for (name_key, node) in &program.nodes {
                if node.kind != Kind::Output || !node.prefix.is_empty() {
                    continue;
                }
                let name = name_key.trim_start_matches("output.").to_string();
                let v = program
                    .planned
                    .get(name_key)
                    .cloned()
                    .unwrap_or(Val::Unknown);
                let value = v.to_json();
                let changed = match (&value, inputs.state.outputs.get(&name)) {
                    (Some(v), Some(old)) => *v != old.value,
                    _ => true,
                };
                outputs.push(OutputChange {
                    display: v.display(),
                    sensitive: v.is_sensitive(),
                    value,
                    name,
                    changed,
                });
            }
            for name in inputs.state.outputs.keys() {
                if !program.nodes.contains_key(&format!("output.{name}")) {
                    outputs.push(OutputChange {
                        name: name.clone(),
                        display: "(removed)".into(),
                        value: None,
                        sensitive: false,
                        changed: true,
                    });
                }
            }
        }
        PlanMode::Destroy => {
            changes = inputs
                .state
                .resources
                .iter()
                .map(|(addr, r)| removal_change(addr, r))
                .collect();
            for addr in inputs.state.resources.keys() {
                if let Some(node) = program
                    .instances
                    .get(addr)
                    .and_then(|k| program.nodes.get(k))
                    && prevent_destroy(node)
                {
                    diags.push(
                        Diagnostic::error(
                            codes::E0401,
                            node.file,
                            node.span,
                            "plan would destroy a protected resource",
                        )
                        .with_primary_label(format!(
                            "{addr} has `lifecycle {{ prevent_destroy = true }}`"
                        ))
                        .with_help(
                            "remove `prevent_destroy` first if you really mean to destroy it",
                        ),
                    );
                }
            }
        }
    }
    if diags
        .iter()
        .any(|d| d.severity == mcpo_diagnostics::Severity::Error)
    {
        return Err(diags);
    }
    order_deletes(&mut changes, inputs.state, &program);
    let variables = program
        .vars
        .iter()
        .filter_map(|(k, v)| Some((k.trim_start_matches("var.").to_string(), v.to_json()?)))
        .collect();
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        mode: inputs.mode,
        lineage: inputs.state.lineage.clone(),
        serial: inputs.state.serial,
        sources: inputs.sources.clone(),
        variables,
        changes,
        outputs,
    };
    sort_changes(&mut plan);
    Ok((program, plan))
}

/// Stable order: by wave, then address; no-ops last.
fn sort_changes(plan: &mut Plan) {
    let mut rank: BTreeMap<String, usize> = BTreeMap::new();
    for (i, wave) in plan.waves().iter().enumerate() {
        for c in wave {
            rank.insert(c.address.clone(), i);
        }
    }
    plan.changes.sort_by(|a, b| {
        let ra = rank.get(&a.address).copied().unwrap_or(usize::MAX);
        let rb = rank.get(&b.address).copied().unwrap_or(usize::MAX);
        ra.cmp(&rb).then_with(|| a.address.cmp(&b.address))
    });
}

/// E0405: a `use` whose pattern planning cannot expand.
fn not_expanded(file: FileId, span: Span, why: &str) -> Diagnostic {
    Diagnostic::error(
        codes::E0405,
        file,
        span,
        "pattern source not supported by plan",
    )
    .with_primary_label(why)
}

fn prevent_destroy(node: &Node) -> bool {
    node.block
        .as_ref()
        .and_then(|b| sub_block(b, "lifecycle"))
        .is_some_and(|l| is_true(attr(l, "prevent_destroy")))
}

fn eval_diag(file: FileId, e: EvalError) -> Diagnostic {
    Diagnostic::error(codes::E0406, file, e.span, "expression cannot be evaluated")
        .with_primary_label(e.message)
}

/// A variable's value from command-line text: parsed as an HCL expression when that
/// gives the declared type, else the text itself as a string.
fn variable_from_text(raw: &str, ty: Option<&Ty>, io: &dyn Io) -> Val {
    let wants_string = matches!(
        ty.map(Ty::strip_sensitive),
        Some(Ty::String) | Some(Ty::Enum(_))
    );
    if wants_string {
        return Val::String(raw.to_string());
    }
    let src = format!("v = {raw}\n");
    let parsed = mcpo_syntax::parse(&src, FileId(0));
    if parsed.diagnostics.is_empty()
        && let Some(BodyItem::Attribute(a)) = parsed.file.body.items.first()
    {
        let empty = BTreeMap::new();
        let (servers, functions) = (BTreeSet::new(), BTreeMap::new());
        let scope = Scope::new(&empty, &servers, &functions, io);
        if let Ok(v) = eval::eval(&a.value, &scope) {
            return v;
        }
    }
    Val::String(raw.to_string())
}

fn topo_order(nodes: &BTreeMap<String, Node>) -> Result<Vec<String>, Vec<String>> {
    // Iterative DFS with colours; a back edge is a cycle.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut order = Vec::with_capacity(nodes.len());
    for start in nodes.keys() {
        if state.contains_key(start.as_str()) {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start.as_str(), deps_of(nodes, start))];
        state.insert(start, 1);
        while let Some((key, pending)) = stack.last_mut() {
            if let Some(next) = pending.pop() {
                match state.get(next) {
                    None => {
                        state.insert(next, 1);
                        let d = deps_of(nodes, next);
                        stack.push((next, d));
                    }
                    Some(1) => {
                        let mut cycle: Vec<String> =
                            stack.iter().map(|(k, _)| k.to_string()).collect();
                        if let Some(pos) = cycle.iter().position(|k| k == next) {
                            cycle.drain(..pos);
                        }
                        return Err(cycle);
                    }
                    _ => {}
                }
            } else {
                let key = *key;
                state.insert(key, 2);
                order.push(key.to_string());
                stack.pop();
            }
        }
    }
    Ok(order)
}

fn deps_of<'a>(nodes: &'a BTreeMap<String, Node>, key: &str) -> Vec<&'a str> {
    nodes
        .get(key)
        .map(|n| {
            n.refs
                .iter()
                .filter(|r| *r != key)
                .filter_map(|r| nodes.get_key_value(r.as_str()).map(|(k, _)| k.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// The instances of a resource, data or task block.
#[expect(
    clippy::result_large_err,
    reason = "called once per block; the diagnostic is the error"
)]
fn expand(node: &Node, scope: &Scope<'_>) -> Result<Vec<(String, InstanceKey)>, Diagnostic> {
    let Some(block) = &node.block else {
        return Ok(Vec::new());
    };
    let unknown = |e: &Expr, what: &str| {
        Diagnostic::error(codes::E0407, node.file, e.span, "instances depend on unknown values")
            .with_primary_label(format!("`{what}` must be known when planning, but this depends on values known only after apply"))
            .with_help("use variables or locals that do not depend on resources, or apply the resources it depends on first (`mcpoc apply` with a smaller workspace)")
    };
    match node.repeat {
        Repeat::One => Ok(vec![(node.key.clone(), InstanceKey::One)]),
        Repeat::Count => {
            let Some(e) = attr(block, "count") else {
                return Ok(Vec::new());
            };
            let v = eval::eval(e, scope).map_err(|err| eval_diag(node.file, err))?;
            match v.unmarked() {
                Val::Unknown => Err(unknown(e, "count")),
                Val::Number(n) if *n >= 0.0 && n.fract() == 0.0 && *n <= 100_000.0 => {
                    #[expect(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "checked range"
                    )]
                    let n = *n as usize;
                    Ok((0..n)
                        .map(|i| (format!("{}[{i}]", node.key), InstanceKey::Index(i)))
                        .collect())
                }
                other => Err(eval_diag(
                    node.file,
                    EvalError {
                        message: format!(
                            "`count` must be a whole number from 0 to 100000, not {}",
                            other.display()
                        ),
                        span: e.span,
                    },
                )),
            }
        }
        Repeat::ForEach => {
            let Some(e) = attr(block, "for_each") else {
                return Ok(Vec::new());
            };
            let v = eval::eval(e, scope).map_err(|err| eval_diag(node.file, err))?;
            if !v.is_known() {
                return Err(unknown(e, "for_each"));
            }
            let pairs: Vec<(String, Val)> = match v.unmarked() {
                Val::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                Val::List(items) => {
                    let mut out = Vec::new();
                    for i in items {
                        match eval::to_str(i) {
                            Some(s) => out.push((s.clone(), Val::String(s))),
                            None => {
                                return Err(eval_diag(
                                    node.file,
                                    EvalError {
                                        message:
                                            "a `for_each` list must hold strings (a set of keys)"
                                                .into(),
                                        span: e.span,
                                    },
                                ));
                            }
                        }
                    }
                    out
                }
                other => {
                    return Err(eval_diag(
                        node.file,
                        EvalError {
                            message: format!(
                                "`for_each` takes a map or a set of strings, not {}",
                                other.kind_name()
                            ),
                            span: e.span,
                        },
                    ));
                }
            };
            Ok(pairs
                .into_iter()
                .map(|(k, v)| {
                    let addr = format!("{}[{}]", node.key, serde_json::Value::String(k.clone()));
                    (addr, InstanceKey::Key(k, v))
                })
                .collect())
        }
    }
}

fn set_instance(scope: &mut Scope<'_>, key: &InstanceKey) {
    match key {
        InstanceKey::One => {}
        InstanceKey::Index(i) => scope.count_index = Some(Val::Number(*i as f64)),
        InstanceKey::Key(k, v) => scope.each = Some((Val::String(k.clone()), v.clone())),
    }
}

/// A block's arguments: its attributes and nested blocks, without meta-arguments.
fn block_args(block: &Block, kind: &Kind, scope: &Scope<'_>) -> Result<Val, EvalError> {
    let meta = if *kind == Kind::Task {
        TASK_META
    } else {
        RESOURCE_META
    };
    let mut out = BTreeMap::new();
    let mut nested: BTreeMap<String, Vec<Val>> = BTreeMap::new();
    for item in &block.body.items {
        match item {
            BodyItem::Attribute(a) if !meta.contains(&a.name.name.as_str()) => {
                out.insert(a.name.name.clone(), eval::eval(&a.value, scope)?);
            }
            BodyItem::Block(b) if !META_BLOCKS.contains(&b.ty.name.as_str()) => {
                let v = block_args(b, &Kind::Resource, scope)?;
                nested.entry(b.ty.name.clone()).or_default().push(v);
            }
            _ => {}
        }
    }
    for (name, mut vs) in nested {
        let v = if vs.len() == 1 {
            vs.remove(0)
        } else {
            Val::List(vs)
        };
        out.insert(name, v);
    }
    Ok(Val::Map(out))
}

fn aggregate(repeat: Repeat, mut values: Vec<(InstanceKey, Val)>) -> Val {
    match repeat {
        Repeat::One => values.pop().map_or(Val::Unknown, |(_, v)| v),
        Repeat::Count => Val::List(values.into_iter().map(|(_, v)| v).collect()),
        Repeat::ForEach => Val::Map(
            values
                .into_iter()
                .filter_map(|(k, v)| match k {
                    InstanceKey::Key(k, _) => Some((k, v)),
                    _ => None,
                })
                .collect(),
        ),
    }
}

/// The resource/data/task instances a config node depends on, through locals, params,
/// outputs and modules.
fn instance_deps(
    program: &Program,
    key: &str,
    memo: &mut BTreeMap<String, BTreeSet<String>>,
    depth: usize,
) -> BTreeSet<String> {
    if let Some(d) = memo.get(key) {
        return d.clone();
    }
    let mut out = BTreeSet::new();
    if let Some(node) = program.nodes.get(key)
        && depth < 512
    {
        for r in &node.refs {
            let Some(dep) = program.nodes.get(r) else {
                continue;
            };
            if r == key {
                continue;
            }
            match dep.kind {
                Kind::Resource | Kind::Data | Kind::Task => {
                    out.extend(dep.instances.iter().map(|(a, _)| a.clone()));
                }
                _ => out.extend(instance_deps(program, r, memo, depth + 1)),
            }
        }
    }
    memo.insert(key.to_string(), out.clone());
    out
}

fn output_attrs(catalog: Option<&Catalog>, type_name: &str) -> Option<BTreeMap<String, Ty>> {
    let rt = catalog?.resource_types.get(type_name)?;
    match rt.output.strip_sensitive() {
        Ty::Object(o) => Some(
            o.attrs
                .iter()
                .map(|(k, a)| (k.clone(), a.ty.clone()))
                .collect(),
        ),
        _ => None,
    }
}

fn known_json(v: &Val) -> serde_json::Value {
    v.to_json().unwrap_or(serde_json::Value::Null)
}

fn args_json(args: &BTreeMap<String, Val>) -> (serde_json::Value, Vec<String>) {
    let mut obj = serde_json::Map::new();
    let mut unknown = Vec::new();
    for (k, v) in args {
        match v.to_json() {
            Some(j) => {
                obj.insert(k.clone(), j);
            }
            None => {
                unknown.push(k.clone());
                obj.insert(k.clone(), serde_json::Value::Null);
            }
        }
    }
    (serde_json::Value::Object(obj), unknown)
}

fn diff_resource(
    node: &Node,
    addr: &str,
    args: &Val,
    prior: Option<&ResourceState>,
    catalog: Option<&Catalog>,
    driver: &dyn Driver,
) -> (Option<Change>, Val) {
    let args_map = object(args);
    let out_types = output_attrs(catalog, &node.type_name);
    let updatable = driver.update_attrs(&args_map.keys().cloned().collect());
    let sensitive_out: BTreeSet<String> = out_types
        .iter()
        .flatten()
        .filter(|(_, t)| matches!(t, Ty::Sensitive(_)))
        .map(|(k, _)| k.clone())
        .collect();
    let sensitive_in: BTreeSet<String> = catalog
        .and_then(|c| c.resource_types.get(&node.type_name))
        .and_then(|rt| match rt.input.strip_sensitive() {
            Ty::Object(o) => Some(
                o.attrs
                    .iter()
                    .filter(|(_, a)| matches!(a.ty, Ty::Sensitive(_)))
                    .map(|(k, _)| k.clone())
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    let mut sensitive: BTreeSet<String> = args_map
        .iter()
        .filter(|(_, v)| v.is_sensitive())
        .map(|(k, _)| k.clone())
        .collect();
    sensitive.extend(sensitive_out.iter().cloned());
    sensitive.extend(sensitive_in);
    if let Some(p) = prior {
        sensitive.extend(p.sensitive.iter().cloned());
    }
    let (after, after_unknown) = args_json(args_map);
    let mut change = Change {
        address: addr.to_string(),
        kind: NodeKind::Resource,
        action: Action::Create,
        server: node.server.clone(),
        type_name: node.type_name.clone(),
        id: prior.map(|p| p.id.clone()),
        deps: Vec::new(),
        after,
        after_unknown,
        attrs: Vec::new(),
        reasons: Vec::new(),
        update_attrs: updatable.iter().flatten().cloned().collect(),
        sensitive: sensitive.iter().cloned().collect(),
    };
    let show = |name: &str, v: &Val| {
        if sensitive.contains(name) || v.is_sensitive() {
            "(sensitive value)".to_string()
        } else {
            v.display()
        }
    };
    // What a new instance looks like before it exists: known inputs, unknown outputs.
    let fresh = || {
        let mut m: BTreeMap<String, Val> = BTreeMap::new();
        if let Some(types) = &out_types {
            for k in types.keys() {
                m.insert(k.clone(), Val::Unknown);
            }
        }
        for (k, v) in args_map {
            if out_types.as_ref().is_none_or(|t| t.contains_key(k)) {
                m.insert(k.clone(), v.clone());
            }
        }
        m.insert("id".into(), Val::Unknown);
        mark_attrs(m, &sensitive)
    };
    let Some(prior) = prior else {
        change.attrs = args_map
            .iter()
            .map(|(k, v)| AttrChange {
                name: k.clone(),
                before: None,
                after: Some(show(k, v)),
                force_new: false,
                sensitive: sensitive.contains(k),
            })
            .collect();
        return (Some(change), fresh());
    };
    let prior_in = prior.inputs.as_object();
    let prior_out = prior.outputs.as_object();
    let mut names: BTreeSet<&String> = args_map.keys().collect();
    if let Some(pi) = prior_in {
        names.extend(pi.keys());
    }
    let mut changed_force_new = Vec::new();
    for name in names {
        let before = prior_out
            .and_then(|o| o.get(name))
            .or_else(|| prior_in.and_then(|i| i.get(name)))
            .map(Val::from_json);
        let after = args_map.get(name);
        let same = match (&before, after) {
            // The server may fill defaults inside nested values (a port's protocol): what
            // is declared must be part of what it reports, and equal to what was last
            // sent (so that removing a nested key is still a change).
            (Some(b), Some(a)) => {
                a.is_known()
                    && declared_in(a, b)
                    && prior_in
                        .and_then(|i| i.get(name))
                        .is_none_or(|sent| equal(a, &Val::from_json(sent)))
            }
            (None, None) => true,
            // Set before only as a computed output, never sent: not ours to manage.
            (Some(_), None) => !prior_in.is_some_and(|i| i.contains_key(name)),
            (None, Some(a)) => matches!(a, Val::Null),
        };
        if same {
            continue;
        }
        let force_new = updatable
            .as_ref()
            .is_none_or(|u| !u.contains(name.as_str()));
        if force_new {
            changed_force_new.push(name.clone());
        }
        change.attrs.push(AttrChange {
            name: name.clone(),
            before: before.as_ref().map(|b| show(name, b)),
            after: after.map(|a| show(name, a)),
            force_new,
            sensitive: sensitive.contains(name.as_str()),
        });
    }
    let type_changed = prior.type_name != node.type_name || prior.server != node.server;
    if prior.tainted || type_changed || !changed_force_new.is_empty() {
        change.action = Action::Replace;
        if prior.tainted {
            change
                .reasons
                .push("the resource is tainted (its last create or update did not finish)".into());
        }
        if type_changed {
            change.reasons.push(format!(
                "its type changed from {}.{}",
                prior.server, prior.type_name
            ));
        }
        if updatable.is_none() && !changed_force_new.is_empty() {
            change.reasons.push(format!(
                "{}.{} has no update tool",
                node.server, node.type_name
            ));
        } else {
            for a in &changed_force_new {
                change.reasons.push(format!("`{a}` cannot change in place"));
            }
        }
        return (Some(change), fresh());
    }
    let mut current: BTreeMap<String, Val> = match Val::from_json(&prior.outputs) {
        Val::Map(m) => m,
        _ => BTreeMap::new(),
    };
    current.insert("id".into(), Val::String(prior.id.clone()));
    if change.attrs.is_empty() {
        change.action = Action::NoOp;
        return (Some(change), mark_attrs(current, &sensitive));
    }
    change.action = Action::Update;
    for (k, v) in args_map {
        if out_types.as_ref().is_none_or(|t| t.contains_key(k)) {
            current.insert(k.clone(), v.clone());
        }
    }
    (Some(change), mark_attrs(current, &sensitive))
}

/// Whether a declared value is found in what the server reports: equal, except that
/// objects may hold more keys (defaults the server filled in), at any depth.
fn declared_in(declared: &Val, live: &Val) -> bool {
    match (declared.unmarked(), live.unmarked()) {
        (Val::Map(d), Val::Map(l)) => d.iter().all(|(k, v)| match l.get(k) {
            Some(lv) => declared_in(v, lv),
            None => matches!(v.unmarked(), Val::Null),
        }),
        (Val::List(d), Val::List(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| declared_in(a, b))
        }
        _ => equal(declared, live),
    }
}

/// The attributes of an object value (none for anything else).
fn object(v: &Val) -> &BTreeMap<String, Val> {
    static EMPTY: BTreeMap<String, Val> = BTreeMap::new();
    match v {
        Val::Map(m) => m,
        _ => &EMPTY,
    }
}

fn mark_attrs(m: BTreeMap<String, Val>, sensitive: &BTreeSet<String>) -> Val {
    Val::Map(
        m.into_iter()
            .map(|(k, v)| {
                let v = if sensitive.contains(&k) {
                    v.mark_sensitive()
                } else {
                    v
                };
                (k, v)
            })
            .collect(),
    )
}

/// What state records as a task's inputs: its arguments and triggers.
pub fn task_inputs(args: &serde_json::Value, triggers: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "args": args, "triggers": triggers })
}

fn diff_task(
    node: &Node,
    addr: &str,
    args: &Val,
    triggers: &Val,
    prior: Option<&ResourceState>,
) -> (Option<Change>, Val) {
    let args_map = object(args);
    let (after, after_unknown) = args_json(args_map);
    let recorded = task_inputs(&after, &known_json(triggers));
    let same = prior.is_some_and(|p| {
        args.is_known() && triggers.is_known() && p.inputs == recorded && !p.tainted
    });
    let mut change = Change {
        address: addr.to_string(),
        kind: NodeKind::Task,
        action: if same { Action::NoOp } else { Action::Run },
        server: node.server.clone(),
        type_name: node.type_name.clone(),
        id: prior.map(|p| p.id.clone()),
        deps: Vec::new(),
        after,
        after_unknown,
        attrs: Vec::new(),
        reasons: Vec::new(),
        update_attrs: Vec::new(),
        sensitive: args_map
            .iter()
            .filter(|(_, v)| v.is_sensitive())
            .map(|(k, _)| k.clone())
            .collect(),
    };
    if same {
        let v = prior.map_or(Val::Unknown, |p| Val::from_json(&p.outputs));
        return (Some(change), v);
    }
    if prior.is_some() {
        change
            .reasons
            .push("its arguments or triggers changed".into());
    }
    change.attrs = args_map
        .iter()
        .map(|(k, v)| AttrChange {
            name: k.clone(),
            before: None,
            after: Some(if v.is_sensitive() {
                "(sensitive value)".into()
            } else {
                v.display()
            }),
            force_new: false,
            sensitive: v.is_sensitive(),
        })
        .collect();
    (Some(change), Val::Unknown)
}

fn data_change(node: &Node, addr: &str, args: &Val) -> Change {
    let args_map = object(args);
    let (after, after_unknown) = args_json(args_map);
    Change {
        after,
        after_unknown,
        reasons: vec!["its arguments are known only after apply".into()],
        ..Change::new(
            addr,
            NodeKind::Data,
            Action::Read,
            &node.server,
            &node.type_name,
        )
    }
}

/// Reads a data source now, as its type's driver says; `None` when it must wait for apply
/// (no reader, or arguments known only then).
fn read_data(
    args: &Val,
    driver: &dyn Driver,
    reader: Option<&dyn ToolCaller>,
) -> Result<Option<Val>, String> {
    let Some(reader) = reader else {
        return Ok(None);
    };
    let Some(json) = args.to_json() else {
        return Ok(None);
    };
    let query = driver
        .data_query(&json)
        .ok_or_else(|| "the type has no tool that reads it".to_string())?;
    let call = query.call();
    let result = reader.call(&call.server, &call.tool, call.args.clone())?;
    query.pick(result).map(|v| Some(Val::from_json(&v)))
}

/// What becomes of something in the state that is no longer declared, or is destroyed: a
/// resource is deleted; a data read or a task, which left nothing on a server to delete,
/// is forgotten.
fn removal_change(addr: &str, r: &ResourceState) -> Change {
    let kind = match mcpo_address::Address::parse(addr).map(|a| a.kind) {
        Ok(mcpo_address::Kind::Data) => NodeKind::Data,
        Ok(mcpo_address::Kind::Task) => NodeKind::Task,
        _ => NodeKind::Resource,
    };
    let (action, reason) = match kind {
        NodeKind::Resource => (Action::Delete, None),
        NodeKind::Data => (Action::Forget, Some("a data read leaves nothing to delete")),
        NodeKind::Task => (Action::Forget, Some("a task's call is not undone")),
    };
    Change {
        id: Some(r.id.clone()),
        sensitive: r.sensitive.clone(),
        reasons: reason.map(str::to_string).into_iter().collect(),
        ..Change::new(addr, kind, action, &r.server, &r.type_name)
    }
}

/// Orders the deletes of a plan: a resource is deleted only after everything that depends
/// on it is deleted, by what the state recorded when it was applied and by what the
/// workspace declares (directly or through locals, params and outputs); a resource adopted
/// after an interrupted run has no recorded dependencies.
fn order_deletes(changes: &mut [Change], state: &State, program: &Program) {
    let deleting: BTreeSet<String> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.address.clone())
        .collect();
    // The declared block of each address being deleted.
    let block_of = |address: &str| -> String {
        program.instances.get(address).cloned().unwrap_or_else(|| {
            mcpo_address::Address::parse(address)
                .map(|a| a.config().to_string())
                .unwrap_or_else(|_| address.to_string())
        })
    };
    let mut by_block: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &deleting {
        by_block.entry(block_of(a)).or_default().push(a.clone());
    }
    // The resource blocks each block depends on, looking through other nodes (memoized).
    let mut memo: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut resource_deps = |key: &str| -> BTreeSet<String> {
        if let Some(found) = memo.get(key) {
            return found.clone();
        }
        let mut found = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = program
            .nodes
            .get(key)
            .map(|n| n.refs.iter().cloned().collect())
            .unwrap_or_default();
        while let Some(k) = todo.pop() {
            if !seen.insert(k.clone()) {
                continue;
            }
            match program.nodes.get(&k) {
                Some(n) if n.kind == Kind::Resource => {
                    found.insert(k);
                }
                Some(n) => todo.extend(n.refs.iter().cloned()),
                None => {}
            }
        }
        memo.insert(key.to_string(), found.clone());
        found
    };
    // address -> the deletes that must finish before it.
    let mut waits: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, r) in &state.resources {
        if !deleting.contains(a) {
            continue;
        }
        for d in &r.deps {
            if deleting.contains(d) && d != a {
                waits.entry(d.clone()).or_default().insert(a.clone());
            }
        }
    }
    for (block, dependents) in &by_block {
        for dep_block in resource_deps(block) {
            for target in by_block.get(&dep_block).into_iter().flatten() {
                for a in dependents {
                    if a != target {
                        waits.entry(target.clone()).or_default().insert(a.clone());
                    }
                }
            }
        }
    }
    for c in changes.iter_mut().filter(|c| c.action == Action::Delete) {
        c.deps = waits
            .remove(&c.address)
            .map(|w| w.into_iter().collect())
            .unwrap_or_default();
    }
}

impl Program {
    /// The server names the workspace uses.
    pub fn servers(&self) -> &BTreeSet<String> {
        &self.servers
    }

    /// Whether `address` is an instance of this program.
    pub fn has_instance(&self, address: &str) -> bool {
        self.instances.contains_key(address)
    }

    fn instance(&self, address: &str) -> Option<(&Node, &InstanceKey)> {
        let key = self.instances.get(address)?;
        let node = self.nodes.get(key)?;
        let (_, ik) = node.instances.iter().find(|(a, _)| a == address)?;
        Some((node, ik))
    }

    fn scope<'p>(
        &'p self,
        lookup: &'p ProgramLookup<'p>,
        node: &Node,
        ik: &InstanceKey,
    ) -> Scope<'p> {
        let mut s = Scope::new(lookup, &self.servers, &self.functions, lookup.io);
        s.prefix = node.prefix.clone();
        set_instance(&mut s, ik);
        s
    }

    /// The arguments of a resource's create/update, a task's call or a data read,
    /// evaluated with the values of finished nodes (`values`, by instance address).
    pub fn eval_args(&self, address: &str, values: &Values, io: &dyn Io) -> Result<Val, EvalError> {
        let Some((node, ik)) = self.instance(address) else {
            return Err(EvalError {
                message: format!("{address} is not declared in this workspace"),
                span: Span::new(0, 0),
            });
        };
        let Some(block) = &node.block else {
            return Ok(Val::Map(BTreeMap::new()));
        };
        let lookup = ProgramLookup {
            program: self,
            values: Some(values),
            io,
            depth: Cell::new(0),
        };
        let scope = self.scope(&lookup, node, ik);
        block_args(block, &node.kind, &scope)
    }

    /// A task's triggers, evaluated like [`Program::eval_args`] (null when it has none).
    pub fn eval_triggers(
        &self,
        address: &str,
        values: &Values,
        io: &dyn Io,
    ) -> Result<Val, EvalError> {
        let Some((node, ik)) = self.instance(address) else {
            return Ok(Val::Null);
        };
        let Some(t) = node.block.as_ref().and_then(|b| attr(b, "triggers")) else {
            return Ok(Val::Null);
        };
        let lookup = ProgramLookup {
            program: self,
            values: Some(values),
            io,
            depth: Cell::new(0),
        };
        eval::eval(t, &self.scope(&lookup, node, ik))
    }

    /// The readiness wait of a resource instance, if it has one.
    pub fn wait_for(&self, address: &str) -> Option<WaitFor> {
        let (node, _) = self.instance(address)?;
        let w = sub_block(node.block.as_ref()?, "wait_for")?;
        let timeout = match attr(w, "timeout").map(|e| &e.kind) {
            Some(ExprKind::Template(t)) => t.as_literal().and_then(|s| parse_duration(&s)),
            _ => None,
        };
        Some(WaitFor {
            timeout: timeout.unwrap_or(Duration::from_secs(300)),
        })
    }

    /// Whether a resource's readiness condition holds for `self_val` (its current state).
    pub fn eval_wait_condition(
        &self,
        address: &str,
        self_val: &Val,
        values: &Values,
        io: &dyn Io,
    ) -> Result<bool, EvalError> {
        let Some((node, ik)) = self.instance(address) else {
            return Ok(true);
        };
        let Some(cond) = node
            .block
            .as_ref()
            .and_then(|b| sub_block(b, "wait_for"))
            .and_then(|w| attr(w, "condition"))
        else {
            return Ok(true);
        };
        let lookup = ProgramLookup {
            program: self,
            values: Some(values),
            io,
            depth: Cell::new(0),
        };
        let mut scope = self.scope(&lookup, node, ik);
        scope.self_val = Some(self_val.clone());
        match eval::eval(cond, &scope)?.unmarked() {
            Val::Bool(b) => Ok(*b),
            _ => Ok(false),
        }
    }

    /// The workspace's outputs (top level), evaluated with the values of finished nodes.
    pub fn eval_outputs(
        &self,
        values: &Values,
        io: &dyn Io,
    ) -> BTreeMap<String, Result<Val, EvalError>> {
        let lookup = ProgramLookup {
            program: self,
            values: Some(values),
            io,
            depth: Cell::new(0),
        };
        self.nodes
            .iter()
            .filter(|(_, n)| n.kind == Kind::Output && n.prefix.is_empty())
            .map(|(k, n)| {
                let name = k.trim_start_matches("output.").to_string();
                let mut scope = Scope::new(&lookup, &self.servers, &self.functions, io);
                scope.prefix = String::new();
                let v = match &n.expr {
                    Some(e) => eval::eval(e, &scope)
                        .map(|v| if n.sensitive { v.mark_sensitive() } else { v }),
                    None => Ok(Val::Null),
                };
                (name, v)
            })
            .collect()
    }

    /// How each resource type is created, read, updated, deleted and listed.
    pub fn drivers(&self) -> &Drivers {
        &self.drivers
    }

    /// The config-level graph, for `mcpoc graph`: (address, kind, dependencies).
    pub fn graph(&self) -> Vec<(String, &'static str, Vec<String>)> {
        self.nodes
            .values()
            .map(|n| {
                let kind = match n.kind {
                    Kind::Var => "variable",
                    Kind::Local => "local",
                    Kind::Param => "param",
                    Kind::Output => "output",
                    Kind::Module { .. } | Kind::ModuleSet { .. } => "module",
                    Kind::Resource => "resource",
                    Kind::Data => "data",
                    Kind::Task => "task",
                };
                let deps = n
                    .refs
                    .iter()
                    .filter(|r| self.nodes.contains_key(*r) && **r != n.key)
                    .cloned()
                    .collect();
                (n.key.clone(), kind, deps)
            })
            .collect()
    }
}

/// Parses `30s`, `5m`, `1h`, `250ms`, `1m30s`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(*n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let secs = match unit.as_str() {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(secs);
        any = true;
    }
    if !num.is_empty() {
        return None;
    }
    any.then_some(total)
}
