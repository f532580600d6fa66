//! Claiming and what may stop a job before its call: the campaign's gate (a paused
//! campaign's job parked, a cancelled one's dropped), the do-not-contact screen and the
//! `blocked` messages it ends, the claims themselves (`send_some`: claim, call, judge,
//! record), and a job whose message could not be claimed — a duplicate, or a lost
//! answer's claim to settle.

use crate::after::Batch;
use crate::{retry, Context, JobResult, Sender, Templates, CLAIM_MS, DNC_IN_MEMORY};
use pregon::clock::now_ms;
use pregon::model::{CampaignStatus, Progress, TemplateCategory};
use pregon::sending::{LostAnswer, MessageStatus, SendJob};
use pregon_aws::messages::{ClaimResult, DncSnapshot, Park};
use pregon_aws::Error as AwsError;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::{info, warn};

impl Sender {
    /// A campaign's status, read at most once a second per campaign.
    async fn campaign_status(
        &self,
        tenant: &str,
        campaign: &str,
    ) -> Result<Option<CampaignStatus>, AwsError> {
        Ok(self
            .campaign_seen(tenant, campaign)
            .await?
            .map(|c| c.status))
    }

    /// Whether a job's campaign is still sending; else what became of the job: a paused
    /// campaign's job is parked, a cancelled (or gone) campaign's job is dropped.
    async fn gate(&self, job: &SendJob) -> Option<JobResult> {
        match self.campaign_status(&job.tenant, &job.campaign).await {
            Ok(Some(CampaignStatus::Paused)) => match self.park(job).await {
                Ok(true) => Some(JobResult::Done),
                Ok(false) => None,
                Err(why) => Some(retry(format!("could not park: {why}"))),
            },
            // Dispatch marks a cancelled campaign's unsent messages `skipped`.
            Ok(Some(CampaignStatus::Cancelled)) | Ok(None) => Some(JobResult::Done),
            Ok(Some(_)) => None,
            Err(why) => Some(retry(format!("campaign unreadable: {why}"))),
        }
    }

    /// Parks a paused campaign's job; `Ok(false)` when the campaign was resumed meanwhile
    /// (send it).
    async fn park(&self, job: &SendJob) -> Result<bool, AwsError> {
        match self.store.park_message(job).await? {
            Park::Parked => {
                self.unqueue(job).await;
                Ok(true)
            }
            Park::NotPending => Ok(true),
            Park::NotPaused => {
                self.campaigns.forget(&job.tenant, &job.campaign);
                Ok(false)
            }
        }
    }

    /// The waiting jobs that may still go, checked right before their call: a pause or
    /// a cancel while the batch waited for the rate takes hold (the job is parked or
    /// dropped), and a phone put on the do-not-contact list (or opted out by a reply)
    /// meanwhile is not sent. `Err` with the jobs still waiting when the list cannot be
    /// read (the batch stops there).
    pub(crate) async fn screen(
        &self,
        group: &[(String, SendJob)],
        waiting: Vec<usize>,
        templates: &Templates,
        results: &mut [Option<JobResult>],
    ) -> Result<Vec<usize>, Vec<usize>> {
        let mut still = Vec::with_capacity(waiting.len());
        for i in waiting {
            match self.gate(&group[i].1).await {
                None => still.push(i),
                Some(r) => results[i] = Some(r),
            }
        }
        match self.blocked(group, &still, templates).await {
            Ok(stop) if !stop.is_empty() => {
                let failed = self.block(group, &stop).await.err();
                for i in &stop {
                    results[*i] = Some(match &failed {
                        None => JobResult::Done,
                        Some(e) => retry(format!("could not block: {e}")),
                    });
                }
                still.retain(|i| !stop.contains(i));
                Ok(still)
            }
            Ok(_) => Ok(still),
            Err(e) => {
                warn!(error = %e, "do-not-contact list unreadable");
                Err(still)
            }
        }
    }

    /// A tenant's do-not-contact list for one campaign, read at most every
    /// [`DNC_FOR`](crate::DNC_FOR).
    async fn dnc_snapshot(
        &self,
        tenant: &str,
        campaign: &str,
    ) -> Result<Option<Arc<DncSnapshot>>, AwsError> {
        let load = async {
            Ok(self
                .store
                .do_not_contact_snapshot(tenant, campaign, DNC_IN_MEMORY)
                .await?
                .map(Arc::new))
        };
        self.dnc.get(tenant, campaign, load).await
    }

