//! Collection functions (lists, sets, maps), type conversions and the sensitivity marks.

use super::{Args, article, mark_if, number_text, parse_number, primitive_text, unmark_deep};
use crate::{Io, Val};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use unicode_segmentation::UnicodeSegmentation;

pub(super) fn alltrue(a: &Args, _: &dyn Io) -> Result<Val, String> {
    for (i, item) in a.list(0)?.iter().enumerate() {
        match truth(a, i, item)? {
            Some(true) => {}
            Some(false) | None => return Ok(Val::Bool(false)),
        }
    }
    Ok(Val::Bool(true))
}

pub(super) fn anytrue(a: &Args, _: &dyn Io) -> Result<Val, String> {
    for (i, item) in a.list(0)?.iter().enumerate() {
        if truth(a, i, item)? == Some(true) {
            return Ok(Val::Bool(true));
        }
    }
    Ok(Val::Bool(false))
}

/// A list element as a bool (`"true"`/`"false"` convert; null is `None`).
fn truth(a: &Args, i: usize, v: &Val) -> Result<Option<bool>, String> {
    match v {
        Val::Bool(b) => Ok(Some(*b)),
        Val::String(s) if s == "true" => Ok(Some(true)),
        Val::String(s) if s == "false" => Ok(Some(false)),
        Val::Null => Ok(None),
        other => a.err(format!(
            "element {i} is {}, not a bool",
            article(other.kind_name())
        )),
    }
}

pub(super) fn chunklist(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let items = a.list(0)?;
    let size = a.int(1)?;
    let Ok(size) = usize::try_from(size) else {
        return a.err(format!("the chunk size must not be negative, not {size}"));
    };
    if items.is_empty() {
        return Ok(Val::List(Vec::new()));
    }
    if size == 0 {
        return Ok(Val::List(vec![Val::List(items.to_vec())]));
    }
    Ok(Val::List(
        items.chunks(size).map(|c| Val::List(c.to_vec())).collect(),
    ))
}

/// The first argument that is neither null nor an empty string. An unknown argument
/// before it makes the result unknown (it might have been the one). As in Terraform the
/// arguments share one type: when strings mix with numbers or bools, the result is a
/// string.
pub(super) fn coalesce(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let sensitive = a.vals.iter().any(|v| matches!(v, Val::Sensitive(_)));
    let any_string = a
        .vals
        .iter()
        .any(|v| matches!(v.unmarked(), Val::String(_)));
    for v in &a.vals {
        match v.unmarked() {
            Val::Unknown => return Ok(mark_if(Val::Unknown, sensitive)),
            Val::Null => {}
            Val::String(s) if s.is_empty() => {}
            other => {
                let result = match primitive_text(other) {
                    Some(s) if any_string => Val::String(s),
                    _ => other.clone(),
                };
                return Ok(mark_if(result, sensitive));
            }
        }
    }
    a.err("every argument is null or an empty string")
}

/// The first argument that is a non-empty list.
pub(super) fn coalescelist(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let sensitive = a.vals.iter().any(|v| matches!(v, Val::Sensitive(_)));
    for (i, v) in a.vals.iter().enumerate() {
        match v.unmarked() {
            Val::Unknown => return Ok(mark_if(Val::Unknown, sensitive)),
            Val::Null => {}
            Val::List(items) if items.is_empty() => {}
            l @ Val::List(_) => return Ok(mark_if(l.clone(), sensitive)),
            other => {
                return a.err(format!(
                    "{} must be a list, not {}",
                    Args::which(i),
                    article(other.kind_name())
                ));
            }
        }
    }
    a.err("every argument is null or an empty list")
}

/// The list without null and empty-string elements.
pub(super) fn compact(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut out = Vec::new();
    for (i, item) in a.list(0)?.iter().enumerate() {
        let sensitive = matches!(item, Val::Sensitive(_));
        match item.unmarked() {
            // Whether an unknown element is empty is not known: neither is the result.
            Val::Unknown => return Ok(Val::Unknown),
            Val::Null => {}
            Val::String(s) if s.is_empty() => {}
            other => match primitive_text(other) {
                Some(s) => out.push(mark_if(Val::String(s), sensitive)),
                None => {
                    return a.err(format!(
                        "element {i} is {}, not a string",
                        article(other.kind_name())
                    ));
                }
            },
        }
    }
    Ok(Val::List(out))
}

