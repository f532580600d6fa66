//! Plays the providers' template review (providers.md: Meta
//! `message_templates` with `APPROVED`/`PENDING`/`REJECTED`/`PAUSED`/
//! `DISABLED`; Twilio Content API approval requests; Gupshup's partner API):
//! one registry for the three, where a template is `PENDING` when submitted
//! and becomes `APPROVED` about `approve_after_ms` later (1 s by default),
//! unless a template rule approves it at another time, rejects it with a
//! reason, or pauses it. Status is a timeline read at the moment asked, so no
//! background task is needed.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::rules::{RuleSpec, Rules};
use crate::Provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Paused,
    Disabled,
}

impl Status {
    /// Meta's and Gupshup's spelling.
    pub fn upper(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Approved => "APPROVED",
            Status::Rejected => "REJECTED",
            Status::Paused => "PAUSED",
            Status::Disabled => "DISABLED",
        }
    }

    /// Twilio's spelling (Content API approval status).
    pub fn lower(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Paused => "paused",
            Status::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        match text.to_ascii_uppercase().as_str() {
            "PENDING" => Some(Status::Pending),
            "APPROVED" => Some(Status::Approved),
            "REJECTED" => Some(Status::Rejected),
            "PAUSED" => Some(Status::Paused),
            "DISABLED" => Some(Status::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Step {
    at: Instant,
    status: Status,
    reason: Option<String>,
}

/// A registered template, whichever provider it belongs to.
#[derive(Debug, Clone)]
pub struct Template {
    /// Meta: numeric id; Twilio: `HX…` Content SID; Gupshup: a UUID.
    pub id: String,
    pub provider: Provider,
    /// Meta: WABA id; Twilio: Account SID; Gupshup: app id.
    pub account: String,
    pub name: String,
    pub language: String,
    pub category: String,
    /// The body text with its `{{…}}` placeholders.
    pub body: String,
    /// Header format (`IMAGE`, `TEXT`, `VIDEO`, `DOCUMENT`, …) when it has one.
    pub header: Option<String>,
    /// What was posted, echoed back where the provider echoes it.
    pub definition: Value,
    pub created_at_ms: u64,
    steps: Vec<Step>,
}

impl Template {
    pub fn new(provider: Provider, id: String, account: String, name: String) -> Template {
        Template {
            id,
            provider,
            account,
            name,
            language: String::new(),
            category: String::new(),
            body: String::new(),
            header: None,
            definition: Value::Null,
            created_at_ms: crate::now_ms(),
            steps: Vec::new(),
        }
    }

    /// The number of distinct `{{…}}` placeholders in the body.
    pub fn placeholders(&self) -> usize {
        placeholders(&self.body).len()
    }

    /// Status and rejection reason now; `None` before it was submitted for
    /// review (Twilio content without an approval request).
    pub fn status(&self) -> Option<(Status, Option<String>)> {
        let now = Instant::now();
        self.steps
            .iter()
            .rev()
            .find(|s| s.at <= now)
            .map(|s| (s.status, s.reason.clone()))
    }

    pub fn submitted(&self) -> bool {
        !self.steps.is_empty()
    }

    /// Submits for review now: `PENDING`, then what the first matching
    /// template rule says, else `APPROVED` after `default_approve`.
    pub fn submit(&mut self, rules: &mut Rules, default_approve: Duration) {
        let now = Instant::now();
        self.steps = vec![Step {
            at: now,
            status: Status::Pending,
            reason: None,
        }];
        let rule = rules.take_template(self.provider, &self.name);
        let after = |spec: &RuleSpec| {
            spec.after_ms
                .map(Duration::from_millis)
                .unwrap_or(default_approve)
        };
        match rule {
            Some(spec) if spec.reject.is_some() => self.steps.push(Step {
                at: now + after(&spec),
                status: Status::Rejected,
                reason: spec.reject.clone(),
            }),
            Some(spec) if spec.approve_after_ms.is_some() => self.steps.push(Step {
                at: now + Duration::from_millis(spec.approve_after_ms.unwrap_or_default()),
                status: Status::Approved,
                reason: None,
            }),
            Some(spec) => {
                // pause: approved as usual, paused `after_ms` later.
                let approved = now + default_approve;
                self.steps.push(Step {
                    at: approved,
                    status: Status::Approved,
                    reason: None,
                });
                self.steps.push(Step {
                    at: approved + Duration::from_millis(spec.after_ms.unwrap_or(0)),
                    status: Status::Paused,
                    reason: None,
                });
            }
            None => self.steps.push(Step {
                at: now + default_approve,
                status: Status::Approved,
                reason: None,
            }),
        }
    }

    /// Sets the status from now on (seeding, and pause rules on templates
    /// already registered).
    pub fn set_status_after(&mut self, status: Status, reason: Option<String>, after: Duration) {
        let at = Instant::now() + after;
        self.steps.retain(|s| s.at <= at);
        self.steps.push(Step { at, status, reason });
    }
}

/// The distinct placeholders of a body, in order of first appearance
/// (`{{1}}`, `{{2}}` or named ones such as `{{customer_name}}`).
pub fn placeholders(body: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && !found.iter().any(|f| f == name) {
            found.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    found
}

/// The body with its placeholders filled: a numeric placeholder `{{n}}` takes
/// the n-th parameter, a named one the parameter at its order of appearance,
/// or `named` when given.
pub fn render(body: &str, params: &[String], named: &[(String, String)]) -> String {
    let order = placeholders(body);
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = after[..end].trim();
        let value = named
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| match name.parse::<usize>() {
                Ok(n) if n >= 1 => params.get(n - 1).cloned(),
                _ => order
                    .iter()
                    .position(|o| o == name)
                    .and_then(|i| params.get(i).cloned()),
            });
        match value {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Every provider's templates.
#[derive(Debug, Default)]
pub struct Registry {
    templates: Vec<Template>,
}

impl Registry {
    pub fn insert(&mut self, template: Template) {
        self.templates.push(template);
    }

    pub fn all(&self) -> &[Template] {
        &self.templates
    }

    pub fn by_id(&self, provider: Provider, id: &str) -> Option<&Template> {
        self.templates
            .iter()
            .find(|t| t.provider == provider && t.id == id)
    }

    pub fn by_id_mut(&mut self, provider: Provider, id: &str) -> Option<&mut Template> {
        self.templates
            .iter_mut()
            .find(|t| t.provider == provider && t.id == id)
    }

    /// The newest template of `provider` with this name and language, in any
    /// account (a phone number does not say which WABA it belongs to).
    pub fn by_name(&self, provider: Provider, name: &str, language: &str) -> Option<&Template> {
        self.templates
            .iter()
            .rev()
            .find(|t| t.provider == provider && t.name == name && t.language == language)
    }

    pub fn of_account(&self, provider: Provider, account: &str) -> Vec<&Template> {
        self.templates
            .iter()
            .filter(|t| t.provider == provider && t.account == account)
            .collect()
    }

    /// Removes every template `doomed` picks (a provider's delete) and says
    /// how many went. They are gone for good: no list, fetch or send finds
    /// them from then on, and a later one may reuse the name.
    pub fn remove(&mut self, doomed: impl Fn(&Template) -> bool) -> usize {
        let before = self.templates.len();
        self.templates.retain(|t| !doomed(t));
        before - self.templates.len()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Template> {
        self.templates.iter_mut()
    }

    pub fn clear(&mut self) {
        self.templates.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_counted_once_each() {
        assert_eq!(placeholders("Hola {{1}}, debes {{2}}. {{1}}"), ["1", "2"]);
        assert_eq!(placeholders("Hi {{ name }} {{order}}"), ["name", "order"]);
        assert!(placeholders("no {{}} placeholders {{").is_empty());
    }

    #[test]
    fn render_fills_numeric_and_named_placeholders() {
        let p = vec!["María".to_string(), "$12.500".to_string()];
        assert_eq!(
            render("Hola {{1}}, debes {{2}}.", &p, &[]),
            "Hola María, debes $12.500."
        );
        assert_eq!(
            render("Hi {{name}} {{amount}}", &p, &[]),
            "Hi María $12.500"
        );
        assert_eq!(render("Hola {{3}}", &p, &[]), "Hola {{3}}");
    }

    #[test]
    fn remove_takes_only_the_templates_picked() {
        let mut registry = Registry::default();
        for (id, name) in [("1", "aviso"), ("2", "aviso"), ("3", "otro")] {
            registry.insert(Template::new(
                Provider::Meta,
                id.into(),
                "w".into(),
                name.into(),
            ));
        }
        assert_eq!(registry.remove(|t| t.name == "aviso"), 2);
        assert_eq!(registry.remove(|t| t.name == "aviso"), 0);
        assert_eq!(registry.all().len(), 1);
        assert!(registry.by_id(Provider::Meta, "3").is_some());
    }

    #[test]
    fn a_submitted_template_is_pending_then_approved() {
        let mut t = Template::new(Provider::Meta, "1".into(), "w".into(), "aviso".into());
        let mut rules = Rules::default();
        assert!(t.status().is_none());
        t.submit(&mut rules, Duration::from_millis(30));
        assert_eq!(t.status().unwrap().0, Status::Pending);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(t.status().unwrap().0, Status::Approved);
    }
}
