//! The one address type of mcpo.
//!
//! Every managed thing has an address, written the same way in plans, the state, the
//! executor's events and on the command line:
//!
//! ```text
//! aws.vpc.main                           a resource (server, type, name)
//! aws.vpc.web[0]   aws.vpc.web["a"]      one instance of a resource with count / for_each
//! data.aws.vpc_subnet.private            a data read
//! task.opnsense.apply_changes.fw         a task (server, tool, name); the tool may hold dots
//! module.shop.aws.vpc.main               inside the module of `use "shop"`
//! module.edge[1].module.db.aws.vpc.main  inside nested and repeated modules
//! ```
//!
//! [`Address`] parses and prints them (string keys in JSON quoting), and [`Selector`] is
//! what a command names to pick several: a module, a block (all its instances) or one
//! instance. This crate knows nothing else of the language: it has no dependencies on the
//! parser, the checker or the state.

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt;
use std::str::FromStr;

/// Which instance of a repeated block or module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// `[3]`: an instance of `count`.
    Index(u64),
    /// `["a"]`: an instance of `for_each`.
    Name(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Index(i) => write!(f, "[{i}]"),
            Key::Name(n) => write!(f, "[{}]", serde_json::Value::String(n.clone())),
        }
    }
}

/// One `module.<name>[key]` step of an address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleStep {
    /// The `use` block's name.
    pub name: String,
    /// The instance, for a `use` with `count` or `for_each`.
    pub key: Option<Key>,
}

/// What an address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A managed resource: created, read, updated and deleted.
    Resource,
    /// A data read (`data.`).
    Data,
    /// A task: one tool call (`task.`).
    Task,
}

/// The address of a resource, data read or task instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// The modules it is inside, outermost first.
    pub module: Vec<ModuleStep>,
    /// Resource, data read or task.
    pub kind: Kind,
    /// The server's name in the workspace.
    pub server: String,
    /// The resource type; for a task, the tool (which may contain dots).
    pub type_name: String,
    /// The block's name.
    pub name: String,
    /// The instance, for a block with `count` or `for_each`.
    pub key: Option<Key>,
}

/// Why a text is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    /// The text.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an address: {}", self.text, self.reason)
    }
}

impl std::error::Error for AddressError {}

/// One `.`-separated part: a name and the key right after it.
#[derive(Debug)]
struct Segment {
    name: String,
    key: Option<Key>,
}

/// Splits `text` into segments; keys may hold any character inside their quotes.
fn segments(text: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        let mut name = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c == '.' || c == '[' {
                break;
            }
            if !(c.is_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("`{c}` cannot appear in a name"));
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() {
            return Err("a name is missing".into());
        }
        let mut key = None;
        if let Some(&(start, '[')) = chars.peek() {
            chars.next();
            let rest = text.get(start + 1..).unwrap_or_default();
            let (k, used) = parse_key(rest)?;
            key = Some(k);
            // Skip the key's text and its `]`.
            for _ in 0..rest.get(..used).map_or(0, |s| s.chars().count()) + 1 {
                chars.next();
            }
        }
        out.push(Segment { name, key });
        match chars.next() {
            None => return Ok(out),
            Some((_, '.')) => {}
            Some((_, c)) => return Err(format!("`{c}` after a key; write `.` or end there")),
        }
    }
}

/// Parses a key at the start of `rest` (just after `[`): its value and the bytes up to
/// (not including) the closing `]`.
fn parse_key(rest: &str) -> Result<(Key, usize), String> {
    if rest.starts_with('"') {
        // A JSON string: find its end, honouring escapes.
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                let quoted = rest.get(..=i).unwrap_or_default();
                let name: String = serde_json::from_str(quoted)
                    .map_err(|e| format!("the key {quoted} is not a valid string: {e}"))?;
                return match rest.get(i + 1..) {
                    Some(r) if r.starts_with(']') => Ok((Key::Name(name), i + 1)),
                    _ => Err("a `]` must follow the key".into()),
                };
            }
        }
        return Err("the key's string is not closed".into());
    }
    let end = rest
        .find(']')
        .ok_or_else(|| "the key is not closed with `]`".to_string())?;
    let digits = rest.get(..end).unwrap_or_default();
    digits
        .parse::<u64>()
        .map(|i| (Key::Index(i), end))
        .map_err(|_| format!("the key `{digits}` is neither a whole number nor a quoted string"))
}

impl Address {
    /// A resource address outside any module, without a key.
    pub fn resource(
        server: impl Into<String>,
        type_name: impl Into<String>,
        name: impl Into<String>,
    ) -> Address {
        Address {
            module: Vec::new(),
            kind: Kind::Resource,
            server: server.into(),
            type_name: type_name.into(),
            name: name.into(),
            key: None,
        }
    }

