//! What `serve` keeps on disk under `.mcpo/serve/` (owner-only: plans hold variable
//! values): the plans it made (`plans/<id>.json`), the approvals a person gave with
//! `mcpoc approve` (`approvals/<id>.json`), and the audit journal (`audit.jsonl`).
//!
//! Plans live on disk rather than in the server's memory so that `mcpoc approve`, run by
//! a person in another terminal, can show the exact plan it approves.

use mcpo_deploy::Problem;
use mcpo_diagnostics::codes;
use mcpo_plan::Plan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory of `serve`'s files inside a workspace.
pub const SERVE_DIR: &str = ".mcpo/serve";

/// A file the plan writes into the workspace when it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    /// The file, relative to the workspace root (`main.mcpo`).
    pub file: String,
    /// Its new text.
    pub text: String,
}

/// What became of an applied plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRecord {
    /// When (seconds since the Unix epoch).
    pub at: u64,
    /// How it was approved (`elicitation`, `terminal`).
    pub approved_by: String,
    /// Whether every step succeeded.
    pub ok: bool,
    /// The run's one-line summary.
    pub headline: String,
}

/// A plan made through `serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPlan {
    /// Its id.
    pub id: String,
    /// When it was made (seconds since the Unix epoch).
    pub created: u64,
    /// The client that asked for it (`name version`).
    pub client: String,
    /// What was asked (`plan main.mcpo`, `plan pattern web_app as shop`, `destroy`).
    pub request: String,
    /// The file an approved apply writes first.
    pub write: Option<FileWrite>,
    /// The digest of the workspace's files when the plan was made ([`workspace_digest`]).
    pub workspace: String,
    /// The plan.
    pub plan: Plan,
    /// Set once it ran.
    pub applied: Option<AppliedRecord>,
}

impl StoredPlan {
    /// The digest an approval names: of the plan and of the file it writes.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&self.plan).unwrap_or_default());
        if let Some(w) = &self.write {
            h.update(w.file.as_bytes());
            h.update([0]);
            h.update(w.text.as_bytes());
        }
        hex(&h.finalize())
    }
}

/// A person's approval of one plan, written by `mcpoc approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The plan approved.
    pub plan_id: String,
    /// [`StoredPlan::digest`] of the plan as it was shown.
    pub digest: String,
    /// When (seconds since the Unix epoch).
    pub at: u64,
    /// Who (the login name of the terminal's user).
    pub by: String,
}

/// A failed step, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FailedStep {
    /// The step's address (empty when the failure belongs to no step).
    pub address: String,
    /// The diagnostic code.
    pub code: String,
    /// What went wrong, naming the server and tool.
    pub message: String,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// One line of the audit journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// When (seconds since the Unix epoch).
    pub at: u64,
    /// The client (`name version`).
    pub client: String,
    /// `plan`, `apply` or `destroy`.
    pub action: String,
    /// The plan.
    pub plan_id: String,
    /// What was asked or done, in a few words.
    pub summary: String,
    /// How an apply was approved (`elicitation`, `terminal`); absent for plans and refusals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// `planned`, `applied`, `failed`, `declined`, `refused`, `no changes`, ...
    pub outcome: String,
    /// The steps that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedStep>,
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh plan id: 12 hex digits from the clock, the process, a counter and the plan.
pub fn new_id(plan: &Plan) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = Sha256::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(
        COUNTER
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_le_bytes(),
    );
    h.update(serde_json::to_vec(plan).unwrap_or_default());
    hex(&h.finalize()).chars().take(12).collect()
}

/// Whether `id` has the shape of a plan id (so it is safe as a file name).
pub fn is_plan_id(id: &str) -> bool {
    id.len() == 12
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The digest of the workspace's source files as they are on disk (names and texts): a
/// plan is refused when it changed since the plan was made.
pub fn workspace_digest(root: &Path) -> Result<String, Problem> {
    let found =
        mcpo_deploy::files::collect(&[root.to_path_buf()]).map_err(|e| Problem::uncoded(e.0))?;
    let mut h = Sha256::new();
    for path in found {
        let bytes = std::fs::read(&path).map_err(|e| {
            Problem::uncoded(format!(
                "cannot read `{}`: {}",
                path.display(),
                mcpo_deploy::files::io_reason(&e)
            ))
        })?;
        let name = mcpo_deploy::files::display_name(&path);
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex(&h.finalize()))
}

/// `serve`'s files in one workspace.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

fn io_problem(what: &str, path: &Path, e: &std::io::Error) -> Problem {
    Problem::uncoded(format!(
        "cannot {what} `{}`: {}",
        path.display(),
        mcpo_deploy::files::io_reason(e)
    ))
}

/// Creates `dir` (and its parents) owner-only.
fn make_dir(dir: &Path) -> Result<(), Problem> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_problem("create", dir, &e))
}

