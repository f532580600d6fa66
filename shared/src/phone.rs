//! Phone numbers: parse what a person typed into a spreadsheet cell into E.164.
//!
//! The rules are libphonenumber's (the `phonenumber` crate and its metadata).
//! Validating a million rows through `phonenumber::parse` costs about 170× a
//! bare CSV read, because every pattern goes through one shared, locked regex
//! cache. [`PhoneRules`] keeps its own compiled copy of the same metadata
//! patterns, per country code, and applies them exactly as
//! `phonenumber::is_valid` does (possible lengths, then the national-number
//! patterns, then the region chosen by leading digits). Only input the fast
//! path cannot settle (national prefixes, international dialling prefixes
//! such as `00`) goes to `phonenumber::parse`. A unit test checks that both
//! paths agree.

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use phonenumber::{country, Mode};
use regex::Regex;
use std::fmt;
use std::str::FromStr;

/// A valid phone number in E.164 form (`+56912345678`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(u64);

impl Phone {
    /// The E.164 digits (country code and national number) as one integer.
    pub fn digits(self) -> u64 {
        self.0
    }

    /// The number written as E.164, `+` and digits.
    pub fn e164(self) -> String {
        format!("+{}", self.0)
    }

    /// The number with all but its last four digits hidden, for logs.
    pub fn masked(self) -> String {
        mask(&self.e164())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl FromStr for Phone {
    type Err = PhoneError;
    /// Parses a number already in international form (`+` optional).
    fn from_str(s: &str) -> Result<Self, PhoneError> {
        PhoneRules::new(None).parse_text(s)
    }
}

/// Hides all but the last four characters of a phone number (or any secret-ish id) for logs.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if i + 4 < n && c.is_ascii_digit() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// Why a cell is not a phone number. The message is written for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone is written in scientific notation ({0}); digits were lost: format the column as text or as a whole number")]
    ScientificNotation(String),
    #[error(
        "the phone has characters other than digits, '+', spaces, dashes, dots and parentheses"
    )]
    BadCharacters,
    #[error("the phone number is a decimal number, not a whole number")]
    NotWholeNumber,
    #[error("not a valid phone number{0}")]
    Invalid(String),
}

/// An ISO 3166 country for numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultCountry(country::Id);

impl FromStr for DefaultCountry {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        let id = country::Id::from_str(&upper)
            .map_err(|_| format!("'{s}' is not an ISO 3166 country code (e.g. CL, AR, CO, MX)"))?;
        if DATABASE.by_id(id.as_ref()).is_none() {
            return Err(format!(
                "'{s}' is not an ISO 3166 country code with phone numbering rules"
            ));
        }
        Ok(DefaultCountry(id))
    }
}

impl DefaultCountry {
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
    fn calling_code(&self) -> u16 {
        DATABASE
            .by_id(self.0.as_ref())
            .map(|m| m.country_code())
            .unwrap_or(0)
    }
}

/// Compiled validity patterns of one region (a copy of libphonenumber's metadata).
struct RegionRules {
    leading_digits: Option<Regex>,
    /// libphonenumber's parser may strip or rewrite a national prefix matching this; such
    /// numbers are left to it.
    national_prefix_for_parsing: Option<Regex>,
    general: Pattern,
    /// Every typed descriptor that `phonenumber::number_type` checks; a number is valid when
    /// the general pattern and at least one of these match.
    types: Vec<Pattern>,
}

struct Pattern {
    re: Regex,
    lengths: Vec<u16>,
}

impl Pattern {
    fn new(d: &Descriptor) -> Self {
        Pattern {
            re: anchored(d.national_number().as_str()),
            lengths: d.possible_length().to_vec(),
        }
    }
    // Same test as `phonenumber::metadata::Descriptor::is_match`.
    fn is_match(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && self.re.is_match(national)
    }
}

