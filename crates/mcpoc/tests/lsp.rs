//! `mcpoc lsp` end to end: the binary as a separate process, driven over stdio with real
//! LSP JSON-RPC messages, on the fixture workspace `tests/lsp/ws`.

mod lsp_support;

use lsp_support::{Client, pos, uri, workspace};
use serde_json::{Value, json};

fn doc(c: &Client, file: &str) -> Value {
    json!({"uri": uri(&c.root.join(file))})
}

#[test]
fn a_workspace_error_is_published_at_its_range_and_clears_when_fixed() {
    let ws = workspace("ws");
    // The code links to its section of the book where the client says the book is.
    let mut c = Client::start_with(
        ws.path(),
        json!({"bookUrl": "https://docs.example.org/mcpo/"}),
    );
    // Published for files on disk, without opening them.
    let diags = c.diagnostics("typo.mcpo", None);
    let unknown = diags
        .iter()
        .find(|d| d["code"] == "E0103")
        .unwrap_or_else(|| panic!("no E0103 in {diags:?}"));
    assert_eq!(
        unknown["range"],
        json!({"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 11}})
    );
    assert_eq!(unknown["severity"], 1);
    assert_eq!(unknown["source"], "mcpo");
    assert!(
        unknown["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("`aws.vpc` has no attribute `cidr_blok`")),
        "{unknown}"
    );
    assert!(
        unknown["codeDescription"]["href"].as_str().is_some_and(
            |h| h == "https://docs.example.org/mcpo/codes.html#e0103-unknown-attribute"
        ),
        "{unknown}"
    );
    // The clean files have none.
    assert_eq!(c.diagnostics("network.mcpo", None), Vec::<Value>::new());

    // Fix it in the editor: the diagnostics of that version are empty.
    let text = c.open("typo.mcpo");
    c.change("typo.mcpo", 2, &text.replace("cidr_blok", "cidr_block"));
    assert_eq!(c.diagnostics("typo.mcpo", Some(2)), Vec::<Value>::new());

    // Break another file through this one: renaming the VPC breaks its references.
    let net = c.open("network.mcpo");
    c.change("network.mcpo", 2, &net.replace("\"main\"", "\"core\""));
    // (app.mcpo was published clean at start; the next publish reports the references.)
    let _ = c.diagnostics("app.mcpo", None);
    let app = c.diagnostics("app.mcpo", None);
    assert!(
        app.iter().filter(|d| d["code"] == "E0106").count() == 2,
        "both references to the renamed VPC are reported: {app:?}"
    );
    c.shutdown();
}

#[test]
fn without_a_book_url_codes_carry_no_link() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let diags = c.diagnostics("typo.mcpo", None);
    assert!(!diags.is_empty());
    for d in &diags {
        assert!(d.get("codeDescription").is_none(), "{d}");
    }
}

#[test]
fn formatting_uses_the_formatter_of_mcpoc_fmt() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let text = c.open("network.mcpo");
    let messy = text.replace("cidr_block = ", "cidr_block=");
    c.change("network.mcpo", 2, &messy);
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": doc(&c, "network.mcpo"), "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let edits = edits.as_array().cloned().unwrap_or_default();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0]["newText"], text.as_str());
    // Already formatted: nothing to do.
    c.change("network.mcpo", 3, &text);
    let none = c.request(
        "textDocument/formatting",
        json!({"textDocument": doc(&c, "network.mcpo"), "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(none, Value::Null);
    let _ = pos;
    c.shutdown();
}

fn at(c: &Client, file: &str, text: &str, needle: &str, skip: usize) -> Value {
    json!({"textDocument": doc(c, file), "position": pos(text, needle, skip)})
}

fn markdown(hover: &Value) -> String {
    hover["contents"]["value"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn hover_shows_types_schema_descriptions_and_docs() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let net = c.open("network.mcpo");
    let app = c.open("app.mcpo");

    // An attribute of a resource: its schema type and description.
    let h = c.request(
        "textDocument/hover",
        at(&c, "network.mcpo", &net, "cidr_block", 3),
    );
    let md = markdown(&h);
    assert!(md.contains("cidr_block: string"), "{md}");
    assert!(md.contains("required"), "{md}");
    assert!(md.contains("The IPv4 network range"), "{md}");

    // A reference: its type, the output attribute's description, and the declaration's
    // comment.
    let h = c.request(
        "textDocument/hover",
        at(&c, "app.mcpo", &app, "aws.vpc.main.id", 13),
    );
    let md = markdown(&h);
    assert!(md.contains("aws.vpc.main.id: string"), "{md}");
    assert!(md.contains("resource \"aws.vpc\" \"main\""), "{md}");
    assert!(md.contains("The main network of the shop."), "{md}");
    assert_eq!(
        h["range"],
        json!({"start": {"line": 5, "character": 22}, "end": {"line": 5, "character": 37}})
    );

    // A variable: its type and description.
    let h = c.request(
        "textDocument/hover",
        at(&c, "network.mcpo", &net, "var.region", 5),
    );
    let md = markdown(&h);
    assert!(md.contains("type `string`"), "{md}");
    assert!(md.contains("Where everything runs."), "{md}");

    // A function: its signature.
    let h = c.request(
        "textDocument/hover",
        at(&c, "app.mcpo", &app, "cidrsubnet", 2),
    );
    assert!(
        markdown(&h).contains("cidrsubnet(string, number, number)"),
        "{h}"
    );
    c.shutdown();
}

fn labels(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["label"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn completion_offers_references_attributes_and_types() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let app = c.open("app.mcpo");

    // After `aws.vpc.`: the declared VPCs.
    let edited = app.replace("aws.vpc.main.id", "aws.vpc.");
    c.change("app.mcpo", 2, &edited);
    let items = c.request(
        "textDocument/completion",
        at(&c, "app.mcpo", &edited, "aws.vpc.\n", 8),
    );
    let l = labels(&items);
    assert!(
        l.contains(&"main".to_string()) && l.contains(&"edge".to_string()),
        "{l:?}"
    );

    // After `aws.vpc.main.`: the outputs of the type.
    let edited = app.replace("aws.vpc.main.id", "aws.vpc.main.");
    c.change("app.mcpo", 3, &edited);
    let items = c.request(
        "textDocument/completion",
        at(&c, "app.mcpo", &edited, "main.\n", 5),
    );
    let l = labels(&items);
    for want in ["id", "cidr_block", "name"] {
        assert!(l.contains(&want.to_string()), "{want} missing from {l:?}");
    }

    // In an empty line of a resource body: the type's attributes, required first, those
    // already set left out.
    let typo = c.open("typo.mcpo");
    let edited = typo.replace(
        "  cidr_blok = \"10.1.0.0/16\"\n",
        "  cidr_blok = \"10.1.0.0/16\"\n  \n",
    );
    c.change("typo.mcpo", 2, &edited);
    let items = c.request(
        "textDocument/completion",
        json!({"textDocument": doc(&c, "typo.mcpo"), "position": {"line": 2, "character": 2}}),
    );
    let l = labels(&items);
    assert_eq!(l.first().map(String::as_str), Some("cidr_block"), "{l:?}");
    assert!(l.contains(&"enable_dns_hostnames".to_string()), "{l:?}");
    assert!(l.contains(&"count".to_string()), "{l:?}");

    // In a resource's type label: the types of the pulled schemas, of the server typed.
    let edited = format!("{typo}\nresource \"aws.\n");
    c.change("typo.mcpo", 3, &edited);
    let items = c.request(
        "textDocument/completion",
        json!({"textDocument": doc(&c, "typo.mcpo"), "position": {"line": 4, "character": 14}}),
    );
    let l = labels(&items);
    assert!(l.contains(&"aws.vpc_subnet".to_string()), "{l:?}");
    assert!(l.iter().all(|t| t.starts_with("aws.")), "{l:?}");

    // At the start of a value: functions with their signatures.
    let edited = app.replace("local.zone", "cidr");
    c.change("app.mcpo", 4, &edited);
    let items = c.request(
        "textDocument/completion",
        at(&c, "app.mcpo", &edited, "= cidr\n", 6),
    );
    let subnet = items
        .as_array()
        .and_then(|a| a.iter().find(|i| i["label"] == "cidrsubnet"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        subnet["detail"], "cidrsubnet(string, number, number)",
        "{items}"
    );
    c.shutdown();
}

#[test]
fn definition_references_and_rename_work_across_files() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let net = c.open("network.mcpo");
    let app = c.open("app.mcpo");
    let net_uri = uri(&c.root.join("network.mcpo"));
    let app_uri = uri(&c.root.join("app.mcpo"));

    let def = c.request(
        "textDocument/definition",
        at(&c, "app.mcpo", &app, "aws.vpc.main.id", 9),
    );
    assert_eq!(def["uri"], net_uri.as_str());
    assert_eq!(
        def["range"],
        json!({"start": {"line": 7, "character": 19}, "end": {"line": 7, "character": 25}})
    );
    // A local, in the same file.
    let def = c.request(
        "textDocument/definition",
        at(&c, "app.mcpo", &app, "local.zone", 7),
    );
    assert_eq!(def["range"]["start"], json!({"line": 1, "character": 2}));

    let mut refs = c.request(
        "textDocument/references",
        json!({"textDocument": doc(&c, "network.mcpo"), "position": pos(&net, "\"main\"", 2),
               "context": {"includeDeclaration": true}}),
    );
    let refs = refs.as_array_mut().cloned().unwrap_or_default();
    let places: Vec<(String, u64, u64)> = refs
        .iter()
        .map(|r| {
            (
                r["uri"].as_str().unwrap_or("").to_string(),
                r["range"]["start"]["line"].as_u64().unwrap_or(99),
                r["range"]["start"]["character"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        places,
        vec![
            (net_uri.clone(), 7, 19),
            (app_uri.clone(), 5, 30),
            (app_uri.clone(), 6, 41),
        ]
    );

    let prep = c.request(
        "textDocument/prepareRename",
        at(&c, "app.mcpo", &app, "main.id", 1),
    );
    assert_eq!(prep["placeholder"], "main");
    let edit = c.request(
        "textDocument/rename",
        json!({"textDocument": doc(&c, "app.mcpo"), "position": pos(&app, "main.id", 1), "newName": "core"}),
    );
    let net_edits = edit["changes"][net_uri.as_str()]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let app_edits = edit["changes"][app_uri.as_str()]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(net_edits.len(), 1, "{edit}");
    assert_eq!(
        net_edits[0]["range"],
        json!({"start": {"line": 7, "character": 20}, "end": {"line": 7, "character": 24}}),
        "the label's text, inside its quotes"
    );
    assert_eq!(app_edits.len(), 2, "{edit}");
    assert!(app_edits.iter().all(|e| e["newText"] == "core"));
    // A name that is not one is refused.
    let bad = c.request_raw(
        "textDocument/rename",
        json!({"textDocument": doc(&c, "app.mcpo"), "position": pos(&app, "main.id", 1), "newName": "a b"}),
    );
    assert!(
        bad["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("is not a name")),
        "{bad}"
    );
    c.shutdown();
}

#[test]
fn code_actions_symbols_signature_help_and_tokens() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let typo = c.open("typo.mcpo");
    let diags = c.diagnostics("typo.mcpo", None);
    let range = |code: &str| {
        diags
            .iter()
            .find(|d| d["code"] == code)
            .map(|d| d["range"].clone())
            .unwrap_or_else(|| panic!("no {code} in {diags:?}"))
    };
    // The did-you-mean of the unknown attribute.
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": doc(&c, "typo.mcpo"), "range": range("E0103"), "context": {"diagnostics": []}}),
    );
    let fix = actions
        .as_array()
        .and_then(|a| a.iter().find(|x| x["title"] == "replace with `cidr_block`"))
        .cloned()
        .unwrap_or_else(|| panic!("no did-you-mean in {actions}"));
    let u = uri(&c.root.join("typo.mcpo"));
    assert_eq!(
        fix["edit"]["changes"][u.as_str()][0]["newText"],
        "cidr_block"
    );
    // Adding the missing required attribute.
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": doc(&c, "typo.mcpo"), "range": range("E0200"), "context": {"diagnostics": []}}),
    );
    let add = actions
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|x| x["title"] == "add missing required attribute cidr_block")
        })
        .cloned()
        .unwrap_or_else(|| panic!("no add-missing in {actions}"));
    assert_eq!(
        add["edit"]["changes"][u.as_str()][0],
        json!({"range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}},
               "newText": "  cidr_block = \"\"\n"})
    );
    let _ = typo;

    let net = c.open("network.mcpo");
    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": doc(&c, "network.mcpo")}),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["var.region", "aws.vpc.main"]);
    let found = c.request("workspace/symbol", json!({"query": "vpc.ma"}));
    assert_eq!(labels_by(&found, "name"), ["aws.vpc.main"]);

    let app = c.open("app.mcpo");
    let help = c.request(
        "textDocument/signatureHelp",
        at(&c, "app.mcpo", &app, "8, 1)", 3),
    );
    assert_eq!(
        help["signatures"][0]["label"],
        "cidrsubnet(string, number, number)"
    );
    assert_eq!(help["activeParameter"], 2);

    let tokens = c.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": doc(&c, "network.mcpo")}),
    );
    let data = tokens["data"].as_array().cloned().unwrap_or_default();
    // The first token is the keyword `variable` at line 0, column 0, length 8.
    assert_eq!(
        data[..5],
        [json!(0), json!(0), json!(8), json!(0), json!(0)]
    );
    assert_eq!(data.len() % 5, 0);
    let _ = net;
    c.shutdown();
}

fn labels_by(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i[field].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn files_written_and_deleted_on_disk_are_followed() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let _ = c.diagnostics("typo.mcpo", None);
    let extra = c.root.join("extra.mcpo");
    std::fs::write(
        &extra,
        "resource \"aws.vpc\" \"x\" {\n  cidr_blok = \"10.9.0.0/16\"\n}\n",
    )
    .expect("write extra.mcpo");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&extra), "type": 1}]}),
    );
    let diags = c.diagnostics("extra.mcpo", None);
    assert!(diags.iter().any(|d| d["code"] == "E0103"), "{diags:?}");

    std::fs::remove_file(&extra).expect("delete extra.mcpo");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&extra), "type": 3}]}),
    );
    assert_eq!(c.diagnostics("extra.mcpo", None), Vec::<Value>::new());
    c.shutdown();
}

