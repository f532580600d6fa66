//! The DynamoDB store: items keyed as `pregon::keys` says, (de)serialised with
//! `serde_dynamo`. Every tenant-owned read takes the tenant id, so one tenant's
//! request can never address another's items.

use crate::Error;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use pregon::keys;
use pregon::model::{Campaign, CampaignStatus};
use pregon::validate::{Counts, Problem, Recipient, Summary};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit of items per `BatchWriteItem`.
pub const BATCH_WRITE_ITEMS: usize = 25;

/// DynamoDB's limit of keys per `BatchGetItem`.
pub const BATCH_GET_ITEMS: usize = 100;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A conditional write that returns an item (`ALL_NEW` / `ALL_OLD`): the item, or
/// `None` when its condition did not hold.
pub(crate) fn returned<T: DeserializeOwned, E, R>(
    res: Result<Option<Item>, SdkError<E, R>>,
) -> Result<Option<T>, Error>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match res {
        Ok(item) => item
            .map(serde_dynamo::from_item)
            .transpose()
            .map_err(Error::shape),
        Err(e) => {
            conditional::<(), _, _>(Err(e))?;
            Ok(None)
        }
    }
}

/// `#st IN (…)` over `allowed`, with its values (`:a0`, `:a1`…).
fn status_in(allowed: &[CampaignStatus]) -> (String, Item) {
    let values: Item = allowed
        .iter()
        .enumerate()
        .map(|(i, st)| (format!(":a{i}"), s(st.as_str())))
        .collect();
    let mut names: Vec<&String> = values.keys().collect();
    names.sort();
    let names: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
    (format!("#st IN ({})", names.join(", ")), values)
}

/// A conditional write's answer: applied, or its condition did not hold.
pub(crate) fn conditional<T, E, R>(res: Result<T, SdkError<E, R>>) -> Result<bool, Error>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match res {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e))
            if e.err().code() == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(Error::dynamo(e)),
    }
}

/// Any serialisable value as a DynamoDB attribute.
trait ToAttr {
    fn to_attr(&self) -> Result<AttributeValue, Error>;
}

impl<T: Serialize + ?Sized> ToAttr for T {
    fn to_attr(&self) -> Result<AttributeValue, Error> {
        serde_dynamo::to_attribute_value(self).map_err(Error::shape)
    }
}

/// A condition on the items a [`Store::list`] returns (applied after the page is read,
/// as DynamoDB filters are).
#[derive(Debug, Clone)]
pub enum Filter<'a> {
    /// The attribute equals this string.
    Eq(&'a str, String),
    /// The item has no such attribute.
    Absent(&'a str),
}

#[derive(Clone)]
pub struct Store {
    pub client: Client,
    pub table: String,
}

/// A recipient as stored: one message to send, `pending` until dispatch.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct RecipientItem {
    pub row: u64,
    pub phone: String,
    pub params: Vec<String>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub metadata: HashMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    pub status: String,
    /// Sending (SPEC §5): what the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// A sender's claim (unix ms until which it holds the message); see `messages.rs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_until: Option<i64>,
    /// Provider callbacks (SPEC §5): when it was delivered and read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replied_at: Option<String>,
    /// When a write last changed what this message counts as (see `messages::counted_now`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_at: Option<i64>,
    /// Set while a paused campaign's job for this message is out of the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked: Option<String>,
    /// The provider's id of a status that named this message while a sender still held
    /// it unrecorded (the status is kept under it): proof the provider took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_id: Option<String>,
    /// Set when a message whose answer was lost and never reported was sent once more
    /// (the campaign's `resend_unreported`): it is never sent a third time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resent: Option<bool>,
    /// SMS (SPEC §9): the message's encoding (`gsm7`, `ucs2`) and segments, when its
    /// text was known at validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_segments: Option<u32>,
    /// When (unix seconds) DynamoDB's TTL removes it: the campaign's retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl From<&Recipient> for RecipientItem {
    fn from(r: &Recipient) -> Self {
        RecipientItem {
            row: r.row,
            phone: r.phone.e164(),
            params: r.params.clone(),
            metadata: r
                .metadata
                .iter()
                .filter_map(|(k, v)| {
                    v.as_ref()
                        .map(|v| (k.clone(), serde_json::to_value(v).expect("json")))
                })
                .collect(),
            message: r.message.clone(),
            priority: r.priority,
            status: "pending".into(),
            provider_message_id: None,
            error_code: None,
            error_message: None,
            sent_at: None,
            updated_at: None,
            claim_until: None,
            delivered_at: None,
            read_at: None,
            replied_at: None,
            counted_at: None,
            parked: None,
            reported_id: None,
            resent: None,
            sms_encoding: r.sms.as_ref().map(|s| s.encoding.as_str().to_string()),
            sms_segments: r.sms.as_ref().map(|s| s.segments as u32),
            expires_at: None,
        }
    }
}

