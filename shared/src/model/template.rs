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

    /// What a recipient receives for `{params, header_image?}` (`POST
    /// /v1/templates/{id}/preview`): the body with its parameters, the header (an image
    /// link given here replaces the template's, as a campaign's header image does), and
    /// for SMS the encoding and segments. Each bad field named.
    pub fn preview(&self, body: &Value) -> Result<TemplatePreview, Vec<FieldError>> {
        let mut f = Fields::new(body)?;
        let want = self.spec.params;
        let params: Vec<String> = match f.get("params") {
            None if want == 0 => Vec::new(),
            Some(Value::Array(list))
                if list.len() == want && list.iter().all(|p| p.as_str().is_some()) =>
            {
                list.iter()
                    .map(|p| p.as_str().unwrap_or_default().to_string())
                    .collect()
            }
            _ => {
                f.fail(
                    "params",
                    format!("must be a list of {want} texts, one per {{{{n}}}} of the body"),
                );
                Vec::new()
            }
        };
        let image = f.string("header_image", false, 2048);
        let mut header = self.spec.header.clone();
        if let Some(link) = image {
            match (&mut header, super::public_https_url(&link)) {
                (Some(h), Ok(())) if h.kind == "image" => h.link = Some(link),
                (_, Err(e)) => f.fail("header_image", e),
                _ => f.fail("header_image", "the template has no image header"),
            }
        }
        f.finish()?;
        let text = render(&self.spec.body, &params);
        let sms = (self.spec.channel == Channel::Sms).then(|| crate::sms::cost(&text));
        Ok(TemplatePreview {
            channel: self.spec.channel,
            text,
            header,
            encoding: sms.as_ref().map(|c| c.encoding),
            segments: sms.as_ref().map(|c| c.segments),
            characters: sms.map(|c| c.units),
        })
    }
}

/// A template rendered for one recipient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplatePreview {
    pub channel: Channel,
    /// The body as the recipient reads it.
    pub text: String,
    /// The header above it (WhatsApp), as sent; null when none.
    pub header: Option<TemplateHeader>,
    /// SMS only (null for WhatsApp): GSM-7 or UCS-2, the segments billed, and the
    /// septets or UTF-16 units counted.
    pub encoding: Option<crate::sms::Encoding>,
    pub segments: Option<usize>,
    pub characters: Option<usize>,
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
    /// The team it belongs to ("cobranzas"): a list filter, shown on campaigns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// A sample value for each `{{n}}`, in order, sent for the provider's review (Meta
    /// rejects templates whose examples are missing or meaningless); empty: Pregón's
    /// placeholders ("ejemplo 1", …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

impl NewTemplate {
    /// The sample values sent for review: the tenant's, else placeholders.
    pub fn review_examples(&self) -> Vec<String> {
        if self.examples.len() == self.params {
            self.examples.clone()
        } else {
            (1..=self.params).map(|n| format!("ejemplo {n}")).collect()
        }
    }

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
        let department = f.string("department", false, 100);
        let examples = match f.get("examples") {
            None => Vec::new(),
            Some(v) => match parse_examples(v, params) {
                Ok(e) => e,
                Err(e) => {
                    f.fail("examples", e);
                    Vec::new()
                }
            },
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
            department: department.filter(|d| !d.trim().is_empty()),
            examples,
        })
    }
}

/// `examples`: one non-empty string (at most 200 characters) per `{{n}}` of the body.
fn parse_examples(v: &Value, params: usize) -> Result<Vec<String>, String> {
    let want = format!("must be a list of {params} sample values, one per {{{{n}}}} of the body");
    let Some(list) = v.as_array() else {
        return Err(want);
    };
    if list.len() != params {
        return Err(want);
    }
    list.iter()
        .enumerate()
        .map(|(i, e)| match e.as_str().map(str::trim) {
            Some(t) if !t.is_empty() && t.chars().count() <= 200 => Ok(t.to_string()),
            _ => Err(format!(
                "[{i}] must be a non-empty text of at most 200 characters (the sample for {{{{{}}}}})",
                i + 1
            )),
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(spec: Value) -> Template {
        Template {
            id: "tpl_1".into(),
            spec: NewTemplate::parse(&spec).unwrap(),
            status: TemplateStatus::Approved,
            account_id: None,
            provider_template_id: None,
            rejected_reason: None,
            created_at: "2026-12-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn examples_are_one_sample_per_parameter_or_placeholders() {
        let spec = json!({"name": "aviso", "channel": "sms", "body": "Hola {{1}}, debes {{2}}",
            "examples": ["María", "$12.500"], "department": "cobranzas"});
        let t = NewTemplate::parse(&spec).unwrap();
        assert_eq!(t.review_examples(), ["María", "$12.500"]);
        assert_eq!(t.department.as_deref(), Some("cobranzas"));
        let none =
            NewTemplate::parse(&json!({"name": "a", "channel": "sms", "body": "Hola {{1}}"}));
        assert_eq!(none.unwrap().review_examples(), ["ejemplo 1"]);
        for bad in [json!(["María"]), json!(["María", ""]), json!("María")] {
            let spec =
                json!({"name": "a", "channel": "sms", "body": "{{1}} {{2}}", "examples": bad});
            let e = NewTemplate::parse(&spec).unwrap_err();
            assert_eq!(e[0].field, "examples", "{bad}: {e:?}");
        }
    }

    #[test]
    fn a_preview_is_the_text_the_recipient_reads_with_its_sms_cost() {
        let t =
            template(json!({"name": "aviso", "channel": "sms", "body": "Hola {{1}}, debes {{2}}"}));
        let p = t.preview(&json!({"params": ["Mario", "$12.500"]})).unwrap();
        assert_eq!(p.text, "Hola Mario, debes $12.500");
        assert_eq!(p.encoding, Some(crate::sms::Encoding::Gsm7));
        assert_eq!((p.segments, p.characters), (Some(1), Some(25)));
        // An í (not in GSM-7) makes it UCS-2.
        let p = t.preview(&json!({"params": ["María", "x"]})).unwrap();
        assert_eq!(p.encoding, Some(crate::sms::Encoding::Ucs2));
        // One parameter short, and an image for a template without one: both named.
        let e = t
            .preview(&json!({"params": ["María"], "header_image": "https://example.com/a.png"}))
            .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["params", "header_image"]);
    }

    #[test]
    fn a_whatsapp_preview_carries_its_header_and_an_image_given_replaces_it() {
        let t = template(
            json!({"name": "promo", "channel": "whatsapp", "language": "es",
            "category": "MARKETING", "body": "Hola {{1}}",
            "header": {"type": "image", "link": "https://example.com/a.png"}}),
        );
        let p = t
            .preview(&json!({"params": ["Ana"], "header_image": "https://example.com/b.png"}))
            .unwrap();
        assert_eq!(p.text, "Hola Ana");
        assert_eq!(
            p.header.unwrap().link.as_deref(),
            Some("https://example.com/b.png")
        );
        assert_eq!(p.encoding, None);
    }
}
