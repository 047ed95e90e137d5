//! Fuzzes the formatter: for any input that parses without errors, formatting must not
//! panic, its output must parse without errors, mean the same, and be a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpo_diagnostics::FileId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = mcpo_syntax::parse(text, FileId(0));
    if parsed.diagnostics.iter().any(|d| d.is_error()) {
        return;
    }
    let once = mcpo_fmt::format(text, &parsed.file);
    let reparsed = mcpo_syntax::parse(&once, FileId(0));
    assert!(
        reparsed.diagnostics.is_empty(),
        "formatted output has errors: {:?}\n--- input\n{text}\n--- output\n{once}",
        reparsed.diagnostics
    );
    let twice = mcpo_fmt::format(&once, &reparsed.file);
    assert_eq!(once, twice, "formatting is not idempotent");
});
