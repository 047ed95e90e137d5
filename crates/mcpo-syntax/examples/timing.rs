//! Debug helper: times parsing of generated files of growing size and of given files.
fn main() {
    for n in [1_000usize, 4_000, 16_000] {
        let mut s = String::new();
        for i in 0..n {
            s.push_str(&format!("a{i} = [1, \"x${{y}}\", {{ k = v }}]\n"));
        }
        let t = std::time::Instant::now();
        let p = mcpo_syntax::parse(&s, mcpo_diagnostics::FileId(0));
        println!(
            "{n} lines: {:?} ({} diags)",
            t.elapsed(),
            p.diagnostics.len()
        );
    }
    let files: Vec<String> = std::env::args().skip(1).collect();
    let texts: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let t = std::time::Instant::now();
    for _ in 0..20 {
        for s in &texts {
            let _ = mcpo_syntax::parse(s, mcpo_diagnostics::FileId(0));
        }
    }
    let el = t.elapsed() / 20;
    println!(
        "{} files, {} bytes: {:?} per pass, {:.1} MB/s",
        texts.len(),
        bytes,
        el,
        bytes as f64 / el.as_secs_f64() / 1e6
    );
}
