//! The rules a test adds through `POST /_sim/rules` to make the providers
//! misbehave the way providers.md says they can: refuse with one of their
//! error codes, answer slowly, accept and then drop the connection, throttle,
//! refuse credentials, approve or reject templates later, and fail, delay,
//! duplicate, reorder or drop status callbacks. A rule may apply only `times`
//! times; then it stays listed as spent.

use serde::{Deserialize, Serialize};

use crate::phone::glob_matches;
use crate::Provider;

/// A rule as posted; exactly one action field may be set.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// Glob on the recipient's `+E164`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Glob on a template's name (template rules only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<FailSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_after_accept: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_credentials: Option<bool>,
    /// With `bad_credentials`: refuse only requests made with this secret
    /// (a rotated-out token), so the new one keeps working. Without it a
    /// bad-credentials rule refuses every credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callbacks: Option<CallbackSpec>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_ms: Option<u64>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// A provider error to answer with: the provider's own code, the HTTP status
/// (each provider has a default per code) and an optional message.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FailSpec {
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Meta's `error_subcode`, when the failure has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcode: Option<i64>,
}

/// How the status callbacks of a matching message misbehave.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CallbackSpec {
    /// Wait before each status (default: 50 ms before the first, 100 ms
    /// between the next ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub duplicate: bool,
    #[serde(default)]
    pub reorder: bool,
    #[serde(default)]
    pub drop: bool,
    /// Delivery fails with this code (Meta `failed` + `errors`, Twilio
    /// `undelivered` + `ErrorCode`, Gupshup `failed` + `code`, gateway
    /// `FAILED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<FailSpec>,
}

/// What a rule does, one per rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Fail,
    Latency,
    Drop,
    Throttle,
    BadCredentials,
    Callbacks,
    Template,
}

impl RuleSpec {
    /// The rule's action, or why it has none or too many.
    pub fn kind(&self) -> Result<Kind, String> {
        let mut kinds = Vec::new();
        if self.fail.is_some() {
            kinds.push(Kind::Fail);
        }
        if self.latency_ms.is_some() {
            kinds.push(Kind::Latency);
        }
        if self.drop_after_accept == Some(true) {
            kinds.push(Kind::Drop);
        }
        if self.throttle == Some(true) {
            kinds.push(Kind::Throttle);
        }
        if self.bad_credentials == Some(true) {
            kinds.push(Kind::BadCredentials);
        }
        if self.callbacks.is_some() {
            kinds.push(Kind::Callbacks);
        }
        let template_actions = [
            self.approve_after_ms.is_some(),
            self.reject.is_some(),
            self.pause == Some(true),
        ]
        .iter()
        .filter(|set| **set)
        .count();
        if template_actions > 1 {
            return Err("a template rule takes one of approve_after_ms, reject, pause".into());
        }
        if template_actions == 1 {
            kinds.push(Kind::Template);
        }
        match kinds.as_slice() {
            [kind] if *kind != Kind::BadCredentials && self.credential.is_some() => Err(
                "\"credential\" goes with bad_credentials only: it names the secret refused".into(),
            ),
            [Kind::BadCredentials] if self.credential.as_deref() == Some("") => {
                Err("\"credential\" must not be empty".into())
            }
            [Kind::Template] if self.template.is_none() => {
                Err("approve_after_ms, reject and pause need a \"template\" glob".into())
            }
            [Kind::Template] if self.recipient.is_some() || self.sender.is_some() => {
                Err("a template rule matches on \"template\" (and \"provider\"), not recipient or sender".into())
            }
            [kind] if *kind != Kind::Template && self.template.is_some() => Err(
                "\"template\" goes with approve_after_ms, reject or pause only".into(),
            ),
            [kind] => Ok(*kind),
            [] => Err("a rule needs one action: fail, latency_ms, drop_after_accept, throttle, bad_credentials, callbacks, approve_after_ms, reject or pause".into()),
            _ => Err("a rule takes exactly one action".into()),
        }
    }
}

/// A stored rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// How many more times it applies (`null`: always).
    pub remaining: Option<u32>,
    pub applied: u64,
    #[serde(skip)]
    pub kind: Kind,
}

/// What a send (or a template endpoint's request) is matched on.
pub struct SendKey<'a> {
    pub provider: Provider,
    pub sender: &'a str,
    pub recipients: &'a [String],
    /// The secret the request was made with (Meta Bearer token, Twilio auth
    /// token, Gupshup `apikey` or partner/app token, gateway password), for
    /// rules that name a `credential`.
    pub credential: Option<&'a str>,
}

impl Rule {
    pub fn active(&self) -> bool {
        self.remaining != Some(0)
    }

    fn matches_send(&self, key: &SendKey) -> bool {
        let spec = &self.spec;
        spec.provider.is_none_or(|p| p == key.provider)
            && spec.sender.as_deref().is_none_or(|s| s == key.sender)
            && spec
                .recipient
                .as_deref()
                .is_none_or(|pattern| key.recipients.iter().any(|r| glob_matches(pattern, r)))
            && spec
                .credential
                .as_deref()
                .is_none_or(|c| key.credential == Some(c))
    }

    fn matches_template(&self, provider: Provider, name: &str) -> bool {
        self.spec.provider.is_none_or(|p| p == provider)
            && self
                .spec
                .template
                .as_deref()
                .is_some_and(|pattern| glob_matches(pattern, name))
    }

