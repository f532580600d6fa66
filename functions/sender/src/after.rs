//! What follows the provider's answers: each answer judged (recorded, released to try
//! again, or kept claimed), the batch's outcomes recorded with their opt-outs, progress
//! and tickets, the batch's metrics, and the results of the jobs the batch did not reach.

use crate::call::Attempt;
use crate::{retry, Context, JobResult, Sender, CLAIM_MS};
use pregon::clock::now_ms;
use pregon::model::{Campaign, Progress};
use pregon::providers::{OptOut, ProviderError};
use pregon::sending::{NextTry, SendJob, Transient, RETRIES_EXHAUSTED};
use pregon_aws::messages::Outcome;
use pregon_aws::metrics::Unit;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use tracing::{info, warn};

impl Sender {
    /// What one provider answer means for its job: recorded (sent or refused), released
    /// to try again later (throttled, unavailable), or kept claimed (outcome unknown).
    pub(crate) async fn judge<'a>(
        &self,
        ctx: &Context,
        job: &'a SendJob,
        answer: Option<Attempt>,
        batch: &mut Batch<'a>,
    ) -> JobResult {
        match answer {
            None => {
                self.already_taken(job, ctx.account.provider.reports_every_message())
                    .await
            }
            Some(Attempt::Accepted(a)) => {
                batch.record.push((
                    job,
                    Outcome::Sent {
                        provider_message_id: a.provider_message_id,
                    },
                ));
                JobResult::Done
            }
            Some(Attempt::Refused(e)) if e.retriable() => {
                let trouble = if matches!(e, ProviderError::Throttled { .. }) {
                    batch.throttled += 1;
                    Transient::Throttled
                } else {
                    Transient::Unavailable
                };
                let why = e.to_string();
                transient(job, trouble, why, &mut batch.release, &mut batch.record)
            }
            Some(Attempt::Refused(e @ ProviderError::Auth { .. }))
                if self.credentials_replaced(ctx, job).await =>
            {
                // Sent with credentials the tenant has since replaced: again, with the
                // new ones (each sender re-reads them on its first refusal).
                let why = e.to_string();
                let trouble = Transient::CredentialsRefused;
                transient(job, trouble, why, &mut batch.release, &mut batch.record)
            }
            Some(Attempt::NotSent(why)) => transient(
                job,
                Transient::Unavailable,
                why,
                &mut batch.release,
                &mut batch.record,
            ),
            Some(Attempt::Unknown(why)) => {
                // Keep the claim: the redelivery, once it has expired, settles it as
                // outcome_unknown (unless a status callback did), never re-sends it.
                warn!(message = %job.message_id(), reason = %why, "send outcome unknown");
                JobResult::Retry {
                    why,
                    after: (CLAIM_MS / 1000) as i32 + 1,
                    next: None,
                }
            }
            Some(Attempt::Refused(e)) => {
                let (code, message) = e.code_and_message();
                batch.record.push((job, Outcome::Failed { code, message }));
                JobResult::Done
            }
        }
    }

    /// CloudWatch (EMF): what this batch did at the provider, by provider kind.
    pub(crate) fn batch_metrics(&self, ctx: &Context, batch: &Batch<'_>) {
        let sent = batch
            .record
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Sent { .. }))
            .count();
        pregon_aws::metrics::emit(
            &[("Provider", ctx.account.provider.as_str())],
            &[
                ("MessagesSent", sent as f64, Unit::Count),
                (
                    "MessagesFailed",
                    (batch.record.len() - sent) as f64,
                    Unit::Count,
                ),
                ("Throttled", batch.throttled as f64, Unit::Count),
                (
                    "ProviderLatency",
                    self.answer_ms.load(Ordering::Relaxed) as f64,
                    Unit::Milliseconds,
                ),
            ],
        );
    }

    /// Records the batch's outcomes (only under its claims), then what follows from
    /// them: opt-outs, progress, tickets — a job whose ticket could not be written is
    /// put back to open it apart.
    pub(crate) async fn record(
        &self,
        ctx: &Context,
        jobs: &[&SendJob],
        results: &mut [JobResult],
        record: &[(&SendJob, Outcome)],
        claim: i64,
        now: &str,
    ) -> Result<(), pregon_aws::Error> {
        let applied = self.store.record_outcomes(record, claim, now).await?;
        self.opt_outs(ctx, record, now).await;
        self.progress(record, &applied).await;
        let unticketed = self.open_tickets(record, &applied, now).await;
        for (job, r) in jobs.iter().zip(results.iter_mut()) {
            if unticketed.contains(&job.message_id()) {
                let mut again = (*job).clone();
                again.ticket_at = Some(now.to_string());
                *r = JobResult::Retry {
                    why: "its ticket is opened apart".into(),
                    after: 5,
                    next: Some(Box::new(again)),
                };
            }
        }
        Ok(())
    }

    /// Recipients who opted out through the provider's refusal (Twilio 21610: on the
    /// tenant's do-not-contact list; Meta 131050: no more MARKETING templates).
    async fn opt_outs(&self, ctx: &Context, record: &[(&SendJob, Outcome)], now: &str) {
        let mut entries: HashMap<&str, Vec<(String, Option<String>)>> = HashMap::new();
        for (job, o) in record {
            let Outcome::Failed { code, .. } = o else {
                continue;
            };
            let scope = match pregon::providers::opt_out(ctx.account.provider, code) {
                Some(OptOut::Everything) => None,
                Some(OptOut::Marketing) => Some(pregon::keys::MARKETING_OPT_OUT.to_string()),
                None => continue,
            };
            entries
                .entry(job.tenant.as_str())
                .or_default()
                .push((job.phone.clone(), scope));
        }
        for (tenant, list) in entries {
            info!(tenant, count = list.len(), "opted out through the provider");
            if let Err(e) = self.store.dnc_put(tenant, &list, now, None).await {
                warn!(error = %e, "could not record opt-outs");
            }
        }
    }

    /// Tickets for the messages just recorded `sent` whose campaign waits for a reply
    /// (SPEC §5): open until each message's own send time plus the wait. A sender that
    /// dies before this leaves the message without a ticket; a reply to it then opens
    /// an inbound ticket (no reply is dropped).
    /// The jobs whose tickets could not be written: each is put back (a new queue
    /// message with `ticket_at`) and retried until its ticket and due item exist.
    async fn open_tickets(
        &self,
        record: &[(&SendJob, Outcome)],
        applied: &[bool],
        now: &str,
    ) -> Vec<String> {
        let mut tickets = Vec::new();
        let mut whose = Vec::new();
        let mut unread = Vec::new();
        let mut informative: HashMap<&str, Vec<(&str, &str, String)>> = HashMap::new();
        for ((job, o), ok) in record.iter().zip(applied) {
            if !ok || !matches!(o, Outcome::Sent { .. }) {
                continue;
            }
            match self.campaign_seen(&job.tenant, &job.campaign).await {
                Ok(Some(c)) => {
                    if let Some(t) = job_ticket(job, &c, now) {
                        tickets.push(t);
                        whose.push(job.message_id());
                    } else if !c.single && c.settings.wait_for_reply_hours == 0 {
                        informative.entry(&job.tenant).or_default().push((
                            &job.account,
                            &job.phone,
                            job.message_id(),
                        ));
                    }
                }
                Ok(None) => {}
                // The campaign could not be read: its ticket is opened apart, later.
                Err(e) => {
                    warn!(error = %e, "campaign not read for a ticket: retried");
                    unread.push(job.message_id());
                }
            }
        }
        if !tickets.is_empty() {
            if let Err(e) = self.store.open_tickets(&tickets).await {
                warn!(error = %e, count = tickets.len(), "tickets not opened yet: retried");
                unread.extend(whose);
            }
        }
        // An informative campaign's message is its phone's latest from the account: a
        // reply that quotes nothing is counted on it (a lost note only leaves such a
        // reply uncounted; the reply itself still opens its inbound ticket).
        for (tenant, sent) in informative {
            if let Err(e) = self.store.note_sent(tenant, &sent, now).await {
                warn!(error = %e, count = sent.len(), "informative messages not noted for replies");
            }
        }
        unread
    }

    /// A job put back only to open its message's ticket ([`SendJob::ticket_at`]).
    pub(crate) async fn open_ticket_again(&self, job: &SendJob, at: &str) -> JobResult {
        let c = match self.campaign_seen(&job.tenant, &job.campaign).await {
            Ok(Some(c)) => c,
            Ok(None) => return JobResult::Done,
            Err(e) => return retry(e),
        };
        let Some(t) = job_ticket(job, &c, at) else {
            return JobResult::Done;
        };
        match self.store.open_tickets(&[t]).await {
            Ok(()) => JobResult::Done,
            Err(e) => JobResult::Retry {
                why: format!("ticket not opened yet: {e}"),
                after: 30,
                next: None,
            },
        }
    }

    /// Takes recorded messages off their campaign's `queued` count. What they count as
    /// (`sent`, `failed`, `blocked`, `skipped`) and the campaign's end follow from the
    /// table's stream (the tally function): exactly once, whatever a retry repeats here.
    async fn progress(&self, record: &[(&SendJob, Outcome)], applied: &[bool]) {
        let mut per_campaign: HashMap<(&str, &str), Progress> = HashMap::new();
        for ((job, _), ok) in record.iter().zip(applied) {
            if *ok {
                per_campaign
                    .entry((job.tenant.as_str(), job.campaign.as_str()))
                    .or_default()
                    .queued -= 1;
            }
        }
        for ((tenant, campaign), delta) in per_campaign {
            let shard = rand::random::<u32>();
            if let Err(e) = self
                .store
                .add_progress(tenant, campaign, shard, &delta)
                .await
            {
                warn!(error = %e, "could not update progress counters");
            }
        }
    }

    /// One message off its campaign's `queued` count (see [`Sender::progress`]).
    pub(crate) async fn unqueue(&self, job: &SendJob) {
        let delta = Progress {
            queued: -1,
            ..Default::default()
        };
        self.add_progress(job, &delta).await;
    }

    async fn add_progress(&self, job: &SendJob, delta: &Progress) {
        if let Err(e) = self
            .store
            .add_progress(&job.tenant, &job.campaign, rand::random::<u32>(), delta)
            .await
        {
            warn!(error = %e, "could not update progress counters");
        }
    }
}

