//! SMS gateways of the Dinstar kind (providers.md, "SMS gateway"): sends, one port
//! per message ([`send`]), and the send results and received SMS the gateway posts
//! ([`webhook`]). Gateways have no templates: the text is rendered before sending.

pub mod send;
pub mod webhook;

pub use send::*;
pub use webhook::*;
