//! Parse throughput on the HCL corpus concatenated to ~10 MB: mcpo's parser and the
//! `hcl-edit` crate on the same input in the same run.
//!
//! Run with `cargo bench -p mcpo-bench --bench parse`; criterion prints MB/s for both.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcpo_bench::{concatenated, corpus_dir, corpus_files};
use std::hint::black_box;

const TARGET_BYTES: usize = 10 * 1024 * 1024;

fn parse_throughput(c: &mut Criterion) {
    let dir = corpus_dir();
    let files = match corpus_files(&dir) {
        Ok(f) if !f.is_empty() => f,
        Ok(_) | Err(_) => {
            eprintln!("no HCL corpus at {} (set MCPO_HCL_CORPUS)", dir.display());
            return;
        }
    };
    let input = concatenated(&files, TARGET_BYTES);

    // Both parsers must accept the input, or the comparison means nothing.
    let ours = mcpo_syntax::parse(&input, mcpo_diagnostics::FileId(0));
    assert!(
        ours.diagnostics.is_empty(),
        "mcpo reported {} diagnostics on the benchmark input",
        ours.diagnostics.len()
    );
    assert!(
        hcl_edit::parser::parse_body(&input).is_ok(),
        "hcl-edit rejected the benchmark input"
    );

    let mut group = c.benchmark_group("parse_corpus_10MB");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sample_size(10);
    group.bench_function("mcpo", |b| {
        b.iter(|| mcpo_syntax::parse(black_box(&input), mcpo_diagnostics::FileId(0)))
    });
    group.bench_function("hcl-edit", |b| {
        b.iter(|| hcl_edit::parser::parse_body(black_box(&input)))
    });
    group.finish();
}

criterion_group!(benches, parse_throughput);
criterion_main!(benches);
