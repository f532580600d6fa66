//! What an SMS costs (SPEC §9): its encoding and how many segments it takes.
//!
//! A text whose every character is in the GSM 03.38 default alphabet goes as GSM-7:
//! 160 septets in a single message, 153 per part of a multipart one (7 septets go to
//! the concatenation header). A character of the extension table (`€ [ ] { } ^ ~ | \`
//! and form feed) is sent as an escape plus its code, so it counts 2. Any other
//! character makes the whole text UCS-2: 70 UTF-16 code units single, 67 per part, and
//! a character outside the Basic Multilingual Plane (most emoji) counts 2.
//!
//! Parts are filled the way phones and SMS centres fill them: an escape sequence (GSM-7)
//! or a surrogate pair (UCS-2) is never split across two parts; when it does not fit in
//! what is left of a part it starts the next one. So a multipart text takes
//! `ceil(units / 153)` (or `/ 67`) segments, and one more when such a pair straddles a
//! boundary.
//!
//! Pure: no I/O. [`cost`] measures one text; [`Counter`] measures a text given in
//! pieces (a template body and its parameters) without building it; [`SmsSummary`]
//! adds up a campaign's messages in bounded memory.

use serde::{Deserialize, Serialize};

/// Septets in a single GSM-7 message.
pub const GSM7_SINGLE: usize = 160;
/// Septets in each part of a multipart GSM-7 message.
pub const GSM7_PART: usize = 153;
/// UTF-16 code units in a single UCS-2 message.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 code units in each part of a multipart UCS-2 message.
pub const UCS2_PART: usize = 67;
/// At most this many distinct characters are listed as the ones that forced UCS-2
/// (per message, and per campaign in [`SmsSummary`]).
pub const MAX_UCS2_CHARS: usize = 20;

/// The GSM 03.38 default alphabet in code order, 0x00 to 0x7F, 16 a line. 0x1B is the
/// escape to the extension table, not a character of its own.
pub const GSM7_BASIC: &str = concat!(
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\u{1B}ÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
);

