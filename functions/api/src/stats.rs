//! Campaign KPIs (SPEC §6): `GET /v1/campaigns/{id}/stats` and `GET /v1/analytics`,
//! both from the counters kept as statuses change (one query per campaign, never a
//! scan of messages).

use crate::{invalid, not_found, reply, Api, Reply};
use pregon::model::kpi::{campaign_stats as stats_view, kpi_counts};
use pregon::model::{Campaign, CampaignStatus, FieldError, KpiCounts};
use pregon_aws::store::Filter;
use pregon_aws::Error as AwsError;
use serde_json::json;

impl Api {
    /// `GET /v1/campaigns/{id}/stats`.
    pub(crate) async fn campaign_stats(&self, tenant: &str, id: &str) -> Result<Reply, AwsError> {
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        let counters = self.store.counters(tenant, id).await?;
        Ok(reply(200, stats_view(&c, &counters)))
    }

    /// `GET /v1/analytics?account_id=&department=&campaign_id=&from=&to=`: the KPIs over
    /// the tenant's campaigns that match (created in `[from, to)`), and each campaign's.
    pub(crate) async fn analytics(
        &self,
        tenant: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let f = match Filters::read(query) {
            Ok(f) => f,
            Err(bad) => return Ok(invalid(bad)),
        };
        let (picked, capped) = self.analytics_campaigns(tenant, &f).await?;
        let mut total = KpiCounts::default();
        let mut rows = Vec::new();
        let (mut messages, mut phones) = (0i64, 0u64);
        // Up to 1,000 campaigns' counters: read 16 at a time (one query each), in order,
        // so the answer stays well inside API Gateway's 30 s.
        let sent: Vec<_> = picked
            .iter()
            .filter(|c| {
                !matches!(
                    c.status,
                    CampaignStatus::AwaitingFile
                        | CampaignStatus::Validating
                        | CampaignStatus::Invalid
                )
            })
            .collect();
        let mut all = Vec::with_capacity(sent.len());
        for chunk in sent.chunks(16) {
            let reads: Vec<_> = chunk
                .iter()
                .map(|c| self.store.counters(tenant, &c.id))
                .collect();
            all.extend(futures::future::try_join_all(reads).await?);
        }
        for (c, counters) in sent.into_iter().zip(all) {
            total += kpi_counts(&counters);
            messages += c.message_count() as i64;
            phones += c.counts.unique_phones;
            rows.push(stats_view(c, &counters));
        }
        let (inbound_total, by_account) = self.inbound_attended(tenant, &f).await?;
        let (from, to) = (f.from, f.to);
        Ok(reply(
            200,
            json!({
                "campaigns": rows.len(),
                "inbound": {"attended": inbound_total, "by_account": by_account},
                "capped": capped,
                "from": from.map(pregon::model::format_time),
                "to": to.map(pregon::model::format_time),
                "messages": messages,
                "unique_phones_summed": phones,
                "sent": total.sent,
                "refused": total.refused,
                "unknown": total.unknown,
                "delivered": total.delivered,
                "read": total.read,
                "replied": total.replied,
                "bounced": total.bounced,
                "attended": total.attended,
                "rates": total.rates(),
                "items": rows,
            }),
        ))
    }
}

/// The filters of `GET /v1/analytics`, read and checked.
struct Filters {
    account_id: Option<String>,
    department: Option<String>,
    campaign_id: Option<String>,
    from: Option<time::OffsetDateTime>,
    to: Option<time::OffsetDateTime>,
}

