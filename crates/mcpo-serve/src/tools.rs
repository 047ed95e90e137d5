//! The tools' inputs and outputs. Their JSON Schemas (generated from these types) are the
//! tools' `inputSchema` and `outputSchema`; every result carries its value as
//! `structuredContent`, and every error result the [`ToolError`] shape.

use crate::store::{AuditEntry, FailedStep};
use mcpo_deploy::patterns::PatternInfo;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// No arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `describe_pattern`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribePatternArgs {
    /// The pattern's name, as `list_patterns` gives it.
    pub name: String,
}

/// `describe_type`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeTypeArgs {
    /// The server's name in the workspace (`aws`).
    pub server: String,
    /// The resource type (`vpc`): a block `resource "aws.vpc" "name"` declares one.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// `check`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckArgs {
    /// The complete `.mcpo` source of one workspace file.
    pub source: String,
    /// Which file of the workspace `source` is (a new file is checked as if it were added):
    /// a `.mcpo` name relative to the workspace root. Default `main.mcpo`.
    #[serde(default)]
    pub file: Option<String>,
}

/// `plan`: either `source` (with `file`) or `pattern` with `params` (and `name`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanArgs {
    /// The complete `.mcpo` source of one workspace file; the plan is of the workspace with
    /// this file in it (written into the workspace only when the plan is applied).
    #[serde(default)]
    pub source: Option<String>,
    /// Which file `source` is (default `main.mcpo`).
    #[serde(default)]
    pub file: Option<String>,
    /// A pattern to deploy (`list_patterns` names them): the plan adds a `use` block of it.
    #[serde(default)]
    pub pattern: Option<String>,
    /// The pattern's params, by name (JSON values: strings, numbers, lists, ...).
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    /// The `use` block's name (default: the pattern's name); it is written to `<name>.mcpo`.
    #[serde(default)]
    pub name: Option<String>,
}

/// `apply`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyArgs {
    /// The `plan_id` a `plan`, `modify` or `destroy` result gave.
    pub plan_id: String,
}

/// `query`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    /// One resource's address (`aws.vpc.main`, `module.shop.aws.vpc.main`); without it,
    /// every resource and output.
    #[serde(default)]
    pub address: Option<String>,
}

/// `modify`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyArgs {
    /// The name of a `use` block of the workspace (a deployed pattern).
    #[serde(rename = "use")]
    pub use_name: String,
    /// The params to change, by name; the others keep their values.
    pub params: Map<String, Value>,
}

/// `list_patterns`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PatternsOut {
    /// The standard library's patterns, then the workspace's.
    pub patterns: Vec<PatternInfo>,
}

/// One attribute of a resource type.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AttrInfo {
    /// The attribute.
    pub name: String,
    /// Its type in mcpo syntax (`string`, `number`, `list(string)`, `"tcp" | "udp"`).
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether a block must set it.
    pub required: bool,
    /// Whether its value is sensitive (never shown).
    pub sensitive: bool,
    /// What the server says it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its default, per the schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The values it may take, when it is an enum.
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<Value>>,
    /// Other constraints (`>= 1`, `at most 64 characters`, `format ipv4`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
}

/// `describe_type`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DescribeTypeOut {
    /// The server.
    pub server: String,
    /// The resource type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// What the server says the type is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The tool that creates it.
    pub create_tool: String,
    /// What a `resource` block sets.
    pub inputs: Vec<AttrInfo>,
    /// What other blocks may read (`aws.vpc.main.id`).
    pub outputs: Vec<AttrInfo>,
    /// The inputs an update changes in place (absent: the server cannot update, so any
    /// change replaces the resource).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updatable: Option<Vec<String>>,
    /// The inputs whose change forces a replacement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_new: Option<Vec<String>>,
    /// A block of this type with every required input set to a placeholder.
    pub example: String,
}

/// A label of a diagnostic.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DiagLabel {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What it says there.
    pub message: String,
}

/// One diagnostic.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Diag {
    /// Its stable code (`E0103`); `mcpoc explain CODE` explains it.
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    /// The file.
    pub file: String,
    /// 1-based start line.
    pub line: u32,
    /// 1-based start column.
    pub column: u32,
    /// 1-based end line.
    pub end_line: u32,
    /// 1-based end column (exclusive).
    pub end_column: u32,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Other places that matter.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<DiagLabel>,
}

/// `check`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckOut {
    /// No errors (warnings allowed): the source may be planned.
    pub ok: bool,
    /// How many errors.
    pub errors: usize,
    /// How many warnings.
    pub warnings: usize,
    /// Every diagnostic, sorted by file and position.
    pub diagnostics: Vec<Diag>,
}

/// `plan`, `modify` (and the plan part of `destroy`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanOut {
    /// The id `apply` takes.
    pub plan_id: String,
    /// `normal` or `destroy`.
    pub mode: String,
    /// Whether applying changes anything.
    pub has_changes: bool,
    /// How many changes of each kind (`create`, `update`, `replace`, `delete`, ...).
    pub counts: BTreeMap<String, usize>,
    /// The workspace file an approved apply writes first, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The plan as a person reads it (show it before asking to apply).
    pub text: String,
    /// Every change (sensitive values redacted).
    pub changes: Vec<Value>,
    /// The outputs after apply (sensitive values redacted).
    pub outputs: Vec<Value>,
    /// What happens next.
    pub next: String,
}

