//! Saved plans: written by `plan --out`, applied exactly by `apply FILE`, and refused when
//! their format is not this build's or the state moved on since they were made.

use crate::error::{DeployError, Problem};
use crate::load::Checked;
use mcpo_diagnostics::codes;
use mcpo_plan::Plan;
use mcpo_state::State;
use mcpo_state::crypt::Encryption;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Writes `plan` to `path`, owner-only: a saved plan holds variable values, sensitive ones
/// included. The plan goes to a new private file beside `path` that then replaces it, so
/// an existing file's permissions are never kept and a half-written plan never exists.
/// With `keys` (the workspace encrypts its state) the plan is sealed with them too.
pub fn write(path: &Path, plan: &Plan, keys: Option<&Encryption>) -> Result<(), Problem> {
    let text = serde_json::to_vec_pretty(plan)
        .map_err(|e| Problem::new(codes::E0632, format!("the plan cannot be encoded: {e}")))?;
    let text = match keys {
        Some(keys) => keys.seal(&text).map_err(|e| {
            Problem::new(codes::E0632, format!("the plan cannot be encrypted: {e}"))
        })?,
        None => text,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        f.write_all(&text)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(|e| {
        Problem::new(
            codes::E0632,
            format!(
                "cannot write the plan to `{}`: {}",
                path.display(),
                crate::files::io_reason(&e)
            ),
        )
        .usage()
    })
}

/// [`write`] with the keys of the workspace at `root` (sealed when it encrypts its state).
pub fn write_in(root: &Path, path: &Path, plan: &Plan) -> Result<(), DeployError> {
    let keys = crate::backend::keys(root)?;
    Ok(write(path, plan, keys.as_deref())?)
}

/// [`read`] with the keys of the workspace at `root`.
pub fn read_in(root: &Path, path: &Path) -> Result<Plan, DeployError> {
    let keys = crate::backend::keys(root)?;
    Ok(read(path, keys.as_deref())?)
}

/// Reads a plan saved by [`write`], opening it with `keys` if it was sealed; refuses
/// another format version, and a sealed plan no key given opens (E0515).
pub fn read(path: &Path, keys: Option<&Encryption>) -> Result<Plan, Problem> {
    let sealed = std::fs::read(path).map_err(|e| {
        Problem::new(
            codes::E0632,
            format!(
                "cannot read the plan `{}`: {}",
                path.display(),
                crate::files::io_reason(&e)
            ),
        )
        .usage()
    })?;
    let text = mcpo_state::codec::open(&sealed, keys).map_err(|e| {
        let err = mcpo_state::codec::open_error(e, &path.display().to_string(), |detail| {
            mcpo_state::StateError::Key {
                location: path.display().to_string(),
                reason: detail,
            }
        });
        Problem::new(err.code(), err.to_string())
    })?;
    let plan: Plan = serde_json::from_slice(&text).map_err(|e| {
        Problem::new(
            codes::E0632,
            format!(
                "`{}` is not a plan saved by `mcpoc plan --out`: {e}",
                path.display()
            ),
        )
        .help("save a plan with `mcpoc plan --out FILE`")
    })?;
    if plan.format_version != mcpo_plan::plan::PLAN_FORMAT_VERSION {
        return Err(Problem::new(
            codes::E0632,
            format!(
                "`{}` has plan format {}, this mcpoc reads format {}",
                path.display(),
                plan.format_version,
                mcpo_plan::plan::PLAN_FORMAT_VERSION
            ),
        )
        .help("make the plan again with this mcpoc: `mcpoc plan --out FILE`"));
    }
    Ok(plan)
}

/// Whether `plan` may still be applied to `state`: it was made from this very version of
/// the state (same lineage and serial). A plan made before anything was ever saved
/// (serial 0) fits any other unsaved state: both are the same empty state.
pub fn still_fits(plan: &Plan, state: &State) -> Result<(), Problem> {
    let unsaved = |serial: u64| serial == 0;
    if (unsaved(plan.serial) && unsaved(state.serial))
        || (plan.lineage == state.lineage && plan.serial == state.serial)
    {
        return Ok(());
    }
    let what = if unsaved(plan.serial) {
        format!(
            "the plan was made before anything was applied in this workspace; the state is now at serial {}",
            state.serial
        )
    } else if plan.lineage != state.lineage {
        format!(
            "the plan was made for another state (lineage {}; this workspace's state has lineage {})",
            plan.lineage, state.lineage
        )
    } else {
        format!(
            "the plan was made from state serial {}; the state is now at serial {}",
            plan.serial, state.serial
        )
    };
    Err(
        Problem::new(codes::E0631, format!("{what}; nothing was changed"))
            .help("make a new plan with `mcpoc plan --out FILE`, review it, and apply that"),
    )
}

/// The workspace a saved plan was made from: its sources (as embedded in the plan)
/// checked against the schemas pulled under `root`, and its variables' values.
pub fn workspace(
    root: &Path,
    plan: &Plan,
) -> Result<(Checked, BTreeMap<String, String>), DeployError> {
    let texts = plan
        .sources
        .iter()
        .map(|src| (src.name.clone(), src.text.clone()))
        .collect();
    let vars = plan
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), crate::vars::value_text(v)))
        .collect();
    Ok((crate::load::load_texts(root, texts)?, vars))
}