impl Filters {
    /// The query's filters; each unknown name or bad value named.
    fn read(query: &[(String, String)]) -> Result<Self, Vec<FieldError>> {
        let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let mut bad = Vec::new();
        let known = [
            "account_id",
            "department",
            "campaign_id",
            "from",
            "to",
            "period",
        ];
        for (k, _) in query {
            if !known.contains(&k.as_str()) {
                bad.push(FieldError {
                    field: k.clone(),
                    message: "is not a known filter".into(),
                });
            }
        }
        let time = |k: &str, bad: &mut Vec<FieldError>| match q(k) {
            None => None,
            Some(v) => match pregon::model::parse_time(&v) {
                Some(t) => Some(t),
                None => {
                    bad.push(FieldError {
                        field: k.into(),
                        message: "must be an RFC 3339 time (2026-12-01T00:00:00Z)".into(),
                    });
                    None
                }
            },
        };
        let (mut from, mut to) = (time("from", &mut bad), time("to", &mut bad));
        if let Some(p) = q("period") {
            if from.is_some() || to.is_some() {
                bad.push(FieldError {
                    field: "period".into(),
                    message: "give either period or from/to".into(),
                });
            }
            match period(&p, time::OffsetDateTime::now_utc()) {
                Some((f, t)) => (from, to) = (Some(f), Some(t)),
                None => bad.push(FieldError {
                    field: "period".into(),
                    message: "must be last_7_days, last_30_days or previous_month".into(),
                }),
            }
        }
        if !bad.is_empty() {
            return Err(bad);
        }
        Ok(Filters {
            account_id: q("account_id"),
            department: q("department"),
            campaign_id: q("campaign_id"),
            from,
            to,
        })
    }

    /// A campaign counts in a period by when it was sent (its creation when it never
    /// was).
    fn in_period(&self, c: &Campaign) -> bool {
        let when = c
            .sending_started_at
            .as_deref()
            .and_then(pregon::model::parse_time)
            .or_else(|| pregon::model::parse_time(&c.created_at));
        self.from.is_none_or(|f| when.is_some_and(|t| t >= f))
            && self.to.is_none_or(|t0| when.is_some_and(|t| t < t0))
    }
}

