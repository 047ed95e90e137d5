//! `format` and `formatlist`: Go's `fmt` verbs as Terraform supports them
//! (`%v %#v %t %s %q %d %b %o %x %X %e %E %f %g %G %%`, flags `+ - # 0` and space,
//! width, precision, `%[n]v` argument indexes).

use super::encoding::{json_string, json_write};
use super::{Args, article, number_text, parse_number, primitive_text, whole};
use crate::{Io, Val};

pub(super) fn format(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let spec = a.str(0)?;
    let rest = a.vals.get(1..).unwrap_or_default();
    match render(&spec, rest) {
        Ok(s) => Ok(Val::String(s)),
        Err(e) => a.err(e),
    }
}

/// `formatlist(spec, args...)`: `format` once per element of the list arguments (which
/// must have the same length); other arguments repeat.
pub(super) fn formatlist(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let spec = a.str(0)?;
    let rest = a.vals.get(1..).unwrap_or_default();
    let mut len: Option<(usize, usize)> = None;
    for (i, v) in rest.iter().enumerate() {
        if let Val::List(items) = v {
            match len {
                Some((n, j)) if n != items.len() => {
                    return a.err(format!(
                        "{} has {} elements but {} has {n}; list arguments must have the \
                         same length",
                        Args::which(i + 1),
                        items.len(),
                        Args::which(j + 1)
                    ));
                }
                Some(_) => {}
                None => len = Some((items.len(), i)),
            }
        }
    }
    let n = len.map_or(1, |(n, _)| n);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let row: Vec<Val> = rest
            .iter()
            .map(|v| match v {
                Val::List(items) => items.get(k).cloned().unwrap_or(Val::Null),
                other => other.clone(),
            })
            .collect();
        match render(&spec, &row) {
            Ok(s) => out.push(Val::String(s)),
            Err(e) => return a.err(format!("element {k}: {e}")),
        }
    }
    Ok(Val::List(out))
}

#[derive(Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
}

/// The formatted text, or what is wrong.
fn render(spec: &str, args: &[Val]) -> Result<String, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut next_arg = 0usize;
    let mut used_max = 0usize;
    let mut verbs = 0usize;
    while let Some(&c) = chars.get(i) {
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let mut flags = Flags::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '+' => flags.plus = true,
                '-' => flags.minus = true,
                '#' => flags.sharp = true,
                '0' => flags.zero = true,
                ' ' => flags.space = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'[') {
            let close = chars
                .get(i..)
                .and_then(|r| r.iter().position(|ch| *ch == ']'))
                .ok_or_else(|| format!("unclosed argument index at offset {start}"))?;
            let digits: String = chars
                .get(i + 1..i + close)
                .unwrap_or_default()
                .iter()
                .collect();
            let n: usize =
                digits.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    format!("invalid argument index [{digits}] at offset {start}")
                })?;
            next_arg = n - 1;
            i += close + 1;
        }
        let width = digits_at(&chars, &mut i);
        let precision = if chars.get(i) == Some(&'.') {
            i += 1;
            Some(digits_at(&chars, &mut i).unwrap_or(0))
        } else {
            None
        };
        let Some(&verb) = chars.get(i) else {
            return Err(format!(
                "the format ends in the middle of a verb at offset {start}"
            ));
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        verbs += 1;
        let Some(arg) = args.get(next_arg) else {
            return Err(format!(
                "not enough arguments for %{verb} at offset {start}: it needs argument {} \
                 but there are {}",
                next_arg + 1,
                args.len()
            ));
        };
        next_arg += 1;
        used_max = used_max.max(next_arg);
        let body = verb_text(verb, &flags, precision, arg)
            .map_err(|e| format!("%{verb} at offset {start}: {e}"))?;
        pad(&mut out, &body, width, &flags, is_numeric(verb));
    }
    if used_max < args.len() {
        return Err(if verbs == 0 {
            format!(
                "{} given but the format has no verbs",
                arguments(args.len())
            )
        } else {
            format!(
                "{} given but the format uses only {used_max}",
                arguments(args.len())
            )
        });
    }
    Ok(out)
}

fn arguments(n: usize) -> String {
    if n == 1 {
        "1 argument".to_string()
    } else {
        format!("{n} arguments")
    }
}

fn digits_at(chars: &[char], i: &mut usize) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        let d = usize::try_from(d).unwrap_or(0);
        n = Some(
            n.unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(d)
                .min(1000),
        );
        *i += 1;
    }
    n
}

fn is_numeric(verb: char) -> bool {
    matches!(
        verb,
        'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G'
    )
}

