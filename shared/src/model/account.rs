//! Provider accounts (SPEC §9): a sender number or WhatsApp Business phone to send from.

use super::{err, FieldError, Fields};
use crate::phone::DefaultCountry;
use crate::validate::Channel;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Meta,
    Twilio,
    Gupshup,
    SmsGateway,
}

impl ProviderKind {
    /// Its name as the API writes it (`meta`, `twilio`, `gupshup`, `sms_gateway`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Meta => "meta",
            ProviderKind::Twilio => "twilio",
            ProviderKind::Gupshup => "gupshup",
            ProviderKind::SmsGateway => "sms_gateway",
        }
    }

    /// Whether its status callbacks report every message it takes, naming our message
    /// (Meta's `biz_opaque_callback_data`, Twilio's `StatusCallback`): then a message
    /// never reported was most likely never taken (SPEC §5, `not_sent`).
    pub fn reports_every_message(self) -> bool {
        matches!(self, ProviderKind::Meta | ProviderKind::Twilio)
    }
}

/// A provider account: a sender number or WhatsApp Business phone to send from.
/// Credentials live in Secrets Manager; the record holds only the secret's ARN,
/// which is never returned by the API (its view, `AccountSummary` in the API crate,
/// lists what is shown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub provider: ProviderKind,
    pub channel: Channel,
    pub sender: String,
    pub default_country: Option<String>,
    /// Messages per second this account may send.
    pub rate: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_secret_arn: Option<String>,
    /// SMS gateways: the ports (channels) messages rotate over, in order (SPEC §9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    pub created_at: String,
    /// What the tenant calls it ("Cobranzas Chile"), and a note; set with `PATCH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the tenant disabled it (`PATCH … {"enabled": false}`); `None` while enabled.
    /// A disabled account sends nothing: its campaigns wait paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    /// The campaigns disabling the account paused, resumed when it is enabled again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paused_campaigns: Vec<String>,
}

impl Account {
    /// Whether it may send (not disabled).
    pub fn enabled(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// An account's webhook URL: `{base}/v1/webhooks/{account}`, with `?key={secret}`
/// when the account has a URL secret (what authenticates Gupshup and gateway callbacks).
pub fn webhook_url(base: &str, account: &str, secret: Option<&str>) -> String {
    let mut url = format!("{}/v1/webhooks/{account}", base.trim_end_matches('/'));
    if let Some(k) = secret {
        url.push_str("?key=");
        url.push_str(k);
    }
    url
}

/// The status callback URL of one message (Twilio's `StatusCallback`): the account's
/// webhook URL naming the message, `{base}/v1/webhooks/{account}?m={message}`.
pub fn status_callback_url(base: &str, account: &str, message: &str) -> String {
    format!("{}?m={message}", webhook_url(base, account, None))
}

/// `POST /v1/accounts`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAccount {
    pub provider: ProviderKind,
    pub channel: Channel,
    pub sender: String,
    pub default_country: Option<String>,
    pub rate: u32,
    /// Provider credentials, to be stored in Secrets Manager as given.
    pub credentials: Option<Map<String, Value>>,
    /// SMS gateways: the ports messages rotate over.
    pub ports: Vec<u16>,
}

/// The credentials each provider kind needs (SPEC §9).
pub fn required_credentials(p: ProviderKind) -> &'static [&'static str] {
    match p {
        ProviderKind::Meta => &[
            "access_token",
            "app_secret",
            "verify_token",
            "phone_number_id",
            "waba_id",
        ],
        ProviderKind::Twilio => &["account_sid", "auth_token"],
        ProviderKind::Gupshup => &["api_key", "app_name", "app_id", "partner_token"],
        ProviderKind::SmsGateway => &["url", "user", "password"],
    }
}

/// `ports`: a list of port numbers (0–63) or a range/list as text: `"0-3"`, `"0,2"`.
pub fn parse_ports(v: &Value) -> Result<Vec<u16>, String> {
    let bad =
        || "must be port numbers 0–63: a list, or text such as \"0-3\" or \"0,2\"".to_string();
    let mut ports: Vec<u16> = match v {
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_u64()
                    .filter(|p| *p < 64)
                    .map(|p| p as u16)
                    .ok_or_else(bad)
            })
            .collect::<Result<_, _>>()?,
        Value::String(s) => {
            let mut out = Vec::new();
            for part in s.split(',') {
                let part = part.trim();
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b): (u16, u16) = (
                            a.trim().parse().map_err(|_| bad())?,
                            b.trim().parse().map_err(|_| bad())?,
                        );
                        if a > b || b >= 64 {
                            return Err(bad());
                        }
                        out.extend(a..=b);
                    }
                    None => out.push(
                        part.parse::<u16>()
                            .ok()
                            .filter(|p| *p < 64)
                            .ok_or_else(bad)?,
                    ),
                }
            }
            out
        }
        _ => return Err(bad()),
    };
    let n = ports.len();
    ports.dedup();
    if ports.is_empty() || ports.len() != n {
        return Err(bad());
    }
    Ok(ports)
}

