//! The providers the simulator plays, one folder each: `meta/` (WhatsApp
//! Business Cloud API), `twilio/` (Programmable Messaging and the Content
//! API), `gupshup/` (WhatsApp API and partner API) and `gateway/` (an SMS
//! gateway of the Dinstar kind). Each folder holds only what its provider does
//! its own way: `send.rs` (its send API, checked as it checks), `templates.rs`
//! where it has template endpoints, `callbacks.rs` (its statuses and the
//! body and signature of its status callbacks; the gateway pushes none and
//! has `results.rs` for `query_sms_result` instead) and `inbound.rs` (how it
//! delivers a customer's message to our webhook). What they share lives once outside: `sim` (rules,
//! rate and counters behind every send), `callbacks` (scheduling and posting
//! status callbacks), `inbound` (`POST /_sim/inbound`), `delivery` (the
//! status event and the prepared request their shapes make), `message` (the
//! checked inbound message they shape) and `templates` (the one registry and
//! its review timeline).

pub mod gateway;
pub mod gupshup;
pub mod meta;
pub mod twilio;

use std::sync::Arc;

use axum::Router;

use crate::Sim;

/// Every provider's routes, under their real paths.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .merge(meta::routes())
        .merge(twilio::routes())
        .merge(gupshup::routes())
        .merge(gateway::routes())
}
