//! The output model: lines with alignment cells, and the pass that aligns and renders them.
//!
//! The printer does not write text directly. It builds [`Line`]s whose `=` position and
//! trailing comment are kept apart from the rest, so that alignment can be decided once
//! the whole file is laid out, the way `terraform fmt` does it: `=` signs line up within
//! runs of consecutive lines that carry one, and trailing comments within runs of
//! consecutive lines that carry one.

/// One output line the printer built.
#[derive(Debug, Clone, Default)]
pub(crate) struct NormalLine {
    /// Leading spaces.
    pub indent: usize,
    /// The content after the indentation (without the trailing comment).
    pub text: String,
    /// Byte offset in `text` where the aligned part (`= value`) starts, if this line is
    /// a single-line assignment that takes part in `=` alignment.
    pub assign_at: Option<usize>,
    /// The trailing comment, aligned with neighbouring lines' trailing comments.
    pub comment: Option<String>,
    /// Keep trailing whitespace (the line ends inside a comment or string).
    pub no_trim: bool,
}

impl NormalLine {
    fn new(indent: usize) -> Self {
        NormalLine {
            indent,
            ..NormalLine::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.text.is_empty() && self.comment.is_none()
    }
}

/// A line of output.
#[derive(Debug, Clone)]
pub(crate) enum Line {
    /// A line laid out by the formatter.
    Normal(NormalLine),
    /// A line reproduced exactly (heredoc bodies, the inside of block comments and of
    /// expressions printed as written).
    Raw {
        /// The exact text, without the newline.
        text: String,
        /// Whether alignment runs continue across this line. True for heredoc bodies:
        /// `terraform fmt` treats a heredoc as part of the line that opens it.
        transparent: bool,
    },
}

/// Builds the lines. Text is appended to the current line; the current line is `None`
/// right after raw lines (a heredoc's closing marker must end its line), and the next
/// text then starts a new line at the continuation indentation.
#[derive(Debug, Default)]
pub(crate) struct Out {
    /// Finished lines.
    pub lines: Vec<Line>,
    /// The line being built.
    cur: Option<NormalLine>,
    /// Indentation for lines that continue an expression, one entry per open bracket.
    cont: Vec<usize>,
}

impl Out {
    /// The indentation of the line being built (or of the next one).
    pub fn cur_indent(&self) -> usize {
        match &self.cur {
            Some(l) => l.indent,
            None => self.cont_indent(),
        }
    }

    /// Whether there is no current line (the last thing written was a raw line).
    pub fn at_raw_end(&self) -> bool {
        self.cur.is_none()
    }

    /// The indentation for a continuation line.
    pub fn cont_indent(&self) -> usize {
        self.cont.last().copied().unwrap_or(0)
    }

    /// Enters a construct whose continuation lines are indented by `indent`.
    pub fn push_cont(&mut self, indent: usize) {
        self.cont.push(indent);
    }

    /// Leaves the construct entered by the matching [`Out::push_cont`].
    pub fn pop_cont(&mut self) {
        self.cont.pop();
    }

    /// Appends text to the current line (starting a line if there is none, in which case
    /// leading spaces of `s` are dropped).
    pub fn text(&mut self, s: &str) {
        match &mut self.cur {
            Some(l) => l.text.push_str(s),
            None => {
                let mut l = NormalLine::new(self.cont_indent());
                l.text.push_str(s.trim_start());
                self.cur = Some(l);
            }
        }
    }

    /// Marks the current text position as the start of the aligned `= value` part.
    pub fn mark_assign(&mut self) {
        if let Some(l) = &mut self.cur {
            l.assign_at = Some(l.text.len());
        }
    }

    /// Keeps the current line's trailing whitespace.
    pub fn set_no_trim(&mut self) {
        if let Some(l) = &mut self.cur {
            l.no_trim = true;
        }
    }

    /// Finishes the current line (if it holds anything) and starts a new one.
    pub fn line_break(&mut self, indent: usize) {
        self.flush();
        self.cur = Some(NormalLine::new(indent));
    }

    /// Finishes the current line and adds an empty line.
    pub fn blank(&mut self) {
        self.flush();
        self.lines.push(Line::Normal(NormalLine::new(0)));
    }

    /// Sets (or extends) the current line's trailing comment. `text` is a single line.
    pub fn comment(&mut self, text: &str) {
        match &mut self.cur {
            Some(l) if !l.is_empty() => match &mut l.comment {
                Some(c) => {
                    c.push(' ');
                    c.push_str(text);
                }
                None => l.comment = Some(text.to_string()),
            },
            _ => self.text(text),
        }
    }

    /// Adds a raw line.
    pub fn raw(&mut self, text: &str, transparent: bool) {
        self.flush();
        self.lines.push(Line::Raw {
            text: text.to_string(),
            transparent,
        });
    }