#[test]
fn a_burst_of_edits_is_debounced_and_requests_see_the_last_text() {
    let ws = workspace("ws");
    let mut c = Client::start(ws.path());
    let text = c.open("typo.mcpo");
    let fixed = text.replace("cidr_blok", "cidr_block");
    // Typing: twenty versions in a row, the last one setting `name` instead.
    let last = text.replace("cidr_blok", "name");
    for v in 2..=21 {
        let t = if v == 21 {
            last.as_str()
        } else if v % 2 == 0 {
            fixed.as_str()
        } else {
            text.as_str()
        };
        c.change("typo.mcpo", v, t);
    }
    // A request sent right after the burst answers on the last text.
    let h = c.request("textDocument/hover", at(&c, "typo.mcpo", &last, "name", 2));
    assert!(markdown(&h).contains("name: string"), "{h}");
    let diags = c.diagnostics("typo.mcpo", Some(21));
    let codes: Vec<&str> = diags.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E0200"], "only the missing cidr_block: {diags:?}");
    // Stale versions were dropped, not all published.
    let uri_typo = uri(&c.root.join("typo.mcpo"));
    let published = c
        .backlog
        .iter()
        .filter(|m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri_typo.as_str()
        })
        .count();
    assert!(published < 19, "{published} publishes for 20 edits");
    c.shutdown();
}

