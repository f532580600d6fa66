//! Text helpers of the rules: cleaning cells, folding names, column letters, and the
//! hasher of the duplicate-phone set.

use crate::spreadsheet::Cell;
use unicode_normalization::UnicodeNormalization;

/// Strips control characters; keeps line breaks only where `keep_newlines` (and as `\n`).
pub fn clean(s: &str, keep_newlines: bool) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let s = s.replace("\r\n", "\n");
    s.chars()
        .filter(|&c| !c.is_control() || (keep_newlines && c == '\n'))
        .collect()
}

/// Header names compare without case, accents or surrounding spaces.
pub fn fold(s: &str) -> String {
    s.trim()
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn is_named(name: &str, options: &[&str]) -> bool {
    let f = fold(name);
    options.contains(&f.as_str())
}

pub(super) fn yes_no(c: &Cell<'_>) -> Option<bool> {
    match c {
        Cell::Bool(b) => Some(*b),
        Cell::Number(n) if *n == 1.0 => Some(true),
        Cell::Number(n) if *n == 0.0 => Some(false),
        _ => match fold(&c.to_text()).as_str() {
            "1" | "si" | "yes" | "true" | "verdadero" => Some(true),
            "0" | "no" | "false" | "falso" => Some(false),
            _ => None,
        },
    }
}

/// Column letters as a spreadsheet shows them: 0 → A, 26 → AA.
pub fn column_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

/// Phones are already well-mixed integers: a multiplicative hash is enough and much
/// cheaper than SipHash over a million rows.
#[derive(Clone, Copy, Default)]
pub(super) struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

#[derive(Default)]
pub(super) struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
