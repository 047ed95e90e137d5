// External scanner of tree-sitter-mcpo: the inside of templates, which the grammar's
// lexer cannot do because whitespace and `#` are text there, not extras.
//
// It keeps a stack of contexts: a quoted template ("..."), a heredoc (with its marker),
// an interpolation (${ ... }) or a directive (%{ ... }). Start tokens push, end tokens
// pop; the expression inside an interpolation or directive is lexed by the grammar.

#include "tree_sitter/alloc.h"
#include "tree_sitter/parser.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum TokenType {
  QUOTED_TEMPLATE_START,
  QUOTED_TEMPLATE_END,
  TEMPLATE_LITERAL,
  ESCAPE_SEQUENCE,
  TEMPLATE_INTERPOLATION_START,
  TEMPLATE_INTERPOLATION_END,
  TEMPLATE_DIRECTIVE_START,
  TEMPLATE_DIRECTIVE_END,
  HEREDOC_IDENTIFIER,
  HEREDOC_END,
  ERROR_SENTINEL,
};

enum ContextKind {
  CONTEXT_QUOTED = 1,
  CONTEXT_HEREDOC = 2,
  CONTEXT_INTERPOLATION = 3,
  CONTEXT_DIRECTIVE = 4,
};

#define MAX_DEPTH 64
#define MAX_MARKER 64

typedef struct {
  uint8_t kind;
  // Heredocs only: the scanner stands at the start of a line (the end marker may follow).
  bool at_line_start;
  uint8_t marker_len;
  char marker[MAX_MARKER];
} Context;

typedef struct {
  uint8_t depth;
  Context stack[MAX_DEPTH];
} Scanner;

static Context *top(Scanner *s) { return s->depth == 0 ? NULL : &s->stack[s->depth - 1]; }

static bool push(Scanner *s, uint8_t kind) {
  if (s->depth >= MAX_DEPTH) {
    return false;
  }
  Context *c = &s->stack[s->depth++];
  memset(c, 0, sizeof *c);
  c->kind = kind;
  return true;
}

static void pop(Scanner *s) {
  if (s->depth > 0) {
    s->depth--;
  }
}

static void advance(TSLexer *lexer) { lexer->advance(lexer, false); }
static void skip(TSLexer *lexer) { lexer->advance(lexer, true); }

static bool is_ident_start(int32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c > 0x7f;
}
static bool is_ident_continue(int32_t c) {
  return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}
