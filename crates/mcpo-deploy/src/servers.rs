//! Reading `server` blocks out of a parsed workspace, the schema checks of `check`
//! (E0301-E0303), and the declarations the session connects to.
//!
//! This holds a deliberately small evaluator: a `server` block's attributes may be
//! literals (strings, numbers, booleans, lists, objects), `env("NAME")` calls and
//! templates that interpolate them (`"Bearer ${env("TOKEN")}"`). Anything else is
//! reported as E0303. The checker is taking these checks over, so that the language
//! server reports them too; then this module shrinks to mapping its declarations to
//! server specs.

use crate::files::io_reason;
use mcpo_diagnostics::{Diagnostic, FileId, SourceMap, Sources, Span, codes};
use mcpo_mcp::{HttpSpec, ServerSpec, Source, StdioSpec, Transport};
use mcpo_syntax::ast::{BlockLabel, BodyItem, Expr, ExprKind, SourceFile, Template, TemplatePart};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One `server` block.
#[derive(Debug, Clone)]
pub struct ServerBlock {
    /// The label (`"aws"`).
    pub name: String,
    /// Its file.
    pub file: FileId,
    /// The block's first line (type and label), for diagnostics.
    pub header: Span,
    /// The resolved declaration; `None` when the block names no transport (the server
    /// then comes from discovery).
    pub spec: Option<ServerSpec>,
}

