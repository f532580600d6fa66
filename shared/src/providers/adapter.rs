//! The one place that picks a provider: an [`Adapter`] is built from an account and
//! its credentials, and offers every provider operation in the same terms (send,
//! read the send's answer, authenticate and parse a callback, register a template
//! or read its review). Each operation is a `match` over [`Credentials`] that hands
//! over to the provider's folder ([`super::meta`], [`super::twilio`],
//! [`super::gupshup`], [`super::gateway`]); nothing else in the workspace needs to
//! know which provider an account uses. A new provider is a new folder and one arm
//! in each `match` here (and its simulator file).
//!
//! No I/O here either: sends and callbacks are requests and bodies in, requests and
//! outcomes out; the multi-step template calls take the caller's transport as a
//! function.

use std::future::Future;

use super::inbound::{verify_url_secret, AuthError, Inbound, InboundError};
use super::{
    gateway, gupshup, meta, twilio, Accepted, Credentials, Endpoints, HttpReply, HttpRequest,
    Outgoing, ProviderError, TemplateState,
};
use crate::model::{Account, Template};
use crate::validate::Channel;

/// An account's provider, ready to speak to it.
#[derive(Debug, Clone, Copy)]
pub struct Adapter<'a> {
    account: &'a Account,
    credentials: &'a Credentials,
}

/// A callback as it reached our webhook: what any provider may sign or carry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Callback<'a> {
    /// The webhook's public URL the provider posted to, with the query string, exactly
    /// as given to the provider (Twilio signs it); `None` when no public URL is
    /// configured, and then a Twilio callback cannot be checked.
    pub public_url: Option<&'a str>,
    /// The raw query string (Gupshup and gateways carry the account's URL secret as
    /// `key`).
    pub query: &'a str,
    /// The raw body, before any parsing.
    pub body: &'a [u8],
    /// `X-Hub-Signature-256` (Meta).
    pub meta_signature: Option<&'a str>,
    /// `X-Twilio-Signature` (Twilio).
    pub twilio_signature: Option<&'a str>,
}

/// What a template call does at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateOp {
    /// Registers the template (and, at Twilio, submits it to WhatsApp's review).
    Register,
    /// Reads its current review status.
    Refresh,
}

/// Why a template call did not come back with the template's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateCallError {
    /// The request did not reach the provider, or its answer did not come back.
    #[error("{0}")]
    Call(String),
    /// The provider answered with an error.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The template lacks what the provider needs to find it.
    #[error("{0}")]
    Missing(&'static str),
}

impl<'a> Adapter<'a> {
    pub fn new(account: &'a Account, credentials: &'a Credentials) -> Self {
        Adapter {
            account,
            credentials,
        }
    }

    /// The request that sends `m`, the `seq`th message of its campaign (gateways rotate
    /// ports by it), to the provider's API at `ep`.
    pub fn send_request(
        &self,
        ep: &Endpoints,
        m: &Outgoing<'_>,
        seq: u64,
    ) -> Result<HttpRequest, ProviderError> {
        let a = self.account;
        match self.credentials {
            Credentials::Meta {
                access_token,
                phone_number_id,
                ..
            } => Ok(meta::send_request(
                &ep.meta,
                access_token,
                phone_number_id,
                m,
            )),
            Credentials::Twilio {
                account_sid,
                auth_token,
            } => twilio::send_request(
                &ep.twilio,
                account_sid,
                auth_token,
                &a.sender,
                a.channel == Channel::Whatsapp,
                m,
            ),
            Credentials::Gupshup {
                api_key, app_name, ..
            } => gupshup::send_request(&ep.gupshup, api_key, app_name, &a.sender, m),
            Credentials::SmsGateway {
                url,
                user,
                password,
            } => {
                let port = gateway::port_for(&a.ports, seq);
                gateway::send_request(
                    url,
                    user,
                    password,
                    port,
                    gateway::user_id(m.correlation),
                    m,
                )
            }
        }
    }

    /// Reads the provider's answer to the send of the message whose correlation id is
    /// `correlation`.
    pub fn read_send_reply(
        &self,
        reply: HttpReply<'_>,
        correlation: &str,
    ) -> Result<Accepted, ProviderError> {
        match self.credentials {
            Credentials::Meta { .. } => meta::read_send_reply(reply),
            Credentials::Twilio { .. } => twilio::read_send_reply(reply),
            Credentials::Gupshup { .. } => gupshup::read_send_reply(reply),
            Credentials::SmsGateway { .. } => {
                gateway::read_send_reply(reply, gateway::user_id(correlation))
            }
        }
    }