/// Writes `.mcpo/schemas/<name>.json` and its `mcpo.lock` entry as `mcpoc schema pull`
/// does for a server pulled with `identity` (a server with no tools).
fn pulled(root: &std::path::Path, lock: &mut mcpo_schema::Lockfile, name: &str, command: &str) {
    let schema = mcpo_schema::ServerSchema {
        format: mcpo_schema::SCHEMA_VERSION,
        server: name.to_string(),
        identity: mcpo_schema::ServerIdentity::stdio(command, Vec::new(), []),
        protocol_version: "2025-06-18".into(),
        server_info: None,
        pulled_at: "2026-11-24T00:00:00Z".into(),
        tools: Vec::new(),
        resource_templates: Vec::new(),
    };
    std::fs::write(
        root.join(mcpo_schema::schema_path(name)),
        schema.to_file_text(),
    )
    .expect("write schema");
    lock.servers.insert(
        name.to_string(),
        mcpo_schema::LockEntry {
            identity: schema.identity.clone(),
            protocol_version: schema.protocol_version.clone(),
            server_info: None,
            tools: 0,
            schema_hash: schema.hash(),
        },
    );
}

fn codes_of(p: &Value) -> Vec<String> {
    p["diagnostics"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn server_blocks_are_checked_against_pulled_schemas_the_lock_and_discovery() {
    let ws = workspace("ws");
    let root = ws.path();
    std::fs::write(
        root.join("servers.mcpo"),
        "server \"never\" {\n  command = \"never-mcp\"\n}\n\nserver \"found\" {\n  max_concurrency = 2\n}\n",
    )
    .expect("write servers.mcpo");
    // `found` names no transport: discovery finds it in mcpo.toml, as `mcpoc check` does.
    std::fs::write(
        root.join("mcpo.toml"),
        "[servers.found]\ncommand = \"found-mcp\"\n",
    )
    .expect("write mcpo.toml");
    let mut c = Client::start(root);

    // Never pulled: E0301 on each block's first line, with `mcpoc check`'s message.
    let diags = c.diagnostics("servers.mcpo", None);
    let e0301: Vec<&Value> = diags.iter().filter(|d| d["code"] == "E0301").collect();
    assert_eq!(e0301.len(), 2, "{diags:?}");
    assert_eq!(
        e0301[0]["range"],
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 14}})
    );
    assert_eq!(
        e0301[0]["message"],
        "server schema not pulled\n\
         no pulled schema for `never`: `.mcpo/schemas/never.json` does not exist\n\
         help: run `mcpoc schema pull --server never`"
    );
    assert!(
        e0301[1]["message"].as_str().is_some_and(|m| m
            .contains("no pulled schema for `found`: `.mcpo/schemas/found.json` does not exist")),
        "found by discovery, so only its schema is missing: {:?}",
        e0301[1]
    );

    // `mcpoc schema pull` writes the schemas and the lock; the file watcher reports them.
    let mut lock = mcpo_schema::Lockfile::default();
    pulled(root, &mut lock, "never", "never-mcp");
    pulled(root, &mut lock, "found", "found-mcp");
    std::fs::write(root.join(mcpo_schema::LOCK_FILE), lock.to_file_text()).expect("write lock");
    let changed: Vec<Value> = [
        ".mcpo/schemas/never.json",
        ".mcpo/schemas/found.json",
        "mcpo.lock",
    ]
    .iter()
    .map(|f| json!({"uri": uri(&root.join(f)), "type": 2}))
    .collect();
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": changed }),
    );
    let u = uri(&root.join("servers.mcpo"));
    c.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == u.as_str() && codes_of(p).is_empty()
    });

    // Discovery's declaration changes: the schema of `found` is stale.
    std::fs::write(
        root.join("mcpo.toml"),
        "[servers.found]\ncommand = \"found-mcp\"\nargs = [\"--verbose\"]\n",
    )
    .expect("rewrite mcpo.toml");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&root.join("mcpo.toml")), "type": 2}]}),
    );
    let p = c.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == u.as_str() && !codes_of(p).is_empty()
    });
    assert_eq!(codes_of(&p), ["E0302"], "{p}");
    c.shutdown();
}

