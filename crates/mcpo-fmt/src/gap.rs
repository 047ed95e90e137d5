//! What lies between two items: comments (trailing or on their own lines), blank lines,
//! line breaks and commas.

use mcpo_syntax::ast::Comment;

/// Comments that sit together on one source line, between two items.
#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    /// Indices into the sorted comment list.
    pub comments: Vec<usize>,
    /// Whether a blank line precedes the group.
    pub blank_before: bool,
}

/// The analysis of the text between two items (or between a bracket and an item).
#[derive(Debug, Clone, Default)]
pub(crate) struct Gap {
    /// Comments on the same line as the end of the previous item.
    pub trailing: Vec<usize>,
    /// Comments on lines of their own, in order.
    pub groups: Vec<Group>,
    /// Whether a blank line separates the last thing in the gap from the next item.
    pub blank_before_next: bool,
    /// Line breaks outside comments.
    pub newlines: usize,
    /// Whether a comma appears outside comments.
    pub comma: bool,
}

impl Gap {
    /// Whether the gap holds any comment.
    pub fn has_comments(&self) -> bool {
        !self.trailing.is_empty() || !self.groups.is_empty()
    }
}

/// Analyses `src[start..end]`, whose comments are `comments[first..last]`.
pub(crate) fn analyse(
    src: &str,
    comments: &[Comment],
    range: std::ops::Range<usize>,
    start: usize,
    end: usize,
) -> Gap {
    let mut gap = Gap::default();
    let mut pos = start;
    let mut line_broken = false;
    for idx in range {
        let Some(c) = comments.get(idx) else { continue };
        let cstart = c.span.start as usize;
        let cend = c.span.end as usize;
        let seg = src.get(pos..cstart).unwrap_or("");
        let nl = seg.matches('\n').count();
        gap.newlines += nl;
        gap.comma |= seg.contains(',');
        if nl == 0 && !line_broken {
            gap.trailing.push(idx);
        } else if nl == 0 && !gap.groups.is_empty() {
            if let Some(g) = gap.groups.last_mut() {
                g.comments.push(idx);
            }
        } else if nl == 0 {
            gap.trailing.push(idx);
        } else {
            gap.groups.push(Group {
                comments: vec![idx],
                blank_before: has_blank_line(seg),
            });
            line_broken = true;
        }
        if src.get(cstart..cend).unwrap_or("").contains('\n') {
            line_broken = true;
        }
        pos = pos.max(cend);
    }
    let seg = src.get(pos..end).unwrap_or("");
    let nl = seg.matches('\n').count();
    gap.newlines += nl;
    gap.comma |= seg.contains(',');
    gap.blank_before_next = has_blank_line(seg);
    gap
}

/// Whether the text holds an empty line: two line breaks with only spaces between
/// them (a comma on a line of its own is not a blank line).
fn has_blank_line(seg: &str) -> bool {
    let pieces: Vec<&str> = seg.split('\n').collect();
    pieces.len() > 2
        && pieces
            .iter()
            .skip(1)
            .take(pieces.len() - 2)
            .any(|p| p.trim().is_empty())
}