/// What a batch's answers asked for: outcomes to record, claims to give back, and how
/// many answers were throttling.
#[derive(Default)]
pub(crate) struct Batch<'a> {
    pub(crate) record: Vec<(&'a SendJob, Outcome)>,
    pub(crate) release: Vec<&'a SendJob>,
    pub(crate) throttled: u32,
}

/// A job the provider could not take now (throttled, unavailable): its claim is given
/// back and it goes back on the queue with its counts, or, once it has tried long enough
/// ([`SendJob::after_failure`]), the message fails `retries_exhausted` (claim kept, to
/// record it).
fn transient<'a>(
    job: &'a SendJob,
    trouble: Transient,
    why: String,
    release: &mut Vec<&'a SendJob>,
    record: &mut Vec<(&'a SendJob, Outcome)>,
) -> JobResult {
    match job.after_failure(trouble, now_ms()) {
        NextTry::Again {
            job: next,
            after_secs,
        } => {
            release.push(job);
            // A little spread, so a storm's jobs do not all come back in one second.
            let after = after_secs + rand::random_range(0..=after_secs / 4);
            JobResult::Retry {
                why,
                after: after as i32,
                next: Some(next),
            }
        }
        NextTry::GiveUp { why: gave_up } => {
            warn!(message = %job.message_id(), reason = %why, "gave up after transient provider trouble");
            record.push((
                job,
                Outcome::Failed {
                    code: RETRIES_EXHAUSTED.into(),
                    message: format!("{gave_up}; last: {why}"),
                },
            ));
            JobResult::Done
        }
    }
}

/// Every job's result: its own, or, for the `waiting` ones the batch did not reach, a
/// retry after about as long as the account's `rate` needs for them (with jitter).
pub(crate) fn left_over(
    results: Vec<Option<JobResult>>,
    waiting: usize,
    rate: u32,
    why: &str,
) -> Vec<JobResult> {
    let after = waiting.div_ceil(rate.max(1) as usize).clamp(1, 900) as i32;
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| JobResult::Retry {
                why: why.into(),
                after: after + rand::random_range(0..=after / 2),
                next: None,
            })
        })
        .collect()
}

/// The ticket a sent job's message opens, if its campaign waits for replies.
fn job_ticket(job: &SendJob, c: &Campaign, at: &str) -> Option<pregon::model::Ticket> {
    pregon_aws::tickets::campaign_ticket(
        &job.tenant,
        c,
        &job.account,
        job.gen,
        job.row,
        &job.phone,
        at,
    )
}
