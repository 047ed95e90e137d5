//! Module archives (`.tar.gz`, plain ustar entries) and content hashes.
//!
//! The archive holds a module's files by relative path, in path order, with fixed
//! owners and times, so that packing the same files gives the same bytes. Unpacking
//! refuses anything but regular files and directories, absolute paths and `..`.

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

/// A module's files: (relative path with `/`, bytes), sorted by path.
pub type Files = Vec<(String, Vec<u8>)>;

/// Archives larger than this (unpacked) are refused.
const MAX_UNPACKED: usize = 64 << 20;

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sha256:<hex>` of a module's content: every file's path and bytes, in path order.
pub fn content_hash(files: &[(String, Vec<u8>)]) -> String {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (path, bytes) in sorted {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Writes `value` in octal into `field`, zero-padded, NUL-terminated.
fn octal(field: &mut [u8], value: u64) {
    let width = field.len().saturating_sub(1);
    let text = format!("{value:0width$o}");
    for (dst, src) in field.iter_mut().zip(text.bytes()) {
        *dst = src;
    }
    if let Some(last) = field.last_mut() {
        *last = 0;
    }
}

/// The header field at `range` (every range below lies inside the 512-byte block).
fn field(h: &mut [u8; 512], range: std::ops::Range<usize>) -> &mut [u8] {
    h.get_mut(range).unwrap_or_default()
}

fn header(path: &str, size: u64) -> Result<[u8; 512], String> {
    let mut h = [0u8; 512];
    let name = path.as_bytes();
    if name.len() > 100 {
        return Err(format!(
            "`{path}`: paths in a module archive are at most 100 bytes"
        ));
    }
    field(&mut h, 0..name.len()).copy_from_slice(name);
    octal(field(&mut h, 100..108), 0o644);
    octal(field(&mut h, 108..116), 0);
    octal(field(&mut h, 116..124), 0);
    octal(field(&mut h, 124..136), size);
    octal(field(&mut h, 136..148), 0);
    field(&mut h, 156..157).copy_from_slice(b"0");
    field(&mut h, 257..263).copy_from_slice(b"ustar\0");
    field(&mut h, 263..265).copy_from_slice(b"00");
    // The checksum is computed with its own field as spaces.
    field(&mut h, 148..156).copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    octal(field(&mut h, 148..155), sum);
    field(&mut h, 155..156).copy_from_slice(b" ");
    Ok(h)
}

/// Packs `files` as a `.tar.gz`.
pub fn pack(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tar = Vec::new();
    for (path, bytes) in sorted {
        tar.extend_from_slice(&header(path, bytes.len() as u64)?);
        tar.extend_from_slice(bytes);
        let pad = (512 - bytes.len() % 512) % 512;
        tar.extend(std::iter::repeat_n(0u8, pad));
    }
    tar.extend(std::iter::repeat_n(0u8, 1024));
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&tar).map_err(|e| e.to_string())?;
    gz.finish().map_err(|e| e.to_string())
}

fn field_str(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(field.get(..end).unwrap_or(&[])).into_owned()
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let s = field_str(field);
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// Whether a path from an archive may be written under a module directory.
fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Unpacks a `.tar.gz` made by [`pack`] (or by `tar czf`): its regular files.
pub fn unpack(bytes: &[u8]) -> Result<Files, String> {
    let mut tar = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_UNPACKED as u64 + 1)
        .read_to_end(&mut tar)
        .map_err(|e| format!("not a gzip archive: {e}"))?;
    if tar.len() > MAX_UNPACKED {
        return Err(format!(
            "the archive unpacks to more than {MAX_UNPACKED} bytes"
        ));
    }
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(h) = tar.get(at..at + 512) {
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let stored = parse_octal(h.get(148..156).unwrap_or(&[])).ok_or("a damaged header")?;
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*b)
                }
            })
            .sum();
        if stored != sum {
            return Err("a header's checksum is wrong: the archive is damaged".into());
        }
        let size = parse_octal(h.get(124..136).unwrap_or(&[])).ok_or("a damaged header")? as usize;
        let mut name = field_str(h.get(..100).unwrap_or(&[]));
        let prefix = field_str(h.get(345..500).unwrap_or(&[]));
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        let kind = h.get(156).copied().unwrap_or(0);
        let data_at = at + 512;
        let data = tar
            .get(data_at..data_at + size)
            .ok_or("the archive is truncated")?;
        match kind {
            b'0' | 0 => {
                let name = name.trim_start_matches("./").to_string();
                if !safe_path(&name) {
                    return Err(format!("the archive holds an unsafe path `{name}`"));
                }
                out.push((name, data.to_vec()));
            }
            b'5' => {}
            other => {
                return Err(format!(
                    "the archive holds `{name}`, which is not a regular file (type {})",
                    char::from(other)
                ));
            }
        }
        at = data_at + size.div_ceil(512) * 512;
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Reads the files of a module directory (recursively, without `.git`), sorted.
pub fn read_dir(dir: &std::path::Path) -> Result<Files, String> {
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut Files) -> Result<(), String> {
        let rd = std::fs::read_dir(dir).map_err(|e| {
            format!(
                "cannot read `{}`: {}",
                dir.display(),
                crate::load::reason(&e)
            )
        })?;
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name == ".git" {
                continue;
            }
            let ty = e.file_type().map_err(|e| e.to_string())?;
            if ty.is_dir() {
                walk(base, &p, out)?;
            } else if ty.is_file() {
                let rel = p
                    .strip_prefix(base)
                    .map(|r| r.to_string_lossy().replace('\\', "/"))
                    .unwrap_or(name);
                let bytes = std::fs::read(&p).map_err(|e| {
                    format!("cannot read `{}`: {}", p.display(), crate::load::reason(&e))
                })?;
                out.push((rel, bytes));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Writes `files` into `dir` (created; emptied first).
pub fn write_dir(dir: &std::path::Path, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    for (path, bytes) in files {
        if !safe_path(path) {
            return Err(format!("unsafe path `{path}`"));
        }
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                format!(
                    "cannot create `{}`: {}",
                    parent.display(),
                    crate::load::reason(&e)
                )
            })?;
        }
        std::fs::write(&p, bytes).map_err(|e| {
            format!(
                "cannot write `{}`: {}",
                p.display(),
                crate::load::reason(&e)
            )
        })?;
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks_the_same_files() {
        let files = vec![
            ("main.mcpo".to_string(), b"pattern \"x\" {}\n".to_vec()),
            ("mcpo.toml".to_string(), vec![b'a'; 700]),
            ("sub/more.mcpo".to_string(), Vec::new()),
        ];
        let packed = pack(&files).expect("packs");
        assert_eq!(pack(&files).expect("packs"), packed, "deterministic");
        assert_eq!(unpack(&packed).expect("unpacks"), files);
        assert_eq!(
            content_hash(&files),
            content_hash(&unpack(&packed).expect("unpacks"))
        );
    }

    #[test]
    fn refuses_damage_and_unsafe_paths() {
        assert!(unpack(b"not gzip").is_err());
        let evil = vec![("../escape".to_string(), b"x".to_vec())];
        let packed = pack(&evil).expect("packs");
        assert!(unpack(&packed).is_err_and(|e| e.contains("unsafe path")));
        let files = vec![("a".to_string(), b"1".to_vec())];
        let other = vec![("a".to_string(), b"2".to_vec())];
        assert_ne!(content_hash(&files), content_hash(&other));
    }
}
