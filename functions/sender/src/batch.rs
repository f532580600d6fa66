//! The SQS batch: each batch's jobs sorted by account and sent side by side, each
//! account's share paced by its rate (`send_account`), and what is to be retried put
//! back on the queue (`requeue`); and the send dead-letter queue's batches, each job
//! that reached it settled (`settle_dead_letters`).

use crate::after::left_over;
use crate::{over_quota, retry, JobResult, Sender, Templates};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use pregon::clock::now_ms;
use pregon::sending::{rate_slot_within, SendJob, DEAD_LETTERED};
use pregon_aws::sqs::Retries;
use pregon_aws::transport::REQUEST_TIMEOUT;
use std::collections::HashMap;
use std::time::Duration;
use tracing::{info, warn};

/// How long a batch may wait in-process for its account's rate before what is left goes
/// back on the queue (ms).
const HOLD_MS: i64 = 2_000;

impl Sender {
    /// One SQS batch. `deadline` is the invocation's end (unix ms).
    pub async fn handle(&self, event: SqsEvent, deadline: u64) -> SqsBatchResponse {
        let mut jobs: Vec<(String, SendJob)> = Vec::new();
        let mut retries = Retries::new(&event);
        let mut again: Vec<(String, SendJob, i32)> = Vec::new();
        for r in event.records {
            let id = r.message_id.clone().unwrap_or_default();
            match serde_json::from_str::<SendJob>(r.body.as_deref().unwrap_or("")) {
                Ok(j) => jobs.push((id, j)),
                // Not a send job: it can never succeed. The queue's redrive takes it to
                // the dead-letter queue after its tries; say why in the log.
                Err(e) => {
                    warn!(message_id = %id, error = %e, "not a send job");
                    retries.retry(id);
                }
            }
        }
        let mut by_account: HashMap<(String, String), Vec<(String, SendJob)>> = HashMap::new();
        let (ticket_jobs, jobs): (Vec<_>, Vec<_>) =
            jobs.into_iter().partition(|(_, j)| j.ticket_at.is_some());
        for (id, j) in ticket_jobs {
            let at = j.ticket_at.clone().unwrap_or_default();
            if let JobResult::Retry { why, after, next } = self.open_ticket_again(&j, &at).await {
                info!(message = %j.message_id(), reason = %why, "ticket job will be retried");
                again.push((id, next.map_or(j, |n| *n), after));
            }
        }
        for (id, j) in jobs {
            by_account
                .entry((j.tenant.clone(), j.account.clone()))
                .or_default()
                .push((id, j));
        }
        // Accounts side by side: one account waiting for its rate never holds another's
        // jobs of the batch.
        let sends = by_account
            .iter()
            .map(|((tenant, account), group)| async move {
                (
                    group,
                    self.send_account(tenant, account, group, deadline).await,
                )
            });
        for (group, results) in futures::future::join_all(sends).await {
            for ((id, job), r) in group.iter().zip(results) {
                if let JobResult::Retry { why, after, next } = r {
                    info!(message = %job.message_id(), reason = %why, after, "send job will be retried");
                    let next = next.map_or_else(|| job.clone(), |n| *n);
                    again.push((id.clone(), next, after));
                }
            }
        }
        // Each retry goes back as a new queue message (its counts in the body), so a storm
        // never uses up the queue's receives; one that could not be put back stays a batch
        // failure and returns after its own back-off.
        let kept = self.requeue(&again).await;
        for ((id, _, after), ok) in again.into_iter().zip(kept) {
            if !ok {
                retries.retry_after(id, after);
            }
        }
        let queue = self.queue_url.as_deref().map(|q| (&self.aws.sqs, q));
        retries.respond(queue).await
    }

