//! Gupshup's status callbacks (providers.md, "Callbacks"): version-2
//! `message-event`s (`enqueued` with the WhatsApp message id and whether it
//! was a template or session message, then `sent`, `delivered`, `read`; or
//! `failed` with `code` and `reason`), posted unsigned to the webhook
//! registered for the `source` (its URL carries our secret).

use serde_json::json;

use crate::delivery::{Prepared, StatusEvent};
use crate::phone::digits;
use crate::rules::FailSpec;
use crate::sim::Webhook;

/// Gupshup's events go to the webhook registered for the source.
#[derive(Debug, Clone)]
pub struct GupshupTarget {
    pub hook: Webhook,
    pub app: String,
    pub whatsapp_message_id: String,
    pub template: bool,
}

impl GupshupTarget {
    /// Gupshup's order: `enqueued`, `sent`, `delivered`, `read`; or only
    /// `failed`.
    pub(crate) fn statuses(&self, fail: Option<&FailSpec>) -> Vec<&'static str> {
        match fail {
            None => vec!["enqueued", "sent", "delivered", "read"],
            Some(_) => vec!["failed"],
        }
    }

    pub(crate) fn prepare(&self, event: &StatusEvent) -> Prepared {
        let GupshupTarget {
            app,
            whatsapp_message_id,
            template,
            ..
        } = self;
        let StatusEvent {
            message,
            status,
            fail,
            at_ms,
        } = *event;
        let gs_id = &message.provider_message_id;
        let destination = digits(&message.recipient);
        let payload = match (status, fail) {
            ("enqueued", _) => json!({
                "id": gs_id,
                "type": "enqueued",
                "destination": destination,
                "payload": {
                    "whatsappMessageId": whatsapp_message_id,
                    "type": if *template { "template" } else { "session" },
                },
            }),
            ("failed", f) => {
                let f = f.cloned().unwrap_or_default();
                json!({
                    "id": gs_id,
                    "gsId": gs_id,
                    "type": "failed",
                    "destination": destination,
                    "payload": {
                        "code": f.code,
                        "reason": f.message.unwrap_or_else(|| "Message failed".into()),
                    },
                })
            }
            _ => json!({
                "id": whatsapp_message_id,
                "gsId": gs_id,
                "type": status,
                "destination": destination,
                "payload": {"ts": at_ms / 1000},
            }),
        };
        let body = json!({
            "app": app,
            "timestamp": at_ms,
            "version": 2,
            "type": "message-event",
            "payload": payload,
        });
        Prepared::json(&body)
    }
}