/// A `use` of a standard library pattern is checked in the editor as by `mcpoc check`:
/// the module is loaded (not reported as unavailable), a wrong param is reported at the
/// use, and adding such a `use` while editing loads its module.
#[test]
fn a_stdlib_use_is_checked_against_its_pattern() {
    let ws = workspace("ws");
    std::fs::write(
        ws.path().join("dev.mcpo"),
        "use \"dev\" {\n  source   = \"stdlib/dev_environment\"\n  app_name = \"node-app\"\n  vlan_tag = \"fifty\"\n}\n",
    )
    .expect("write");
    let mut c = Client::start(ws.path());
    let diags = c.diagnostics("dev.mcpo", None);
    let codes: Vec<&str> = diags.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E0201"], "{diags:?}");
    assert_eq!(diags[0]["range"]["start"]["line"], 3, "{diags:?}");

    // A new `use` typed in the editor: its module is loaded, and a missing param shows.
    let text = c.open("dev.mcpo");
    let fixed = text.replace("\"fifty\"", "50");
    c.change(
        "dev.mcpo",
        2,
        &format!("{fixed}\nuse \"shop\" {{\n  source = \"stdlib/load_balanced_web_app\"\n  domain = \"shop.example.com\"\n}}\n"),
    );
    let diags = c.diagnostics("dev.mcpo", Some(2));
    let got: Vec<(&str, &Value)> = diags
        .iter()
        .filter_map(|d| Some((d["code"].as_str()?, &d["message"])))
        .collect();
    assert_eq!(got.len(), 1, "{diags:?}");
    assert_eq!(got[0].0, "E0200", "{diags:?}");
    assert!(
        got[0].1.as_str().is_some_and(|m| m.contains("app_name")),
        "{diags:?}"
    );
    c.change("dev.mcpo", 3, &fixed);
    assert_eq!(c.diagnostics("dev.mcpo", Some(3)), Vec::<Value>::new());
    c.shutdown();
}

