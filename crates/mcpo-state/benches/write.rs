//! How fast the local backend writes a state of 1,000 resources (the size of a large
//! apply, which writes after every step): `cargo bench -p mcpo-state --bench write`.
//! Set `MCPO_BENCH_DIR` to measure on another disk (default: the system temp directory).

use mcpo_state::{Backend, LocalBackend, OutputState, ResourceState, State};
use serde_json::json;
use std::time::{Duration, Instant};

fn resource(k: usize, round: usize) -> ResourceState {
    ResourceState {
        server: "aws".into(),
        type_name: "ec2_instance".into(),
        id: format!("i-{k:017x}"),
        inputs: json!({
            "ami": "ami-0abcdef1234567890",
            "instance_type": "t3.micro",
            "subnet_id": format!("subnet-{:017x}", k / 10),
            "security_group_ids": [format!("sg-{:017x}", k / 50)],
            "name": format!("web-{k}"),
            "tags": { "team": "shop", "env": "prod", "round": round },
        }),
        outputs: json!({
            "id": format!("i-{k:017x}"),
            "arn": format!("arn:aws:ec2:us-east-1:123456789012:instance/i-{k:017x}"),
            "private_ip": format!("10.0.{}.{}", k / 250, k % 250 + 4),
            "state": "running",
            "ami": "ami-0abcdef1234567890",
            "instance_type": "t3.micro",
            "subnet_id": format!("subnet-{:017x}", k / 10),
            "launch_time": "2026-11-24T20:31:02Z",
        }),
        sensitive: Vec::new(),
        deps: vec![format!("aws.vpc_subnet.s[{}]", k / 10)],
        tainted: false,
    }
}

fn main() -> std::io::Result<()> {
    // `cargo bench` passes `--bench`; any other argument is a filter we do not use.
    let base = std::env::var_os("MCPO_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base)?;
    let backend = LocalBackend::new(dir.path());
    let mut state: State = backend.read().map_err(std::io::Error::other)?;
    for k in 0..1000 {
        state
            .resources
            .insert(format!("aws.ec2_instance.web[{k}]"), resource(k, 0));
    }
    state.outputs.insert(
        "count".into(),
        OutputState {
            value: json!(1000),
            sensitive: false,
        },
    );
    backend.write(&mut state).map_err(std::io::Error::other)?;
    let size = std::fs::metadata(backend.state_path())?.len();

    // One changed resource per write, like an apply recording one step at a time.
    let writes = 300;
    let mut times = Vec::with_capacity(writes);
    let start = Instant::now();
    for round in 1..=writes {
        let k = round % 1000;
        state
            .resources
            .insert(format!("aws.ec2_instance.web[{k}]"), resource(k, round));
        let t = Instant::now();
        backend.write(&mut state).map_err(std::io::Error::other)?;
        times.push(t.elapsed());
    }
    let total = start.elapsed();
    times.sort();
    let pct = |p: usize| {
        times
            .get(times.len() * p / 100)
            .copied()
            .unwrap_or_default()
    };

    let t = Instant::now();
    let read = backend.read().map_err(std::io::Error::other)?;
    let read_time = t.elapsed();

    // Where the time goes: encoding alone (the rest is the file system: write, fdatasync,
    // rename, directory fsync, history link and pruning).
    let t = Instant::now();
    for _ in 0..20 {
        std::hint::black_box(serde_json::to_vec_pretty(&read).map_err(std::io::Error::other)?);
    }
    let encode = t.elapsed() / 20;
    let t = Instant::now();
    for _ in 0..20 {
        std::hint::black_box(serde_json::to_vec(&read).map_err(std::io::Error::other)?);
    }
    let compact = t.elapsed() / 20;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "encoding the state alone: {:.2} ms (compact JSON would take {:.2} ms)",
        ms(encode),
        ms(compact)
    );
    println!(
        "state of {} resources, {} bytes; {writes} writes in {:.2} s: {:.0} writes/s; per write p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; read {:.2} ms; history kept {}",
        read.resources.len(),
        size,
        total.as_secs_f64(),
        writes as f64 / total.as_secs_f64(),
        ms(pct(50)),
        ms(pct(99)),
        ms(times.last().copied().unwrap_or_default()),
        ms(read_time),
        backend.history().map_or(0, |h| h.len()),
    );
    Ok(())
}
