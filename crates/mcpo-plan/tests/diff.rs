//! The planner's fixture corpus: every directory under `tests/diff/` is a workspace
//! (`*.mcpo`), optionally with the state it is planned against (`state.json`), variable
//! values (`vars.txt`, `name=value` lines), environment (`env.txt`) and a mode (`destroy`
//! file present). Schemas are the twins' pulled schemas in `tests/check/.mcpo/schemas/`.
//! Each case's snapshot holds the sources, the rendered plan (or diagnostics), the plan's
//! JSON and the graph.

use mcpo_diagnostics::{Sources, render};
use mcpo_plan::{Io, PlanInputs, PlanMode, ToolCaller, render as plan_render};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use mcpo_state::State;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Files of the case directory, the environment from `env.txt`, a fixed clock.
struct CaseIo {
    dir: PathBuf,
}

impl Io for CaseIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.dir.join(path)).map_err(|e| format!("{path}: {e}"))
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.dir.join(path)).map_err(|e| format!("{path}: {e}"))
    }
    fn env(&self, name: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("env.txt")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
    }
    fn now_rfc3339(&self) -> String {
        "2026-11-24T12:00:00Z".into()
    }
}

/// Answers tool calls from `reader.json` (`{"server/tool": result}`): a planner test
/// needs data to read, not a live server (the executor's tests read from the twins).
struct FixtureReader {
    results: BTreeMap<String, serde_json::Value>,
}

impl ToolCaller for FixtureReader {
    fn call(
        &self,
        server: &str,
        tool: &str,
        _args: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        self.results
            .get(&format!("{server}/{tool}"))
            .cloned()
            .ok_or_else(|| format!("{server} has no tool {tool}"))
    }
}

/// The `.mcpo` files under `dir`, module subdirectories included.
fn mcpo_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            mcpo_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "mcpo") {
            out.push(p);
        }
    }
}

fn run_case(dir: &Path) -> String {
    let db = Database::default();
    let mut sources = Sources::new();
    let mut paths = Vec::new();
    mcpo_files(dir, &mut paths);
    paths.sort();
    let all: Vec<(PathBuf, String)> = paths
        .iter()
        .map(|p| (p.clone(), std::fs::read_to_string(p).unwrap_or_default()))
        .collect();
    let files: Vec<(String, String)> = all
        .iter()
        .map(|(p, t)| {
            let name = p
                .strip_prefix(dir)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, t.clone())
        })
        .collect();
    // As `mcpoc plan` loads them: the files of the local module directories the `use`
    // blocks name are the modules', not the workspace's.
    let module_dirs = mcpo_modules::local_module_dirs(dir, &all);
    let mut inputs = Vec::new();
    let mut texts = Vec::new();
    for ((p, t), (n, _)) in all.iter().zip(&files) {
        if module_dirs.iter().any(|d| p.starts_with(d)) {
            continue;
        }
        let id = sources.add(n.clone(), t.clone());
        inputs.push(SourceFile::new(&db, id, n.clone(), t.clone()));
        texts.push(t.as_str());
    }
    let mut modules = mcpo_modules::load_modules(dir, &texts);
    mcpo_modules::register(&mut modules, &mut sources);
    let schema_dir = root().join("tests/check/.mcpo/schemas");
    let mut schemas = Vec::new();
    for server in ["opnsense", "aws", "docker", "kubernetes"] {
        let text =
            std::fs::read_to_string(schema_dir.join(format!("{server}.json"))).unwrap_or_default();
        schemas.push(SchemaFile::new(
            &db,
            server.to_string(),
            format!(".mcpo/schemas/{server}.json"),
            text,
        ));
    }
    let module_inputs = mcpo_modules::inputs(&db, &modules, &schemas);
    let ws = Workspace::builder(inputs, schemas)
        .modules(module_inputs)
        .new(&db);
    let state: State = match std::fs::read_to_string(dir.join("state.json")) {
        Ok(t) => match serde_json::from_str(&t) {
            Ok(s) => s,
            Err(e) => return format!("bad state.json: {e}"),
        },
        Err(_) => State::new("test-lineage"),
    };
    let variables: BTreeMap<String, String> = std::fs::read_to_string(dir.join("vars.txt"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let io = CaseIo {
        dir: dir.to_path_buf(),
    };
    let mode = if dir.join("destroy").exists() {
        PlanMode::Destroy
    } else {
        PlanMode::Normal
    };
    let reader = std::fs::read_to_string(dir.join("reader.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .map(|results| FixtureReader { results });
    let plan_inputs = PlanInputs {
        variables,
        state: &state,
        reader: reader.as_ref().map(|r| r as &dyn ToolCaller),
        io: &io,
        mode,
        sources: Vec::new(),
    };
    let mut snap = String::new();
    for (n, t) in &files {
        let _ = writeln!(snap, "--- {n} ---\n{t}");
    }
    match mcpo_plan::plan(&db, ws, &plan_inputs) {
        Ok((program, plan)) => {
            let _ = writeln!(snap, "--- plan ---\n{}", plan_render::plan_text(&plan));
            let json =
                serde_json::to_string_pretty(&plan_render::plan_json(&plan)).unwrap_or_default();
            let _ = writeln!(snap, "--- json ---\n{json}");
            let _ = writeln!(
                snap,
                "--- graph ---\n{}",
                plan_render::graph_mermaid(&program)
            );
        }
        Err(mut diags) => {
            mcpo_diagnostics::sort(&mut diags);
            let rendered = render::render(&diags, &sources, render::RenderConfig { color: false });
            let _ = writeln!(snap, "--- diagnostics ---\n{rendered}");
        }
    }
    snap
}

#[test]
fn fixtures() {
    let corpus = root().join("tests/diff");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "snapshots"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "the corpus at {} has only {} cases",
        corpus.display(),
        cases.len()
    );
    for case in cases {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let snap = run_case(&case);
        insta::with_settings!({
            snapshot_path => corpus.join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, snap);
        });
    }
}