pub(super) fn concat(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut out = Vec::new();
    for i in 0..a.len() {
        out.extend(a.list(i)?.iter().cloned());
    }
    Ok(Val::List(out))
}

pub(super) fn contains(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let items = a.list(0)?;
    let wanted = a.get(1);
    Ok(Val::Bool(items.iter().any(|v| same(v, wanted))))
}

pub(super) fn index(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let items = a.list(0)?;
    let wanted = a.get(1);
    match items.iter().position(|v| same(v, wanted)) {
        Some(i) => Ok(Val::Number(count(i))),
        None => a.err(format!("{} is not in the list", wanted.display())),
    }
}

/// Equality of plain values (numbers by value).
fn same(a: &Val, b: &Val) -> bool {
    a == b
}

fn count(n: usize) -> f64 {
    // Lists are far smaller than 2^53 elements.
    u32::try_from(n).map_or(f64::MAX, f64::from)
}

pub(super) fn distinct(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut out: Vec<Val> = Vec::new();
    for item in a.list(0)? {
        if !out.iter().any(|seen| same(seen, item)) {
            out.push(item.clone());
        }
    }
    Ok(Val::List(out))
}

/// `element(list, index)`: the index wraps around, in both directions.
pub(super) fn element(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let items = a.list(0)?;
    let i = a.int(1)?;
    if items.is_empty() {
        return a.err("cannot take an element of an empty list");
    }
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let at = usize::try_from(i.rem_euclid(len)).unwrap_or(0);
    Ok(items.get(at).cloned().unwrap_or(Val::Null))
}

/// Nested lists flattened into one, at every depth.
pub(super) fn flatten(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut out = Vec::new();
    if flatten_into(a.list(0)?, false, &mut out, 0) {
        Ok(Val::List(out))
    } else {
        Ok(Val::Unknown)
    }
}

/// Appends the flattened `items` to `out`; false when an unknown element makes the shape
/// of the result unknown.
fn flatten_into(items: &[Val], sensitive: bool, out: &mut Vec<Val>, depth: usize) -> bool {
    for item in items {
        match item {
            Val::List(inner) if depth < 256 => {
                if !flatten_into(inner, sensitive, out, depth + 1) {
                    return false;
                }
            }
            Val::Sensitive(inner) => match inner.unmarked() {
                Val::List(inner) if depth < 256 => {
                    if !flatten_into(inner, true, out, depth + 1) {
                        return false;
                    }
                }
                Val::Unknown => return false,
                _ => out.push(item.clone()),
            },
            Val::Unknown => return false,
            other => out.push(mark_if(other.clone(), sensitive)),
        }
    }
    true
}

pub(super) fn keys(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::List(
        a.map(0)?.keys().map(|k| Val::String(k.clone())).collect(),
    ))
}

pub(super) fn values(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::List(a.map(0)?.values().cloned().collect()))
}

/// The number of elements, attributes or (user-perceived) characters.
pub(super) fn length(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let n = match a.get(0) {
        Val::String(s) => s.graphemes(true).count(),
        Val::List(items) => items.len(),
        Val::Map(m) => m.len(),
        _ => return a.wrong(0, "a string, list or map"),
    };
    Ok(Val::Number(count(n)))
}

/// `lookup(map, key, default)`.
pub(super) fn lookup(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let m = a.map(0)?;
    let key = a.str(1)?;
    if let Some(v) = m.get(&key) {
        return Ok(v.clone());
    }
    match a.opt(2) {
        Some(default) => Ok(default.clone()),
        None => a.err(format!(
            "the map has no key {key:?} and no default was given (keys: {})",
            key_list(m)
        )),
    }
}

