//! Executor benchmarks on a twin (prints figures; not a timed test):
//!
//! (a) a generated 1,000-node DAG of Docker volumes, twin latency 20 ms ± 5: apply wall
//!     time divided by the critical-path time (the longest path, weighted by each node's
//!     measured duration), eager and with barrier waves;
//! (b) executor overhead per node at zero latency: a 1,000-node chain through the
//!     executor against the same 1,000 create calls made directly, state kept in memory
//!     and in the local state backend (atomic, fsynced, versioned);
//! (c) refresh of 1,000 existing resources (zero latency and 20 ms ± 5);
//! (d) a 1,000-node chain on a twin answering every call in 20 ms, state in the local
//!     backend: wall time against the critical path (1,000 x 20 ms), with the journal and
//!     with a whole-state rewrite per write (what the local backend did before its journal);
//! (e) N independent nodes at zero latency into the local backend, journal and whole
//!     writes, for `--wide N` (several: `--wide 1000 --wide 10000`); with `--pg`, also into
//!     the PostgreSQL backend (a throwaway cluster, as the tests start), its changes
//!     recorded as rows and with a whole-state write per step (what it did before).
//!
//! `cargo build --release -p mcpoc && cargo run --release -p mcpo-bench --bin exec_bench`
//! (uses `MCPOC`, else `target/release/mcpoc`, else `target/debug/mcpoc`; `--nodes N`;
//! `--only a,b,d,e` runs some parts: (c) comes with (a) and (b); `--pg` adds PostgreSQL
//! to (e)).

use mcpo_exec::{
    Action, ApplyOptions, Closures, Connections, Event, EventKind, RefreshOptions, Schedule, Step,
    Values, apply, refresh,
};
use mcpo_mcp::{CallOptions, ConnectOptions, Lifecycle, ServerSpec};
use mcpo_state::{Backend, Discard, LocalBackend, LockGuard, LockInfo, State, StateError};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn mcpoc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MCPOC") {
        return Some(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("mcpoc"))
        .find(|p| p.is_file())
}

/// A tiny deterministic generator (the graph is the same on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A layered random DAG: `n` nodes in about `layers` layers of random width; each node
/// depends on one node of the previous layer and up to two of any earlier layer.
fn graph(n: usize, layers: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = Rng(seed);
    let mut layer_of: Vec<usize> = (0..n).map(|_| rng.below(layers)).collect();
    layer_of.sort_unstable();
    let mut first_of_layer = vec![usize::MAX; layers + 1];
    for (i, &l) in layer_of.iter().enumerate() {
        if first_of_layer[l] == usize::MAX {
            first_of_layer[l] = i;
        }
    }
    let mut deps = vec![Vec::new(); n];
    for i in 0..n {
        let l = layer_of[i];
        if l == 0 || first_of_layer[l] == 0 {
            continue;
        }
        // One dependency in the previous non-empty layer keeps the depth.
        let start = first_of_layer[l];
        let prev_layer = layer_of[start - 1];
        let prev_start = first_of_layer[prev_layer];
        let mut ds = vec![prev_start + rng.below(start - prev_start)];
        for _ in 0..rng.below(3) {
            ds.push(rng.below(start));
        }
        ds.sort_unstable();
        ds.dedup();
        deps[i] = ds;
    }
    deps
}

fn address(i: usize) -> String {
    format!("d.volume.v{i}")
}

fn program(deps: &[Vec<usize>]) -> (Vec<Step>, Closures) {
    let mut eval = Closures::new();
    let mut steps = Vec::new();
    for (i, ds) in deps.iter().enumerate() {
        let parents: Vec<String> = ds.iter().map(|&d| address(d)).collect();
        let first = parents.first().cloned();
        eval.args(address(i), move |v: &Values| {
            let mut labels = serde_json::Map::new();
            if let Some(p) = &first {
                let id = mcpo_exec::get(v, p, "id")?;
                labels.insert("parent".into(), id.clone());
            }
            Ok(json!({ "name": format!("v{i}"), "labels": labels }))
        });
        steps.push(Step::new(address(i), Action::Create, "d", "volume").after(parents));
    }
    (steps, eval)
}

async fn connect(bin: &Path, flags: &[&str], limit: usize) -> Result<Connections, String> {
    let mut args = vec!["twin", "docker"];
    args.extend_from_slice(flags);
    let mut spec = ServerSpec::stdio("d", bin.display().to_string(), &args);
    spec.max_concurrency = Some(limit);
    let specs: BTreeMap<String, ServerSpec> = [("d".to_string(), spec)].into();
    let opts = ConnectOptions {
        lifecycle: Lifecycle::Initialize,
        ..ConnectOptions::default()
    };
    let conns = Connections::connect(&specs, ["d"], &opts).await;
    match conns.failures().values().next() {
        Some(e) => Err(e.to_string()),
        None => Ok(conns),
    }
}