/// Reads environment variables for `env("NAME")`.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Finds every top-level `server` block and evaluates its attributes; problems become
/// E0303 diagnostics and the block is skipped.
pub fn server_blocks(
    files: &[(FileId, &SourceFile)],
    sources: &Sources,
    env: EnvLookup<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ServerBlock> {
    let mut out = Vec::new();
    for (id, file) in files {
        for item in &file.body.items {
            let BodyItem::Block(block) = item else {
                continue;
            };
            if block.ty.name != "server" {
                continue;
            }
            let header = block.ty.span.cover(
                block
                    .labels
                    .last()
                    .map(BlockLabel::span)
                    .unwrap_or(block.ty.span),
            );
            let [label] = block.labels.as_slice() else {
                diags.push(
                    Diagnostic::error(codes::E0303, *id, header, "invalid server block")
                        .with_primary_label("a server block has exactly one label, its name")
                        .with_help("write `server \"name\" { ... }`"),
                );
                continue;
            };
            let name = label.value().to_string();
            if let Err(e) = mcpo_schema::validate_server_name(&name) {
                diags.push(
                    Diagnostic::error(codes::E0303, *id, label.span(), "invalid server block")
                        .with_primary_label(e),
                );
                continue;
            }
            let mut attrs: BTreeMap<String, (Value, Span)> = BTreeMap::new();
            let mut failed = false;
            for item in &block.body.items {
                let BodyItem::Attribute(a) = item else {
                    continue;
                };
                match eval(&a.value, env) {
                    Ok(v) => {
                        attrs.insert(a.name.name.clone(), (v, a.span));
                    }
                    Err((span, why)) => {
                        diags.push(
                            Diagnostic::error(codes::E0303, *id, span, "invalid server block")
                                .with_primary_label(why)
                                .with_help(
                                    "server blocks take literals, `env(\"NAME\")` and templates using them",
                                ),
                        );
                        failed = true;
                    }
                }
            }
            if failed {
                continue;
            }
            let line = line_of(sources.text(*id), block.span.start as usize);
            let source = Source::ServerBlock {
                location: format!("{}:{line}", sources.name(*id)),
            };
            match to_spec(&name, attrs, source) {
                Ok(spec) => out.push(ServerBlock {
                    name,
                    file: *id,
                    header,
                    spec,
                }),
                Err((span, why)) => diags.push(
                    Diagnostic::error(
                        codes::E0303,
                        *id,
                        span.unwrap_or(header),
                        "invalid server block",
                    )
                    .with_primary_label(why),
                ),
            }
        }
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
}

type EvalError = (Span, String);

fn eval(expr: &Expr, env: EnvLookup<'_>) -> Result<Value, EvalError> {
    let unsupported = || {
        (
            expr.span,
            "only literals, `env(\"NAME\")` and templates can be used here for now".to_string(),
        )
    };
    match &expr.kind {
        ExprKind::Null => Ok(Value::Null),
        ExprKind::Bool(b) => Ok(Value::Bool(*b)),
        ExprKind::Number(n) => {
            if let Ok(i) = n.parse::<i64>() {
                Ok(Value::from(i))
            } else {
                n.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| (expr.span, format!("`{n}` is not a number")))
            }
        }
        ExprKind::Template(t) => eval_template(t, env).map(Value::String),
        ExprKind::Heredoc(h) => eval_template(&h.template, env).map(Value::String),
        ExprKind::Tuple(items) => items
            .iter()
            .map(|i| eval(i, env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        ExprKind::Object(items) => {
            let mut map = serde_json::Map::new();
            for item in items {
                let key = match &item.key.kind {
                    ExprKind::Variable(id) => id.name.clone(),
                    _ => match eval(&item.key, env)? {
                        Value::String(s) => s,
                        _ => {
                            return Err((
                                item.key.span,
                                "object keys must be names or strings".into(),
                            ));
                        }
                    },
                };
                map.insert(key, eval(&item.value, env)?);
            }
            Ok(Value::Object(map))
        }
        ExprKind::Parens(inner) => eval(inner, env),
        ExprKind::FunctionCall(call) if call.namespace.is_empty() && call.name.name == "env" => {
            let [arg] = call.args.as_slice() else {
                return Err((
                    expr.span,
                    "`env` takes one argument, a variable name".into(),
                ));
            };
            match eval(arg, env)? {
                Value::String(name) => Ok(Value::String(env(&name).unwrap_or_default())),
                _ => Err((arg.span, "`env` takes a variable name (a string)".into())),
            }
        }
        _ => Err(unsupported()),
    }
}

fn eval_template(t: &Template, env: EnvLookup<'_>) -> Result<String, EvalError> {
    let mut out = String::new();
    for part in &t.parts {
        match part {
            TemplatePart::Literal { value, .. } => out.push_str(value),
            TemplatePart::Interpolation { expr, .. } => match eval(expr, env)? {
                Value::String(s) => out.push_str(&s),
                Value::Null => {}
                other => out.push_str(&other.to_string()),
            },
            TemplatePart::If { span, .. } | TemplatePart::For { span, .. } => {
                return Err((
                    *span,
                    "template directives cannot be used here for now".into(),
                ));
            }
        }
    }
    Ok(out)
}

type SpecError = (Option<Span>, String);

fn take_string(
    attrs: &mut BTreeMap<String, (Value, Span)>,
    key: &str,
) -> Result<Option<String>, SpecError> {
    match attrs.remove(key) {
        None => Ok(None),
        Some((Value::String(s), _)) => Ok(Some(s)),
        Some((_, span)) => Err((Some(span), format!("`{key}` must be a string"))),
    }
}

fn take_strings(
    attrs: &mut BTreeMap<String, (Value, Span)>,
    key: &str,
) -> Result<Vec<String>, SpecError> {
    match attrs.remove(key) {
        None => Ok(Vec::new()),
        Some((Value::Array(items), span)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err((Some(span), format!("`{key}` must be a list of strings"))),
            })
            .collect(),
        Some((_, span)) => Err((Some(span), format!("`{key}` must be a list of strings"))),
    }
}

fn take_map(
    attrs: &mut BTreeMap<String, (Value, Span)>,
    key: &str,
) -> Result<BTreeMap<String, String>, SpecError> {
    match attrs.remove(key) {
        None => Ok(BTreeMap::new()),
        Some((Value::Object(m), _)) => Ok(m
            .into_iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k, s)
            })
            .collect()),
        Some((_, span)) => Err((Some(span), format!("`{key}` must be an object of strings"))),
    }
}

