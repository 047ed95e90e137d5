//! Code actions: the checker's did-you-mean fixes (one by one, and all of a file's at once
//! through `mcpo_diagnostics::fix`, as `mcpoc fix` applies them), and adding the required
//! attributes a block is missing.

use crate::{TextEdit, at};
use mcpo_diagnostics::{Span, codes};
use mcpo_schema::Ty;
use mcpo_sema::{SourceFile, Workspace};
use mcpo_syntax::ast::{Block, BodyItem};

/// One code action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// What it does.
    pub title: String,
    /// The edits.
    pub edits: Vec<TextEdit>,
    /// The code of the diagnostic it fixes; empty for the action fixing all of a file's.
    pub fixes: &'static str,
}

/// The fixes for the diagnostics of `file` that overlap `span`.
pub fn code_actions(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    span: Span,
) -> Vec<Action> {
    let id = file.id(db);
    let mut out = Vec::new();
    let mut diags: Vec<_> = mcpo_sema::parse(db, file).diagnostics.clone();
    diags.extend(mcpo_sema::check_file(db, ws, file).iter().cloned());
    let all = mcpo_diagnostics::fix::select(&diags, id);
    let fix_all = (all.len() > 1).then(|| Action {
        title: format!("apply all {} did-you-mean fixes in this file", all.len()),
        edits: all
            .iter()
            .map(|f| TextEdit {
                file: id,
                span: f.span,
                text: f.replacement.clone(),
            })
            .collect(),
        fixes: "",
    });
    for d in diags {
        if d.file != id || d.span.end < span.start || span.end < d.span.start {
            continue;
        }
        for f in &d.fixes {
            out.push(Action {
                title: f.title.clone(),
                edits: vec![TextEdit {
                    file: id,
                    span: f.span,
                    text: f.replacement.clone(),
                }],
                fixes: d.code.as_str(),
            });
        }
        if d.code == codes::E0200
            && let Some(a) = add_missing(db, ws, file, d.span)
        {
            out.push(a);
        }
    }
    // Offered next to any single did-you-mean fix, where it is looked for.
    if out.iter().any(|a| a.fixes != codes::E0200.as_str()) {
        out.extend(fix_all);
    }
    out
}

/// Inserts `name = <placeholder>` for each missing required attribute of the block whose
/// E0200 is reported at `at_span`.
fn add_missing(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    at_span: Span,
) -> Option<Action> {
    let parsed = mcpo_sema::parse(db, file);
    let mut blocks: Vec<&Block> = Vec::new();
    let mut items = &parsed.file.body.items;
    // The E0200 span is a top block's first label, or a nested block's type.
    loop {
        let b = items.iter().find_map(|i| match i {
            BodyItem::Block(b) if at::holds(b.span, at_span.start) => Some(b),
            _ => None,
        })?;
        blocks.push(b);
        let here = if blocks.len() == 1 {
            b.labels.first().map(|l| l.span())
        } else {
            Some(b.ty.span)
        };
        if here == Some(at_span) {
            break;
        }
        items = &b.body.items;
    }
    let block = *blocks.last()?;
    let close = block.close_brace?;
    let ty = at::body_type(db, ws, &blocks)?;
    let o = ty.as_object()?;
    let set: Vec<&str> = block
        .body
        .items
        .iter()
        .filter_map(|i| match i {
            BodyItem::Attribute(a) => Some(a.name.name.as_str()),
            BodyItem::Block(b) => Some(b.ty.name.as_str()),
            BodyItem::Error(_) => None,
        })
        .collect();
    let missing: Vec<(&String, &mcpo_schema::Attr)> = o
        .attrs
        .iter()
        .filter(|(n, a)| a.required && !set.contains(&n.as_str()))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let text = file.text(db);
    let line_start = text
        .get(..block.span.start as usize)?
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let indent: String = text
        .get(line_start..)?
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let width = missing.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut insert = String::new();
    let before_close = text.get(..close.start as usize)?;
    // After the last line of the body; a block closed on its header line gets a newline.
    let at = if before_close.trim_end_matches([' ', '\t']).ends_with('\n') {
        before_close.trim_end_matches([' ', '\t']).len()
    } else {
        insert.push('\n');
        close.start as usize
    };
    for (n, a) in &missing {
        insert.push_str(&format!("{indent}  {n:<width$} = {}\n", placeholder(&a.ty)));
    }
    if !before_close.trim_end_matches([' ', '\t']).ends_with('\n') {
        insert.push_str(&indent);
    }
    let names: Vec<&str> = missing.iter().map(|(n, _)| n.as_str()).collect();
    Some(Action {
        title: format!(
            "add missing required attribute{} {}",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ),
        edits: vec![TextEdit {
            file: file.id(db),
            span: Span::empty(at),
            text: insert,
        }],
        fixes: codes::E0200.as_str(),
    })
}

/// A value of the type to start from.
fn placeholder(ty: &Ty) -> String {
    match ty.strip_sensitive() {
        Ty::Bool => "false".into(),
        Ty::Number => "0".into(),
        Ty::List(_) | Ty::Set(_) | Ty::Tuple(_) => "[]".into(),
        Ty::Map(_) | Ty::Object(_) => "{}".into(),
        Ty::Enum(v) => v.first().map_or_else(|| "null".into(), ToString::to_string),
        Ty::Union(v) => v.first().map_or_else(|| "null".into(), placeholder),
        _ => "\"\"".into(),
    }
}