/// Writes `files` (path relative to the root, text) under a new directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

const MODULE_A: &str = "pattern \"web\" {\n  param \"name\" {\n    type = string\n  }\n  output \"n\" {\n    value = param.name\n  }\n}\n\nlocals {\n  x = 1\n}\n";
const MODULE_B: &str = "pattern \"web\" {\n  param \"size\" {\n    type = number\n  }\n  output \"s\" {\n    value = param.size\n  }\n  output \"t\" {\n    value = local.x\n  }\n}\n\nlocals {\n  x = 2\n}\n";
const USES: &str = "use \"one\" {\n  source = \"./modules/a\"\n  name   = \"x\"\n}\n\nuse \"two\" {\n  source = \"./modules/b\"\n  size   = 3\n}\n\noutput \"o\" {\n  value = module.one.n\n}\n\noutput \"p\" {\n  value = module.two.s\n}\n";

/// Local modules are scoped in the editor as `mcpoc check` scopes them: two modules that
/// both declare pattern `web` and local `x` do not collide, with each other or with the
/// workspace; a module's file is worked on in its module's workspace; a wrong param at a
/// use is reported; an edit in a module's file re-checks the workspace that uses it.
#[test]
fn local_modules_are_workspaces_of_their_own() {
    let ws = tree(&[
        ("modules/a/main.mcpo", MODULE_A),
        ("modules/b/main.mcpo", MODULE_B),
        ("main.mcpo", USES),
    ]);
    let mut c = Client::start(ws.path());
    // Before: E0113 "no pattern in `./modules/b`" on main.mcpo (module a's `web` was
    // taken), and E0108 duplicates in the modules' files.
    assert_eq!(c.diagnostics("main.mcpo", None), Vec::<Value>::new());
    assert_eq!(
        c.diagnostics("modules/a/main.mcpo", None),
        Vec::<Value>::new()
    );
    assert_eq!(
        c.diagnostics("modules/b/main.mcpo", None),
        Vec::<Value>::new()
    );

    // Navigation in a module's file stays in the module.
    let b = c.open("modules/b/main.mcpo");
    let def = c.request(
        "textDocument/definition",
        json!({"textDocument": doc(&c, "modules/b/main.mcpo"), "position": pos(&b, "local.x", 6)}),
    );
    assert_eq!(
        def["uri"],
        uri(&c.root.join("modules/b/main.mcpo")),
        "{def}"
    );
    assert_eq!(def["range"]["start"]["line"], 13, "{def}");
    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": doc(&c, "modules/b/main.mcpo"), "position": pos(&b, "param.size", 7)}),
    );
    assert!(markdown(&hover).contains("number"), "{hover}");
    let items = c.request(
        "textDocument/completion",
        json!({"textDocument": doc(&c, "modules/b/main.mcpo"), "position": pos(&b, "param.size", 6)}),
    );
    let got = labels(&items);
    assert!(
        got.contains(&"size".to_string()) && !got.contains(&"name".to_string()),
        "{got:?}"
    );

    // A wrong param type at the use is reported there.
    let main = c.open("main.mcpo");
    c.change(
        "main.mcpo",
        2,
        &main.replace("size   = 3", "size   = \"big\""),
    );
    let diags = c.diagnostics("main.mcpo", Some(2));
    let got: Vec<(&str, &Value)> = diags
        .iter()
        .filter_map(|d| Some((d["code"].as_str()?, &d["range"]["start"]["line"])))
        .collect();
    assert_eq!(got, [("E0201", &json!(7))], "{diags:?}");
    c.change("main.mcpo", 3, &main);
    assert_eq!(c.diagnostics("main.mcpo", Some(3)), Vec::<Value>::new());

    // Renaming module b's param in its file breaks the use in main.mcpo.
    c.change(
        "modules/b/main.mcpo",
        2,
        &b.replace("\"size\"", "\"count\"")
            .replace("param.size", "param.count"),
    );
    assert_eq!(
        c.diagnostics("modules/b/main.mcpo", Some(2)),
        Vec::<Value>::new()
    );
    let diags = c.diagnostics("main.mcpo", None);
    let lines: Vec<&Value> = diags.iter().map(|d| &d["range"]["start"]["line"]).collect();
    assert!(
        !diags.is_empty() && lines.iter().all(|l| **l == json!(5) || **l == json!(7)),
        "the use of module b is wrong now: {diags:?}"
    );
    assert!(
        diags
            .iter()
            .any(|d| d["message"].as_str().is_some_and(|m| m.contains("size"))),
        "{diags:?}"
    );
    c.shutdown();
}