/// The longest path, each node weighted by its measured duration.
fn critical_path(deps: &[Vec<usize>], durations: &[Duration]) -> (Duration, usize) {
    let mut best = vec![(Duration::ZERO, 0usize); deps.len()];
    for i in 0..deps.len() {
        let (d, len) = deps[i]
            .iter()
            .map(|&p| best[p])
            .max()
            .unwrap_or((Duration::ZERO, 0));
        best[i] = (d + durations[i], len + 1);
    }
    best.into_iter().max().unwrap_or_default()
}

fn durations(events: &[Event], n: usize) -> Vec<Duration> {
    let index: BTreeMap<String, usize> = (0..n).map(|i| (address(i), i)).collect();
    let mut out = vec![Duration::ZERO; n];
    for e in events {
        if let (EventKind::Done { elapsed, .. }, Some(&i)) = (&e.kind, index.get(&e.address)) {
            out[i] = *elapsed;
        }
    }
    out
}

fn depth(deps: &[Vec<usize>]) -> usize {
    critical_path(deps, &vec![Duration::from_millis(1); deps.len()]).1
}

async fn bench_dag(bin: &Path, n: usize, dir: &Path) -> Result<(), String> {
    let deps = graph(n, 25, 42);
    let (steps, eval) = program(&deps);
    let edges: usize = deps.iter().map(Vec::len).sum();
    println!(
        "(a) generated DAG: {n} nodes, {edges} edges, {} nodes on the longest path; twin --latency-ms 20,5; parallelism 256, server limit 256",
        depth(&deps)
    );
    let runs = [
        (Schedule::Eager, false),
        (Schedule::BarrierWaves, false),
        (Schedule::Eager, true),
        (Schedule::BarrierWaves, true),
    ];
    for (schedule, durable) in runs {
        let conns = connect(bin, &["--latency-ms", "20,5", "--seed", "1"], 256).await?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let opts = ApplyOptions {
            parallelism: 256,
            schedule,
            events: Some(tx),
            ..ApplyOptions::default()
        };
        let store: Arc<dyn Backend> = if durable {
            Arc::new(LocalBackend::new(dir.join(format!("a-{schedule:?}"))))
        } else {
            Arc::new(Discard)
        };
        let where_ = if durable {
            "state in the local backend (fsynced)"
        } else {
            "state in memory"
        };
        let t0 = Instant::now();
        let (state, summary) = apply(
            &steps,
            &eval,
            &conns,
            &conns.drivers(),
            State::new("b"),
            store,
            &opts,
        )
        .await;
        let wall = t0.elapsed();
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        if !summary.ok() {
            return Err(format!("apply failed: {:?}", summary.failed.first()));
        }
        let d = durations(&events, n);
        let (cp, len) = critical_path(&deps, &d);
        let nominal = Duration::from_millis(20) * len as u32;
        println!(
            "    {schedule:?}, {where_}: wall {:.0} ms; critical path (measured node durations) {:.0} ms over {len} nodes -> wall/CP = {:.3}; nominal CP ({len} x 20 ms) {:.0} ms -> wall/nominal = {:.3}; {} state writes for {} resources",
            wall.as_secs_f64() * 1e3,
            cp.as_secs_f64() * 1e3,
            wall.as_secs_f64() / cp.as_secs_f64(),
            nominal.as_secs_f64() * 1e3,
            wall.as_secs_f64() / nominal.as_secs_f64(),
            summary.state_writes,
            state.resources.len()
        );
        if schedule == Schedule::Eager && durable {
            // (c) at 20 ms: refresh everything this apply created.
            let mut state = state;
            let t0 = Instant::now();
            let report = refresh(
                &conns,
                &conns.drivers(),
                &mut state,
                &RefreshOptions::default(),
            )
            .await;
            println!(
                "(c) refresh of {} resources at 20 ms ± 5, 64 reads in flight: {:.0} ms ({} errors)",
                report.read,
                t0.elapsed().as_secs_f64() * 1e3,
                report.errors.len()
            );
            let opts = RefreshOptions {
                parallelism: 256,
                ..RefreshOptions::default()
            };
            let t0 = Instant::now();
            let report = refresh(&conns, &conns.drivers(), &mut state, &opts).await;
            println!(
                "    same with 256 reads in flight: {:.0} ms",
                t0.elapsed().as_secs_f64() * 1e3,
            );
            let _ = report;
        }
        conns.shutdown().await;
    }
    Ok(())
}

