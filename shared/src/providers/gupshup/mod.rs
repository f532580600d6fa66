//! Gupshup WhatsApp API (providers.md, "Gupshup"): sends ([`send`]), its unsigned
//! JSON callbacks, checked by the account's URL secret ([`webhook`]), and templates
//! through the partner API ([`templates`]).

pub mod send;
pub mod templates;
pub mod webhook;

pub use send::*;
pub use templates::*;
pub use webhook::*;
