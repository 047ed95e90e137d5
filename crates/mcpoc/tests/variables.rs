//! Variable values enter a plan in one place, converted to their declared types: from
//! `--var`, `--var-file` and `MCPO_VAR_<name>` alike. A value that does not fit is E0408 at
//! the declaration, and a sensitive value is never shown, in any message.

mod deploy_support;
mod twins_support;

use deploy_support::Ws;
use serde_json::Value;

const SECRET: &str = "SECRETPIN_9999";

fn workspace() -> Ws {
    let ws = Ws::fixture("basic");
    let mut text = ws.read("main.mcpo");
    text.push_str(
        r#"
variable "pin" {
  type      = number
  sensitive = true
}

variable "o" {
  type = object({ a = string, b = optional(number) })
}

output "pin_twice" {
  value     = var.pin * 2
  sensitive = true
}

output "o" {
  value = var.o
}
"#,
    );
    ws.write("main.mcpo", &text);
    ws.pull();
    ws
}

/// The outputs of a JSON plan, by name.
fn outputs(stdout: &str) -> serde_json::Map<String, Value> {
    let doc: Value = serde_json::from_str(stdout).expect("a JSON plan");
    doc["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["name"].as_str().unwrap_or_default().to_string(),
                o["value"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_sensitive_value_of_the_wrong_type_is_refused_without_showing_it() {
    let ws = workspace();
    let file = ws.path().join("vars.json");
    std::fs::write(
        &file,
        format!(r#"{{"pin": "{SECRET}", "o": {{"a": "x"}}}}"#),
    )
    .expect("write");
    let runs = [
        ws.run(&[
            "plan",
            "--var",
            &format!("pin={SECRET}"),
            "--var",
            "o={a = \"x\"}",
        ]),
        ws.run(&["plan", "--var-file", "vars.json"]),
        ws.run_env(
            &["plan", "--var", "o={a = \"x\"}"],
            &[("MCPO_VAR_pin", SECRET)],
        ),
    ];
    for run in &runs {
        run.expect_code(1);
        let all = run.both();
        assert!(all.contains("[E0408]"), "{all}");
        assert!(all.contains("a number is required"), "{all}");
        assert!(all.contains("sensitive, not shown"), "{all}");
        assert!(!all.contains(SECRET), "the secret leaked:\n{all}");
    }
}

#[test]
fn values_are_converted_to_their_declared_types() {
    let ws = workspace();
    // A number given as text, an object with a number where a string is declared and an
    // attribute the type does not declare.
    let run = ws.run(&[
        "plan",
        "--format",
        "json",
        "--var",
        "pin=1234",
        "--var",
        r#"o={"a": 1, "c": "dropped"}"#,
    ]);
    run.expect_code(0);
    let out = outputs(&run.stdout);
    assert_eq!(
        out["o"],
        serde_json::json!({"a": "1", "b": null}),
        "{}",
        run.stdout
    );
    assert_eq!(out["pin_twice"], Value::String("(sensitive value)".into()));
    // An object without a required attribute does not fit.
    let run = ws.run(&["plan", "--var", "pin=1", "--var", "o={b = 2}"]);
    run.expect_code(1);
    assert!(run.stderr.contains("[E0408]"), "{}", run.stderr);
    assert!(
        run.stderr.contains("the object has no attribute `a`"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!("e0408_missing_attribute", run.stderr);
}