    /// Which of the `waiting` jobs may not be sent now: the phone is on the tenant's
    /// do-not-contact list (tenant-wide or for the job's campaign), or it stopped
    /// marketing messages and the job's template is a MARKETING one.
    async fn blocked(
        &self,
        group: &[(String, SendJob)],
        waiting: &[usize],
        templates: &Templates,
    ) -> Result<Vec<usize>, AwsError> {
        let marketing = |job: &SendJob| {
            job.template
                .as_ref()
                .and_then(|t| templates.get(t))
                .and_then(Option::as_deref)
                .is_some_and(|t| t.spec.category == Some(TemplateCategory::Marketing))
        };
        let mut by_campaign: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for i in waiting {
            let job = &group[*i].1;
            by_campaign
                .entry((job.tenant.as_str(), job.campaign.as_str()))
                .or_default()
                .push(*i);
        }
        let mut stop = Vec::new();
        for ((tenant, campaign), jobs) in by_campaign {
            match self.dnc_snapshot(tenant, campaign).await? {
                Some(list) => stop.extend(jobs.into_iter().filter(|i| {
                    let job = &group[*i].1;
                    if marketing(job) {
                        list.refuses_marketing(&job.phone)
                    } else {
                        list.contains(&job.phone)
                    }
                })),
                None => {
                    // A long list: these phones' entries by key.
                    let phones: Vec<&str> =
                        jobs.iter().map(|i| group[*i].1.phone.as_str()).collect();
                    let listed = self.store.do_not_contact(tenant, campaign, &phones).await?;
                    let opted = self
                        .store
                        .do_not_contact(tenant, pregon::keys::MARKETING_OPT_OUT, &phones)
                        .await?;
                    stop.extend(jobs.into_iter().filter(|i| {
                        let job = &group[*i].1;
                        listed.contains(&job.phone)
                            || (marketing(job) && opted.contains(&job.phone))
                    }));
                }
            }
        }
        Ok(stop)
    }

    /// Ends these jobs' messages `blocked` (only those nobody holds and not yet sent); the
    /// tally counts them.
    async fn block(&self, group: &[(String, SendJob)], stop: &[usize]) -> Result<(), AwsError> {
        let now = pregon::clock::now_rfc3339();
        let mut by_campaign: HashMap<(&str, &str, u32), Vec<u64>> = HashMap::new();
        for i in stop {
            let job = &group[*i].1;
            by_campaign
                .entry((job.tenant.as_str(), job.campaign.as_str(), job.gen))
                .or_default()
                .push(job.row);
        }
        for ((tenant, campaign, gen), rows) in by_campaign {
            // Conditional (only unclaimed, unsent messages): a retry counts nothing twice.
            let applied = self
                .store
                .mark_messages(tenant, campaign, gen, &rows, MessageStatus::Blocked, &now)
                .await?;
            let n = applied.iter().filter(|a| **a).count() as i64;
            info!(campaign, blocked = n, "do-not-contact: not sent");
            if n > 0 {
                let delta = Progress {
                    queued: -n,
                    ..Default::default()
                };
                if let Err(e) = self
                    .store
                    .add_progress(tenant, campaign, rand::random::<u32>(), &delta)
                    .await
                {
                    warn!(error = %e, "could not update progress counters");
                }
            }
        }
        Ok(())
    }

    /// Claims, calls and records a few jobs the rate allows now; `None` (nothing called,
    /// claims given back) when the claims took past `latest_start` (unix ms).
    pub(crate) async fn send_some(
        &self,
        ctx: &Context,
        templates: &Templates,
        take: &[(String, SendJob)],
        latest_start: i64,
    ) -> Option<Vec<JobResult>> {
        let claim = now_ms() + CLAIM_MS;
        let jobs: Vec<&SendJob> = take.iter().map(|(_, j)| j).collect();
        let claims = match self.store.claim_messages(&jobs, claim).await {
            Ok(c) => c,
            Err(e) => return Some(take.iter().map(|_| retry(e.to_string())).collect()),
        };
        if now_ms() > latest_start {
            let mine: Vec<&SendJob> = jobs
                .iter()
                .zip(&claims)
                .filter(|(_, c)| **c == ClaimResult::Claimed)
                .map(|(j, _)| *j)
                .collect();
            if let Err(e) = self.store.release_claims(&mine, claim).await {
                warn!(error = %e, "could not release claims (they expire)");
            }
            return None;
        }
        let calls = jobs.iter().zip(&claims).map(|(job, c)| async move {
            match c {
                ClaimResult::Claimed => Some(self.call(ctx, templates, job).await),
                ClaimResult::Taken => None,
            }
        });
        let answers = futures::future::join_all(calls).await;
        let now = pregon::clock::now_rfc3339();
        let mut results = Vec::with_capacity(take.len());
        let mut batch = Batch::default();
        for (job, answer) in jobs.iter().zip(answers) {
            results.push(self.judge(ctx, job, answer, &mut batch).await);
        }
        self.batch_metrics(ctx, &batch);
        if !batch.release.is_empty() {
            if let Err(e) = self.store.release_claims(&batch.release, claim).await {
                warn!(error = %e, "could not release claims (they expire)");
            }
        }
        if !batch.record.is_empty() {
            if let Err(e) = self
                .record(ctx, &jobs, &mut results, &batch.record, claim, &now)
                .await
            {
                // The provider has them; the claims stay and the redelivery settles
                // them as outcome_unknown rather than sending again.
                warn!(error = %e, "could not record outcomes");
                return Some(take.iter().map(|_| retry(e.to_string())).collect());
            }
        }
        Some(results)
    }

