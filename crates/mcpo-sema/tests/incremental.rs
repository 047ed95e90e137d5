//! Incrementality, observed through salsa's events: after a one-attribute edit in one file,
//! only that file is parsed and checked again; the name table, the schemas and the other
//! files' checks are reused.

use mcpo_diagnostics::FileId;
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use salsa::Setter;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<String>>>;

fn db_with_log() -> (Database, Log) {
    let log: Log = Arc::default();
    let sink = log.clone();
    let db = Database::with_events(move |event| {
        if let salsa::EventKind::WillExecute { database_key } = event.kind {
            let text = format!("{database_key:?}");
            let name = text.split('(').next().unwrap_or("").to_string();
            if let Ok(mut l) = sink.lock() {
                l.push(name);
            }
        }
    });
    (db, log)
}

/// How many times each query ran since the last call.
fn take(log: &Log) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if let Ok(mut l) = log.lock() {
        for name in l.drain(..) {
            *out.entry(name).or_insert(0) += 1;
        }
    }
    out
}

fn schema(db: &Database, server: &str) -> SchemaFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/check/.mcpo/schemas")
        .join(format!("{server}.json"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    SchemaFile::new(db, server.to_string(), format!("{server}.json"), text)
}

const A: &str = "resource \"aws.vpc\" \"main\" {\n  cidr_block = \"10.0.0.0/16\"\n}\n";
const B: &str = "resource \"aws.vpc_subnet\" \"app\" {\n  vpc_id            = aws.vpc.main.id\n  cidr_block        = \"10.0.1.0/24\"\n  availability_zone = \"us-east-1a\"\n}\n";
const C: &str = "resource \"docker.volume\" \"data\" {\n  name = \"data\"\n}\n";

#[test]
fn one_attribute_edit_rechecks_one_file() {
    let (mut db, log) = db_with_log();
    let a = SourceFile::new(&db, FileId(0), "a.mcpo".into(), A.into());
    let b = SourceFile::new(&db, FileId(1), "b.mcpo".into(), B.into());
    let c = SourceFile::new(&db, FileId(2), "c.mcpo".into(), C.into());
    let schemas = vec![schema(&db, "aws"), schema(&db, "docker")];
    let ws = Workspace::new(&db, vec![a, b, c], schemas);

    let first = mcpo_sema::check(&db, ws);
    assert!(first.is_empty(), "{first:?}");
    let cold = take(&log);
    assert_eq!(cold.get("check_file"), Some(&3), "{cold:?}");
    assert_eq!(cold.get("parse"), Some(&3), "{cold:?}");

    // Nothing changed: nothing runs.
    let _ = mcpo_sema::check(&db, ws);
    assert_eq!(take(&log), BTreeMap::new());

    // One attribute value in c.
    c.set_text(&mut db)
        .to(C.replace("\"data\"\n}", "\"data2\"\n}"));
    let again = mcpo_sema::check(&db, ws);
    assert!(again.is_empty(), "{again:?}");
    let warm = take(&log);
    assert_eq!(warm.get("parse"), Some(&1), "{warm:?}");
    assert_eq!(warm.get("check_file"), Some(&1), "{warm:?}");
    assert_eq!(warm.get("signature"), Some(&1), "{warm:?}");
    assert_eq!(
        warm.get("index"),
        None,
        "the name table is reused: {warm:?}"
    );
    assert_eq!(warm.get("catalog"), None, "schemas are reused: {warm:?}");
    assert_eq!(
        warm.get("workspace_diagnostics"),
        None,
        "the workspace checks are reused: {warm:?}"
    );
    assert_eq!(warm.get("file_servers"), Some(&1), "{warm:?}");
    assert_eq!(
        warm.get("server_diagnostics"),
        None,
        "the server checks are reused: {warm:?}"
    );

    // An error introduced in b is found, and only b is checked again.
    b.set_text(&mut db)
        .to(B.replace("aws.vpc.main.id", "aws.vpc.mian.id"));
    let broken = mcpo_sema::check(&db, ws);
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken.first().map(|d| d.code.as_str()), Some("E0106"));
    let warm = take(&log);
    assert_eq!(warm.get("check_file"), Some(&1), "{warm:?}");
}

#[test]
fn declaring_something_new_rebuilds_the_name_table() {
    let (mut db, log) = db_with_log();
    let a = SourceFile::new(&db, FileId(0), "a.mcpo".into(), A.into());
    let c = SourceFile::new(&db, FileId(1), "c.mcpo".into(), C.into());
    let ws = Workspace::new(
        &db,
        vec![a, c],
        vec![schema(&db, "aws"), schema(&db, "docker")],
    );
    let _ = mcpo_sema::check(&db, ws);
    take(&log);
    c.set_text(&mut db).to(format!(
        "{C}\nresource \"docker.volume\" \"more\" {{\n  name = \"more\"\n}}\n"
    ));
    let diags = mcpo_sema::check(&db, ws);
    assert!(diags.is_empty(), "{diags:?}");
    let warm = take(&log);
    assert_eq!(warm.get("index"), Some(&1), "{warm:?}");
    assert_eq!(warm.get("catalog"), None, "{warm:?}");
}

const SERVERS: &str =
    "server \"docker\" {\n  command = \"docker-mcp\"\n  args    = [\"--stdio\"]\n}\n";

