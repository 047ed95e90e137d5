//! The built-in function library at run time: [`call`] runs a function on evaluated
//! arguments, [`exists`] says whether one is implemented.
//!
//! The typed signatures are the checker's ([`crate::BUILTINS`]); the argument count is
//! checked here again against them, so that `call` is safe on its own, and a test keeps
//! the two tables equal. The semantics are Terraform's.
//!
//! **Marks.** Every function falls in one of three groups (the `Marks` of its table entry):
//! - most functions look inside their arguments (`upper`, `join`, `jsonencode`, ...): the
//!   result is `(known after apply)` when anything inside an argument is unknown, and
//!   sensitive when anything inside an argument is sensitive;
//! - functions that only move elements around (`concat`, `element`, `lookup`, `merge`,
//!   `length`, `flatten`, `tolist`, ...) look at their arguments' top level only: an
//!   unknown or sensitive element stays where it is, so `length([a, (unknown)])` is 2 and
//!   `element([x, sensitive(y)], 0)` is `x`, not sensitive;
//! - `sensitive`, `nonsensitive`, `coalesce` and `coalescelist` handle marks themselves
//!   (`coalesce("a", unknown)` is `"a"`: an earlier known non-null argument decides).
//!
//! **Not run here.** `can` and `try` take unevaluated expressions, so the evaluator
//! handles them; [`call`] says so if asked. `templatefile(path, vars)` needs the template
//! engine of the evaluator: the evaluator reads the template with [`templatefile_source`],
//! then parses and renders it with `vars` in scope.
//!
//! **Impure functions.** `bcrypt`, `timestamp` and `uuid` give a new result on every call;
//! [`impure`] names them so that the evaluator can make them `(known after apply)` while
//! planning, as Terraform does.

use crate::{Io, Val};
use std::collections::BTreeMap;

mod cidr;
mod collections;
mod encoding;
mod format;
mod numeric;
mod paths;
mod strings;
mod time;
mod yaml;

/// How a function treats unknown and sensitive arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marks {
    /// Looks at everything inside: unknown anywhere gives unknown; sensitive anywhere
    /// marks the whole result. The implementation sees plain values only.
    Deep,
    /// Looks at the top level only: an unknown argument gives unknown; a sensitive
    /// argument marks the result. Elements keep their own marks; the implementation must
    /// expect `Unknown` and `Sensitive` elements.
    Shallow,
    /// The implementation gets the arguments as they are.
    Raw,
}

/// An implementation: the arguments (checked for count) and the world.
type Imp = fn(&Args, &dyn Io) -> Result<Val, String>;

use Marks::{Deep, Raw, Shallow};

