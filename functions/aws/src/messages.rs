//! Messages in the store (SPEC §5, §10): the claims that make a send happen once, the
//! recorded outcomes, the campaign's progress counters, and the rate shared by every
//! sender instance. Claims and outcomes go 25 to a request as PartiQL statements whose
//! conditions DynamoDB judges one by one (ARCHITECTURE.md).

use crate::store::{conditional, n, s, Store};
use crate::Error;
use aws_sdk_dynamodb::types::{AttributeValue, BatchStatementRequest, ReturnValue};
use pregon::keys;
use pregon::model::Progress;
use pregon::sending::{MessageStatus, RateSlot, SendJob};
use std::collections::HashMap;

/// How long a provider id keeps finding its message (callbacks, replies, a late reply
/// to a campaign).
pub const INDEX_DAYS: i64 = 30;

/// DynamoDB's limit of statements per `BatchExecuteStatement`.
pub const STATEMENTS_PER_BATCH: usize = 25;

/// A recorded outcome of one claimed message.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent { provider_message_id: String },
    Failed { code: String, message: String },
}

/// What a claim attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimResult {
    /// Ours: call the provider.
    Claimed,
    /// Not claimable now (already claimed, sent, blocked, skipped…): look at the record.
    Taken,
}

/// When a write changed what a message counts as in its campaign's progress (unix
/// seconds, `counted_at`): dispatch's watch corrects the counters only from messages
/// that have been quiet longer than any live writer takes to add its count.
pub fn counted_now() -> i64 {
    pregon::clock::unix_now()
}

/// Which message without an outcome a failing write may end.
enum Unsettled {
    /// One whose claim expired before this time (unix ms).
    ClaimExpired(i64),
    /// One nobody holds: no claim, not parked.
    Unheld,
}

/// The value of a parked message's `parked` attribute.
pub const PARKED: &str = "yes";

/// What parking a message found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Park {
    Parked,
    /// The campaign is no longer paused: send the job.
    NotPaused,
    /// The message is not waiting (claimed, sent, already parked…): nothing to do.
    NotPending,
}

/// One campaign shard's counter deltas (see [`Store::add_counters_once`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterAdd {
    pub tenant: String,
    pub campaign: String,
    pub shard: u32,
    pub deltas: Vec<(&'static str, i64)>,
}

fn counter_sk(shard: u32) -> String {
    format!("{:02}", shard % COUNTER_SHARDS)
}

/// `ADD` of the non-zero deltas: the expression, its names and values (`None` when
/// every delta is zero).
#[allow(clippy::type_complexity)]
fn counter_adds(
    deltas: &[(&str, i64)],
) -> Option<(
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
)> {
    let (mut parts, mut names, mut values) = (Vec::new(), HashMap::new(), HashMap::new());
    for (i, (name, v)) in deltas.iter().enumerate() {
        if *v != 0 {
            parts.push(format!("#c{i} :c{i}"));
            names.insert(format!("#c{i}"), name.to_string());
            values.insert(format!(":c{i}"), n(*v));
        }
    }
    (!parts.is_empty()).then(|| (format!("ADD {}", parts.join(", ")), names, values))
}

/// Counter shards per campaign: at 1,000 messages a second each shard takes ~60 writes a
/// second, far from one partition's limit.
pub const COUNTER_SHARDS: u32 = 16;

