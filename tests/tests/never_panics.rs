//! Mutation smoke test: thousands of deterministic random edits of the campus example (YAML
//! punctuation, quotes, control characters, deletions) must never panic the compiler or the
//! renderers, and every diagnostic must stay inside its file. Deterministic: a fixed-seed
//! xorshift generator, so a failure reproduces.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use svcintent_core::Sources;
use svcintent_tests::{load_site, repo_root};

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const ALPHABET: &[&str] = &[
    ":", "-", "[", "]", "{", "}", ",", "&a", "*a", "!", "|", ">", "'", "\"", "#", "\n", "\n  ",
    " ", "\t", "\0", "\u{2028}", "~", "yes", "0755", "1.5", "::", "/", "%", "}}}", "$", ";", "\\",
    "é", "<<",
];

#[test]
fn random_edits_never_panic() {
    let base = load_site(&repo_root().join("examples/campus"));
    let files: Vec<(String, String)> = base
        .iter()
        .map(|(_, f)| (f.path.clone(), f.text.clone()))
        .collect();
    let mut rng = XorShift(0x5eed_cafe_f00d_1234);
    for _ in 0..800 {
        let mut files = files.clone();
        let edits = 1 + rng.below(4);
        for _ in 0..edits {
            let fi = rng.below(files.len());
            let text = &mut files[fi].1;
            let mut at = rng.below(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(3) {
                0 => text.insert_str(at, ALPHABET[rng.below(ALPHABET.len())]),
                1 => {
                    let mut end = (at + 1 + rng.below(8)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + 1).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, ALPHABET[rng.below(ALPHABET.len())]);
                }
            }
        }
        let sources = Sources::from_pairs(files);
        let rendered = svcintent_core::render(&sources);
        for d in &rendered.diagnostics {
            let f = sources
                .get(d.primary.span.file)
                .expect("diagnostic in a known file");
            assert!(
                d.primary.span.end as usize <= f.text.len(),
                "span past end of {}",
                f.path
            );
            assert!(f.text.is_char_boundary(d.primary.span.start as usize));
        }
        assert!(
            rendered
                .diagnostics
                .iter()
                .all(|d| d.code.as_str() != "SI099"),
            "internal error on mutated input"
        );
    }
}
