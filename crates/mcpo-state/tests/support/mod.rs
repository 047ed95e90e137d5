//! Helpers shared by mcpo-state's integration tests.

#![allow(dead_code, reason = "each test file uses a different subset")]

use mcpo_state::{ResourceState, State};
use serde_json::json;
use std::path::Path;

/// The helper process (`src/bin/mcpo-state-child.rs`).
pub const CHILD: &str = env!("CARGO_BIN_EXE_mcpo-state-child");

/// A resource with a few attributes.
pub fn resource(k: usize) -> ResourceState {
    ResourceState {
        server: "aws".into(),
        type_name: "vpc".into(),
        id: format!("vpc-{k}"),
        inputs: json!({ "cidr_block": format!("10.{k}.0.0/16"), "name": format!("n{k}") }),
        outputs: json!({ "id": format!("vpc-{k}"), "arn": format!("arn:aws:ec2:vpc/vpc-{k}") }),
        sensitive: Vec::new(),
        deps: Vec::new(),
        tainted: false,
    }
}

/// Adds `n` resources to `state`.
pub fn state_with(mut state: State, n: usize) -> State {
    for k in 0..n {
        state
            .resources
            .insert(format!("aws.vpc.v[{k}]"), resource(k));
    }
    state
}

/// Writes `text` as the state file of the workspace at `root`.
pub fn put_state_file(root: &Path, text: &str) {
    let dir = root.join(".mcpo/state");
    std::fs::create_dir_all(&dir).expect("create .mcpo/state");
    std::fs::write(dir.join("state.json"), text).expect("write state.json");
}