static bool is_hex(int32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A backslash escape in a quoted template: \n \r \t \" \\ \uNNNN \UNNNNNNNN. An unknown
// escape is still one token (the checker reports it), so highlighting stays in step.
static bool scan_escape(TSLexer *lexer) {
  advance(lexer);  // the backslash
  if (lexer->eof(lexer) || lexer->lookahead == '\n') {
    return false;
  }
  int32_t c = lexer->lookahead;
  advance(lexer);
  int digits = c == 'u' ? 4 : c == 'U' ? 8 : 0;
  for (int i = 0; i < digits && is_hex(lexer->lookahead); i++) {
    advance(lexer);
  }
  lexer->mark_end(lexer);
  lexer->result_symbol = ESCAPE_SEQUENCE;
  return true;
}

// Text of a template up to the next `${`, `%{`, escape, closing quote or (in a heredoc)
// the end of a line, newline included. `$${` and `%%{` are literal text.
static bool scan_literal(Scanner *s, TSLexer *lexer, Context *ctx, bool started) {
  bool heredoc = ctx->kind == CONTEXT_HEREDOC;
  bool any = started;
  lexer->mark_end(lexer);
  for (;;) {
    if (lexer->eof(lexer)) {
      break;
    }
    int32_t c = lexer->lookahead;
    if (!heredoc && (c == '"' || c == '\\' || c == '\n')) {
      break;
    }
    if (c == '$' || c == '%') {
      advance(lexer);
      if (lexer->lookahead == '{') {
        break;  // the token ends before the `$`/`%` (last mark_end)
      }
      if (lexer->lookahead == c) {
        advance(lexer);  // `$$` or `%%`: with a `{` after it, an escaped `${`/`%{`
        if (lexer->lookahead == '{') {
          advance(lexer);
        }
      }
      any = true;
      lexer->mark_end(lexer);
      continue;
    }
    advance(lexer);
    any = true;
    lexer->mark_end(lexer);
    if (heredoc && c == '\n') {
      ctx->at_line_start = true;
      lexer->result_symbol = TEMPLATE_LITERAL;
      return true;
    }
  }
  if (!any) {
    return false;
  }
  if (heredoc) {
    ctx->at_line_start = false;
  }
  (void)s;
  lexer->result_symbol = TEMPLATE_LITERAL;
  return true;
}

// Inside a quoted template or a heredoc.
static bool scan_template(Scanner *s, TSLexer *lexer, const bool *valid, Context *ctx) {
  if (ctx->kind == CONTEXT_HEREDOC && ctx->at_line_start) {
    // The end marker, alone on its line (blanks before it are allowed).
    unsigned consumed = 0;
    while (lexer->lookahead == ' ' || lexer->lookahead == '\t') {
      advance(lexer);
      consumed++;
    }
    uint8_t i = 0;
    while (i < ctx->marker_len && lexer->lookahead == (unsigned char)ctx->marker[i]) {
      advance(lexer);
      i++;
    }
    consumed += i;
    if (i == ctx->marker_len && !is_ident_continue(lexer->lookahead)) {
      lexer->mark_end(lexer);
      while (lexer->lookahead == ' ' || lexer->lookahead == '\t' || lexer->lookahead == '\r') {
        advance(lexer);
      }
      if ((lexer->eof(lexer) || lexer->lookahead == '\n') && valid[HEREDOC_END]) {
        pop(s);
        lexer->result_symbol = HEREDOC_END;
        return true;
      }
    }
    ctx->at_line_start = false;
    if (consumed > 0) {
      // Not the marker: what was read is text of the line.
      if (!valid[TEMPLATE_LITERAL]) {
        return false;
      }
      return scan_literal(s, lexer, ctx, true);
    }
  }

  int32_t c = lexer->lookahead;
  if (ctx->kind == CONTEXT_QUOTED && c == '"') {
    if (!valid[QUOTED_TEMPLATE_END]) {
      return false;
    }
    advance(lexer);
    pop(s);
    lexer->result_symbol = QUOTED_TEMPLATE_END;
    return true;
  }
  if (ctx->kind == CONTEXT_QUOTED && c == '\\') {
    return valid[ESCAPE_SEQUENCE] && scan_escape(lexer);
  }
  if (c == '$' || c == '%') {
    lexer->mark_end(lexer);
    advance(lexer);
    if (lexer->lookahead == '{') {
      bool interpolation = c == '$';
      if (!valid[interpolation ? TEMPLATE_INTERPOLATION_START : TEMPLATE_DIRECTIVE_START]) {
        return false;
      }
      advance(lexer);
      lexer->mark_end(lexer);
      if (!push(s, interpolation ? CONTEXT_INTERPOLATION : CONTEXT_DIRECTIVE)) {
        return false;
      }
      if (ctx->kind == CONTEXT_HEREDOC) {
        ctx->at_line_start = false;
      }
      lexer->result_symbol = interpolation ? TEMPLATE_INTERPOLATION_START : TEMPLATE_DIRECTIVE_START;
      return true;
    }
    if (!valid[TEMPLATE_LITERAL]) {
      return false;
    }
    // A lone `$`/`%`, or `$$`/`%%`: text, and so is what follows.
    if (lexer->lookahead == c) {
      advance(lexer);
      if (lexer->lookahead == '{') {
        advance(lexer);
      }
    }
    return scan_literal(s, lexer, ctx, true);
  }
  if (!valid[TEMPLATE_LITERAL]) {
    return false;
  }
  return scan_literal(s, lexer, ctx, false);
}

static bool scan(Scanner *s, TSLexer *lexer, const bool *valid) {
  if (valid[ERROR_SENTINEL]) {
    return false;  // error recovery: let the grammar's lexer resynchronise
  }
  Context *ctx = top(s);
  bool in_text = valid[TEMPLATE_LITERAL] || valid[QUOTED_TEMPLATE_END] || valid[HEREDOC_END];
  if (ctx != NULL && in_text && (ctx->kind == CONTEXT_QUOTED || ctx->kind == CONTEXT_HEREDOC)) {
    return scan_template(s, lexer, valid, ctx);
  }

  while (lexer->lookahead == ' ' || lexer->lookahead == '\t' || lexer->lookahead == '\r' ||
         lexer->lookahead == '\n' || lexer->lookahead == 0xFEFF) {
    skip(lexer);
  }
  int32_t c = lexer->lookahead;

  if (c == '}' && ctx != NULL) {
    if (ctx->kind == CONTEXT_INTERPOLATION && valid[TEMPLATE_INTERPOLATION_END]) {
      advance(lexer);
      pop(s);
      lexer->result_symbol = TEMPLATE_INTERPOLATION_END;
      return true;
    }
    if (ctx->kind == CONTEXT_DIRECTIVE && valid[TEMPLATE_DIRECTIVE_END]) {
      advance(lexer);
      pop(s);
      lexer->result_symbol = TEMPLATE_DIRECTIVE_END;
      return true;
    }
    return false;
  }
  if (c == '"' && valid[QUOTED_TEMPLATE_START]) {
    advance(lexer);
    if (!push(s, CONTEXT_QUOTED)) {
      return false;
    }
    lexer->result_symbol = QUOTED_TEMPLATE_START;
    return true;
  }
  if (valid[HEREDOC_IDENTIFIER] && is_ident_start(c)) {
    // Right after `<<` or `<<-`: the marker, which must end its line.
    Context heredoc;
    memset(&heredoc, 0, sizeof heredoc);
    heredoc.kind = CONTEXT_HEREDOC;
    while (is_ident_continue(lexer->lookahead)) {
      if (heredoc.marker_len >= MAX_MARKER) {
        return false;
      }
      heredoc.marker[heredoc.marker_len++] = (char)lexer->lookahead;
      advance(lexer);
    }
    lexer->mark_end(lexer);
    while (lexer->lookahead == ' ' || lexer->lookahead == '\t' || lexer->lookahead == '\r') {
      advance(lexer);
    }
    if (lexer->lookahead != '\n' || s->depth >= MAX_DEPTH) {
      return false;
    }
    // The newline is the heredoc's first text, so the next line starts a line.
    s->stack[s->depth++] = heredoc;
    lexer->result_symbol = HEREDOC_IDENTIFIER;
    return true;
  }
  return false;
}

void *tree_sitter_mcpo_external_scanner_create(void) {
  Scanner *s = ts_calloc(1, sizeof(Scanner));
  return s;
}

void tree_sitter_mcpo_external_scanner_destroy(void *payload) { ts_free(payload); }

unsigned tree_sitter_mcpo_external_scanner_serialize(void *payload, char *buffer) {
  Scanner *s = payload;
  unsigned size = 0;
  buffer[size++] = (char)s->depth;
  for (uint8_t i = 0; i < s->depth; i++) {
    Context *c = &s->stack[i];
    unsigned need = 3 + c->marker_len;
    if (size + need > TREE_SITTER_SERIALIZATION_BUFFER_SIZE) {
      buffer[0] = (char)i;  // keep what fits; deeper contexts are rebuilt by reparsing
      break;
    }
    buffer[size++] = (char)c->kind;
    buffer[size++] = (char)c->at_line_start;
    buffer[size++] = (char)c->marker_len;
    memcpy(&buffer[size], c->marker, c->marker_len);
    size += c->marker_len;
  }
  return size;
}

void tree_sitter_mcpo_external_scanner_deserialize(void *payload, const char *buffer, unsigned length) {
  Scanner *s = payload;
  s->depth = 0;
  if (length == 0) {
    return;
  }
  unsigned size = 0;
  uint8_t depth = (uint8_t)buffer[size++];
  for (uint8_t i = 0; i < depth && i < MAX_DEPTH && size + 3 <= length; i++) {
    Context *c = &s->stack[i];
    memset(c, 0, sizeof *c);
    c->kind = (uint8_t)buffer[size++];
    c->at_line_start = buffer[size++] != 0;
    c->marker_len = (uint8_t)buffer[size++];
    if (c->marker_len > MAX_MARKER || size + c->marker_len > length) {
      return;
    }
    memcpy(c->marker, &buffer[size], c->marker_len);
    size += c->marker_len;
    s->depth = i + 1;
  }
}

bool tree_sitter_mcpo_external_scanner_scan(void *payload, TSLexer *lexer, const bool *valid_symbols) {
  return scan(payload, lexer, valid_symbols);
}
