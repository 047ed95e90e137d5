//! Numeric functions.

use super::{Args, finite};
use crate::{Io, Val};

pub(super) fn abs(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::Number(a.num(0)?.abs()))
}

pub(super) fn ceil(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::Number(a.num(0)?.ceil()))
}

pub(super) fn floor(a: &Args, _: &dyn Io) -> Result<Val, String> {
    Ok(Val::Number(a.num(0)?.floor()))
}

pub(super) fn signum(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let n = a.num(0)?;
    Ok(Val::Number(if n > 0.0 {
        1.0
    } else if n < 0.0 {
        -1.0
    } else {
        0.0
    }))
}

pub(super) fn log(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let n = a.num(0)?;
    let base = a.num(1)?;
    if n <= 0.0 {
        return a.err(format!(
            "the logarithm of {} is not defined (it must be greater than 0)",
            super::number_text(n)
        ));
    }
    if base <= 0.0 || base == 1.0 {
        return a.err(format!(
            "the base must be greater than 0 and not 1, not {}",
            super::number_text(base)
        ));
    }
    // Exact powers give whole results (log(8, 2) is 3, not 2.9999999999999996).
    let r = n.ln() / base.ln();
    let rounded = r.round();
    if (rounded - r).abs() < 1e-9 && (base.powf(rounded) - n).abs() <= n * 1e-12 {
        return Ok(Val::Number(rounded));
    }
    finite(a.name, r)
}

pub(super) fn pow(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let r = a.num(0)?.powf(a.num(1)?);
    finite(a.name, r)
}

pub(super) fn max(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut best = a.num(0)?;
    for i in 1..a.len() {
        best = best.max(a.num(i)?);
    }
    Ok(Val::Number(best))
}

pub(super) fn min(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let mut best = a.num(0)?;
    for i in 1..a.len() {
        best = best.min(a.num(i)?);
    }
    Ok(Val::Number(best))
}

pub(super) fn sum(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let items = a.list(0)?;
    if items.is_empty() {
        return a.err("cannot sum an empty list");
    }
    let mut total = 0.0;
    for (i, item) in items.iter().enumerate() {
        total += match item {
            Val::Number(n) => *n,
            Val::String(s) => match super::parse_number(s) {
                Some(n) => n,
                None => return a.err(format!("element {i} ({s:?}) is not a number")),
            },
            Val::Null => return a.err(format!("element {i} is null")),
            other => {
                return a.err(format!(
                    "element {i} is {}, not a number",
                    super::article(other.kind_name())
                ));
            }
        };
    }
    finite(a.name, decimal(total))
}

/// `n` rounded to 15 significant digits: sums and steps of decimal fractions come out as
/// Terraform's arbitrary-precision numbers give them (`0.1 + 0.2` is `0.3`, not
/// `0.30000000000000004`); whole numbers are unchanged.
fn decimal(n: f64) -> f64 {
    if !n.is_finite() || n.fract() == 0.0 {
        return n;
    }
    format!("{n:.14e}").parse().unwrap_or(n)
}

/// `parseint(string, base)`: an integer written in base 2 to 62.
pub(super) fn parseint(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let s = a.str(0)?;
    let base = a.int(1)?;
    if !(2..=62).contains(&base) {
        return a.err(format!("the base must be between 2 and 62, not {base}"));
    }
    let bad = || a.err(format!("cannot parse {s:?} as a base {base} integer"));
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    if digits.is_empty() {
        return bad();
    }
    let fbase = f64::from(u8::try_from(base).unwrap_or(10));
    let mut n = 0.0_f64;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => u32::from(c) - u32::from('0'),
            'a'..='z' => u32::from(c) - u32::from('a') + 10,
            'A'..='Z' if base <= 36 => u32::from(c) - u32::from('A') + 10,
            'A'..='Z' => u32::from(c) - u32::from('A') + 36,
            _ => return bad(),
        };
        if i64::from(d) >= base {
            return bad();
        }
        n = n * fbase + f64::from(d);
    }
    finite(a.name, if negative { -n } else { n })
}

/// `range(limit)`, `range(start, limit)`, `range(start, limit, step)`.
pub(super) fn range(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let (start, limit) = match a.len() {
        1 => (0.0, a.num(0)?),
        _ => (a.num(0)?, a.num(1)?),
    };
    let step = match a.opt(2) {
        Some(_) => a.num(2)?,
        None if limit < start => -1.0,
        None => 1.0,
    };
    if step == 0.0 {
        return a.err("the step must not be zero");
    }
    let mut out = Vec::new();
    let mut i = 0.0_f64;
    loop {
        let v = start + i * step;
        let done = if step > 0.0 { v >= limit } else { v <= limit };
        if done {
            break;
        }
        if out.len() >= 1024 {
            return a.err(
                "more than 1024 values were generated; narrow the range or use a larger step",
            );
        }
        out.push(Val::Number(decimal(v)));
        i += 1.0;
    }
    Ok(Val::List(out))
}
