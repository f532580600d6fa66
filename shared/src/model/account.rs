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

/// A provider account: a sender number or WhatsApp Business phone to send from.
/// Credentials live in Secrets Manager; the record holds only the secret's ARN,
/// which is never returned by the API.
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
}

impl Account {
    /// What the API shows: everything but the secret's location.
    pub fn public(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("serialises");
        let obj = v.as_object_mut().expect("object");
        obj.remove("credentials_secret_arn");
        obj.insert(
            "credentials".into(),
            Value::from(if self.credentials_secret_arn.is_some() {
                "stored"
            } else {
                "none"
            }),
        );
        v
    }
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
}

impl NewAccount {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
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
            None => None,
            Some(Value::Object(m)) if !m.is_empty() => Some(m.clone()),
            Some(_) => {
                f.errors
                    .push(err("credentials", "must be a non-empty JSON object"));
                None
            }
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
        })
    }
}
