//! Debug helper: what a parse costs in memory. For each file named, the resident memory
//! that lexing and parsing add (the peak during `parse`, and what the tree holds after
//! it) as multiples of the text, with the sizes of the tree's node types. Linux only
//! (it reads `/proc/self/status`); run one file at a time for clean figures.
//!
//! `cargo run --release -p mcpo-syntax --example memory -- FILE`

use mcpo_syntax::ast::*;

/// A `/proc/self/status` field, in KiB.
fn status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak resident size (`VmHWM`) to the current one.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    println!(
        "size_of: Expr {}, ExprKind {}, BodyItem {}, Attribute {}, Block {}, Ident {}, \
         TemplatePart {}, ObjectItem {}, BlockLabel {}",
        size_of::<Expr>(),
        size_of::<ExprKind>(),
        size_of::<BodyItem>(),
        size_of::<Attribute>(),
        size_of::<Block>(),
        size_of::<Ident>(),
        size_of::<TemplatePart>(),
        size_of::<ObjectItem>(),
        size_of::<BlockLabel>(),
    );
    for path in std::env::args().skip(1) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("cannot read {path}");
            continue;
        };
        let n = text.len() as f64 / 1024.0;
        let before = status_kib("VmRSS:");
        reset_peak();
        let lexed = mcpo_syntax::lexer::lex(&text, mcpo_diagnostics::FileId(0));
        println!(
            "{path}: {} tokens of {} bytes, {:.1}x the text",
            lexed.tokens.len(),
            lexed.tokens.first().map_or(0, size_of_val),
            (status_kib("VmRSS:") - before) as f64 / n
        );
        drop(lexed);
        let before = status_kib("VmRSS:");
        reset_peak();
        let t = std::time::Instant::now();
        let parsed = mcpo_syntax::parse(&text, mcpo_diagnostics::FileId(0));
        let el = t.elapsed();
        let peak = status_kib("VmHWM:") - before;
        let live = status_kib("VmRSS:") - before;
        println!(
            "{path}: {} bytes, parse {:.0} ms ({:.1} MB/s): peak {:.1}x the text, tree {:.1}x, \
             {} diagnostics",
            text.len(),
            el.as_secs_f64() * 1e3,
            text.len() as f64 / el.as_secs_f64() / 1e6,
            peak as f64 / n,
            live as f64 / n,
            parsed.diagnostics.len()
        );
    }
}
