//! Meta WhatsApp Business Cloud API (providers.md, "Meta"): sending ([`send`]), the
//! webhook ([`webhook`]: GET handshake, `X-Hub-Signature-256`, JSON batches) and the
//! WhatsApp Business account's `message_templates` ([`templates`]).

pub mod send;
pub mod templates;
pub mod webhook;

pub use send::*;
pub use templates::*;
pub use webhook::*;
