//! Campaign transitions the functions share (SPEC §5): the end of a campaign once every
//! message has an outcome, written once for the sender, dispatch and the controls.

use crate::store::{conditional, s, Store};
use crate::Error;
use aws_sdk_dynamodb::types::AttributeValue;
use pregon::model::CampaignStatus;

/// Ends a `sending` campaign when dispatch is done and every message has an outcome.
/// Returns the end state it reached, if it did.
pub async fn maybe_complete(
    store: &Store,
    tenant: &str,
    campaign: &str,
) -> Result<Option<CampaignStatus>, Error> {
    let Some(c) = store.campaign(tenant, campaign).await? else {
        return Ok(None);
    };
    if c.status != CampaignStatus::Sending || !c.dispatch.done {
        return Ok(None);
    }
    let p = store.progress(tenant, campaign).await?;
    if p.done() < c.message_count() as i64 {
        return Ok(None);
    }
    let end = CampaignStatus::end_of(p.sent, p.failed, p.blocked);
    let now = pregon::clock::now_rfc3339();
    let res = store
        .update_campaign(tenant, campaign)
        .update_expression("SET #st = :end, ended_at = :now, updated_at = :now")
        .condition_expression("#st = :sending")
        .expression_attribute_values(":end", s(end.as_str()))
        .expression_attribute_values(":sending", s("sending"))
        .expression_attribute_values(":now", s(now))
        .send()
        .await;
    Ok(conditional(res)?.then_some(end))
}

/// [`maybe_complete`] for a caller that knows the campaign's message count (it does not
/// change while sending): one read of the counters, and the campaign is read only once
/// they say every message has an outcome.
pub async fn maybe_complete_of(
    store: &Store,
    tenant: &str,
    campaign: &str,
    total: u64,
) -> Result<Option<CampaignStatus>, Error> {
    let p = store.progress(tenant, campaign).await?;
    if p.done() < total as i64 {
        return Ok(None);
    }
    maybe_complete(store, tenant, campaign).await
}

impl Store {
    /// Records how far dispatch got in one shard, while the campaign is still `sending`;
    /// `false` when it no longer is (paused or cancelled: dispatch stops).
    pub async fn checkpoint(
        &self,
        tenant: &str,
        campaign: &str,
        shard: u32,
        row: u64,
    ) -> Result<bool, Error> {
        let res = self
            .update_campaign(tenant, campaign)
            .update_expression("SET dispatch.#after.#shard = :row")
            .condition_expression("#st = :sending")
            .expression_attribute_names("#after", "after")
            .expression_attribute_names("#shard", shard.to_string())
            .expression_attribute_values(
                ":row",
                aws_sdk_dynamodb::types::AttributeValue::N(row.to_string()),
            )
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await;
        conditional(res)
    }

    /// Clears resume's sweep flag once every parked job is back on the queue.
    pub async fn sweep_done(&self, tenant: &str, campaign: &str) -> Result<bool, Error> {
        let res = self
            .update_campaign(tenant, campaign)
            .update_expression("SET dispatch.sweep = :f")
            .condition_expression("#st = :sending")
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await;
        conditional(res)
    }

    /// Marks dispatch finished: every recipient was enqueued or blocked.
    pub async fn dispatch_done(&self, tenant: &str, campaign: &str) -> Result<bool, Error> {
        let res = self
            .update_campaign(tenant, campaign)
            .update_expression("SET dispatch.done = :t")
            .condition_expression("#st = :sending")
            .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await;
        conditional(res)
    }
}

impl Store {
    /// Records the campaign's header image; with `upload_id`, only if that upload is
    /// still the one expected (a later grant supersedes it). `false` when it is not.
    pub async fn set_header_image(
        &self,
        tenant: &str,
        campaign: &str,
        f: &pregon::model::HeaderImageFile,
        upload_id: Option<&str>,
    ) -> Result<bool, Error> {
        let v = serde_dynamo::to_attribute_value(f).map_err(Error::shape)?;
        let mut req = self
            .update_campaign_item(tenant, campaign)
            .update_expression("SET header_image_file = :f")
            .expression_attribute_values(":f", v);
        req = match upload_id {
            Some(u) => req
                .condition_expression("header_image_file.upload_id = :u")
                .expression_attribute_values(":u", s(u)),
            None => req.condition_expression("attribute_exists(pk)"),
        };
        conditional(req.send().await)
    }

    /// Moves a campaign from `from` to `to` (a send control), if it is still in `from`.
    /// Entering `sending` records when sending started; `send_at` is kept for a schedule.
    pub async fn move_campaign(
        &self,
        tenant: &str,
        campaign: &str,
        from: CampaignStatus,
        to: CampaignStatus,
        now: &str,
        send_at: Option<&str>,
    ) -> Result<bool, Error> {
        let mut expr = "SET #st = :to, updated_at = :now".to_string();
        let mut req = self
            .update_campaign(tenant, campaign)
            .condition_expression("#st = :from")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":now", s(now));
        if to == CampaignStatus::Sending {
            expr.push_str(", sending_started_at = if_not_exists(sending_started_at, :now)");
        }
        if to == CampaignStatus::Cancelled {
            expr.push_str(", ended_at = :now");
        }
        if from == CampaignStatus::Paused && to == CampaignStatus::Sending {
            // Jobs senders parked during the pause go back on the queue (dispatch).
            expr.push_str(", dispatch.sweep = :t");
            req = req.expression_attribute_values(":t", AttributeValue::Bool(true));
        }
        if let Some(t) = send_at {
            expr.push_str(", send_at = :send_at");
            req = req.expression_attribute_values(":send_at", s(t));
        }
        let res = req.update_expression(expr).send().await;
        conditional(res)
    }

    /// Adds do-not-contact entries (tenant-wide, or for one campaign).
    pub async fn dnc_put(
        &self,
        tenant: &str,
        entries: &[(String, Option<String>)],
        now: &str,
        created_by: Option<&str>,
    ) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut requests = Vec::new();
        for (phone, campaign) in entries {
            let mut item = std::collections::HashMap::from([
                ("pk".to_string(), s(pregon::keys::dnc_pk(tenant))),
                (
                    "sk".to_string(),
                    s(pregon::keys::dnc_sk(phone, campaign.as_deref())),
                ),
                ("phone".to_string(), s(phone)),
                ("created_at".to_string(), s(now)),
            ]);
            if let Some(c) = campaign {
                item.insert("campaign_id".into(), s(c));
            }
            if let Some(by) = created_by {
                item.insert("created_by".into(), s(by));
            }
            requests.push(
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .map_err(crate::Error::dynamo)?,
                    )
                    .build(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        requests.retain(|r| {
            let k = r
                .put_request()
                .and_then(|p| p.item().get("sk"))
                .and_then(|v| v.as_s().ok())
                .cloned();
            seen.insert(k)
        });
        for chunk in requests.chunks(crate::store::BATCH_WRITE_ITEMS) {
            self.batch_write(chunk.to_vec()).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Removes a do-not-contact entry; `false` when there was none.
    pub async fn dnc_delete(
        &self,
        tenant: &str,
        phone: &str,
        campaign: Option<&str>,
    ) -> Result<bool, Error> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pregon::keys::dnc_pk(tenant)))
            .key("sk", s(pregon::keys::dnc_sk(phone, campaign)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        conditional(res)
    }
}
