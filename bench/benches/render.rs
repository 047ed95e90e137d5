//! Rendering many diagnostics in one large file: 1,000 errors spread over a 20,000-line
//! workspace file, rendered as `mcpoc check` prints them.
//!
//! Run with `cargo bench -p mcpo-bench --bench render`; criterion prints the time per
//! rendering of all 1,000.

use criterion::{Criterion, criterion_group, criterion_main};
use mcpo_diagnostics::render::{RenderConfig, render};
use mcpo_diagnostics::{Diagnostic, Sources, Span, codes};
use std::hint::black_box;

const LINES: usize = 20_000;
const ERRORS: usize = 1_000;

fn render_many(c: &mut Criterion) {
    let mut text = String::new();
    let mut starts = Vec::with_capacity(LINES);
    for i in 0..LINES {
        starts.push(text.len());
        text.push_str(&format!("locals {{ value_{i} = undefined_{i} }}\n"));
    }
    let mut sources = Sources::new();
    let file = sources.add("main.mcpo", &text);
    let diags: Vec<Diagnostic> = (0..ERRORS)
        .map(|n| {
            let start = starts[n * (LINES / ERRORS)] + 9;
            let span = Span::new(start, start + 5);
            Diagnostic::error(codes::E0001, file, span, "unknown name")
                .with_primary_label("not declared")
        })
        .collect();
    let once = render(&diags, &sources, RenderConfig::default());
    assert_eq!(once.matches("[E0001]").count(), ERRORS);

    let mut group = c.benchmark_group("render_1000_errors_in_20000_lines");
    group.sample_size(10);
    group.bench_function("render", |b| {
        b.iter(|| render(black_box(&diags), &sources, RenderConfig::default()))
    });
    group.finish();
}

criterion_group!(benches, render_many);
criterion_main!(benches);
