//! Debug helper: prints the tokens and diagnostics of a file.
fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lexed = mcpo_syntax::lexer::lex(&text, mcpo_diagnostics::FileId(0));
    for (t, s) in &lexed.tokens {
        println!("{t:?} {:?}", text.get(s.start as usize..s.end as usize));
    }
    let p = mcpo_syntax::parse(&text, mcpo_diagnostics::FileId(0));
    for d in &p.diagnostics {
        println!("{} {:?} {}", d.code, d.span, d.message);
    }
}
