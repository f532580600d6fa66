//! What provider callbacks change in the store (SPEC §5): message statuses, forward
//! only, each a conditional write; statuses that arrive before their message's `sent`
//! record, kept until it exists; and which tenant an account's webhook belongs to.

use crate::store::{conditional, n, s, Store};
use crate::Error;
use aws_sdk_dynamodb::types::AttributeValue;
use pregon::clock::{now_ms, unix_now};
use pregon::keys;
use pregon::providers::inbound::StatusUpdate;
use pregon::sending::MessageStatus;
use std::collections::HashMap;

/// An early status is kept this long for its message to appear.
const EARLY_DAYS: i64 = 7;

/// What applying a status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The message moved forward; `settled` when it had no send outcome yet (a status
    /// callback settled a claim whose answer was lost).
    Moved {
        settled: bool,
        /// The status it moved from.
        from: MessageStatus,
    },
    /// Not forward of where the message is (late, duplicated): nothing changed.
    Unchanged,
}

impl Store {
    /// Records which tenant an account's webhook belongs to.
    pub async fn put_webhook_account(&self, account: &str, tenant: &str) -> Result<(), Error> {
        let (pk, sk) = keys::webhook_account(account);
        self.put_at((pk, sk))
            .item("tenant", s(tenant))
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(())
    }

    /// Files a Meta account under its number and its business account (see
    /// [`keys::meta_route`]).
    pub async fn put_meta_routes(
        &self,
        account: &str,
        tenant: &str,
        phone_number_id: &str,
        waba_id: &str,
    ) -> Result<(), Error> {
        for (kind, id) in [("number", phone_number_id), ("waba", waba_id)] {
            let (pk, sk) = keys::meta_route(kind, id, account);
            self.put_at((pk, sk))
                .item("tenant", s(tenant))
                .send()
                .await
                .map_err(Error::dynamo)?;
        }
        Ok(())
    }

