//! The standard library: the patterns under `stdlib/` in the repository, the adapter
//! packages under `stdlib/adapters/` and the runbook packages under `stdlib/runbooks/`,
//! embedded at build time so that `source = "stdlib/<name>"` (and
//! `"stdlib/adapters/<package>"`, `"stdlib/runbooks/<name>"`) works in any directory.

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));

/// The names of the standard library's modules (`iot_edge`, `adapters/server-memory`),
/// sorted.
pub fn modules() -> Vec<&'static str> {
    let mut names: Vec<&str> = FILES
        .iter()
        .filter_map(|(path, _)| path.rsplit_once('/').map(|(m, _)| m))
        .collect();
    names.dedup();
    names
}

/// The files of module `name`: (file name, text), sorted by name.
pub fn files(name: &str) -> Vec<(&'static str, &'static str)> {
    FILES
        .iter()
        .filter_map(|(path, text)| {
            let (m, file) = path.rsplit_once('/')?;
            (m == name).then_some((file, *text))
        })
        .collect()
}
