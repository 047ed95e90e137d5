//! Input variables: the one place their values enter a plan. A value given on the command
//! line, in a variable file or the environment (else the default) is converted to the
//! variable's declared type the way HCL converts (`"5"` to a number, `5` to a string,
//! attributes an object type does not declare dropped); what cannot be converted is an
//! error at the declaration that never shows a sensitive value. Then the `validation`
//! blocks run.

use super::*;

/// Adds a config node per variable and returns their values (errors go to `b.diags`).
pub(super) fn variables(
    b: &mut Builder<'_>,
    var_blocks: &[(FileId, &Block)],
    inputs: &PlanInputs<'_>,
) -> BTreeMap<String, Val> {
    for (fid, block) in var_blocks {
        let Some(name) = block.labels.first().map(|l| l.value().to_string()) else {
            continue;
        };
        let mut n = b.node(
            format!("var.{name}"),
            Kind::Var,
            "",
            *fid,
            block
                .ty
                .span
                .cover(block.labels.first().map_or(block.ty.span, |l| l.span())),
        );
        n.sensitive = is_true(attr(block, "sensitive"));
        b.add(n);
    }
    let mut vars = BTreeMap::new();
    let empty = BTreeMap::new();
    for (fid, block) in var_blocks {
        let Some(name) = block.labels.first().map(|l| l.value().to_string()) else {
            continue;
        };
        let label = block.labels.first().map_or(block.ty.span, |l| l.span());
        let key = format!("var.{name}");
        let ty = attr(block, "type").and_then(|t| mcpo_sema::types::parse_type_expr(t).ok());
        let sensitive = is_true(attr(block, "sensitive"));
        let scope = Scope::new(&empty, &b.servers, &b.functions, inputs.io);
        let given = inputs.variables.get(&name);
        let value = if let Some(raw) = given {
            Some(variable_from_text(raw, ty.as_ref(), inputs.io))
        } else if let Some(d) = attr(block, "default") {
            match eval::eval(d, &scope) {
                Ok(v) => Some(v),
                Err(e) => {
                    b.diags.push(eval_diag(*fid, e));
                    None
                }
            }
        } else {
            None
        };
        let Some(value) = value else {
            b.diags.push(
                Diagnostic::error(codes::E0403, *fid, label, "variable has no value")
                    .with_primary_label(format!("`{name}` has no default and was not given"))
                    .with_help(format!("give it with `-var {name}=...` or the environment variable MCPO_VAR_{name}, or add a `default`")),
            );
            continue;
        };
        let value = match ty.as_ref() {
            Some(t) => conform(value, t, sensitive),
            None => Ok(value),
        };
        let mut value = match value {
            Ok(v) => v,
            Err(why) => {
                let whose = if given.is_some() {
                    "the value given"
                } else {
                    "the default"
                };
                b.diags.push(
                    Diagnostic::error(
                        codes::E0408,
                        *fid,
                        label,
                        "variable value of the wrong type",
                    )
                    .with_primary_label(format!(
                        "{whose} for `{name}` does not fit its type: {why}"
                    ))
                    .with_help(format!(
                        "give `{name}` a value of type {}",
                        ty.as_ref()
                            .map_or_else(|| "any".to_string(), ToString::to_string)
                    )),
                );
                continue;
            }
        };
        if sensitive {
            value = value.mark_sensitive();
        }
        validate(b, *fid, block, &name, &key, &value, inputs);
        vars.insert(key, value);
    }
    vars
}

/// Runs the `validation` blocks of variable `name`.
fn validate(
    b: &mut Builder<'_>,
    fid: FileId,
    block: &Block,
    name: &str,
    key: &str,
    value: &Val,
    inputs: &PlanInputs<'_>,
) {
    let one = BTreeMap::from([(key.to_string(), value.clone())]);
    for item in &block.body.items {
        let BodyItem::Block(v) = item else { continue };
        if v.ty.name != "validation" {
            continue;
        }
        let Some(cond) = attr(v, "condition") else {
            continue;
        };
        let scope = Scope::new(&one, &b.servers, &b.functions, inputs.io);
        match eval::eval(cond, &scope) {
            Ok(Val::Bool(false)) => {
                let message = match attr(v, "message").map(|m| eval::eval(m, &scope)) {
                    Some(Ok(Val::String(s))) => s,
                    _ => "the validation condition is false".to_string(),
                };
                b.diags.push(
                    Diagnostic::error(codes::E0404, fid, cond.span, "variable validation failed")
                        .with_primary_label(format!("var.{name}: {message}")),
                );
            }
            Ok(_) => {}
            Err(e) => b.diags.push(eval_diag(fid, e)),
        }
    }
}

/// A variable's text from the command line or the environment as a value: as a string
/// when the type wants one, else parsed as an mcpo literal (`[1, 2]`, `{a = 1}`, `true`),
/// else the text itself (the type conversion then says what is wrong).
fn variable_from_text(raw: &str, ty: Option<&Ty>, io: &dyn Io) -> Val {
    let wants_string = matches!(
        ty.map(Ty::strip_sensitive),
        Some(Ty::String) | Some(Ty::Enum(_))
    );
    if wants_string {
        return Val::String(raw.to_string());
    }
    let src = format!("v = {raw}\n");
    let parsed = mcpo_syntax::parse(&src, FileId(0));
    if parsed.diagnostics.is_empty()
        && let Some(BodyItem::Attribute(a)) = parsed.file.body.items.first()
    {
        let empty = BTreeMap::new();
        let (servers, functions) = (BTreeSet::new(), BTreeMap::new());
        let scope = Scope::new(&empty, &servers, &functions, io);
        if let Ok(v) = eval::eval(&a.value, &scope) {
            return v;
        }
    }
    Val::String(raw.to_string())
}

