//! Meta's documented error texts (providers.md's table), for the send answers
//! ([`super::error`]) and the failed statuses ([`super::callbacks`]) of the Meta
//! simulator.

/// Meta's text for an error code (providers.md's table), used when a rule
/// gives none.
pub fn text(code: i64) -> &'static str {
    match code {
        4 => "Application request limit reached",
        100 => "Invalid parameter",
        190 => "Invalid OAuth access token - Cannot parse access token",
        368 => "Temporarily blocked for policies violations",
        2500 => "Unknown path components",
        80007 => "Rate limit issues",
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131008 => "Required parameter is missing",
        131009 => "Parameter value is not valid",
        131016 => "Service unavailable",
        131026 => "Message undeliverable",
        131031 => "Business Account locked",
        131047 => "Re-engagement message",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement",
        131050 => "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        132000 => "Number of parameters does not match the expected number of params",
        132001 => "Template name does not exist in the translation",
        132012 => "Parameter format does not match format in the created template",
        132015 => "Template is Paused",
        132016 => "Template is Disabled",
        _ => "An unknown error occurred",
    }
}
