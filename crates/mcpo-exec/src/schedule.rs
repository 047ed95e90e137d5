//! Eager scheduling of a DAG: a node starts the moment all its dependencies are done,
//! at most `parallelism` at a time, the ready node with the longest path ahead first.
//! A failed node's dependents are skipped (transitively); the others go on. A fatal
//! failure (the state cannot be saved) stops starting nodes. Barrier waves exist only to
//! measure what eager scheduling gains.

use crate::ExecError;
use crate::events::{EventKind, Events};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use mcpo_diagnostics::codes;
use std::collections::BinaryHeap;

/// The edges of a DAG by index: for each node, the indices of the named nodes it depends
/// on (names not among `names` are not edges).
pub fn edges<'a>(names: &[String], deps: impl Iterator<Item = &'a [String]>) -> Vec<Vec<usize>> {
    let index: std::collections::BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    deps.map(|ds| {
        ds.iter()
            .filter_map(|d| index.get(d.as_str()).copied())
            .collect()
    })
    .collect()
}

/// How nodes are released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// A node starts as soon as its dependencies are done.
    #[default]
    Eager,
    /// Wave by wave: a node of wave k+1 waits for every node of wave k (the way older
    /// tools run; only for comparison in benchmarks).
    BarrierWaves,
}

/// What became of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Never started (the run stopped, or the node is in a dependency cycle).
    NotStarted,
    /// Done.
    Done,
    /// Failed.
    Failed(ExecError),
    /// Not run because the node at this index failed.
    Skipped(usize),
}

/// Runs `step(i)` for every node `i` of the DAG given by `deps` (indices of nodes that must
/// be done first) and returns each node's outcome. Once `cancel` is cancelled no node
/// starts; the nodes running finish.
pub(crate) async fn run<F, Fut>(
    addresses: &[String],
    deps: &[Vec<usize>],
    parallelism: usize,
    schedule: Schedule,
    events: &Events,
    cancel: &tokio_util::sync::CancellationToken,
    mut step: F,
) -> Vec<Outcome>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), ExecError>>,
{
    let n = addresses.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = vec![0; n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            if d < n && d != i {
                if let Some(v) = dependents.get_mut(d) {
                    v.push(i);
                }
                if let Some(w) = waiting.get_mut(i) {
                    *w += 1;
                }
            }
        }
    }
    let order = topological(&dependents, &waiting);
    // Height: the number of nodes on the longest path from a node to a sink.
    let mut height = vec![1usize; n];
    for &i in order.iter().rev() {
        let h = dependents
            .get(i)
            .into_iter()
            .flatten()
            .filter_map(|&d| height.get(d))
            .max()
            .map_or(1, |m| m + 1);
        if let Some(slot) = height.get_mut(i) {
            *slot = h;
        }
    }
    // Wave: 0 for nodes without dependencies, else one more than the deepest dependency.
    let mut wave = vec![0usize; n];
    for &i in &order {
        let w = wave.get(i).copied().unwrap_or(0);
        for &d in dependents.get(i).into_iter().flatten() {
            if let Some(slot) = wave.get_mut(d) {
                *slot = (*slot).max(w + 1);
            }
        }
    }
    let mut left_in_wave: Vec<usize> = Vec::new();
    for &w in &wave {
        if left_in_wave.len() <= w {
            left_in_wave.resize(w + 1, 0);
        }
        if let Some(c) = left_in_wave.get_mut(w) {
            *c += 1;
        }
    }
    let mut current_wave = 0usize;

    let mut outcome = vec![Outcome::NotStarted; n];
    // Ready nodes by (height, earliest index first).
    let mut ready: BinaryHeap<(usize, std::cmp::Reverse<usize>)> = BinaryHeap::new();
    let mut held: Vec<usize> = Vec::new();
    for (i, &w) in waiting.iter().enumerate() {
        if w == 0 {
            ready.push((height.get(i).copied().unwrap_or(1), std::cmp::Reverse(i)));
        }
    }
    let parallelism = parallelism.max(1);
    let mut running = FuturesUnordered::new();
    let mut stopped = false;
    loop {
        while !stopped && !cancel.is_cancelled() && running.len() < parallelism {
            let Some((_, std::cmp::Reverse(i))) = ready.pop() else {
                break;
            };
            if schedule == Schedule::BarrierWaves
                && wave.get(i).copied().unwrap_or(0) > current_wave
            {
                held.push(i);
                continue;
            }
            let fut = step(i);
            running.push(async move { (i, fut.await) });
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        let mut finished = vec![i];
        match result {
            Ok(()) => {
                if let Some(o) = outcome.get_mut(i) {
                    *o = Outcome::Done;
                }
                for &d in dependents.get(i).into_iter().flatten() {
                    if let Some(w) = waiting.get_mut(d) {
                        *w -= 1;
                        if *w == 0 && matches!(outcome.get(d), Some(Outcome::NotStarted)) {
                            ready.push((height.get(d).copied().unwrap_or(1), std::cmp::Reverse(d)));
                        }
                    }
                }
            }
            Err(e) => {
                if e.code == codes::E0609 {
                    stopped = true;
                }
                if let Some(o) = outcome.get_mut(i) {
                    *o = Outcome::Failed(e);
                }
                // Skip everything downstream.
                let mut stack: Vec<usize> = dependents.get(i).cloned().unwrap_or_default();
                while let Some(d) = stack.pop() {
                    if let Some(o) = outcome.get_mut(d)
                        && *o == Outcome::NotStarted
                    {
                        *o = Outcome::Skipped(i);
                        finished.push(d);
                        let failed = addresses.get(i).cloned().unwrap_or_default();
                        if let Some(a) = addresses.get(d) {
                            events.send(a, EventKind::Skipped { because: failed });
                        }
                        stack.extend(dependents.get(d).into_iter().flatten().copied());
                    }
                }
            }
        }
        if schedule == Schedule::BarrierWaves {
            for f in finished {
                if let Some(c) = wave.get(f).and_then(|&w| left_in_wave.get_mut(w)) {
                    *c = c.saturating_sub(1);
                }
            }
            while left_in_wave.get(current_wave) == Some(&0) {
                current_wave += 1;
            }
            for h in std::mem::take(&mut held) {
                ready.push((height.get(h).copied().unwrap_or(1), std::cmp::Reverse(h)));
            }
        }
    }
    // Nodes in a cycle never became ready.
    if order.len() < n && !stopped {
        for (i, o) in outcome.iter_mut().enumerate() {
            if *o == Outcome::NotStarted {
                let a = addresses.get(i).cloned().unwrap_or_default();
                *o = Outcome::Failed(
                    ExecError::new(codes::E0606, "not run: it is part of a dependency cycle").at(a),
                );
            }
        }
    }
    outcome
}

