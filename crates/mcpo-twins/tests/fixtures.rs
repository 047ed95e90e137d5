//! The twins' pulled schemas in `tests/check/.mcpo/schemas/` (what the checker, the
//! language server, the planner and their tests read) are what the twins publish today:
//! a change to a twin's tools fails here until the fixtures are pulled again with
//! `scripts/pull-twin-schemas.sh`.

use mcpo_twins::{TwinKind, published_tools};
use serde_json::Value;
use std::path::Path;

/// The parts of a tool the checker reads (the pull also records identity and time).
fn essentials(tool: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in [
        "name",
        "description",
        "inputSchema",
        "outputSchema",
        "annotations",
    ] {
        if let Some(v) = tool.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

#[test]
fn pulled_fixtures_match_what_the_twins_publish() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/check/.mcpo/schemas");
    let mut stale = Vec::new();
    for kind in [
        TwinKind::Opnsense,
        TwinKind::Aws,
        TwinKind::Docker,
        TwinKind::Kubernetes,
    ] {
        let path = dir.join(format!("{}.json", kind.name()));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let pulled: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let pulled: Vec<Value> = pulled["tools"]
            .as_array()
            .map(|tools| tools.iter().map(essentials).collect())
            .unwrap_or_default();
        let published: Vec<Value> = match published_tools(kind) {
            Ok(tools) => tools.iter().map(essentials).collect(),
            Err(e) => panic!("the {} twin's schemas are invalid: {e}", kind.name()),
        };
        if pulled.len() != published.len() {
            stale.push(format!(
                "{}: {} tools pulled, {} published",
                path.display(),
                pulled.len(),
                published.len()
            ));
            continue;
        }
        for (p, q) in pulled.iter().zip(&published) {
            if p != q {
                stale.push(format!("{}: tool {} differs", path.display(), q["name"]));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "pulled twin schemas are out of date (run scripts/pull-twin-schemas.sh):\n{}",
        stale.join("\n")
    );
}