/// `find(..).start() == 0` in the crate is the same as a match anchored at the start.
fn anchored(p: &str) -> Regex {
    // The metadata is written in verbose form (the crate compiles it with `ignore_whitespace`).
    regex::RegexBuilder::new(&format!("^(?:{p})"))
        .ignore_whitespace(true)
        .build()
        .expect("libphonenumber metadata patterns compile")
}

impl RegionRules {
    fn new(m: &Metadata) -> Self {
        let d = m.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .map(Pattern::new)
        .collect();
        RegionRules {
            leading_digits: m.leading_digits().map(|r| anchored(r.as_str())),
            // As in libphonenumber, the national prefix is the pattern when none is given.
            national_prefix_for_parsing: m
                .national_prefix_for_parsing()
                .map(|r| anchored(r.as_str()))
                .or_else(|| m.national_prefix().map(|p| anchored(&regex::escape(p)))),
            general: Pattern::new(d.general()),
            types,
        }
    }
    fn has_type(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }
}

/// The regions sharing one country calling code, in libphonenumber's order.
struct CodeRules {
    regions: Vec<RegionRules>,
    non_geographic: bool,
}

impl CodeRules {
    fn load(code: u16) -> Option<Self> {
        let regions = DATABASE.region(&code)?;
        if regions.len() == 1 && regions[0] == "001" {
            let meta = DATABASE.by_code(&code)?.into_iter().next()?;
            return Some(CodeRules {
                regions: vec![RegionRules::new(meta)],
                non_geographic: true,
            });
        }
        let regions = regions
            .iter()
            .filter_map(|r| DATABASE.by_id(*r))
            .map(RegionRules::new)
            .collect();
        Some(CodeRules {
            regions,
            non_geographic: false,
        })
    }

    /// Whether the crate's parser could rewrite this national number (then the fast path declines).
    fn has_national_prefix(&self, national: &str) -> bool {
        self.regions.iter().any(|r| {
            r.national_prefix_for_parsing
                .as_ref()
                .and_then(|re| re.find(national))
                .is_some_and(|m| !m.is_empty())
        })
    }

    // Same choice of region as `phonenumber::validator::source_for`, then the type check.
    fn is_valid(&self, national: &str) -> bool {
        if self.non_geographic || self.regions.len() == 1 {
            return self.regions[0].has_type(national);
        }
        for r in &self.regions {
            match &r.leading_digits {
                Some(ld) if ld.is_match(national) => return r.has_type(national),
                Some(_) => continue,
                None if r.has_type(national) => return true,
                None => continue,
            }
        }
        false
    }
}

/// Parses phone cells, with a compiled-pattern cache owned by one validator (no locks).
pub struct PhoneRules {
    default_country: Option<DefaultCountry>,
    codes: Vec<Option<Option<CodeRules>>>,
}

impl PhoneRules {
    pub fn new(default_country: Option<DefaultCountry>) -> Self {
        PhoneRules {
            default_country,
            codes: (0..1000).map(|_| None).collect(),
        }
    }

    /// A text cell: `+56 9 1234 5678`, `(9) 1234-5678`, `56912345678`, …
    pub fn parse_text(&mut self, raw: &str) -> Result<Phone, PhoneError> {
        let s = raw.trim();
        if looks_scientific(s) {
            return Err(PhoneError::ScientificNotation(s.to_string()));
        }
        let mut digits = [0u8; 24];
        let mut n = 0usize;
        let mut plus = false;
        for (i, c) in s.char_indices() {
            match c {
                '0'..='9' => {
                    if n == digits.len() {
                        return Err(PhoneError::Invalid(": too many digits".into()));
                    }
                    digits[n] = c as u8;
                    n += 1;
                }
                '+' if i == 0 => plus = true,
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(PhoneError::BadCharacters),
            }
        }
        let digits = std::str::from_utf8(&digits[..n]).expect("ascii digits");
        self.parse_digits(digits, plus)
    }

    /// A numeric cell (Excel stores `56912345678` as a float): its integer digits.
    pub fn parse_number(&mut self, value: f64) -> Result<Phone, PhoneError> {
        if !value.is_finite() || value < 0.0 || value.fract() != 0.0 {
            return Err(PhoneError::NotWholeNumber);
        }
        if value >= 1e15 {
            return Err(PhoneError::Invalid(": too many digits".into()));
        }
        let digits = format!("{}", value as u64);
        self.parse_digits(&digits, false)
    }

