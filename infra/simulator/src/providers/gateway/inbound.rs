//! How the gateway delivers a received SMS: its push to the URL registered
//! for its serial number, unsigned (the URL carries our secret).

use serde_json::{json, Value};

use crate::delivery::Prepared;
use crate::message::{Content, Inbound};
use crate::phone::digits;
use crate::rfc3339;
use crate::sim::Webhook;

/// The request the gateway would post to `hook` (unsigned).
pub(crate) fn prepare(inbound: &Inbound, hook: &Webhook) -> Prepared {
    Prepared::json(&body(inbound, hook))
}

/// A Dinstar-kind gateway's push of a received SMS (its HTTP API manual, "Receive
/// SMS": `sn` and `sms[]` of `incoming_sms_id`, `port`, `number`, `smsc`,
/// `timestamp` in the gateway's local time `YYYY-MM-DD HH:MM:SS`, `text`); the
/// registration's `sender` is the gateway's serial number. Unsigned: the URL
/// carries our secret.
fn body(inbound: &Inbound, hook: &Webhook) -> Value {
    let text = match &inbound.content {
        Content::Text(text) => text.clone(),
        _ => String::new(),
    };
    let at = rfc3339(inbound.at_ms);
    let timestamp = at.get(..19).unwrap_or(&at).replace('T', " ");
    json!({
        "sn": hook.sender,
        "sms": [{
            "incoming_sms_id": inbound.id.parse::<u64>().unwrap_or(1),
            "port": 0,
            "number": digits(&inbound.from),
            "smsc": "+56900000000",
            "timestamp": timestamp,
            "text": text,
        }],
    })
}
