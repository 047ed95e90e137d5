//! Runbooks (`mcpoc run`): a `runbook` block as steps the executor can schedule, and the
//! evaluation of their expressions in the workspace (variables, locals, resources as the
//! state records them) with `param`, `step` and `result` bound.
//!
//! Order: a step runs after the steps it reads (`step.<name>...`) and names in
//! `depends_on`; a step that reads no other step runs after every step declared before it.
//! So steps that read each other form a DAG whose independent branches run at once, and a
//! plain list of steps runs in declaration order. A step named in another's `on_failure`
//! is a compensating step: it runs only when that step fails.

use super::vars::{conform_param, text_value};
use super::*;
use mcpo_schema::Ty;

/// A runbook of the workspace: its own, or one a `use` brings from a module.
#[derive(Debug, Clone)]
pub struct Runbook {
    /// The name that always runs it: its label, or `<use>.<label>` for a module's.
    pub name: String,
    /// Where a module's runbook comes from; `None` for the workspace's own.
    pub module: Option<RunbookModule>,
    /// Its `description`, if any.
    pub description: Option<String>,
    /// Its params, in declaration order.
    pub params: Vec<RunParam>,
    /// Its steps, in declaration order.
    pub steps: Vec<RunStep>,
}

/// The module a runbook comes from, through which `use`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookModule {
    /// The `use` block's name (`dr`).
    pub via: String,
    /// The runbook's name in the module (`disaster_recovery`): it also runs by this name
    /// when nothing else has it.
    pub name: String,
    /// Where the module came from (`stdlib/runbooks/disaster_recovery`).
    pub origin: String,
}

/// A runbook's `param`.
#[derive(Debug, Clone)]
pub struct RunParam {
    /// Its name.
    pub name: String,
    /// Its declared type (`any` when none).
    pub ty: Ty,
    /// Its default, if any.
    pub default: Option<Expr>,
    /// Its `description`, if any.
    pub description: Option<String>,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepAction {
    /// Calls `server`'s `tool` with the object `args` evaluates to.
    Call {
        /// The server's name.
        server: String,
        /// The tool (may contain dots: `rds_instance.promote`).
        tool: String,
        /// The arguments (an object expression; none: `{}`).
        args: Option<Expr>,
    },
    /// Computes a value without calling anything.
    Value(Expr),
    /// Plans the workspace with the variables this object evaluates to changed (on top
    /// of the run's own), shows the plan, asks for approval and applies it.
    Apply(Expr),
    /// Asks a person the question this evaluates to.
    Approve(Expr),
}

/// What happens when a step fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    /// The run stops and fails (the default).
    Stop,
    /// The run goes on; the steps that read this one are skipped.
    Continue,
    /// These steps run, in order, then the run stops and fails.
    Compensate(Vec<String>),
}

/// A step's readiness condition: polled until true or timed out.
#[derive(Debug, Clone)]
pub struct StepWait {
    /// The read-only tool polled (`server`, `tool`, arguments); none: the condition reads
    /// only the step's own result.
    pub call: Option<(String, String, Option<Expr>)>,
    /// The condition, with `result` bound to what the poll returned (or the step's result).
    pub condition: Expr,
    /// Give up after this long.
    pub timeout: Duration,
    /// Pause between polls.
    pub interval: Duration,
}

/// One step of a runbook.
#[derive(Debug, Clone)]
pub struct RunStep {
    /// Its name.
    pub name: String,
    /// What it does.
    pub action: StepAction,
    /// `for_each`: the step runs once per key of what this evaluates to (a list or set of
    /// strings, or a map), `each` bound; its result is a map of the instances' by key.
    pub for_each: Option<Expr>,
    /// Runs only when this is true (for each instance, with `each` bound).
    pub when: Option<Expr>,
    /// Retries after a failure (0: none).
    pub retries: u32,
    /// The pause before the first retry (doubling after each).
    pub backoff: Duration,
    /// How long one attempt may take.
    pub timeout: Option<Duration>,
    /// `idempotent = true|false` as the step declares it (else its tool's annotations say).
    pub idempotent: Option<bool>,
    /// What happens when it fails.
    pub on_failure: OnFailure,
    /// Polled after it succeeded, until it holds.
    pub wait_for: Option<StepWait>,
    /// The steps that must have ended before it starts.
    pub deps: Vec<String>,
    /// The steps whose results it reads (`step.<name>`).
    pub reads: Vec<String>,
    /// Named in another step's `on_failure`: runs only as compensation.
    pub compensation: bool,
    /// Its `description`, if any.
    pub description: Option<String>,
}