    fn parse_digits(&mut self, digits: &str, plus: bool) -> Result<Phone, PhoneError> {
        if digits.len() < 3 {
            return Err(PhoneError::Invalid(": too few digits".into()));
        }
        if plus {
            if let Some(p) = self.international(digits) {
                return Ok(p);
            }
        } else {
            if let Some(dc) = self.default_country {
                let code = dc.calling_code();
                if self.valid(code, digits) {
                    return Ok(e164(code, digits));
                }
            }
            if let Some(p) = self.international(digits) {
                return Ok(p);
            }
        }
        self.slow_path(digits, plus)
    }

    /// `digits` as country code + national number.
    fn international(&mut self, digits: &str) -> Option<Phone> {
        for cc_len in 1..=3.min(digits.len() - 1) {
            let code: u16 = digits[..cc_len].parse().ok()?;
            if code == 0 {
                return None;
            }
            if self.rules(code).is_some() {
                // Country codes are prefix-free: the first known one is the only candidate.
                let national = &digits[cc_len..];
                return self.valid(code, national).then(|| e164(code, national));
            }
        }
        None
    }

    fn rules(&mut self, code: u16) -> Option<&CodeRules> {
        let slot = self.codes.get_mut(code as usize)?;
        slot.get_or_insert_with(|| CodeRules::load(code)).as_ref()
    }

    /// Valid by the fast path; false also when the number is for the full parser to judge.
    fn valid(&mut self, code: u16, national: &str) -> bool {
        self.rules(code)
            .map(|r| !r.has_national_prefix(national) && r.is_valid(national))
            .unwrap_or(false)
    }

    /// National and international dialling prefixes (`0…`, `00…`, Argentina's `15`):
    /// libphonenumber's full parser.
    fn slow_path(&self, digits: &str, plus: bool) -> Result<Phone, PhoneError> {
        let attempts: [(Option<country::Id>, String); 2] = [
            (
                if plus {
                    None
                } else {
                    self.default_country.map(|d| d.0)
                },
                format!("{}{digits}", if plus { "+" } else { "" }),
            ),
            (None, format!("+{digits}")),
        ];
        for (country, text) in attempts.iter() {
            if country.is_none() && !text.starts_with('+') {
                continue;
            }
            if let Ok(n) = phonenumber::parse(*country, text) {
                if phonenumber::is_valid(&n) {
                    let s = n.format().mode(Mode::E164).to_string();
                    if let Ok(v) = s.trim_start_matches('+').parse::<u64>() {
                        return Ok(Phone(v));
                    }
                }
            }
        }
        let hint = match self.default_country {
            None if !plus => {
                " (write it with its country code, e.g. +56…, or set a default country)".to_string()
            }
            _ => String::new(),
        };
        Err(PhoneError::Invalid(hint))
    }
}

fn e164(code: u16, national: &str) -> Phone {
    let mut v = code as u64;
    for b in national.bytes() {
        v = v * 10 + (b - b'0') as u64;
    }
    Phone(v)
}

