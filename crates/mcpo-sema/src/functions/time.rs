//! Time functions over RFC 3339 timestamps.

use super::Args;
use crate::{Io, Val};
use chrono::{DateTime, Datelike as _, FixedOffset, TimeDelta, Timelike as _};

fn parse_ts(a: &Args, i: usize) -> Result<DateTime<FixedOffset>, String> {
    let s = a.str(i)?;
    DateTime::parse_from_rfc3339(&s).or_else(|e| {
        a.err(format!(
            "{s:?} is not an RFC 3339 timestamp like 2024-01-02T15:04:05Z ({e})"
        ))
    })
}

/// RFC 3339 with whole seconds, `Z` for UTC (Go's `time.RFC3339` layout).
fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        offset(t, true, true)
    )
}

/// The UTC offset as `+07:00` (`colon`) or `+0700`; `Z` for UTC when `z`.
fn offset(t: &DateTime<FixedOffset>, colon: bool, z: bool) -> String {
    let secs = t.offset().local_minus_utc();
    if secs == 0 && z {
        return "Z".to_string();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    let (h, m) = (abs / 3600, (abs % 3600) / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// `timestamp()`: now, in UTC, from the [`Io`] clock.
pub(super) fn timestamp(_: &Args, io: &dyn Io) -> Result<Val, String> {
    let now = io.now_rfc3339();
    Ok(Val::String(match DateTime::parse_from_rfc3339(&now) {
        Ok(t) => rfc3339(&t.with_timezone(&FixedOffset::east_opt(0).unwrap_or(*t.offset()))),
        Err(_) => now,
    }))
}

/// `timeadd(timestamp, duration)` with a Go duration (`"1h30m"`, `"-10s"`, `"1.5h"`).
pub(super) fn timeadd(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let t = parse_ts(a, 0)?;
    let d = a.str(1)?;
    let Some(nanos) = parse_duration(&d) else {
        return a.err(format!(
            "{d:?} is not a duration like \"1h30m\", \"-10s\" or \"500ms\" \
             (units: ns, us, ms, s, m, h)"
        ));
    };
    let Some(sum) = t.checked_add_signed(TimeDelta::nanoseconds(nanos)) else {
        return a.err("the result is out of the range of timestamps");
    };
    Ok(Val::String(rfc3339(&sum)))
}

/// A Go duration in nanoseconds.
fn parse_duration(s: &str) -> Option<i64> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * scale;
        rest = after;
    }
    if !total.is_finite() || total.abs() > 9.2e18 {
        return None;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "checked to be within i64 just above"
    )]
    let n = total.round() as i64;
    Some(if negative { -n } else { n })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `formatdate(spec, timestamp)` with Terraform's format sequences (`YYYY`, `MM`, `DD`,
/// `hh`, `mm`, `ss`, `EEE`, `ZZZ`, `'literal'`, ...).
pub(super) fn formatdate(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let spec = a.str(0)?;
    let t = parse_ts(a, 1)?;
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '\'' {
            // A quoted literal; '' inside (or alone) is a quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return a.err("the format has a quote that is never closed"),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        out.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(&ch) => {
                        out.push(ch);
                        j += 1;
                    }
                }
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        i += n;
        let month = usize::try_from(t.month0()).unwrap_or(0);
        let day = usize::try_from(t.weekday().num_days_from_monday()).unwrap_or(0);
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let piece = match (c, n) {
            ('Y', 4) => format!("{:04}", t.year()),
            ('Y', 2) => format!("{:02}", t.year().rem_euclid(100)),
            ('M', 4) => MONTHS.get(month).copied().unwrap_or("").to_string(),
            ('M', 3) => MONTHS
                .get(month)
                .map_or("", |m| m.get(..3).unwrap_or(m))
                .to_string(),
            ('M', 2) => format!("{:02}", t.month()),
            ('M', 1) => t.month().to_string(),
            ('D', 2) => format!("{:02}", t.day()),
            ('D', 1) => t.day().to_string(),
            ('E', 4) => DAYS.get(day).copied().unwrap_or("").to_string(),
            ('E', 3) => DAYS
                .get(day)
                .map_or("", |d| d.get(..3).unwrap_or(d))
                .to_string(),
            ('h', 2) => format!("{:02}", t.hour()),
            ('h', 1) => t.hour().to_string(),
            ('H', 2) => format!("{hour12:02}"),
            ('H', 1) => hour12.to_string(),
            ('A', 2) => (if t.hour() < 12 { "AM" } else { "PM" }).to_string(),
            ('a', 2) => (if t.hour() < 12 { "am" } else { "pm" }).to_string(),
            ('m', 2) => format!("{:02}", t.minute()),
            ('m', 1) => t.minute().to_string(),
            ('s', 2) => format!("{:02}", t.second()),
            ('s', 1) => t.second().to_string(),
            ('Z', 5) => offset(&t, true, false),
            ('Z', 4) => offset(&t, false, false),
            ('Z', 3) if t.offset().local_minus_utc() == 0 => "UTC".to_string(),
            ('Z', 3) => offset(&t, false, false),
            ('Z', 1) => offset(&t, true, true),
            _ => {
                let seq: String = std::iter::repeat_n(c, n).collect();
                return a.err(format!(
                    "{seq:?} is not a format sequence; quote literal letters: '{seq}'"
                ));
            }
        };
        out.push_str(&piece);
    }
    Ok(Val::String(out))
}