/// The GSM 03.38 extension table: each character with its code after the escape (0x1B).
pub const GSM7_EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// How many septets `c` takes in GSM-7: 1 in the default alphabet, 2 in the extension
/// table, `None` when GSM-7 cannot carry it (the text must go as UCS-2). Agrees with
/// [`GSM7_BASIC`] and [`GSM7_EXTENSION`] (a test checks every character against them).
pub fn gsm7_septets(c: char) -> Option<usize> {
    match c {
        '\n' | '\r' | ' '..='#' | '$' | '%'..='?' | '@' | 'A'..='Z' | '_' | 'a'..='z' => Some(1),
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ'
        | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä'
        | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        '\u{0C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

/// How a text is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// GSM 03.38, 7 bits a character.
    Gsm7,
    /// UTF-16 (UCS-2 on the wire), 16 bits a code unit.
    Ucs2,
}

impl Encoding {
    /// As JSON and CSV write it: `gsm7`, `ucs2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }

    /// As people write it: `GSM-7`, `UCS-2`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one text costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsCost {
    pub encoding: Encoding,
    /// Septets (GSM-7, extension characters counting 2) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Messages the network bills: 1 for a text that fits in one (an empty text too).
    pub segments: usize,
    /// The distinct characters GSM-7 cannot carry, in order of first appearance, at most
    /// [`MAX_UCS2_CHARS`]; empty for GSM-7.
    pub ucs2_chars: Vec<char>,
}

/// The cost of `text`.
pub fn cost(text: &str) -> SmsCost {
    let mut c = Counter::new();
    c.push_str(text);
    c.finish()
}

/// Measures a text given in pieces, as if they were one string.
#[derive(Debug, Clone)]
pub struct Counter {
    gsm: Packing,
    ucs2: Packing,
    ucs2_chars: Vec<char>,
}

/// Units so far, and parts as a multipart message would be filled.
#[derive(Debug, Clone, Copy)]
struct Packing {
    units: usize,
    parts: usize,
    /// Units in the last part.
    fill: usize,
}

impl Packing {
    const EMPTY: Packing = Packing {
        units: 0,
        parts: 1,
        fill: 0,
    };

    /// Adds a character of `w` units; one that does not fit in the part starts the next.
    fn add(&mut self, w: usize, part: usize) {
        self.units += w;
        if self.fill + w > part {
            self.parts += 1;
            self.fill = 0;
        }
        self.fill += w;
    }

    fn segments(&self, single: usize) -> usize {
        if self.units <= single {
            1
        } else {
            self.parts
        }
    }
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

impl Counter {
    pub fn new() -> Self {
        Counter {
            gsm: Packing::EMPTY,
            ucs2: Packing::EMPTY,
            ucs2_chars: Vec::new(),
        }
    }

    pub fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push(c);
        }
    }

    pub fn push(&mut self, c: char) {
        self.ucs2.add(c.len_utf16(), UCS2_PART);
        match gsm7_septets(c) {
            Some(w) => {
                if self.ucs2_chars.is_empty() {
                    self.gsm.add(w, GSM7_PART);
                }
            }
            None => {
                if self.ucs2_chars.len() < MAX_UCS2_CHARS && !self.ucs2_chars.contains(&c) {
                    self.ucs2_chars.push(c);
                }
            }
        }
    }

    pub fn finish(self) -> SmsCost {
        if self.ucs2_chars.is_empty() {
            SmsCost {
                encoding: Encoding::Gsm7,
                units: self.gsm.units,
                segments: self.gsm.segments(GSM7_SINGLE),
                ucs2_chars: self.ucs2_chars,
            }
        } else {
            SmsCost {
                encoding: Encoding::Ucs2,
                units: self.ucs2.units,
                segments: self.ucs2.segments(UCS2_SINGLE),
                ucs2_chars: self.ucs2_chars,
            }
        }
    }
}

/// A character as a message quotes it: `'á'`, or `U+00A0` for one a reader could not
/// see (spaces other than the plain one, invisible format characters).
pub fn shown(c: char) -> String {
    let invisible = (c.is_whitespace() && c != ' ')
        || c.is_control()
        || matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}');
    if invisible {
        format!("U+{:04X}", c as u32)
    } else {
        format!("'{c}'")
    }
}