    /// Parses an instance address (see the crate documentation for the forms).
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let fail = |reason: String| AddressError {
            text: text.to_string(),
            reason,
        };
        let segs = segments(text).map_err(fail)?;
        let (module, rest) = module_steps(&segs, false).map_err(fail)?;
        let keyless = |s: &[Segment]| -> Result<(), String> {
            match s.iter().find(|s| s.key.is_some()) {
                Some(s) => Err(format!(
                    "only the last name may have a key, not `{}`",
                    s.name
                )),
                None => Ok(()),
            }
        };
        let (kind, parts) = match rest.first().map(|s| s.name.as_str()) {
            Some("data") => (Kind::Data, rest.get(1..).unwrap_or_default()),
            Some("task") => (Kind::Task, rest.get(1..).unwrap_or_default()),
            _ => (Kind::Resource, rest),
        };
        let (first, last) = match parts {
            [first @ .., last] => (first, last),
            [] => return Err(fail("it names nothing".into())),
        };
        keyless(first).map_err(fail)?;
        if rest.first().is_some_and(|s| s.key.is_some()) && kind != Kind::Resource {
            return Err(fail("`data` and `task` take no key".into()));
        }
        let names: Vec<&str> = first.iter().map(|s| s.name.as_str()).collect();
        let (server, type_name) = match (kind, names.as_slice()) {
            (Kind::Task, [server, tool @ ..]) if !tool.is_empty() => {
                ((*server).to_string(), tool.join("."))
            }
            (Kind::Resource | Kind::Data, [server, ty]) => {
                ((*server).to_string(), (*ty).to_string())
            }
            _ => {
                let form = match kind {
                    Kind::Resource => "server.type.name, e.g. `aws.vpc.main`",
                    Kind::Data => "data.server.type.name, e.g. `data.aws.vpc.main`",
                    Kind::Task => "task.server.tool.name, e.g. `task.opnsense.apply_changes.fw`",
                };
                return Err(fail(format!("expected {form}")));
            }
        };
        Ok(Address {
            module,
            kind,
            server,
            type_name,
            name: last.name.clone(),
            key: last.key.clone(),
        })
    }

    /// The address of the block this instance belongs to (no key): `aws.vpc.web[0]` ->
    /// `aws.vpc.web`.
    pub fn config(&self) -> Address {
        Address {
            key: None,
            ..self.clone()
        }
    }

    /// Whether this is a managed resource (not a data read or a task).
    pub fn is_resource(&self) -> bool {
        self.kind == Kind::Resource
    }

    /// The module prefix as written, with its trailing dot (`module.shop.`), or "".
    pub fn module_prefix(&self) -> String {
        self.module
            .iter()
            .map(|m| {
                let key = m.key.as_ref().map(Key::to_string).unwrap_or_default();
                format!("module.{}{key}.", m.name)
            })
            .collect()
    }
}

/// The `module.` steps at the start of `segs`, and what follows them. Unless `whole`, a
/// last `module.<name>` pair is left for the address that must follow.
fn module_steps(segs: &[Segment], whole: bool) -> Result<(Vec<ModuleStep>, &[Segment]), String> {
    let mut module = Vec::new();
    let mut rest = segs;
    while let [first, name, after @ ..] = rest {
        if first.name != "module" || (after.is_empty() && !whole) {
            break;
        }
        if first.key.is_some() {
            return Err("`module` takes no key; put it after the module's name".into());
        }
        module.push(ModuleStep {
            name: name.name.clone(),
            key: name.key.clone(),
        });
        rest = after;
    }
    Ok((module, rest))
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.module_prefix())?;
        match self.kind {
            Kind::Resource => {}
            Kind::Data => f.write_str("data.")?,
            Kind::Task => f.write_str("task.")?,
        }
        write!(f, "{}.{}.{}", self.server, self.type_name, self.name)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        Address::parse(s)
    }
}

/// What a command names to pick addresses: a module (`module.shop`, everything inside
/// it), a block (`aws.vpc.web`, all its instances) or one instance (`aws.vpc.web[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Everything inside these modules.
    Module(Vec<ModuleStep>),
    /// One address: with a key, that instance; without, the block and all its instances.
    Address(Address),
}

impl Selector {
    /// Parses a selector.
    pub fn parse(text: &str) -> Result<Selector, AddressError> {
        match Address::parse(text) {
            Ok(a) => Ok(Selector::Address(a)),
            Err(e) => {
                // `module.x` alone (or `module.x[0].module.y`) names a module.
                let Ok(segs) = segments(text) else {
                    return Err(e);
                };
                match module_steps(&segs, true) {
                    Ok((module, [])) if !module.is_empty() => Ok(Selector::Module(module)),
                    _ => Err(e),
                }
            }
        }
    }

