//! String functions: case, trimming, splitting and joining, substrings, regexes.

use super::{Args, primitive_text};
use crate::{Io, Val};
use std::collections::BTreeMap;
use unicode_segmentation::UnicodeSegmentation;

pub(super) fn chomp(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    Ok(Val::String(s.trim_end_matches(['\r', '\n']).to_string()))
}

pub(super) fn endswith(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::Bool(a.str(0)?.ends_with(a.str(1)?.as_str())))
}

pub(super) fn startswith(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::Bool(a.str(0)?.starts_with(a.str(1)?.as_str())))
}

pub(super) fn indent(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let n = a.int(0)?;
    let s = a.str(1)?;
    let Ok(n) = usize::try_from(n) else {
        return a.err("the number of spaces must not be negative");
    };
    if n > 10_000 {
        return a.err(format!("{n} spaces is more than the 10000 allowed"));
    }
    let pad = " ".repeat(n);
    Ok(Val::String(s.replace('\n', &format!("\n{pad}"))))
}

pub(super) fn join(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let sep = a.str(0)?;
    let mut parts: Vec<String> = Vec::new();
    for i in 1..a.len() {
        let items = a.list(i)?;
        for (j, item) in items.iter().enumerate() {
            match primitive_text(item) {
                Some(s) => parts.push(s),
                None if matches!(item, Val::Null) => {
                    return a.err(format!("element {j} of {} is null", Args::which(i)));
                }
                None => {
                    return a.err(format!(
                        "element {j} of {} is {}, not a string",
                        Args::which(i),
                        super::article(item.kind_name())
                    ));
                }
            }
        }
    }
    Ok(Val::String(parts.join(&sep)))
}

pub(super) fn lower(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(a.str(0)?.to_lowercase()))
}

pub(super) fn upper(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(a.str(0)?.to_uppercase()))
}

/// Go's `strings.Title`: the first letter of every word upper-cased.
pub(super) fn title(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if is_separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    Ok(Val::String(out))
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

pub(super) fn replace(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let search = a.str(1)?;
    let with = a.str(2)?;
    if let Some(pattern) = regex_literal(&search) {
        let re = compile(a, pattern)?;
        return Ok(Val::String(re.replace_all(&s, with.as_str()).into_owned()));
    }
    if search.is_empty() {
        // Go's strings.Replace with an empty old string inserts at every rune boundary.
        let mut out = String::new();
        out.push_str(&with);
        for c in s.chars() {
            out.push(c);
            out.push_str(&with);
        }
        return Ok(Val::String(out));
    }
    Ok(Val::String(s.replace(&search, &with)))
}

/// The pattern of `/pattern/` (Terraform's `replace` treats such a search as a regex).
fn regex_literal(s: &str) -> Option<&str> {
    if s.len() > 1 {
        s.strip_prefix('/')?.strip_suffix('/')
    } else {
        None
    }
}

fn compile(a: &Args, pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 22)
        .build()
        .or_else(|e| a.err(format!("invalid regular expression {pattern:?}: {e}")))
}

pub(super) fn split(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let sep = a.str(0)?;
    let s = a.str(1)?;
    let parts: Vec<Val> = if sep.is_empty() {
        // Go's strings.Split with an empty separator splits into characters.
        s.chars().map(|c| Val::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str())
            .map(|p| Val::String(p.to_string()))
            .collect()
    };
    Ok(Val::List(parts))
}

pub(super) fn strrev(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    Ok(Val::String(s.graphemes(true).rev().collect()))
}

/// `substr(string, offset, length)`, counting user-perceived characters: a negative
/// offset counts from the end, a negative length (-1) takes the rest, ranges past the end are cut.
pub(super) fn substr(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let offset = a.int(1)?;
    let length = a.int(2)?;
    let chars: Vec<&str> = s.graphemes(true).collect();
    let total = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let start = if offset < 0 {
        (total + offset).max(0)
    } else {
        offset.min(total)
    };
    let end = if length < 0 {
        total
    } else {
        start.saturating_add(length).min(total)
    };
    let start = usize::try_from(start).unwrap_or(0);
    let end = usize::try_from(end).unwrap_or(0);
    Ok(Val::String(
        chars.get(start..end).unwrap_or_default().concat(),
    ))
}

pub(super) fn trim(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let cut = a.str(1)?;
    let set: Vec<char> = cut.chars().collect();
    Ok(Val::String(s.trim_matches(set.as_slice()).to_string()))
}

pub(super) fn trimprefix(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let p = a.str(1)?;
    Ok(Val::String(
        s.strip_prefix(p.as_str()).unwrap_or(&s).to_string(),
    ))
}

pub(super) fn trimsuffix(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let p = a.str(1)?;
    Ok(Val::String(
        s.strip_suffix(p.as_str()).unwrap_or(&s).to_string(),
    ))
}

pub(super) fn trimspace(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::String(a.str(0)?.trim().to_string()))
}

/// `regex(pattern, string)`: the first match; its shape depends on the pattern's capture
/// groups (none: the matched text; unnamed: a list; named: a map).
pub(super) fn regex(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let pattern = a.str(0)?;
    let s = a.str(1)?;
    let re = compile(a, &pattern)?;
    check_groups(a, &re)?;
    match re.captures(&s) {
        Some(caps) => Ok(match_value(&re, &caps)),
        None => a.err(format!(
            "the pattern {pattern:?} did not match any part of {s:?}"
        )),
    }
}

/// `regexall(pattern, string)`: every match, each shaped as `regex` shapes one.
pub(super) fn regexall(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let pattern = a.str(0)?;
    let s = a.str(1)?;
    let re = compile(a, &pattern)?;
    check_groups(a, &re)?;
    Ok(Val::List(
        re.captures_iter(&s)
            .map(|caps| match_value(&re, &caps))
            .collect(),
    ))
}

fn check_groups(a: &Args, re: &regex::Regex) -> Result<(), String> {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    let named = names.iter().filter(|n| n.is_some()).count();
    if named > 0 && named < names.len() {
        return a.err("the pattern has both named and unnamed capture groups; use one kind");
    }
    Ok(())
}

fn match_value(re: &regex::Regex, caps: &regex::Captures<'_>) -> Val {
    let group = |i: usize| {
        caps.get(i)
            .map_or(Val::Null, |m| Val::String(m.as_str().to_string()))
    };
    let names: Vec<Option<&str>> = re.capture_names().collect();
    if names.len() <= 1 {
        return group(0);
    }
    if names.iter().skip(1).all(Option::is_some) {
        let mut out = BTreeMap::new();
        for (i, name) in names.iter().enumerate().skip(1) {
            if let Some(name) = name {
                out.insert((*name).to_string(), group(i));
            }
        }
        return Val::Map(out);
    }
    Val::List((1..names.len()).map(group).collect())
}
