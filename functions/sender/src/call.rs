//! One provider call: the job's content (its template or text, and the campaign's own
//! header image), the adapter's request through the transport, the provider's answer
//! time (smoothed; it sets how late in a second calls may start), and the answer read
//! into an [`Attempt`].

use crate::{Context, Sender, Templates};
use aws_sdk_s3::presigning::PresigningConfig;
use pregon::model::ProviderKind;
use pregon::providers::{Accepted, Adapter, Content, HttpReply, Outgoing, ProviderError};
use pregon::sending::{SendJob, RATE_SLOT_CUTOFF_MS};
use pregon_aws::transport::CallError;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long a provider may take to fetch a campaign's uploaded header image.
const IMAGE_LINK_TTL: Duration = Duration::from_secs(3600);

impl Sender {
    /// How far into a second calls may start: 900 ms less the provider's recent answer
    /// time, between 300 and 800 ms.
    pub(crate) fn start_cutoff_ms(&self) -> u64 {
        let answer = self.answer_ms.load(Ordering::Relaxed);
        900u64
            .saturating_sub(answer)
            .clamp(300, RATE_SLOT_CUTOFF_MS)
    }

    /// The link to the campaign's own header image, when it has one: its uploaded image
    /// (a pre-signed GET, valid [`IMAGE_LINK_TTL`], long enough for the provider to fetch
    /// it), else the `header_image` link it was created with.
    async fn campaign_image(&self, job: &SendJob) -> Option<String> {
        let c = self
            .campaign_seen(&job.tenant, &job.campaign)
            .await
            .ok()??;
        match &c.header_image_file {
            Some(f) if f.status == "ready" => {
                let cfg = PresigningConfig::expires_in(IMAGE_LINK_TTL).ok()?;
                let req = self
                    .aws
                    .s3
                    .get_object()
                    .bucket(&self.aws.bucket)
                    .key(pregon::model::header_image_key(
                        &job.tenant,
                        &job.campaign,
                        &f.upload_id,
                    ))
                    .presigned(cfg)
                    .await
                    .ok()?;
                Some(req.uri().to_string())
            }
            _ => c.settings.header_image.clone(),
        }
    }

    /// One provider call through the transport; the adapter reads the answer.
    pub(crate) async fn call(
        &self,
        ctx: &Context,
        templates: &Templates,
        job: &SendJob,
    ) -> Attempt {
        let message_id = job.message_id();
        let callback = self
            .webhook_base
            .as_ref()
            .map(|b| pregon::model::status_callback_url(b, &job.account, &message_id));
        let template = job
            .template
            .as_deref()
            .and_then(|t| templates.get(t))
            .and_then(Option::as_deref);
        let sms = ctx.account.provider == ProviderKind::SmsGateway
            || ctx.account.channel == pregon::validate::Channel::Sms;
        // The campaign's own image replaces the template's (SPEC §3): read only for a
        // template that has one.
        let campaign_image = match template {
            Some(t) if !sms && t.image_header().is_some() => self.campaign_image(job).await,
            _ => None,
        };
        let mut rendered = String::new();
        let content =
            match Content::of_job(job, template, sms, campaign_image.as_deref(), &mut rendered) {
                Ok(content) => content,
                Err(refused) => return Attempt::Refused(refused),
            };
        let m = Outgoing {
            to: &job.phone,
            content,
            correlation: &message_id,
            status_callback: callback.as_deref(),
        };
        let adapter = Adapter::new(&ctx.account, &ctx.credentials);
        let req = match adapter.send_request(&self.transport.endpoints, &m, job.seq) {
            Ok(req) => req,
            Err(refused) => return Attempt::Refused(refused),
        };
        let started = std::time::Instant::now();
        let sent = self.transport.send(req).await;
        // The provider's answer time, smoothed (the start cutoff follows it).
        let took = started.elapsed().as_millis() as u64;
        let old = self.answer_ms.load(Ordering::Relaxed);
        self.answer_ms
            .store((old * 7 + took) / 8, Ordering::Relaxed);
        let (status, body) = match sent {
            Ok(answer) => answer,
            Err(e) => return e.into(),
        };
        let reply = HttpReply {
            status,
            body: &body,
        };
        adapter.read_send_reply(reply, &message_id).into()
    }
}

/// What became of one call to the provider.
pub(crate) enum Attempt {
    /// The provider took the message.
    Accepted(Accepted),
    /// The provider answered no: for now (throttled, unavailable) or for good.
    Refused(ProviderError),
    /// The request never left: nothing can have been sent; try again later.
    NotSent(String),
    /// The provider may have taken it (the answer was cut, or said yes without an id):
    /// never sent again on a guess; its callbacks, else the claim's expiry, settle it.
    Unknown(String),
}

impl From<Result<Accepted, ProviderError>> for Attempt {
    fn from(answer: Result<Accepted, ProviderError>) -> Self {
        match answer {
            Ok(a) => Attempt::Accepted(a),
            Err(ProviderError::Unknown { reason }) => Attempt::Unknown(reason),
            Err(e) => Attempt::Refused(e),
        }
    }
}

impl From<CallError> for Attempt {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NotSent(why) => Attempt::NotSent(why),
            CallError::Unknown(why) => Attempt::Unknown(why),
        }
    }
}