fn key_list(m: &BTreeMap<String, Val>) -> String {
    if m.is_empty() {
        return "none".to_string();
    }
    let shown: Vec<String> = m.keys().take(10).map(|k| format!("{k:?}")).collect();
    let more = if m.len() > 10 { ", ..." } else { "" };
    format!("{}{more}", shown.join(", "))
}

/// Maps merged left to right: a later key wins. Null arguments are skipped.
pub(super) fn merge(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut out = BTreeMap::new();
    for (i, v) in a.vals.iter().enumerate() {
        match v {
            Val::Null => {}
            Val::Map(m) => out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
            Val::Sensitive(inner) => match inner.unmarked() {
                Val::Map(m) => out.extend(
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.clone().mark_sensitive())),
                ),
                Val::Null => {}
                _ => return a.wrong(i, "a map"),
            },
            // The merged keys are unknown.
            Val::Unknown => return Ok(Val::Unknown),
            _ => return a.wrong(i, "a map"),
        }
    }
    Ok(Val::Map(out))
}

pub(super) fn one(a: &Args, _: &dyn Io) -> Result<Val, String> {
    match a.list(0)? {
        [] => Ok(Val::Null),
        [only] => Ok(only.clone()),
        more => a.err(format!(
            "the list must have zero or one elements, and it has {}",
            more.len()
        )),
    }
}

pub(super) fn reverse(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::List(a.list(0)?.iter().rev().cloned().collect()))
}

pub(super) fn slice(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let items = a.list(0)?;
    let start = a.int(1)?;
    let end = a.int(2)?;
    if start < 0 {
        return a.err(format!("the start index must not be negative, not {start}"));
    }
    if end < start {
        return a.err(format!(
            "the start index ({start}) must not be greater than the end index ({end})"
        ));
    }
    let (Ok(s), Ok(e)) = (usize::try_from(start), usize::try_from(end)) else {
        return a.err("the indexes are out of range");
    };
    if e > items.len() {
        return a.err(format!(
            "the end index ({end}) must not be greater than the length of the list ({})",
            items.len()
        ));
    }
    Ok(Val::List(items.get(s..e).unwrap_or_default().to_vec()))
}

/// Strings sorted lexicographically (numbers are converted to strings first).
pub(super) fn sort(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut out = Vec::new();
    for (i, item) in a.list(0)?.iter().enumerate() {
        match primitive_text(item) {
            Some(s) => out.push(s),
            None if matches!(item, Val::Null) => {
                return a.err(format!("element {i} is null; a null cannot be sorted"));
            }
            None => {
                return a.err(format!(
                    "element {i} is {}, not a string",
                    article(item.kind_name())
                ));
            }
        }
    }
    out.sort();
    Ok(Val::List(out.into_iter().map(Val::String).collect()))
}

pub(super) fn sensitive(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(a.get(0).clone().mark_sensitive())
}

/// The value without its sensitive mark (marks of elements inside stay, as in Terraform).
pub(super) fn nonsensitive(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(super::unmark_top(a.get(0).clone()))
}

/// The order Terraform lists a set's elements in: bools, numbers, strings by value, then
/// anything else by its JSON text.
fn set_order(a: &Val, b: &Val) -> Ordering {
    fn rank(v: &Val) -> u8 {
        match v {
            Val::Bool(_) => 0,
            Val::Number(_) => 1,
            Val::String(_) => 2,
            _ => 3,
        }
    }
    match (a, b) {
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        (Val::Number(x), Val::Number(y)) => x.total_cmp(y),
        (Val::String(x), Val::String(y)) => x.cmp(y),
        _ => rank(a)
            .cmp(&rank(b))
            .then_with(|| json_text(a).cmp(&json_text(b))),
    }
}

fn json_text(v: &Val) -> String {
    v.to_json().map(|j| j.to_string()).unwrap_or_default()
}

/// Plain values as a set: sorted and without duplicates.
fn as_set(mut items: Vec<Val>) -> Vec<Val> {
    items.sort_by(set_order);
    items.dedup_by(|x, y| same(x, y));
    items
}