/// Why a campaign could not be claimed for validation.
#[derive(Debug, PartialEq)]
pub enum Claim {
    /// Ours now, in `validating`; recipients go to `gen`.
    Claimed {
        campaign: Box<Campaign>,
        gen: u32,
    },
    NotFound,
    /// The campaign expects another (newer) upload: this one is ignored.
    Superseded,
    /// This upload (same entity tag) was already validated.
    AlreadyDone,
    /// Another invocation holds a live claim on it.
    Busy,
    /// Sending has started (or it ended): uploads are refused.
    Refused(CampaignStatus),
}

impl Claim {
    /// Why a claim on upload (`upload_id`, `etag`) did not hold, from the campaign as it is.
    pub fn judge(c: &Campaign, upload_id: &str, etag: &str) -> Claim {
        if c.upload_id.as_deref() != Some(upload_id) {
            return Claim::Superseded;
        }
        match c.status {
            CampaignStatus::Validating => Claim::Busy,
            st if st.accepts_upload() && c.upload_etag.as_deref() == Some(etag) => {
                Claim::AlreadyDone
            }
            // The claim failed although the state accepts it: another run won the race.
            st if st.accepts_upload() => Claim::Busy,
            st => Claim::Refused(st),
        }
    }
}

impl Store {
    pub fn new(client: Client, table: String) -> Self {
        Store { client, table }
    }

    /// An `UpdateItem` of the item at `(pk, sk)` of this table, to complete.
    pub(crate) fn update_at(
        &self,
        (pk, sk): (String, String),
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
    }

