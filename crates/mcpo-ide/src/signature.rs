//! Signature help: the signature of the function call around the cursor and which
//! argument is being written.

use mcpo_sema::{SourceFile, Workspace};

/// The call being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHelp {
    /// The whole signature, e.g. `cidrsubnet(string, number, number)`.
    pub label: String,
    /// Each parameter as it appears in `label`.
    pub params: Vec<String>,
    /// The index of the argument the cursor is in.
    pub active: usize,
}

/// Finds the innermost unclosed `name(` before `offset` (outside strings) and counts the
/// commas at its level. Works on text, since an unfinished call does not parse.
fn open_call(text: &str) -> Option<(String, usize)> {
    let mut depth = 0usize;
    let mut commas = 0usize;
    let bytes: Vec<char> = text.chars().collect();
    let mut i = bytes.len();
    let mut in_string = false;
    while i > 0 {
        i -= 1;
        let c = *bytes.get(i)?;
        if c == '"' && (i == 0 || bytes.get(i - 1) != Some(&'\\')) {
            in_string = !in_string;
            continue;
        }
        if in_string {
            continue;
        }
        match c {
            ')' | ']' | '}' => depth += 1,
            '[' | '{' if depth > 0 => depth -= 1,
            '[' | '{' => return None,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let name: String = bytes
                    .get(..i)?
                    .iter()
                    .rev()
                    .take_while(|c| c.is_alphanumeric() || **c == '_' || **c == '-' || **c == ':')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                return (!name.is_empty()).then_some((name, commas));
            }
            ',' if depth == 0 => commas += 1,
            '\n' if depth == 0 && commas == 0 && i + 1 < bytes.len() => {}
            _ => {}
        }
    }
    None
}

/// The signature help at `offset`.
pub fn signature_help(
    db: &dyn salsa::Database,
    ws: Workspace,
    file: SourceFile,
    offset: u32,
) -> Option<SignatureHelp> {
    let text = file.text(db).get(..offset as usize)?;
    let (name, active) = open_call(text)?;
    let (label, params) = if let Some(sig) = mcpo_sema::lookup(&name) {
        let label = sig.display(&name);
        let inner = label
            .get(name.len() + 1..label.len().saturating_sub(1))
            .unwrap_or("");
        let params = inner
            .split(", ")
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        (label, params)
    } else {
        let d = mcpo_sema::index(db, ws).get(db, &format!("function.{name}"))?;
        let params: Vec<String> = d
            .params
            .iter()
            .map(|(n, t, _)| format!("{n}: {t}"))
            .collect();
        (format!("{name}({})", params.join(", ")), params)
    };
    let last = params.len().saturating_sub(1);
    let variadic = params.last().is_some_and(|p| p.ends_with("..."));
    Some(SignatureHelp {
        label,
        active: if variadic { active.min(last) } else { active },
        params,
    })
}
