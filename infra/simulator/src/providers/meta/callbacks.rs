//! Meta's status callbacks (providers.md, "Webhooks"): the
//! `whatsapp_business_account` webhook with one `statuses[]` entry (`sent`,
//! `delivered`, `read`, or `failed` with `errors[]`), echoing
//! `biz_opaque_callback_data`, posted to the webhook registered for the
//! `phone_number_id` and signed with `X-Hub-Signature-256` when the
//! registration has an `app_secret`.

use serde_json::json;

use super::{errors, webhook_request};
use crate::delivery::{Prepared, StatusEvent};
use crate::phone::digits;
use crate::rules::FailSpec;
use crate::sim::Webhook;

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

    pub(crate) fn prepare(&self, event: &StatusEvent) -> Prepared {
        let message = event.message;
        let mut entry = json!({
            "id": message.provider_message_id,
            "status": event.status,
            "timestamp": (event.at_ms / 1000).to_string(),
            "recipient_id": digits(&message.recipient),
        });
        if let Some(data) = message
            .correlation
            .as_ref()
            .and_then(|c| c.get("biz_opaque_callback_data"))
        {
            entry["biz_opaque_callback_data"] = data.clone();
        }
        if let (Some(f), "failed") = (event.fail, event.status) {
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
        webhook_request(&self.hook, &message.sender, json!({ "statuses": [entry] }))
    }
}
