; Folding: blocks, multi-line collections, calls and heredocs.
[
  (block)
  (object)
  (tuple)
  (for_tuple_expr)
  (for_object_expr)
  (function_call)
  (heredoc_template)
  (comment)
] @fold
