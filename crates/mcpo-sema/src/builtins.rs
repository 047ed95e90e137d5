//! The built-in function library with typed signatures (Terraform's most used functions).

use crate::types::{assignable, element, join};
use mcpo_schema::Ty;

/// What a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P {
    /// A string (numbers and bools convert).
    Str,
    /// A number.
    Num,
    /// Anything.
    Any,
    /// A list, set or tuple.
    List,
    /// A map or object.
    Map,
    /// A string, list, set, tuple, map or object (`length`).
    Coll,
}

impl P {
    fn describe(self) -> &'static str {
        match self {
            P::Str => "string",
            P::Num => "number",
            P::Any => "any",
            P::List => "list",
            P::Map => "map",
            P::Coll => "collection",
        }
    }

    /// Whether a value of type `ty` may be passed.
    pub fn accepts(self, ty: &Ty) -> bool {
        let t = ty.strip_sensitive();
        match self {
            P::Any => true,
            P::Str => assignable(t, &Ty::String),
            P::Num => assignable(t, &Ty::Number),
            P::List => matches!(
                t,
                Ty::Any | Ty::Null | Ty::List(_) | Ty::Set(_) | Ty::Tuple(_) | Ty::Union(_)
            ),
            P::Map => matches!(
                t,
                Ty::Any | Ty::Null | Ty::Map(_) | Ty::Object(_) | Ty::Union(_)
            ),
            P::Coll => !matches!(t, Ty::Number | Ty::Bool),
        }
    }
}

/// How the result type is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum R {
    /// A fixed type.
    Str,
    /// `number`
    Num,
    /// `bool`
    Bool,
    /// `any`
    Any,
    /// `list(string)`
    ListStr,
    /// `list(number)`
    ListNum,
    /// The element type of argument i.
    Elem(usize),
    /// `list(element of argument i)`
    ListOfElem(usize),
    /// `set(element of argument i)`
    SetOfElem(usize),
    /// `map(element of argument i)`
    MapOfElem(usize),
    /// `list(element of argument i)` where the elements are themselves lists (`flatten`).
    Flatten(usize),
    /// The join of all arguments' types (`coalesce`, `try`).
    JoinAll,
    /// `list(join of all arguments' elements)` (`concat`).
    ConcatLists,
    /// `map(join of all arguments' elements)` (`merge`).
    MergeMaps,
    /// The argument without `sensitive` (`nonsensitive`).
    Unwrap(usize),
    /// `sensitive(argument)`.
    Wrap(usize),
}

/// A function's signature.
#[derive(Debug, Clone, Copy)]
pub struct Sig {
    /// Positional parameters.
    pub params: &'static [P],
    /// How many of the trailing `params` may be left out.
    pub optional: usize,
    /// What any further arguments must be, if more are allowed.
    pub variadic: Option<P>,
    /// The result.
    pub ret: R,
}

impl Sig {
    /// The signature as text, e.g. `cidrsubnet(string, number, number) -> string`.
    pub fn display(&self, name: &str) -> String {
        let mut parts: Vec<String> = Vec::new();
        let required = self.params.len().saturating_sub(self.optional);
        for (i, p) in self.params.iter().enumerate() {
            if i >= required {
                parts.push(format!("[{}]", p.describe()));
            } else {
                parts.push(p.describe().to_string());
            }
        }
        if let Some(v) = self.variadic {
            parts.push(format!("{}...", v.describe()));
        }
        format!("{name}({})", parts.join(", "))
    }

    /// The fewest arguments accepted.
    pub fn min_args(&self) -> usize {
        self.params.len().saturating_sub(self.optional)
    }

    /// The most arguments accepted (`None`: unbounded).
    pub fn max_args(&self) -> Option<usize> {
        if self.variadic.is_some() {
            None
        } else {
            Some(self.params.len())
        }
    }

    /// What argument `i` must be.
    pub fn param(&self, i: usize) -> P {
        self.params
            .get(i)
            .copied()
            .or(self.variadic)
            .unwrap_or(P::Any)
    }

