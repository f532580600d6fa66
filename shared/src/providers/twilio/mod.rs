//! Twilio (providers.md, "Twilio"): Programmable Messaging sends ([`send`]), its
//! signed form-encoded callbacks ([`webhook`]) and WhatsApp templates through the
//! Content API ([`templates`]).

pub mod send;
pub mod templates;
pub mod webhook;

pub use send::*;
pub use templates::*;
pub use webhook::*;