    /// The Meta accounts filed under a number or business account (`kind` `number` or
    /// `waba`): their ids (at most 100).
    pub async fn meta_routes(&self, kind: &str, id: &str) -> Result<Vec<String>, Error> {
        let (pk, _) = keys::meta_route(kind, id, "");
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .limit(100)
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i.get("sk").and_then(|v| v.as_s().ok()).cloned())
            .collect())
    }

    /// The tenant of the account a webhook URL names.
    pub async fn webhook_tenant(&self, account: &str) -> Result<Option<String>, Error> {
        let (pk, sk) = keys::webhook_account(account);
        let out = self.get_at((pk, sk)).send().await.map_err(Error::dynamo)?;
        Ok(out
            .item
            .and_then(|i| i.get("tenant").and_then(|v| v.as_s().ok()).cloned()))
    }

    /// Our message ids for provider message ids of one account (absent: not recorded
    /// yet, or not ours).
    pub async fn messages_by_provider_id(
        &self,
        account: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, String>, Error> {
        let mut found = HashMap::new();
        // A callback may name a message twice (sent and delivered): BatchGetItem takes
        // each key once.
        let mut unique: Vec<&str> = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        for chunk in unique.chunks(crate::store::BATCH_GET_ITEMS) {
            let keys_: Vec<_> = chunk
                .iter()
                .map(|id| {
                    let (pk, sk) = keys::provider_message(account, id);
                    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
                })
                .collect();
            for item in self.batch_get(keys_, "pk, m").await? {
                let pk = item.get("pk").and_then(|v| v.as_s().ok());
                let m = item.get("m").and_then(|v| v.as_s().ok());
                if let (Some(pk), Some(m)) = (pk, m) {
                    let prefix = format!("PMID#{account}#");
                    if let Some(id) = pk.strip_prefix(&prefix) {
                        found.insert(id.to_string(), m.clone());
                    }
                }
            }
        }
        Ok(found)
    }

    /// Moves many recorded messages forward at once (a callback carrying several
    /// statuses): PartiQL `UPDATE`s, 25 to a request, each applied only from a
    /// recorded status its new one advances (SPEC §5), with the same fields as
    /// [`Store::apply_status`]. `true` where it moved the message; a `false` one did not
    /// move (a late or repeated status, or a message not recorded yet), which
    /// [`Store::apply_status`] can then tell apart.
    pub async fn apply_recorded(
        &self,
        updates: &[(&str, &StatusUpdate)],
        now: &str,
    ) -> Result<Vec<bool>, Error> {
        let mut statements = Vec::new();
        let mut index = Vec::new();
        // One statement per message (a batch may not name an item twice): a second
        // status of the same message is left to its own write.
        let mut named = std::collections::HashSet::new();
        for (i, (message_id, u)) in updates.iter().enumerate() {
            let Some((t, c, gen, row)) = pregon::sending::parse_message_id(message_id) else {
                continue;
            };
            let from: Vec<&str> = ALL
                .iter()
                .filter(|cur| !matches!(cur, MessageStatus::Pending | MessageStatus::Queued))
                .filter(|cur| (**cur).advances(u.status))
                .map(|cur| cur.as_str())
                .collect();
            if from.is_empty() {
                continue;
            }
            // (A reply's `replied_at` keeps its first time: that path writes alone.)
            if !matches!(
                u.status,
                MessageStatus::Delivered
                    | MessageStatus::Read
                    | MessageStatus::Failed
                    | MessageStatus::Undelivered
            ) {
                continue;
            }
            let mut set = vec!["\"status\" = ?".to_string(), "updated_at = ?".to_string()];
            let mut params = vec![s(u.status.as_str()), s(now)];
            for (name, v) in moved_fields(u, now) {
                set.push(format!("{name} = ?"));
                params.push(v);
            }
            if !named.insert(*message_id) {
                continue;
            }
            let (pk, sk) = keys::recipient(t, c, gen, row);
            params.extend([s(pk), s(sk)]);
            params.extend(from.iter().map(|f| s(*f)));
            let sql = format!(
                "UPDATE \"{}\" SET {} WHERE pk = ? AND sk = ? AND \"status\" IN [{}]",
                self.table,
                set.join(" SET "),
                vec!["?"; from.len()].join(", ")
            );
            statements.push(self.statement(sql, params));
            index.push(i);
        }
        let mut applied = vec![false; updates.len()];
        for (i, ok) in index.into_iter().zip(self.execute_batch(statements).await?) {
            applied[i] = ok;
        }
        Ok(applied)
    }

    /// Moves a message to `u.status` if that is forward of where it is (SPEC §5), in one
    /// conditional write: a late or duplicated status changes nothing. A failure keeps
    /// the provider's code and message; `delivered_at`/`read_at` record when.
    pub async fn apply_status(
        &self,
        message_id: &str,
        u: &StatusUpdate,
        now: &str,
    ) -> Result<Applied, Error> {
        let Some((t, c, gen, row)) = pregon::sending::parse_message_id(message_id) else {
            return Ok(Applied::Unchanged);
        };
        let (pk, sk) = keys::recipient(t, c, gen, row);
        let from: Vec<MessageStatus> = ALL
            .iter()
            .copied()
            .filter(|cur| (*cur).advances(u.status))
            .collect();
        if from.is_empty() {
            return Ok(Applied::Unchanged);
        }
        let at = u.at.clone().unwrap_or_else(|| now.to_string());
        let mut set = vec!["#st = :next".to_string(), "updated_at = :now".to_string()];
        let mut req = self
            .update_at((pk, sk))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":next", s(u.status.as_str()))
            .expression_attribute_values(":now", s(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld);
        for (i, (name, v)) in moved_fields(u, now).into_iter().enumerate() {
            set.push(format!("{name} = :m{i}"));
            req = req.expression_attribute_values(format!(":m{i}"), v);
        }
        if u.status == MessageStatus::Replied {
            set.push("replied_at = if_not_exists(replied_at, :at)".into());
        }
        // A message whose answer was lost is settled by its provider id and sent time.
        set.push("provider_message_id = if_not_exists(provider_message_id, :pmid)".into());
        set.push("sent_at = if_not_exists(sent_at, :at)".into());
        // A recorded message has its `counted_at`; one this settles gets it now.
        set.push("counted_at = if_not_exists(counted_at, :counted)".into());
        req = req
            .expression_attribute_values(":counted", n(crate::messages::counted_now()))
            .expression_attribute_values(":pmid", s(&u.provider_message_id))
            .expression_attribute_values(":at", s(&at));
        // From a recorded status: forward only. From `pending`/`queued` (a status that
        // names our message before its record): only once no sender holds its claim —
        // a live sender records it itself, and the status is kept for it.
        let (mut recorded, mut unrecorded) = (Vec::new(), Vec::new());
        for (i, st) in from.iter().enumerate() {
            let k = format!(":f{i}");
            req = req.expression_attribute_values(&k, s(st.as_str()));
            if matches!(st, MessageStatus::Pending | MessageStatus::Queued) {
                unrecorded.push(k);
            } else {
                recorded.push(k);
            }
        }
        let mut alternatives = Vec::new();
        if !recorded.is_empty() {
            alternatives.push(format!("#st IN ({})", recorded.join(", ")));
        }
        if !unrecorded.is_empty() {
            alternatives.push(format!(
                "#st IN ({}) AND (attribute_not_exists(claim_until) OR claim_until < :now_ms)",
                unrecorded.join(", ")
            ));
            req = req.expression_attribute_values(":now_ms", n(now_ms()));
        }
        // A message settled `outcome_unknown` (or `not_sent`) that its provider reports
        // after all: the report settles it, with the provider's own status (SPEC §5).
        alternatives
            .push("#st = :unknown_failed AND error_code IN (:unknown_code, :not_sent)".into());
        req = req
            .expression_attribute_values(":unknown_failed", s("failed"))
            .expression_attribute_values(":unknown_code", s(pregon::sending::OUTCOME_UNKNOWN))
            .expression_attribute_values(":not_sent", s(pregon::sending::NOT_SENT));
        let remove = if matches!(u.status, MessageStatus::Failed | MessageStatus::Undelivered) {
            "claim_until"
        } else {
            // (Only a message that was `outcome_unknown` has them here.)
            "claim_until, error_code, error_message"
        };
        let expr = format!("SET {} REMOVE {remove}", set.join(", "));
        let res = req
            .update_expression(expr)
            // (DynamoDB refuses redundant parentheses: only several alternatives get them.)
            .condition_expression(match alternatives.as_slice() {
                [one] => format!("attribute_exists(pk) AND {one}"),
                many => format!(
                    "attribute_exists(pk) AND ({})",
                    many.iter()
                        .map(|a| format!("({a})"))
                        .collect::<Vec<_>>()
                        .join(" OR ")
                ),
            })
            .send()
            .await;
        match res {
            Ok(out) => {
                let before = out
                    .attributes
                    .and_then(|a| a.get("status").and_then(|v| v.as_s().ok()).cloned())
                    .unwrap_or_default();
                Ok(Applied::Moved {
                    settled: before == "pending" || before == "queued",
                    from: before.parse().unwrap_or(MessageStatus::Pending),
                })
            }
            Err(e) => {
                // A condition that did not hold: not forward; anything else is an error.
                conditional::<(), _, _>(Err(e))?;
                Ok(Applied::Unchanged)
            }
        }
    }

    /// Keeps a status whose message is not recorded yet (a week, TTL).
    pub async fn keep_early_status(&self, account: &str, u: &StatusUpdate) -> Result<(), Error> {
        let (pk, sk) = keys::early_status(account, &u.provider_message_id);
        let body = serde_json::to_string(&EarlyStatus::from(u)).expect("json");
        // Several early statuses of one message: keep the furthest (a later write of a
        // status that is not forward changes nothing).
        self.update_at((pk, sk))
            .update_expression(
                "SET body = list_append(if_not_exists(body, :empty), :one), expires_at = :exp",
            )
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(":one", AttributeValue::L(vec![s(body)]))
            .expression_attribute_values(
                ":exp",
                AttributeValue::N((unix_now() + EARLY_DAYS * 86_400).to_string()),
            )
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(())
    }

    /// Notes on a message nobody has recorded yet (a sender holds its claim) that its
    /// provider reported it, under `provider_message_id` (the status is kept under that
    /// id): should that sender die, the message is settled from the kept statuses, not
    /// as `outcome_unknown`. Nothing when the message has been recorded meanwhile.
    pub async fn note_reported(
        &self,
        message_id: &str,
        provider_message_id: &str,
    ) -> Result<(), Error> {
        let Some((t, c, gen, row)) = pregon::sending::parse_message_id(message_id) else {
            return Ok(());
        };
        let (pk, sk) = keys::recipient(t, c, gen, row);
        let res = self
            .update_at((pk, sk))
            .update_expression("SET reported_id = :p")
            .condition_expression("#st IN (:pending, :queued)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":p", s(provider_message_id))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":queued", s("queued"))
            .send()
            .await;
        crate::store::conditional(res).map(|_| ())
    }

    /// The early statuses kept for these provider ids of an account, removed as read.
    /// An item is deleted only if it still holds what was read (its list's length): a
    /// status the webhook appended between the read and the delete makes the delete
    /// fail, and the item is read again, so no status is lost in that gap.
    pub async fn take_early_statuses(
        &self,
        account: &str,
        ids: &[&str],
    ) -> Result<Vec<StatusUpdate>, Error> {
        let keys_: Vec<_> = ids
            .iter()
            .map(|id| {
                let (pk, sk) = keys::early_status(account, id);
                HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
            })
            .collect();
        let mut found = Vec::new();
        for chunk in keys_.chunks(crate::store::BATCH_GET_ITEMS) {
            let mut items = self.batch_get(chunk.to_vec(), "pk, sk, body").await?;
            for _round in 0..4 {
                let mut again = Vec::new();
                for item in items {
                    let body: Vec<&AttributeValue> = item
                        .get("body")
                        .and_then(|b| b.as_l().ok())
                        .into_iter()
                        .flatten()
                        .collect();
                    let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) else {
                        continue;
                    };
                    let res = self
                        .client
                        .delete_item()
                        .table_name(&self.table)
                        .key("pk", pk.clone())
                        .key("sk", sk.clone())
                        .condition_expression("size(body) = :n")
                        .expression_attribute_values(
                            ":n",
                            AttributeValue::N(body.len().to_string()),
                        )
                        .send()
                        .await;
                    match crate::store::conditional(res) {
                        // Ours: every status it held.
                        Ok(true) => found.extend(body.iter().filter_map(|v| {
                            v.as_s()
                                .ok()
                                .and_then(|t| serde_json::from_str::<EarlyStatus>(t).ok())
                                .map(StatusUpdate::from)
                        })),
                        // A status came in meanwhile: read it again.
                        Ok(false) => again.push(HashMap::from([
                            ("pk".to_string(), pk.clone()),
                            ("sk".to_string(), sk.clone()),
                        ])),
                        // Left for its TTL; the statuses it held are applied anyway
                        // (applying is forward-only, so a second time changes nothing).
                        Err(_) => found.extend(body.iter().filter_map(|v| {
                            v.as_s()
                                .ok()
                                .and_then(|t| serde_json::from_str::<EarlyStatus>(t).ok())
                                .map(StatusUpdate::from)
                        })),
                    }
                }
                if again.is_empty() {
                    break;
                }
                items = self.batch_get(again, "pk, sk, body").await?;
            }
        }
        Ok(found)
    }
}