    /// The result type for arguments of types `args`.
    pub fn result(&self, args: &[Ty]) -> Ty {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Ty::Any);
        match self.ret {
            R::Str => Ty::String,
            R::Num => Ty::Number,
            R::Bool => Ty::Bool,
            R::Any => Ty::Any,
            R::ListStr => Ty::List(Box::new(Ty::String)),
            R::ListNum => Ty::List(Box::new(Ty::Number)),
            R::Elem(i) => element(&arg(i)),
            R::ListOfElem(i) => Ty::List(Box::new(element(&arg(i)))),
            R::SetOfElem(i) => Ty::Set(Box::new(element(&arg(i)))),
            R::MapOfElem(i) => Ty::Map(Box::new(element(&arg(i)))),
            R::Flatten(i) => {
                let e = element(&arg(i));
                let inner = match e.strip_sensitive() {
                    Ty::List(_) | Ty::Set(_) | Ty::Tuple(_) => element(&e),
                    other => other.clone(),
                };
                Ty::List(Box::new(inner))
            }
            R::JoinAll => args.iter().fold(Ty::Null, |acc, t| join(&acc, t)),
            R::ConcatLists => Ty::List(Box::new(
                args.iter().fold(Ty::Null, |acc, t| join(&acc, &element(t))),
            )),
            R::MergeMaps => {
                // Merging objects keeps their attributes when every argument is an object.
                let objects: Vec<&mcpo_schema::ObjectTy> =
                    args.iter().filter_map(|t| t.as_object()).collect();
                if objects.len() == args.len() && !args.is_empty() {
                    let mut attrs = std::collections::BTreeMap::new();
                    for o in objects {
                        for (k, v) in &o.attrs {
                            attrs.insert(k.clone(), v.clone());
                        }
                    }
                    Ty::object(attrs)
                } else {
                    Ty::Map(Box::new(
                        args.iter().fold(Ty::Null, |acc, t| join(&acc, &element(t))),
                    ))
                }
            }
            R::Unwrap(i) => arg(i).strip_sensitive().clone(),
            R::Wrap(i) => Ty::Sensitive(Box::new(arg(i).strip_sensitive().clone())),
        }
        .null_any()
    }
}

trait NullAny {
    fn null_any(self) -> Ty;
}

impl NullAny for Ty {
    fn null_any(self) -> Ty {
        match self {
            Ty::Null => Ty::Any,
            Ty::List(b) if *b == Ty::Null => Ty::List(Box::new(Ty::Any)),
            Ty::Map(b) if *b == Ty::Null => Ty::Map(Box::new(Ty::Any)),
            other => other,
        }
    }
}

const fn sig(params: &'static [P], ret: R) -> Sig {
    Sig {
        params,
        optional: 0,
        variadic: None,
        ret,
    }
}

const fn opt(params: &'static [P], optional: usize, ret: R) -> Sig {
    Sig {
        params,
        optional,
        variadic: None,
        ret,
    }
}

const fn var(params: &'static [P], variadic: P, ret: R) -> Sig {
    Sig {
        params,
        optional: 0,
        variadic: Some(variadic),
        ret,
    }
}

use P::{Any as A, Coll as C, List as L, Map as M, Num as N, Str as S};

