//! The standard library's five patterns end to end on the twins, each through its example
//! workspace (`stdlib/<name>/example/`, the seed's parameters): `check` is clean, `apply`
//! creates what the pattern declares, a second plan changes nothing, and `destroy` leaves
//! the twins empty. Then wrong uses, caught by `check` at the `use`: a param of the wrong
//! type, a missing param, a PCI rule broken, an unknown module, a server the workspace
//! lacks, and the servers mapped onto the workspace's own names.

mod deploy_support;
mod twins_support;

use deploy_support::Ws;

/// Check, apply, re-plan, destroy; returns how many resources the apply created.
fn round_trip(name: &str) -> usize {
    let ws = Ws::copy_of(&format!("stdlib/{name}/example"));
    ws.pull();
    ws.run(&["check"]).expect_code(0);
    let apply = ws.apply_ok();
    let created = ws.twin_resources().values().map(Vec::len).sum::<usize>();
    assert!(
        created >= 5,
        "{name}: {created} resources\n{}",
        apply.both()
    );
    assert_eq!(
        ws.state_addresses()
            .iter()
            .filter(|a| a.starts_with("module."))
            .count(),
        ws.state_addresses().len(),
        "every resource lives under the use's module address"
    );
    let again = ws.run(&["plan", "--detailed-exitcode"]);
    again.expect_code(0);
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    let left = ws.twin_resources();
    assert!(left.is_empty(), "{name}: destroy left {left:?}");
    created
}

#[test]
fn dev_environment() {
    // The VLAN, the network, the volume and the two containers.
    assert_eq!(round_trip("dev_environment"), 5);
}

#[test]
fn load_balanced_web_app() {
    assert_eq!(round_trip("load_balanced_web_app"), 10);
}

#[test]
fn secure_database_cluster() {
    assert_eq!(round_trip("secure_database_cluster"), 11);
}

#[test]
fn iot_edge() {
    assert_eq!(round_trip("iot_edge"), 8);
}

#[test]
fn pci_compliant_ecommerce() {
    assert_eq!(round_trip("pci_compliant_ecommerce"), 25);
}

/// `mcpoc check --format json` of a workspace of the twins' servers with one more file.
fn check_with(name: &str, text: &str) -> (i32, Vec<serde_json::Value>, String) {
    let ws = Ws::copy_of(&format!("stdlib/{name}/example"));
    ws.pull();
    ws.write("main.mcpo", text);
    // Only the schemas of the servers the new text declares: a pulled schema makes its
    // server known even without a `server` block.
    for schema in std::fs::read_dir(ws.path().join(".mcpo/schemas"))
        .expect("schemas")
        .flatten()
    {
        let server = schema
            .path()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        if server.is_some_and(|s| !text.contains(&format!("server \"{s}\""))) {
            std::fs::remove_file(schema.path()).expect("rm schema");
        }
    }
    let run = ws.run(&["check", "--format", "json"]);
    let diags = diagnostics(&run.stdout);
    let human = ws.run(&["check"]);
    (run.code.unwrap_or(-1), diags, human.stderr.clone())
}

/// The diagnostics of `check --format json`'s document.
fn diagnostics(stdout: &str) -> Vec<serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_str(stdout).expect("a JSON document");
    doc["diagnostics"].as_array().cloned().unwrap_or_default()
}

