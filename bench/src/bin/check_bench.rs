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
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Resources per generated file.
const PER_FILE: usize = 100;

/// One group of ten resources, referring to group `g - 1` when there is one.
fn group(out: &mut String, g: usize, replicas: usize) {
    let prev = g.saturating_sub(1);
    let _ = write!(
        out,
        r#"
resource "aws.vpc" "v{g}" {{
  cidr_block = "10.{a}.0.0/16"
  name       = "vpc-{g}"
}}

resource "aws.vpc_subnet" "s{g}" {{
  vpc_id            = aws.vpc.v{g}.id
  cidr_block        = cidrsubnet(aws.vpc.v{g}.cidr_block, 8, 1)
  availability_zone = "eu-west-1a"
}}

resource "aws.ec2_security_group" "sg{g}" {{
  group_name  = "sg-{g}"
  description = "group {g}"
  vpc_id      = aws.vpc.v{g}.id
  ingress     = [{{ protocol = "tcp", from_port = 443, to_port = 443, cidr_blocks = ["0.0.0.0/0"] }}]
}}

resource "aws.ec2_instance" "i{g}" {{
  ami                = "ami-0abcdef1234567890"
  instance_type      = "t3.micro"
  subnet_id          = aws.vpc_subnet.s{g}.id
  security_group_ids = [aws.ec2_security_group.sg{g}.id, aws.ec2_security_group.sg{prev}.id]
}}

resource "opnsense.network_vlan" "vl{g}" {{
  interface   = "igb1"
  tag         = {tag}
  description = "vlan for ${{aws.vpc.v{g}.name}}"
}}

resource "opnsense.firewall_rule" "fw{g}" {{
  interface        = "vlan1.{tag}"
  action           = "pass"
  protocol         = "tcp"
  destination      = aws.ec2_instance.i{g}.private_ip
  destination_port = "443"
}}

resource "docker.image_build" "img{g}" {{
  context = "./app{g}"
  tag     = "app{g}:1.0.${{opnsense.network_vlan.vl{prev}.tag}}"
}}

resource "docker.container" "c{g}" {{
  name  = "c{g}"
  image = docker.image_build.img{g}.tag
  env   = {{ UPSTREAM = aws.ec2_instance.i{prev}.private_ip }}
}}

resource "kubernetes.namespace" "ns{g}" {{
  name = "ns{g}"
}}

resource "kubernetes.deployment" "d{g}" {{
  name      = "d{g}"
  namespace = kubernetes.namespace.ns{g}.name
  image     = docker.image_build.img{prev}.tag
  replicas  = {replicas}
}}
"#,
        a = g % 250,
        tag = 1 + g % 4000,
    );
}

/// The workspace's files: `n` resources (rounded up to groups of ten).
fn generate(n: usize) -> Vec<String> {
    let groups = n.div_ceil(10);
    let per_file = PER_FILE / 10;
    let mut files = Vec::new();
    let mut cur = String::new();
    for g in 0..groups {
        group(&mut cur, g, 3);
        if (g + 1) % per_file == 0 {
            files.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        files.push(cur);
    }
    files
}

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
    let texts = generate(n);
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