pub(super) fn setunion(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut all = Vec::new();
    for i in 0..a.len() {
        all.extend(a.list(i)?.iter().cloned());
    }
    Ok(Val::List(as_set(all)))
}

pub(super) fn setintersection(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let first = a.list(0)?;
    let mut rest = Vec::new();
    for i in 1..a.len() {
        rest.push(a.list(i)?);
    }
    let kept: Vec<Val> = first
        .iter()
        .filter(|v| rest.iter().all(|other| other.iter().any(|o| same(o, v))))
        .cloned()
        .collect();
    Ok(Val::List(as_set(kept)))
}

pub(super) fn setsubtract(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let first = a.list(0)?;
    let minus = a.list(1)?;
    let kept: Vec<Val> = first
        .iter()
        .filter(|v| !minus.iter().any(|o| same(o, v)))
        .cloned()
        .collect();
    Ok(Val::List(as_set(kept)))
}

/// Every combination of one element from each argument, the first argument varying
/// slowest.
pub(super) fn setproduct(a: &Args, _: &dyn Io) -> Result<Val, String> {
    if a.len() < 2 {
        return a.err("needs at least two sets or lists");
    }
    let mut lists = Vec::new();
    for i in 0..a.len() {
        lists.push(a.list(i)?);
    }
    let total = lists
        .iter()
        .try_fold(1usize, |acc, l| acc.checked_mul(l.len()));
    match total {
        Some(n) if n <= 100_000 => {}
        _ => return a.err("the product has more than 100000 elements"),
    }
    let mut out: Vec<Vec<Val>> = vec![Vec::new()];
    for list in lists {
        let mut next = Vec::with_capacity(out.len() * list.len());
        for prefix in &out {
            for item in list {
                let mut row = prefix.clone();
                row.push(item.clone());
                next.push(row);
            }
        }
        out = next;
    }
    Ok(Val::List(out.into_iter().map(Val::List).collect()))
}

pub(super) fn tobool(a: &Args, _: &dyn Io) -> Result<Val, String> {
    match a.get(0) {
        Val::Null => Ok(Val::Null),
        Val::Bool(b) => Ok(Val::Bool(*b)),
        Val::String(s) if s == "true" => Ok(Val::Bool(true)),
        Val::String(s) if s == "false" => Ok(Val::Bool(false)),
        Val::String(s) => a.err(format!("cannot convert {s:?} to a bool")),
        other => a.err(format!(
            "cannot convert {} to a bool",
            article(other.kind_name())
        )),
    }
}

pub(super) fn tonumber(a: &Args, _: &dyn Io) -> Result<Val, String> {
    match a.get(0) {
        Val::Null => Ok(Val::Null),
        Val::Number(n) => Ok(Val::Number(*n)),
        Val::String(s) => match parse_number(s) {
            Some(n) => Ok(Val::Number(n)),
            None => a.err(format!("cannot convert {s:?} to a number")),
        },
        other => a.err(format!(
            "cannot convert {} to a number",
            article(other.kind_name())
        )),
    }
}

pub(super) fn tostring(a: &Args, _: &dyn Io) -> Result<Val, String> {
    match a.get(0) {
        Val::Null => Ok(Val::Null),
        v => match primitive_text(v) {
            Some(s) => Ok(Val::String(s)),
            None => a.err(format!(
                "cannot convert {} to a string",
                article(v.kind_name())
            )),
        },
    }
}