/// A memory server pulled with the tools the standard library's memory adapters call (their
/// arguments unchecked: the schemas are open objects), as `mcpoc schema pull` stores it.
fn pulled_memory(root: &std::path::Path) {
    let tool = |name: &str| mcpo_schema::ToolSchema {
        name: name.to_string(),
        title: None,
        description: None,
        input_schema: json!({"type": "object"}),
        output_schema: None,
        annotations: None,
    };
    let schema = mcpo_schema::ServerSchema {
        format: mcpo_schema::SCHEMA_VERSION,
        server: "memory".to_string(),
        identity: mcpo_schema::ServerIdentity::stdio("mcp-server-memory", Vec::new(), []),
        protocol_version: "2025-06-18".into(),
        server_info: None,
        pulled_at: "2026-11-24T00:00:00Z".into(),
        tools: [
            "create_entities",
            "create_relations",
            "delete_entities",
            "delete_relations",
            "open_nodes",
        ]
        .into_iter()
        .map(tool)
        .collect(),
        resource_templates: Vec::new(),
    };
    std::fs::create_dir_all(root.join(".mcpo/schemas")).expect("mkdir");
    std::fs::write(
        root.join(mcpo_schema::schema_path("memory")),
        schema.to_file_text(),
    )
    .expect("write schema");
    let mut lock = mcpo_schema::Lockfile::default();
    lock.servers.insert(
        "memory".to_string(),
        mcpo_schema::LockEntry {
            identity: schema.identity.clone(),
            protocol_version: schema.protocol_version.clone(),
            server_info: None,
            tools: schema.tools.len(),
            schema_hash: schema.hash(),
        },
    );
    std::fs::write(root.join(mcpo_schema::LOCK_FILE), lock.to_file_text()).expect("write lock");
}