    /// A `GetItem` of the item at `(pk, sk)` of this table, to complete.
    pub(crate) fn get_at(
        &self,
        (pk, sk): (String, String),
    ) -> aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
    }

    /// A `DeleteItem` of the item at `(pk, sk)` of this table, to complete.
    pub(crate) fn delete_at(
        &self,
        (pk, sk): (String, String),
    ) -> aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
    }

    /// A `PutItem` of an item at `(pk, sk)` of this table, its other attributes to add.
    pub(crate) fn put_at(
        &self,
        (pk, sk): (String, String),
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("sk", s(sk))
    }

    pub(crate) fn keyed<T: Serialize>(
        &self,
        (pk, sk): (String, String),
        value: &T,
    ) -> Result<Item, Error> {
        let mut item: Item = serde_dynamo::to_item(value).map_err(Error::shape)?;
        item.insert("pk".into(), s(pk));
        item.insert("sk".into(), s(sk));
        Ok(item)
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        (pk, sk): (String, String),
    ) -> Result<Option<T>, Error> {
        let out = self
            .get_at((pk, sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(Error::dynamo)?;
        match out.item {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(Error::shape),
        }
    }

    /// Writes an item, replacing the one with the same key.
    pub async fn put<T: Serialize>(&self, key: (String, String), value: &T) -> Result<(), Error> {
        let item = self.keyed(key, value)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(())
    }

    /// Deletes the item at `key` (nothing to delete is no error).
    pub async fn delete(&self, key: (String, String)) -> Result<(), Error> {
        self.delete_at(key).send().await.map_err(Error::dynamo)?;
        Ok(())
    }

    /// Writes a new item; fails if one with the same key exists.
    pub async fn create<T: Serialize>(
        &self,
        key: (String, String),
        value: &T,
    ) -> Result<(), Error> {
        let item = self.keyed(key, value)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(())
    }

    /// A page of a tenant's items of one kind, by sort-key prefix. `after` is the last
    /// sort key of the previous page.
    pub async fn list<T: DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        newest_first: bool,
        limit: i32,
        after: Option<String>,
        filters: &[Filter<'_>],
    ) -> Result<(Vec<T>, Option<String>), Error> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk.clone()))
            .scan_index_forward(!newest_first)
            .limit(limit);
        q = if prefix.is_empty() {
            q.key_condition_expression("pk = :pk")
        } else {
            q.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
        };
        if let Some(sk) = after {
            q = q
                .exclusive_start_key("pk", s(pk))
                .exclusive_start_key("sk", s(sk));
        }
        if !filters.is_empty() {
            let mut expr = Vec::new();
            for (i, f) in filters.iter().enumerate() {
                match f {
                    Filter::Eq(name, value) => {
                        q = q
                            .expression_attribute_names(format!("#f{i}"), *name)
                            .expression_attribute_values(format!(":f{i}"), s(value.clone()));
                        expr.push(format!("#f{i} = :f{i}"));
                    }
                    Filter::Absent(name) => {
                        q = q.expression_attribute_names(format!("#f{i}"), *name);
                        expr.push(format!("attribute_not_exists(#f{i})"));
                    }
                }
            }
            q = q.filter_expression(expr.join(" AND "));
        }
        let out = q.send().await.map_err(Error::dynamo)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| serde_dynamo::from_item(i).map_err(Error::shape))
            .collect::<Result<Vec<T>, _>>()?;
        let next = out
            .last_evaluated_key
            .and_then(|k| k.get("sk").and_then(|v| v.as_s().ok()).cloned());
        Ok((items, next))
    }

    pub async fn put_campaign(&self, c: &Campaign) -> Result<(), Error> {
        self.create(keys::campaign(&c.tenant_id, &c.id), c).await
    }

    /// A conditional update of one campaign item; `#st` names its `status`.
    pub(crate) fn update_campaign(
        &self,
        tenant: &str,
        id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.update_campaign_item(tenant, id)
            .expression_attribute_names("#st", "status")
    }

    /// An update of one campaign item that does not look at its status.
    pub fn update_campaign_item(
        &self,
        tenant: &str,
        id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let (pk, sk) = keys::campaign(tenant, id);
        self.update_at((pk, sk))
    }

    pub async fn campaign(&self, tenant: &str, id: &str) -> Result<Option<Campaign>, Error> {
        self.get(keys::campaign(tenant, id)).await
    }

    /// Renames a campaign if it is in one of `allowed`; `None` otherwise (or gone).
    pub async fn rename_campaign(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        allowed: &[CampaignStatus],
    ) -> Result<Option<Campaign>, Error> {
        let (cond, values) = status_in(allowed);
        let res = self
            .update_campaign(tenant, id)
            .set_expression_attribute_values(Some(values))
            .update_expression("SET #name = :name, updated_at = :now")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name))
            .expression_attribute_values(":now", s(pregon::clock::now_rfc3339()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .condition_expression(format!("attribute_exists(pk) AND {cond}"))
            .send()
            .await;
        returned(res.map(|o| o.attributes))
    }

    /// Deletes a campaign item if it is in one of `allowed`; the deleted campaign, or
    /// `None` (its recipients are the caller's to remove).
    pub async fn delete_campaign(
        &self,
        tenant: &str,
        id: &str,
        allowed: &[CampaignStatus],
    ) -> Result<Option<Campaign>, Error> {
        let (pk, sk) = keys::campaign(tenant, id);
        let (cond, values) = status_in(allowed);
        let res = self
            .delete_at((pk, sk))
            .expression_attribute_names("#st", "status")
            .set_expression_attribute_values(Some(values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .condition_expression(format!("attribute_exists(pk) AND {cond}"))
            .send()
            .await;
        returned(res.map(|o| o.attributes))
    }

    /// Records that the campaign now expects upload `upload_id` (its URL is being
    /// granted). Allowed before sending, or while a validation whose lease has expired
    /// holds the campaign; `false` when the campaign is in no such state.
    pub async fn expect_upload(
        &self,
        tenant: &str,
        id: &str,
        upload_id: &str,
        now: i64,
    ) -> Result<bool, Error> {
        let res = self
            .update_campaign(tenant, id)
            .update_expression("SET upload_id = :uid, updated_at = :now_s")
            .condition_expression(
                "attribute_exists(pk) AND (#st IN (:awaiting, :loaded, :invalid) OR (#st = :validating AND (attribute_not_exists(lease_until) OR lease_until < :now)))",
            )
            .expression_attribute_values(":uid", s(upload_id))
            .expression_attribute_values(":validating", s("validating"))
            .expression_attribute_values(":awaiting", s("awaiting_file"))
            .expression_attribute_values(":loaded", s("loaded"))
            .expression_attribute_values(":invalid", s("invalid"))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":now_s", s(pregon::clock::now_rfc3339()))
            .send()
            .await;
        conditional(res)
    }

    /// Moves the campaign to `validating` for this upload, unless the campaign expects
    /// another upload, this one was already validated, another invocation holds a live
    /// claim, or sending has started.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_validation(
        &self,
        tenant: &str,
        id: &str,
        upload_id: &str,
        etag: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<Claim, Error> {
        let res = self
            .update_campaign(tenant, id)
            .update_expression("SET #st = :validating, upload_etag = :etag, lease_until = :lease, updated_at = :now_s")
            .condition_expression(
                "attribute_exists(pk) AND upload_id = :uid AND ((#st IN (:awaiting, :loaded, :invalid) AND (#st = :awaiting OR attribute_not_exists(upload_etag) OR upload_etag <> :etag)) OR (#st = :validating AND lease_until < :now))",
            )
            .expression_attribute_values(":validating", s("validating"))
            .expression_attribute_values(":awaiting", s("awaiting_file"))
            .expression_attribute_values(":loaded", s("loaded"))
            .expression_attribute_values(":invalid", s("invalid"))
            .expression_attribute_values(":uid", s(upload_id))
            .expression_attribute_values(":etag", s(etag))
            .expression_attribute_values(":lease", AttributeValue::N((now + lease_secs).to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":now_s", s(pregon::clock::now_rfc3339()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => {
                let c: Campaign = serde_dynamo::from_item(out.attributes.unwrap_or_default())
                    .map_err(Error::shape)?;
                let gen = c.recipient_gen + 1;
                Ok(Claim::Claimed {
                    campaign: Box::new(c),
                    gen,
                })
            }
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let Some(c) = self.campaign(tenant, id).await? else {
                    return Ok(Claim::NotFound);
                };
                Ok(Claim::judge(&c, upload_id, etag))
            }
            Err(e) => Err(Error::dynamo(e)),
        }
    }

    /// Extends a live claim: a long validation keeps its lease while it runs, and a run
    /// that died loses it within one lease.
    pub async fn renew_claim(
        &self,
        tenant: &str,
        id: &str,
        upload_id: &str,
        etag: &str,
        until: i64,
    ) -> Result<bool, Error> {
        let res = self
            .update_campaign(tenant, id)
            .update_expression("SET lease_until = :lease")
            .condition_expression("#st = :validating AND upload_id = :uid AND upload_etag = :etag")
            .expression_attribute_values(":lease", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":validating", s("validating"))
            .expression_attribute_values(":uid", s(upload_id))
            .expression_attribute_values(":etag", s(etag))
            .send()
            .await;
        conditional(res)
    }

    /// Gives up a claim after a failure, so the retry can take over at once instead of
    /// waiting out the lease.
    pub async fn release_claim(
        &self,
        tenant: &str,
        id: &str,
        upload_id: &str,
        etag: &str,
    ) -> Result<(), Error> {
        self.renew_claim(tenant, id, upload_id, etag, 0)
            .await
            .map(|_| ())
    }

    /// Ends a validation: the new recipient generation becomes current. Only the claim
    /// holder (same upload and entity tag, still `validating`) can do it.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_validation(
        &self,
        tenant: &str,
        id: &str,
        upload_id: &str,
        etag: &str,
        gen: u32,
        status: CampaignStatus,
        summary: &Summary,
        problems: &[Problem],
        report_key: &str,
    ) -> Result<bool, Error> {
        let now = pregon::clock::now_rfc3339();
        // SMS segments (when counted) replace the previous upload's; otherwise they go.
        let (set_sms, remove_sms) = match &summary.sms {
            Some(_) => (", #sms = :sms", ""),
            None => ("", ", #sms"),
        };
        let mut update = self
            .update_campaign(tenant, id)
            .update_expression(format!(
                "SET #st = :status, counts = :counts, problems = :problems, problems_omitted = :omitted, #fmt = :format, report_key = :report, recipient_gen = :gen, validated_at = :now, updated_at = :now{set_sms} REMOVE lease_until{remove_sms}",
            ))
            .condition_expression("#st = :validating AND upload_id = :uid AND upload_etag = :etag")
            .expression_attribute_names("#fmt", "format")
            .expression_attribute_names("#sms", "sms")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":counts", summary.counts.to_attr()?)
            .expression_attribute_values(":problems", problems.to_attr()?)
            .expression_attribute_values(":omitted", summary.problems_omitted.to_attr()?)
            .expression_attribute_values(
                ":format",
                summary.format.map(|f| s(f.as_str())).unwrap_or(AttributeValue::Null(true)),
            )
            .expression_attribute_values(":report", s(report_key))
            .expression_attribute_values(":gen", AttributeValue::N(gen.to_string()))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":validating", s("validating"))
            .expression_attribute_values(":uid", s(upload_id))
            .expression_attribute_values(":etag", s(etag));
        if let Some(sms) = &summary.sms {
            update = update.expression_attribute_values(":sms", sms.to_attr()?);
        }
        let res = update.send().await;
        conditional(res)
    }

    /// A validation that could not finish (every try crashed, timed out or failed): the
    /// campaign becomes `invalid` with one file-level `internal_error`, so the tenant can
    /// upload again. Only while that upload is still the one being validated.
    pub async fn fail_validation(
        &self,
        tenant: &str,
        id: &str,
        upload_id: &str,
        problem: &Problem,
    ) -> Result<bool, Error> {
        let now = pregon::clock::now_rfc3339();
        let res = self
            .update_campaign(tenant, id)
            .update_expression(
                "SET #st = :invalid, counts = :counts, problems = :problems, validated_at = :now, updated_at = :now REMOVE lease_until, report_key, problems_omitted, #fmt, #sms",
            )
            .condition_expression("#st = :validating AND upload_id = :uid")
            .expression_attribute_names("#fmt", "format")
            .expression_attribute_names("#sms", "sms")
            .expression_attribute_values(":invalid", s("invalid"))
            .expression_attribute_values(":counts", Counts { errors: 1, ..Default::default() }.to_attr()?)
            .expression_attribute_values(":problems", [problem].to_attr()?)
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":validating", s("validating"))
            .expression_attribute_values(":uid", s(upload_id))
            .send()
            .await;
        conditional(res)
    }

    /// Records that every recipient generation below `gen` is deleted.
    pub async fn mark_cleaned(&self, tenant: &str, id: &str, gen: u32) -> Result<(), Error> {
        let res = self
            .update_campaign_item(tenant, id)
            .update_expression("SET clean_below = :gen")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(clean_below) OR clean_below < :gen)")
            .expression_attribute_values(":gen", AttributeValue::N(gen.to_string()))
            .send()
            .await;
        conditional(res).map(|_| ())
    }

    /// Writes up to 25 items (or deletes keys) in one batch, retrying what DynamoDB
    /// leaves unprocessed with a growing pause.
    pub async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<(), Error> {
        let mut pause = std::time::Duration::from_millis(20);
        for _ in 0..12 {
            if requests.is_empty() {
                return Ok(());
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(Error::dynamo)?;
            requests = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if !requests.is_empty() {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
        }
        Err(Error::Dynamo(
            "batch write still throttled after 12 tries".into(),
        ))
    }

    /// The put of one recipient of a campaign's generation `gen`, removed by TTL at
    /// `expires_at` (unix seconds: the campaign's retention).
    pub fn recipient_put(
        &self,
        tenant: &str,
        campaign: &str,
        gen: u32,
        r: &Recipient,
        expires_at: i64,
    ) -> Result<WriteRequest, Error> {
        let item = RecipientItem {
            expires_at: Some(expires_at),
            ..RecipientItem::from(r)
        };
        self.put_request(keys::recipient(tenant, campaign, gen, r.row), &item)
    }

    /// One item to put in a [`Store::batch_write`].
    pub fn put_request<T: Serialize>(
        &self,
        key: (String, String),
        value: &T,
    ) -> Result<WriteRequest, Error> {
        let item = self.keyed(key, value)?;
        Ok(WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(Error::dynamo)?,
            )
            .build())
    }

    /// Deletes every recipient of one generation (all shards). Returns how many.
    pub async fn delete_generation(
        &self,
        tenant: &str,
        campaign: &str,
        gen: u32,
    ) -> Result<u64, Error> {
        let mut deleted = 0;
        for shard in 0..keys::RECIPIENT_SHARDS {
            let pk = keys::recipient_pk(tenant, campaign, gen, shard);
            let mut start: Option<Item> = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", s(pk.clone()))
                    .projection_expression("pk, sk")
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(Error::dynamo)?;
                let keys: Vec<Item> = out.items.unwrap_or_default();
                for chunk in keys.chunks(BATCH_WRITE_ITEMS) {
                    let reqs = chunk
                        .iter()
                        .map(|k| {
                            DeleteRequest::builder()
                                .set_key(Some(k.clone()))
                                .build()
                                .map(|d| WriteRequest::builder().delete_request(d).build())
                                .map_err(Error::dynamo)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    deleted += reqs.len() as u64;
                    self.batch_write(reqs).await?;
                }
                match out.last_evaluated_key {
                    Some(k) if !k.is_empty() => start = Some(k),
                    _ => break,
                }
            }
        }
        Ok(deleted)
    }

    /// Every recipient of the campaign's current generation, in row order (small campaigns and tests).
    pub async fn recipients(
        &self,
        tenant: &str,
        campaign: &str,
        gen: u32,
    ) -> Result<Vec<RecipientItem>, Error> {
        let mut all = Vec::new();
        for shard in 0..keys::RECIPIENT_SHARDS {
            let pk = keys::recipient_pk(tenant, campaign, gen, shard);
            let mut after = None;
            loop {
                let (items, next) = self
                    .list::<RecipientItem>(pk.clone(), "", false, 1000, after, &[])
                    .await?;
                all.extend(items);
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
        }
        all.sort_by_key(|r| r.row);
        Ok(all)
    }
}
