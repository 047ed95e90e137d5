//! The forms of a `use` block's `source`.

/// Where a module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `stdlib/<name>`: embedded in `mcpoc`.
    Stdlib(String),
    /// `./dir` or `../dir`: a directory relative to the file's workspace or module.
    Local(String),
    /// `git::<url>?ref=<tag, branch or commit>`.
    Git {
        /// The repository's URL (any URL `git clone` takes, a local path included).
        url: String,
        /// The tag, branch or commit to check out.
        reference: String,
    },
    /// `<namespace>/<name>`: a module of the registry, with a `version` constraint.
    Registry {
        /// `namespace/name`.
        name: String,
    },
}

impl Source {
    /// Reads a `source` string.
    pub fn parse(text: &str) -> Result<Source, String> {
        let s = text.trim();
        if s.starts_with("./") || s.starts_with("../") {
            return Ok(Source::Local(s.to_string()));
        }
        if let Some(name) = s.strip_prefix("stdlib/") {
            let name = name.trim_end_matches('/');
            // A pattern is `stdlib/<name>`; an adapter package `stdlib/adapters/<package>`;
            // a package of runbooks `stdlib/runbooks/<name>`.
            let parts: Vec<&str> = name.split('/').collect();
            let well_formed = match parts.as_slice() {
                [one] => !one.is_empty(),
                ["adapters" | "runbooks", package] => !package.is_empty(),
                _ => false,
            };
            if !well_formed {
                return Err(format!(
                    "`{s}`: a standard library module is named `stdlib/<name>`, `stdlib/adapters/<package>` for a package of adapters, or `stdlib/runbooks/<name>` for a package of runbooks"
                ));
            }
            return Ok(Source::Stdlib(name.to_string()));
        }
        if let Some(rest) = s.strip_prefix("git::") {
            let (url, query) = rest.split_once('?').unwrap_or((rest, ""));
            let reference = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("ref="))
                .unwrap_or("");
            if url.is_empty() || reference.is_empty() {
                return Err(format!(
                    "`{s}`: a git source is `git::<url>?ref=<tag or commit>` (a module is pinned to a tag or a commit)"
                ));
            }
            return Ok(Source::Git {
                url: url.to_string(),
                reference: reference.to_string(),
            });
        }
        let parts: Vec<&str> = s.split('/').collect();
        let ok_part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if parts.len() == 2 && parts.iter().all(|p| ok_part(p)) {
            return Ok(Source::Registry {
                name: s.to_string(),
            });
        }
        Err(format!(
            "`{s}` is not a module source: write `stdlib/<name>`, `./<directory>`, `git::<url>?ref=<tag or commit>` or a registry name `<namespace>/<name>`"
        ))
    }
}

/// A module version: `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    /// Reads `1`, `1.2` or `1.2.3` (missing parts are 0), with an optional leading `v`.
    pub fn parse(text: &str) -> Option<Version> {
        let t = text.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let mut it = t.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = it.next().map_or(Some(0), |p| p.parse().ok())?;
        if it.next().is_some() {
            return None;
        }
        Some(Version(major, minor, patch))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// One part of a version constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~> 1.2` (at least 1.2, below 2.0) and `~> 1.2.3` (at least 1.2.3, below 1.3.0).
    Pessimistic,
}

/// A version constraint as Terraform writes it: `~> 1.2`, `>= 1.0, < 2.0`, `1.2.3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint(Vec<(Op, Version, usize)>);

impl Constraint {
    /// Reads a constraint; an empty one allows every version.
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let mut parts = Vec::new();
        for raw in text.split(',') {
            let p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let (op, rest) = [
                ("~>", Op::Pessimistic),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .into_iter()
            .find_map(|(sym, op)| p.strip_prefix(sym).map(|r| (op, r)))
            .unwrap_or((Op::Eq, p));
            let rest = rest.trim();
            let given = rest.trim_start_matches('v').split('.').count();
            let v = Version::parse(rest).ok_or_else(|| {
                format!("`{p}` is not a version constraint (e.g. `~> 1.2`, `>= 1.0, < 2.0`)")
            })?;
            parts.push((op, v, given));
        }
        Ok(Constraint(parts))
    }

    /// Whether `v` satisfies every part.
    pub fn allows(&self, v: Version) -> bool {
        self.0.iter().all(|&(op, c, given)| match op {
            Op::Eq => v == c,
            Op::Ne => v != c,
            Op::Gt => v > c,
            Op::Ge => v >= c,
            Op::Lt => v < c,
            Op::Le => v <= c,
            Op::Pessimistic => {
                let upper = if given >= 3 {
                    Version(c.0, c.1 + 1, 0)
                } else {
                    Version(c.0 + 1, 0, 0)
                };
                v >= c && v < upper
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(
            Source::parse("stdlib/iot_edge"),
            Ok(Source::Stdlib("iot_edge".into()))
        );
        assert_eq!(
            Source::parse("./modules/web"),
            Ok(Source::Local("./modules/web".into()))
        );
        assert_eq!(
            Source::parse("git::file:///tmp/repo?ref=v1.0.0"),
            Ok(Source::Git {
                url: "file:///tmp/repo".into(),
                reference: "v1.0.0".into()
            })
        );
        assert_eq!(
            Source::parse("acme/web"),
            Ok(Source::Registry {
                name: "acme/web".into()
            })
        );
        assert!(Source::parse("git::file:///tmp/repo").is_err());
        assert!(Source::parse("web").is_err());
    }

    #[test]
    fn constraints() {
        let c = Constraint::parse("~> 1.2").expect("parses");
        assert!(c.allows(Version(1, 2, 0)));
        assert!(c.allows(Version(1, 9, 3)));
        assert!(!c.allows(Version(2, 0, 0)));
        assert!(!c.allows(Version(1, 1, 9)));
        let c = Constraint::parse("~> 1.2.3").expect("parses");
        assert!(c.allows(Version(1, 2, 9)));
        assert!(!c.allows(Version(1, 3, 0)));
        let c = Constraint::parse(">= 1.0, < 2.0, != 1.5.0").expect("parses");
        assert!(c.allows(Version(1, 4, 0)));
        assert!(!c.allows(Version(1, 5, 0)));
        assert!(!c.allows(Version(2, 0, 0)));
        assert!(Constraint::parse("~> one").is_err());
        assert!(
            Constraint::parse("")
                .expect("parses")
                .allows(Version(0, 0, 1))
        );
    }
}