const MEMORY_MAIN: &str = "server \"memory\" {\n  command = \"mcp-server-memory\"\n}\n\nuse \"memory\" { source = \"stdlib/adapters/server-memory\" }\n\nresource \"memory.entity\" \"web\" {\n  name = \"web\"\n  kind = \"service\"\n}\n\noutput \"k\" {\n  value = memory.entity.web.kind\n}\n";

/// The types a `use` imports from the standard library's adapters are the workspace's in
/// the editor as in `mcpoc check`: no diagnostics, hover on the type says where it comes
/// from, completion offers it and its outputs; a second import of the package is E0119 at
/// its `source`.
#[test]
fn imported_adapters_are_known_to_the_editor() {
    let ws = tree(&[("main.mcpo", MEMORY_MAIN)]);
    pulled_memory(ws.path());
    let mut c = Client::start(ws.path());
    assert_eq!(c.diagnostics("main.mcpo", None), Vec::<Value>::new());
    let main = c.open("main.mcpo");

    let h = c.request(
        "textDocument/hover",
        at(&c, "main.mcpo", &main, "entity\" \"web\"", 0),
    );
    let md = markdown(&h);
    assert!(
        md.contains("resource type `memory.entity`")
            && md.contains("defined by an adapter that `module.memory` imports")
            && md.contains("required: `kind: string`, `name: string`"),
        "{md}"
    );

    let items = c.request(
        "textDocument/completion",
        at(&c, "main.mcpo", &main, "entity.web.kind", 11),
    );
    let got = labels(&items);
    assert!(
        got.contains(&"kind".to_string()) && got.contains(&"observations".to_string()),
        "{got:?}"
    );

    c.change(
        "main.mcpo",
        2,
        &format!("{main}\nuse \"again\" {{ source = \"stdlib/adapters/server-memory\" }}\n"),
    );
    let diags = c.diagnostics("main.mcpo", Some(2));
    let got: Vec<(&str, &Value)> = diags
        .iter()
        .filter_map(|d| Some((d["code"].as_str()?, &d["range"]["start"]["line"])))
        .collect();
    assert_eq!(got, [("E0119", &json!(15))], "{diags:?}");
    c.shutdown();
}