    fn spend(&mut self) {
        self.applied += 1;
        if let Some(n) = self.remaining.as_mut() {
            *n = n.saturating_sub(1);
        }
    }
}

/// The rules in the order they were added.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    next_id: u64,
}

impl Rules {
    pub fn add(&mut self, spec: RuleSpec) -> Result<Rule, String> {
        let kind = spec.kind()?;
        if spec.times == Some(0) {
            return Err("\"times\" must be at least 1".into());
        }
        self.next_id += 1;
        let rule = Rule {
            id: format!("rule_{}", self.next_id),
            remaining: spec.times,
            spec,
            applied: 0,
            kind,
        };
        self.rules.push(rule.clone());
        Ok(rule)
    }

    pub fn list(&self) -> &[Rule] {
        &self.rules
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    /// The first active send rule of `kind` that matches, spent once.
    pub fn take(&mut self, kind: Kind, key: &SendKey) -> Option<RuleSpec> {
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.kind == kind && r.active() && r.matches_send(key))?;
        rule.spend();
        Some(rule.spec.clone())
    }

    /// The first active template rule that matches `name`, spent once.
    pub fn take_template(&mut self, provider: Provider, name: &str) -> Option<RuleSpec> {
        let rule = self.rules.iter_mut().find(|r| {
            r.kind == Kind::Template && r.active() && r.matches_template(provider, name)
        })?;
        rule.spend();
        Some(rule.spec.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> RuleSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_rule_needs_exactly_one_action() {
        assert!(spec(r#"{"recipient":"+569*"}"#).kind().is_err());
        assert!(spec(r#"{"throttle":true,"latency_ms":5}"#).kind().is_err());
        assert_eq!(spec(r#"{"latency_ms":5}"#).kind(), Ok(Kind::Latency));
        assert!(spec(r#"{"reject":"x"}"#).kind().is_err());
        assert_eq!(
            spec(r#"{"template":"aviso_*","reject":"x","after_ms":10}"#).kind(),
            Ok(Kind::Template)
        );
        assert!(serde_json::from_str::<RuleSpec>(r#"{"nonsense":1}"#).is_err());
    }

    #[test]
    fn a_rule_with_times_expires_after_that_many_uses() {
        let mut rules = Rules::default();
        rules
            .add(spec(
                r#"{"recipient":"+56962000*","throttle":true,"times":2}"#,
            ))
            .unwrap();
        let recipients = vec!["+56962000001".to_string()];
        let key = SendKey {
            provider: Provider::Meta,
            sender: "1",
            recipients: &recipients,
            credential: None,
        };
        assert!(rules.take(Kind::Throttle, &key).is_some());
        assert!(rules.take(Kind::Throttle, &key).is_some());
        assert!(rules.take(Kind::Throttle, &key).is_none());
        assert_eq!(rules.list()[0].applied, 2);
        assert_eq!(rules.list()[0].remaining, Some(0));
    }

    #[test]
    fn rules_match_on_recipient_sender_and_provider() {
        let mut rules = Rules::default();
        rules
            .add(spec(
                r#"{"provider":"twilio","sender":"+15550001111","recipient":"+569*","throttle":true}"#,
            ))
            .unwrap();
        let chile = vec!["+56962000001".to_string()];
        let peru = vec!["+51962000001".to_string()];
        let key = |provider, sender, recipients| SendKey {
            provider,
            sender,
            recipients,
            credential: None,
        };
        assert!(rules
            .take(Kind::Throttle, &key(Provider::Meta, "+15550001111", &chile))
            .is_none());
        assert!(rules
            .take(
                Kind::Throttle,
                &key(Provider::Twilio, "+15550002222", &chile)
            )
            .is_none());
        assert!(rules
            .take(
                Kind::Throttle,
                &key(Provider::Twilio, "+15550001111", &peru)
            )
            .is_none());
        assert!(rules
            .take(
                Kind::Throttle,
                &key(Provider::Twilio, "+15550001111", &chile)
            )
            .is_some());
    }

    #[test]
    fn a_credential_goes_with_bad_credentials_only() {
        assert_eq!(
            spec(r#"{"bad_credentials":true,"credential":"old-token"}"#).kind(),
            Ok(Kind::BadCredentials)
        );
        let refused = spec(r#"{"throttle":true,"credential":"old-token"}"#).kind();
        assert!(refused.is_err_and(|e| e.contains("credential")));
        assert!(spec(r#"{"bad_credentials":true,"credential":""}"#)
            .kind()
            .is_err());
    }

    #[test]
    fn a_credential_rule_matches_only_that_credential() {
        let mut rules = Rules::default();
        rules
            .add(spec(r#"{"bad_credentials":true,"credential":"old-token"}"#))
            .unwrap();
        let key = |credential| SendKey {
            provider: Provider::Twilio,
            sender: "+15550001111",
            recipients: &[],
            credential,
        };
        assert!(rules
            .take(Kind::BadCredentials, &key(Some("new-token")))
            .is_none());
        assert!(rules.take(Kind::BadCredentials, &key(None)).is_none());
        assert!(rules
            .take(Kind::BadCredentials, &key(Some("old-token")))
            .is_some());
    }
}
