//! Events for the tenant's other systems (a CRM, a collections system): message status
//! changes, replies, opt-outs and ticket closes, published to the stack's EventBridge
//! bus (`EVENT_BUS_NAME`), source [`SOURCE`], batched at most [`BATCH`] entries a call.
//! Each event's `detail` names its tenant (`tenant_id`), so a rule can route one
//! tenant's events. The shapes are in the README ("Events").
//!
//! Publishing is best effort: the change it reports is already stored, so a failed
//! call is logged and counted (`EventsFailed`), never turned into a retry of the
//! change. Without `EVENT_BUS_NAME` nothing is published.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{json, Value};
use tracing::warn;

pub const SOURCE: &str = "pregon";
/// PutEvents takes at most 10 entries.
pub const BATCH: usize = 10;

/// One event: its `detail-type` and `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub detail_type: &'static str,
    pub detail: Value,
}

/// A message moved forward (`delivered`, `read`, `replied`, `undelivered`, `failed`, …).
pub fn message_status(
    message_id: &str,
    status: &str,
    previous: &str,
    provider_message_id: &str,
    at: &str,
    error: (Option<&str>, Option<&str>),
) -> Option<Event> {
    let (tenant, campaign, _, _) = pregon::sending::parse_message_id(message_id)?;
    Some(Event {
        detail_type: "Message Status Changed",
        detail: json!({
            "tenant_id": tenant,
            "campaign_id": campaign,
            "message_id": message_id,
            "status": status,
            "previous_status": previous,
            "provider_message_id": provider_message_id,
            "error_code": error.0,
            "error_message": error.1,
            "at": at,
        }),
    })
}

/// A customer's message, stored on a ticket.
#[allow(clippy::too_many_arguments)]
pub fn reply_received(
    tenant: &str,
    account: &str,
    ticket_id: &str,
    campaign_id: Option<&str>,
    message_id: Option<&str>,
    phone: &str,
    text: Option<&str>,
    button_payload: Option<&str>,
    at: &str,
) -> Event {
    Event {
        detail_type: "Reply Received",
        detail: json!({
            "tenant_id": tenant,
            "account_id": account,
            "ticket_id": ticket_id,
            "campaign_id": campaign_id,
            "message_id": message_id,
            "phone": phone,
            "text": text,
            "button_payload": button_payload,
            "at": at,
        }),
    }
}

/// A customer opted out: the phone is on the tenant's do-not-contact list.
pub fn opted_out(tenant: &str, account: &str, phone: &str, ticket_id: &str, at: &str) -> Event {
    Event {
        detail_type: "Contact Opted Out",
        detail: json!({
            "tenant_id": tenant,
            "account_id": account,
            "phone": phone,
            "ticket_id": ticket_id,
            "at": at,
        }),
    }
}

/// A ticket closed (`no_reply`, `idle`, `agent`, `opted_out`).
pub fn ticket_closed(
    tenant: &str,
    ticket_id: &str,
    campaign_id: Option<&str>,
    close_reason: &str,
    at: &str,
) -> Event {
    Event {
        detail_type: "Ticket Closed",
        detail: json!({
            "tenant_id": tenant,
            "ticket_id": ticket_id,
            "campaign_id": campaign_id,
            "close_reason": close_reason,
            "closed_at": at,
        }),
    }
}

/// The stack's event bus, if it has one.
#[derive(Clone)]
pub struct Events {
    client: Option<(aws_sdk_eventbridge::Client, String)>,
}

impl Events {
    /// No bus: nothing is published.
    pub fn none() -> Events {
        Events { client: None }
    }

    pub fn from_env(sdk: &aws_config::SdkConfig) -> Events {
        let bus = std::env::var("EVENT_BUS_NAME")
            .ok()
            .filter(|b| !b.is_empty());
        let client = bus.map(|bus| (aws_sdk_eventbridge::Client::new(sdk), bus));
        Events { client }
    }

    /// Publishes the events, [`BATCH`] to a call. Failures are logged and counted.
    pub async fn publish(&self, events: Vec<Event>) {
        let Some((client, bus)) = &self.client else {
            return;
        };
        for chunk in events.chunks(BATCH) {
            let entries: Vec<PutEventsRequestEntry> = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(bus)
                        .source(SOURCE)
                        .detail_type(e.detail_type)
                        .detail(e.detail.to_string())
                        .build()
                })
                .collect();
            let failed = match client.put_events().set_entries(Some(entries)).send().await {
                Ok(out) => out.failed_entry_count() as usize,
                Err(e) => {
                    warn!(error = ?e, count = chunk.len(), "events not published");
                    chunk.len()
                }
            };
            if failed > 0 {
                warn!(failed, "some events were not published");
                crate::metrics::emit(
                    &[("Function", "events")],
                    &[("EventsFailed", failed as f64, crate::metrics::Unit::Count)],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_event_names_its_tenant_campaign_and_message() {
        let e = message_status(
            "ten_1.cmp_2.1.7",
            "read",
            "delivered",
            "wamid.X",
            "2026-12-01T12:00:00Z",
            (None, None),
        )
        .unwrap();
        assert_eq!(e.detail_type, "Message Status Changed");
        assert_eq!(e.detail["tenant_id"], "ten_1");
        assert_eq!(e.detail["campaign_id"], "cmp_2");
        assert_eq!(e.detail["previous_status"], "delivered");
        assert!(message_status("nonsense", "read", "sent", "x", "t", (None, None)).is_none());
    }
}
