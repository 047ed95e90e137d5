; Highlights for mcpo (HCL native syntax). Capture names follow the common
; nvim-treesitter / Helix / Zed vocabulary. Patterns do not overlap on one node, so
; the result is the same whether an editor lets the first or the last match win.

(comment) @comment

; Blocks: `resource "aws.vpc" "main" { ... }`.
(block
  type: (identifier) @keyword)
(block
  label: (identifier) @type)
(block
  label: (string_lit
    (label_text) @type))

; Attributes and object keys.
(attribute
  name: (identifier) @property)
(object_elem
  key: (identifier) @property)
(get_attr_expression
  attribute: (identifier) @variable.member)

; Calls: `f(x)`, tool calls `server::tool({...})`.
(function_call
  function: (identifier) @function.call)
(function_call
  namespace: (identifier) @module)

; The roots of references.
((variable_expr
  (identifier) @variable.builtin)
  (#any-of? @variable.builtin
    "var" "local" "self" "each" "count" "param" "step" "data" "task" "module" "result" "path"))
((variable_expr
  (identifier) @variable)
  (#not-any-of? @variable
    "var" "local" "self" "each" "count" "param" "step" "data" "task" "module" "result" "path"))

; for expressions and template directives.
(for_intro
  (identifier) @variable.parameter)
(template_for
  (identifier) @variable.parameter)
[
  "for"
  "endfor"
] @keyword.repeat
[
  "if"
  "else"
  "endif"
] @keyword.conditional
"in" @keyword.operator

; Literals.
(numeric_lit) @number
(bool_lit) @boolean
(null_lit) @constant.builtin

; Templates.
(string_lit
  "\"" @string)
(template_literal) @string
(escape_sequence) @string.escape
(heredoc_start) @punctuation.special
(heredoc_identifier) @label
[
  "${"
  "%{"
  "}"
] @punctuation.special
(strip_marker) @punctuation.special

; Operators and punctuation.
[
  "!"
  "*"
  "/"
  "%"
  "+"
  "-"
  ">"
  ">="
  "<"
  "<="
  "=="
  "!="
  "&&"
  "||"
  "?"
  "=>"
] @operator
(expand_marker) @operator
"=" @operator
(object_elem
  ":" @operator)
[
  "("
  ")"
  "["
  "]"
  (block_start)
  (block_end)
  (object_start)
  (object_end)
] @punctuation.bracket
[
  ","
  "."
  "::"
] @punctuation.delimiter
(for_intro
  ":" @punctuation.delimiter)
(conditional
  ":" @operator)