/// Writes `text` to `path` owner-only, atomically.
fn write_private(path: &Path, text: &str) -> Result<(), Problem> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_problem("write", path, &e)
    })
}

/// E0638: no plan with this id.
pub fn unknown_plan(id: &str) -> Problem {
    Problem::new(
        codes::E0638,
        format!("there is no plan `{id}` in this workspace"),
    )
    .help(
        "make a plan with the `plan`, `modify` or `destroy` tool and use the `plan_id` it returns",
    )
}

impl Store {
    /// The store of the workspace at `root`.
    pub fn new(root: &Path) -> Store {
        Store {
            dir: root.join(SERVE_DIR),
        }
    }

    fn plan_path(&self, id: &str) -> PathBuf {
        self.dir.join("plans").join(format!("{id}.json"))
    }

    fn approval_path(&self, id: &str) -> PathBuf {
        self.dir.join("approvals").join(format!("{id}.json"))
    }

    /// Saves (or updates) a plan.
    pub fn save(&self, plan: &StoredPlan) -> Result<(), Problem> {
        make_dir(&self.dir.join("plans"))?;
        let text = serde_json::to_string_pretty(plan)
            .map_err(|e| Problem::uncoded(format!("the plan cannot be encoded: {e}")))?;
        write_private(&self.plan_path(&plan.id), &text)
    }

    /// The plan `id` (E0638 when there is none).
    pub fn load(&self, id: &str) -> Result<StoredPlan, Problem> {
        if !is_plan_id(id) {
            return Err(unknown_plan(id));
        }
        let path = self.plan_path(id);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(unknown_plan(id)),
            Err(e) => return Err(io_problem("read", &path, &e)),
        };
        serde_json::from_str(&text).map_err(|e| {
            Problem::uncoded(format!(
                "`{}` is not a plan of this mcpoc: {e}",
                path.display()
            ))
        })
    }

    /// Every plan not applied yet, newest first.
    pub fn pending(&self) -> Vec<StoredPlan> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("plans")) else {
            return Vec::new();
        };
        let mut out: Vec<StoredPlan> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(".json")?;
                self.load(id).ok()
            })
            .filter(|p| p.applied.is_none())
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        out
    }

    /// Records a person's approval of `plan` as shown.
    pub fn approve(&self, plan: &StoredPlan, by: &str) -> Result<(), Problem> {
        make_dir(&self.dir.join("approvals"))?;
        let record = ApprovalRecord {
            plan_id: plan.id.clone(),
            digest: plan.digest(),
            at: now(),
            by: by.to_string(),
        };
        let text = serde_json::to_string_pretty(&record)
            .map_err(|e| Problem::uncoded(format!("the approval cannot be encoded: {e}")))?;
        write_private(&self.approval_path(&plan.id), &text)
    }

    /// The approval of `plan`, if a person gave one for exactly this plan.
    pub fn approval(&self, plan: &StoredPlan) -> Option<ApprovalRecord> {
        let text = std::fs::read_to_string(self.approval_path(&plan.id)).ok()?;
        let record: ApprovalRecord = serde_json::from_str(&text).ok()?;
        (record.plan_id == plan.id && record.digest == plan.digest()).then_some(record)
    }

    /// Uses up the approval of `id` (an approval counts once).
    pub fn consume_approval(&self, id: &str) {
        let _ = std::fs::remove_file(self.approval_path(id));
    }

    /// Appends to the audit journal. The journal is a record, not a gate: a failure to
    /// write it is returned for the caller to report, and changes nothing else.
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), Problem> {
        use std::os::unix::fs::OpenOptionsExt;
        make_dir(&self.dir)?;
        let path = self.dir.join("audit.jsonl");
        let mut line = serde_json::to_string(entry)
            .map_err(|e| Problem::uncoded(format!("the audit entry cannot be encoded: {e}")))?;
        line.push('\n');
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| io_problem("append to", &path, &e))
    }

    /// The audit journal for people, oldest first: one line per entry (time, client,
    /// action, plan, outcome, approval, what), then one indented line per failed step.
    pub fn journal_text(&self) -> String {
        let mut out = String::new();
        for e in self.journal() {
            let when =
                mcpo_state::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.at));
            let approval = e
                .approval
                .as_ref()
                .map(|a| format!(" (approved by {a})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{when}  {}  {} {}  {}{approval}  [{}]\n",
                e.action, e.plan_id, e.outcome, e.summary, e.client
            ));
            for f in &e.failed {
                out.push_str(&format!(
                    "    {} failed: error[{}]: {}\n",
                    f.address, f.code, f.message
                ));
            }
        }
        out
    }

    /// The audit journal, oldest first (lines that cannot be read are skipped).
    pub fn journal(&self) -> Vec<AuditEntry> {
        std::fs::read_to_string(self.dir.join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