    /// Whether `address` is selected.
    pub fn matches(&self, address: &Address) -> bool {
        match self {
            Selector::Module(steps) => module_matches(steps, &address.module),
            Selector::Address(a) => {
                a.kind == address.kind
                    && a.server == address.server
                    && a.type_name == address.type_name
                    && a.name == address.name
                    && a.module.len() == address.module.len()
                    && module_matches(&a.module, &address.module)
                    && (a.key.is_none() || a.key == address.key)
            }
        }
    }

    /// Whether the text `address` parses and is selected (texts that are not addresses are
    /// not selected).
    pub fn matches_text(&self, address: &str) -> bool {
        Address::parse(address).is_ok_and(|a| self.matches(&a))
    }
}

/// Whether `actual` starts with `wanted`, where a step of `wanted` without a key matches
/// every instance of that module.
fn module_matches(wanted: &[ModuleStep], actual: &[ModuleStep]) -> bool {
    wanted.len() <= actual.len()
        && wanted
            .iter()
            .zip(actual)
            .all(|(w, a)| w.name == a.name && (w.key.is_none() || w.key == a.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Address {
        let a = Address::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.to_string(), text, "prints as parsed");
        a
    }

    #[test]
    fn every_form_parses_and_prints_back() {
        let a = round_trip("aws.vpc.main");
        assert_eq!(
            (a.kind, a.server.as_str(), a.type_name.as_str()),
            (Kind::Resource, "aws", "vpc")
        );
        assert_eq!(round_trip("aws.vpc.web[12]").key, Some(Key::Index(12)));
        assert_eq!(
            round_trip(r#"aws.vpc.web["a.b]\"c"]"#).key,
            Some(Key::Name("a.b]\"c".into()))
        );
        assert_eq!(round_trip("data.aws.vpc_subnet.private").kind, Kind::Data);
        let t = round_trip("task.opnsense.apply_changes.fw");
        assert_eq!(
            (t.kind, t.type_name.as_str(), t.name.as_str()),
            (Kind::Task, "apply_changes", "fw")
        );
        let dotted = round_trip("task.aws.rds_instance.promote.now[0]");
        assert_eq!(dotted.type_name, "rds_instance.promote");
        let m = round_trip(r#"module.edge[1].module.db["x"].data.aws.vpc.v[2]"#);
        assert_eq!(m.module.len(), 2);
        assert_eq!(m.kind, Kind::Data);
        assert_eq!(m.module_prefix(), r#"module.edge[1].module.db["x"]."#);
        // A module's own `data` or `task` block.
        assert_eq!(round_trip("module.x.task.s.t.n").kind, Kind::Task);
    }

    #[test]
    fn bad_addresses_say_why() {
        for bad in [
            "",
            "aws",
            "aws.vpc",
            "aws.vpc.main.extra",
            "aws.vpc[0].main",
            "aws.vpc.main[",
            "aws.vpc.main[x]",
            "aws.vpc.main[0]x",
            "aws.vpc.main[\"a]",
            "data.aws.vpc",
            "task.s.n",
            "data[0].aws.vpc.x",
            "aws..main",
            "aws.vp c.main",
        ] {
            let e = Address::parse(bad).expect_err(bad);
            assert!(!e.reason.is_empty(), "{bad}");
        }
    }

    #[test]
    fn selectors_pick_modules_blocks_and_instances() {
        let sel = |s: &str| Selector::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let web0 = "aws.vpc.web[0]";
        assert!(sel("aws.vpc.web").matches_text(web0));
        assert!(sel("aws.vpc.web[0]").matches_text(web0));
        assert!(!sel("aws.vpc.web[1]").matches_text(web0));
        assert!(!sel("aws.vpc.we").matches_text(web0));
        assert!(!sel("aws.vpc.web").matches_text("module.m.aws.vpc.web[0]"));
        assert!(sel("module.m").matches_text("module.m.aws.vpc.web[0]"));
        assert!(sel("module.m").matches_text("module.m[3].module.n.data.aws.vpc.x"));
        assert!(sel("module.m[3]").matches_text("module.m[3].aws.vpc.x"));
        assert!(!sel("module.m[2]").matches_text("module.m[3].aws.vpc.x"));
        assert!(!sel("module.m").matches_text("module.mm.aws.vpc.x"));
        assert!(!sel("aws.vpc.web").matches_text("data.aws.vpc.web"));
        assert!(Selector::parse("module").is_err());
    }
}