/// `5.69123E+10`, `5,69123E+10`: what Excel shows for a long number in a General cell.
fn looks_scientific(s: &str) -> bool {
    let Some(pos) = s.find(['e', 'E']) else {
        return false;
    };
    let (mantissa, exp) = (&s[..pos], &s[pos + 1..]);
    let exp = exp.strip_prefix('+').unwrap_or(exp);
    !mantissa.is_empty()
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && mantissa.starts_with(|c: char| c.is_ascii_digit())
        && !exp.is_empty()
        && exp.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cl() -> PhoneRules {
        PhoneRules::new(Some("CL".parse().unwrap()))
    }

    #[test]
    fn international_numbers_with_punctuation_normalise_to_e164() {
        let mut r = cl();
        assert_eq!(
            r.parse_text("+56 9 6200 0001").unwrap().e164(),
            "+56962000001"
        );
        assert_eq!(
            r.parse_text("+54 9 11 2345-6789").unwrap().e164(),
            "+5491123456789"
        );
        assert_eq!(
            r.parse_text("+57 (300) 123.4567").unwrap().e164(),
            "+573001234567"
        );
    }

    #[test]
    fn numbers_without_country_code_take_the_default_country() {
        let mut r = cl();
        assert_eq!(r.parse_text("9 6200 0001").unwrap().e164(), "+56962000001");
        let mut ar = PhoneRules::new(Some("AR".parse().unwrap()));
        // Argentina's national form with the trunk 0 and mobile 15 goes through libphonenumber's parser.
        assert_eq!(
            ar.parse_text("011 15 2345-6789").unwrap().e164(),
            "+5491123456789"
        );
    }

    #[test]
    fn digits_with_country_code_but_no_plus_are_accepted() {
        let mut r = cl();
        assert_eq!(r.parse_text("56962000001").unwrap().e164(), "+56962000001");
        let mut none = PhoneRules::new(None);
        assert_eq!(
            none.parse_text("573001234567").unwrap().e164(),
            "+573001234567"
        );
    }

    #[test]
    fn excel_number_cells_are_read_as_their_integer_digits() {
        let mut r = cl();
        assert_eq!(
            r.parse_number(56962000001.0).unwrap().e164(),
            "+56962000001"
        );
        assert_eq!(
            r.parse_number(5696200000.5),
            Err(PhoneError::NotWholeNumber)
        );
    }

    #[test]
    fn scientific_notation_text_is_rejected_because_digits_were_lost() {
        let mut r = cl();
        assert!(matches!(
            r.parse_text("5.69123E+10"),
            Err(PhoneError::ScientificNotation(_))
        ));
        assert!(matches!(
            r.parse_text("5,69123E+10"),
            Err(PhoneError::ScientificNotation(_))
        ));
    }

    #[test]
    fn letters_and_short_or_impossible_numbers_are_invalid() {
        let mut r = cl();
        assert_eq!(r.parse_text("call me"), Err(PhoneError::BadCharacters));
        assert!(matches!(
            r.parse_text("+56 9 0000 0000"),
            Err(PhoneError::Invalid(_))
        ));
        assert!(matches!(r.parse_text("12"), Err(PhoneError::Invalid(_))));
        assert!(matches!(
            r.parse_text("+999 1234567"),
            Err(PhoneError::Invalid(_))
        ));
    }

    #[test]
    fn masking_keeps_only_the_last_four_digits() {
        assert_eq!(mask("+56962000001"), "+*******0001");
    }

    /// The fast path must agree with libphonenumber on every number it accepts or rejects.
    #[test]
    fn fast_path_agrees_with_libphonenumber() {
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let prefixes = [
            "569", "562", "549", "5411", "57", "573", "52", "521", "1", "44", "447", "34", "351",
            "55", "51", "593", "58", "7", "39", "800", "7",
        ];
        let mut r = PhoneRules::new(None);
        let mut agreed = 0;
        for _ in 0..4000 {
            let p = prefixes[(next() % prefixes.len() as u64) as usize];
            let len = 8 + (next() % 6) as usize;
            let mut d = p.to_string();
            while d.len() < len {
                d.push((b'0' + (next() % 10) as u8) as char);
            }
            let ours = r.international(&d);
            let theirs = phonenumber::parse(None, format!("+{d}"))
                .ok()
                .filter(phonenumber::is_valid)
                .map(|n| n.format().mode(Mode::E164).to_string());
            // The fast path may decline (then the slow path decides), but never accept what
            // libphonenumber rejects, nor produce a different number.
            if let Some(p) = ours {
                assert_eq!(Some(p.e164()), theirs, "fast path accepted +{d}");
                agreed += 1;
            }
        }
        assert!(
            agreed > 200,
            "the sample should contain valid numbers ({agreed})"
        );
    }
}