/// Every implemented function, sorted by name.
const FUNCTIONS: &[(&str, Marks, Imp)] = &[
    ("abs", Deep, numeric::abs),
    ("abspath", Deep, paths::abspath),
    ("alltrue", Deep, collections::alltrue),
    ("anytrue", Deep, collections::anytrue),
    ("base64decode", Deep, encoding::base64decode),
    ("base64encode", Deep, encoding::base64encode),
    ("base64gzip", Deep, encoding::base64gzip),
    ("base64sha256", Deep, encoding::base64sha256),
    ("basename", Deep, paths::basename),
    ("bcrypt", Deep, encoding::bcrypt),
    ("can", Raw, evaluator_only),
    ("ceil", Deep, numeric::ceil),
    ("chomp", Deep, strings::chomp),
    ("chunklist", Shallow, collections::chunklist),
    ("cidrhost", Deep, cidr::cidrhost),
    ("cidrnetmask", Deep, cidr::cidrnetmask),
    ("cidrsubnet", Deep, cidr::cidrsubnet),
    ("cidrsubnets", Deep, cidr::cidrsubnets),
    ("coalesce", Raw, collections::coalesce),
    ("coalescelist", Raw, collections::coalescelist),
    ("compact", Shallow, collections::compact),
    ("concat", Shallow, collections::concat),
    ("contains", Deep, collections::contains),
    ("csvdecode", Deep, encoding::csvdecode),
    ("dirname", Deep, paths::dirname),
    ("distinct", Deep, collections::distinct),
    ("element", Shallow, collections::element),
    ("endswith", Deep, strings::endswith),
    ("env", Deep, paths::env),
    ("file", Deep, paths::file),
    ("filebase64", Deep, paths::filebase64),
    ("fileexists", Deep, paths::fileexists),
    ("filesha256", Deep, paths::filesha256),
    ("flatten", Shallow, collections::flatten),
    ("floor", Deep, numeric::floor),
    ("format", Deep, format::format),
    ("formatdate", Deep, time::formatdate),
    ("formatlist", Deep, format::formatlist),
    ("indent", Deep, strings::indent),
    ("index", Deep, collections::index),
    ("join", Deep, strings::join),
    ("jsondecode", Deep, encoding::jsondecode),
    ("jsonencode", Deep, encoding::jsonencode),
    ("keys", Shallow, collections::keys),
    ("length", Shallow, collections::length),
    ("log", Deep, numeric::log),
    ("lookup", Shallow, collections::lookup),
    ("lower", Deep, strings::lower),
    ("max", Deep, numeric::max),
    ("md5", Deep, encoding::md5),
    ("merge", Shallow, collections::merge),
    ("min", Deep, numeric::min),
    ("nonsensitive", Raw, collections::nonsensitive),
    ("one", Shallow, collections::one),
    ("parseint", Deep, numeric::parseint),
    ("pathexpand", Deep, paths::pathexpand),
    ("pow", Deep, numeric::pow),
    ("range", Deep, numeric::range),
    ("regex", Deep, strings::regex),
    ("regexall", Deep, strings::regexall),
    ("replace", Deep, strings::replace),
    ("reverse", Shallow, collections::reverse),
    ("sensitive", Raw, collections::sensitive),
    ("setintersection", Deep, collections::setintersection),
    ("setproduct", Shallow, collections::setproduct),
    ("setsubtract", Deep, collections::setsubtract),
    ("setunion", Deep, collections::setunion),
    ("sha1", Deep, encoding::sha1),
    ("sha256", Deep, encoding::sha256),
    ("sha512", Deep, encoding::sha512),
    ("signum", Deep, numeric::signum),
    ("slice", Shallow, collections::slice),
    ("sort", Deep, collections::sort),
    ("split", Deep, strings::split),
    ("startswith", Deep, strings::startswith),
    ("strrev", Deep, strings::strrev),
    ("substr", Deep, strings::substr),
    ("sum", Deep, numeric::sum),
    ("templatefile", Raw, templatefile),
    ("timeadd", Deep, time::timeadd),
    ("timestamp", Deep, time::timestamp),
    ("title", Deep, strings::title),
    ("tobool", Deep, collections::tobool),
    ("tolist", Shallow, collections::tolist),
    ("tomap", Shallow, collections::tomap),
    ("tonumber", Deep, collections::tonumber),
    ("toset", Shallow, collections::toset),
    ("tostring", Deep, collections::tostring),
    ("transpose", Deep, collections::transpose),
    ("trim", Deep, strings::trim),
    ("trimprefix", Deep, strings::trimprefix),
    ("trimspace", Deep, strings::trimspace),
    ("trimsuffix", Deep, strings::trimsuffix),
    ("try", Raw, evaluator_only),
    ("upper", Deep, strings::upper),
    ("urlencode", Deep, encoding::urlencode),
    ("uuid", Deep, encoding::uuid),
    ("values", Shallow, collections::values),
    ("yamldecode", Deep, yaml::yamldecode),
    ("yamlencode", Deep, yaml::yamlencode),
    ("zipmap", Shallow, collections::zipmap),
];

fn find(name: &str) -> Option<&'static (&'static str, Marks, Imp)> {
    FUNCTIONS
        .binary_search_by(|(n, _, _)| (*n).cmp(name))
        .ok()
        .and_then(|i| FUNCTIONS.get(i))
}

/// Whether `name` is implemented.
///
/// `can`, `try` and `templatefile` count as implemented: the evaluator runs them (see the
/// module documentation), [`call`] only explains that.
pub fn exists(name: &str) -> bool {
    find(name).is_some()
}

/// Whether `name` gives a different result on every call (`bcrypt`, `timestamp`, `uuid`).
///
/// Terraform makes their results `(known after apply)` while planning, so that a plan never
/// shows a value that apply will not use (and a saved plan stays valid); the evaluator
/// should do the same at plan time and call them only at apply time.
pub fn impure(name: &str) -> bool {
    matches!(name, "bcrypt" | "timestamp" | "uuid")
}

/// The names of every implemented function, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|(n, _, _)| *n)
}