    /// Meta's `GET` subscription handshake: the `hub.challenge` to answer with when the
    /// verify token is the account's; `None` for providers that do not verify by GET.
    pub fn verify_subscription(&self, query: &str) -> Option<Result<String, AuthError>> {
        match self.credentials {
            Credentials::Meta { verify_token, .. } => {
                Some(meta::verify_subscription(query, verify_token))
            }
            _ => None,
        }
    }

    /// Checks that a callback comes from the provider: Meta's and Twilio's signatures,
    /// else the account's URL secret (`url_secret`) in the query's `key`.
    pub fn authenticate(
        &self,
        c: &Callback<'_>,
        url_secret: Option<&str>,
    ) -> Result<(), AuthError> {
        match self.credentials {
            Credentials::Meta { app_secret, .. } => {
                meta::verify_signature(app_secret, c.body, c.meta_signature)
            }
            Credentials::Twilio { auth_token, .. } => {
                let url = c.public_url.ok_or(AuthError::Mismatch)?;
                twilio::verify_signature(auth_token, url, c.body, c.twilio_signature)
            }
            Credentials::Gupshup { .. } | Credentials::SmsGateway { .. } => {
                let key = form_urlencoded::parse(c.query.as_bytes())
                    .find(|(n, _)| n == "key")
                    .map(|(_, v)| v.into_owned());
                verify_url_secret(key.as_deref(), url_secret.unwrap_or(""))
            }
        }
    }

    /// Reads an authenticated callback body into its events, in order. Meta posts every
    /// number of an app to one URL, so each of its events carries the [`meta::Route`]
    /// that names its number; the other providers' events belong to the URL's account.
    pub fn parse_callback(
        &self,
        body: &[u8],
    ) -> Result<Vec<(Option<meta::Route>, Inbound)>, InboundError> {
        let unrouted = |events: Vec<Inbound>| events.into_iter().map(|e| (None, e)).collect();
        Ok(match self.credentials {
            Credentials::Meta { .. } => meta::parse_routed(body)?
                .into_iter()
                .map(|(r, e)| (Some(r), e))
                .collect(),
            Credentials::Twilio { .. } => unrouted(twilio::parse(body)?),
            Credentials::Gupshup { .. } => unrouted(gupshup::parse(body)?),
            Credentials::SmsGateway { .. } => unrouted(gateway::parse(
                body,
                self.account.default_country.as_deref(),
            )?),
        })
    }

    /// Registers template `t` or reads its review (`op`), through `call`, the caller's
    /// transport; the answer read as the template's state. Meta: `message_templates` of
    /// the WhatsApp Business account; Twilio: the Content API (content, then its
    /// WhatsApp approval request); Gupshup: the partner API with an app token bought by
    /// the partner token. `None` for providers without templates (SMS gateways).
    pub async fn template<F, Fut, E>(
        &self,
        ep: &Endpoints,
        op: TemplateOp,
        t: &Template,
        call: F,
    ) -> Result<Option<TemplateState>, TemplateCallError>
    where
        F: FnMut(HttpRequest) -> Fut,
        Fut: Future<Output = Result<(u16, Vec<u8>), E>>,
        E: std::fmt::Display,
    {
        let mut x = Exchange { call };
        let state = match self.credentials {
            Credentials::Meta {
                access_token,
                waba_id,
                ..
            } => x.meta(&ep.meta, (access_token, waba_id), op, t).await?,
            Credentials::Twilio {
                account_sid,
                auth_token,
            } => {
                let base = &ep.twilio_content;
                x.twilio(base, (account_sid, auth_token), op, t).await?
            }
            Credentials::Gupshup {
                app_id,
                partner_token,
                ..
            } => {
                let base = &ep.gupshup_partner;
                x.gupshup(base, (app_id, partner_token), op, t).await?
            }
            Credentials::SmsGateway { .. } => return Ok(None),
        };
        Ok(Some(state))
    }
}

impl Adapter<'_> {
    /// Deletes the template at the provider (Meta by name, Twilio its content, Gupshup
    /// by element name), through `call`. `Ok(false)` when the provider keeps no
    /// templates (gateways) or the template was never registered (no provider id).
    pub async fn delete_template<F, Fut, E>(
        &self,
        ep: &Endpoints,
        t: &Template,
        call: F,
    ) -> Result<bool, TemplateCallError>
    where
        F: FnMut(HttpRequest) -> Fut,
        Fut: Future<Output = Result<(u16, Vec<u8>), E>>,
        E: std::fmt::Display,
    {
        let Some(provider_id) = t.provider_template_id.as_deref() else {
            return Ok(false);
        };
        let mut x = Exchange { call };
        let name = t.spec.name.as_str();
        match self.credentials {
            Credentials::Meta {
                access_token,
                waba_id,
                ..
            } => {
                let req = meta::delete_template_request(&ep.meta, access_token, waba_id, name);
                x.ask(req, meta::read_delete_reply).await?
            }
            Credentials::Twilio {
                account_sid,
                auth_token,
            } => {
                let base = &ep.twilio_content;
                let req =
                    twilio::delete_content_request(base, account_sid, auth_token, provider_id);
                x.ask(req, twilio::read_delete_reply).await?
            }
            Credentials::Gupshup {
                app_id,
                partner_token,
                ..
            } => {
                let base = &ep.gupshup_partner;
                let token_req = gupshup::app_token_request(base, app_id, partner_token);
                let token = x.ask(token_req, gupshup::read_app_token_reply).await?;
                let req = gupshup::delete_template_request(base, app_id, &token, name);
                x.ask(req, gupshup::read_delete_reply).await?
            }
            Credentials::SmsGateway { .. } => return Ok(false),
        }
        Ok(true)
    }
}

