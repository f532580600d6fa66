//! Plays the providers' per-sender throughput limit (providers.md, "Limits
//! that shape the design": Meta 80–1,000 msg/s per number, over it 130429;
//! Twilio, Gupshup and gateways have their own) as a count per calendar
//! second (the unix second) for each sender, and remembers the most messages
//! any sender got accepted in one second: the number that proves from outside
//! that a client never went over its rate.
//!
//! The sender is whatever the provider identifies the sending line by: Meta's
//! `phone_number_id`, Twilio's `From` (without `whatsapp:`) or
//! `MessagingServiceSid`, Gupshup's `source`, the gateway's Basic-auth user.

use std::collections::{BTreeMap, HashMap};

#[derive(Debug)]
pub struct RateLimiter {
    default_rate: u32,
    rates: BTreeMap<String, u32>,
    windows: HashMap<String, Window>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    second: u64,
    count: u32,
    max: u32,
}

impl RateLimiter {
    pub fn new(default_rate: u32) -> Self {
        RateLimiter {
            default_rate,
            rates: BTreeMap::new(),
            windows: HashMap::new(),
        }
    }

    /// The limit that applies to `sender`, messages per second.
    pub fn rate_of(&self, sender: &str) -> u32 {
        self.rates.get(sender).copied().unwrap_or(self.default_rate)
    }

    pub fn set_rate(&mut self, sender: &str, rate: u32) {
        self.rates.insert(sender.to_string(), rate);
    }

    pub fn default_rate(&self) -> u32 {
        self.default_rate
    }

    pub fn rates(&self) -> &BTreeMap<String, u32> {
        &self.rates
    }

    /// Takes `n` messages from `sender`'s allowance for unix second `second`
    /// when they all fit, and says whether they did. Messages taken here are
    /// the ones accepted, so the window's count is the accepted count.
    pub fn try_take(&mut self, sender: &str, n: u32, second: u64) -> bool {
        let rate = self.rate_of(sender);
        let window = self.windows.entry(sender.to_string()).or_default();
        if window.second != second {
            window.second = second;
            window.count = 0;
        }
        if window.count.saturating_add(n) > rate {
            return false;
        }
        window.count += n;
        window.max = window.max.max(window.count);
        true
    }

    /// For each sender that got anything accepted, the most messages accepted
    /// within one calendar second.
    pub fn max_accepted_in_any_second(&self) -> BTreeMap<String, u32> {
        self.windows
            .iter()
            .filter(|(_, w)| w.max > 0)
            .map(|(s, w)| (s.clone(), w.max))
            .collect()
    }

    /// Forgets the counts (not the configured rates).
    pub fn reset_counts(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excess_within_one_second_is_refused_and_the_next_second_starts_fresh() {
        let mut limiter = RateLimiter::new(1000);
        limiter.set_rate("15550001111", 3);
        let taken = (0..5)
            .filter(|_| limiter.try_take("15550001111", 1, 100))
            .count();
        assert_eq!(taken, 3);
        assert!(limiter.try_take("15550001111", 1, 101));
        assert_eq!(limiter.max_accepted_in_any_second()["15550001111"], 3);
    }

    #[test]
    fn a_batch_that_does_not_fit_whole_is_refused_whole() {
        let mut limiter = RateLimiter::new(4);
        assert!(limiter.try_take("gw", 3, 7));
        assert!(!limiter.try_take("gw", 2, 7));
        assert!(limiter.try_take("gw", 1, 7));
    }

    #[test]
    fn senders_do_not_share_a_limit() {
        let mut limiter = RateLimiter::new(1);
        assert!(limiter.try_take("a", 1, 1));
        assert!(limiter.try_take("b", 1, 1));
        assert!(!limiter.try_take("a", 1, 1));
    }
}