/// Calls built-in function `name` with evaluated arguments. Err is a message for a person
/// ("cidrsubnet: prefix 10.0.0.0/30 has no room for 8 more bits").
pub fn call(name: &str, args: Vec<Val>, io: &dyn Io) -> Result<Val, String> {
    let Some(&(fname, marks, imp)) = find(name) else {
        return Err(format!("there is no built-in function named `{name}`"));
    };
    if let Some(sig) = crate::lookup(fname) {
        let too_many = sig.max_args().is_some_and(|max| args.len() > max);
        if args.len() < sig.min_args() || too_many {
            return Err(format!(
                "{fname}: {} given; it takes {}",
                plural(args.len(), "argument"),
                sig.display(fname)
            ));
        }
    }
    // A function's message may quote its arguments; one of them being sensitive, the
    // message says which function failed and withholds the rest.
    let sensitive = args.iter().any(Val::is_sensitive);
    let withhold = |message: String| {
        if sensitive {
            format!("{fname}: fails on a sensitive value (the details would show it)")
        } else {
            message
        }
    };
    match marks {
        Raw => imp(
            &Args {
                name: fname,
                vals: args,
            },
            io,
        )
        .map_err(withhold),
        Deep => {
            let sensitive = args.iter().any(Val::is_sensitive);
            let result = if args.iter().all(Val::is_known) {
                let vals = args.into_iter().map(unmark_deep).collect();
                imp(&Args { name: fname, vals }, io).map_err(withhold)?
            } else {
                Val::Unknown
            };
            Ok(mark_if(result, sensitive))
        }
        Shallow => {
            let sensitive = args.iter().any(|a| matches!(a, Val::Sensitive(_)));
            let vals: Vec<Val> = args.into_iter().map(unmark_top).collect();
            let result = if vals.iter().any(|a| matches!(a, Val::Unknown)) {
                Val::Unknown
            } else {
                imp(&Args { name: fname, vals }, io).map_err(withhold)?
            };
            Ok(mark_if(result, sensitive))
        }
    }
}

/// The text of the template of `templatefile(path, vars)`, read through `io`.
///
/// `templatefile` is not run by [`call`]: rendering needs the evaluator's template engine
/// (interpolations and directives over `vars`). The evaluator calls this function, parses
/// the text as a template and renders it.
pub fn templatefile_source(path: &str, io: &dyn Io) -> Result<String, String> {
    io.read_file(path)
        .map_err(|e| format!("templatefile: cannot read the template {path:?}: {e}"))
}

fn evaluator_only(args: &Args, _io: &dyn Io) -> Result<Val, String> {
    Err(format!(
        "{}: takes unevaluated expressions, so the evaluator runs it, not the function library",
        args.name
    ))
}

fn templatefile(_args: &Args, _io: &dyn Io) -> Result<Val, String> {
    Err(
        "templatefile: the evaluator renders templates (it reads them with \
         functions::templatefile_source); the function library cannot"
            .to_string(),
    )
}

/// The value with every sensitive mark removed, at every depth.
pub(crate) fn unmark_deep(v: Val) -> Val {
    match v {
        Val::Sensitive(inner) => unmark_deep(*inner),
        Val::List(items) => Val::List(items.into_iter().map(unmark_deep).collect()),
        Val::Map(m) => Val::Map(m.into_iter().map(|(k, v)| (k, unmark_deep(v))).collect()),
        other => other,
    }
}

/// The value without sensitive marks at the top.
pub(crate) fn unmark_top(v: Val) -> Val {
    match v {
        Val::Sensitive(inner) => unmark_top(*inner),
        other => other,
    }
}

/// `v`, marked sensitive when `sensitive`.
pub(crate) fn mark_if(v: Val, sensitive: bool) -> Val {
    if sensitive { v.mark_sensitive() } else { v }
}

/// "1 key", "2 keys".
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A number as text the way Terraform converts numbers to strings: integral values
/// without a fraction, others in the shortest form that reads back the same, never with
/// an exponent.
pub(crate) fn number_text(n: f64) -> String {
    if n == 0.0 {
        // Also -0.
        "0".to_string()
    } else {
        format!("{n}")
    }
}

/// A whole number as `i64`, when `n` is one and fits exactly.
pub(crate) fn whole(n: f64) -> Option<i64> {
    if n.is_finite() && n.fract() == 0.0 && n.abs() <= 9.007_199_254_740_992e15 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "integral and within the exactly representable range"
        )]
        Some(n as i64)
    } else {
        None
    }
}

