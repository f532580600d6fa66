//! The scheduled closer (SPEC §2 step 6, §5): every minute, closes the tickets whose
//! time has come — an unanswered campaign ticket at its deadline (`no_reply`), a
//! replied or inbound ticket after the tenant's `idle_close_hours` without activity
//! (`idle`). It reads only the "due" items whose time is not after now, from the hours
//! since its watermark (at most 48), each hour in 16 partitions plus the unsharded one
//! older deployments wrote (no scan, whatever the number of open tickets), chunk by
//! chunk (500), re-checks each rule on the ticket with a conditional write (a reply
//! that raced it wins), publishes the chunk's events,
//! then deletes its due items; a run stops taking chunks after 200 s.
//!
//! The same run sends the report emails that are due (SPEC §5, §7): a campaign with
//! `report_email` whose sending ended and whose last ticket has closed (an informative
//! campaign: [`pregon::model::REPORT_SETTLE_MINUTES`] after its end, so the first statuses count) is
//! claimed on its item and handed to the results function, which builds the file and
//! sends the email. A request left unanswered for [`pregon::model::REPORT_RETRY_MINUTES`] is asked
//! again, up to [`pregon::model::REPORT_EMAIL_ATTEMPTS`] times, then recorded `failed`.
//!
//! Its clock is the scheduled event's `time`, so a run can be played for any moment
//! (the local stack's `/_local/schedules/CloserFunction` takes one).

use futures::stream::{self, StreamExt};
use pregon::model::{
    format_time, kpi::open_tickets, parse_time, report_next, CloseReason, ReportEmailState,
    ReportEmailStatus, ReportNext,
};
use pregon_aws::config::Aws;
use pregon_aws::events::{Event, Events};
use pregon_aws::metrics::Unit;
use pregon_aws::store::Store;
use pregon_aws::tickets::{CloseIf, DueItem};
use pregon_aws::Error as AwsError;
use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use tracing::{info, warn};

/// How far back it looks for due items (a closer stopped this long loses nothing
/// sooner than this).
const LOOK_BACK_HOURS: i64 = 48;

/// Due items read, closed, published and deleted at a time.
const CHUNK: i32 = 500;

/// A run stops taking new chunks after this long (its timeout is 300 s); the rest is
/// the next minute's run's.
const RUN_BUDGET: std::time::Duration = std::time::Duration::from_secs(200);

/// What a run did.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    pub now: String,
    pub due: usize,
    pub no_reply: usize,
    pub idle: usize,
    /// Due items whose ticket had moved on (replied, closed by an agent, active again).
    pub unchanged: usize,
    /// Report emails asked of the results function.
    pub reports: usize,
}

pub struct Closer {
    store: Store,
    aws: Aws,
    events: Events,
}

impl Closer {
    pub fn new(aws: Aws) -> Self {
        Closer {
            store: Store::new(aws.dynamodb.clone(), aws.table.clone()),
            events: Events::from_env(&aws.sdk_config),
            aws,
        }
    }

    /// An EventBridge scheduled event: its `time` is the clock (now when absent).
    pub async fn handle(&self, event: &Value) -> Result<Summary, AwsError> {
        let now = event
            .get("time")
            .and_then(Value::as_str)
            .and_then(pregon::model::parse_time)
            .unwrap_or_else(OffsetDateTime::now_utc);
        self.run(now).await
    }

