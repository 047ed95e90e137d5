//! Inputs for mcpo's benchmarks: the HCL corpus, concatenated to a target size, and a
//! generated workspace of N resources across the four twins.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where the HCL corpus is: `MCPO_HCL_CORPUS`, else `../shared/corpus/hcl` beside the
/// checkout.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("MCPO_HCL_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/hcl"),
    }
}

/// Every `.tf` file under `dir`, sorted, as text.
pub fn corpus_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    collect(dir, &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "tf") {
            let text = std::fs::read_to_string(&path)?;
            out.push((path, text));
        }
    }
    Ok(())
}

/// The corpus files concatenated (each ending in a newline) and repeated until the text
/// is at least `target_bytes` long. Concatenated HCL bodies are still one valid body.
pub fn concatenated(files: &[(PathBuf, String)], target_bytes: usize) -> String {
    let mut out = String::with_capacity(target_bytes + 64 * 1024);
    if files.iter().all(|(_, t)| t.is_empty()) {
        return out;
    }
    while out.len() < target_bytes {
        for (_, text) in files {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

/// Resources per generated file.
pub const PER_FILE: usize = 100;

/// One group of ten resources, referring to group `g - 1` when there is one.
fn group(out: &mut String, g: usize) {
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
  availability_zone = "us-east-1a"
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
  replicas  = 3
}}
"#,
        a = g % 250,
        tag = 1 + g % 4000,
    );
}

/// A generated workspace of at least `bytes` bytes of source, in files of [`PER_FILE`]
/// resources like [`workspace`]'s: the input of the memory-at-size benchmark.
pub fn workspace_of_size(bytes: usize) -> Vec<String> {
    let per_file = PER_FILE / 10;
    let mut files = Vec::new();
    let mut cur = String::new();
    let mut total = 0;
    let mut g = 0;
    while total + cur.len() < bytes {
        group(&mut cur, g);
        g += 1;
        if g % per_file == 0 {
            total += cur.len();
            files.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        files.push(cur);
    }
    // Formatted as `mcpoc fmt` writes them: a file does not start with a blank line.
    for f in &mut files {
        if f.starts_with('\n') {
            f.remove(0);
        }
    }
    files
}

/// A generated workspace across the four twins with realistic references between
/// resources: `n` resources (rounded up to groups of ten), [`PER_FILE`] per file, as the
/// files' texts. The check and language-server benchmarks measure the same workspace.
pub fn workspace(n: usize) -> Vec<String> {
    let groups = n.div_ceil(10);
    let per_file = PER_FILE / 10;
    let mut files = Vec::new();
    let mut cur = String::new();
    for g in 0..groups {
        group(&mut cur, g);
        if (g + 1) % per_file == 0 {
            files.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        files.push(cur);
    }
    files
}