/// The text of a string literal without interpolation.
fn static_str(e: &Expr) -> Option<String> {
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

fn string_attr(block: &Block, name: &str) -> Option<String> {
    attr(block, name).and_then(static_str)
}

fn duration_attr(block: &Block, name: &str) -> Option<Duration> {
    string_attr(block, name).and_then(|t| parse_duration(&t))
}

/// A top-level `server::tool(args)` call: (server, tool, args).
fn tool_call(e: &Expr) -> Option<(String, String, Option<Expr>)> {
    let e = match &e.kind {
        ExprKind::Parens(inner) => inner,
        _ => e,
    };
    match &e.kind {
        ExprKind::FunctionCall(c) => match c.namespace.as_slice() {
            [server] => Some((
                server.name.clone(),
                c.name.name.clone(),
                c.args.first().cloned(),
            )),
            _ => None,
        },
        _ => None,
    }
}

fn all_exprs(block: &Block) -> Vec<&Expr> {
    let mut out = Vec::new();
    for item in &block.body.items {
        match item {
            BodyItem::Attribute(a) if a.name.name != "on_failure" => out.push(&a.value),
            BodyItem::Block(b) => out.extend(all_exprs(b)),
            _ => {}
        }
    }
    out
}

fn names_in(e: &Expr) -> Vec<String> {
    match &e.kind {
        ExprKind::Tuple(items) => items.iter().filter_map(static_str).collect(),
        _ => Vec::new(),
    }
}

impl Runbook {
    /// The runbook a `runbook "name" { ... }` block declares (the checker has accepted it).
    pub fn from_block(block: &Block) -> Option<Runbook> {
        let name = block.labels.first()?.value().to_string();
        let mut params = Vec::new();
        let mut steps: Vec<RunStep> = Vec::new();
        let mut compensating: BTreeSet<String> = BTreeSet::new();
        for item in &block.body.items {
            let BodyItem::Block(b) = item else { continue };
            let Some(label) = b.labels.first().map(|l| l.value().to_string()) else {
                continue;
            };
            match b.ty.name.as_str() {
                "param" => params.push(RunParam {
                    name: label,
                    ty: attr(b, "type")
                        .and_then(|t| mcpo_sema::types::parse_type_expr(t).ok())
                        .unwrap_or(Ty::Any),
                    default: attr(b, "default").cloned(),
                    description: string_attr(b, "description"),
                }),
                "step" => {
                    let action = if let Some(run) = attr(b, "run") {
                        match tool_call(run) {
                            Some((server, tool, args)) => StepAction::Call { server, tool, args },
                            None => StepAction::Value(run.clone()),
                        }
                    } else if let Some(q) = attr(b, "approve") {
                        StepAction::Approve(q.clone())
                    } else if let Some(vars) = attr(b, "apply") {
                        StepAction::Apply(vars.clone())
                    } else {
                        continue;
                    };
                    let on_failure = match string_attr(b, "on_failure").as_deref() {
                        Some("continue") => OnFailure::Continue,
                        Some(_) => OnFailure::Stop,
                        None => match attr(b, "on_failure") {
                            Some(e) => {
                                let names = names_in(e);
                                compensating.extend(names.iter().cloned());
                                OnFailure::Compensate(names)
                            }
                            None => OnFailure::Stop,
                        },
                    };
                    let wait_for = sub_block(b, "wait_for").and_then(|w| {
                        Some(StepWait {
                            call: attr(w, "run").and_then(tool_call),
                            condition: attr(w, "condition")?.clone(),
                            timeout: duration_attr(w, "timeout")
                                .unwrap_or(Duration::from_secs(300)),
                            interval: duration_attr(w, "interval")
                                .unwrap_or(Duration::from_secs(1)),
                        })
                    });
                    let mut reads: BTreeSet<String> = BTreeSet::new();
                    for e in all_exprs(b) {
                        reads.extend(eval::members_of(e, "step"));
                    }
                    reads.remove(&label);
                    let after: Vec<String> =
                        attr(b, "depends_on").map(names_in).unwrap_or_default();
                    let number = |n: &str| match attr(b, n).map(|e| &e.kind) {
                        Some(ExprKind::Number(t)) => t.parse::<f64>().ok(),
                        _ => None,
                    };
                    steps.push(RunStep {
                        name: label,
                        action,
                        for_each: attr(b, "for_each").cloned(),
                        when: attr(b, "when").cloned(),
                        retries: number("retries").map_or(0, |n| n.max(0.0) as u32),
                        backoff: duration_attr(b, "backoff").unwrap_or(Duration::from_secs(1)),
                        timeout: duration_attr(b, "timeout"),
                        idempotent: match attr(b, "idempotent").map(|e| &e.kind) {
                            Some(ExprKind::Variable(v)) if v.name == "true" => Some(true),
                            Some(ExprKind::Bool(v)) => Some(*v),
                            _ => None,
                        },
                        on_failure,
                        wait_for,
                        deps: after,
                        reads: reads.into_iter().collect(),
                        compensation: false,
                        description: string_attr(b, "description"),
                    });
                }
                _ => {}
            }
        }
        // Order: what a step reads and names in `depends_on` (which `deps` holds so
        // far), else every ordinary step declared before it.
        let mut before: Vec<String> = Vec::new();
        for s in &mut steps {
            s.compensation = compensating.contains(&s.name);
            if s.compensation {
                continue;
            }
            if s.reads.is_empty() && s.deps.is_empty() {
                s.deps = before.clone();
            } else {
                let named = std::mem::take(&mut s.deps);
                let all: BTreeSet<String> = s.reads.iter().cloned().chain(named).collect();
                s.deps = all.into_iter().collect();
            }
            before.push(s.name.clone());
        }
        Some(Runbook {
            name,
            module: None,
            description: string_attr(block, "description"),
            params,
            steps,
        })
    }

    /// The step called `name`.
    pub fn step(&self, name: &str) -> Option<&RunStep> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The runbook with the module's server names mapped to the workspace's (`servers`:
    /// only those that change), as a `use` with `servers = { ... }` binds it.
    fn rename_servers(&mut self, servers: &BTreeMap<String, String>) {
        let renamed = |s: &mut String| {
            if let Some(to) = servers.get(s.as_str()) {
                *s = to.clone();
            }
        };
        for step in &mut self.steps {
            if let StepAction::Call { server, .. } = &mut step.action {
                renamed(server);
            }
            if let Some((server, _, _)) = step.wait_for.as_mut().and_then(|w| w.call.as_mut()) {
                renamed(server);
            }
        }
    }
}

/// The runbooks of the workspace, by the name that always runs them: its own `runbook`
/// blocks by label, and those its `use` blocks bring from modules as `<use>.<label>`
/// (bound to the servers the `use` maps the module's to). [`find`] also takes a module
/// runbook's label alone when nothing else has it.
pub fn runbooks(db: &dyn salsa::Database, ws: Workspace) -> BTreeMap<String, Runbook> {
    let mut out = BTreeMap::new();
    for f in ws.files(db) {
        let parsed = mcpo_sema::parse(db, *f);
        for item in &parsed.file.body.items {
            if let BodyItem::Block(b) = item
                && b.ty.name == "runbook"
                && let Some(r) = Runbook::from_block(b)
            {
                out.insert(r.name.clone(), r);
            }
        }
    }
    for imported in &mcpo_sema::runbook_imports(db, ws).runbooks {
        let Some(block) = mcpo_sema::runbook_block(db, imported.file, imported.decl) else {
            continue;
        };
        let Some(mut r) = Runbook::from_block(block) else {
            continue;
        };
        r.rename_servers(&imported.servers);
        r.name = imported.qualified();
        r.module = Some(RunbookModule {
            via: imported.via.clone(),
            name: imported.name.clone(),
            origin: imported.origin.clone(),
        });
        out.insert(r.name.clone(), r);
    }
    out
}

/// Why [`find`] found no runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotFound {
    /// Nothing has this name; the names there are, sorted (the short names of module
    /// runbooks that have one included).
    Unknown(Vec<String>),
    /// Several `use` blocks bring a runbook of this name: their qualified names.
    Ambiguous(Vec<String>),
}

/// The runbook `name` names: a runbook of the workspace, `<use>.<label>`, or the label of
/// the one module runbook that has it when the workspace has no runbook of that name.
pub fn find<'a>(books: &'a BTreeMap<String, Runbook>, name: &str) -> Result<&'a Runbook, NotFound> {
    if let Some(b) = books.get(name) {
        return Ok(b);
    }
    let by_label: Vec<&Runbook> = books
        .values()
        .filter(|b| b.module.as_ref().is_some_and(|m| m.name == name))
        .collect();
    match by_label.as_slice() {
        [one] => Ok(one),
        [] => Err(NotFound::Unknown(names(books))),
        several => Err(NotFound::Ambiguous(
            several.iter().map(|b| b.name.clone()).collect(),
        )),
    }
}

