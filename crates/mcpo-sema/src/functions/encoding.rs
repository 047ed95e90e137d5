//! Encodings (base64, JSON, CSV, URL), hashes, bcrypt and uuid.

use super::{Args, number_text};
use crate::{Io, Val};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub(super) fn base64encode(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(STANDARD.encode(a.str(0)?)))
}

pub(super) fn base64decode(a: &Args, _: &dyn Io) -> Result<Val, String> {
    // Go's decoder skips line breaks (wrapped Base64, as PEM bodies are).
    let s: String = a
        .str(0)?
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect();
    let bytes = match STANDARD.decode(&s) {
        Ok(b) => b,
        Err(e) => {
            let why = e.to_string();
            return a.err(format!(
                "the argument is not valid Base64 ({})",
                why.trim_end_matches('.').to_lowercase()
            ));
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Val::String(text)),
        Err(_) => a.err("the decoded bytes are not UTF-8 text, and strings hold text only"),
    }
}

pub(super) fn base64gzip(a: &Args, _: &dyn Io) -> Result<Val, String> {
    use std::io::Write as _;
    let s = a.str(0)?;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let written = enc.write_all(s.as_bytes()).and_then(|()| enc.finish());
    match written {
        Ok(bytes) => Ok(Val::String(STANDARD.encode(bytes))),
        Err(e) => a.err(format!("compression failed: {e}")),
    }
}

pub(super) fn base64sha256(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(
        STANDARD.encode(sha2::Sha256::digest(a.str(0)?)),
    ))
}

/// Lower-case hexadecimal.
pub(super) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

pub(super) fn md5(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(hex(&md5::Md5::digest(a.str(0)?))))
}

pub(super) fn sha1(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(hex(&sha1::Sha1::digest(a.str(0)?))))
}

pub(super) fn sha256(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(hex(&sha2::Sha256::digest(a.str(0)?))))
}

pub(super) fn sha512(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(hex(&sha2::Sha512::digest(a.str(0)?))))
}

/// `bcrypt(string, cost = 10)`: a `$2a$` hash with a random salt.
pub(super) fn bcrypt(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let cost = match a.opt(1) {
        Some(_) => a.int(1)?,
        None => 10,
    };
    let Some(cost) = u32::try_from(cost).ok().filter(|c| (4..=31).contains(c)) else {
        return a.err(format!("the cost must be between 4 and 31, not {cost}"));
    };
    match ::bcrypt::hash_with_result(s.as_bytes(), cost) {
        Ok(parts) => Ok(Val::String(
            parts.format_for_version(::bcrypt::Version::TwoA),
        )),
        Err(e) => a.err(format!("hashing failed: {e}")),
    }
}

pub(super) fn uuid(_: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(::uuid::Uuid::new_v4().to_string()))
}

/// Go's `url.QueryEscape`: spaces become `+`, everything but `A-Za-z0-9-_.~` is
/// percent-encoded.
pub(super) fn urlencode(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Ok(Val::String(out))
}

pub(super) fn jsondecode(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    match serde_json::from_str::<serde_json::Value>(&s) {
        Ok(v) => Ok(Val::from_json(&v)),
        Err(e) => a.err(format!("the argument is not valid JSON: {e}")),
    }
}

pub(super) fn jsonencode(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut out = String::new();
    json_write(a.get(0), &mut out);
    Ok(Val::String(out))
}

/// A plain value as JSON the way Terraform's `jsonencode` writes it: compact, keys sorted,
/// `<`, `>` and `&` escaped.
pub(super) fn json_write(v: &Val, out: &mut String) {
    match v {
        Val::Null | Val::Unknown => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Number(n) if n.is_finite() => out.push_str(&number_text(*n)),
        Val::Number(_) => out.push_str("null"),
        Val::String(s) => json_string(s, true, out),
        Val::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_write(item, out);
            }
            out.push(']');
        }
        Val::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, true, out);
                out.push(':');
                json_write(item, out);
            }
            out.push('}');
        }
        Val::Sensitive(inner) => json_write(inner, out),
    }
}

/// A JSON string literal; `html` escapes `<`, `>` and `&` as Go's encoder does.
pub(super) fn json_string(s: &str, html: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `csvdecode(string)`: RFC 4180 CSV with a header line, as a list of maps.
pub(super) fn csvdecode(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let records = match parse_csv(&s) {
        Ok(r) => r,
        Err(e) => return a.err(e),
    };
    let mut rows = records.into_iter();
    let Some((_, header)) = rows.next() else {
        return a.err("the CSV has no header line");
    };
    let mut out = Vec::new();
    for (line, fields) in rows {
        if fields.len() != header.len() {
            return a.err(format!(
                "line {line} has {} fields, but the header line has {}",
                fields.len(),
                header.len()
            ));
        }
        let row: BTreeMap<String, Val> = header
            .iter()
            .cloned()
            .zip(fields.into_iter().map(Val::String))
            .collect();
        out.push(Val::Map(row));
    }
    Ok(Val::List(out))
}

/// Records with the line each starts on. Empty lines are skipped, as Go's reader does.
fn parse_csv(s: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut records = Vec::new();
    let mut chars = s.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        // Skip empty lines.
        if matches!(chars.peek(), Some('\n')) {
            chars.next();
            line += 1;
            continue;
        }
        if matches!(chars.peek(), Some('\r')) {
            chars.next();
            continue;
        }
        let start_line = line;
        let mut fields = Vec::new();
        loop {
            let mut field = String::new();
            if matches!(chars.peek(), Some('"')) {
                chars.next();
                let quote_line = line;
                loop {
                    match chars.next() {
                        Some('"') => {
                            if matches!(chars.peek(), Some('"')) {
                                chars.next();
                                field.push('"');
                            } else {
                                break;
                            }
                        }
                        Some('\n') => {
                            line += 1;
                            field.push('\n');
                        }
                        Some('\r') if matches!(chars.peek(), Some('\n')) => {}
                        Some(c) => field.push(c),
                        None => {
                            return Err(format!(
                                "the quoted field that starts on line {quote_line} never ends"
                            ));
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',' | '\n' | '\r') => {}
                    Some(c) => {
                        return Err(format!(
                            "line {line}: unexpected {c:?} after a quoted field"
                        ));
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if matches!(c, ',' | '\n') {
                        break;
                    }
                    if c == '\r' {
                        chars.next();
                        if matches!(chars.peek(), Some('\n') | None) {
                            break;
                        }
                        field.push('\r');
                        continue;
                    }
                    if c == '"' {
                        return Err(format!(
                            "line {line}: a quote inside a field that does not start with one"
                        ));
                    }
                    field.push(c);
                    chars.next();
                }
            }
            fields.push(field);
            match chars.next() {
                Some(',') => {}
                Some('\n') => {
                    line += 1;
                    break;
                }
                Some('\r') => {
                    if matches!(chars.peek(), Some('\n')) {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        records.push((start_line, fields));
    }
    Ok(records)
}