/// A primitive value as a string (numbers and bools convert, as Terraform does).
pub(crate) fn primitive_text(v: &Val) -> Option<String> {
    match v {
        Val::String(s) => Some(s.clone()),
        Val::Number(n) => Some(number_text(*n)),
        Val::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string as a number, the way Terraform converts (`"5"`, `"-1.5"`, `"1e3"`).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    if !ok {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A number result, refused when not finite (Terraform numbers are never NaN).
pub(crate) fn finite(name: &str, n: f64) -> Result<Val, String> {
    if n.is_finite() {
        Ok(Val::Number(n))
    } else {
        Err(format!("{name}: the result is not a finite number"))
    }
}

/// The arguments of one call, with accessors that say what was wrong.
pub(crate) struct Args {
    /// The function's name, for messages.
    pub(crate) name: &'static str,
    /// The argument values.
    pub(crate) vals: Vec<Val>,
}

const ORDINALS: &[&str] = &["first", "second", "third", "fourth", "fifth"];

impl Args {
    /// How many arguments were given.
    pub(crate) fn len(&self) -> usize {
        self.vals.len()
    }

    /// Argument `i` (`Null` when absent: the count was checked).
    pub(crate) fn get(&self, i: usize) -> &Val {
        self.vals.get(i).unwrap_or(&Val::Null)
    }

    /// Argument `i` when given.
    pub(crate) fn opt(&self, i: usize) -> Option<&Val> {
        self.vals.get(i)
    }

    /// "the second argument" / "argument 7".
    pub(crate) fn which(i: usize) -> String {
        match ORDINALS.get(i) {
            Some(o) => format!("the {o} argument"),
            None => format!("argument {}", i + 1),
        }
    }

    /// An error: `{name}: {msg}`.
    pub(crate) fn err<T>(&self, msg: impl std::fmt::Display) -> Result<T, String> {
        Err(format!("{}: {msg}", self.name))
    }

    /// An error saying argument `i` is not what was expected.
    pub(crate) fn wrong<T>(&self, i: usize, expected: &str) -> Result<T, String> {
        let v = self.get(i);
        if matches!(v, Val::Null) {
            self.err(format!("{} must not be null", Self::which(i)))
        } else {
            self.err(format!(
                "{} must be {expected}, not {}",
                Self::which(i),
                article(v.kind_name())
            ))
        }
    }

    /// Argument `i` as a string (numbers and bools convert).
    pub(crate) fn str(&self, i: usize) -> Result<String, String> {
        match primitive_text(self.get(i)) {
            Some(s) => Ok(s),
            None => self.wrong(i, "a string"),
        }
    }

    /// Argument `i` as a number (numeric strings convert).
    pub(crate) fn num(&self, i: usize) -> Result<f64, String> {
        match self.get(i) {
            Val::Number(n) => Ok(*n),
            Val::String(s) => match parse_number(s) {
                Some(n) => Ok(n),
                None => self.err(format!(
                    "{} must be a number, and {s:?} is not one",
                    Self::which(i)
                )),
            },
            _ => self.wrong(i, "a number"),
        }
    }

    /// Argument `i` as a whole number.
    pub(crate) fn int(&self, i: usize) -> Result<i64, String> {
        let n = self.num(i)?;
        match whole(n) {
            Some(w) => Ok(w),
            None => self.err(format!(
                "{} must be a whole number, not {}",
                Self::which(i),
                number_text(n)
            )),
        }
    }

    /// Argument `i` as a list, set or tuple.
    pub(crate) fn list(&self, i: usize) -> Result<&[Val], String> {
        match self.get(i) {
            Val::List(items) => Ok(items),
            _ => self.wrong(i, "a list"),
        }
    }

    /// Argument `i` as a map or object.
    pub(crate) fn map(&self, i: usize) -> Result<&BTreeMap<String, Val>, String> {
        match self.get(i) {
            Val::Map(m) => Ok(m),
            _ => self.wrong(i, "a map"),
        }
    }
}

/// "a list", "an object", "null".
pub(crate) fn article(kind: &str) -> String {
    match kind {
        "null" => "null".to_string(),
        k if k.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {k}"),
        k => format!("a {k}"),
    }
}
