//! Memory and time at size: writes generated workspaces of a few sizes (the resources of
//! `check_bench`, across the four twins, with their pulled schemas, so the check is
//! clean), runs the release `mcpoc check .`, `mcpoc check --syntax-only .` and
//! `mcpoc fmt --check .` on each as child processes, and prints the wall time and the
//! child's peak resident set size, with its ratio to the input's size.
//!
//! Usage: `cargo build --release -p mcpoc -p mcpo-bench --bins && target/release/size_bench
//! [--mcpoc PATH] [--one-file] [MiB...]` (default 5 10 25 50 MiB; `--mcpoc` defaults to
//! the `mcpoc` beside this binary; `--one-file` writes the whole input as one file instead
//! of files of 100 resources). The workspaces go to the system's temporary directory and
//! are removed afterwards.
//!
//! The peak is the kernel's own figure (`ru_maxrss`): each command runs under a fresh
//! copy of this program (`--measure`), whose only child it is, so `RUSAGE_CHILDREN` is
//! that one command's peak.

use nix::sys::resource::{UsageWho, getrusage};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

const MIB: usize = 1 << 20;

/// The commands measured, as arguments to `mcpoc` run in the workspace.
const COMMANDS: [&[&str]; 3] = [
    &["check", "."],
    &["check", "--syntax-only", "."],
    &["fmt", "--check", "."],
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--measure") {
        return measure(args.get(1..).unwrap_or(&[]));
    }
    let mut mcpoc = None;
    let mut one_file = false;
    let mut sizes = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--mcpoc" => mcpoc = it.next().map(PathBuf::from),
            "--one-file" => one_file = true,
            n => match n.parse::<usize>() {
                Ok(n) => sizes.push(n),
                Err(_) => {
                    eprintln!("usage: size_bench [--mcpoc PATH] [--one-file] [MiB...]");
                    return ExitCode::from(2);
                }
            },
        }
    }
    if sizes.is_empty() {
        sizes = vec![5, 10, 25, 50];
    }
    let Some(mcpoc) = mcpoc.or_else(beside_me) else {
        eprintln!("no mcpoc beside this binary: name one with --mcpoc");
        return ExitCode::from(2);
    };
    println!("mcpoc: {}", mcpoc.display());
    for mib in sizes {
        if let Err(e) = run(&mcpoc, mib, one_file) {
            eprintln!("{mib} MiB: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// `mcpoc` in the directory of this executable.
fn beside_me() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let path = me.parent()?.join("mcpoc");
    path.is_file().then_some(path)
}

/// Writes a workspace of `mib` MiB and measures each command on it.
fn run(mcpoc: &Path, mib: usize, one_file: bool) -> std::io::Result<()> {
    let dir = std::env::temp_dir().join(format!("mcpo-size-bench-{}-{mib}", std::process::id()));
    let result = write_workspace(&dir, mib, one_file).and_then(|(files, bytes)| {
        for args in COMMANDS {
            let m = measure_child(mcpoc, &dir, args)?;
            println!(
                "{:>4} MiB ({files} files, {bytes} bytes) mcpoc {:<24} exit {}, {:>7.2} s, peak RSS {:>6.0} MiB = {:>5.1}x the input",
                mib,
                args.join(" "),
                m.exit,
                m.wall_s,
                m.max_rss_kib as f64 / 1024.0,
                (m.max_rss_kib * 1024) as f64 / bytes as f64,
            );
        }
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Writes the generated sources and the four twins' pulled schemas; returns the number
/// of source files and their total size.
fn write_workspace(dir: &Path, mib: usize, one_file: bool) -> std::io::Result<(usize, usize)> {
    let schemas_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/check/.mcpo/schemas");
    let schemas_to = dir.join(".mcpo/schemas");
    std::fs::create_dir_all(&schemas_to)?;
    for server in ["aws", "docker", "kubernetes", "opnsense"] {
        let name = format!("{server}.json");
        std::fs::copy(schemas_from.join(&name), schemas_to.join(&name))?;
    }
    let mut texts = mcpo_bench::workspace_of_size(mib * MIB);
    if one_file {
        texts = vec![texts.concat()];
    }
    let bytes = texts.iter().map(String::len).sum();
    for (i, text) in texts.iter().enumerate() {
        std::fs::write(dir.join(format!("gen{i:05}.mcpo")), text)?;
    }
    Ok((texts.len(), bytes))
}

/// What one command did.
struct Measured {
    exit: i32,
    wall_s: f64,
    max_rss_kib: i64,
}

/// Runs `mcpoc ARGS` in `dir` under `size_bench --measure` and reads what it printed.
fn measure_child(mcpoc: &Path, dir: &Path, args: &[&str]) -> std::io::Result<Measured> {
    let me = std::env::current_exe()?;
    let out = Command::new(me)
        .arg("--measure")
        .arg(mcpoc)
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    let mut next = || fields.next().unwrap_or("");
    let (exit, wall_s, rss) = (next().parse(), next().parse(), next().parse());
    match (exit, wall_s, rss) {
        (Ok(exit), Ok(wall_s), Ok(max_rss_kib)) => Ok(Measured {
            exit,
            wall_s,
            max_rss_kib,
        }),
        _ => Err(std::io::Error::other(format!(
            "the measuring process printed {text:?}"
        ))),
    }
}

/// `--measure PROGRAM ARGS...`: runs the program (its output discarded), then prints its
/// exit code, wall time in seconds and peak RSS in KiB. It is this process's only child,
/// so the children's usage is its usage.
fn measure(command: &[String]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        return ExitCode::from(2);
    };
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let wall = start.elapsed();
    let (Ok(status), Ok(usage)) = (status, getrusage(UsageWho::RUSAGE_CHILDREN)) else {
        return ExitCode::FAILURE;
    };
    // A signal (an out-of-memory kill) shows as -1.
    let exit = status.code().unwrap_or(-1);
    // On Linux `ru_maxrss` is in KiB.
    println!("{exit} {:.3} {}", wall.as_secs_f64(), usage.max_rss());
    ExitCode::SUCCESS
}
