//! How apply errors read: one rendered example per code, as users see them.

use mcpo_diagnostics::codes;
use mcpo_exec::ExecError;
use mcpo_mcp::{ErrorKind, McpError};
use std::time::Duration;

#[test]
fn rendered_errors() {
    let call = |kind| McpError::new("aws", kind).with_tool("vpc.create");
    let examples = vec![
        ExecError::from_mcp(&call(ErrorKind::ToolFailed {
            message: "cidr_block 10.0.0.0/33 is not a valid CIDR block".into(),
        }))
        .at("aws.vpc.main"),
        ExecError::from_mcp(&McpError::new(
            "aws",
            ErrorKind::CommandNotFound {
                command: "aws-mcp".into(),
            },
        ))
        .at("aws.vpc.main"),
        ExecError::from_mcp(&call(ErrorKind::Crashed {
            status: "exited with code 70".into(),
            stderr_tail: "mcpo twin aws: crashing".into(),
        }))
        .at("aws.vpc.main"),
        ExecError::from_mcp(&call(ErrorKind::Timeout {
            after: Duration::from_secs(60),
        }))
        .at("aws.vpc.main"),
        ExecError::from_mcp(&call(ErrorKind::OutputMismatch {
            path: "/id".into(),
            reason: "42 is not of type \"string\"".into(),
        }))
        .at("aws.vpc.main"),
        ExecError::new(
            codes::E0605,
            "not ready after 2m: the wait_for condition is still false",
        )
        .at("kubernetes.deployment.web")
        .with_help("the resource is recorded as tainted; the next plan replaces it"),
        ExecError::new(codes::E0606, "skipped because aws.vpc.main failed").at("aws.vpc_subnet.a"),
        ExecError::new(
            codes::E0607,
            "the arguments cannot be evaluated: aws.vpc.main has no attribute `vpc_id`",
        )
        .at("aws.vpc_subnet.a"),
        ExecError::new(
            codes::E0608,
            "the pending create matches 2 resources not in state: data-1, data-2",
        )
        .at("docker.volume.data"),
        ExecError::new(
            codes::E0609,
            "the state could not be saved: No space left on device",
        ),
        ExecError::new(
            codes::E0610,
            "rollback: server `aws`, tool `vpc.delete`: the tool reported an error: vpc vpc-1 has dependencies",
        )
        .at("aws.vpc.main"),
        ExecError::new(
            codes::E0611,
            "server `docker` has no volume with id `data`",
        )
        .at("docker.volume.data"),
        ExecError::new(codes::E0612, "already in state with id `data`").at("docker.volume.data"),
        ExecError::new(
            codes::E0613,
            "server `aws`, tool `vpc.read`: the tool reported an error: ServiceUnavailable (failed 5 times)",
        )
        .at("aws.vpc.main"),
        ExecError::new(codes::E0614, "not in state, so there is no id to update").at("aws.vpc.main"),
        ExecError::new(
            codes::E0615,
            "refresh: server `aws`, tool `vpc.read`: timed out after 60s (the call was cancelled)",
        )
        .at("aws.vpc.main"),
    ];
    let text: Vec<String> = examples.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn every_exec_code_is_registered_with_an_explanation() {
    for n in 600..=615 {
        let code = format!("E0{n}");
        let info = mcpo_diagnostics::Code::parse(&code).and_then(|c| c.info());
        assert!(
            info.is_some_and(|i| i.explanation.contains(&format!("error[{code}]"))),
            "{code}"
        );
    }
}