impl Store {
    /// Runs PartiQL statements 25 to a request; the result of each, in order: `true`
    /// when it applied, `false` when its condition did not hold.
    pub async fn execute_batch(
        &self,
        statements: Vec<BatchStatementRequest>,
    ) -> Result<Vec<bool>, Error> {
        let mut applied = Vec::with_capacity(statements.len());
        for chunk in statements.chunks(STATEMENTS_PER_BATCH) {
            let out = self
                .client
                .batch_execute_statement()
                .set_statements(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(Error::dynamo)?;
            for r in out.responses.unwrap_or_default() {
                match r.error {
                    None => applied.push(true),
                    // A condition that did not hold, or an INSERT of an item that exists.
                    Some(e)
                        if matches!(
                            e.code.as_ref().map(|c| c.as_str()),
                            Some("ConditionalCheckFailed") | Some("DuplicateItem")
                        ) =>
                    {
                        applied.push(false)
                    }
                    Some(e) => {
                        return Err(Error::Dynamo(format!(
                            "statement failed: {:?} {:?}",
                            e.code, e.message
                        )))
                    }
                }
            }
        }
        Ok(applied)
    }

    pub(crate) fn statement(
        &self,
        sql: String,
        params: Vec<AttributeValue>,
    ) -> BatchStatementRequest {
        BatchStatementRequest::builder()
            .statement(sql)
            .set_parameters(Some(params))
            .build()
            .expect("statement is set")
    }

    fn message_key(job: &SendJob) -> (String, String) {
        keys::recipient(&job.tenant, &job.campaign, job.gen, job.row)
    }

    /// Claims each job's message until `until_ms` (unix ms; also the claim's token):
    /// only a `pending` or `queued` message that nobody holds.
    pub async fn claim_messages(
        &self,
        jobs: &[&SendJob],
        until_ms: i64,
    ) -> Result<Vec<ClaimResult>, Error> {
        let sql = format!(
            "UPDATE \"{}\" SET claim_until = ? WHERE pk = ? AND sk = ? AND \"status\" IN ['pending', 'queued'] AND claim_until IS MISSING",
            self.table
        );
        let statements = jobs
            .iter()
            .map(|j| {
                let (pk, sk) = Self::message_key(j);
                self.statement(sql.clone(), vec![n(until_ms), s(pk), s(sk)])
            })
            .collect();
        Ok(self
            .execute_batch(statements)
            .await?
            .into_iter()
            .map(|ok| {
                if ok {
                    ClaimResult::Claimed
                } else {
                    ClaimResult::Taken
                }
            })
            .collect())
    }

    /// Parks a job's message while its campaign is paused: the job leaves the queue and
    /// the message stays `pending` with `parked` set, for resume to enqueue again. One
    /// transaction: the park holds only if the campaign is still `paused` (a resume that
    /// committed first makes it [`Park::NotPaused`], and the job is sent).
    pub async fn park_message(&self, job: &SendJob) -> Result<Park, Error> {
        use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem, Update};
        let (cpk, csk) = keys::campaign(&job.tenant, &job.campaign);
        let (pk, sk) = Self::message_key(job);
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(cpk))
            .key("sk", s(csk))
            .condition_expression("#st = :paused")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":paused", s("paused"))
            .build()
            .map_err(Error::dynamo)?;
        let park = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET parked = :yes, counted_at = :at")
            .condition_expression(
                "#st IN (:pending, :queued) AND attribute_not_exists(claim_until) AND attribute_not_exists(parked)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":yes", s(PARKED))
            .expression_attribute_values(":at", n(counted_now()))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":queued", s("queued"))
            .build()
            .map_err(Error::dynamo)?;
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().update(park).build())
            .send()
            .await;
        match res {
            Ok(_) => Ok(Park::Parked),
            Err(e) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let reasons = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(tc)) => {
                        Some(tc.cancellation_reasons().to_vec())
                    }
                    _ => None,
                };
                match reasons {
                    Some(r)
                        if r.first().and_then(|x| x.code()) == Some("ConditionalCheckFailed") =>
                    {
                        Ok(Park::NotPaused)
                    }
                    Some(r)
                        if r.get(1).and_then(|x| x.code()) == Some("ConditionalCheckFailed") =>
                    {
                        Ok(Park::NotPending)
                    }
                    _ => Err(Error::dynamo(e)),
                }
            }
        }
    }

    /// Takes the park off messages that resume has enqueued again; `true` for each that
    /// was parked.
    pub async fn unpark_messages(
        &self,
        tenant: &str,
        campaign: &str,
        gen: u32,
        rows: &[u64],
    ) -> Result<Vec<bool>, Error> {
        let sql = format!(
            "UPDATE \"{}\" SET counted_at = ? REMOVE parked WHERE pk = ? AND sk = ? AND parked = ?",
            self.table
        );
        let statements = rows
            .iter()
            .map(|row| {
                let (pk, sk) = keys::recipient(tenant, campaign, gen, *row);
                self.statement(sql.clone(), vec![n(counted_now()), s(pk), s(sk), s(PARKED)])
            })
            .collect();
        self.execute_batch(statements).await
    }

    /// Records the outcomes of messages this sender claimed (token `claim`).
    pub async fn record_outcomes(
        &self,
        done: &[(&SendJob, Outcome)],
        claim: i64,
        now: &str,
    ) -> Result<Vec<bool>, Error> {
        let sent = format!(
            "UPDATE \"{}\" SET \"status\" = 'sent' SET provider_message_id = ? SET sent_at = ? SET updated_at = ? SET counted_at = ? REMOVE claim_until WHERE pk = ? AND sk = ? AND claim_until = ?",
            self.table
        );
        let failed = format!(
            "UPDATE \"{}\" SET \"status\" = 'failed' SET error_code = ? SET error_message = ? SET updated_at = ? SET counted_at = ? REMOVE claim_until WHERE pk = ? AND sk = ? AND claim_until = ?",
            self.table
        );
        let index = format!(
            "INSERT INTO \"{}\" VALUE {{'pk': ?, 'sk': ?, 'm': ?, 'expires_at': ?}}",
            self.table
        );
        let counted = counted_now();
        let keep_until = pregon::clock::unix_now() + INDEX_DAYS * 86_400;
        let mut statements: Vec<BatchStatementRequest> = done
            .iter()
            .map(|(j, o)| {
                let (pk, sk) = Self::message_key(j);
                match o {
                    Outcome::Sent {
                        provider_message_id,
                    } => self.statement(
                        sent.clone(),
                        vec![
                            s(provider_message_id),
                            s(now),
                            s(now),
                            n(counted),
                            s(pk),
                            s(sk),
                            n(claim),
                        ],
                    ),
                    Outcome::Failed { code, message } => self.statement(
                        failed.clone(),
                        vec![
                            s(code),
                            s(message),
                            s(now),
                            n(counted),
                            s(pk),
                            s(sk),
                            n(claim),
                        ],
                    ),
                }
            })
            .collect();
        // In the same requests: the provider's id → our message, for callbacks and
        // replies (10 records and their 10 index items fit one request of 25).
        for (j, o) in done {
            if let Outcome::Sent {
                provider_message_id,
            } = o
            {
                let (pk, sk) = keys::provider_message(&j.account, provider_message_id);
                statements.push(self.statement(
                    index.clone(),
                    vec![s(pk), s(sk), s(j.message_id()), n(keep_until)],
                ));
            }
        }
        let mut applied = self.execute_batch(statements).await?;
        applied.truncate(done.len());
        Ok(applied)
    }

    /// Gives back claims on messages the provider certainly did not take (a 429, a 5xx,
    /// a refused connection), so the job's retry can send them.
    pub async fn release_claims(&self, jobs: &[&SendJob], claim: i64) -> Result<(), Error> {
        let sql = format!(
            "UPDATE \"{}\" REMOVE claim_until WHERE pk = ? AND sk = ? AND claim_until = ?",
            self.table
        );
        let statements = jobs
            .iter()
            .map(|j| {
                let (pk, sk) = Self::message_key(j);
                self.statement(sql.clone(), vec![s(pk), s(sk), n(claim)])
            })
            .collect();
        self.execute_batch(statements).await.map(|_| ())
    }

    /// A message whose claim expired without an outcome (its sender died after calling
    /// the provider, or before): it is never re-sent on a guess; it ends `failed` with
    /// `code` (`outcome_unknown`, `not_sent`: [`pregon::sending::LostAnswer`]), unless
    /// something settled it meanwhile.
    pub async fn settle_unknown(
        &self,
        job: &SendJob,
        code: &str,
        why: &str,
        now_ms: i64,
        now: &str,
    ) -> Result<bool, Error> {
        self.fail_unsettled(job, code, why, now, Unsettled::ClaimExpired(now_ms))
            .await
    }

    /// Gives a message whose answer was lost, and that its provider never reported,
    /// back to the senders once (the campaign's `resend_unreported`): its expired claim
    /// `claim` is removed and `resent` set, only if nothing reported it, nobody took it
    /// meanwhile and it was never resent. Whether it was given back.
    pub async fn release_for_resend(&self, job: &SendJob, claim: i64) -> Result<bool, Error> {
        let (pk, sk) = Self::message_key(job);
        let res = self.update_at((pk, sk))
            .update_expression("SET resent = :t REMOVE claim_until")
            .condition_expression(
                "#st IN (:pending, :queued) AND claim_until = :claim AND attribute_not_exists(reported_id) AND attribute_not_exists(resent)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":claim", n(claim))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":queued", s("queued"))
            .send()
            .await;
        conditional(res)
    }

    /// Fails a message nobody holds (no claim, not parked) with `code`: a job that
    /// reached the send dead-letter queue. `false` when it was settled or claimed
    /// meanwhile.
    pub async fn fail_unsent(
        &self,
        job: &SendJob,
        code: &str,
        message: &str,
        now: &str,
    ) -> Result<bool, Error> {
        self.fail_unsettled(job, code, message, now, Unsettled::Unheld)
            .await
    }

    /// Ends a message without an outcome `failed` with `code`, if it is still as
    /// `which` says.
    async fn fail_unsettled(
        &self,
        job: &SendJob,
        code: &str,
        message: &str,
        now: &str,
        which: Unsettled,
    ) -> Result<bool, Error> {
        let (pk, sk) = Self::message_key(job);
        let mut req = self
            .update_at((pk, sk))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":code", s(code))
            .expression_attribute_values(":msg", s(message))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":queued", s("queued"))
            .expression_attribute_values(":at", n(counted_now()));
        let set = "SET #st = :failed, error_code = :code, error_message = :msg, updated_at = :now, counted_at = :at";
        req = match which {
            Unsettled::ClaimExpired(now_ms) => req
                .update_expression(format!("{set} REMOVE claim_until"))
                .condition_expression("#st IN (:pending, :queued) AND claim_until < :now_ms")
                .expression_attribute_values(":now_ms", n(now_ms)),
            Unsettled::Unheld => req.update_expression(set).condition_expression(
                "#st IN (:pending, :queued) AND attribute_not_exists(claim_until) AND attribute_not_exists(parked)",
            ),
        };
        conditional(req.send().await)
    }

    /// The message record of a job.
    pub async fn message(
        &self,
        job: &SendJob,
    ) -> Result<Option<crate::store::RecipientItem>, Error> {
        self.get(Self::message_key(job)).await
    }

    /// Marks messages with a status that needs no provider (`blocked`, `skipped`, or
    /// `queued` on dispatch), only from `pending`/`queued` and only if nobody holds them.
    pub async fn mark_messages(
        &self,
        tenant: &str,
        campaign: &str,
        gen: u32,
        rows: &[u64],
        status: MessageStatus,
        now: &str,
    ) -> Result<Vec<bool>, Error> {
        let sql = format!(
            "UPDATE \"{}\" SET \"status\" = ? SET updated_at = ? SET counted_at = ? WHERE pk = ? AND sk = ? AND \"status\" IN ['pending', 'queued'] AND claim_until IS MISSING",
            self.table
        );
        let statements = rows
            .iter()
            .map(|row| {
                let (pk, sk) = keys::recipient(tenant, campaign, gen, *row);
                self.statement(
                    sql.clone(),
                    vec![s(status.as_str()), s(now), n(counted_now()), s(pk), s(sk)],
                )
            })
            .collect();
        self.execute_batch(statements).await
    }

    /// Adds to a campaign's progress counters (one shard, chosen by the caller).
    pub async fn add_progress(
        &self,
        tenant: &str,
        campaign: &str,
        shard: u32,
        delta: &Progress,
    ) -> Result<(), Error> {
        self.add_counters(tenant, campaign, shard, &delta.pairs())
            .await
    }

    /// Adds to any of a campaign's counters (progress, KPI `k_*`, tickets `t_*`) in
    /// one write to one shard; zero deltas are left out.
    pub async fn add_counters(
        &self,
        tenant: &str,
        campaign: &str,
        shard: u32,
        deltas: &[(&str, i64)],
    ) -> Result<(), Error> {
        let Some((expr, names, values)) = counter_adds(deltas) else {
            return Ok(());
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::counters_pk(tenant, campaign)))
            .key("sk", s(counter_sk(shard)))
            .update_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(())
    }

    /// Adds to the counters of many campaign shards in one transaction (at most 100),
    /// applied once per `token` (DynamoDB's idempotency token: the same call retried
    /// within 10 minutes changes nothing more). These are items of their own
    /// (`K{shard:02}`, summed by [`Store::counters`] with the rest): a plain update of
    /// an item inside a running transaction fails (`TransactionConflict`, which the SDK
    /// does not retry), so the senders', tickets' and settles' `ADD`s never meet it.
    pub async fn add_counters_once(&self, adds: &[CounterAdd], token: &str) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
        let mut items = Vec::new();
        for a in adds {
            let pairs: Vec<(&str, i64)> = a.deltas.iter().map(|(k, v)| (*k, *v)).collect();
            let Some((expr, names, values)) = counter_adds(&pairs) else {
                continue;
            };
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(keys::counters_pk(&a.tenant, &a.campaign)))
                .key("sk", s(format!("K{}", counter_sk(a.shard))))
                .update_expression(expr)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(Error::dynamo)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        if items.is_empty() {
            return Ok(());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(())
    }

    /// Every counter of a campaign, its shards summed (one query, whatever its size).
    pub async fn counters(
        &self,
        tenant: &str,
        campaign: &str,
    ) -> Result<HashMap<String, i64>, Error> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::counters_pk(tenant, campaign)))
            .consistent_read(true)
            .send()
            .await
            .map_err(Error::dynamo)?;
        let mut sums: HashMap<String, i64> = HashMap::new();
        for item in out.items.unwrap_or_default() {
            for (k, v) in item {
                if let Some(x) = v.as_n().ok().and_then(|v| v.parse::<i64>().ok()) {
                    *sums.entry(k).or_default() += x;
                }
            }
        }
        Ok(sums)
    }

    /// A campaign's progress: its counter shards summed (one query, whatever its size).
    pub async fn progress(&self, tenant: &str, campaign: &str) -> Result<Progress, Error> {
        let c = self.counters(tenant, campaign).await?;
        let get = |k: &str| c.get(k).copied().unwrap_or(0);
        Ok(Progress {
            queued: get("queued"),
            sent: get("sent"),
            failed: get("failed"),
            blocked: get("blocked"),
            skipped: get("skipped"),
            unknown: get("unknown"),
        })
    }

    /// Takes up to `want` of the `rate` calls a provider account may receive in the slot's
    /// second, and says how many it got (maybe 0). One atomic `ADD` per request: the
    /// count may pass the rate, but the calls granted never do, because each caller is
    /// granted only what was left below the rate before its own addition. Items expire
    /// after a minute (TTL `expires_at`).
    pub async fn reserve_rate(
        &self,
        account: &str,
        slot: RateSlot,
        rate: u32,
        want: u32,
    ) -> Result<u32, Error> {
        if want == 0 || rate == 0 {
            return Ok(0);
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("RATE#{account}")))
            .key("sk", s(slot.second.to_string()))
            .update_expression("ADD used :want SET expires_at = :exp")
            .expression_attribute_values(":want", n(want as i64))
            .expression_attribute_values(":exp", n(slot.second + 60))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(Error::dynamo)?;
        let used: i64 = out
            .attributes
            .as_ref()
            .and_then(|a: &HashMap<String, AttributeValue>| a.get("used"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::Shape("rate count without `used`".into()))?;
        Ok(granted(used, want, rate))
    }
}

