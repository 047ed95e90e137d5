//! Real third-party MCP servers as resource providers, end to end through `mcpoc`: the
//! standard library's adapters for `@modelcontextprotocol/server-memory` and
//! `@modelcontextprotocol/server-filesystem` (npm, installed by
//! `scripts/install-test-servers.sh`), applied, planned again, changed outside mcpo and
//! destroyed; and tasks on them that tell the truth (a failure in the body or `isError`
//! fails the step, a removed task is undone or forgotten, never "deleted" through a tool
//! that does not exist). What the servers hold is checked in their own files.

mod deploy_support;
mod twins_support;

use deploy_support::{Ws, npm_server};
use serde_json::Value;
use std::path::Path;

/// The memory server's graph file, one JSON object per line.
fn graph(ws: &Ws) -> Vec<Value> {
    std::fs::read_to_string(ws.path().join("memory.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The names of the graph's entities, and its relations as `from|type|to`.
fn graph_names(ws: &Ws) -> (Vec<String>, Vec<String>) {
    let mut entities = Vec::new();
    let mut relations = Vec::new();
    for v in graph(ws) {
        match v["type"].as_str() {
            Some("entity") => entities.push(format!(
                "{}:{}",
                v["name"].as_str().unwrap_or(""),
                v["entityType"].as_str().unwrap_or("")
            )),
            Some("relation") => relations.push(format!(
                "{}|{}|{}",
                v["from"].as_str().unwrap_or(""),
                v["relationType"].as_str().unwrap_or(""),
                v["to"].as_str().unwrap_or("")
            )),
            _ => {}
        }
    }
    entities.sort();
    relations.sort();
    (entities, relations)
}

/// The one line that imports the standard library's memory adapters.
const MEMORY_IMPORT: &str = r#"use "memory_adapters" { source = "stdlib/adapters/server-memory" }
"#;

/// A workspace importing the standard library's memory adapters, and a memory server whose
/// graph lives in the workspace (one call at a time: the server rewrites its whole file
/// on every change, so concurrent writes would lose one another).
fn memory_ws(body: &str) -> Option<Ws> {
    let memory = npm_server("mcp-server-memory")?;
    let ws = Ws::empty();
    let file = ws.path().join("memory.jsonl");
    ws.write(
        "main.mcpo",
        &format!(
            "server \"memory\" {{\n  command         = \"{memory}\"\n  max_concurrency = 1\n  env             = {{ MEMORY_FILE_PATH = \"{}\" }}\n}}\n\n{MEMORY_IMPORT}\n{body}",
            file.display()
        ),
    );
    ws.pull();
    Some(ws)
}

const PEOPLE: &str = r#"
resource "memory.entity" "alice" {
  name = "alice"
  kind = "person"
}

resource "memory.entity" "bob" {
  name         = "bob"
  kind         = "person"
  observations = ["knows ${memory.entity.alice.kind}s"]
}

resource "memory.relation" "knows" {
  from          = memory.entity.alice.name
  to            = memory.entity.bob.id
  relation_type = "knows"
}

output "bob_says" {
  value = memory.entity.bob.observations
}

output "relation" {
  value = memory.relation.knows.id
}
"#;

#[test]
fn memory_adapters_apply_replan_see_drift_and_destroy() {
    let Some(ws) = memory_ws(PEOPLE) else { return };
    ws.run(&["check"]).expect_code(0);
    let applied = ws.apply_ok();
    assert!(applied.stdout.contains("3 created"), "{}", applied.both());
    assert!(
        applied.stdout.contains(r#"bob_says = ["knows persons"]"#),
        "an adapter output read through a reference: {}",
        applied.both()
    );
    assert_eq!(
        graph_names(&ws),
        (
            vec!["alice:person".to_string(), "bob:person".to_string()],
            vec!["alice|knows|bob".to_string()]
        )
    );

    // Planned again: nothing to do.
    let again = ws.run(&["plan", "--detailed-exitcode"]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.both());

    // A relation removed outside mcpo is seen (the adapter's `gone_when`) and planned back.
    let kept: Vec<String> = graph(&ws)
        .into_iter()
        .filter(|v| v["type"] != "relation")
        .map(|v| v.to_string())
        .collect();
    ws.write("memory.jsonl", &kept.join("\n"));
    let drift = ws.run(&["plan", "--detailed-exitcode"]);
    drift.expect_code(2);
    assert!(
        drift.stdout.contains("+ memory.relation.knows  (create)"),
        "{}",
        drift.both()
    );
    assert!(
        drift
            .stderr
            .contains("memory.relation.knows: deleted outside mcpo"),
        "{}",
        drift.both()
    );
    ws.apply_ok();
    assert_eq!(graph_names(&ws).1, vec!["alice|knows|bob".to_string()]);

    // The server has no update: a changed input replaces the entity.
    ws.edit(
        "main.mcpo",
        "name         = \"bob\"\n  kind         = \"person\"",
        "name         = \"bob\"\n  kind         = \"robot\"",
    );
    let replace = ws.run(&["plan"]);
    replace.expect_code(0);
    assert!(
        replace.stdout.contains("-/+ memory.entity.bob"),
        "{}",
        replace.both()
    );
    ws.apply_ok();
    assert!(
        graph_names(&ws).0.contains(&"bob:robot".to_string()),
        "{:?}",
        graph_names(&ws)
    );

    // A data block reads an entity through the adapter's `read`, another reads a
    // read-only tool directly.
    ws.write(
        "data.mcpo",
        r#"
data "memory.entity" "alice" {
  id = "alice"
}

data "memory.search_nodes" "people" {
  query = "person"
}

output "alice_kind" {
  value = data.memory.entity.alice.kind
}

output "people" {
  value = [for e in data.memory.search_nodes.people.entities : e.name]
}
"#,
    );
    let read = ws.apply_ok();
    assert!(
        read.stdout.contains(r#"alice_kind = "person""#)
            && read.stdout.contains(r#"people     = ["alice", "bob"]"#),
        "{}",
        read.both()
    );

    // Destroy removes everything from the server and from the state.
    let destroyed = ws.run(&["destroy", "--auto-approve"]);
    destroyed.expect_code(0);
    assert_eq!(graph_names(&ws), (vec![], vec![]), "{}", destroyed.both());
    assert_eq!(ws.state_addresses(), Vec::<String>::new());
}

#[test]
fn tasks_fail_on_a_failure_in_the_body_or_an_error_and_are_undone_or_forgotten() {
    let Some(ws) = memory_ws(
        r#"
resource "memory.entity" "alice" {
  name = "alice"
  kind = "person"
}

variable "notes" {
  type    = number
  default = 2
}

# Undone by its `undo` call when removed or destroyed.
task "memory.create_entities" "note" {
  count    = var.notes
  entities = [{ name = "note-${count.index}", entityType = "note", observations = [] }]
  undo     = memory::delete_entities({ entityNames = [for e in self.entities : e.name] })
}

# No `undo`: removing it forgets it.
task "memory.add_observations" "seen" {
  observations = [{ entityName = memory.entity.alice.name, contents = ["seen"] }]
}

output "notes" {
  value = [for t in task.memory.create_entities.note : t.entities[0].name]
}
"#,
    ) else {
        return;
    };
    let applied = ws.apply_ok();
    assert!(
        applied.stdout.contains(r#"notes = ["note-0", "note-1"]"#),
        "{}",
        applied.both()
    );
    assert_eq!(
        graph_names(&ws).0,
        vec!["alice:person", "note-0:note", "note-1:note"]
    );

    // One note fewer: its undo runs, nothing else is called.
    let plan = ws.run(&["plan", "--var", "notes=1"]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains(
            "- task.memory.create_entities.note[1]  (delete: runs its recorded `undo` call)"
        ),
        "{}",
        plan.both()
    );
    ws.run(&["apply", "--auto-approve", "--var", "notes=1"])
        .expect_code(0);
    assert_eq!(graph_names(&ws).0, vec!["alice:person", "note-0:note"]);

    // A task without undo, no longer declared, is forgotten: no `<tool>.delete` is called
    // (the server has none), and the observation it added stays.
    ws.edit(
        "main.mcpo",
        "task \"memory.add_observations\" \"seen\"",
        "task \"memory.add_observations\" \"gone\"",
    );
    ws.edit(
        "main.mcpo",
        "contents = [\"seen\"]",
        "contents = [\"again\"]",
    );
    let forget = ws.run(&["plan", "--var", "notes=1"]);
    assert!(
        forget
            .stdout
            .contains("task.memory.add_observations.seen  (forget"),
        "{}",
        forget.both()
    );
    ws.run(&["apply", "--auto-approve", "--var", "notes=1"])
        .expect_code(0);
    let alice = graph(&ws)
        .into_iter()
        .find(|v| v["name"] == "alice")
        .expect("alice");
    assert_eq!(alice["observations"], serde_json::json!(["seen", "again"]));
    assert!(
        !ws.state_addresses()
            .contains(&"task.memory.add_observations.seen".to_string())
    );

    // A failure reported in the body (`failed_when`) fails the step; the task is not
    // recorded as run.
    ws.write(
        "failing.mcpo",
        r#"
task "memory.search_nodes" "nobody" {
  query       = "nobody-here"
  failed_when = length(result.entities) == 0
}
"#,
    );
    let failed = ws.run(&["apply", "--auto-approve", "--var", "notes=1"]);
    failed.expect_code(1);
    assert!(
        failed.stderr.contains("error[E0600]")
            && failed
                .stderr
                .contains("`failed_when` is true for the result"),
        "{}",
        failed.both()
    );
    assert!(
        !ws.state_addresses()
            .contains(&"task.memory.search_nodes.nobody".to_string())
    );

    // A tool error (`isError`) fails the step too.
    ws.write(
        "failing.mcpo",
        r#"
task "memory.add_observations" "carol" {
  observations = [{ entityName = "carol", contents = ["x"] }]
}
"#,
    );
    let error = ws.run(&["apply", "--auto-approve", "--var", "notes=1"]);
    error.expect_code(1);
    assert!(
        error.stderr.contains("Entity with name carol not found"),
        "{}",
        error.both()
    );
    assert!(
        !ws.state_addresses()
            .contains(&"task.memory.add_observations.carol".to_string())
    );
    std::fs::remove_file(ws.path().join("failing.mcpo")).expect("rm");

    // Destroy undoes what has an undo, forgets the rest, and leaves no task in the state.
    ws.run(&["destroy", "--auto-approve", "--var", "notes=1"])
        .expect_code(0);
    assert_eq!(graph_names(&ws), (vec![], vec![]));
    assert_eq!(ws.state_addresses(), Vec::<String>::new());
}

#[test]
fn filesystem_adapters_write_read_back_and_forget_on_destroy() {
    let Some(fs) = npm_server("mcp-server-filesystem") else {
        return;
    };
    let ws = Ws::empty();
    ws.write(
        "adapters.mcpo",
        "use \"files\" { source = \"stdlib/adapters/server-filesystem\" }\n",
    );
    let root = ws.path().join("site");
    std::fs::create_dir_all(&root).expect("mkdir");
    let root = root.canonicalize().expect("canonical root");
    ws.write(
        "main.mcpo",
        &format!(
            r#"server "filesystem" {{
  command = "{fs}"
  args    = ["{root}"]
}}

resource "filesystem.directory" "conf" {{
  path = "{root}/conf"
}}

resource "filesystem.file" "motd" {{
  path    = "${{filesystem.directory.conf.path}}/motd"
  content = "hello"
}}

data "filesystem.read_text_file" "motd" {{
  path       = "{root}/README"
}}

output "motd" {{
  value = filesystem.file.motd.content
}}

output "readme" {{
  value = trimspace(data.filesystem.read_text_file.motd.content)
}}
"#,
            root = root.display()
        ),
    );
    std::fs::write(root.join("README"), "read me\n").expect("write");
    ws.pull();
    let applied = ws.apply_ok();
    assert!(
        applied.stdout.contains(r#"motd   = "hello""#)
            && applied.stdout.contains(r#"readme = "read me""#),
        "outputs are read back, not the write's message: {}",
        applied.both()
    );
    let motd = root.join("conf/motd");
    assert_eq!(std::fs::read_to_string(&motd).expect("motd"), "hello");
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // A change outside mcpo is drift: the file is written back in place.
    std::fs::write(&motd, "changed").expect("write");
    let drift = ws.run(&["plan", "--detailed-exitcode"]);
    drift.expect_code(2);
    assert!(
        drift
            .stdout
            .contains("~ filesystem.file.motd  (update in place)"),
        "{}",
        drift.both()
    );
    ws.apply_ok();
    assert_eq!(std::fs::read_to_string(&motd).expect("motd"), "hello");

    // A file deleted outside mcpo (the server's ENOENT, through `gone_when`) is created
    // again.
    std::fs::remove_file(&motd).expect("rm");
    let gone = ws.run(&["plan", "--detailed-exitcode"]);
    gone.expect_code(2);
    assert!(
        gone.stdout.contains("+ filesystem.file.motd  (create)"),
        "{}",
        gone.both()
    );
    ws.apply_ok();

    // The server cannot delete: destroy forgets, says so, and the files stay.
    let destroyed = ws.run(&["destroy", "--auto-approve"]);
    destroyed.expect_code(0);
    assert!(
        destroyed.stdout.contains("2 forgotten")
            && destroyed.stderr.contains("filesystem.file.motd: forgot"),
        "{}",
        destroyed.both()
    );
    assert!(motd.is_file());
    assert_eq!(ws.state_addresses(), Vec::<String>::new());
}

#[test]
fn destroying_a_type_without_delete_is_refused_with_e0409() {
    let Some(ws) = memory_ws(
        r#"
# Creates only: the server keeps what it makes, and mcpo does not pretend otherwise.
adapter "memory" "tag" {
  inputs = object({ name = string })
  create = memory::create_entities({ entities = [{ name = self.name, entityType = "tag", observations = [] }] })
  id     = self.name
}

resource "memory.tag" "t" {
  name = "t1"
}
"#,
    ) else {
        return;
    };
    let applied = ws.apply_ok();
    assert!(
        applied.stderr.is_empty() || !applied.stderr.contains("error"),
        "{}",
        applied.both()
    );
    let plan = ws.run(&["plan"]);
    assert!(
        plan.stdout.contains("`memory.tag` has no `read`"),
        "the plan says once that the type has no drift detection: {}",
        plan.both()
    );
    let refused = ws.run(&["destroy", "--auto-approve"]);
    refused.expect_code(1);
    assert_eq!(graph_names(&ws).0, vec!["t1:tag"]);
    assert_eq!(ws.state_addresses(), vec!["memory.tag.t".to_string()]);
    insta::assert_snapshot!("e0409_destroy_without_delete", refused.stderr);
}

/// Resources of the Kubernetes twin's types, as a workspace rehearsed on the twin holds
/// them.
const CLUSTER: &str = r#"
resource "kubernetes.namespace" "prod" {
  name = "production"
}

resource "kubernetes.deployment" "app" {
  name           = "app"
  namespace      = kubernetes.namespace.prod.name
  image          = "nginx:1.27"
  replicas       = 3
  container_port = 80
}

resource "kubernetes.service" "app" {
  name      = "app"
  namespace = kubernetes.deployment.app.namespace
  ports     = [{ port = 80 }]
}

output "url" {
  value = "http://${kubernetes.service.app.dns_name}:80"
}

output "ready" {
  value = kubernetes.deployment.app.ready_replicas + 0
}
"#;

/// The standard library's `kubernetes-mcp-server` adapters use the twin's types and
/// attribute names: a workspace applied on the Kubernetes twin checks and plans against
/// the real server's pulled schema by changing only its `server` block (no Kubernetes API
/// server runs here, so nothing is applied on the real server), and the adapters' inputs
/// and typed outputs are checked like the twin's.
#[test]
fn kubernetes_adapters_take_a_workspace_rehearsed_on_the_twin() {
    let Some(k8s) = npm_server("kubernetes-mcp-server") else {
        return;
    };
    // Rehearsed on the twin (the convention: no adapters in the workspace).
    let twin = Ws::empty();
    twin.write(
        "main.mcpo",
        &format!(
            "server \"kubernetes\" {{\n  command = \"mcpoc\"\n  args    = [\"twin\", \"kubernetes\", \"--state-dir\", \".mcpo/twins/kubernetes\"]\n}}\n{CLUSTER}"
        ),
    );
    twin.pull();
    let applied = twin.apply_ok();
    assert!(
        applied.stdout.contains("3 created")
            && applied
                .stdout
                .contains(r#"url   = "http://app.production.svc.cluster.local:80""#),
        "{}",
        applied.both()
    );

    // The same resources on the real server, through the adapters it imports.
    let real = Ws::empty();
    real.write(
        "adapters.mcpo",
        "use \"kubernetes\" { source = \"stdlib/adapters/kubernetes-mcp-server\" }\n",
    );
    let kubeconfig = real.path().join("kubeconfig");
    real.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: none\n  context:\n    cluster: none\n    user: none\ncurrent-context: none\nusers:\n- name: none\n  user:\n    token: none\n",
    );
    real.write(
        "main.mcpo",
        &format!(
            "server \"kubernetes\" {{\n  command = \"{k8s}\"\n  args    = [\"--kubeconfig\", \"{}\"]\n}}\n{CLUSTER}",
            kubeconfig.display()
        ),
    );
    real.pull();
    real.run(&["check"]).expect_code(0);
    let plan = real.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("Plan: 3 to create, 0 to update, 0 to replace, 0 to delete."),
        "{}",
        plan.both()
    );

    // The adapters' inputs are checked as the twin's schema is.
    real.edit(
        "main.mcpo",
        "replicas       = 3",
        "replicas       = \"three\"",
    );
    let wrong = real.run(&["check"]);
    wrong.expect_code(1);
    assert!(
        wrong.stderr.contains("[E0201]")
            && wrong
                .stderr
                .contains("the `inputs` of adapter `kubernetes.deployment`"),
        "{}",
        wrong.both()
    );
}

/// A real server that dies mid-apply: the memory server behind `tests/real/die_after.py`,
/// which passes the third tool call on (bob's create), then kills the server before its
/// answer comes back. The step fails with a clear error, the state holds what was done and
/// an intent for bob; the next plan finds bob through the adapter's `read` (its id is its
/// name: the memory adapters have no `list`) and adopts it instead of creating it twice.
#[test]
fn a_server_that_dies_mid_apply_leaves_a_true_state() {
    let Some(memory) = npm_server("mcp-server-memory") else {
        return;
    };
    let ws = Ws::empty();
    ws.write("adapters.mcpo", MEMORY_IMPORT);
    let proxy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/real/die_after.py");
    let proxy = proxy.canonicalize().expect("the proxy script");
    let file = ws.path().join("memory.jsonl");
    ws.write(
        "main.mcpo",
        &format!(
            "server \"memory\" {{\n  command         = \"python3\"\n  args            = [\"{}\", \"{memory}\"]\n  max_concurrency = 1\n  env             = {{ MEMORY_FILE_PATH = \"{}\" }}\n}}\n{PEOPLE}",
            proxy.display(),
            file.display()
        ),
    );
    ws.pull();
    // Calls: alice's create, alice's read back, bob's create (the server dies).
    let died = ws.run_env(&["apply", "--auto-approve"], &[("DIE_AFTER", "3")]);
    died.expect_code(1);
    assert!(
        died.stderr.contains("error[E0602]: memory.entity.bob")
            && died.stderr.contains("the server crashed during the call")
            && died
                .stderr
                .contains("memory.relation.knows: skipped: depends on memory.entity.bob"),
        "{}",
        died.both()
    );
    assert_eq!(
        graph_names(&ws).0,
        vec!["alice:person", "bob:person"],
        "the create happened"
    );
    assert_eq!(ws.state_addresses(), vec!["memory.entity.alice"]);
    let state: Value =
        serde_json::from_str(&ws.read(".mcpo/state/state.json")).expect("the state is JSON");
    assert_eq!(
        state["intents"][0]["address"], "memory.entity.bob",
        "{state}"
    );

    // The next plan adopts bob and creates only the relation.
    let plan = ws.run(&["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stderr
            .contains("memory.entity.bob: found the resource an interrupted create made (id bob)")
            && plan
                .stdout
                .contains("Plan: 1 to create, 0 to update, 0 to replace, 0 to delete."),
        "{}",
        plan.both()
    );
    ws.apply_ok();
    assert_eq!(
        graph_names(&ws),
        (
            vec!["alice:person".to_string(), "bob:person".to_string()],
            vec!["alice|knows|bob".to_string()]
        )
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(graph_names(&ws), (vec![], vec![]));
}

/// The adapters bound to a server of another name: the workspace calls its memory server
/// `graph`, and `servers = { memory = graph }` makes the package's `memory.entity` the
/// workspace's `graph.entity`, whose tool calls go to `graph`. Apply, a clean re-plan and
/// destroy, verified in the server's file.
#[test]
fn imported_adapters_bind_to_the_workspaces_server_name() {
    let Some(memory) = npm_server("mcp-server-memory") else {
        return;
    };
    let ws = Ws::empty();
    let file = ws.path().join("memory.jsonl");
    ws.write(
        "main.mcpo",
        &format!(
            r#"server "graph" {{
  command         = "{memory}"
  max_concurrency = 1
  env             = {{ MEMORY_FILE_PATH = "{}" }}
}}

use "memory" {{
  source  = "stdlib/adapters/server-memory"
  servers = {{ memory = graph }}
}}

resource "graph.entity" "carol" {{
  name         = "carol"
  kind         = "person"
  observations = ["maps servers"]
}}

output "kind" {{
  value = graph.entity.carol.kind
}}
"#,
            file.display()
        ),
    );
    ws.pull();
    ws.run(&["check"]).expect_code(0);
    let applied = ws.apply_ok();
    assert!(applied.stdout.contains("1 created"), "{}", applied.both());
    assert!(
        applied.stdout.contains(r#"kind = "person""#),
        "{}",
        applied.both()
    );
    assert_eq!(graph_names(&ws).0, vec!["carol:person".to_string()]);
    let plan = ws.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.both());
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(graph_names(&ws).0.is_empty(), "{:?}", graph(&ws));

    // The package imported a second time, in another file, for the same server: its types
    // are defined already, which is an error at the later `use` (files in name order),
    // not a silent choice between the two; plan refuses too.
    ws.write(
        "other.mcpo",
        "use \"memory_again\" {\n  source  = \"stdlib/adapters/server-memory\"\n  servers = { memory = graph }\n}\n",
    );
    for cmd in ["check", "plan"] {
        let clash = ws.run(&[cmd]);
        clash.expect_code(1);
        assert!(
            clash.both().contains("[E0119] Error: resource types `graph.entity` and `graph.relation` are already defined")
                && clash.both().contains("other.mcpo:2:13")
                && clash.both().contains("first defined here, by the adapters `module.memory` brings"),
            "{cmd}: {}",
            clash.both()
        );
    }
    std::fs::remove_file(ws.path().join("other.mcpo")).expect("rm other.mcpo");

    // The package's own server name is not the workspace's: without the mapping the
    // `use` names a server that does not exist, at the `use`.
    ws.edit("main.mcpo", "servers = { memory = graph }", "");
    let check = ws.run(&["check"]);
    check.expect_code(1);
    assert!(
        check.both().contains("E0101")
            && check.both().contains("these adapters need server `memory`"),
        "{}",
        check.both()
    );
}

/// A module whose pattern uses adapters brings them along: `team/` imports the standard
/// library's memory adapters and declares an adapter of its own (`memory.group`, calling
/// a function of the module), and the workspace, whose memory server is called `graph`,
/// uses the module's pattern with `servers = { memory = graph }`. Check, apply (the
/// entities and the relation are in the server's file), a clean re-plan and destroy. An
/// `adapter` block of the workspace for a type the module brings is E0119 at the `use`.
#[test]
fn a_modules_pattern_brings_its_adapters_along() {
    let Some(memory) = npm_server("mcp-server-memory") else {
        return;
    };
    let ws = Ws::empty();
    let file = ws.path().join("memory.jsonl");
    ws.write(
        "team/main.mcpo",
        r#"use "memory" { source = "stdlib/adapters/server-memory" }

function "motto" {
  params = { team = string }
  result = "team ${team}"
}

# A group: an entity of kind "group" whose one observation is its motto.
adapter "memory" "group" {
  inputs    = object({ name = string })
  create    = memory::create_entities({ entities = [{ name = self.name, entityType = "group", observations = [motto(self.name)] }] })
  read      = memory::open_nodes({ names = [self.id] })
  delete    = memory::delete_entities({ entityNames = [self.id] })
  gone_when = length(result.entities) == 0
  id        = self.name
  outputs   = { motto = result.entities[0].observations[0] }
}

pattern "team" {
  param "name" { type = string }
  param "lead" { type = string }

  resource "memory.group" "team" {
    name = param.name
  }

  resource "memory.entity" "lead" {
    name = param.lead
    kind = "person"
  }

  resource "memory.relation" "leads" {
    from          = memory.entity.lead.name
    to            = memory.group.team.name
    relation_type = "leads"
  }

  output "motto" { value = memory.group.team.motto }
}
"#,
    );
    ws.write(
        "main.mcpo",
        &format!(
            r#"server "graph" {{
  command         = "{memory}"
  max_concurrency = 1
  env             = {{ MEMORY_FILE_PATH = "{}" }}
}}

use "web" {{
  source  = "./team"
  servers = {{ memory = graph }}
  name    = "web"
  lead    = "dana"
}}

output "motto" {{
  value = module.web.motto
}}
"#,
            file.display()
        ),
    );
    ws.pull();
    ws.run(&["check"]).expect_code(0);
    let applied = ws.apply_ok();
    assert!(
        applied.stdout.contains("3 created") && applied.stdout.contains(r#"motto = "team web""#),
        "{}",
        applied.both()
    );
    assert_eq!(
        graph_names(&ws),
        (
            vec!["dana:person".to_string(), "web:group".to_string()],
            vec!["dana|leads|web".to_string()]
        )
    );
    let plan = ws.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.both());
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(graph_names(&ws), (vec![], vec![]));

    // The workspace importing the same package, bound to the same server, for resources of
    // its own: the same adapters, so no clash.
    ws.write(
        "direct.mcpo",
        "use \"memory\" {\n  source  = \"stdlib/adapters/server-memory\"\n  servers = { memory = graph }\n}\n\nresource \"graph.entity\" \"solo\" {\n  name = \"solo\"\n  kind = \"person\"\n}\n",
    );
    ws.run(&["check"]).expect_code(0);

    // The workspace's own adapter for a type the module brings: which one would run is
    // not left to chance.
    ws.write(
        "own.mcpo",
        r#"adapter "graph" "group" {
  inputs = object({ name = string })
  create = graph::create_entities({ entities = [{ name = self.name, entityType = "group", observations = [] }] })
  delete = graph::delete_entities({ entityNames = [self.id] })
  id     = self.name
}
"#,
    );
    let clash = ws.run(&["check"]);
    clash.expect_code(1);
    assert!(
        clash
            .both()
            .contains("[E0119] Error: resource type `graph.group` is already defined")
            && clash.both().contains("main.mcpo:8:13")
            && clash
                .both()
                .contains("`module.web` brings another adapter for it"),
        "{}",
        clash.both()
    );
}

/// An adapter package the standard library does not have is an error at `source`, with
/// the packages it has nearby.
#[test]
fn an_unknown_adapter_package_is_reported_at_its_source() {
    let ws = Ws::empty();
    ws.write(
        "main.mcpo",
        "use \"memory\" {\n  source = \"stdlib/adapters/server-memroy\"\n}\n",
    );
    let check = ws.run(&["check"]);
    check.expect_code(1);
    assert!(
        check.both().contains("E0116")
            && check.both().contains("main.mcpo:2:12")
            && check
                .both()
                .contains("did you mean `stdlib/adapters/server-memory`"),
        "{}",
        check.both()
    );
}
