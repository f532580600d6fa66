//! Tenants' records and the rules for creating them (SPEC §3): provider accounts,
//! templates and campaigns, with the campaign's state machine (SPEC §5).
//!
//! Each `New*` request is parsed once into a type that cannot hold a bad value;
//! parsing returns every bad field at once, named, so an API client can fix
//! them all in one go.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A field the caller got wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

pub(crate) fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A new id: time-ordered (a ULID), so newest-first listings sort by id.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// The lowest id [`new_id`] could make at `unix_ms`: every id made from that
/// millisecond on sorts at or after it, every earlier one before (ULIDs start with
/// their time), so a query can start at a time instead of reading what came after.
pub fn id_floor(prefix: &str, unix_ms: u64) -> String {
    format!(
        "{prefix}_{}",
        ulid::Ulid::from_parts(unix_ms, 0)
            .to_string()
            .to_lowercase()
    )
}

/// Reads a JSON object field by field, collecting every error, and refusing fields it
/// does not know (a typo in a setting must not be silently ignored).
pub(crate) struct Fields<'a> {
    pub(crate) obj: &'a Map<String, Value>,
    pub(crate) known: Vec<&'static str>,
    pub(crate) errors: Vec<FieldError>,
    /// The path of this object in the request (`send_window.`, `metadata[2].`).
    pub(crate) prefix: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(body: &'a Value) -> Result<Self, Vec<FieldError>> {
        match body.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                known: Vec::new(),
                errors: Vec::new(),
                prefix: String::new(),
            }),
            None => Err(vec![err("body", "the request body must be a JSON object")]),
        }
    }

    /// A nested object, read the same way, its errors named by their full path.
    pub(crate) fn nested(value: &'a Value, path: &str) -> Result<Self, Vec<FieldError>> {
        match value.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                known: Vec::new(),
                errors: Vec::new(),
                prefix: format!("{path}."),
            }),
            None => Err(vec![err(path, "must be a JSON object")]),
        }
    }

    /// A field's full path.
    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Records an error on one of this object's fields.
    pub(crate) fn fail(&mut self, name: &str, message: impl Into<String>) {
        let path = self.path(name);
        self.errors.push(err(&path, message));
    }

    pub(crate) fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.obj.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn string(
        &mut self,
        name: &'static str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        match self.get(name) {
            None if required => {
                self.fail(name, "is required");
                None
            }
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() && required => {
                self.fail(name, "must not be empty");
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                self.fail(name, format!("must be at most {max} characters"));
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                self.fail(name, "must be a string");
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, name: &'static str) -> Option<bool> {
        match self.get(name) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.fail(name, "must be true or false");
                None
            }
        }
    }

    pub(crate) fn integer(
        &mut self,
        name: &'static str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        match self.get(name) {
            None => None,
            Some(v) => match v.as_i64() {
                Some(n) if range.contains(&n) => Some(n),
                _ => {
                    let (lo, hi) = range.into_inner();
                    self.errors.push(err(
                        name,
                        format!("must be a whole number from {lo} to {hi}"),
                    ));
                    None
                }
            },
        }
    }

    pub(crate) fn one_of<T: for<'de> Deserialize<'de>>(
        &mut self,
        name: &'static str,
        required: bool,
        options: &str,
    ) -> Option<T> {
        match self.get(name) {
            None if required => {
                self.fail(name, format!("is required (one of {options})"));
                None
            }
            None => None,
            Some(v) => match T::deserialize(v) {
                Ok(t) => Some(t),
                Err(_) => {
                    self.fail(name, format!("must be one of {options}"));
                    None
                }
            },
        }
    }

    pub(crate) fn finish(mut self) -> Result<(), Vec<FieldError>> {
        for key in self.obj.keys() {
            if !self.known.contains(&key.as_str()) {
                let path = self.path(key);
                self.errors.push(err(&path, "is not a known field"));
            }
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

mod account;
mod campaign;
pub mod kpi;
pub mod report_email;
mod template;
mod ticket;

pub use account::*;
pub use campaign::*;
pub use kpi::*;
pub use report_email::*;
pub use template::*;
pub use ticket::*;

/// An email address a report can be sent to: one `@`; before it, 1–64 printable ASCII
/// characters but `"(),:;<>@[\]` (no spaces or control characters: a `\r\nBcc:`
/// cannot ride along; SES takes no other); after it, a domain of dot-separated labels.
pub fn valid_email(e: &str) -> Result<(), String> {
    if e.len() > 254 || e.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must be an email address (no spaces or control characters)".into());
    }
    let Some((user, domain)) = e.split_once('@') else {
        return Err("must be an email address".into());
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    if user.is_empty()
        || user.len() > 64
        || !user.chars().all(|c| c.is_ascii_graphic())
        || user.contains(['@', '<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']'])
        || labels.len() < 2
        || !labels.iter().all(|l| label_ok(l))
    {
        return Err("must be an email address".into());
    }
    Ok(())
}

/// A link Pregón may hand to a provider to fetch: https on port 443 to a public host —
/// not an IP literal in a private, loopback, link-local, shared or reserved range, not
/// `localhost` or a `.local`/`.internal` name, no credentials in it. (Whoever fetches
/// it must not follow redirects either.)
pub fn public_https_url(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("https://")
        .ok_or("must be an https:// link")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not carry credentials".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or("has a malformed host")?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if port.is_some_and(|p| p != "443") {
        return Err("must use the https port (443)".into());
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err("has no host".into());
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return if !public_ip(ip) {
            Err("must point to a public host, not a private or local address".into())
        } else {
            Err("must name a host, not an IP address".into())
        };
    }
    if host == "localhost"
        || [
            ".localhost",
            ".local",
            ".internal",
            ".localdomain",
            ".home.arpa",
        ]
        .iter()
        .any(|s| host.ends_with(s))
        || !host.contains('.')
        || !host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err("must point to a public host".into());
    }
    Ok(())
}

/// Whether an address is a public one: not private, loopback, link-local, shared
/// (100.64/10), reserved, unspecified, broadcast or multicast, nor an IPv6 unique-local,
/// link-local or IPv4-mapped private one. Outbound calls to tenants' own endpoints (SMS
/// gateways) connect only to such addresses (SSRF, DNS rebinding).
pub fn public_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => !v4_private(v4),
        std::net::IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(v4_private))
        }
    }
}