impl Store {
    /// A message record by our message id (`{tenant}.{campaign}.{gen}.{row}`).
    pub async fn message_by_id(
        &self,
        message_id: &str,
    ) -> Result<Option<crate::store::RecipientItem>, Error> {
        let Some((t, c, gen, row)) = pregon::sending::parse_message_id(message_id) else {
            return Ok(None);
        };
        self.get(keys::recipient(t, c, gen, row)).await
    }
}

/// The fields a status sets beside `status` and `updated_at` (both writes of a status:
/// [`Store::apply_status`] and [`Store::apply_recorded`]): when (`status_at`), a fresh
/// `status_move` — which tells the table's stream a status moved the message, for the
/// tally function to count and announce — and by status `delivered_at`, `read_at`, or
/// the provider's error code and message.
fn moved_fields(u: &StatusUpdate, now: &str) -> Vec<(&'static str, AttributeValue)> {
    let at = s(u.at.as_deref().unwrap_or(now));
    let mut f = vec![
        ("status_at", at.clone()),
        ("status_move", s(ulid::Ulid::new().to_string())),
    ];
    match u.status {
        MessageStatus::Delivered => f.push(("delivered_at", at)),
        MessageStatus::Read => f.push(("read_at", at)),
        MessageStatus::Failed | MessageStatus::Undelivered => {
            let code = u
                .error_code
                .clone()
                .unwrap_or_else(|| u.provider_status.clone());
            f.push(("error_code", s(code)));
            f.push((
                "error_message",
                s(u.error_message.clone().unwrap_or_default()),
            ));
        }
        _ => {}
    }
    f
}

