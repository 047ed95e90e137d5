//! Applying the fixes diagnostics carry: the one implementation behind `mcpoc fix` and the
//! language server's "fix all" action (each single fix is also a quick fix of its own).
//!
//! A diagnostic's first fix is its machine-applicable one (a did-you-mean rename of an
//! attribute, type, reference or function). Fixes are applied to one file at a time, in
//! span order; a fix that overlaps one already chosen is left for the next round (after a
//! re-check, its diagnostic may be gone or its span moved).

use crate::{Diagnostic, FileId, Fix};

/// The fixes to apply to `file`: the first fix of each of its diagnostics, sorted by span,
/// without duplicates (two diagnostics suggesting the same edit) and without overlaps.
pub fn select<'a>(diags: impl IntoIterator<Item = &'a Diagnostic>, file: FileId) -> Vec<&'a Fix> {
    let mut fixes: Vec<&Fix> = diags
        .into_iter()
        .filter(|d| d.file == file)
        .filter_map(|d| d.fixes.first())
        .collect();
    fixes.sort_by_key(|f| (f.span.start, f.span.end));
    let mut out: Vec<&Fix> = Vec::new();
    for f in fixes {
        match out.last() {
            Some(last) if last.span == f.span && last.replacement == f.replacement => {}
            // Insertions at the same offset, or a range starting inside the previous one.
            Some(last) if f.span.start < last.span.end || f.span.start == last.span.start => {}
            _ => out.push(f),
        }
    }
    out
}

/// `text` with `fixes` applied. The fixes must be sorted and must not overlap (as
/// [`select`] returns them); one whose span is out of bounds or not on character
/// boundaries is skipped.
pub fn apply(text: &str, fixes: &[&Fix]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0usize;
    for f in fixes {
        let (start, end) = (f.span.start as usize, f.span.end as usize);
        if start < at
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            continue;
        }
        out.push_str(text.get(at..start).unwrap_or(""));
        out.push_str(&f.replacement);
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Span, codes};

    fn diag(file: FileId, start: usize, end: usize, to: &str) -> Diagnostic {
        Diagnostic::error(codes::E0103, file, Span::new(start, end), "x").with_fix(Fix {
            title: format!("replace with `{to}`"),
            span: Span::new(start, end),
            replacement: to.into(),
        })
    }

    #[test]
    fn applies_in_order_skipping_duplicates_overlaps_and_other_files() {
        let text = "subnet = a\nsecurityGroups = b\n";
        let f = FileId(0);
        let diags = vec![
            diag(f, 11, 25, "security_group_ids"),
            diag(f, 0, 6, "subnet_id"),
            diag(f, 0, 6, "subnet_id"),
            diag(f, 2, 8, "overlapping"),
            diag(FileId(1), 0, 6, "elsewhere"),
            Diagnostic::error(codes::E0103, f, Span::new(9, 10), "no fix"),
        ];
        let fixes = select(&diags, f);
        assert_eq!(fixes.len(), 2);
        assert_eq!(
            apply(text, &fixes),
            "subnet_id = a\nsecurity_group_ids = b\n"
        );
    }

    #[test]
    fn out_of_bounds_fixes_are_skipped() {
        let d = diag(FileId(0), 3, 99, "x");
        let fixes = select([&d], FileId(0));
        assert_eq!(apply("abc", &fixes), "abc");
    }
}
