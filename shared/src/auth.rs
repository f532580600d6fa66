//! Tenant API keys. A key is shown once, when made; only its SHA-256 is stored.
//! Keys are 256 random bits, so a plain hash is enough (no password stretching).

use rand::RngCore;
use sha2::{Digest, Sha256};

pub use crate::scopes::Scope;

/// A new API key: `pgn_` and 64 hex characters.
pub fn new_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("pgn_{}", hex::encode(bytes))
}

/// What is stored and looked up: the key's SHA-256, hex.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The key in an `Authorization: Bearer …` header, if the header is well formed.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, key) = h.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && key.starts_with("pgn_") && key.len() == 68)
        .then_some(key)
}

/// A new operator key (the `/v1/admin` routes): `pgo_` and 64 hex characters. Only its
/// SHA-256 is deployed (`AdminKeySha256`); tenants never hold one.
pub fn new_operator_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("pgo_{}", hex::encode(bytes))
}

/// Whether an `Authorization: Bearer pgo_…` header carries the operator key whose
/// SHA-256 (hex) is `expected_hash` (constant time; an empty hash admits nobody).
pub fn is_operator(header: Option<&str>, expected_hash: &str) -> bool {
    let Some(h) = header.map(str::trim) else {
        return false;
    };
    let Some((scheme, key)) = h.split_once(' ') else {
        return false;
    };
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer")
        || !key.starts_with("pgo_")
        || key.len() != 68
        || expected_hash.len() != 64
    {
        return false;
    }
    let given = key_hash(key);
    given
        .bytes()
        .zip(expected_hash.to_ascii_lowercase().bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_operator_key_whose_hash_is_deployed_is_the_operator() {
        let k = new_operator_key();
        let h = key_hash(&k);
        assert!(is_operator(Some(&format!("Bearer {k}")), &h));
        assert!(!is_operator(Some(&format!("Bearer {k}")), ""));
        assert!(!is_operator(
            Some(&format!("Bearer {}", new_operator_key())),
            &h
        ));
        // A tenant key is never the operator's, even with the same bits.
        let tenant = format!("pgn_{}", &k[4..]);
        assert!(!is_operator(
            Some(&format!("Bearer {tenant}")),
            &key_hash(&tenant)
        ));
        assert!(!is_operator(None, &h));
    }

    #[test]
    fn keys_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_api_key(), new_api_key());
        assert_ne!(a, b);
        assert_eq!(key_hash(&a).len(), 64);
        assert_ne!(key_hash(&a), key_hash(&b));
        assert!(!key_hash(&a).contains(&a[4..]));
    }

    #[test]
    fn only_well_formed_bearer_headers_carry_a_key() {
        let k = new_api_key();
        assert_eq!(bearer(Some(&format!("Bearer {k}"))), Some(k.as_str()));
        assert_eq!(bearer(Some(&format!("bearer  {k}"))), Some(k.as_str()));
        assert_eq!(bearer(Some(&k)), None);
        assert_eq!(bearer(Some("Bearer pgn_short")), None);
        assert_eq!(bearer(Some(&format!("Basic {k}"))), None);
        assert_eq!(bearer(None), None);
    }
}

/// A tenant id that keys and S3 paths can carry safely (`uploads/{tenant}/…`,
/// `TENANT#{tenant}`): 1–64 of `a-z 0-9 _ -`.
pub fn valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tenant_tests {
    #[test]
    fn tenant_ids_cannot_break_keys_or_paths() {
        assert!(super::valid_tenant_id("ten_01m872d721f5dczfhycw1w49st"));
        for bad in ["", "a/b", "a#b", "A", "a b", &"x".repeat(65)] {
            assert!(!super::valid_tenant_id(bad), "{bad}");
        }
    }
}