/// `apply` and `destroy`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ApplyOut {
    /// The plan.
    pub plan_id: String,
    /// `applied` (every step succeeded), `failed` (some did not), `no changes`, or
    /// `already applied` (a second apply of the same plan does nothing).
    pub outcome: String,
    /// How the plan was approved (`elicitation`, `terminal`), when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The workspace file written before applying, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_written: Option<String>,
    /// Steps done, by action.
    pub done: BTreeMap<String, usize>,
    /// The steps that failed, with their codes.
    pub failed: Vec<FailedStep>,
    /// Steps skipped because something they depend on failed.
    pub skipped: Vec<String>,
    /// The run in one line.
    pub headline: String,
    /// The workspace's outputs afterwards (sensitive values redacted).
    pub outputs: BTreeMap<String, Value>,
}

/// A resource in the state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ResourceOut {
    /// Its address.
    pub address: String,
    /// Its server.
    pub server: String,
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its id on the server.
    pub id: String,
    /// The next apply replaces it.
    pub tainted: bool,
    /// What it was applied with (sensitive values redacted); only for one address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Value>,
    /// What its server reported (sensitive values redacted); only for one address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Value>,
    /// What it depends on; only for one address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
}

/// `query`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryOut {
    /// The state's serial (how many times it was written).
    pub serial: u64,
    /// The resources (one, with its inputs and outputs, when an address was given).
    pub resources: Vec<ResourceOut>,
    /// The workspace's outputs (sensitive values redacted).
    pub outputs: BTreeMap<String, Value>,
}

/// One server's health.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ServerHealth {
    /// The server.
    pub name: String,
    /// It answered.
    pub ok: bool,
    /// How many tools it lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<usize>,
    /// How long it took to answer, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Why it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `troubleshoot`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TroubleshootOut {
    /// Each server of the workspace.
    pub servers: Vec<ServerHealth>,
    /// What changed outside mcpo, and reads that failed (one line each).
    pub drift: Vec<String>,
    /// The steps that failed in the last apply made through this server, with codes.
    pub failed_steps: Vec<FailedStep>,
    /// The last entries of the audit journal.
    pub recent: Vec<AuditEntry>,
    /// What to do next.
    pub next_steps: Vec<String>,
}

/// The `structuredContent` of every error result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ToolError {
    /// The error.
    pub error: ErrorInfo,
    /// The diagnostics, when the workspace or the source has errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diag>,
    /// The plan the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
}

/// What went wrong.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorInfo {
    /// The code (`E0631`), when it has one; `mcpoc explain CODE` explains it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// `list_runbooks`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunbooksOut {
    /// The workspace's runbooks, by name.
    pub runbooks: Vec<RunbookInfo>,
}

/// A runbook of the workspace.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunbookInfo {
    /// Its name: `run_runbook` takes it (`USE.NAME` for a runbook a `use` brings from a
    /// module).
    pub name: String,
    /// For a runbook a `use` brings: the module it comes from (`stdlib/runbooks/...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Its `description`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its params, in declaration order.
    pub params: Vec<RunbookParam>,
    /// Its steps, in declaration order.
    pub steps: Vec<String>,
}

/// A runbook's param.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunbookParam {
    /// Its name.
    pub name: String,
    /// Its type (`string`, `list(string)`, ...).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether a value must be given (it has no default).
    pub required: bool,
    /// Its `description`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `run_runbook`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRunbookArgs {
    /// The runbook's name, as `list_runbooks` gives it.
    pub name: String,
    /// Its params, by name (JSON values: strings, numbers, bools, lists, objects).
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    /// Call only read-only tools and show what the others would be called with; nothing
    /// changes, so no approval is asked.
    #[serde(default)]
    pub dry_run: bool,
}

/// `run_runbook`: how the run went, step by step.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunbookOut {
    /// The run's id in the state's journal (empty for a dry run).
    pub run_id: String,
    /// The runbook.
    pub runbook: String,
    /// `succeeded`, `failed`, `declined` (an approval step was declined) or `cancelled`.
    pub outcome: String,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// How the run was approved (`elicitation`), when it was not a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The steps that ran, were skipped or failed, in declaration order.
    pub steps: Vec<RunbookStepOut>,
    /// The steps that never started.
    pub not_started: Vec<String>,
    /// The failures, with their codes.
    pub failed: Vec<FailedStep>,
    /// The run in one line.
    pub headline: String,
}

/// One step of a run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunbookStepOut {
    /// The step's name.
    pub name: String,
    /// `done`, `skipped`, `failed` or `running`.
    pub status: String,
    /// How many times it was tried.
    pub attempts: u32,
    /// Its result (the tool's result, parsed when it is JSON).
    pub result: Value,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