async fn bench_overhead(bin: &Path, n: usize, dir: &Path) -> Result<(), String> {
    println!(
        "(b) executor overhead per node, twin with zero latency, {n}-node chain (one call at a time)"
    );
    // Direct calls: the floor.
    let conns = connect(bin, &[], 16).await?;
    let conn = conns.get("d").map_err(|e| e.to_string())?;
    let _ = conn
        .call_tool("volume.list", json!({}), CallOptions::default())
        .await;
    let t0 = Instant::now();
    for i in 0..n {
        conn.call_tool(
            "volume.create",
            json!({ "name": format!("v{i}"), "labels": {} }),
            CallOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let direct = t0.elapsed();
    println!(
        "    direct create calls: {:.0} ms = {:.0} µs per call",
        direct.as_secs_f64() * 1e3,
        direct.as_secs_f64() * 1e6 / n as f64
    );
    conns.shutdown().await;
    let chain: Vec<Vec<usize>> = (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect();
    let (steps, eval) = program(&chain);
    for (label, store) in [
        ("state in memory", Arc::new(Discard) as Arc<dyn Backend>),
        (
            "state in the local backend (fsynced)",
            Arc::new(LocalBackend::new(dir.join("b"))) as Arc<dyn Backend>,
        ),
    ] {
        let conns = connect(bin, &[], 16).await?;
        let t0 = Instant::now();
        let (state, summary) = apply(
            &steps,
            &eval,
            &conns,
            &conns.drivers(),
            State::new("b"),
            store,
            &ApplyOptions::default(),
        )
        .await;
        let wall = t0.elapsed();
        if !summary.ok() {
            return Err(format!("apply failed: {:?}", summary.failed.first()));
        }
        println!(
            "    executor, {label}: {:.0} ms = {:.0} µs per node, overhead {:.0} µs per node over the direct call ({} state writes)",
            wall.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e6 / n as f64,
            (wall.as_secs_f64() - direct.as_secs_f64()) * 1e6 / n as f64,
            summary.state_writes
        );
        if label == "state in memory" {
            // (c) at zero latency.
            let mut state = state;
            let t0 = Instant::now();
            let report = refresh(
                &conns,
                &conns.drivers(),
                &mut state,
                &RefreshOptions::default(),
            )
            .await;
            println!(
                "(c) refresh of {} resources at zero latency: {:.0} ms",
                report.read,
                t0.elapsed().as_secs_f64() * 1e3
            );
        }
        conns.shutdown().await;
    }
    // Wide: n independent nodes.
    let wide: Vec<Vec<usize>> = vec![Vec::new(); n];
    let (steps, eval) = program(&wide);
    let conns = connect(bin, &[], 64).await?;
    let t0 = Instant::now();
    let store = Arc::new(LocalBackend::new(dir.join("b-wide")));
    let (_, summary) = apply(
        &steps,
        &eval,
        &conns,
        &conns.drivers(),
        State::new("b"),
        store,
        &ApplyOptions::default(),
    )
    .await;
    let wall = t0.elapsed();
    println!(
        "    {n} independent nodes, parallelism 64, local backend: {:.0} ms = {:.0} µs per node ({} state writes: group commit)",
        wall.as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e6 / n as f64,
        summary.state_writes
    );
    conns.shutdown().await;
    Ok(())
}

/// A backend without its changes: every write rewrites the whole state, as the local
/// backend did before it kept a journal (atomic, fsynced, versioned), and the PostgreSQL
/// backend before it recorded changes as rows.
struct WholeWrites<B>(B);

impl<B: Backend> Backend for WholeWrites<B> {
    fn location(&self) -> String {
        self.0.location()
    }
    fn read(&self) -> Result<State, StateError> {
        self.0.read()
    }
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        self.0.write(state)
    }
    fn lock(&self, info: LockInfo) -> Result<LockGuard, StateError> {
        self.0.lock(info)
    }
    fn history(&self) -> Result<Vec<u64>, StateError> {
        self.0.history()
    }
    fn read_version(&self, serial: u64) -> Result<State, StateError> {
        self.0.read_version(serial)
    }
    fn restore(&self, serial: u64) -> Result<State, StateError> {
        self.0.restore(serial)
    }
    fn start_fresh(&self) -> Result<Option<String>, StateError> {
        self.0.start_fresh()
    }
    fn adopt(&self, history: &[State], current: &State) -> Result<(), StateError> {
        self.0.adopt(history, current)
    }
}

/// The two ways of keeping the state on the local disk that (d) and (e) compare.
fn local_stores(dir: &Path, part: &str) -> [(&'static str, Arc<dyn Backend>); 2] {
    [
        (
            "local backend, journal",
            Arc::new(LocalBackend::new(dir.join(format!("{part}-journal")))),
        ),
        (
            "local backend, whole-state writes (before the journal)",
            Arc::new(WholeWrites(LocalBackend::new(
                dir.join(format!("{part}-whole")),
            ))),
        ),
    ]
}

async fn bench_chain_at_latency(bin: &Path, n: usize, dir: &Path) -> Result<(), String> {
    println!(
        "(d) {n}-node chain, twin --latency-ms 20 (every call 20 ms), critical path {n} x 20 ms = {} ms",
        n * 20
    );
    let chain: Vec<Vec<usize>> = (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect();
    let (steps, eval) = program(&chain);
    let nominal = Duration::from_millis(20) * n as u32;
    let memory: (&str, Arc<dyn Backend>) = ("state in memory", Arc::new(Discard));
    let [journal, whole] = local_stores(dir, "d");
    for (label, store) in [memory, journal, whole] {
        let conns = connect(bin, &["--latency-ms", "20"], 16).await?;
        let t0 = Instant::now();
        let (state, summary) = apply(
            &steps,
            &eval,
            &conns,
            &conns.drivers(),
            State::new("b"),
            store,
            &ApplyOptions::default(),
        )
        .await;
        let wall = t0.elapsed();
        if !summary.ok() {
            return Err(format!("apply failed: {:?}", summary.failed.first()));
        }
        println!(
            "    {label}: wall {:.0} ms -> wall/critical path = {:.3} ({} state writes, {} resources)",
            wall.as_secs_f64() * 1e3,
            wall.as_secs_f64() / nominal.as_secs_f64(),
            summary.state_writes,
            state.resources.len()
        );
        conns.shutdown().await;
    }
    Ok(())
}

async fn bench_wide(
    bin: &Path,
    sizes: &[usize],
    dir: &Path,
    pg: Option<&mcpo_test_support::pg::PgCluster>,
) -> Result<(), String> {
    println!("(e) independent nodes, twin with zero latency, parallelism 64, server limit 64");
    for &n in sizes {
        let wide: Vec<Vec<usize>> = vec![Vec::new(); n];
        let (steps, eval) = program(&wide);
        let mut stores: Vec<(&str, Arc<dyn Backend>)> = local_stores(dir, &format!("e{n}")).into();
        if let Some(pg) = pg {
            let connect = |name: String| {
                mcpo_state_pg::PgBackend::connect(&pg.url(), &name).map_err(|e| e.to_string())
            };
            stores.push((
                "PostgreSQL backend, changes as rows",
                Arc::new(connect(format!("e{n}-changes"))?),
            ));
            stores.push((
                "PostgreSQL backend, whole-state writes (before changes as rows)",
                Arc::new(WholeWrites(connect(format!("e{n}-whole"))?)),
            ));
        }
        for (label, store) in stores {
            let conns = connect(bin, &[], 64).await?;
            let opts = ApplyOptions {
                parallelism: 64,
                ..ApplyOptions::default()
            };
            let t0 = Instant::now();
            let (_, summary) = apply(
                &steps,
                &eval,
                &conns,
                &conns.drivers(),
                State::new("b"),
                store,
                &opts,
            )
            .await;
            let wall = t0.elapsed();
            if !summary.ok() {
                return Err(format!("apply failed: {:?}", summary.failed.first()));
            }
            println!(
                "    {n} nodes, {label}: {:.0} ms = {:.0} µs per node ({} state writes)",
                wall.as_secs_f64() * 1e3,
                wall.as_secs_f64() * 1e6 / n as f64,
                summary.state_writes
            );
            conns.shutdown().await;
        }
    }
    Ok(())
}

fn main() {
    let n = std::env::args()
        .skip_while(|a| a != "--nodes")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let Some(bin) = mcpoc() else {
        eprintln!("no mcpoc binary: build one with `cargo build --release -p mcpoc`");
        std::process::exit(2);
    };
    let Ok(dir) = tempdir() else {
        eprintln!("cannot create a temporary directory");
        std::process::exit(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let only: Option<String> = std::env::args().skip_while(|a| a != "--only").nth(1);
    let part = |p: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == p));
    let mut wide: Vec<usize> = std::env::args()
        .zip(std::env::args().skip(1))
        .filter(|(flag, _)| flag == "--wide")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    if wide.is_empty() {
        wide.push(n);
    }
    println!("twin binary: {}", bin.display());
    let result = runtime.block_on(async {
        if part("a") {
            bench_dag(&bin, n, &dir).await?;
        }
        if part("b") {
            bench_overhead(&bin, n, &dir).await?;
        }
        if part("d") {
            bench_chain_at_latency(&bin, n, &dir).await?;
        }
        if part("e") {
            let pg = if std::env::args().any(|a| a == "--pg") {
                Some(
                    mcpo_test_support::pg::PgCluster::start("exec_bench")
                        .ok_or("--pg: no PostgreSQL found (Debian's postgresql package)")?,
                )
            } else {
                None
            };
            bench_wide(&bin, &wide, &dir, pg.as_ref()).await?;
        }
        Ok::<(), String>(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn tempdir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mcpo-exec-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
