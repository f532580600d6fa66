//! Message templates (SPEC §3, §9): body with `{{n}}` parameters, optional header.

use super::{err, FieldError, Fields};
use crate::validate::Channel;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateStatus {
    Pending,
    Approved,
    Rejected,
    Paused,
}

impl TemplateStatus {
    /// A provider's review word, in any case (Meta `APPROVED`/`PAUSED`/`DISABLED`,
    /// Twilio `approved`/`rejected`/`paused`, Gupshup `FAILED`): anything not yet
    /// decided (`PENDING`, `received`, `IN_APPEAL`, …) is pending.
    pub fn from_review(word: &str) -> Self {
        match word.to_ascii_uppercase().as_str() {
            "APPROVED" => TemplateStatus::Approved,
            "REJECTED" | "FAILED" => TemplateStatus::Rejected,
            "PAUSED" | "DISABLED" => TemplateStatus::Paused,
            _ => TemplateStatus::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateHeader {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    #[serde(flatten)]
    pub spec: NewTemplate,
    pub status: TemplateStatus,
    /// The provider account it is registered with (WhatsApp templates are approved per
    /// WhatsApp Business account / Gupshup app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The provider's id for it once registered (Meta template id, Gupshup template
    /// uuid, Twilio Content SID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_template_id: Option<String>,
    /// Why the provider rejected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_reason: Option<String>,
    pub created_at: String,
}

impl Template {
    /// The link of the template's image header, if it has one.
    pub fn image_header(&self) -> Option<&str> {
        self.spec.header.as_ref().and_then(|h| h.link.as_deref())
    }
}

/// The parameters of a body: `{{1}}`…`{{n}}`, each used at least once, none skipped.
pub fn template_params(body: &str) -> Result<usize, String> {
    let re = regex::Regex::new(r"\{\{\s*([^}]*?)\s*\}\}").expect("valid");
    let mut seen = Vec::new();
    for c in re.captures_iter(body) {
        match c[1].parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => seen.push(n),
            _ => {
                return Err(format!(
                    "'{}' is not a numbered parameter like {{{{1}}}}",
                    &c[0]
                ))
            }
        }
    }
    seen.sort_unstable();
    seen.dedup();
    match seen.iter().enumerate().find(|(i, n)| **n != i + 1) {
        Some((i, _)) => Err(format!(
            "parameters must be numbered from {{{{1}}}} without gaps; {{{{{}}}}} is missing",
            i + 1
        )),
        None => Ok(seen.len()),
    }
}

/// The body with `{{n}}` replaced by `params[n-1]` (an SMS's text; WhatsApp templates
/// are rendered by the provider from the parameters). A placeholder without a parameter
/// is left as written.
pub fn render(body: &str, params: &[String]) -> String {
    Body::read(body).render(params)
}

/// A template body read once into its text and its `{{n}}` placeholders, to render (or
/// measure, [`Body::pieces`]) many rows without reading the body again: what [`render`]
/// does for one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// `{{n}}`: parameter `index` (0-based; `None` for `{{0}}` or a number too large),
    /// and the placeholder as written, kept when the row has no such parameter.
    Param {
        index: Option<usize>,
        written: String,
    },
}

impl Body {
    pub fn read(body: &str) -> Body {
        let re = regex::Regex::new(r"\{\{\s*([0-9]+)\s*\}\}").expect("valid");
        let mut pieces = Vec::new();
        let mut last = 0;
        for c in re.captures_iter(body) {
            let whole = c.get(0).expect("match");
            if whole.start() > last {
                pieces.push(Piece::Text(body[last..whole.start()].to_string()));
            }
            pieces.push(Piece::Param {
                index: c[1].parse::<usize>().ok().and_then(|n| n.checked_sub(1)),
                written: whole.as_str().to_string(),
            });
            last = whole.end();
        }
        if last < body.len() {
            pieces.push(Piece::Text(body[last..].to_string()));
        }
        Body { pieces }
    }

    /// The rendered text for `params`, piece by piece.
    pub fn pieces<'a>(&'a self, params: &'a [String]) -> impl Iterator<Item = &'a str> + 'a {
        self.pieces.iter().map(move |p| match p {
            Piece::Text(t) => t.as_str(),
            Piece::Param { index, written } => index
                .and_then(|i| params.get(i))
                .map_or(written.as_str(), String::as_str),
        })
    }

    pub fn render(&self, params: &[String]) -> String {
        self.pieces(params).collect()
    }
}

/// `POST /v1/templates`: a template as the tenant gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTemplate {
    pub name: String,
    pub channel: Channel,
    pub language: String,
    pub category: Option<TemplateCategory>,
    pub body: String,
    /// How many `{{n}}` parameters the body has.
    pub params: usize,
    pub header: Option<TemplateHeader>,
}

impl NewTemplate {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body)?;
        let name = f.string("name", true, 512);
        if let Some(n) = &name {
            if !n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                f.errors.push(err(
                    "name",
                    "must be lowercase letters, digits and underscores (as WhatsApp requires)",
                ));
            }
        }
        let channel: Option<Channel> = f.one_of("channel", true, "whatsapp, sms");
        let language = f.string("language", channel == Some(Channel::Whatsapp), 16);
        let category = f.one_of(
            "category",
            channel == Some(Channel::Whatsapp),
            "MARKETING, UTILITY, AUTHENTICATION",
        );
        let text = f.string("body", true, 1024);
        let params = match text.as_deref().map(template_params) {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                f.errors.push(err("body", e));
                0
            }
            None => 0,
        };
        let header = match f.get("header") {
            None => None,
            Some(v) => parse_header(v, &mut f.errors),
        };
        f.finish()?;
        Ok(NewTemplate {
            name: name.expect("checked"),
            channel: channel.expect("checked"),
            language: language.unwrap_or_else(|| "es".into()),
            category,
            body: text.expect("checked"),
            params,
            header,
        })
    }
}

/// WhatsApp's limit on a text header.
pub const MAX_HEADER_TEXT: usize = 60;

/// `header`: `{"type":"text","text":…}` (at most 60 characters) or
/// `{"type":"image","link":"https://…"}` to a public host; nothing else in either.
fn parse_header(v: &Value, errors: &mut Vec<FieldError>) -> Option<TemplateHeader> {
    let mut f = match Fields::nested(v, "header") {
        Ok(f) => f,
        Err(e) => {
            errors.extend(e);
            return None;
        }
    };
    let kind = f.string("type", true, 16);
    let (text, link) = match kind.as_deref() {
        Some("text") => {
            let t = f.string("text", true, MAX_HEADER_TEXT);
            (t, None)
        }
        Some("image") => {
            let l = f.string("link", true, 2048);
            if let Some(Err(e)) = l.as_deref().map(super::public_https_url) {
                f.fail("link", e);
            }
            (None, l)
        }
        Some(_) => {
            f.fail("type", "must be text or image");
            (None, None)
        }
        None => (None, None),
    };
    match f.finish() {
        Ok(()) => Some(TemplateHeader {
            kind: kind.expect("checked"),
            text,
            link,
        }),
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}
