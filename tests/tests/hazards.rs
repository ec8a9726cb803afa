//! Hostile YAML ends in a clean, located SI003/SI001 diagnostic, never a crash or a hang.
//! (Speed is measured by the benchmarks, not asserted here.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use svcintent_core::{Code, Sources, compile};

fn codes(text: String) -> Vec<Code> {
    let c = compile(&Sources::from_pairs([("site.yaml", text)]));
    c.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn alias_bomb_is_stopped() {
    let mut y = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = 'a';
    for c in 'b'..='m' {
        y.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        prev = c;
    }
    assert!(codes(y).contains(&Code::InputLimit));
}

#[test]
fn ten_thousand_deep_nesting_is_stopped() {
    let y = format!("site: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    assert!(codes(y).contains(&Code::InputLimit));
    let y = format!(
        "site:\n{}",
        (1..10_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect::<String>()
    );
    let c = codes(y);
    assert!(c.contains(&Code::InputLimit), "{c:?}");
}

#[test]
fn ten_megabyte_file_is_refused() {
    let y = format!("# {}\nsite: {{}}\n", "x".repeat(10 * 1024 * 1024));
    assert_eq!(codes(y), vec![Code::InputLimit]);
}

#[test]
fn binary_and_odd_text_never_panic() {
    for text in [
        "\u{0}\u{1}\u{2}",
        "- - - -",
        ": : :",
        "{{{{",
        "site: !!binary aGVsbG8=",
        "---\n---\n",
        "\u{feff}site: 1",
        "? [a, b]\n: c",
        "&a a: *a",
        "*unknown",
    ] {
        let _ = codes(text.to_owned());
    }
}