fn take_u64(
    attrs: &mut BTreeMap<String, (Value, Span)>,
    key: &str,
) -> Result<Option<u64>, SpecError> {
    match attrs.remove(key) {
        None => Ok(None),
        Some((Value::Number(n), span)) => n.as_u64().filter(|n| *n > 0).map(Some).ok_or((
            Some(span),
            format!("`{key}` must be a positive whole number"),
        )),
        Some((_, span)) => Err((Some(span), format!("`{key}` must be a number"))),
    }
}

fn to_spec(
    name: &str,
    mut attrs: BTreeMap<String, (Value, Span)>,
    source: Source,
) -> Result<Option<ServerSpec>, SpecError> {
    let command_span = attrs.get("command").map(|(_, s)| *s);
    let command = take_string(&mut attrs, "command")?;
    let url = take_string(&mut attrs, "url")?;
    let args = take_strings(&mut attrs, "args")?;
    let env = take_map(&mut attrs, "env")?;
    let headers = take_map(&mut attrs, "headers")?;
    let cwd = take_string(&mut attrs, "cwd")?;
    let max_concurrency = take_u64(&mut attrs, "max_concurrency")?;
    let timeout_ms = take_u64(&mut attrs, "timeout_ms")?;
    let transport = match (command, url) {
        (Some(command), None) => Transport::Stdio(StdioSpec {
            command,
            args,
            env,
            cwd: cwd.map(PathBuf::from),
        }),
        (None, Some(url)) => Transport::Http(HttpSpec { url, headers }),
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err((
                command_span,
                "a server has either `command` (stdio) or `url` (HTTP), not both".into(),
            ));
        }
    };
    Ok(Some(ServerSpec {
        name: name.to_string(),
        transport,
        max_concurrency: max_concurrency.map(|n| n as usize),
        timeout: timeout_ms.map(Duration::from_millis),
        source,
    }))
}