fn pad(out: &mut String, body: &str, width: Option<usize>, flags: &Flags, numeric: bool) {
    let len = body.chars().count();
    let Some(w) = width.filter(|w| *w > len) else {
        out.push_str(body);
        return;
    };
    let fill = w - len;
    if flags.minus {
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if flags.zero && numeric {
        let (sign, digits) = match body.chars().next() {
            Some(s @ ('+' | '-' | ' ')) => (Some(s), body.get(1..).unwrap_or("")),
            _ => (None, body),
        };
        if let Some(s) = sign {
            out.push(s);
        }
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(body);
    }
}

fn number_of(arg: &Val) -> Result<f64, String> {
    match arg {
        Val::Number(n) => Ok(*n),
        Val::String(s) => parse_number(s).ok_or_else(|| format!("{s:?} is not a number")),
        Val::Null => Err("a null value cannot be formatted as a number".to_string()),
        other => Err(format!(
            "{} cannot be formatted as a number",
            article(other.kind_name())
        )),
    }
}

fn signed(s: String, negative: bool, flags: &Flags) -> String {
    if negative {
        format!("-{s}")
    } else if flags.plus {
        format!("+{s}")
    } else if flags.space {
        format!(" {s}")
    } else {
        s
    }
}

fn verb_text(
    verb: char,
    flags: &Flags,
    precision: Option<usize>,
    arg: &Val,
) -> Result<String, String> {
    match verb {
        'v' if flags.sharp => {
            let mut s = String::new();
            json_write(arg, &mut s);
            Ok(s)
        }
        'v' => Ok(match arg {
            Val::Null => "null".to_string(),
            Val::List(_) | Val::Map(_) => {
                let mut s = String::new();
                json_write(arg, &mut s);
                s
            }
            Val::Number(n) if flags.plus && *n >= 0.0 => format!("+{}", number_text(*n)),
            other => truncate(primitive_text(other).unwrap_or_default(), precision),
        }),
        's' => match primitive_text(arg) {
            Some(s) => Ok(truncate(s, precision)),
            None if matches!(arg, Val::Null) => {
                Err("a null value cannot be formatted as a string".to_string())
            }
            None => Err(format!(
                "{} cannot be formatted as a string (use %v or jsonencode)",
                article(arg.kind_name())
            )),
        },
        'q' => match primitive_text(arg) {
            Some(s) => {
                let mut q = String::new();
                json_string(&truncate(s, precision), false, &mut q);
                Ok(q)
            }
            None => Err(format!(
                "{} cannot be formatted as a quoted string",
                article(arg.kind_name())
            )),
        },
        't' => match arg {
            Val::Bool(b) => Ok(b.to_string()),
            Val::String(s) if s == "true" || s == "false" => Ok(s.clone()),
            other => Err(format!(
                "{} cannot be formatted as a bool",
                article(other.kind_name())
            )),
        },
        'd' | 'b' | 'o' | 'x' | 'X' => {
            let n = number_of(arg)?;
            let Some(w) = whole(n) else {
                if n.is_finite() && n.fract() == 0.0 && verb == 'd' {
                    // Large whole numbers: digits without exponent.
                    return Ok(signed(number_text(n.abs()), n < 0.0, flags));
                }
                return Err(format!("{} is not a whole number", number_text(n)));
            };
            let m = w.unsigned_abs();
            let digits = match verb {
                'd' => m.to_string(),
                'b' => format!("{m:b}"),
                'o' if flags.sharp => format!("0{m:o}"),
                'o' => format!("{m:o}"),
                'x' if flags.sharp => format!("0x{m:x}"),
                'x' => format!("{m:x}"),
                'X' if flags.sharp => format!("0X{m:X}"),
                _ => format!("{m:X}"),
            };
            Ok(signed(digits, w < 0, flags))
        }
        'f' | 'F' => {
            let n = number_of(arg)?;
            let p = precision.unwrap_or(6);
            Ok(signed(format!("{:.*}", p, n.abs()), n < 0.0, flags))
        }
        'e' | 'E' => {
            let n = number_of(arg)?;
            let s = sci(n.abs(), precision.unwrap_or(6));
            let s = if verb == 'E' { s.to_uppercase() } else { s };
            Ok(signed(s, n < 0.0, flags))
        }
        'g' | 'G' => {
            let n = number_of(arg)?;
            let s = general(n.abs(), precision, flags.sharp);
            let s = if verb == 'G' { s.to_uppercase() } else { s };
            Ok(signed(s, n < 0.0, flags))
        }
        other => Err(format!("%{other} is not a supported verb")),
    }
}

fn truncate(s: String, precision: Option<usize>) -> String {
    match precision {
        Some(p) => s.chars().take(p).collect(),
        None => s,
    }
}

/// `n` (not negative) as `d.ddddde+XX` with `p` digits after the point.
fn sci(n: f64, p: usize) -> String {
    let s = format!("{:.*e}", p, n);
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Go's `%g`: the shortest representation (or `p` significant digits), in exponent form
/// for large and small exponents.
fn general(n: f64, precision: Option<usize>, sharp: bool) -> String {
    if !n.is_finite() {
        return number_text(n);
    }
    // Significant digits and the decimal exponent of the first one.
    let e_form = match precision {
        Some(p) => format!("{:.*e}", p.max(1) - 1, n),
        None => format!("{n:e}"),
    };
    let (mant, exp) = e_form.split_once('e').unwrap_or((e_form.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    if !sharp {
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    let nd = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let eprec = match precision {
        None => 6,
        Some(p) => {
            let p = i32::try_from(p.max(1)).unwrap_or(i32::MAX);
            if p > nd && nd > exp { nd } else { p }
        }
    };
    if exp < -4 || exp >= eprec {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        return format!(
            "{first}{frac}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    // Fixed notation from the digits.
    if exp < 0 {
        let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
        return format!("0.{zeros}{digits}");
    }
    let int_len = usize::try_from(exp + 1).unwrap_or(0);
    if digits.len() <= int_len {
        let zeros = "0".repeat(int_len - digits.len());
        format!("{digits}{zeros}")
    } else {
        let (int, frac) = digits.split_at(int_len);
        format!("{int}.{frac}")
    }
}
