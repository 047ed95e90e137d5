//! The lowered program after planning: what the executor asks of it (each node's
//! arguments once its dependencies are done, readiness conditions, outputs) and the
//! config graph for `mcpoc graph`.

use super::*;

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

    /// Whether a task's result says its call failed: its `failed_when` (with `self`, its
    /// arguments, and `result`), else the default of its server's `server` block.
    /// `Ok(Some(why))` when it failed.
    pub fn task_failed(
        &self,
        address: &str,
        args: &serde_json::Value,
        result: &serde_json::Value,
        values: &Values,
        io: &dyn Io,
    ) -> Result<Option<String>, String> {
        let Some((node, ik)) = self.instance(address) else {
            return Ok(None);
        };
        let Some(cond) = node.block.as_ref().and_then(|b| attr(b, "failed_when")) else {
            return self.drivers.server_failed(&node.server, result);
        };
        let lookup = ProgramLookup {
            program: self,
            values: Some(values),
            io,
            depth: Cell::new(0),
        };
        crate::driver::failed_when(cond, result, |e, r| {
            let mut scope = self.scope(&lookup, node, ik);
            scope.self_val = Some(Val::from_json(args));
            scope.bound.push(("result".into(), r.clone()));
            eval::eval(e, &scope).map_err(|e| e.message)
        })
        .map_err(|m| format!("`failed_when`: {m}"))
    }

    /// The call a task's `undo` makes (with `self`, its arguments, and `result`), when it
    /// declares one: recorded when the task runs, made when it is removed or destroyed.
    pub fn task_undo(
        &self,
        address: &str,
        args: &serde_json::Value,
        result: &serde_json::Value,
        values: &Values,
        io: &dyn Io,
    ) -> Result<Option<crate::driver::Call>, String> {
        let Some((node, ik)) = self.instance(address) else {
            return Ok(None);
        };
        let Some(undo) = node.block.as_ref().and_then(|b| attr(b, "undo")) else {
            return Ok(None);
        };
        let lookup = ProgramLookup {
            program: self,
            values: Some(values),
            io,
            depth: Cell::new(0),
        };
        crate::driver::adapter::one_call("`undo`", |tools| {
            let mut scope = self.scope(&lookup, node, ik);
            scope.self_val = Some(Val::from_json(args));
            scope.bound.push(("result".into(), Val::from_json(result)));
            scope.tools = Some(tools);
            eval::eval(undo, &scope).map_err(|e| e.message)
        })
        .map(Some)
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
