//! Plans and graphs as text: the plan grouped in waves, the plan as JSON, the graph as
//! DOT or Mermaid. Sensitive values are already redacted in the plan's display strings.

use crate::Program;
use crate::plan::{Action, Change, Plan, PlanMode};
use std::fmt::Write as _;

/// The plan for people, grouped in waves (display only: nodes start as soon as their own
/// dependencies are done).
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    let waves = plan.waves();
    if waves.is_empty() {
        if plan.outputs.iter().any(|o| o.changed) {
            out.push_str("No changes to resources; only outputs change.\n");
        } else {
            out.push_str("No changes. The infrastructure matches the configuration.\n");
            notes_text(&mut out, plan);
            return out;
        }
    } else {
        let _ = writeln!(
            out,
            "mcpoc will perform these actions, in {} wave{}:",
            waves.len(),
            if waves.len() == 1 { "" } else { "s" }
        );
        for (i, wave) in waves.iter().enumerate() {
            let _ = writeln!(out, "\nwave {}", i + 1);
            for c in wave {
                change_text(&mut out, c);
            }
        }
    }
    let changed: Vec<_> = plan.outputs.iter().filter(|o| o.changed).collect();
    if !changed.is_empty() && plan.mode == PlanMode::Normal {
        out.push_str("\nOutputs:\n");
        let width = changed.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in changed {
            let _ = writeln!(out, "  {:width$} = {}", o.name, o.display);
        }
    }
    notes_text(&mut out, plan);
    let counts = plan.counts();
    let n = |a: Action| counts.get(&a).copied().unwrap_or(0);
    let _ = write!(
        out,
        "\nPlan: {} to create, {} to update, {} to replace, {} to delete",
        n(Action::Create),
        n(Action::Update),
        n(Action::Replace),
        n(Action::Delete)
    );
    if n(Action::Run) > 0 {
        let _ = write!(
            out,
            ", {} task{} to run",
            n(Action::Run),
            if n(Action::Run) == 1 { "" } else { "s" }
        );
    }
    if n(Action::Read) > 0 {
        let _ = write!(out, ", {} to read during apply", n(Action::Read));
    }
    if n(Action::Forget) > 0 {
        let _ = write!(out, ", {} to forget", n(Action::Forget));
    }
    out.push_str(".\n");
    out
}

fn notes_text(out: &mut String, plan: &Plan) {
    for n in &plan.notes {
        let _ = write!(out, "\nNote: {n}\n");
    }
}

fn change_text(out: &mut String, c: &Change) {
    let what = match c.action {
        Action::Create => "create".to_string(),
        Action::Update => "update in place".to_string(),
        Action::Replace => format!("replace: {}", c.reasons.join("; ")),
        Action::Delete => match c.reasons.first() {
            Some(r) => format!("delete: {r}"),
            None => "delete".to_string(),
        },
        Action::Read => "read during apply".to_string(),
        Action::Run => match c.reasons.first() {
            Some(r) => format!("run: {r}"),
            None => "run".to_string(),
        },
        Action::Forget => match c.reasons.first() {
            Some(r) => format!("forget: {r}"),
            None => "forget".to_string(),
        },
        Action::NoOp => "no change".to_string(),
    };
    // A task without an id of its own is recorded under its address: shown once.
    let id =
        c.id.as_deref()
            .filter(|id| *id != c.address)
            .map(|id| format!(" id={id}"))
            .unwrap_or_default();
    let _ = writeln!(out, "  {} {}  ({what}){id}", c.action.symbol(), c.address);
    let width = c.attrs.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &c.attrs {
        let line = match (&a.before, &a.after, c.action) {
            (None, Some(after), _) => format!("{:width$} = {after}", a.name),
            (Some(before), Some(after), _) => format!("{:width$} = {before} -> {after}", a.name),
            (Some(before), None, _) => format!("{:width$} = {before} -> null", a.name),
            (None, None, _) => continue,
        };
        let note = if a.force_new && c.action == Action::Replace {
            "   # forces replacement"
        } else {
            ""
        };
        let _ = writeln!(out, "      {line}{note}");
    }
}

/// The plan as JSON for machines (`--format json`): every change (no-ops included), the
/// outputs and the counts; the sources and variable values are left out (they are in a
/// saved plan only).
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = plan
        .counts()
        .into_iter()
        .map(|(a, n)| (a.verb().to_string(), serde_json::Value::from(n)))
        .collect();
    let waves: Vec<Vec<&str>> = plan
        .waves()
        .iter()
        .map(|w| w.iter().map(|c| c.address.as_str()).collect())
        .collect();
    let mut changes = Vec::new();
    for c in &plan.changes {
        let mut v = serde_json::to_value(c).unwrap_or(serde_json::Value::Null);
        // Sensitive argument values never leave through JSON either.
        if let Some(after) = v.get_mut("after").and_then(|a| a.as_object_mut()) {
            for s in &c.sensitive {
                if let Some(slot) = after.get_mut(s) {
                    *slot = serde_json::Value::String("(sensitive value)".into());
                }
            }
        }
        changes.push(v);
    }
    let outputs: Vec<serde_json::Value> = plan
        .outputs
        .iter()
        .map(|o| {
            serde_json::json!({
                "name": o.name,
                "value": if o.sensitive { serde_json::Value::String("(sensitive value)".into()) } else { o.value.clone().unwrap_or(serde_json::Value::Null) },
                "known": o.value.is_some(),
                "sensitive": o.sensitive,
                "changed": o.changed,
            })
        })
        .collect();
    serde_json::json!({
        "format_version": plan.format_version,
        "mode": plan.mode,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "has_changes": plan.has_changes(),
        "counts": counts,
        "waves": waves,
        "changes": changes,
        "outputs": outputs,
    })
}

fn node_id(address: &str) -> String {
    address
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The config graph as Graphviz DOT (edges point from a node to what it depends on).
pub fn graph_dot(program: &Program) -> String {
    let mut out = String::from("digraph mcpo {\n  rankdir = \"RL\";\n  node [shape = box];\n");
    for (addr, kind, deps) in program.graph() {
        let shape = match kind {
            "resource" => "box",
            "data" => "cylinder",
            "task" => "cds",
            "output" => "note",
            _ => "ellipse",
        };
        let _ = writeln!(out, "  \"{addr}\" [shape = {shape}, label = \"{addr}\"];");
        for d in deps {
            let _ = writeln!(out, "  \"{addr}\" -> \"{d}\";");
        }
    }
    out.push_str("}\n");
    out
}

/// The config graph as a Mermaid flowchart.
pub fn graph_mermaid(program: &Program) -> String {
    let mut out = String::from("flowchart RL\n");
    for (addr, kind, deps) in program.graph() {
        let id = node_id(&addr);
        let shape = match kind {
            "resource" => format!("{id}[\"{addr}\"]"),
            "data" => format!("{id}[(\"{addr}\")]"),
            "task" => format!("{id}>\"{addr}\"]"),
            _ => format!("{id}(\"{addr}\")"),
        };
        let _ = writeln!(out, "  {shape}");
        for d in deps {
            let _ = writeln!(out, "  {id} --> {}", node_id(&d));
        }
    }
    out
}
