//! Debug helper: times many parses of a tiny input (dominated by parser construction).
fn main() {
    let t = std::time::Instant::now();
    for _ in 0..20_000 {
        let _ = mcpo_syntax::parse("a = 1\n", mcpo_diagnostics::FileId(0));
    }
    println!("{:?} per tiny parse", t.elapsed() / 20_000);
}