    /// A job whose message could not be claimed: a duplicate, or a claim to settle.
    /// `reports`: whether the account's provider reports every message it takes
    /// ([`LostAnswer`]).
    pub(crate) async fn already_taken(&self, job: &SendJob, reports: bool) -> JobResult {
        match self.store.message(job).await {
            Ok(None) => JobResult::Done,
            Ok(Some(m)) if m.status != "pending" && m.status != "queued" => JobResult::Done,
            Ok(Some(m)) => match m.claim_until {
                Some(until) if until < now_ms() => {
                    let now = pregon::clock::now_rfc3339();
                    // The provider reported it while the dead sender held it: its kept
                    // statuses settle it (sent, delivered, …), not outcome_unknown.
                    if let Some(pmid) = &m.reported_id {
                        match self.settle_reported(job, pmid, &now).await {
                            Ok(true) => return JobResult::Done,
                            Ok(false) => {}
                            Err(e) => return retry(e),
                        }
                    }
                    let resend = match self.campaign_seen(&job.tenant, &job.campaign).await {
                        Ok(c) => c.is_some_and(|c| c.settings.resend_unreported),
                        Err(e) => return retry(e),
                    };
                    let decision = LostAnswer::decide(
                        until,
                        now_ms(),
                        reports,
                        self.unreported_wait_ms,
                        resend,
                        m.resent.unwrap_or(false),
                    );
                    let (code, why) = match decision {
                        LostAnswer::Wait { ms } => return JobResult::Retry {
                            why:
                                "waiting for the provider to report a message whose answer was lost"
                                    .into(),
                            after: (ms / 1000) as i32 + 1,
                            next: None,
                        },
                        LostAnswer::Resend => {
                            return match self.store.release_for_resend(job, until).await {
                                Ok(true) => {
                                    warn!(message = %job.message_id(), "lost answer never reported: sending once more (resend_unreported)");
                                    JobResult::Retry {
                                        why: "sending once more".into(),
                                        after: 0,
                                        next: None,
                                    }
                                }
                                // Reported, taken or settled meanwhile: look again.
                                Ok(false) => retry("changed meanwhile"),
                                Err(e) => retry(e.to_string()),
                            };
                        }
                        LostAnswer::Settle { code, why } => (code, why),
                    };
                    match self
                        .store
                        .settle_unknown(job, code, &why, now_ms(), &now)
                        .await
                    {
                        Ok(true) => {
                            warn!(message = %job.message_id(), code, "claim expired without an outcome: failed");
                            self.unqueue(job).await;
                            JobResult::Done
                        }
                        Ok(false) => JobResult::Done,
                        Err(e) => retry(e.to_string()),
                    }
                }
                Some(until) => JobResult::Retry {
                    why: "another sender holds this message".into(),
                    after: ((until - now_ms()) / 1000) as i32 + 1,
                    next: None,
                },
                None => retry("not claimable yet"),
            },
            Err(e) => retry(e.to_string()),
        }
    }

    /// Settles a message whose claim expired from the statuses its provider reported
    /// for it (kept by the webhook under `provider_message_id`); whether it now has an
    /// outcome.
    async fn settle_reported(
        &self,
        job: &SendJob,
        provider_message_id: &str,
        now: &str,
    ) -> Result<bool, AwsError> {
        let kept = self
            .store
            .take_early_statuses(&job.account, &[provider_message_id])
            .await?;
        let message = job.message_id();
        for u in &kept {
            pregon_aws::statuses::apply(&self.store, &message, u, now).await?;
        }
        let now_seen = self.store.message(job).await?;
        let settled = now_seen.is_some_and(|m| m.status != "pending" && m.status != "queued");
        if settled {
            info!(message = %message, "claim expired; settled from the provider's reported status");
        }
        Ok(settled)
    }
}
