//! Files, paths and the environment, all through [`Io`].

use super::Args;
use super::encoding::hex;
use crate::{Io, Val};
use base64::Engine as _;
use sha2::Digest as _;

pub(super) fn file(a: &Args, io: &dyn Io) -> Result<Val, String> {
    let path = a.str(0)?;
    match io.read_file(&path) {
        Ok(text) => Ok(Val::String(text)),
        Err(e) => a.err(format!("cannot read {path:?}: {e}")),
    }
}

fn bytes(a: &Args, io: &dyn Io) -> Result<Vec<u8>, String> {
    let path = a.str(0)?;
    io.read_bytes(&path)
        .or_else(|e| a.err(format!("cannot read {path:?}: {e}")))
}

pub(super) fn filebase64(a: &Args, io: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(
        base64::engine::general_purpose::STANDARD.encode(bytes(a, io)?),
    ))
}

pub(super) fn filesha256(a: &Args, io: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(hex(&sha2::Sha256::digest(bytes(a, io)?))))
}

/// Whether the file can be read (the [`Io`] trait does not tell a missing file from an
/// unreadable one).
pub(super) fn fileexists(a: &Args, io: &dyn Io) -> Result<Val, String> {
    let path = a.str(0)?;
    Ok(Val::Bool(io.read_bytes(&path).is_ok()))
}

/// `env(name, default)`: an environment variable; the default when it is not set.
pub(super) fn env(a: &Args, io: &dyn Io) -> Result<Val, String> {
    let name = a.str(0)?;
    match (io.env(&name), a.opt(1)) {
        (Some(v), _) => Ok(Val::String(v)),
        (None, Some(_)) => Ok(Val::String(a.str(1)?)),
        (None, None) => a.err(format!(
            "the environment variable {name} is not set; set it, or give a default: \
             env(\"{name}\", \"...\")"
        )),
    }
}

/// `abspath(path)`: relative paths are taken from the current directory, which comes
/// from the environment (`PWD`) since the function library does no I/O of its own.
pub(super) fn abspath(a: &Args, io: &dyn Io) -> Result<Val, String> {
    let path = a.str(0)?.replace('\\', "/");
    if path.starts_with('/') {
        return Ok(Val::String(clean(&path)));
    }
    match io.env("PWD") {
        Some(cwd) if cwd.starts_with('/') => Ok(Val::String(clean(&format!("{cwd}/{path}")))),
        _ => a.err("the current directory is not known (PWD is not set)"),
    }
}

/// `pathexpand(path)`: a leading `~` becomes the home directory (`HOME`).
pub(super) fn pathexpand(a: &Args, io: &dyn Io) -> Result<Val, String> {
    let path = a.str(0)?;
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(Val::String(path));
    };
    if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\')) {
        return a.err(format!(
            "cannot expand {path:?}: only ~ (the current user's home) is supported, not ~user"
        ));
    }
    match io.env("HOME") {
        Some(home) => Ok(Val::String(format!("{home}{rest}"))),
        None => a.err("the home directory is not known (HOME is not set)"),
    }
}

/// Go's `filepath.Base`.
pub(super) fn basename(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let path = a.str(0)?;
    if path.is_empty() {
        return Ok(Val::String(".".to_string()));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Val::String("/".to_string()));
    }
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    Ok(Val::String(base.to_string()))
}

/// Go's `filepath.Dir`.
pub(super) fn dirname(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let path = a.str(0)?;
    let dir = match path.rfind('/') {
        Some(i) => path.get(..=i).unwrap_or(""),
        None => "",
    };
    Ok(Val::String(clean(dir)))
}

/// Go's `path.Clean`: no repeated separators, no `.`, `..` resolved lexically.
pub(super) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}