/// `PATCH /v1/accounts/{id}`: what changes; a field left out (or `null`) stays as it
/// is, an empty `name`, `description` or `default_country` clears it.
#[derive(Debug, Default, PartialEq)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub rate: Option<u32>,
    pub ports: Option<Vec<u16>>,
    pub default_country: Option<String>,
    /// Disable (`false`) or enable (`true`) it; what that pauses and resumes is the API's
    /// to do, so [`apply`](Self::apply) leaves it.
    pub enabled: Option<bool>,
}

impl AccountPatch {
    /// The change for an account of `provider` (only gateways have `ports`).
    pub fn parse_patch(body: &Value, provider: ProviderKind) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body)?;
        let name = f.string("name", false, 100);
        let description = f.string("description", false, 500);
        for field in ["name", "description"] {
            // Anywhere in what was sent, not only inside the trimmed value.
            let raw = body.get(field).and_then(Value::as_str).unwrap_or("");
            if raw.chars().any(char::is_control) {
                f.fail(field, "must not contain control characters");
            }
        }
        let default_country = f.string("default_country", false, 2);
        match body.get("default_country").and_then(Value::as_str) {
            None | Some("") => {}
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                if let Err(e) = c.parse::<DefaultCountry>() {
                    f.errors.push(err("default_country", e));
                }
            }
            Some(_) => f.fail(
                "default_country",
                "must be an ISO 3166 alpha-2 code such as CL, or empty to clear it",
            ),
        }
        let rate = f.integer("rate", 1..=1000).map(|r| r as u32);
        let enabled = f.boolean("enabled");
        let ports = match f.get("ports") {
            None => None,
            Some(_) if provider != ProviderKind::SmsGateway => {
                f.fail("ports", "only SMS gateways have ports");
                None
            }
            Some(v) => match parse_ports(v) {
                Ok(p) => Some(p),
                Err(e) => {
                    f.fail("ports", e);
                    None
                }
            },
        };
        f.finish()?;
        Ok(AccountPatch {
            name,
            description,
            rate,
            ports,
            default_country: default_country.map(|c| c.to_ascii_uppercase()),
            enabled,
        })
    }

    /// The account with the change made.
    pub fn apply(self, a: &mut Account) {
        let clear = |s: String| (!s.is_empty()).then_some(s);
        if let Some(n) = self.name {
            a.name = clear(n);
        }
        if let Some(d) = self.description {
            a.description = clear(d);
        }
        if let Some(c) = self.default_country {
            a.default_country = clear(c);
        }
        if let Some(r) = self.rate {
            a.rate = r;
        }
        if let Some(p) = self.ports {
            a.ports = p;
        }
    }
}