    /// Clears the `=` alignment mark of line `index` (a finished line).
    pub fn clear_assign(&mut self, index: usize) {
        if let Some(Line::Normal(l)) = self.lines.get_mut(index) {
            l.assign_at = None;
        }
    }

    /// Whether every finished line from `index` on is a transparent raw line and there
    /// is no current line: what a heredoc leaves behind.
    pub fn only_transparent_since(&self, index: usize) -> bool {
        self.cur.is_none()
            && self.lines.get(index..).unwrap_or_default().iter().all(|l| {
                matches!(
                    l,
                    Line::Raw {
                        transparent: true,
                        ..
                    }
                )
            })
    }

    fn flush(&mut self) {
        if let Some(l) = self.cur.take()
            && !l.is_empty()
        {
            self.lines.push(Line::Normal(l));
        }
    }

    /// Aligns and renders everything.
    pub fn finish(mut self) -> String {
        self.flush();
        let mut lines = self.lines;
        align_assignments(&mut lines);
        align_comments(&mut lines);
        render(&lines)
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Pads the lead of each line in a run so the `=` signs line up.
fn align_assignments(lines: &mut [Line]) {
    let mut run: Vec<usize> = Vec::new();
    for i in 0..=lines.len() {
        match lines.get(i) {
            Some(Line::Normal(l)) if l.assign_at.is_some() => {
                run.push(i);
                continue;
            }
            Some(Line::Raw {
                transparent: true, ..
            }) => continue,
            _ => {}
        }
        if !run.is_empty() {
            let max = run
                .iter()
                .filter_map(|&j| match lines.get(j) {
                    Some(Line::Normal(l)) => Some(l.indent + width(lead(l))),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            for &j in &run {
                if let Some(Line::Normal(l)) = lines.get_mut(j) {
                    let lead_text = lead(l).to_string();
                    let rest = l
                        .assign_at
                        .and_then(|a| l.text.get(a..))
                        .unwrap_or("")
                        .trim_start()
                        .to_string();
                    let pad = max.saturating_sub(l.indent + width(&lead_text)) + 1;
                    l.text = format!("{lead_text}{}{rest}", " ".repeat(pad));
                    l.assign_at = None;
                }
            }
            run.clear();
        }
    }
}

fn lead(l: &NormalLine) -> &str {
    l.assign_at
        .and_then(|a| l.text.get(..a))
        .unwrap_or(&l.text)
        .trim_end()
}

/// Pads each line in a run of lines with trailing comments so the comments line up.
fn align_comments(lines: &mut [Line]) {
    let mut run: Vec<usize> = Vec::new();
    for i in 0..=lines.len() {
        match lines.get(i) {
            Some(Line::Normal(l)) if l.comment.is_some() => {
                run.push(i);
                continue;
            }
            Some(Line::Raw {
                transparent: true, ..
            }) => continue,
            _ => {}
        }
        if !run.is_empty() {
            let max = run
                .iter()
                .filter_map(|&j| match lines.get(j) {
                    Some(Line::Normal(l)) => Some(l.indent + width(l.text.trim_end())),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            for &j in &run {
                if let Some(Line::Normal(l)) = lines.get_mut(j) {
                    let text = l.text.trim_end().to_string();
                    if let Some(c) = l.comment.take() {
                        let pad = if text.is_empty() && l.indent == 0 {
                            0
                        } else {
                            max.saturating_sub(l.indent + width(&text)) + 1
                        };
                        l.text = format!("{text}{}{c}", " ".repeat(pad));
                    }
                }
            }
            run.clear();
        }
    }
}

/// Renders lines: indentation, trailing whitespace removed, blank lines collapsed, one
/// final newline.
fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut pending_blank = false;
    let mut any = false;
    for line in lines {
        let text = match line {
            Line::Normal(l) => {
                let mut s = String::new();
                if !l.text.is_empty() {
                    s.push_str(&" ".repeat(l.indent));
                }
                s.push_str(&l.text);
                if let Some(c) = &l.comment {
                    if !s.is_empty() {
                        s.push(' ');
                    }
                    s.push_str(c);
                }
                if l.no_trim {
                    s
                } else {
                    s.trim_end().to_string()
                }
            }
            Line::Raw { text, .. } => {
                // A raw line is content: write it even when empty.
                if pending_blank && any {
                    out.push('\n');
                }
                pending_blank = false;
                out.push_str(text);
                out.push('\n');
                any = true;
                continue;
            }
        };
        if text.is_empty() {
            pending_blank = true;
            continue;
        }
        if pending_blank && any {
            out.push('\n');
        }
        pending_blank = false;
        out.push_str(&text);
        out.push('\n');
        any = true;
    }
    out
}
