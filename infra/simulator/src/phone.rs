//! Recipient numbers as each provider writes them (providers.md: Meta `to`
//! digits, Twilio `+E164` or `whatsapp:+E164`, Gupshup `destination` digits,
//! the gateway's `number` digits) brought to one `+E164` form, so stats and
//! rules speak of the same person whichever provider carried the message.
//! And back: [`digits`] for the providers that write no `+`. Also the small
//! `*`/`?` glob the rules use.

/// `+E164` from any provider's spelling, or `None` when it is not 8 to 15
/// digits once the `whatsapp:` prefix, a leading `+` and spaces, dashes,
/// dots and parentheses are set aside.
pub fn to_e164(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_prefix("whatsapp:").unwrap_or(raw).trim();
    let raw = raw.strip_prefix('+').unwrap_or(raw);
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let valid = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then(|| format!("+{digits}"))
}

/// The digits of a `+E164` number, as Meta, Gupshup and the gateway write
/// it in their callbacks and webhooks.
pub fn digits(e164: &str) -> &str {
    e164.trim_start_matches('+')
}

/// Whether `text` matches `pattern`, where `*` stands for any run of
/// characters (also none) and `?` for exactly one.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_providers_spelling_becomes_the_same_e164() {
        for raw in [
            "56962000001",
            "+56962000001",
            "whatsapp:+56962000001",
            " +56 9 6200 0001 ",
            "56-9-6200-0001",
        ] {
            assert_eq!(to_e164(raw).as_deref(), Some("+56962000001"), "{raw}");
        }
    }

    #[test]
    fn what_is_not_a_number_is_refused() {
        for raw in [
            "",
            "abc",
            "+",
            "1234567",
            "5696200000112345",
            "0962000001",
            "56962a00001",
        ] {
            assert_eq!(to_e164(raw), None, "{raw}");
        }
    }

    #[test]
    fn glob_matches_prefixes_and_single_characters() {
        assert!(glob_matches("+56962000*", "+56962000001"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("aviso_*", "aviso_cobranza"));
        assert!(glob_matches("+5696200000?", "+56962000001"));
        assert!(glob_matches("*cobr*", "aviso_cobranza"));
        assert!(!glob_matches("+56962000*", "+56962100001"));
        assert!(!glob_matches("aviso", "aviso_cobranza"));
        assert!(!glob_matches("+5696200000?", "+569620000011"));
    }
}