impl NewAccount {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        Self::parse_with(body, false)
    }

    /// `allow_http`: a gateway `url` may be plain http to a loopback host (the local
    /// stack's simulator); anywhere else it must be https.
    pub fn parse_with(body: &Value, allow_http: bool) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body)?;
        let provider = f.one_of("provider", true, "meta, twilio, gupshup, sms_gateway");
        let channel: Option<Channel> = f.one_of("channel", true, "whatsapp, sms");
        let sender = f.string("sender", true, 64);
        let default_country = f.string("default_country", false, 2);
        if let Some(c) = &default_country {
            if let Err(e) = c.parse::<DefaultCountry>() {
                f.errors.push(err("default_country", e));
            }
        }
        let rate = f.integer("rate", 1..=1000).unwrap_or(20) as u32;
        let credentials = match f.get("credentials") {
            None => {
                f.fail("credentials", "is required: the provider's credentials (stored in Secrets Manager, never shown again)");
                None
            }
            Some(Value::Object(m)) => {
                check_credentials(provider, m, allow_http, &mut f.errors);
                Some(m.clone())
            }
            Some(_) => {
                f.fail("credentials", "must be a JSON object");
                None
            }
        };
        let ports = match f.get("ports") {
            None => Vec::new(),
            Some(_) if provider != Some(ProviderKind::SmsGateway) => {
                f.fail("ports", "only SMS gateways have ports");
                Vec::new()
            }
            Some(v) => parse_ports(v).unwrap_or_else(|e| {
                f.fail("ports", e);
                Vec::new()
            }),
        };
        if let (Some(ProviderKind::Twilio | ProviderKind::SmsGateway), Some(Channel::Whatsapp)) =
            (provider, channel)
        {
            if provider == Some(ProviderKind::SmsGateway) {
                f.errors
                    .push(err("channel", "an SMS gateway sends SMS only"));
            }
        }
        if let (Some(ProviderKind::Meta), Some(Channel::Sms)) = (provider, channel) {
            f.errors
                .push(err("channel", "the WhatsApp Cloud API sends WhatsApp only"));
        }
        f.finish()?;
        Ok(NewAccount {
            provider: provider.expect("checked"),
            channel: channel.expect("checked"),
            sender: sender.expect("checked"),
            default_country: default_country.map(|c| c.to_ascii_uppercase()),
            rate,
            credentials,
            ports,
        })
    }
}

/// Credentials: at most 20 string values of at most 4,096 characters, and every field the provider
/// kind needs (SPEC §9), each missing one named (`credentials.access_token`). The same
/// rules for new credentials (`PUT /v1/accounts/{id}/credentials`) as for an account's
/// first.
pub fn check_credentials(
    provider: Option<ProviderKind>,
    m: &Map<String, Value>,
    allow_http: bool,
    errors: &mut Vec<FieldError>,
) {
    if m.len() > 20 {
        errors.push(err("credentials", "must have at most 20 fields"));
        return;
    }
    for (k, v) in m {
        let path = format!("credentials.{}", crate::validate::excerpt(k));
        match v.as_str() {
            _ if k.chars().count() > 64 => errors.push(err(&path, "names at most 64 characters")),
            Some(s) if s.chars().count() > 4096 => {
                errors.push(err(&path, "must be at most 4,096 characters"))
            }
            Some(s) if s.trim().is_empty() => errors.push(err(&path, "must not be empty")),
            Some(_) => {}
            None => errors.push(err(&path, "must be a string")),
        }
    }
    let Some(p) = provider else { return };
    for need in required_credentials(p) {
        if !m.contains_key(*need) {
            errors.push(err(
                &format!("credentials.{need}"),
                "is required for this provider",
            ));
        }
    }
    if p == ProviderKind::SmsGateway {
        if let Some(url) = m.get("url").and_then(Value::as_str) {
            let local = ["http://127.0.0.1", "http://localhost"]
                .iter()
                .any(|h| url.starts_with(h));
            // The same rule as a header image's link: the senders call it.
            if !(allow_http && local) {
                if let Err(e) = super::public_https_url(url) {
                    errors.push(err("credentials.url", e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_url_must_be_a_public_https_host() {
        let body = |url: &str| {
            serde_json::json!({"provider":"sms_gateway","channel":"sms","sender":"gw1",
                "credentials":{"url":url,"user":"admin","password":"pw"}})
        };
        for bad in [
            "http://gw.empresa.cl",
            "https://10.0.0.5",
            "https://169.254.169.254/latest",
            "https://localhost",
            "https://gw.internal",
            "https://user:pw@gw.empresa.cl",
            "https://gw.empresa.cl:8080",
        ] {
            let e = NewAccount::parse_with(&body(bad), false).unwrap_err();
            assert!(
                e.iter().any(|f| f.field == "credentials.url"),
                "{bad}: {e:?}"
            );
        }
        assert!(NewAccount::parse_with(&body("https://gw.empresa.cl/"), false).is_ok());
        // The local stack's simulator, only where allowed.
        assert!(NewAccount::parse_with(&body("http://127.0.0.1:9000"), true).is_ok());
        assert!(NewAccount::parse_with(&body("http://127.0.0.1:9000"), false).is_err());
    }

    #[test]
    fn provider_names_are_the_serialized_ones() {
        for p in [
            ProviderKind::Meta,
            ProviderKind::Twilio,
            ProviderKind::Gupshup,
            ProviderKind::SmsGateway,
        ] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }
}
