//! The scheduled closer (SPEC §2 step 6, §5): every minute, closes the tickets whose
//! time has come — an unanswered campaign ticket at its deadline (`no_reply`), a
//! replied or inbound ticket after the tenant's `idle_close_hours` without activity
//! (`idle`). It reads only the "due" items of the last 48 hours' partitions whose time
//! is not after now (no scan, whatever the number of open tickets), re-checks each
//! rule on the ticket with a conditional write (a reply that raced it wins), and
//! deletes the due item.
//!
//! Its clock is the scheduled event's `time`, so a run can be played for any moment
//! (the local stack's `/_local/schedules/CloserFunction` takes one).

use futures::stream::{self, StreamExt};
use pregon::model::{format_time, CloseReason};
use pregon_aws::config::Aws;
use pregon_aws::store::{Store, StoreError};
use pregon_aws::tickets::{CloseIf, DueItem};
use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use tracing::{info, warn};

/// How far back it looks for due items (a closer stopped this long loses nothing
/// sooner than this).
const LOOK_BACK_HOURS: i64 = 48;

/// What a run did.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    pub now: String,
    pub due: usize,
    pub no_reply: usize,
    pub idle: usize,
    /// Due items whose ticket had moved on (replied, closed by an agent, active again).
    pub unchanged: usize,
}

pub struct Closer {
    store: Store,
}

impl Closer {
    pub fn new(aws: Aws) -> Self {
        Closer {
            store: Store::new(aws.dynamodb.clone(), aws.table.clone()),
        }
    }

    /// An EventBridge scheduled event: its `time` is the clock (now when absent).
    pub async fn handle(&self, event: &Value) -> Result<Summary, StoreError> {
        let now = event
            .get("time")
            .and_then(Value::as_str)
            .and_then(pregon::model::parse_time)
            .unwrap_or_else(OffsetDateTime::now_utc);
        self.run(now).await
    }

    pub async fn run(&self, now: OffsetDateTime) -> Result<Summary, StoreError> {
        let now_s = format_time(now);
        let hours: Vec<String> = (0..=LOOK_BACK_HOURS)
            .map(|h| format_time(now - Duration::hours(h))[..13].to_string())
            .collect();
        let mut due: Vec<DueItem> = Vec::new();
        let pages: Vec<Result<Vec<DueItem>, StoreError>> = stream::iter(hours.iter())
            .map(|h| self.store.due_items(h, &now_s))
            .buffer_unordered(8)
            .collect()
            .await;
        for p in pages {
            due.extend(p?);
        }
        let mut summary = Summary {
            now: now_s.clone(),
            due: due.len(),
            ..Default::default()
        };
        let outcomes: Vec<Result<Option<CloseReason>, StoreError>> = stream::iter(due.iter())
            .map(|d| self.close(d, &now_s))
            .buffer_unordered(16)
            .collect()
            .await;
        for o in outcomes {
            match o {
                Ok(Some(CloseReason::NoReply)) => summary.no_reply += 1,
                Ok(Some(CloseReason::Idle)) => summary.idle += 1,
                Ok(_) => summary.unchanged += 1,
                Err(e) => {
                    // The due item stays; the next run tries again.
                    warn!(error = %e, "a due ticket was not closed");
                }
            }
        }
        if summary.due > 0 {
            info!(?summary, "closer run");
        }
        Ok(summary)
    }

    /// Closes one due ticket if its rule still holds, then forgets the due item.
    async fn close(&self, d: &DueItem, now: &str) -> Result<Option<CloseReason>, StoreError> {
        let (reason, when) = match &d.activity {
            None => (CloseReason::NoReply, CloseIf::Unanswered { now }),
            Some(activity) => (CloseReason::Idle, CloseIf::Idle { activity }),
        };
        let closed = self
            .store
            .close_ticket(&d.t, &d.id, reason, now, when)
            .await?;
        self.store.delete_due(d).await?;
        Ok(closed.map(|_| reason))
    }
}