/// Every name [`find`] takes, sorted: each runbook's own, and the label of each module
/// runbook that no other runbook has.
pub fn names(books: &BTreeMap<String, Runbook>) -> Vec<String> {
    let mut out: BTreeSet<String> = books.keys().cloned().collect();
    for b in books.values() {
        if let Some(m) = &b.module
            && !books.contains_key(&m.name)
            && books
                .values()
                .filter(|o| o.module.as_ref().is_some_and(|om| om.name == m.name))
                .count()
                == 1
        {
            out.insert(m.name.clone());
        }
    }
    out.into_iter().collect()
}

/// The value of a runbook param given as text on the command line (parsed like a
/// `--var` value), converted to its declared type; the error says what the type wants.
pub fn param_from_text(raw: &str, param: &RunParam, io: &dyn Io) -> Result<Val, String> {
    conform_param(text_value(raw, Some(&param.ty), io), &param.ty)
}

/// What runbook expressions see besides the workspace: `param`, `step` (each step's
/// result) and, in a `wait_for` condition, `result`.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// The params, by name.
    pub params: BTreeMap<String, Val>,
    /// The results of the steps that ended, by name (null for a skipped step).
    pub steps: BTreeMap<String, Val>,
    /// `result`, when set.
    pub result: Option<Val>,
    /// `each.key` and `each.value`, in an instance of a step with `for_each`.
    pub each: Option<(Val, Val)>,
}