/// Kahn's order of the nodes that are not in a cycle.
fn topological(dependents: &[Vec<usize>], waiting: &[usize]) -> Vec<usize> {
    let mut left = waiting.to_vec();
    let mut order: Vec<usize> = (0..left.len())
        .filter(|&i| left.get(i) == Some(&0))
        .collect();
    let mut k = 0;
    while let Some(&i) = order.get(k) {
        k += 1;
        for &d in dependents.get(i).into_iter().flatten() {
            if let Some(w) = left.get_mut(d) {
                *w -= 1;
                if *w == 0 {
                    order.push(d);
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    /// A diamond where the left branch is slow: the right branch's child starts without
    /// waiting for the slow node, and a failed node skips only its dependents.
    #[tokio::test]
    async fn eager_and_skips_only_dependents() {
        // 0 -> 1 (slow), 0 -> 2 (fast) -> 3; 1 -> 4; 4 fails? no: 2 fails -> 3 skipped.
        let deps = vec![vec![], vec![0], vec![0], vec![2], vec![1]];
        let started = Mutex::new(vec![None; 5]);
        let t0 = Instant::now();
        let out = run(
            &names(5),
            &deps,
            8,
            Schedule::Eager,
            &Events::default(),
            &tokio_util::sync::CancellationToken::new(),
            |i| {
                if let Ok(mut s) = started.lock()
                    && let Some(slot) = s.get_mut(i)
                {
                    *slot = Some(t0.elapsed());
                }
                async move {
                    let ms = if i == 1 { 200 } else { 10 };
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    if i == 2 {
                        Err(ExecError::new(codes::E0600, "boom"))
                    } else {
                        Ok(())
                    }
                }
            },
        )
        .await;
        assert_eq!(out.first(), Some(&Outcome::Done));
        assert!(matches!(out.get(2), Some(Outcome::Failed(_))));
        assert_eq!(out.get(3), Some(&Outcome::Skipped(2)));
        assert_eq!(out.get(4), Some(&Outcome::Done));
        let s = started.lock().map(|s| s.clone()).unwrap_or_default();
        // Node 2 started right after node 0, long before slow node 1 ended.
        assert!(
            s.get(2)
                .copied()
                .flatten()
                .is_some_and(|t| t < Duration::from_millis(100))
        );
    }

    #[tokio::test]
    async fn barrier_waves_wait_for_the_whole_wave() {
        // 0 (slow) and 1 (fast) in wave 0; 2 depends on 1 only.
        let deps = vec![vec![], vec![], vec![1]];
        let t0 = Instant::now();
        let started = Mutex::new(Duration::ZERO);
        run(
            &names(3),
            &deps,
            8,
            Schedule::BarrierWaves,
            &Events::default(),
            &tokio_util::sync::CancellationToken::new(),
            |i| {
                if i == 2
                    && let Ok(mut s) = started.lock()
                {
                    *s = t0.elapsed();
                }
                async move {
                    let ms = if i == 0 { 150 } else { 5 };
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(())
                }
            },
        )
        .await;
        let s = started.lock().map(|s| *s).unwrap_or_default();
        assert!(s >= Duration::from_millis(150), "{s:?}");
    }
}