/// Of `want` calls just added to a second's count, now `used`, how many fit under `rate`.
pub fn granted(used: i64, want: u32, rate: u32) -> u32 {
    let before = used - want as i64;
    (rate as i64 - before).clamp(0, want as i64) as u32
}

/// A tenant's do-not-contact entries that concern one campaign, read whole when the
/// list is small: dispatch then checks each recipient in memory instead of reading
/// two keys per recipient.
#[derive(Debug, Default)]
pub struct DncSnapshot {
    phones: std::collections::HashSet<String>,
    /// Phones that stopped marketing messages (Meta 131050): entries scoped
    /// [`pregon::keys::MARKETING_OPT_OUT`].
    marketing: std::collections::HashSet<String>,
}

impl DncSnapshot {
    pub fn contains(&self, phone: &str) -> bool {
        self.phones.contains(phone)
    }

    /// Whether `phone` stopped marketing messages (or everything).
    pub fn refuses_marketing(&self, phone: &str) -> bool {
        self.phones.contains(phone) || self.marketing.contains(phone)
    }
}

impl Store {
    /// Reads items by key, 100 to a request, retrying what DynamoDB left unprocessed.
    /// Strongly consistent: what it looks for (a provider-id index item, a kept early
    /// status) was often written a few milliseconds before.
    pub(crate) async fn batch_get(
        &self,
        keys_: Vec<HashMap<String, AttributeValue>>,
        projection: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, Error> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut items = Vec::new();
        let mut pending = keys_;
        for _ in 0..8 {
            if pending.is_empty() {
                break;
            }
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .projection_expression(projection)
                .consistent_read(true)
                .build()
                .map_err(Error::dynamo)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, ka)
                .send()
                .await
                .map_err(Error::dynamo)?;
            items.extend(
                out.responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default(),
            );
            pending = out
                .unprocessed_keys
                .and_then(|mut m| m.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        Ok(items)
    }

    /// The tenant's do-not-contact entries, tenant-wide and for `campaign`, when there
    /// are at most `cap` entries in all; `None` when there are more (check by key then).
    pub async fn do_not_contact_snapshot(
        &self,
        tenant: &str,
        campaign: &str,
        cap: usize,
    ) -> Result<Option<DncSnapshot>, Error> {
        let mut snapshot = DncSnapshot::default();
        let mut seen = 0usize;
        let mut after: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::dnc_pk(tenant)))
                .projection_expression("sk")
                .set_exclusive_start_key(after.take())
                .send()
                .await
                .map_err(Error::dynamo)?;
            for item in out.items.unwrap_or_default() {
                seen += 1;
                if seen > cap {
                    return Ok(None);
                }
                let Some(sk) = item.get("sk").and_then(|v| v.as_s().ok()) else {
                    continue;
                };
                match sk.split_once('#') {
                    None => {
                        snapshot.phones.insert(sk.clone());
                    }
                    Some((phone, c)) if c == campaign => {
                        snapshot.phones.insert(phone.to_string());
                    }
                    Some((phone, keys::MARKETING_OPT_OUT)) => {
                        snapshot.marketing.insert(phone.to_string());
                    }
                    Some(_) => {}
                }
            }
            match out.last_evaluated_key {
                Some(k) => after = Some(k),
                None => return Ok(Some(snapshot)),
            }
        }
    }

    /// Which of `phones` are on the tenant's do-not-contact list, tenant-wide or for this
    /// campaign (SPEC §8): batched reads, 100 keys a request.
    pub async fn do_not_contact(
        &self,
        tenant: &str,
        campaign: &str,
        phones: &[&str],
    ) -> Result<std::collections::HashSet<String>, Error> {
        let pk = keys::dnc_pk(tenant);
        let mut wanted: Vec<String> = Vec::with_capacity(phones.len() * 2);
        for p in phones {
            wanted.push(keys::dnc_sk(p, None));
            wanted.push(keys::dnc_sk(p, Some(campaign)));
        }
        wanted.sort();
        wanted.dedup();
        let mut blocked = std::collections::HashSet::new();
        for chunk in wanted.chunks(crate::store::BATCH_GET_ITEMS) {
            let keys_: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|sk| {
                    HashMap::from([("pk".to_string(), s(pk.clone())), ("sk".to_string(), s(sk))])
                })
                .collect();
            for item in self.batch_get(keys_, "sk").await? {
                if let Some(sk) = item.get("sk").and_then(|v| v.as_s().ok()) {
                    let phone = sk.split('#').next().unwrap_or(sk);
                    blocked.insert(phone.to_string());
                }
            }
        }
        Ok(blocked)
    }
}

#[cfg(test)]
mod tests {
    use super::granted;

    #[test]
    fn concurrent_reservations_never_grant_more_than_the_rate() {
        // Three senders add 10 each to a second at rate 25, in any order.
        let mut used = 0;
        let mut total = 0;
        for _ in 0..3 {
            used += 10;
            total += granted(used, 10, 25);
        }
        assert_eq!(total, 25);
        assert_eq!(granted(10, 10, 25), 10);
        assert_eq!(granted(30, 10, 25), 5);
        assert_eq!(granted(40, 10, 25), 0);
    }
}
