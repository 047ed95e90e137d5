//! Validation errors as data: every case in `tests/twins/validation.json` runs on a fresh
//! twin over stdio and must fail with `isError: true` and the message written there.

mod twins_support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use twins_support::{Transport, start};

/// Replaces every `${name.field}` in the strings of `v` with the saved value.
fn substitute(v: &Value, saved: &BTreeMap<String, Value>) -> Value {
    match v {
        Value::String(s) => Value::String(expand(s, saved)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, saved)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, saved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn expand(s: &str, saved: &BTreeMap<String, Value>) -> String {
    let mut out = s.to_string();
    for (name, value) in saved {
        for (field, v) in value.as_object().into_iter().flatten() {
            if let Some(text) = v.as_str() {
                out = out.replace(&format!("${{{name}.{field}}}"), text);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_validation_case_fails_with_its_message() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/twins/validation.json");
    let text = std::fs::read_to_string(&path).expect("read validation.json");
    let corpus: Value = serde_json::from_str(&text).expect("validation.json is JSON");
    let cases = corpus["cases"].as_array().expect("cases");
    assert!(cases.len() >= 25, "the corpus has its cases");
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let twin = case["twin"].as_str().expect("twin");
        let t = start(
            twin,
            Transport::Stdio,
            &["--seed", "3", "--ready-delay-ms", "0"],
        )
        .await;
        let mut saved = BTreeMap::new();
        for step in case["setup"].as_array().into_iter().flatten() {
            let tool = step[0].as_str().expect("setup tool");
            let result = t.ok(tool, substitute(&step[1], &saved)).await;
            if let Some(name) = step[2].as_str() {
                saved.insert(name.to_string(), result);
            }
        }
        let tool = case["call"][0].as_str().expect("call tool");
        let message = t.err(tool, substitute(&case["call"][1], &saved)).await;
        let expected = expand(case["error"].as_str().expect("error"), &saved);
        if !message.starts_with(&expected) {
            failures.push(format!(
                "case {n} ({twin} {tool}):\n  expected: {expected}\n  got:      {message}"
            ));
        }
        t.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