/// Every built-in function, sorted by name.
pub const BUILTINS: &[(&str, Sig)] = &[
    ("abs", sig(&[N], R::Num)),
    ("abspath", sig(&[S], R::Str)),
    ("alltrue", sig(&[L], R::Bool)),
    ("anytrue", sig(&[L], R::Bool)),
    ("base64decode", sig(&[S], R::Str)),
    ("base64encode", sig(&[S], R::Str)),
    ("base64gzip", sig(&[S], R::Str)),
    ("base64sha256", sig(&[S], R::Str)),
    ("basename", sig(&[S], R::Str)),
    ("bcrypt", opt(&[S, N], 1, R::Str)),
    ("can", sig(&[A], R::Bool)),
    ("ceil", sig(&[N], R::Num)),
    ("chomp", sig(&[S], R::Str)),
    ("chunklist", sig(&[L, N], R::Any)),
    ("cidrhost", sig(&[S, N], R::Str)),
    ("cidrnetmask", sig(&[S], R::Str)),
    ("cidrsubnet", sig(&[S, N, N], R::Str)),
    ("cidrsubnets", var(&[S], N, R::ListStr)),
    ("coalesce", var(&[], A, R::JoinAll)),
    ("coalescelist", var(&[], L, R::JoinAll)),
    ("compact", sig(&[L], R::ListStr)),
    ("concat", var(&[], L, R::ConcatLists)),
    ("contains", sig(&[L, A], R::Bool)),
    ("csvdecode", sig(&[S], R::Any)),
    ("dirname", sig(&[S], R::Str)),
    ("distinct", sig(&[L], R::ListOfElem(0))),
    ("element", sig(&[L, N], R::Elem(0))),
    ("endswith", sig(&[S, S], R::Bool)),
    ("env", opt(&[S, S], 1, R::Str)),
    ("file", sig(&[S], R::Str)),
    ("filebase64", sig(&[S], R::Str)),
    ("fileexists", sig(&[S], R::Bool)),
    ("filesha256", sig(&[S], R::Str)),
    ("flatten", sig(&[L], R::Flatten(0))),
    ("floor", sig(&[N], R::Num)),
    ("format", var(&[S], A, R::Str)),
    ("formatdate", sig(&[S, S], R::Str)),
    ("formatlist", var(&[S], A, R::ListStr)),
    ("indent", sig(&[N, S], R::Str)),
    ("index", sig(&[L, A], R::Num)),
    ("join", var(&[S, L], L, R::Str)),
    ("jsondecode", sig(&[S], R::Any)),
    ("jsonencode", sig(&[A], R::Str)),
    ("keys", sig(&[M], R::ListStr)),
    ("length", sig(&[C], R::Num)),
    ("log", sig(&[N, N], R::Num)),
    ("lookup", opt(&[M, S, A], 1, R::Elem(0))),
    ("lower", sig(&[S], R::Str)),
    ("max", var(&[N], N, R::Num)),
    ("md5", sig(&[S], R::Str)),
    ("merge", var(&[], M, R::MergeMaps)),
    ("min", var(&[N], N, R::Num)),
    ("nonsensitive", sig(&[A], R::Unwrap(0))),
    ("one", sig(&[L], R::Elem(0))),
    ("parseint", sig(&[S, N], R::Num)),
    ("pathexpand", sig(&[S], R::Str)),
    ("pow", sig(&[N, N], R::Num)),
    ("range", opt(&[N, N, N], 2, R::ListNum)),
    ("regex", sig(&[S, S], R::Any)),
    ("regexall", sig(&[S, S], R::Any)),
    ("replace", sig(&[S, S, S], R::Str)),
    ("reverse", sig(&[L], R::ListOfElem(0))),
    ("sensitive", sig(&[A], R::Wrap(0))),
    ("setintersection", var(&[L], L, R::SetOfElem(0))),
    ("setproduct", var(&[L], L, R::Any)),
    ("setsubtract", sig(&[L, L], R::SetOfElem(0))),
    ("setunion", var(&[L], L, R::SetOfElem(0))),
    ("sha1", sig(&[S], R::Str)),
    ("sha256", sig(&[S], R::Str)),
    ("sha512", sig(&[S], R::Str)),
    ("signum", sig(&[N], R::Num)),
    ("slice", sig(&[L, N, N], R::ListOfElem(0))),
    ("sort", sig(&[L], R::ListStr)),
    ("split", sig(&[S, S], R::ListStr)),
    ("startswith", sig(&[S, S], R::Bool)),
    ("strrev", sig(&[S], R::Str)),
    ("substr", sig(&[S, N, N], R::Str)),
    ("sum", sig(&[L], R::Num)),
    ("templatefile", sig(&[S, M], R::Str)),
    ("timeadd", sig(&[S, S], R::Str)),
    ("timestamp", sig(&[], R::Str)),
    ("title", sig(&[S], R::Str)),
    ("tobool", sig(&[A], R::Bool)),
    ("tolist", sig(&[L], R::ListOfElem(0))),
    ("tomap", sig(&[M], R::MapOfElem(0))),
    ("tonumber", sig(&[A], R::Num)),
    ("toset", sig(&[L], R::SetOfElem(0))),
    ("tostring", sig(&[A], R::Str)),
    ("transpose", sig(&[M], R::Any)),
    ("trim", sig(&[S, S], R::Str)),
    ("trimprefix", sig(&[S, S], R::Str)),
    ("trimspace", sig(&[S], R::Str)),
    ("trimsuffix", sig(&[S, S], R::Str)),
    ("try", var(&[A], A, R::JoinAll)),
    ("upper", sig(&[S], R::Str)),
    ("urlencode", sig(&[S], R::Str)),
    ("uuid", sig(&[], R::Str)),
    ("values", sig(&[M], R::ListOfElem(0))),
    ("yamldecode", sig(&[S], R::Any)),
    ("yamlencode", sig(&[A], R::Str)),
    ("zipmap", sig(&[L, L], R::MapOfElem(1))),
];

/// The built-in called `name`.
pub fn lookup(name: &str) -> Option<&'static Sig> {
    BUILTINS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .and_then(|i| BUILTINS.get(i))
        .map(|(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_found() {
        assert!(BUILTINS.windows(2).all(|w| match w {
            [a, b] => a.0 < b.0,
            _ => true,
        }));
        assert!(lookup("cidrsubnet").is_some());
        assert!(lookup("nope").is_none());
        let s = lookup("lookup").map(|s| s.display("lookup"));
        assert_eq!(s.as_deref(), Some("lookup(map, string, [any])"));
    }
}