/// Every message status, for the forward-only condition.
const ALL: [MessageStatus; 10] = [
    MessageStatus::Pending,
    MessageStatus::Queued,
    MessageStatus::Sent,
    MessageStatus::Delivered,
    MessageStatus::Read,
    MessageStatus::Replied,
    MessageStatus::Failed,
    MessageStatus::Undelivered,
    MessageStatus::Blocked,
    MessageStatus::Skipped,
];

/// A kept status, as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct EarlyStatus {
    id: String,
    status: MessageStatus,
    provider_status: String,
    at: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

impl From<&StatusUpdate> for EarlyStatus {
    fn from(u: &StatusUpdate) -> Self {
        EarlyStatus {
            id: u.provider_message_id.clone(),
            status: u.status,
            provider_status: u.provider_status.clone(),
            at: u.at.clone(),
            error_code: u.error_code.clone(),
            error_message: u.error_message.clone(),
        }
    }
}

impl From<EarlyStatus> for StatusUpdate {
    fn from(e: EarlyStatus) -> Self {
        StatusUpdate {
            provider_message_id: e.id,
            status: e.status,
            provider_status: e.provider_status,
            at: e.at,
            error_code: e.error_code,
            error_message: e.error_message,
            correlation: None,
        }
    }
}

/// Applies one status to one of our messages (the webhook, and the sender for a status
/// that came early); a message it settles leaves its campaign's `queued` count. What it
/// counts as, the campaign's end, the KPI counters and the status event follow from the
/// table's stream (the tally function), off this path.
pub async fn apply(
    store: &Store,
    message: &str,
    u: &StatusUpdate,
    now: &str,
) -> Result<Applied, Error> {
    let applied = store.apply_status(message, u, now).await?;
    if let Applied::Moved { settled: true, .. } = applied {
        if let Some((t, c, _, _)) = pregon::sending::parse_message_id(message) {
            store
                .add_counters(t, c, keys::spread(message), &[("queued", -1)])
                .await?;
        }
    }
    Ok(applied)
}