/// The caller's transport, for the template calls that take several requests.
struct Exchange<F> {
    call: F,
}

impl<F, Fut, E> Exchange<F>
where
    F: FnMut(HttpRequest) -> Fut,
    Fut: Future<Output = Result<(u16, Vec<u8>), E>>,
    E: std::fmt::Display,
{
    /// One request, its answer handed to `read`.
    async fn ask<T>(
        &mut self,
        req: HttpRequest,
        read: impl FnOnce(HttpReply<'_>) -> Result<T, ProviderError>,
    ) -> Result<T, TemplateCallError> {
        let (status, body) = (self.call)(req)
            .await
            .map_err(|e| TemplateCallError::Call(e.to_string()))?;
        Ok(read(HttpReply {
            status,
            body: &body,
        })?)
    }

    /// Meta: the WhatsApp Business account's `message_templates`.
    async fn meta(
        &mut self,
        graph: &str,
        (access_token, waba_id): (&str, &str),
        op: TemplateOp,
        t: &Template,
    ) -> Result<TemplateState, TemplateCallError> {
        let spec = &t.spec;
        let req = match op {
            TemplateOp::Register => {
                meta::register_template_request(graph, access_token, waba_id, spec)
            }
            TemplateOp::Refresh => {
                meta::template_status_request(graph, access_token, waba_id, &spec.name)
            }
        };
        self.ask(req, |r| meta::read_template_reply(r, &spec.language))
            .await
    }

    /// Twilio: the Content API's content, then its WhatsApp approval request.
    async fn twilio(
        &mut self,
        base: &str,
        (account_sid, auth_token): (&str, &str),
        op: TemplateOp,
        t: &Template,
    ) -> Result<TemplateState, TemplateCallError> {
        let spec = &t.spec;
        let (sid, req) = match op {
            TemplateOp::Register => {
                let create = twilio::create_content_request(base, account_sid, auth_token, spec);
                let sid = self.ask(create, twilio::read_content_reply).await?;
                let req = twilio::approval_request(base, account_sid, auth_token, &sid, spec);
                (sid, req)
            }
            TemplateOp::Refresh => {
                let sid = t
                    .provider_template_id
                    .clone()
                    .ok_or(TemplateCallError::Missing(
                        "the template has no Content SID",
                    ))?;
                let req = twilio::approval_status_request(base, account_sid, auth_token, &sid);
                (sid, req)
            }
        };
        self.ask(req, |r| twilio::read_approval_reply(r, &sid))
            .await
    }

    /// Gupshup: the partner API, with an app token bought by the partner token.
    async fn gupshup(
        &mut self,
        base: &str,
        (app_id, partner_token): (&str, &str),
        op: TemplateOp,
        t: &Template,
    ) -> Result<TemplateState, TemplateCallError> {
        let spec = &t.spec;
        let token_req = gupshup::app_token_request(base, app_id, partner_token);
        let token = self.ask(token_req, gupshup::read_app_token_reply).await?;
        let (req, id) = match op {
            TemplateOp::Register => (
                gupshup::apply_template_request(base, app_id, &token, spec),
                None,
            ),
            TemplateOp::Refresh => (
                gupshup::list_templates_request(base, app_id, &token),
                t.provider_template_id.as_deref(),
            ),
        };
        self.ask(req, |r| {
            gupshup::read_template_reply(r, id, &spec.name, &spec.language)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderKind;
    use crate::providers::Content;

    fn account(provider: ProviderKind, channel: Channel, ports: Vec<u16>) -> Account {
        Account {
            id: "acc".into(),
            provider,
            channel,
            sender: "+15550001111".into(),
            default_country: Some("CL".into()),
            rate: 10,
            credentials_secret_arn: None,
            ports,
            created_at: "2026-12-07T00:00:00Z".into(),
            name: None,
            description: None,
            disabled_at: None,
            paused_campaigns: Vec::new(),
        }
    }

    fn text<'a>(correlation: &'a str) -> Outgoing<'a> {
        Outgoing {
            to: "+56911112222",
            content: Content::Text { body: "hola" },
            correlation,
            status_callback: None,
        }
    }

    /// A gateway reports results by the `user_id` it was sent with: the id read back from
    /// its answer is the one the request carried, and ports rotate by the message's place.
    #[test]
    fn a_gateway_send_is_known_again_by_its_user_id_and_rotates_ports() {
        let a = account(ProviderKind::SmsGateway, Channel::Sms, vec![2, 5]);
        let c = Credentials::SmsGateway {
            url: "http://gw".into(),
            user: "u".into(),
            password: "p".into(),
        };
        let adapter = Adapter::new(&a, &c);
        let ep = Endpoints::default();
        let ports: Vec<u64> = (0..3)
            .map(|seq| {
                let req = adapter.send_request(&ep, &text("m-1"), seq).unwrap();
                let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
                body["port"][0].as_u64().unwrap()
            })
            .collect();
        assert_eq!(ports, [2, 5, 2]);
        let req = adapter.send_request(&ep, &text("m-1"), 0).unwrap();
        assert!(req.url.starts_with("http://gw/"), "{}", req.url);
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let sent_as = body["param"][0]["user_id"].as_u64().unwrap();
        let reply = br#"{"error_code":202,"task_id":7}"#;
        let ok = adapter
            .read_send_reply(
                HttpReply {
                    status: 200,
                    body: reply,
                },
                "m-1",
            )
            .unwrap();
        assert_eq!(ok.provider_message_id, sent_as.to_string());
    }

    /// Twilio signs the public URL: without one configured, nothing can be checked and
    /// the callback is refused; Meta checks its own header, not Twilio's.
    #[test]
    fn callbacks_are_checked_by_each_providers_own_scheme() {
        let tw = account(ProviderKind::Twilio, Channel::Sms, vec![]);
        let c = Credentials::Twilio {
            account_sid: "AC1".into(),
            auth_token: "12345".into(),
        };
        let body = b"MessageSid=SM1&MessageStatus=delivered";
        let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        let url = "https://hooks.example/v1/webhooks/acc";
        let sig = twilio::signature("12345", url, &params);
        let signed = Callback {
            public_url: Some(url),
            body,
            twilio_signature: Some(&sig),
            ..Callback::default()
        };
        let adapter = Adapter::new(&tw, &c);
        assert_eq!(adapter.authenticate(&signed, None), Ok(()));
        let no_url = Callback {
            public_url: None,
            ..signed
        };
        assert_eq!(
            adapter.authenticate(&no_url, None),
            Err(AuthError::Mismatch)
        );
        assert!(adapter.verify_subscription("hub.mode=subscribe").is_none());

        let m = account(ProviderKind::Meta, Channel::Whatsapp, vec![]);
        let mc = Credentials::Meta {
            access_token: "t".into(),
            app_secret: "s3cret".into(),
            verify_token: "v".into(),
            phone_number_id: "1".into(),
            waba_id: "2".into(),
        };
        let meta_adapter = Adapter::new(&m, &mc);
        assert_eq!(
            meta_adapter.authenticate(&signed, None),
            Err(AuthError::Missing)
        );
        let meta_sig = meta::signature("s3cret", body);
        let meta_signed = Callback {
            meta_signature: Some(&meta_sig),
            ..signed
        };
        assert_eq!(meta_adapter.authenticate(&meta_signed, None), Ok(()));
    }

    /// Gupshup and gateways sign nothing: the account's URL secret in `key` decides.
    #[test]
    fn unsigned_providers_are_checked_by_the_url_secret() {
        let g = account(ProviderKind::Gupshup, Channel::Whatsapp, vec![]);
        let c = Credentials::Gupshup {
            api_key: "k".into(),
            app_name: "app".into(),
            app_id: "id".into(),
            partner_token: "pt".into(),
        };
        let adapter = Adapter::new(&g, &c);
        let with = |query| Callback {
            query,
            body: b"{}",
            ..Callback::default()
        };
        assert_eq!(adapter.authenticate(&with("key=abc"), Some("abc")), Ok(()));
        assert_eq!(
            adapter.authenticate(&with("key=abd"), Some("abc")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            adapter.authenticate(&with(""), Some("abc")),
            Err(AuthError::Missing)
        );
        // No secret stored matches nothing.
        assert_eq!(
            adapter.authenticate(&with("key="), None),
            Err(AuthError::Missing)
        );
        assert_eq!(
            adapter.authenticate(&with("key=x"), None),
            Err(AuthError::Mismatch)
        );
    }
}