/// The workspace root for a list of paths: the first directory named, or the directory
/// of the first file.
pub fn root_of(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::from(".");
    };
    if first.is_dir() {
        first.clone()
    } else {
        match first.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// Every server of the workspace: `server` blocks with a transport, and for those
/// without one the discovered declaration of that name.
pub fn used_servers(
    blocks: &[ServerBlock],
    registry: &mcpo_mcp::discovery::Registry,
) -> Vec<(ServerBlock, Option<ServerSpec>)> {
    blocks
        .iter()
        .map(|b| {
            let spec = b.spec.clone().or_else(|| registry.get(&b.name).cloned());
            (b.clone(), spec)
        })
        .collect()
}

/// Loads and parses the workspace under `paths` and resolves its `server` blocks.
/// Returns the sources (for rendering), the blocks, and the diagnostics so far.
pub fn load(paths: &[PathBuf]) -> Result<(Sources, Vec<ServerBlock>, Vec<Diagnostic>), String> {
    let files = crate::files::collect(paths).map_err(|e| e.to_string())?;
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let loaded = crate::files::load(&files, &mut sources, &mut diags)?;
    let parsed: Vec<_> = loaded
        .iter()
        .map(|f| (f.id, mcpo_syntax::parse(sources.text(f.id), f.id)))
        .collect();
    for (_, p) in &parsed {
        diags.extend(p.diagnostics.iter().cloned());
    }
    let refs: Vec<(FileId, &SourceFile)> = parsed.iter().map(|(id, p)| (*id, &p.file)).collect();
    let env = |n: &str| std::env::var(n).ok();
    let blocks = server_blocks(&refs, &sources, &env, &mut diags);
    Ok((sources, blocks, diags))
}

/// The schema checks of `mcpoc check`: every `server` block must have a pulled schema
/// that matches its declaration (E0301 missing, E0302 stale). Reads only `mcpo.lock` and
/// `.mcpo/schemas/`; never starts a server.
pub fn check_schemas(
    root: &Path,
    files: &[(FileId, &SourceFile)],
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
    notes: &mut Vec<String>,
) {
    let env = |n: &str| std::env::var(n).ok();
    let blocks = server_blocks(files, sources, &env, diags);
    if blocks.is_empty() {
        return;
    }
    let store = mcpo_schema::DiskFiles::new(root);
    let lock = match mcpo_schema::Files::read(&store, Path::new(mcpo_schema::LOCK_FILE)) {
        Ok(Some(text)) => match mcpo_schema::Lockfile::from_file_text(&text) {
            Ok(l) => Some(l),
            Err(e) => {
                notes.push(format!("{e}; run `mcpoc schema pull`"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            notes.push(format!(
                "cannot read `{}`: {}",
                mcpo_schema::LOCK_FILE,
                io_reason(&e)
            ));
            None
        }
    };
    let need_discovery = blocks.iter().any(|b| b.spec.is_none());
    let registry = if need_discovery {
        mcpo_mcp::discovery::discover(
            &mcpo_mcp::discovery::RealEnvironment,
            &mcpo_mcp::discovery::DiscoverOptions {
                workspace_root: root.to_path_buf(),
                ..Default::default()
            },
        )
    } else {
        mcpo_mcp::discovery::Registry::default()
    };
    for (block, spec) in used_servers(&blocks, &registry) {
        let Some(spec) = spec else {
            diags.push(
                Diagnostic::error(codes::E0301, block.file, block.header, "server schema not pulled")
                    .with_primary_label(format!(
                        "server `{}` has no `command` or `url` and was not found by discovery",
                        block.name
                    ))
                    .with_help("add `command` or `url`, or declare it in mcpo.toml, then run `mcpoc schema pull`"),
            );
            continue;
        };
        let fresh = mcpo_schema::freshness(&store, lock.as_ref(), &block.name, &spec.identity());
        match fresh {
            mcpo_schema::Freshness::Fresh(_) => {}
            mcpo_schema::Freshness::Missing { reason } => diags.push(
                Diagnostic::error(
                    codes::E0301,
                    block.file,
                    block.header,
                    "server schema not pulled",
                )
                .with_primary_label(format!("no pulled schema for `{}`: {reason}", block.name))
                .with_help(format!(
                    "run `{}`",
                    mcpo_schema::Freshness::fix_command(&block.name)
                )),
            ),
            mcpo_schema::Freshness::Stale { changes } => diags.push(
                Diagnostic::error(
                    codes::E0302,
                    block.file,
                    block.header,
                    "server schema is stale",
                )
                .with_primary_label(format!(
                    "the schema of `{}` was pulled with a different declaration: {}",
                    block.name,
                    changes.join("; ")
                ))
                .with_help(format!(
                    "run `{}`",
                    mcpo_schema::Freshness::fix_command(&block.name)
                )),
            ),
        }
    }
}

/// What each server of `blocks` is connected with: its own `command` or `url`, else the
/// declaration of that name found by discovery (run only when a block needs it). Blocks
/// that neither declare nor discover a transport are left out: their steps fail with
/// "not declared".
pub fn specs(blocks: &[ServerBlock], root: &Path) -> BTreeMap<String, ServerSpec> {
    let registry = if blocks.iter().any(|b| b.spec.is_none()) {
        mcpo_mcp::discovery::discover(
            &mcpo_mcp::discovery::RealEnvironment,
            &mcpo_mcp::discovery::DiscoverOptions {
                workspace_root: root.to_path_buf(),
                ..Default::default()
            },
        )
    } else {
        mcpo_mcp::discovery::Registry::default()
    };
    used_servers(blocks, &registry)
        .into_iter()
        .filter_map(|(b, spec)| Some((b.name, spec?)))
        .collect()
}
