//! Fuzzes the parser: any UTF-8 input must parse without panicking, and every span it
//! reports (tree nodes are checked through the diagnostics and comments) must lie inside
//! the input on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpo_diagnostics::FileId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = mcpo_syntax::parse(text, FileId(0));
    let in_bounds = |s: mcpo_diagnostics::Span| {
        s.start <= s.end
            && (s.end as usize) <= text.len()
            && text.is_char_boundary(s.start as usize)
            && text.is_char_boundary(s.end as usize)
    };
    for d in &parsed.diagnostics {
        assert!(in_bounds(d.span), "diagnostic span out of bounds: {d:?}");
    }
    for c in &parsed.file.comments {
        assert!(in_bounds(c.span), "comment span out of bounds: {c:?}");
    }
    assert!(in_bounds(parsed.file.span));
});