/// Elements unified to one type, as converting a tuple to a list does: when strings mix
/// with numbers or bools, those become strings; other mixes are errors.
fn unify(a: &Args, items: Vec<Val>) -> Result<Vec<Val>, String> {
    let mut has_string = false;
    let mut has_number = false;
    let mut has_bool = false;
    let mut has_complex = false;
    for v in &items {
        match v.unmarked() {
            Val::String(_) => has_string = true,
            Val::Number(_) => has_number = true,
            Val::Bool(_) => has_bool = true,
            Val::List(_) | Val::Map(_) => has_complex = true,
            Val::Null | Val::Unknown | Val::Sensitive(_) => {}
        }
    }
    let primitives = usize::from(has_string) + usize::from(has_number) + usize::from(has_bool);
    if has_complex && primitives > 0 {
        return a.err("all elements must have the same type (collections mix with primitives)");
    }
    if !has_string && has_number && has_bool {
        return a.err("all elements must have the same type (numbers mix with bools)");
    }
    if !has_string || primitives == 1 {
        return Ok(items);
    }
    Ok(items
        .into_iter()
        .map(|v| {
            let sensitive = matches!(v, Val::Sensitive(_));
            let plain = super::unmark_top(v);
            let converted = match &plain {
                Val::Number(n) => Val::String(number_text(*n)),
                Val::Bool(b) => Val::String(b.to_string()),
                _ => plain,
            };
            mark_if(converted, sensitive)
        })
        .collect())
}

pub(super) fn tolist(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::List(unify(a, a.list(0)?.to_vec())?))
}

pub(super) fn tomap(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let m = a.map(0)?;
    let keys: Vec<String> = m.keys().cloned().collect();
    let values = unify(a, m.values().cloned().collect())?;
    Ok(Val::Map(keys.into_iter().zip(values).collect()))
}

/// A list as a set. A set with an unknown element is unknown (its size is: the element
/// may equal another one). Duplicates that differ only in marks merge into one sensitive
/// element.
pub(super) fn toset(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let items = unify(a, a.list(0)?.to_vec())?;
    if !items.iter().all(Val::is_known) {
        return Ok(Val::Unknown);
    }
    let mut pairs: Vec<(Val, bool)> = items
        .into_iter()
        .map(|v| {
            let s = v.is_sensitive();
            (unmark_deep(v), s)
        })
        .collect();
    pairs.sort_by(|x, y| set_order(&x.0, &y.0));
    let mut out: Vec<(Val, bool)> = Vec::new();
    for (v, s) in pairs {
        match out.last_mut() {
            Some((last, ls)) if same(last, &v) => *ls |= s,
            _ => out.push((v, s)),
        }
    }
    Ok(Val::List(
        out.into_iter().map(|(v, s)| mark_if(v, s)).collect(),
    ))
}

/// `transpose(map of lists of strings)`: each string becomes a key, listing the keys it
/// appeared under.
pub(super) fn transpose(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut out: BTreeMap<String, Vec<Val>> = BTreeMap::new();
    for (k, v) in a.map(0)? {
        let Val::List(items) = v else {
            return a.err(format!(
                "the value of {k:?} is {}, not a list of strings",
                article(v.kind_name())
            ));
        };
        for item in items {
            let Some(s) = primitive_text(item) else {
                return a.err(format!(
                    "the list of {k:?} holds {}, not only strings",
                    article(item.kind_name())
                ));
            };
            out.entry(s).or_default().push(Val::String(k.clone()));
        }
    }
    Ok(Val::Map(
        out.into_iter().map(|(k, v)| (k, Val::List(v))).collect(),
    ))
}

/// `zipmap(keys, values)`: a map from two lists of the same length.
pub(super) fn zipmap(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let keys = a.list(0)?;
    let values = a.list(1)?;
    if keys.len() != values.len() {
        return a.err(format!(
            "{} but {}; the lists must have the same length",
            super::plural(keys.len(), "key"),
            super::plural(values.len(), "value")
        ));
    }
    if !keys.iter().all(Val::is_known) {
        return Ok(Val::Unknown);
    }
    let sensitive = keys.iter().any(Val::is_sensitive);
    let mut out = BTreeMap::new();
    for (i, (k, v)) in keys.iter().zip(values).enumerate() {
        let Some(k) = primitive_text(k.unmarked()) else {
            return a.err(format!(
                "key {i} is {}, not a string",
                article(k.kind_name())
            ));
        };
        out.insert(k, v.clone());
    }
    Ok(mark_if(Val::Map(out), sensitive))
}
