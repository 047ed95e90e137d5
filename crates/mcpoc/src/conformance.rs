//! `mcpoc mcp-conformance-client URL` (hidden): drives mcpo's real MCP client layer for
//! the official conformance suite (`@modelcontextprotocol/conformance client --command`).
//! The suite starts a test server, then runs this command with the server's URL and the
//! scenario's name in `MCP_CONFORMANCE_SCENARIO`. See `scripts/conformance.sh`.

use crate::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use mcpo_mcp::{CallOptions, ConnectOptions, Connection, ElicitationPolicy, ServerSpec};
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

/// Runs the scenario named in `MCP_CONFORMANCE_SCENARIO` against `url`.
pub fn run(url: &str) -> u8 {
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return EXIT_USAGE;
    };
    rt.block_on(async {
        let options = ConnectOptions {
            elicitation: ElicitationPolicy::AcceptDefaults,
            ..ConnectOptions::default()
        };
        let spec = ServerSpec::http("conformance", url);
        let conn = match Connection::connect(&spec, &options).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERRORS;
            }
        };
        eprintln!(
            "scenario {scenario}: connected with protocol {}",
            conn.protocol_version()
        );
        let mut code = EXIT_OK;
        let tools = match conn.list_tools().await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                conn.shutdown().await;
                return EXIT_ERRORS;
            }
        };
        if scenario != "initialize" {
            for tool in &tools {
                let args = sample_arguments(&tool.input_schema);
                match conn
                    .call_tool(&tool.name, args, CallOptions::default())
                    .await
                {
                    Ok(out) => eprintln!("called {}: {}", tool.name, out.text()),
                    Err(e) => {
                        eprintln!("error: {e}");
                        code = EXIT_ERRORS;
                    }
                }
            }
        }
        conn.shutdown().await;
        code
    })
}
