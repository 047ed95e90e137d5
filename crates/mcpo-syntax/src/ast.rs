//! The syntax tree.
//!
//! A faithful tree of what was written: nothing is desugared (a `for` expression stays a
//! `for` expression, a heredoc stays a heredoc), every node has a byte [`Span`], and the
//! comments are kept in [`SourceFile::comments`] in source order so that the formatter
//! and hover can place them. Where the parser recovered from an error it leaves an
//! `Error` node covering the skipped text, so later stages can still walk the tree.

use mcpo_diagnostics::Span;

/// A whole parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    /// The top-level body.
    pub body: Body,
    /// Every comment in the file, in source order (including comments inside expressions).
    pub comments: Vec<Comment>,
    /// The whole file.
    pub span: Span,
}

/// Which comment syntax was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentKind {
    /// `# ...` to the end of the line.
    Hash,
    /// `// ...` to the end of the line.
    DoubleSlash,
    /// `/* ... */`, possibly over several lines.
    Block,
}

/// One comment. Its text is `source[span]`, delimiters included; line comments' spans
/// exclude the terminating newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comment {
    /// Comment syntax.
    pub kind: CommentKind,
    /// Where it is, delimiters included.
    pub span: Span,
}

/// The contents of a file or of a block: attributes and blocks in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// The items, in source order.
    pub items: Vec<BodyItem>,
    /// From the first to the last byte inside the braces (or the whole file).
    pub span: Span,
}

/// An item of a [`Body`].
#[derive(Debug, Clone, PartialEq)]
pub enum BodyItem {
    /// `name = expr`
    Attribute(Attribute),
    /// `type "label" label { ... }`
    Block(Block),
    /// Text the parser could not make sense of and skipped (a diagnostic was reported).
    Error(Span),
}

impl BodyItem {
    /// The item's span.
    pub fn span(&self) -> Span {
        match self {
            BodyItem::Attribute(a) => a.span,
            BodyItem::Block(b) => b.span,
            BodyItem::Error(s) => *s,
        }
    }
}

/// An identifier with its span.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    /// The identifier's text (letters, digits, `_` and `-`; starts with a letter or `_`).
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// `name = value`
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute name.
    pub name: Ident,
    /// The value.
    pub value: Expr,
    /// From the name to the end of the value.
    pub span: Span,
}

/// A block: `type label* { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The block type (`resource`, `server`, `locals`, ...).
    pub ty: Ident,
    /// The labels, as written.
    pub labels: Vec<BlockLabel>,
    /// The `{`.
    pub open_brace: Span,
    /// The `}`, or `None` if the block was never closed (a diagnostic was reported).
    pub close_brace: Option<Span>,
    /// The body between the braces.
    pub body: Body,
    /// From the type to the closing brace (or the end of what was parsed).
    pub span: Span,
}

/// A block label: a quoted string or a bare identifier.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockLabel {
    /// `"name"`: the decoded value (a label may not contain interpolations).
    String {
        /// The decoded text.
        value: String,
        /// Quotes included.
        span: Span,
    },
    /// `name`
    Ident(Ident),
}

impl BlockLabel {
    /// The label's value, whichever way it was written.
    pub fn value(&self) -> &str {
        match self {
            BlockLabel::String { value, .. } => value,
            BlockLabel::Ident(i) => &i.name,
        }
    }

    /// The label's span.
    pub fn span(&self) -> Span {
        match self {
            BlockLabel::String { span, .. } => *span,
            BlockLabel::Ident(i) => i.span,
        }
    }
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What kind of expression.
    pub kind: ExprKind,
    /// Where it is (parentheses included for [`ExprKind::Parens`]).
    pub span: Span,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
}

