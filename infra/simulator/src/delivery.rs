//! The parts of what the simulator posts to our webhooks: the [`StatusEvent`]
//! a provider shapes a status callback from and the [`Prepared`] request it
//! shapes it into (a customer's inbound message is a [`Prepared`] too). The
//! scheduling and posting are in `callbacks` and `inbound`, each provider's
//! shapes in `providers/<provider>/`; both import this file, and it imports
//! neither.

use serde_json::Value;

use crate::rules::FailSpec;
use crate::sim::Message;

/// A request ready to post (status callbacks in `callbacks`, inbound
/// messages in `inbound`).
pub(crate) struct Prepared {
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Prepared {
    /// `body` as JSON, with no headers yet: what Meta (before it signs),
    /// Gupshup and the gateway post.
    pub(crate) fn json(body: &Value) -> Prepared {
        Prepared {
            body: serde_json::to_vec(body).unwrap_or_default(),
            content_type: "application/json",
            headers: Vec::new(),
        }
    }
}

/// One status callback to shape: the message, the status it reports, the
/// rule's failure (for `failed`/`undelivered`) and when it happens. The
/// provider targets' `prepare` all take it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatusEvent<'a> {
    pub(crate) message: &'a Message,
    pub(crate) status: &'a str,
    pub(crate) fail: Option<&'a FailSpec>,
    pub(crate) at_ms: u64,
}
