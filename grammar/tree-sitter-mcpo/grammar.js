/**
 * @file tree-sitter grammar of mcpo: HCL native syntax (mcpo is a strict superset).
 * The contract is ../mcpo.ebnf; templates and heredocs are lexed by src/scanner.c.
 * Newlines are not significant here (as in most HCL editor grammars): items and object
 * elements are told apart by their shape, which is enough for highlighting and folding.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const PREC = {
  conditional: 1,
  or: 2,
  and: 3,
  equal: 4,
  compare: 5,
  add: 6,
  multiply: 7,
  unary: 8,
  postfix: 9,
  call: 10,
};

module.exports = grammar({
  name: 'mcpo',

  externals: ($) => [
    $._quoted_template_start,
    $._quoted_template_end,
    $.template_literal,
    $.escape_sequence,
    $._template_interpolation_start,
    $._template_interpolation_end,
    $._template_directive_start,
    $._template_directive_end,
    $.heredoc_identifier,
    $._heredoc_end,
    // Never produced: valid only during error recovery, when the scanner stands aside.
    $._error_sentinel,
  ],

  extras: ($) => [/\s/, '\uFEFF', $.comment],

  word: ($) => $.identifier,

  supertypes: ($) => [$._expression],

  conflicts: ($) => [],

  rules: {
    config_file: ($) => optional($.body),

    body: ($) => repeat1(choice($.attribute, $.block)),

    attribute: ($) => seq(field('name', $.identifier), '=', field('value', $._expression)),

    block: ($) =>
      seq(
        field('type', $.identifier),
        repeat(field('label', choice($._label_string, $.identifier))),
        $.block_start,
        optional($.body),
        $.block_end,
      ),

    // A label is a plain string: no interpolation (as in HCL). Its text is label_text,
    // so that queries can colour labels without touching other strings.
    _label_string: ($) =>
      alias(
        seq(
          alias($._quoted_template_start, '"'),
          repeat(choice(alias($.template_literal, $.label_text), $.escape_sequence)),
          alias($._quoted_template_end, '"'),
        ),
        $.string_lit,
      ),

    block_start: (_) => '{',
    block_end: (_) => '}',

    identifier: (_) => /[\p{L}_][\p{L}\p{N}_-]*/u,

    comment: (_) =>
      token(
        choice(
          seq('#', /[^\n]*/),
          seq('//', /[^\n]*/),
          seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/'),
        ),
      ),

    _expression: ($) =>
      choice(
        $.conditional,
        $.binary_operation,
        $.unary_operation,
        $._expr_term,
      ),

    _expr_term: ($) =>
      choice(
        $.numeric_lit,
        $.bool_lit,
        $.null_lit,
        $.string_lit,
        $.heredoc_template,
        $.tuple,
        $.object,
        $.variable_expr,
        $.function_call,
        $.for_tuple_expr,
        $.for_object_expr,
        $.parenthesized_expression,
        $.index_expression,
        $.get_attr_expression,
        $.legacy_index_expression,
        $.splat_expression,
      ),

    numeric_lit: (_) => /[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/,
    bool_lit: (_) => choice('true', 'false'),
    null_lit: (_) => 'null',

    variable_expr: ($) => $.identifier,

    parenthesized_expression: ($) => seq('(', $._expression, ')'),

    // Postfix traversals: `a[i]`, `a.b`, `a.0`, `a[*]`, `a.*`.
    index_expression: ($) =>
      prec(PREC.postfix, seq(field('object', $._expr_term), '[', field('index', $._expression), ']')),
    get_attr_expression: ($) =>
      prec(PREC.postfix, seq(field('object', $._expr_term), '.', field('attribute', $.identifier))),
    legacy_index_expression: ($) =>
      prec(PREC.postfix, seq(field('object', $._expr_term), '.', field('index', alias(/[0-9]+/, $.numeric_lit)))),
    splat_expression: ($) =>
      prec(PREC.postfix, seq(field('object', $._expr_term), choice(seq('.', '*'), seq('[', '*', ']')))),

    // `f(x)`, and the namespaced form of tool calls and provider functions: `aws::tool({...})`,
    // where a tool's name may be dotted (`aws::rds_read_replica.promote({...})`).
    // Higher than variable_expr: `f (` is a call, also where an object key could follow.
    function_call: ($) =>
      prec(
        PREC.call,
        seq(
          choice(
            field('function', $.identifier),
            seq(
              repeat1(seq(field('namespace', $.identifier), '::')),
              field('function', $.identifier),
              repeat(seq('.', field('function', $.identifier))),
            ),
          ),
          '(',
          optional($.function_arguments),
          ')',
        ),
      ),
    function_arguments: ($) =>
      seq(
        $._expression,
        repeat(seq(',', $._expression)),
        optional(choice(',', $.expand_marker)),
      ),
    expand_marker: (_) => '...',

    tuple: ($) =>
      seq('[', optional(seq($._expression, repeat(seq(',', $._expression)), optional(','))), ']'),

    object: ($) =>
      seq(
        $.object_start,
        optional(seq($.object_elem, repeat(seq(optional(','), $.object_elem)), optional(','))),
        $.object_end,
      ),
    object_start: (_) => '{',
    object_end: (_) => '}',
    // A bare name as a key is the literal key (as in HCL), not a variable.
    object_elem: ($) =>
      choice(
        prec(1, seq(field('key', $.identifier), choice('=', ':'), field('value', $._expression))),
        seq(field('key', $._expression), choice('=', ':'), field('value', $._expression)),
      ),

    for_tuple_expr: ($) =>
      seq('[', $.for_intro, field('value', $._expression), optional($.for_cond), ']'),
    for_object_expr: ($) =>
      seq(
        $.object_start,
        $.for_intro,
        field('key', $._expression),
        '=>',
        field('value', $._expression),
        optional($.expand_marker),
        optional($.for_cond),
        $.object_end,
      ),
    for_intro: ($) =>
      seq('for', $.identifier, optional(seq(',', $.identifier)), 'in', field('collection', $._expression), ':'),
    for_cond: ($) => seq('if', $._expression),

    unary_operation: ($) => prec.left(PREC.unary, seq(field('operator', choice('-', '!')), field('operand', $._expression))),

    binary_operation: ($) => {
      const table = [
        [PREC.multiply, choice('*', '/', '%')],
        [PREC.add, choice('+', '-')],
        [PREC.compare, choice('>', '>=', '<', '<=')],
        [PREC.equal, choice('==', '!=')],
        [PREC.and, '&&'],
        [PREC.or, '||'],
      ];
      return choice(
        ...table.map(([precedence, operator]) =>
          prec.left(
            /** @type {number} */ (precedence),
            seq(field('left', $._expression), field('operator', operator), field('right', $._expression)),
          ),
        ),
      );
    },

    conditional: ($) =>
      prec.right(
        PREC.conditional,
        seq(field('condition', $._expression), '?', field('consequence', $._expression), ':', field('alternative', $._expression)),
      ),

    // Templates.
    string_lit: ($) =>
      seq(
        alias($._quoted_template_start, '"'),
        repeat($._template_part),
        alias($._quoted_template_end, '"'),
      ),

    heredoc_template: ($) =>
      seq(
        $.heredoc_start,
        $.heredoc_identifier,
        repeat($._template_part),
        alias($._heredoc_end, $.heredoc_identifier),
      ),
    heredoc_start: (_) => choice('<<', '<<-'),

    _template_part: ($) =>
      choice($.template_literal, $.escape_sequence, $.template_interpolation, $.template_directive),

    template_interpolation: ($) =>
      seq(
        alias($._template_interpolation_start, '${'),
        optional($.strip_marker),
        optional($._expression),
        optional($.strip_marker),
        alias($._template_interpolation_end, '}'),
      ),

    template_directive: ($) => choice($.template_if, $.template_for),

    template_if: ($) =>
      seq(
        $._directive_open, 'if', field('condition', $._expression), $._directive_close,
        repeat($._template_part),
        optional(seq($._directive_open, 'else', $._directive_close, repeat($._template_part))),
        $._directive_open, 'endif', $._directive_close,
      ),

    template_for: ($) =>
      seq(
        $._directive_open, 'for', $.identifier, optional(seq(',', $.identifier)), 'in',
        field('collection', $._expression), $._directive_close,
        repeat($._template_part),
        $._directive_open, 'endfor', $._directive_close,
      ),

    _directive_open: ($) => seq(alias($._template_directive_start, '%{'), optional($.strip_marker)),
    _directive_close: ($) => seq(optional($.strip_marker), alias($._template_directive_end, '}')),

    strip_marker: (_) => '~',
  },
});