impl Api {
    /// The campaigns the filters pick, newest first, at most [`MAX_CAMPAIGNS`] (the
    /// tenant's whole history in one answer would be unbounded); whether more matched.
    async fn analytics_campaigns(
        &self,
        tenant: &str,
        f: &Filters,
    ) -> Result<(Vec<Campaign>, bool), AwsError> {
        let mut picked: Vec<Campaign> = Vec::new();
        if let Some(id) = &f.campaign_id {
            if let Some(c) = self.store.campaign(tenant, id).await? {
                let fits = c.kind.is_campaign()
                    && f.account_id
                        .as_ref()
                        .is_none_or(|a| &c.settings.account_id == a)
                    && f.department
                        .as_ref()
                        .is_none_or(|d| c.settings.department.as_ref() == Some(d))
                    && f.in_period(&c);
                if fits {
                    picked.push(c);
                }
            }
            return Ok((picked, false));
        }
        // Filtered as read (only campaigns supervisors made, of that account and
        // department), every page followed.
        let mut filters = vec![Filter::Absent("kind")];
        if let Some(a) = &f.account_id {
            filters.push(Filter::Eq("account_id", a.clone()));
        }
        if let Some(d) = &f.department {
            filters.push(Filter::Eq("department", d.clone()));
        }
        // A campaign starts sending after it is created, and ids begin with their
        // creation time: with an end to the period, the newest-first read starts at the
        // first id made at that end, never reading the campaigns created after it.
        let mut after = f.to.map(|to| {
            let ms = (to.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
            pregon::keys::campaign(tenant, &pregon::model::id_floor("cmp", ms)).1
        });
        loop {
            let (page, next) = self
                .store
                .list::<Campaign>(
                    pregon::keys::tenant_pk(tenant),
                    pregon::keys::CAMPAIGN_PREFIX,
                    true,
                    500,
                    after.take(),
                    &filters,
                )
                .await?;
            for c in page.into_iter().filter(|c| f.in_period(c)) {
                if picked.len() == MAX_CAMPAIGNS {
                    return Ok((picked, true));
                }
                picked.push(c);
            }
            match next {
                Some(n) => after = Some(n),
                None => return Ok((picked, false)),
            }
        }
    }

    /// Inbound tickets (a customer writing first, a reply to a single send) taken by a
    /// person after the customer wrote: by account, over the period's UTC days.
    async fn inbound_attended(
        &self,
        tenant: &str,
        f: &Filters,
    ) -> Result<(i64, serde_json::Map<String, serde_json::Value>), AwsError> {
        let accounts: Vec<String> = match &f.account_id {
            Some(a) => vec![a.clone()],
            None => {
                let (all, _) = self
                    .store
                    .list::<pregon::model::Account>(
                        pregon::keys::tenant_pk(tenant),
                        pregon::keys::ACCOUNT_PREFIX,
                        false,
                        500,
                        None,
                        &[],
                    )
                    .await?;
                all.into_iter().map(|a| a.id).collect()
            }
        };
        let days = period_days(f.from, f.to);
        // Every (account, bucket) counter: up to 400 days an account, so read 64 at a
        // time rather than one after another (many accounts × a long period stayed
        // inside API Gateway's 30 s only this way).
        let mut wanted: Vec<(&String, String)> = Vec::new();
        for acc in &accounts {
            match &days {
                None => wanted.push((acc, pregon::keys::inbound_buckets(acc, "")[0].clone())),
                Some(days) => wanted.extend(
                    days.iter()
                        .map(|d| (acc, pregon::keys::inbound_buckets(acc, d)[1].clone())),
                ),
            }
        }
        let mut per_account: std::collections::BTreeMap<&String, i64> = Default::default();
        for chunk in wanted.chunks(64) {
            let reads: Vec<_> = chunk
                .iter()
                .map(|(_, b)| self.store.counters(tenant, b))
                .collect();
            let got = futures::future::try_join_all(reads).await?;
            for ((acc, _), counters) in chunk.iter().zip(got) {
                *per_account.entry(acc).or_default() +=
                    counters.get("k_attended").copied().unwrap_or(0);
            }
        }
        let mut by_account = serde_json::Map::new();
        let mut total = 0i64;
        for (acc, n) in per_account {
            if n > 0 {
                by_account.insert(acc.clone(), json!({"attended": n}));
            }
            total += n;
        }
        Ok((total, by_account))
    }
}

/// At most this many matching campaigns in one analytics answer, newest first.
const MAX_CAMPAIGNS: usize = 1_000;

/// The UTC days (`YYYY-MM-DD`) a period touches, at most 400 (None: no period, all
/// time). An open end is today; an open start, 400 days before the end.
fn period_days(
    from: Option<time::OffsetDateTime>,
    to: Option<time::OffsetDateTime>,
) -> Option<Vec<String>> {
    if from.is_none() && to.is_none() {
        return None;
    }
    let end = to.unwrap_or_else(time::OffsetDateTime::now_utc);
    let start = from
        .unwrap_or(end - time::Duration::days(400))
        .max(end - time::Duration::days(400));
    let mut day = start.to_offset(time::UtcOffset::UTC).date();
    let last = (end - time::Duration::nanoseconds(1))
        .to_offset(time::UtcOffset::UTC)
        .date();
    let mut out = Vec::new();
    while day <= last {
        out.push(format!(
            "{:04}-{:02}-{:02}",
            day.year(),
            u8::from(day.month()),
            day.day()
        ));
        day = day.next_day()?;
    }
    Some(out)
}

/// A preset period, `[from, to)` in UTC: the last 7 or 30 days up to `now`, or the
/// previous calendar month.
fn period(
    p: &str,
    now: time::OffsetDateTime,
) -> Option<(time::OffsetDateTime, time::OffsetDateTime)> {
    match p {
        "last_7_days" => Some((now - time::Duration::days(7), now)),
        "last_30_days" => Some((now - time::Duration::days(30), now)),
        "previous_month" => {
            let this = now.replace_day(1).ok()?.replace_time(time::Time::MIDNIGHT);
            let last = this - time::Duration::days(1);
            Some((last.replace_day(1).ok()?, this))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_month_is_the_whole_calendar_month_before() {
        let now = time::macros::datetime!(2026-03-15 10:30 UTC);
        let (f, t) = period("previous_month", now).unwrap();
        assert_eq!(f, time::macros::datetime!(2026-02-01 0:00 UTC));
        assert_eq!(t, time::macros::datetime!(2026-03-01 0:00 UTC));
        let now = time::macros::datetime!(2026-01-02 0:00 UTC);
        let (f, t) = period("previous_month", now).unwrap();
        assert_eq!(f, time::macros::datetime!(2025-12-01 0:00 UTC));
        assert_eq!(t, time::macros::datetime!(2026-01-01 0:00 UTC));
        let (f, t) = period("last_7_days", now).unwrap();
        assert_eq!(t - f, time::Duration::days(7));
        assert!(period("yesterday", now).is_none());
    }
}
