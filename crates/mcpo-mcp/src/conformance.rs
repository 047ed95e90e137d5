//! A client for the MCP conformance suite's client scenarios
//! (`@modelcontextprotocol/conformance client --command`): the suite starts a test server
//! and runs a command with the server's URL; this drives mcpo's real client layer against
//! it (connect, list tools, call each with arguments made up from its schema).

use crate::{CallOptions, ConnectOptions, Connection, ElicitationPolicy, ServerSpec};
use serde_json::{Value, json};

/// Arguments made up from a tool's input schema: each required property gets a value of
/// its type (its default or first enum value when it has one).
fn sample_arguments(schema: &Value) -> Value {
    let mut out = serde_json::Map::new();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            if !required.contains(&name.as_str()) {
                continue;
            }
            let v = if let Some(d) = p.get("default") {
                d.clone()
            } else if let Some(first) = p.get("enum").and_then(|e| e.get(0)) {
                first.clone()
            } else {
                match p.get("type").and_then(Value::as_str) {
                    Some("number") | Some("integer") => json!(2),
                    Some("boolean") => json!(true),
                    Some("array") => json!([]),
                    Some("object") => json!({}),
                    _ => json!("test"),
                }
            };
            out.insert(name.clone(), v);
        }
    }
    Value::Object(out)
}

/// Runs `scenario` against the test server at `url`; every line says what happened (for
/// the suite's log). `Err` when the scenario could not be played through.
pub async fn run(url: &str, scenario: &str) -> Result<Vec<String>, Vec<String>> {
    let mut log = Vec::new();
    let options = ConnectOptions {
        elicitation: ElicitationPolicy::AcceptDefaults,
        ..ConnectOptions::default()
    };
    let spec = ServerSpec::http("conformance", url);
    let conn = match Connection::connect(&spec, &options).await {
        Ok(c) => c,
        Err(e) => return Err(vec![format!("error: {e}")]),
    };
    log.push(format!(
        "scenario {scenario}: connected with protocol {}",
        conn.protocol_version()
    ));
    let tools = match conn.list_tools().await {
        Ok(t) => t,
        Err(e) => {
            conn.shutdown().await;
            log.push(format!("error: {e}"));
            return Err(log);
        }
    };
    let mut failed = false;
    if scenario != "initialize" {
        for tool in &tools {
            let args = sample_arguments(&tool.input_schema);
            match conn
                .call_tool(&tool.name, args, CallOptions::default())
                .await
            {
                Ok(out) => log.push(format!("called {}: {}", tool.name, out.text())),
                Err(e) => {
                    log.push(format!("error: {e}"));
                    failed = true;
                }
            }
        }
    }
    conn.shutdown().await;
    if failed { Err(log) } else { Ok(log) }
}
