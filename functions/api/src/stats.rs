//! Campaign KPIs (SPEC §6): `GET /v1/campaigns/{id}/stats` and `GET /v1/analytics`,
//! both from the counters kept as statuses change (one query per campaign, never a
//! scan of messages).

use crate::{invalid, not_found, reply, Api, Reply};
use pregon::model::kpi::{campaign_stats as stats_view, kpi_counts};
use pregon::model::{Campaign, CampaignStatus, FieldError, KpiCounts};
use pregon_aws::store::StoreError;
use serde_json::json;

impl Api {
    /// `GET /v1/campaigns/{id}/stats`.
    pub(crate) async fn campaign_stats(&self, tenant: &str, id: &str) -> Result<Reply, StoreError> {
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
    ) -> Result<Reply, StoreError> {
        let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let mut bad = Vec::new();
        let known = ["account_id", "department", "campaign_id", "from", "to"];
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
        let (from, to) = (time("from", &mut bad), time("to", &mut bad));
        if !bad.is_empty() {
            return Ok(invalid(bad));
        }
        // At most this many campaigns, newest first (the tenant's whole history in one
        // answer would be unbounded).
        const MAX: usize = 1_000;
        let mut picked: Vec<Campaign> = Vec::new();
        if let Some(id) = q("campaign_id") {
            if let Some(c) = self.store.campaign(tenant, &id).await? {
                picked.push(c);
            }
        } else {
            let mut after = None;
            loop {
                let (page, next) = self
                    .store
                    .list::<Campaign>(
                        pregon::keys::tenant_pk(tenant),
                        pregon::keys::CAMPAIGN_PREFIX,
                        true,
                        100,
                        after.take(),
                        &[],
                    )
                    .await?;
                picked.extend(page);
                match next {
                    Some(n) if picked.len() < MAX => after = Some(n),
                    _ => break,
                }
            }
        }
        picked.retain(|c| {
            !c.single
                && q("account_id").is_none_or(|a| c.settings.account_id == a)
                && q("department").is_none_or(|d| c.settings.department.as_deref() == Some(&d))
                && {
                    let created = pregon::model::parse_time(&c.created_at);
                    from.is_none_or(|f| created.is_some_and(|t| t >= f))
                        && to.is_none_or(|t0| created.is_some_and(|t| t < t0))
                }
        });
        picked.truncate(MAX);
        let mut total = KpiCounts::default();
        let mut rows = Vec::new();
        let (mut messages, mut phones) = (0i64, 0u64);
        for c in &picked {
            if matches!(
                c.status,
                CampaignStatus::AwaitingFile | CampaignStatus::Validating | CampaignStatus::Invalid
            ) {
                continue;
            }
            let counters = self.store.counters(tenant, &c.id).await?;
            total += kpi_counts(&counters);
            messages += pregon_aws::campaigns::total(c) as i64;
            phones += c.counts.unique_phones;
            rows.push(stats_view(c, &counters));
        }
        Ok(reply(
            200,
            json!({
                "campaigns": rows.len(),
                "messages": messages,
                "unique_phones_summed": phones,
                "sent": total.sent,
                "refused": total.refused,
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
