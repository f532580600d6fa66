//! Meta's status callbacks (providers.md, "Webhooks"): the
//! `whatsapp_business_account` webhook with one `statuses[]` entry (`sent`,
//! `delivered`, `read`, or `failed` with `errors[]`), echoing
//! `biz_opaque_callback_data`, posted to the webhook registered for the
//! `phone_number_id` and signed with `X-Hub-Signature-256` when the
//! registration has an `app_secret`.

use serde_json::json;

use super::errors;
use crate::callbacks::Prepared;
use crate::phone::digits;
use crate::rules::FailSpec;
use crate::signing;
use crate::sim::{Message, Webhook};

/// Meta's statuses go to the webhook registered for the sender.
#[derive(Debug, Clone)]
pub struct MetaTarget {
    pub hook: Webhook,
}

impl MetaTarget {
    /// Meta's order: `sent`, `delivered`, `read`; or only `failed`.
    pub(crate) fn statuses(&self, fail: Option<&FailSpec>) -> Vec<&'static str> {
        match fail {
            None => vec!["sent", "delivered", "read"],
            Some(_) => vec!["failed"],
        }
    }

    pub(crate) fn prepare(
        &self,
        message: &Message,
        status: &str,
        fail: Option<&FailSpec>,
        at_ms: u64,
    ) -> Prepared {
        let hook = &self.hook;
        let mut entry = json!({
            "id": message.provider_message_id,
            "status": status,
            "timestamp": (at_ms / 1000).to_string(),
            "recipient_id": digits(&message.recipient),
        });
        if let Some(data) = message
            .correlation
            .as_ref()
            .and_then(|c| c.get("biz_opaque_callback_data"))
        {
            entry["biz_opaque_callback_data"] = data.clone();
        }
        if let (Some(f), "failed") = (fail, status) {
            let text = f
                .message
                .clone()
                .unwrap_or_else(|| errors::text(f.code).to_string());
            entry["errors"] = json!([{
                "code": f.code,
                "title": text,
                "message": text,
                "error_data": {"details": text},
            }]);
        }
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": hook.waba_id.clone().unwrap_or_else(|| "0".into()),
                "changes": [{
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": hook
                                .display_phone_number
                                .clone()
                                .unwrap_or_else(|| message.sender.clone()),
                            "phone_number_id": message.sender,
                        },
                        "statuses": [entry],
                    },
                    "field": "messages",
                }],
            }],
        });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut headers = Vec::new();
        if let Some(secret) = &hook.app_secret {
            headers.push((
                "X-Hub-Signature-256",
                signing::meta_signature(secret, &body),
            ));
        }
        Prepared {
            body,
            content_type: "application/json",
            headers,
        }
    }
}
