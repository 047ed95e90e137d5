//! Applying an `mcpo_plan::Plan`: its changes as [`Step`]s, and its `Program` as the
//! [`Evaluator`] that computes each step's arguments from the values of finished steps.

use crate::{Connections, Evaluator, Step, Values, WaitFor};
use mcpo_plan::{Io, NodeKind, Plan, Program, Val};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The steps of a plan: every change, with its dependencies (no-ops included: they finish
/// at once and their recorded values flow on).
pub fn steps_of(plan: &Plan) -> Vec<Step> {
    plan.changes
        .iter()
        .map(|c| Step {
            address: c.address.clone(),
            action: c.action,
            server: c.server.clone(),
            type_name: c.type_name.clone(),
            id: c.id.clone(),
            deps: c.deps.clone(),
            update_attrs: c.update_attrs.clone(),
            sensitive: c.sensitive.clone(),
        })
        .collect()
}

/// A lowered workspace as the executor's [`Evaluator`]. It keeps the finished values in
/// the program's own value form, updated as steps finish.
pub struct PlanEvaluator<'a> {
    program: &'a Program,
    io: &'a dyn Io,
    tasks: Vec<String>,
    values: Mutex<mcpo_plan::Values>,
}

impl<'a> PlanEvaluator<'a> {
    /// Evaluates `program`'s expressions for the changes of `plan`.
    pub fn new(program: &'a Program, plan: &Plan, io: &'a dyn Io) -> PlanEvaluator<'a> {
        PlanEvaluator {
            program,
            io,
            tasks: plan
                .changes
                .iter()
                .filter(|c| c.kind == NodeKind::Task)
                .map(|c| c.address.clone())
                .collect(),
            values: Mutex::new(BTreeMap::new()),
        }
    }

    fn vals(&self) -> std::sync::MutexGuard<'_, mcpo_plan::Values> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Evaluator for PlanEvaluator<'_> {
    fn args(&self, address: &str, _values: &Values) -> Result<Value, String> {
        let v = self
            .program
            .eval_args(address, &self.vals(), self.io)
            .map_err(|e| e.message)?;
        v.to_json().ok_or_else(|| {
            "some arguments are still unknown after the steps they depend on finished".into()
        })
    }

    fn wait_for(&self, address: &str) -> Option<WaitFor> {
        self.program
            .wait_for(address)
            .map(|w| WaitFor { timeout: w.timeout })
    }

    fn ready(&self, address: &str, current: &Value, _values: &Values) -> Result<bool, String> {
        self.program
            .eval_wait_condition(address, &Val::from_json(current), &self.vals(), self.io)
            .map_err(|e| e.message)
    }

    fn outputs(&self, _values: &Values) -> BTreeMap<String, (Value, bool)> {
        self.program
            .eval_outputs(&self.vals(), self.io)
            .into_iter()
            .filter_map(|(name, v)| {
                let v = v.ok()?;
                let sensitive = v.is_sensitive();
                Some((name, (v.to_json()?, sensitive)))
            })
            .collect()
    }

    fn value_changed(&self, address: &str, value: Option<&Value>) {
        let mut vals = self.vals();
        match value {
            Some(v) => {
                vals.insert(address.to_string(), Val::from_json(v));
            }
            None => {
                vals.remove(address);
            }
        }
    }

    fn task_failed(
        &self,
        address: &str,
        args: &Value,
        result: &Value,
        _values: &Values,
    ) -> Result<Option<String>, String> {
        self.program
            .task_failed(address, args, result, &self.vals(), self.io)
    }

    fn task_undo(
        &self,
        address: &str,
        args: &Value,
        result: &Value,
        _values: &Values,
    ) -> Result<Option<mcpo_plan::driver::Call>, String> {
        self.program
            .task_undo(address, args, result, &self.vals(), self.io)
    }

    fn recorded_inputs(&self, address: &str, args: &Value, _values: &Values) -> Value {
        if !self.tasks.iter().any(|t| t == address) {
            return args.clone();
        }
        let triggers = self
            .program
            .eval_triggers(address, &self.vals(), self.io)
            .ok()
            .and_then(|t| t.to_json())
            .unwrap_or(Value::Null);
        mcpo_plan::task_inputs(args, &triggers)
    }
}

/// Planning reads data sources through the run's connections. Call it from a blocking
/// thread (`tokio::task::spawn_blocking`), never from async code.
impl mcpo_plan::ToolCaller for Connections {
    fn call(&self, server: &str, tool: &str, args: Value) -> Result<Value, String> {
        self.call_blocking(server, tool, args)
    }
}

/// The [`Evaluator`] of a rollback plan (`mcpo_plan::rollback`): each resource is sent
/// the inputs the earlier version of the state recorded, with the ids of dependencies
/// that came back as new resources replaced by the new ones; the outputs are the ones
/// that version recorded, likewise.
pub struct RestoreEvaluator {
    target: mcpo_state::State,
}

impl RestoreEvaluator {
    /// Restores what `target` recorded.
    pub fn new(target: mcpo_state::State) -> RestoreEvaluator {
        RestoreEvaluator { target }
    }
}

impl Evaluator for RestoreEvaluator {
    fn args(&self, address: &str, values: &Values) -> Result<Value, String> {
        mcpo_plan::rollback::restored_inputs(&self.target, address, values)
            .ok_or_else(|| "the version rolled back to does not record it".to_string())
    }

    fn outputs(&self, values: &Values) -> BTreeMap<String, (Value, bool)> {
        mcpo_plan::rollback::restored_outputs(&self.target, values)
    }
}