#[test]
fn server_blocks_and_the_lock_recheck_only_the_servers() {
    let (mut db, log) = db_with_log();
    let s = SourceFile::new(&db, FileId(0), "servers.mcpo".into(), SERVERS.into());
    let c = SourceFile::new(&db, FileId(1), "c.mcpo".into(), C.into());
    let ws = Workspace::new(&db, vec![s, c], vec![schema(&db, "docker")]);
    let first = mcpo_sema::check(&db, ws);
    let codes: Vec<&str> = first.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0301"], "no mcpo.lock yet: {first:?}");
    take(&log);

    // `mcpo.lock` appears: only the server checks run again (the pulled schema was read
    // by the first check and is not read again).
    ws.set_lock(&mut db).to(Some("version = 1\n".to_string()));
    let again = mcpo_sema::check(&db, ws);
    assert_eq!(again.len(), 1, "{again:?}");
    let warm = take(&log);
    assert_eq!(warm.get("server_diagnostics"), Some(&1), "{warm:?}");
    assert_eq!(warm.get("lockfile"), Some(&1), "{warm:?}");
    assert_eq!(warm.get("pulled_schema"), None, "{warm:?}");
    assert_eq!(warm.get("parse"), None, "{warm:?}");
    assert_eq!(warm.get("check_file"), None, "{warm:?}");

    // A changed argument: the server file's blocks are evaluated again, the other file is
    // not checked again, and the pulled schema is not read again.
    s.set_text(&mut db)
        .to(SERVERS.replace("--stdio", "--verbose"));
    let _ = mcpo_sema::check(&db, ws);
    let warm = take(&log);
    assert_eq!(warm.get("file_servers"), Some(&1), "{warm:?}");
    assert_eq!(warm.get("server_diagnostics"), Some(&1), "{warm:?}");
    assert_eq!(warm.get("pulled_schema"), None, "{warm:?}");
    assert_eq!(
        warm.get("check_file"),
        Some(&1),
        "only servers.mcpo: {warm:?}"
    );
}

const LOCALS: &str = "locals {\n  cidr = \"10.0.0.0/16\"\n  name = \"main\"\n}\n";
const USES_LOCAL: &str = "resource \"aws.vpc\" \"main\" {\n  cidr_block = local.cidr\n}\n";

#[test]
fn a_local_s_type_is_a_query_so_editing_its_file_rechecks_its_readers_only_when_it_changes() {
    let (mut db, log) = db_with_log();
    let l = SourceFile::new(&db, FileId(0), "locals.mcpo".into(), LOCALS.into());
    let u = SourceFile::new(&db, FileId(1), "vpc.mcpo".into(), USES_LOCAL.into());
    let ws = Workspace::new(&db, vec![l, u], vec![schema(&db, "aws")]);
    let first = mcpo_sema::check(&db, ws);
    assert!(first.is_empty(), "{first:?}");
    let cold = take(&log);
    assert_eq!(cold.get("local_type"), Some(&1), "{cold:?}");

    // Another local's value changes: the type of `cidr` is inferred again and is the same,
    // so the file reading it is not checked again.
    l.set_text(&mut db)
        .to(LOCALS.replace("\"main\"", "\"core\""));
    let again = mcpo_sema::check(&db, ws);
    assert!(again.is_empty(), "{again:?}");
    let warm = take(&log);
    assert_eq!(warm.get("local_type"), Some(&1), "{warm:?}");
    assert_eq!(
        warm.get("check_file"),
        Some(&1),
        "only locals.mcpo: {warm:?}"
    );

    // `cidr` becomes an object: its reader is checked again and reports it.
    l.set_text(&mut db)
        .to(LOCALS.replace("\"10.0.0.0/16\"", "{ block = \"10.0.0.0/16\" }"));
    let changed = mcpo_sema::check(&db, ws);
    let warm = take(&log);
    assert_eq!(warm.get("check_file"), Some(&2), "{warm:?}");
    assert!(
        changed
            .iter()
            .all(|d| d.file == FileId(1) && d.code.as_str() == "E0201")
            && !changed.is_empty(),
        "{changed:?}"
    );
}

const ADAPTER: &str = "adapter \"fixture\" \"gizmo\" {\n  inputs = object({ name = string })\n  create = fixture::reboot({ target = self.name })\n  read   = fixture::lookup({ key = self.id })\n  delete = fixture::reboot({ target = self.id })\n  id     = result.at\n  outputs = {\n    serial = tostring(result.rebooted)\n  }\n}\n";
const USES_ADAPTER: &str = "resource \"fixture.gizmo\" \"g\" {\n  name = \"g1\"\n}\n\noutput \"serial\" {\n  value = fixture.gizmo.g.serial\n}\n";

#[test]
fn an_adapter_s_types_are_a_query_so_editing_its_tools_rechecks_no_user() {
    let (mut db, log) = db_with_log();
    let a = SourceFile::new(&db, FileId(0), "adapter.mcpo".into(), ADAPTER.into());
    let r = SourceFile::new(&db, FileId(1), "gizmo.mcpo".into(), USES_ADAPTER.into());
    let ws = Workspace::new(&db, vec![a, r], vec![schema(&db, "fixture")]);
    let first = mcpo_sema::check(&db, ws);
    assert!(first.is_empty(), "{first:?}");
    assert_eq!(take(&log).get("adapter_type"), Some(&1));

    // The delete call changes; the adapter's input and output types do not.
    a.set_text(&mut db)
        .to(ADAPTER.replace("target = self.id })", "target = self.id, force = true })"));
    let again = mcpo_sema::check(&db, ws);
    assert!(again.is_empty(), "{again:?}");
    let warm = take(&log);
    assert_eq!(warm.get("adapter_type"), Some(&1), "{warm:?}");
    assert_eq!(
        warm.get("check_file"),
        Some(&1),
        "only adapter.mcpo: {warm:?}"
    );
}
