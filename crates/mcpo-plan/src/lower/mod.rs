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

mod build;
mod diff;
mod lookup;
mod program;
pub mod rollback;
pub mod runbook;
mod vars;
mod walk;

use build::Builder;
use diff::*;
use lookup::ProgramLookup;
use walk::*;

pub use diff::{task_inputs, task_undo};

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
const TASK_META: &[&str] = &[
    "count",
    "for_each",
    "depends_on",
    "triggers",
    "failed_when",
    "undo",
];
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
        vars: BTreeMap::new(),
        io: inputs.io,
        servers: BTreeSet::new(),
        within: build::Within {
            ws,
            servers: BTreeMap::new(),
        },
        functions: BTreeMap::new(),
        nodes: BTreeMap::new(),
        diags: Vec::new(),
        rules: Vec::new(),
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
    let vars = vars::variables(&mut b, &var_blocks, inputs);
    b.vars = vars.clone();
    for (fid, file) in &files {
        b.body(*fid, &file.body.items, "", 0);
    }
    let Builder {
        servers,
        functions,
        mut nodes,
        mut diags,
        rules,
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
    let mut changes = walk::walk(
        &mut program,
        &mut nodes,
        &order,
        &catalogs,
        inputs,
        &mut diags,
    );
    check_rules(&program, &rules, inputs.io, &mut diags);
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
                    match removal_change(addr, r, &program.drivers) {
                        Ok(c) => changes.push(c),
                        Err(why) => diags.push(undeletable(&program, addr, why, false)),
                    }
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
            changes = Vec::new();
            for (addr, r) in &inputs.state.resources {
                match removal_change(addr, r, &program.drivers) {
                    Ok(c) => changes.push(c),
                    Err(why) => diags.push(undeletable(&program, addr, why, true)),
                }
            }
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
    let notes = no_read_notes(&changes, &program.drivers);
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
        notes,
    };
    sort_changes(&mut plan);
    Ok((program, plan))
}

/// E0409: a resource that is to be removed or destroyed, whose type has no delete and may
/// not be forgotten. Points at the adapter when the workspace declares one, else at the
/// resource's block, else (the block is gone) at nothing in particular.
fn undeletable(program: &Program, addr: &str, why: String, destroy: bool) -> Diagnostic {
    let node = program
        .instances
        .get(addr)
        .and_then(|k| program.nodes.get(k));
    let (file, span) = node.map_or((FileId(0), Span::new(0, 0)), |n| (n.file, n.span));
    let what = if destroy { "destroy" } else { "removing it" };
    Diagnostic::error(codes::E0409, file, span, "resource type has no delete")
        .with_primary_label(why)
        .with_help(format!(
            "{what} needs a `delete` in the type's adapter; or say `forget_on_delete = true` in the adapter to leave such resources on the server, or `mcpoc state rm {addr}`"
        ))
}

/// One note per resource type in the plan whose adapter declares no read: such resources
/// have no drift detection. (A convention type whose server lacks the tool is reported
/// when refresh calls it.)
fn no_read_notes(changes: &[Change], drivers: &Drivers) -> Vec<String> {
    let mut types: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in changes {
        if c.kind == NodeKind::Resource && !matches!(c.action, Action::Delete | Action::Forget) {
            *types
                .entry((c.server.clone(), c.type_name.clone()))
                .or_default() += 1;
        }
    }
    types
        .into_iter()
        .filter(|((server, ty), _)| {
            let driver = drivers.get(server, ty);
            driver.declared() && !driver.supports(crate::driver::Op::Read)
        })
        .map(|((server, ty), n)| {
            format!(
                "`{server}.{ty}` has no `read`: changes made outside mcpo to its {n} resource{} are not seen (no drift detection)",
                if n == 1 { "" } else { "s" }
            )
        })
        .collect()
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

/// E0117: the patterns' rules on the planned values of their params, reported at the
/// `use`. A rule whose values are not known until apply is not judged (`check` judged
/// those known before planning).
fn check_rules(program: &Program, rules: &[build::Rule], io: &dyn Io, diags: &mut Vec<Diagnostic>) {
    for rule in rules {
        let mut scope = Scope::new(&program.planned, &program.servers, &program.functions, io);
        scope.prefix = rule.prefix.clone();
        if !matches!(eval::eval(&rule.condition, &scope), Ok(Val::Bool(false))) {
            continue;
        }
        let message = match rule.message.as_ref().map(|m| eval::eval(m, &scope)) {
            Some(Ok(Val::String(s))) => s,
            _ => "the pattern's rule is broken".to_string(),
        };
        let (at, label) = mcpo_sema::rule_site(
            &rule.condition,
            &rule.param,
            &rule.pattern,
            &rule.given,
            rule.at,
        );
        diags.push(
            Diagnostic::error(codes::E0117, rule.file, at, message).with_primary_label(label),
        );
    }
}

/// E0405: a `use` whose pattern planning cannot expand.
fn not_expanded(file: FileId, span: Span, why: &str) -> Diagnostic {
    Diagnostic::error(codes::E0405, file, span, "pattern cannot be expanded")
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

pub use mcpo_sema::value::parse_duration;