/// What kind of value `v` is, in words, never its content.
fn kind(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "a bool",
        Val::Number(_) => "a number",
        Val::String(_) => "a string",
        Val::List(_) => "a list",
        Val::Map(_) => "an object",
        Val::Unknown => "unknown",
        Val::Sensitive(inner) => kind(inner),
    }
}

/// `v` in words for an error: its content when it may be shown, else only its kind.
fn shown(v: &Val, secret: bool) -> String {
    if secret {
        format!("{} (sensitive, not shown)", kind(v))
    } else {
        v.display()
    }
}

/// Converts `v` to `ty` as HCL does, or says why it cannot (never showing the value when
/// `secret`).
fn conform(v: Val, ty: &Ty, secret: bool) -> Result<Val, String> {
    let secret = secret || v.is_sensitive();
    let v = match v {
        Val::Sensitive(inner) => *inner,
        other => other,
    };
    let wrong =
        |v: &Val, want: &str| format!("{want} is required, but {} is not one", shown(v, secret));
    match (ty, v) {
        (Ty::Any, v) | (_, v @ Val::Unknown) | (_, v @ Val::Null) => Ok(v),
        (Ty::Sensitive(inner), v) => conform(v, inner, true),
        (Ty::String, Val::String(s)) => Ok(Val::String(s)),
        (Ty::String, Val::Number(n)) => Ok(Val::String(Val::Number(n).display())),
        (Ty::String, Val::Bool(b)) => Ok(Val::String(b.to_string())),
        (Ty::Number, Val::Number(n)) => Ok(Val::Number(n)),
        (Ty::Number, Val::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Val::Number(n)),
            _ => Err(wrong(&Val::String(s), "a number")),
        },
        (Ty::Bool, Val::Bool(b)) => Ok(Val::Bool(b)),
        (Ty::Bool, Val::String(s)) if s == "true" || s == "false" => Ok(Val::Bool(s == "true")),
        (Ty::List(item) | Ty::Set(item), Val::List(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, x)| conform(x, item, secret).map_err(|e| format!("item {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Val::List),
        (Ty::Tuple(types), Val::List(items)) => {
            if types.len() != items.len() {
                return Err(format!(
                    "a tuple of {} items is required, but the list has {}",
                    types.len(),
                    items.len()
                ));
            }
            items
                .into_iter()
                .zip(types)
                .enumerate()
                .map(|(i, (x, t))| conform(x, t, secret).map_err(|e| format!("item {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Val::List)
        }
        (Ty::Map(item), Val::Map(m)) => m
            .into_iter()
            .map(|(k, x)| {
                let c = conform(x, item, secret).map_err(|e| format!("`{k}`: {e}"))?;
                Ok((k, c))
            })
            .collect::<Result<BTreeMap<_, _>, String>>()
            .map(Val::Map),
        (Ty::Object(o), Val::Map(mut m)) => {
            let mut out = BTreeMap::new();
            for (k, a) in &o.attrs {
                match m.remove(k) {
                    Some(x) => {
                        let c = conform(x, &a.ty, secret).map_err(|e| format!("`{k}`: {e}"))?;
                        out.insert(k.clone(), c);
                    }
                    None if a.required => {
                        return Err(format!("the object has no attribute `{k}`"));
                    }
                    None => {
                        out.insert(k.clone(), Val::Null);
                    }
                }
            }
            // Attributes the type does not declare are dropped, as HCL converts; an open
            // object keeps them with their own type.
            if let Some(extra) = &o.extra {
                for (k, x) in m {
                    let c = conform(x, extra, secret).map_err(|e| format!("`{k}`: {e}"))?;
                    out.insert(k, c);
                }
            }
            Ok(Val::Map(out))
        }
        (Ty::Enum(allowed), v) => {
            let json = v.to_json();
            if json.as_ref().is_some_and(|j| allowed.contains(j)) {
                Ok(v)
            } else {
                let choices: Vec<String> = allowed.iter().map(ToString::to_string).collect();
                Err(format!(
                    "one of {} is required, but {} is not one",
                    choices.join(", "),
                    shown(&v, secret)
                ))
            }
        }
        (Ty::Union(types), v) => types
            .iter()
            .find_map(|t| conform(v.clone(), t, secret).ok())
            .ok_or_else(|| format!("{} fits none of the types {ty}", shown(&v, secret))),
        (ty, v) => Err(format!(
            "{} is required, but {} was given",
            describe(ty),
            shown(&v, secret)
        )),
    }
}

/// A type in words for an error (`a list`, `an object`).
fn describe(ty: &Ty) -> String {
    match ty {
        Ty::String => "a string".into(),
        Ty::Number => "a number".into(),
        Ty::Bool => "a bool".into(),
        Ty::List(_) | Ty::Set(_) | Ty::Tuple(_) => "a list".into(),
        Ty::Map(_) | Ty::Object(_) => "an object".into(),
        other => format!("a value of type {other}"),
    }
}

/// A runbook param's text as a value, the way a variable's text is read.
pub(super) fn text_value(raw: &str, ty: Option<&Ty>, io: &dyn Io) -> Val {
    variable_from_text(raw, ty, io)
}

/// A runbook param's value converted to its declared type, the way a variable's is.
pub(super) fn conform_param(v: Val, ty: &Ty) -> Result<Val, String> {
    conform(v, ty, false)
}