/// Binary operators, lowest precedence last in HCL's table:
/// `* / %` > `+ -` > `> >= < <=` > `== !=` > `&&` > `||`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    /// Binding strength: higher binds tighter (6 for `*`, 1 for `||`).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 6,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le => 4,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::And => 2,
            BinaryOp::Or => 1,
        }
    }
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number literal, kept as written (`1`, `1.5e3`) so nothing is lost.
    Number(String),
    /// A quoted string `"..."`, possibly with interpolations and directives.
    Template(Template),
    /// A heredoc `<<EOT` / `<<-EOT` (boxed: rarer and larger than most expressions).
    Heredoc(Box<Heredoc>),
    /// A bare name: `var`, `aws`, `each`, a `for` variable, ...
    Variable(Ident),
    /// `[a, b, c]`
    Tuple(Vec<Expr>),
    /// `{ k = v, k2: v2 }`
    Object(Vec<ObjectItem>),
    /// `f(args)` or `ns::f(args)`; `f(a, b...)` expands the last argument (boxed: a call
    /// is several times the size of the other kinds).
    FunctionCall(Box<FunctionCall>),
    /// `expr.name`
    GetAttr {
        /// The object.
        object: Box<Expr>,
        /// The attribute name.
        name: Ident,
    },
    /// `expr[key]`
    Index {
        /// The collection.
        collection: Box<Expr>,
        /// The key.
        key: Box<Expr>,
    },
    /// Legacy index `expr.0`.
    LegacyIndex {
        /// The collection.
        collection: Box<Expr>,
        /// The index as written.
        index: String,
        /// The span of the digits.
        index_span: Span,
    },
    /// Splat: `expr[*]` (full) or `expr.*` (attribute-only). The traversal steps written
    /// after the splat wrap this node as ordinary `GetAttr`/`Index` nodes; the checker
    /// applies HCL's rules about which of them the splat covers.
    Splat {
        /// The collection.
        collection: Box<Expr>,
        /// `[*]` (true) or `.*` (false).
        full: bool,
    },
    /// `-x`, `!x`
    Unary {
        /// The operator.
        op: UnaryOp,
        /// Its span.
        op_span: Span,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `a op b`
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Its span.
        op_span: Span,
        /// Left side.
        lhs: Box<Expr>,
        /// Right side.
        rhs: Box<Expr>,
    },
    /// `cond ? a : b`
    Conditional {
        /// The condition.
        condition: Box<Expr>,
        /// Value when true.
        then: Box<Expr>,
        /// Value when false.
        otherwise: Box<Expr>,
    },
    /// `[for k, v in coll : expr if cond]` or `{for k, v in coll : key => value... if cond}`.
    For(Box<ForExpr>),
    /// `( expr )`, kept so that the formatter can reproduce it.
    Parens(Box<Expr>),
    /// An expression that failed to parse (a diagnostic was reported).
    Error,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionCall {
    /// The namespace parts of `a::b::f`, outermost first (`[a, b]`); empty for `f`.
    pub namespace: Vec<Ident>,
    /// The function name.
    pub name: Ident,
    /// The arguments.
    pub args: Vec<Expr>,
    /// Whether the last argument is followed by `...` (expanded as separate arguments).
    pub expand_final: bool,
    /// The `(` and `)`; `close` is `None` when missing.
    pub open_paren: Span,
    /// The `)`, if present.
    pub close_paren: Option<Span>,
}

/// An item of an object constructor.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectItem {
    /// The key: a bare identifier appears as [`ExprKind::Variable`], a parenthesized key
    /// as [`ExprKind::Parens`]; the checker decides which names are literal keys.
    pub key: Expr,
    /// `=` (true) or `:` (false) between key and value.
    pub equals: bool,
    /// The value.
    pub value: Expr,
    /// From key to value.
    pub span: Span,
}

/// A `for` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ForExpr {
    /// The key (or index) variable, when two variables are named.
    pub key_var: Option<Ident>,
    /// The value variable.
    pub value_var: Ident,
    /// The collection after `in`.
    pub collection: Expr,
    /// For an object `for`: the key expression before `=>`; `None` for a tuple `for`.
    pub key_expr: Option<Expr>,
    /// The value expression.
    pub value_expr: Expr,
    /// `...` after the value (grouping mode, objects only).
    pub grouping: bool,
    /// The `if` filter.
    pub condition: Option<Expr>,
    /// Whether it was written with braces (object) rather than brackets (tuple).
    pub is_object: bool,
}

/// A template: the parts of a quoted string or heredoc body.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The parts in order.
    pub parts: Vec<TemplatePart>,
    /// The whole template (quotes included for a quoted string).
    pub span: Span,
}

impl Template {
    /// The template's value when it is a plain literal (no interpolation or directive).
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                TemplatePart::Literal { value, .. } => out.push_str(value),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// Whitespace stripping marker `~` on one side of `${ }` or `%{ }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Strip {
    /// `${~` / `%{~`
    pub left: bool,
    /// `~}`
    pub right: bool,
}

/// A part of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Literal text, escapes decoded (`$${` -> `${`, `\n` -> newline in quoted strings).
    Literal {
        /// The decoded text, with the whitespace next to a `~` strip marker already
        /// removed (as HCL does); the raw text is `source[span]`.
        value: String,
        /// The raw text's span.
        span: Span,
    },
    /// `${ expr }`
    Interpolation {
        /// The expression.
        expr: Expr,
        /// `~` markers.
        strip: Strip,
        /// `${` to `}`.
        span: Span,
    },
    /// `%{ if cond }...%{ else }...%{ endif }` (boxed, as directives are rare and large).
    If(Box<TemplateIf>),
    /// `%{ for k, v in coll }...%{ endfor }` (boxed, as directives are rare and large).
    For(Box<TemplateFor>),
}

/// A template's `%{ if cond }...%{ else }...%{ endif }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateIf {
    /// The condition.
    pub condition: Expr,
    /// The parts when true.
    pub then: Vec<TemplatePart>,
    /// The parts after `%{ else }`, if present.
    pub otherwise: Option<Vec<TemplatePart>>,
    /// From `%{ if` to the end of `%{ endif }`.
    pub span: Span,
}