    pub async fn run(&self, now: OffsetDateTime) -> Result<Summary, AwsError> {
        let started = std::time::Instant::now();
        let now_s = format_time(now);
        // The hours to read: from the watermark (every hour before it is drained), at
        // most LOOK_BACK_HOURS back, to now's; each hour in DUE_SHARDS partitions.
        let oldest = now - Duration::hours(LOOK_BACK_HOURS);
        let from = self
            .store
            .closer_watermark()
            .await?
            .and_then(|h| parse_time(&format!("{h}:00:00Z")))
            .map_or(oldest, |w| w.max(oldest));
        let mut hours = Vec::new();
        let mut h = from;
        while h <= now {
            hours.push(format_time(h)[..13].to_string());
            h += Duration::hours(1);
        }
        let mut summary = Summary {
            now: now_s.clone(),
            ..Default::default()
        };
        // Chunk by chunk (at most CHUNK due items in memory): close, publish the
        // chunk's events, then delete its due items — a run that dies leaves the items,
        // and the next run publishes a close it finds already made by the closer again.
        let mut finished = true;
        'partitions: for hour in &hours {
            // The shards, then the unsharded partition of items written before the
            // sharding (an upgraded deployment's tickets close as they were scheduled).
            for shard in (0..pregon::keys::DUE_SHARDS).map(Some).chain([None]) {
                let mut start = None;
                loop {
                    if started.elapsed() > RUN_BUDGET {
                        finished = false;
                        break 'partitions;
                    }
                    let page = self
                        .store
                        .due_page(hour, shard, &now_s, CHUNK, start.take())
                        .await?;
                    self.close_chunk(&page.items, &now_s, &mut summary).await?;
                    match page.next {
                        Some(n) => start = Some(n),
                        None => break,
                    }
                }
            }
        }
        // Every due item up to now is handled: the hours before two hours ago (by the
        // run's clock and the wall clock, whichever is earlier: runs are played at any
        // time) are drained for good.
        if finished {
            let mark =
                (now - Duration::hours(2)).min(OffsetDateTime::now_utc() - Duration::hours(2));
            if mark > from {
                self.store
                    .set_closer_watermark(&format_time(mark)[..13])
                    .await?;
            }
        }
        // After the closes, so a campaign whose last ticket closed now reports now.
        summary.reports = self.reports(now).await?;
        if summary.due > 0 || summary.reports > 0 {
            info!(?summary, finished, "closer run");
            pregon_aws::metrics::emit(
                &[("Function", "closer")],
                &[
                    (
                        "TicketsClosed",
                        (summary.no_reply + summary.idle) as f64,
                        Unit::Count,
                    ),
                    ("ReportsAsked", summary.reports as f64, Unit::Count),
                ],
            );
        }
        Ok(summary)
    }

    /// Closes one chunk of due items, publishes their events, then deletes the items.
    async fn close_chunk(
        &self,
        due: &[DueItem],
        now: &str,
        summary: &mut Summary,
    ) -> Result<(), AwsError> {
        if due.is_empty() {
            return Ok(());
        }
        summary.due += due.len();
        let outcomes: Vec<Result<Option<(CloseReason, Event)>, AwsError>> =
            stream::iter(due.iter())
                .map(|d| self.close(d, now))
                .buffer_unordered(16)
                .collect()
                .await;
        let mut published = Vec::new();
        let mut done = Vec::new();
        for (d, o) in due.iter().zip(outcomes) {
            match o {
                Ok(Some((reason, event))) => {
                    match reason {
                        CloseReason::NoReply => summary.no_reply += 1,
                        _ => summary.idle += 1,
                    }
                    published.push(event);
                    done.push(d.clone());
                }
                Ok(None) => {
                    summary.unchanged += 1;
                    done.push(d.clone());
                }
                Err(e) => {
                    // The due item stays; the next run tries again.
                    warn!(error = %e, "a due ticket was not closed");
                }
            }
        }
        self.events.publish(published).await;
        self.store.delete_due(&done).await
    }

    /// Asks for the report emails that are due; how many it asked for.
    async fn reports(&self, now: OffsetDateTime) -> Result<usize, AwsError> {
        let wanted = self.store.reports_wanted().await?;
        let mut asked = 0;
        for w in wanted {
            match self.report(&w.t, &w.campaign, now).await {
                Ok(true) => asked += 1,
                Ok(false) => {}
                Err(e) => warn!(campaign = %w.campaign, error = %e, "report email not asked"),
            }
        }
        Ok(asked)
    }

    async fn report(&self, t: &str, id: &str, now: OffsetDateTime) -> Result<bool, AwsError> {
        let c = self.store.campaign(t, id).await?;
        let open = match &c {
            Some(c) if c.settings.wait_for_reply_hours > 0 && c.report_email_state.is_none() => {
                open_tickets(c, &self.store.counters(t, id).await?)
            }
            _ => 0,
        };
        let now_s = format_time(now);
        match report_next(c.as_ref(), open, now) {
            ReportNext::Wait => Ok(false),
            ReportNext::Forget => {
                self.store.report_settled(t, id).await?;
                Ok(false)
            }
            ReportNext::GiveUp => {
                let st = c.and_then(|c| c.report_email_state).expect("pending");
                let failed = ReportEmailState {
                    status: ReportEmailStatus::Failed,
                    reason: Some(format!(
                        "no answer from the results function after {} requests",
                        st.attempts
                    )),
                    ..st.clone()
                };
                self.store
                    .settle_report(t, id, &st.request_id, &failed)
                    .await?;
                self.store.report_settled(t, id).await?;
                Ok(false)
            }
            ReportNext::Ask { previous, attempt } => {
                let next = ReportEmailState {
                    status: ReportEmailStatus::Pending,
                    request_id: pregon::model::new_id("rep"),
                    requested_at: now_s,
                    attempts: attempt,
                    sent_at: None,
                    reason: None,
                    attached: None,
                };
                if !self
                    .store
                    .claim_report(t, id, previous.as_deref(), &next)
                    .await?
                {
                    return Ok(false);
                }
                let body = pregon::queue::ResultsRequest {
                    tenant: t.to_string(),
                    campaign: id.to_string(),
                    format: "xlsx".into(),
                    request_id: next.request_id.clone(),
                    report: true,
                };
                // If this fails the claim stays pending and is asked again later.
                pregon_aws::sqs::send_json(&self.aws.sqs, "RESULTS_QUEUE_URL", &body).await?;
                Ok(true)
            }
        }
    }

    /// Closes one due ticket if its rule still holds, then forgets the due item.
    async fn close(
        &self,
        d: &DueItem,
        now: &str,
    ) -> Result<Option<(CloseReason, Event)>, AwsError> {
        let (reason, when) = match &d.activity {
            None => (CloseReason::NoReply, CloseIf::Unanswered { now }),
            Some(activity) => (CloseReason::Idle, CloseIf::Idle { activity }),
        };
        let mut closed = self
            .store
            .close_ticket(&d.t, &d.id, reason, now, when)
            .await?;
        if closed.is_none() {
            // Closed already: by a run that died before publishing and deleting (the
            // same reason, at or after this item's time, for this activity) — publish
            // it now; anything else (a reply, an agent) is not this item's close.
            closed = self.store.ticket(&d.t, &d.id).await?.filter(|t| {
                t.status == pregon::model::TicketStatus::Closed
                    && t.close_reason == Some(reason)
                    && t.closed_at
                        .as_deref()
                        .is_some_and(|c| c >= d.due_at.as_str())
                    && d.activity.as_ref().is_none_or(|a| *a == t.last_activity_at)
            });
        }
        Ok(closed.map(|t| {
            let e = pregon_aws::events::ticket_closed(
                &d.t,
                &t.id,
                t.campaign_id.as_deref(),
                reason.as_str(),
                now,
            );
            (reason, e)
        }))
    }
}