    /// A batch of the send dead-letter queue: each job that still reached it (the queue
    /// gave up on it, or its body is not a job) is settled, so its campaign can end. An
    /// unsent message ends `failed` with `dead_lettered`; one whose claim expired ends
    /// `outcome_unknown` (it may have been called); one a sender still holds comes back
    /// later; one with an outcome is left as it is.
    pub async fn settle_dead_letters(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut retries = Retries::new(&event);
        // Every dead letter is counted (the queue's depth alarm may not see one this
        // takes within a minute).
        pregon_aws::metrics::emit(
            &[("Function", "send-dead-letters")],
            &[(
                "DeadLettered",
                event.records.len() as f64,
                pregon_aws::metrics::Unit::Count,
            )],
        );
        for r in event.records {
            let id = r.message_id.clone().unwrap_or_default();
            let body = r.body.as_deref().unwrap_or("");
            let job = match serde_json::from_str::<SendJob>(body) {
                Ok(j) => j,
                Err(e) => {
                    // Nothing to settle: say why, once, and let it go.
                    warn!(message_id = %id, error = %e, bytes = body.len(), "a dead letter that is not a send job: dropped");
                    continue;
                }
            };
            if let JobResult::Retry { why, .. } = self.settle_dead_letter(&job).await {
                warn!(message = %job.message_id(), reason = %why, "dead letter not settled yet");
                retries.retry(id);
            }
        }
        retries.respond(None).await
    }

    async fn settle_dead_letter(&self, job: &SendJob) -> JobResult {
        let m = match self.store.message(job).await {
            Ok(Some(m)) => m,
            Ok(None) => return JobResult::Done,
            Err(e) => return retry(e.to_string()),
        };
        if m.status != "pending" && m.status != "queued" {
            return JobResult::Done;
        }
        if m.claim_until.is_some() {
            // (The queue gave up on it: settled now, without waiting for a report.)
            return self.already_taken(job, false).await;
        }
        let now = pregon::clock::now_rfc3339();
        let why =
            "the send queue gave up on this message's job (dead-letter queue); it was not sent";
        match self.store.fail_unsent(job, DEAD_LETTERED, why, &now).await {
            Ok(true) => {
                warn!(message = %job.message_id(), "dead-lettered job: message failed");
                self.unqueue(job).await;
                JobResult::Done
            }
            Ok(false) => JobResult::Done,
            Err(e) => retry(e.to_string()),
        }
    }