/// A template's `%{ for k, v in coll }...%{ endfor }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateFor {
    /// The key variable, when two are named.
    pub key_var: Option<Ident>,
    /// The value variable.
    pub value_var: Ident,
    /// The collection.
    pub collection: Expr,
    /// The repeated parts.
    pub body: Vec<TemplatePart>,
    /// From `%{ for` to the end of `%{ endfor }`.
    pub span: Span,
}

/// A heredoc.
#[derive(Debug, Clone, PartialEq)]
pub struct Heredoc {
    /// The marker (`EOT`).
    pub marker: String,
    /// `<<-` (strip common leading whitespace) rather than `<<`.
    pub indented: bool,
    /// The body as a template (after indentation stripping for `<<-`; literal parts'
    /// spans still point at the raw text).
    pub template: Template,
}

/// The most nodes a path from the root of a parsed tree to a leaf can cross: blocks,
/// expressions and template directives (`%{ if }`, `%{ for }`) each count one. [`crate::parse`]
/// guarantees it (the lexer's depth budget, [`crate::lexer::MAX_DEPTH`], is spent by
/// every construct that nests, and the leaf at the bottom adds one), so code that recurses
/// over the tree needs a stack for this many levels and no more.
pub const MAX_TREE_DEPTH: usize = crate::lexer::MAX_DEPTH + 1;

impl SourceFile {
    /// How deep the tree is, in the units of [`MAX_TREE_DEPTH`]. Measured without
    /// recursion, so it is safe on any tree, even one built by hand.
    pub fn depth(&self) -> usize {
        depth_of(self)
    }
}

fn depth_of<'a>(file: &'a SourceFile) -> usize {
    {
        /// A node still to visit, at the depth of its parent.
        enum Node<'a> {
            Items(&'a [BodyItem]),
            Expr(&'a Expr),
            Parts(&'a [TemplatePart]),
        }
        let mut max = 0;
        let mut todo: Vec<(Node<'_>, usize)> = vec![(Node::Items(&file.body.items), 0)];
        while let Some((node, d)) = todo.pop() {
            match node {
                Node::Items(items) => {
                    for item in items {
                        match item {
                            BodyItem::Attribute(a) => todo.push((Node::Expr(&a.value), d)),
                            BodyItem::Block(b) => {
                                max = max.max(d + 1);
                                todo.push((Node::Items(&b.body.items), d + 1));
                            }
                            BodyItem::Error(_) => {}
                        }
                    }
                }
                Node::Parts(parts) => {
                    for p in parts {
                        match p {
                            TemplatePart::Literal { .. } => {}
                            TemplatePart::Interpolation { expr, .. } => {
                                todo.push((Node::Expr(expr), d));
                            }
                            TemplatePart::If(i) => {
                                max = max.max(d + 1);
                                todo.push((Node::Expr(&i.condition), d + 1));
                                todo.push((Node::Parts(&i.then), d + 1));
                                if let Some(o) = &i.otherwise {
                                    todo.push((Node::Parts(o), d + 1));
                                }
                            }
                            TemplatePart::For(f) => {
                                max = max.max(d + 1);
                                todo.push((Node::Expr(&f.collection), d + 1));
                                todo.push((Node::Parts(&f.body), d + 1));
                            }
                        }
                    }
                }
                Node::Expr(e) => {
                    let d = d + 1;
                    max = max.max(d);
                    let mut kid = |e: &'a Expr| todo.push((Node::Expr(e), d));
                    match &e.kind {
                        ExprKind::Null
                        | ExprKind::Bool(_)
                        | ExprKind::Number(_)
                        | ExprKind::Variable(_)
                        | ExprKind::Error => {}
                        ExprKind::Template(t) => todo.push((Node::Parts(&t.parts), d)),
                        ExprKind::Heredoc(h) => todo.push((Node::Parts(&h.template.parts), d)),
                        ExprKind::Tuple(items) => items.iter().for_each(kid),
                        ExprKind::Object(items) => {
                            for i in items {
                                kid(&i.key);
                                kid(&i.value);
                            }
                        }
                        ExprKind::FunctionCall(c) => c.args.iter().for_each(kid),
                        ExprKind::GetAttr { object: x, .. }
                        | ExprKind::LegacyIndex { collection: x, .. }
                        | ExprKind::Splat { collection: x, .. }
                        | ExprKind::Unary { operand: x, .. }
                        | ExprKind::Parens(x) => kid(x),
                        ExprKind::Index { collection, key } => {
                            kid(collection);
                            kid(key);
                        }
                        ExprKind::Binary { lhs, rhs, .. } => {
                            kid(lhs);
                            kid(rhs);
                        }
                        ExprKind::Conditional {
                            condition,
                            then,
                            otherwise,
                        } => {
                            kid(condition);
                            kid(then);
                            kid(otherwise);
                        }
                        ExprKind::For(f) => {
                            kid(&f.collection);
                            if let Some(k) = &f.key_expr {
                                kid(k);
                            }
                            kid(&f.value_expr);
                            if let Some(c) = &f.condition {
                                kid(c);
                            }
                        }
                    }
                }
            }
        }
        max
    }
}
