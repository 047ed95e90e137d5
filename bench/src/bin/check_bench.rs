//! Type-checker benchmark: generates a workspace of N resources across the four twins
//! (VPCs, subnets, instances, security groups, VLANs, firewall rules, images, containers,
//! namespaces, deployments; each group of ten references its own members and the previous
//! group, often in another file), then measures through the salsa database:
//!
//! - a cold check (parse, names, schemas, types, workspace checks) of everything;
//! - a re-check after changing one attribute value in one file (what the language server
//!   does after a keystroke).
//!
//! Usage: `cargo run --release -p mcpo-bench --bin check_bench -- [N...]` (default 1000
//! 10000). Prints one line per figure.

use mcpo_diagnostics::FileId;
use mcpo_sema::{Database, SchemaFile, SourceFile, Workspace};
use salsa::Setter;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn schemas(db: &Database) -> Vec<SchemaFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/check/.mcpo/schemas");
    ["aws", "docker", "kubernetes", "opnsense"]
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(dir.join(format!("{s}.json"))).unwrap_or_default();
            SchemaFile::new(db, (*s).to_string(), format!("{s}.json"), text)
        })
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn run(n: usize) {
    let texts = mcpo_bench::workspace(n);
    let bytes: usize = texts.iter().map(String::len).sum();
    // Cold: a fresh database, best of three.
    let mut cold = Duration::MAX;
    let mut diag_count = 0;
    for _ in 0..3 {
        let db = Database::default();
        let start = Instant::now();
        let files: Vec<SourceFile> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| SourceFile::new(&db, FileId(i as u32), format!("gen{i}.mcpo"), t.clone()))
            .collect();
        let ws = Workspace::new(&db, files, schemas(&db));
        diag_count = mcpo_sema::check(&db, ws).len();
        cold = cold.min(start.elapsed());
    }
    // Warm: one database, one attribute value changed in one file, median of 21 edits.
    // The event callback counts query executions, to show what an edit re-runs.
    let counts: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let sink = counts.clone();
    let mut db = Database::with_events(move |event| {
        if let salsa::EventKind::WillExecute { database_key } = event.kind {
            let name = format!("{database_key:?}");
            let name = name.split('(').next().unwrap_or("").to_string();
            if let Ok(mut c) = sink.lock() {
                *c.entry(name).or_insert(0) += 1;
            }
        }
    });
    let files: Vec<SourceFile> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| SourceFile::new(&db, FileId(i as u32), format!("gen{i}.mcpo"), t.clone()))
        .collect();
    let ws = Workspace::new(&db, files.clone(), schemas(&db));
    let _ = mcpo_sema::check(&db, ws);
    if let Ok(mut c) = counts.lock() {
        c.clear();
    }
    let target = files.len() / 2;
    let Some(file) = files.get(target).copied() else {
        return;
    };
    let original = texts.get(target).cloned().unwrap_or_default();
    let mut times = Vec::new();
    for k in 0..21 {
        let edited = original.replacen("replicas  = 3", &format!("replicas  = {}", 4 + k), 1);
        let start = Instant::now();
        file.set_text(&mut db).to(edited);
        let d = mcpo_sema::check(&db, ws).len();
        times.push(start.elapsed());
        assert_eq!(d, diag_count, "the edit must not change the diagnostics");
    }
    times.sort();
    let per_edit: Vec<String> = counts
        .lock()
        .map(|c| c.iter().map(|(k, v)| format!("{k} x{}", v / 21)).collect())
        .unwrap_or_default();
    let warm = times.get(times.len() / 2).copied().unwrap_or_default();
    println!(
        "N = {n:>6} resources ({} files, {} KiB): cold check {}, re-check after a one-attribute edit {} (median of 21); {diag_count} diagnostics; queries re-run per edit: {}",
        texts.len(),
        bytes / 1024,
        ms(cold),
        ms(warm),
        per_edit.join(", "),
    );
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if args.is_empty() {
        vec![1000, 10000]
    } else {
        args
    };
    for n in sizes {
        run(n);
    }
}
