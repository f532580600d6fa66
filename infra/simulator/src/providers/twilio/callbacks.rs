//! Twilio's status callbacks (providers.md, "Status callback"): a form POST
//! to the message's own `StatusCallback` (`MessageSid`, `MessageStatus`,
//! `SmsStatus`, `To`, `From` or `MessagingServiceSid`, `ErrorCode` when
//! `undelivered`), signed with `X-Twilio-Signature` over that URL and the
//! sorted fields with the account's auth token.

use super::signed_form;
use crate::delivery::{Prepared, StatusEvent};
use crate::rules::FailSpec;

/// Twilio's statuses go to the URL the send gave as `StatusCallback`.
#[derive(Debug, Clone)]
pub struct TwilioTarget {
    pub url: String,
    pub auth_token: String,
    pub account_sid: String,
    /// `From` as sent (`whatsapp:` kept), or `None` with a messaging service.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// `To` as sent.
    pub to: String,
}

impl TwilioTarget {
    /// Twilio's order: `sent`, `delivered` (and `read` on WhatsApp); or
    /// `sent`, `undelivered`.
    pub(crate) fn statuses(&self, whatsapp: bool, fail: Option<&FailSpec>) -> Vec<&'static str> {
        match fail {
            None if whatsapp => vec!["sent", "delivered", "read"],
            None => vec!["sent", "delivered"],
            Some(_) => vec!["sent", "undelivered"],
        }
    }

    pub(crate) fn prepare(&self, event: &StatusEvent) -> Prepared {
        let TwilioTarget {
            url,
            auth_token,
            account_sid,
            from,
            messaging_service_sid,
            to,
        } = self;
        let status = event.status;
        let sid = &event.message.provider_message_id;
        let mut params: Vec<(String, String)> = vec![
            ("SmsSid".into(), sid.clone()),
            ("SmsStatus".into(), status.into()),
            ("MessageStatus".into(), status.into()),
            ("To".into(), to.clone()),
            ("MessageSid".into(), sid.clone()),
            ("AccountSid".into(), account_sid.clone()),
        ];
        if let Some(from) = from {
            params.push(("From".into(), from.clone()));
        }
        if let Some(mg) = messaging_service_sid {
            params.push(("MessagingServiceSid".into(), mg.clone()));
        }
        params.push(("ApiVersion".into(), "2010-04-01".into()));
        if let (Some(f), "undelivered") = (event.fail, status) {
            params.push(("ErrorCode".into(), f.code.to_string()));
        }
        signed_form(url, auth_token, &params)
    }
}