fn codes(diags: &[serde_json::Value]) -> Vec<(String, u64)> {
    diags
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

const SERVERS: &str = r#"
server "opnsense" {
  command = "mcpoc"
  args    = ["twin", "opnsense", "--state-dir", ".mcpo/twins/opnsense"]
}
server "aws" {
  command = "mcpoc"
  args    = ["twin", "aws", "--state-dir", ".mcpo/twins/aws"]
}
server "kubernetes" {
  command = "mcpoc"
  args    = ["twin", "kubernetes", "--state-dir", ".mcpo/twins/kubernetes"]
}
"#;

#[test]
fn wrong_uses_are_caught_at_the_use() {
    let text = format!(
        r#"{SERVERS}
use "web" {{
  source        = "stdlib/load_balanced_web_app"
  app_name      = "store"
  domain        = "shop.example.com"
  min_instances = "two"
}}

use "shop" {{
  source            = "stdlib/pci_compliant_ecommerce"
  app_name          = "store"
  domain            = "shop.example.com"
  payment_processor = "stripe"
  monitoring        = false
}}
"#
    );
    let (code, diags, human) = check_with("pci_compliant_ecommerce", &text);
    assert_eq!(code, 1, "{human}");
    let got = codes(&diags);
    // `min_instances = "two"`: line 19; the shop misses `db_password` (its label, line 22);
    // `monitoring = false` breaks requirement 10 (line 27).
    assert!(got.contains(&("E0201".into(), 19)), "{got:?}\n{human}");
    assert!(got.contains(&("E0200".into(), 22)), "{got:?}\n{human}");
    assert!(got.contains(&("E0117".into(), 27)), "{got:?}\n{human}");
    assert_eq!(got.len(), 3, "{got:?}\n{human}");
    assert!(human.contains("PCI DSS requirement 10"), "{human}");
    assert!(
        human.contains("main.mcpo:27"),
        "reported at the use\n{human}"
    );
}

#[test]
fn every_pci_rule_is_enforced_at_check() {
    let text = format!(
        r#"{SERVERS}
use "shop" {{
  source                 = "stdlib/pci_compliant_ecommerce"
  app_name               = "store"
  domain                 = "shop.example.com"
  payment_processor      = "stripe"
  db_password            = "a-long-secret-1"
  backup                 = {{ enabled = false, schedule = "0 2 * * *", retention = 30 }}
  db_publicly_accessible = true
  db_allowed_cidrs       = ["0.0.0.0/0"]
  web_vlan_tag           = 120
}}
"#
    );
    let (code, diags, human) = check_with("pci_compliant_ecommerce", &text);
    assert_eq!(code, 1, "{human}");
    let lines: Vec<u64> = codes(&diags)
        .into_iter()
        .filter(|(c, _)| c == "E0117")
        .map(|(_, l)| l)
        .collect();
    // Backups (line 21), public database (22), open to the internet (23); the VLAN rule
    // belongs to `cde_vlan_tag`, which keeps its default: it is reported on the value of
    // `web_vlan_tag` (24), which the rule reads.
    assert_eq!(lines, [21, 22, 23, 24], "{human}");
    for requirement in ["12.10.1", "1.4.4", "1.3"] {
        assert!(
            human.contains(&format!("PCI DSS requirement {requirement}")),
            "{requirement}\n{human}"
        );
    }
}

#[test]
fn modules_and_servers_must_exist() {
    let text = r#"
server "opnsense" {
  command = "mcpoc"
  args    = ["twin", "opnsense", "--state-dir", ".mcpo/twins/opnsense"]
}
use "typo" {
  source   = "stdlib/dev_enviroment"
  app_name = "x"
}
use "no_docker" {
  source   = "stdlib/dev_environment"
  app_name = "x"
}
"#;
    let (code, diags, human) = check_with("dev_environment", text);
    assert_eq!(code, 1, "{human}");
    assert_eq!(
        codes(&diags),
        [("E0116".to_string(), 7), ("E0101".to_string(), 10)],
        "{human}"
    );
    assert!(
        human.contains("did you mean `stdlib/dev_environment`?"),
        "{human}"
    );
    assert!(human.contains("needs server `docker`"), "{human}");
}

#[test]
fn servers_map_onto_the_workspaces_names() {
    // The workspace calls its container engine `engine` and its firewall `edge_fw`.
    let ws = Ws::copy_of("stdlib/dev_environment/example");
    let text = ws
        .read("main.mcpo")
        .replace("server \"docker\"", "server \"engine\"")
        .replace("server \"opnsense\"", "server \"edge_fw\"")
        .replace(
            "app_name = \"node-app\"",
            "app_name = \"node-app\"\n  servers  = { docker = engine, opnsense = edge_fw }",
        );
    ws.write("main.mcpo", &text);
    ws.pull();
    let check = ws.run(&["check"]);
    check.expect_code(0);
    ws.apply_ok();
    let state = ws.run(&[
        "state",
        "show",
        "module.dev.docker.container.db",
        "--format",
        "json",
    ]);
    state.expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&state.stdout).expect("JSON");
    assert_eq!(doc["server"], "engine", "{}", state.stdout);
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(ws.twin_resources().is_empty());
}

/// `tests/patterns/<case>.mcpo`: uses of the standard library's patterns, checked by
/// `mcpoc check` against the twins' pulled schemas (`tests/check/.mcpo/schemas/`); the
/// source and what `check` prints are snapshotted together in `tests/patterns/snapshots/`.
#[test]
fn check_snapshots() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = repo.join("tests/patterns");
    let mut cases: Vec<std::path::PathBuf> = std::fs::read_dir(&corpus)
        .expect("tests/patterns")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "mcpo"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "{cases:?}");
    for case in cases {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&case).expect("case");
        let ws = Ws::empty();
        let schemas = ws.path().join(".mcpo/schemas");
        std::fs::create_dir_all(&schemas).expect("mkdir");
        for twin in deploy_support::KINDS {
            std::fs::copy(
                repo.join(format!("tests/check/.mcpo/schemas/{twin}.json")),
                schemas.join(format!("{twin}.json")),
            )
            .expect("copy schema");
        }
        ws.write(&name, &text);
        let run = ws.run(&["check"]);
        let snap = format!(
            "--- {name} ---\n{text}\n--- mcpoc check (exit {}) ---\n{}",
            run.code.unwrap_or(-1),
            run.stderr
        );
        insta::with_settings!({
            snapshot_path => corpus.join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name.trim_end_matches(".mcpo"), snap);
        });
    }
}