/// The instances of a step with `for_each`, given what it evaluated to: (key, `each.value`)
/// in key order. A list or set of strings makes one instance per distinct string (key and
/// value the string); a map one per key. Anything else, or a list with an item that is not
/// a string, is an error that says what was found.
pub fn step_instances(v: &Val) -> Result<Vec<(String, Val)>, String> {
    match v.unmarked() {
        Val::List(items) => {
            let mut out: BTreeMap<String, Val> = BTreeMap::new();
            for item in items {
                match item.unmarked() {
                    Val::String(s) => {
                        out.insert(s.clone(), item.clone());
                    }
                    other => {
                        return Err(format!(
                            "`for_each` is a list with an item that is not a string: {}",
                            other.display()
                        ));
                    }
                }
            }
            Ok(out.into_iter().collect())
        }
        Val::Map(m) => Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        other => Err(format!(
            "`for_each` takes a list or set of strings, or a map, not {}",
            other.display()
        )),
    }
}

impl Program {
    /// Evaluates an expression of a runbook: the workspace's declarations resolve as at
    /// apply (a resource is what `values` holds for it, from the state), `param`, `step`
    /// and `result` from `bound`. Tool calls inside are not made (unknown).
    pub fn eval_runbook(
        &self,
        expr: &Expr,
        bound: &Bindings,
        values: &Values,
        io: &dyn Io,
    ) -> Result<Val, EvalError> {
        let lookup = ProgramLookup {
            program: self,
            values: Some(values),
            io,
            depth: Cell::new(0),
        };
        let mut scope = Scope::new(&lookup, &self.servers, &self.functions, io);
        scope
            .bound
            .push(("param".into(), Val::Map(bound.params.clone())));
        scope
            .bound
            .push(("step".into(), Val::Map(bound.steps.clone())));
        if let Some(r) = &bound.result {
            scope.bound.push(("result".into(), r.clone()));
        }
        scope.each = bound.each.clone();
        eval::eval(expr, &scope)
    }

    /// The default of a runbook param, evaluated in the workspace (and the params before it).
    pub fn param_default(
        &self,
        param: &RunParam,
        bound: &Bindings,
        values: &Values,
        io: &dyn Io,
    ) -> Option<Result<Val, String>> {
        let e = param.default.as_ref()?;
        Some(
            self.eval_runbook(e, bound, values, io)
                .map_err(|e| e.message)
                .and_then(|v| conform_param(v, &param.ty)),
        )
    }
}