fn v4_private(ip: std::net::Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || o[0] >= 240
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn report_emails_refuse_header_injection() {
        assert!(valid_email("cobranza@empresa.cl").is_ok());
        assert!(valid_email("a@b.c\r\nBcc:victim@x.io").is_err());
        assert!(valid_email("a b@c.cl").is_err());
        assert!(valid_email("a@cl").is_err());
        assert!(valid_email("@c.cl").is_err());
    }

    #[test]
    fn links_must_be_public_https() {
        assert!(public_https_url("https://cdn.empresa.cl/promo.png").is_ok());
        for bad in [
            "http://cdn.empresa.cl/x.png",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://localhost/x",
            "https://metadata.google.internal/x",
            "https://user:pw@cdn.empresa.cl/x",
            "https://cdn.empresa.cl:8443/x",
            "https://100.64.0.1/x",
            "https://intranet/x",
        ] {
            assert!(public_https_url(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn an_id_floor_sorts_between_the_ids_made_before_and_after_its_time() {
        let before = new_id("cmp");
        std::thread::sleep(std::time::Duration::from_millis(3));
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let floor = id_floor("cmp", now_ms);
        std::thread::sleep(std::time::Duration::from_millis(3));
        let after = new_id("cmp");
        assert!(before < floor, "{before} !< {floor}");
        assert!(floor < after, "{floor} !< {after}");
    }
}