/// A rule whose value comes from a variable is judged by `plan`, once the value is known,
/// and reported at the use like `check` reports a literal.
#[test]
fn rules_on_values_known_at_plan() {
    let ws = Ws::copy_of("stdlib/pci_compliant_ecommerce/example");
    ws.edit(
        "main.mcpo",
        "  monitoring        = true\n",
        "  monitoring        = var.monitoring\n",
    );
    ws.write(
        "vars.mcpo",
        "variable \"monitoring\" {\n  type    = bool\n  default = true\n}\n",
    );
    ws.pull();
    ws.run(&["check"]).expect_code(0);
    let plan = ws.run(&["plan", "--var", "monitoring=false"]);
    plan.expect_code(1);
    assert!(plan.stderr.contains("E0117"), "{}", plan.both());
    assert!(
        plan.stderr.contains("PCI DSS requirement 10"),
        "{}",
        plan.both()
    );
    assert!(
        plan.stderr.contains("main.mcpo:30"),
        "at the use\n{}",
        plan.both()
    );
    ws.run(&["plan", "--var", "monitoring=true"]).expect_code(0);
    assert!(ws.twin_resources().is_empty(), "nothing was created");
}

/// Pattern names are scoped by module: the workspace and two local modules each declare a
/// pattern `web` with params and outputs of their own, and each `use` gets its own.
#[test]
fn pattern_names_never_collide_across_modules() {
    let ws = Ws::empty();
    ws.write(
        "main.mcpo",
        r#"server "kubernetes" {
  command = "mcpoc"
  args    = ["twin", "kubernetes", "--state-dir", ".mcpo/twins/kubernetes"]
}

pattern "web" {
  param "label" { type = string }
  resource "kubernetes.namespace" "own" { name = param.label }
  output "from" { value = "workspace" }
}

use "mine" {
  pattern = "web"
  label   = "mine"
}

use "a" {
  source = "./modules/a"
  name   = "alpha"
}

use "b" {
  source    = "./modules/b"
  namespace = kubernetes.namespace.shared.name
}

resource "kubernetes.namespace" "shared" { name = "shared" }

output "froms" {
  value = [module.mine.from, module.a.from, module.b.from, module.b.entries]
}
"#,
    );
    ws.write(
        "modules/a/main.mcpo",
        r#"pattern "web" {
  param "name" { type = string }
  resource "kubernetes.namespace" "ns" { name = param.name }
  output "from" { value = "a" }
}
"#,
    );
    ws.write(
        "modules/b/main.mcpo",
        r#"pattern "web" {
  param "namespace" { type = string }
  resource "kubernetes.config_map" "cfg" {
    name      = "web"
    namespace = param.namespace
    data      = { from = "b" }
  }
  output "from" { value = "b" }
  output "entries" { value = length(kubernetes.config_map.cfg.data) }
}
"#,
    );
    ws.pull();
    ws.run(&["check"]).expect_code(0);
    // A param of one module's `web` is not a param of another's.
    let text = ws.read("main.mcpo");
    ws.write(
        "main.mcpo",
        &text.replace("name   = \"alpha\"", "label  = \"alpha\""),
    );
    let wrong = ws.run(&["check"]);
    wrong.expect_code(1);
    assert!(
        wrong.stderr.contains("E0103") && wrong.stderr.contains("E0200"),
        "{}",
        wrong.both()
    );
    ws.write("main.mcpo", &text);
    ws.apply_ok();
    let mut addresses = ws.state_addresses();
    addresses.sort();
    assert_eq!(
        addresses,
        [
            "kubernetes.namespace.shared",
            "module.a.kubernetes.namespace.ns",
            "module.b.kubernetes.config_map.cfg",
            "module.mine.kubernetes.namespace.own",
        ]
    );
    let out = ws.run(&["output", "froms", "--format", "json"]);
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        v,
        serde_json::json!(["workspace", "a", "b", 1]),
        "{}",
        out.stdout
    );
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(ws.twin_resources().is_empty());
}