    /// Puts retried jobs back on this function's queue as new messages, each visible after
    /// its back-off (at most SQS's 15 minutes); whether each one was put back.
    async fn requeue(&self, again: &[(String, SendJob, i32)]) -> Vec<bool> {
        let Some(queue) = &self.queue_url else {
            return vec![false; again.len()];
        };
        let mut kept = Vec::with_capacity(again.len());
        for chunk in again.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, (_, job, after))| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(serde_json::to_string(job).ok()?)
                        .delay_seconds((*after).clamp(0, 900))
                        .build()
                        .ok()
                })
                .collect();
            let sent = self
                .aws
                .sqs
                .send_message_batch()
                .queue_url(queue)
                .set_entries(Some(entries))
                .send()
                .await;
            match sent {
                Ok(out) => {
                    let ok: Vec<String> = out.successful.into_iter().map(|e| e.id).collect();
                    kept.extend((0..chunk.len()).map(|i| ok.contains(&i.to_string())));
                }
                Err(e) => {
                    warn!(error = ?e, "could not put retries back on the queue (they come back by visibility)");
                    kept.extend(chunk.iter().map(|_| false));
                }
            }
        }
        kept
    }

    /// Sends one account's jobs of the batch, as fast as its rate allows.
    async fn send_account(
        &self,
        tenant: &str,
        account: &str,
        group: &[(String, SendJob)],
        deadline: u64,
    ) -> Vec<JobResult> {
        let ctx = match self.context(tenant, account).await {
            Ok(c) => c,
            Err(e) => return group.iter().map(|_| retry(e.clone())).collect(),
        };
        let mut results: Vec<Option<JobResult>> = group.iter().map(|_| None).collect();
        let (templates, mut waiting) = self.templates_of(tenant, group, &mut results).await;
        // A batch holds its sender for at most HOLD_MS of the account's rate: what the
        // rate has no room for by then goes back on the queue, so a slow account's jobs
        // never hold the sender slots other accounts' jobs need.
        let hold_until = now_ms() + HOLD_MS;
        let mut left_why = "the invocation ran out of time";
        while !waiting.is_empty() {
            // Leave time to record what was sent before the invocation ends.
            if now_ms() + REQUEST_TIMEOUT.as_millis() as i64 + 3_000 > deadline as i64 {
                break;
            }
            if now_ms() >= hold_until {
                left_why = "waiting for the account's rate";
                break;
            }
            match self.screen(group, waiting, &templates, &mut results).await {
                Ok(still) => waiting = still,
                Err(still) => {
                    waiting = still;
                    break;
                }
            }
            if waiting.is_empty() {
                break;
            }
            // Calls must reach the provider inside the second they were counted in: start
            // them early enough for the provider's observed answer time to fit.
            let cutoff = self.start_cutoff_ms();
            let slot = rate_slot_within(now_ms(), cutoff);
            if slot.wait_ms > 0 {
                tokio::time::sleep(Duration::from_millis(slot.wait_ms)).await;
            }
            let want = waiting.len() as u32;
            let granted = match self
                .store
                .reserve_rate(account, slot, ctx.account.rate, want)
                .await
            {
                Ok(g) => g as usize,
                Err(e) => {
                    warn!(error = %e, "rate reservation failed");
                    break;
                }
            };
            if granted == 0 {
                // This second is used up: wait for the next one.
                let into = now_ms().rem_euclid(1000);
                tokio::time::sleep(Duration::from_millis((1000 - into) as u64)).await;
                continue;
            }
            let (granted, quota_day) = match self.quota_allows(tenant, granted).await {
                Ok((0, _)) => {
                    // The tenant's day is used up: the rest waits for the next one.
                    for i in waiting.drain(..) {
                        results[i] = Some(over_quota());
                    }
                    break;
                }
                Ok(g) => g,
                Err(e) => {
                    warn!(error = %e, "daily quota unreadable");
                    break;
                }
            };
            let picked: Vec<usize> = waiting.drain(..granted).collect();
            let take: Vec<(String, SendJob)> = picked.iter().map(|i| group[*i].clone()).collect();
            let latest_start = slot.second * 1000 + cutoff as i64;
            let Some(outcomes) = self.send_some(&ctx, &templates, &take, latest_start).await else {
                // Too late in the second to call: the count is spent, the claims (and
                // the quota) were given back; the next second takes them.
                self.quota_give_back(tenant, quota_day.as_deref(), take.len())
                    .await;
                let mut back = picked;
                back.append(&mut waiting);
                waiting = back;
                continue;
            };
            for (i, r) in picked.into_iter().zip(outcomes) {
                results[i] = Some(r);
            }
        }
        left_over(results, waiting.len(), ctx.account.rate, left_why)
    }

    /// Each job's own template (the group may hold several campaigns' jobs, ticket
    /// replies and single messages of one account), and the jobs whose template could
    /// be read (the others are retried).
    async fn templates_of(
        &self,
        tenant: &str,
        group: &[(String, SendJob)],
        results: &mut [Option<JobResult>],
    ) -> (Templates, Vec<usize>) {
        let mut templates = Templates::new();
        let mut waiting: Vec<usize> = Vec::with_capacity(group.len());
        for (i, (_, job)) in group.iter().enumerate() {
            if let Some(t) = &job.template {
                if !templates.contains_key(t) {
                    match self.template(tenant, t).await {
                        Ok(found) => {
                            templates.insert(t.clone(), found);
                        }
                        Err(e) => {
                            results[i] = Some(retry(format!("template unreadable: {e}")));
                            continue;
                        }
                    }
                }
            }
            waiting.push(i);
        }
        (templates, waiting)
    }
}
