//! Fuzzes the evaluator through the whole path of `mcpoc plan` on one file, without
//! servers: parse, check against the twins' pulled schemas, and (when the check finds no
//! error, as `mcpoc plan` requires) plan against an empty state, which lowers every
//! declaration and evaluates every expression. None of it may panic, overflow its stack
//! or run away with memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpo_diagnostics::FileId;
use mcpo_plan::{Io, PlanInputs, PlanMode};
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use mcpo_state::State;

const SCHEMAS: [(&str, &str); 4] = [
    (
        "aws",
        include_str!("../../tests/check/.mcpo/schemas/aws.json"),
    ),
    (
        "docker",
        include_str!("../../tests/check/.mcpo/schemas/docker.json"),
    ),
    (
        "kubernetes",
        include_str!("../../tests/check/.mcpo/schemas/kubernetes.json"),
    ),
    (
        "opnsense",
        include_str!("../../tests/check/.mcpo/schemas/opnsense.json"),
    ),
];

/// No files, no environment, a fixed clock.
struct NoIo;

impl Io for NoIo {
    fn read_file(&self, path: &str) -> Result<String, String> {
        Err(format!("{path}: no files here"))
    }
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("{path}: no files here"))
    }
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
    fn now_rfc3339(&self) -> String {
        "2026-11-24T12:00:00Z".into()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let db = Database::default();
    let file = SourceFile::new(&db, FileId(0), "main.mcpo".into(), text.to_string());
    let schemas = SCHEMAS
        .iter()
        .map(|(server, json)| {
            SchemaFile::new(
                &db,
                server.to_string(),
                format!(".mcpo/schemas/{server}.json"),
                json.to_string(),
            )
        })
        .collect();
    let ws = Workspace::new(&db, vec![file], schemas);
    let diagnostics = mcpo_sema::check(&db, ws);
    if diagnostics.iter().any(|d| d.is_error()) {
        return;
    }
    let state = State::new("fuzz");
    let inputs = PlanInputs {
        variables: Default::default(),
        state: &state,
        reader: None,
        io: &NoIo,
        mode: PlanMode::Normal,
        sources: Vec::new(),
    };
    let _ = mcpo_plan::plan(&db, ws, &inputs);
});