/// Characters as a list in a message: `'á', '✓'`.
pub fn shown_list(chars: &[char]) -> String {
    chars
        .iter()
        .map(|&c| shown(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Messages counted by encoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByEncoding {
    pub gsm7: u64,
    pub ucs2: u64,
}

/// A campaign's messages added up, the same size whatever their number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsSummary {
    /// Segments over every message: what the campaign is billed.
    pub total_segments: u64,
    pub messages: ByEncoding,
    pub max_segments_in_a_message: u64,
    /// The first [`MAX_UCS2_CHARS`] distinct characters that forced UCS-2, over all messages.
    pub ucs2_chars: Vec<char>,
}

impl SmsSummary {
    pub fn add(&mut self, c: &SmsCost) {
        let segments = c.segments as u64;
        self.total_segments += segments;
        self.max_segments_in_a_message = self.max_segments_in_a_message.max(segments);
        match c.encoding {
            Encoding::Gsm7 => self.messages.gsm7 += 1,
            Encoding::Ucs2 => self.messages.ucs2 += 1,
        }
        for &ch in &c.ucs2_chars {
            if self.ucs2_chars.len() >= MAX_UCS2_CHARS {
                break;
            }
            if !self.ucs2_chars.contains(&ch) {
                self.ucs2_chars.push(ch);
            }
        }
    }

    /// Messages added.
    pub fn messages(&self) -> u64 {
        self.messages.gsm7 + self.messages.ucs2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: usize) -> String {
        "a".repeat(n)
    }

    fn seg(text: &str) -> (Encoding, usize, usize) {
        let c = cost(text);
        (c.encoding, c.units, c.segments)
    }

    #[test]
    fn the_basic_table_has_128_codes_and_agrees_with_the_lookup() {
        let basic: Vec<char> = GSM7_BASIC.chars().collect();
        assert_eq!(basic.len(), 128);
        assert_eq!(basic[0x1B], '\u{1B}', "0x1B is the escape");
        assert_eq!(
            (
                basic[0x00],
                basic[0x02],
                basic[0x11],
                basic[0x24],
                basic[0x40],
                basic[0x60]
            ),
            ('@', '$', '_', '¤', '¡', '¿')
        );
        assert_eq!((basic[0x5B], basic[0x7D], basic[0x7F]), ('Ä', 'ñ', 'à'));
        let mut distinct = basic.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 128);
        for (i, &c) in basic.iter().enumerate() {
            if i != 0x1B {
                assert_eq!(gsm7_septets(c), Some(1), "{c:?} at {i:#04x}");
            }
        }
        assert_eq!(gsm7_septets('\u{1B}'), None, "the escape alone is not text");
        for (_, c) in GSM7_EXTENSION {
            assert_eq!(gsm7_septets(c), Some(2), "{c:?}");
        }
        // Nothing else: every other character of the first planes' common blocks.
        for c in ('\0'..='\u{2FFF}').chain(['😀', '\u{1F1E8}']) {
            if !basic.contains(&c) && !GSM7_EXTENSION.iter().any(|(_, x)| *x == c) {
                assert_eq!(gsm7_septets(c), None, "{c:?} is not GSM-7");
            }
        }
    }

    #[test]
    fn gsm7_is_160_single_and_153_per_part() {
        assert_eq!(seg(&a(160)), (Encoding::Gsm7, 160, 1));
        assert_eq!(seg(&a(161)), (Encoding::Gsm7, 161, 2));
        assert_eq!(seg(&a(306)), (Encoding::Gsm7, 306, 2));
        assert_eq!(seg(&a(307)), (Encoding::Gsm7, 307, 3));
        assert_eq!(seg(&a(459)), (Encoding::Gsm7, 459, 3));
        assert_eq!(seg(&a(460)), (Encoding::Gsm7, 460, 4));
        assert_eq!(seg(""), (Encoding::Gsm7, 0, 1));
    }

    #[test]
    fn gsm7_extension_characters_count_two() {
        assert_eq!(seg(&format!("{}€", a(159))), (Encoding::Gsm7, 161, 2));
        assert_eq!(seg(&format!("{}€", a(158))), (Encoding::Gsm7, 160, 1));
        assert_eq!(seg("[]{}^~|\\\u{0C}€").1, 20);
        assert!(cost("precio: 5 €").ucs2_chars.is_empty());
    }

    #[test]
    fn an_escape_pair_is_not_split_across_parts() {
        // 152 + 2 does not fit in a 153-septet part: the € starts the second part.
        let t = format!("{}€{}", a(152), a(152));
        assert_eq!(seg(&t), (Encoding::Gsm7, 306, 3));
        // Aligned, the same 306 septets take 2.
        let t = format!("{}€{}", a(151), a(153));
        assert_eq!(seg(&t), (Encoding::Gsm7, 306, 2));
    }

    #[test]
    fn ucs2_is_70_single_and_67_per_part() {
        let u = |n: usize| format!("á{}", a(n - 1));
        assert_eq!(seg(&u(70)), (Encoding::Ucs2, 70, 1));
        assert_eq!(seg(&u(71)), (Encoding::Ucs2, 71, 2));
        assert_eq!(seg(&u(134)), (Encoding::Ucs2, 134, 2));
        assert_eq!(seg(&u(135)), (Encoding::Ucs2, 135, 3));
    }

    #[test]
    fn an_emoji_counts_two_units_and_is_not_split() {
        assert_eq!(seg("😀"), (Encoding::Ucs2, 2, 1));
        assert_eq!(seg(&format!("{}😀", a(68))), (Encoding::Ucs2, 70, 1));
        assert_eq!(seg(&format!("{}😀", a(69))), (Encoding::Ucs2, 71, 2));
        // 66 + 2 does not fit in a 67-unit part: the emoji starts the second part.
        assert_eq!(
            seg(&format!("{}😀{}", a(66), a(66))),
            (Encoding::Ucs2, 134, 3)
        );
        assert_eq!(
            seg(&format!("{}😀{}", a(65), a(67))),
            (Encoding::Ucs2, 134, 2)
        );
        // Extension characters count 1 in UCS-2, like any BMP character.
        assert_eq!(seg("€😀"), (Encoding::Ucs2, 3, 1));
    }

    #[test]
    fn ucs2_chars_are_the_distinct_non_gsm_ones_in_order_at_most_20() {
        let c = cost("¡Hola Ána! ✓ Ána ✓ 😀 é");
        assert_eq!(c.encoding, Encoding::Ucs2);
        assert_eq!(c.ucs2_chars, ['Á', '✓', '😀']);
        let many: String = ('\u{4E00}'..'\u{4E40}').collect();
        let c = cost(&many);
        assert_eq!(c.ucs2_chars.len(), MAX_UCS2_CHARS);
        assert_eq!(c.ucs2_chars[0], '\u{4E00}');
        assert_eq!(c.ucs2_chars[19], '\u{4E13}');
        assert_eq!(c.units, 64);
    }

    #[test]
    fn spanish_with_e_acute_and_n_tilde_stays_gsm7_but_a_acute_does_not() {
        let c = cost("Estimado cliente: su cuota vence mañana. ¿Pagó? Llámenos.");
        assert_eq!((c.encoding, c.ucs2_chars), (Encoding::Ucs2, vec!['ó', 'á']));
        let c = cost("Señor Pérez: su cuota vence el 15. ¡Gracias!");
        assert_eq!((c.encoding, c.ucs2_chars.len()), (Encoding::Gsm7, 0));
        assert_eq!(cost("ç").encoding, Encoding::Ucs2, "only Ç is in the table");
        assert_eq!(
            cost("`").encoding,
            Encoding::Ucs2,
            "the backtick is not GSM-7"
        );
    }

    #[test]
    fn pieces_cost_the_same_as_the_whole() {
        let mut c = Counter::new();
        for p in ["Hola ", "María", ", debes ", "$12.500 €"] {
            c.push_str(p);
        }
        assert_eq!(c.finish(), cost("Hola María, debes $12.500 €"));
    }

    #[test]
    fn invisible_characters_are_shown_by_code_point() {
        assert_eq!(
            shown_list(&['á', '\u{A0}', '\u{200B}']),
            "'á', U+00A0, U+200B"
        );
    }

    #[test]
    fn a_summary_adds_messages_in_bounded_memory() {
        let mut s = SmsSummary::default();
        s.add(&cost(&a(161)));
        s.add(&cost("á✓"));
        for c in '\u{4E00}'..'\u{4E40}' {
            s.add(&cost(&c.to_string()));
        }
        assert_eq!(s.total_segments, 2 + 1 + 64);
        assert_eq!(s.messages, ByEncoding { gsm7: 1, ucs2: 65 });
        assert_eq!(s.messages(), 66);
        assert_eq!(s.max_segments_in_a_message, 2);
        assert_eq!(s.ucs2_chars.len(), MAX_UCS2_CHARS);
        assert_eq!(&s.ucs2_chars[..3], ['á', '✓', '\u{4E00}']);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["messages"], serde_json::json!({"gsm7": 1, "ucs2": 65}));
        assert_eq!(json["ucs2_chars"][0], "á");
    }
}
