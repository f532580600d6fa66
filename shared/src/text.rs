//! Small text helpers shared by the functions and the local stack.

/// Decodes `%XX` escapes and `+` (as a space), as S3 event keys and query strings use
/// them. A malformed escape is kept as written.
pub fn percent_decode(s: &str) -> String {
    decode(s, true)
}

/// Decodes the `%XX` escapes of a URL path segment, where `+` is itself (a phone's
/// `+56…`, an address's `avisos+cl@…`). A malformed escape is kept as written.
pub fn percent_decode_path(s: &str) -> String {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 3 <= b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{percent_decode, percent_decode_path};

    #[test]
    fn s3_keys_and_query_strings_are_decoded() {
        assert_eq!(
            percent_decode("uploads/t/c/mi+archivo%C3%B1.csv"),
            "uploads/t/c/mi archivoñ.csv"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn a_path_segment_keeps_its_plus() {
        assert_eq!(percent_decode_path("+56912345678"), "+56912345678");
        assert_eq!(percent_decode_path("%2B569"), "+569");
        assert_eq!(
            percent_decode_path("avisos+cl%40empresa.cl"),
            "avisos+cl@empresa.cl"
        );
    }
}
