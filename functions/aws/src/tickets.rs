//! Tickets in the table (SPEC §5; rules in `pregon::model::ticket`): stored for
//! campaigns with a reply wait and for inbound conversations; each open ticket has a
//! "due" item in the partition of the hour it is due, which the scheduled closer
//! reads; a phone's latest open ticket and its last inbound message are kept per
//! account (`CONTACT#…`) to match replies that name no message (SMS) and to enforce
//! the 24-hour window.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, WriteRequest};
use pregon::keys;
use pregon::model::{format_time, CloseReason, TenantSettings, Ticket, TicketEntry, TicketStatus};
use serde::{Deserialize, Serialize};

use crate::store::{conditional, returned, s, Store};
use crate::Error;

/// Due items and contact pointers outlive their use by this much, then TTL removes them.
const KEEP_SECS: i64 = 7 * 86_400;

/// A ticket due to close at `due_at` (the closer re-checks the rule on the ticket).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DueItem {
    /// The partition it was read from (an hour's shard, or an unsharded hour's written
    /// before due items were sharded); empty on an item not read from the table.
    #[serde(default, skip_serializing)]
    pub pk: String,
    pub sk: String,
    pub t: String,
    pub id: String,
    pub due_at: String,
    /// An idle check: the ticket's `last_activity_at` when it was scheduled (a later
    /// activity scheduled its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// A page of due items ([`Store::due_page`]).
pub struct DuePage {
    pub items: Vec<DueItem>,
    pub next: Option<std::collections::HashMap<String, AttributeValue>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ContactTicket {
    t: String,
    id: String,
    expires_at: i64,
}

/// The latest message an informative campaign sent a phone from an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactSent {
    pub t: String,
    pub message_id: String,
    pub sent_at: String,
    /// A day after it was sent (DynamoDB's TTL; a reply after it counts on nothing).
    pub expires_at: i64,
}

/// How long after an informative message a reply that quotes nothing is counted on it.
pub const INFORMATIVE_REPLY_SECS: i64 = 24 * 3600;

#[derive(Debug, Serialize, Deserialize)]
struct ContactWindow {
    last_inbound_at: String,
}

/// How a close must find the ticket (its condition), so a reply that raced the closer
/// is never closed as `no_reply`.
/// Whether an inbound message is this call's to take in ([`Store::claim_inbound`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundClaim {
    Mine,
    /// Taken in already: a repeated delivery.
    Done,
    /// Another call is taking it in right now.
    InFlight,
}

pub enum CloseIf<'a> {
    /// Any open ticket (an agent, an opt-out).
    Open,
    /// Open, never replied, deadline passed.
    Unanswered { now: &'a str },
    /// Open with no activity since `activity`.
    Idle { activity: &'a str },
}

fn expiry(at: &str) -> i64 {
    unix_at(at) + KEEP_SECS
}

/// An RFC 3339 time in unix seconds (now, when it does not read as one).
fn unix_at(at: &str) -> i64 {
    pregon::model::parse_time(at)
        .map(|t| t.unix_timestamp())
        .unwrap_or_else(pregon::clock::unix_now)
}

impl Store {
    /// Who (an API key's name) took or closed a ticket: `field` is `attended_by` or
    /// `closed_by`. Nothing when the ticket is gone.
    pub async fn note_ticket_actor(
        &self,
        tenant: &str,
        id: &str,
        field: &'static str,
        name: &str,
    ) -> Result<(), Error> {
        let res = self
            .update_at(keys::ticket(tenant, id))
            .update_expression("SET #f = :n")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":n", s(name))
            .send()
            .await;
        conditional(res).map(|_| ())
    }
}

impl Store {
    pub async fn settings(&self, tenant: &str) -> Result<TenantSettings, Error> {
        Ok(self.get(keys::settings(tenant)).await?.unwrap_or_default())
    }

    pub async fn put_settings(&self, tenant: &str, s: &TenantSettings) -> Result<(), Error> {
        self.put(keys::settings(tenant), s).await
    }

    /// Approves (or, `false`, revokes) a report sender address for a tenant: the
    /// operator's decision (`/v1/admin`), never the tenant's. Whether it changed.
    pub async fn set_report_sender(
        &self,
        tenant: &str,
        address: &str,
        approved: bool,
        now: &str,
    ) -> Result<bool, Error> {
        let (pk, sk) = keys::report_sender(tenant, address);
        if approved {
            let res = self
                .put_at((pk, sk))
                .item("address", s(address.to_lowercase()))
                .item("approved_at", s(now))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            crate::store::conditional(res)
        } else {
            let res = self
                .delete_at((pk, sk))
                .condition_expression("attribute_exists(pk)")
                .send()
                .await;
            crate::store::conditional(res)
        }
    }

    /// The limits the operator set for a tenant (defaults when none).
    pub async fn limits(&self, tenant: &str) -> Result<pregon::model::TenantLimits, Error> {
        Ok(self.get(keys::limits(tenant)).await?.unwrap_or_default())
    }

    /// Whether the operator approved this report sender address for the tenant.
    pub async fn report_sender_approved(&self, tenant: &str, address: &str) -> Result<bool, Error> {
        Ok(self
            .get::<serde_json::Value>(keys::report_sender(tenant, address))
            .await?
            .is_some())
    }

    /// The report sender addresses approved for a tenant.
    pub async fn report_senders(&self, tenant: &str) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Approved {
            address: String,
        }
        let (items, _) = self
            .list::<Approved>(
                keys::tenant_pk(tenant),
                keys::REPORT_SENDER_PREFIX,
                false,
                1000,
                None,
                &[],
            )
            .await?;
        Ok(items.into_iter().map(|a| a.address).collect())
    }

    /// Takes one report email of the tenant's daily quota (`limit` a UTC day);
    /// `false` when the day's quota is used up.
    pub async fn take_email_quota(
        &self,
        tenant: &str,
        day: &str,
        limit: u32,
        expires_at: i64,
    ) -> Result<bool, Error> {
        let (pk, sk) = keys::email_quota(tenant, day);
        let res = self
            .update_at((pk, sk))
            .update_expression("ADD sent :one SET expires_at = :exp")
            .condition_expression("attribute_not_exists(sent) OR sent < :limit")
            .expression_attribute_values(":one", crate::store::n(1))
            .expression_attribute_values(":limit", crate::store::n(limit as i64))
            .expression_attribute_values(":exp", crate::store::n(expires_at))
            .send()
            .await;
        crate::store::conditional(res)
    }

    /// Takes up to `want` messages of the tenant's daily quota (`limit` a UTC `day`):
    /// how many it may send now (0 once the day's quota is used up).
    pub async fn take_message_quota(
        &self,
        tenant: &str,
        day: &str,
        want: u64,
        limit: u64,
    ) -> Result<u64, Error> {
        let key = keys::message_quota(tenant, day);
        let expires_at = pregon::clock::unix_now() + 2 * 86_400;
        let mut ask = want.min(limit);
        // Two tries: all of it, else what is left (another sender may have taken it).
        for _ in 0..2 {
            if ask == 0 {
                return Ok(0);
            }
            let res = self
                .update_at(key.clone())
                .update_expression("ADD used :n SET expires_at = :exp")
                .condition_expression("attribute_not_exists(used) OR used <= :max")
                .expression_attribute_values(":n", crate::store::n(ask as i64))
                .expression_attribute_values(":max", crate::store::n((limit - ask) as i64))
                .expression_attribute_values(":exp", crate::store::n(expires_at))
                .send()
                .await;
            if crate::store::conditional(res)? {
                return Ok(ask);
            }
            ask = limit
                .saturating_sub(self.messages_sent_on(tenant, day).await?)
                .min(want);
        }
        Ok(0)
    }

    /// Gives `n` taken messages back to the day's quota (taken, then not sent).
    pub async fn give_back_message_quota(
        &self,
        tenant: &str,
        day: &str,
        n: u64,
    ) -> Result<(), Error> {
        let res = self
            .update_at(keys::message_quota(tenant, day))
            .update_expression("ADD used :minus")
            .condition_expression("used >= :n")
            .expression_attribute_values(":minus", crate::store::n(-(n as i64)))
            .expression_attribute_values(":n", crate::store::n(n as i64))
            .send()
            .await;
        crate::store::conditional(res).map(|_| ())
    }

    /// The messages the tenant sent on a UTC `day` (its quota's counter).
    pub async fn messages_sent_on(&self, tenant: &str, day: &str) -> Result<u64, Error> {
        let item = self
            .get::<serde_json::Value>(keys::message_quota(tenant, day))
            .await?;
        Ok(item.and_then(|v| v["used"].as_u64()).unwrap_or(0))
    }

    pub async fn ticket(&self, tenant: &str, id: &str) -> Result<Option<Ticket>, Error> {
        self.get(keys::ticket(tenant, id)).await
    }

    fn due_request(
        &self,
        t: &Ticket,
        due_at: &str,
        activity: Option<&str>,
    ) -> Result<WriteRequest, Error> {
        let key = keys::due(due_at, &t.tenant_id, &t.id);
        let item = DueItem {
            pk: String::new(),
            sk: key.1.clone(),
            t: t.tenant_id.clone(),
            id: t.id.clone(),
            due_at: due_at.to_string(),
            activity: activity.map(str::to_string),
            expires_at: Some(expiry(due_at)),
        };
        self.put_request(key, &item)
    }

    fn pointer_request(&self, t: &Ticket) -> Result<WriteRequest, Error> {
        self.put_request(
            keys::contact_ticket(&t.account_id, &t.phone),
            &ContactTicket {
                t: t.tenant_id.clone(),
                id: t.id.clone(),
                expires_at: expiry(t.deadline.as_deref().unwrap_or(&t.created_at)),
            },
        )
    }

    /// Opens tickets: each with its due item (deadline) and as its phone's latest open
    /// ticket with the account. Batched, 25 writes a request.
    pub async fn open_tickets(&self, tickets: &[Ticket]) -> Result<(), Error> {
        let mut writes = Vec::with_capacity(tickets.len() * 3);
        for t in tickets {
            writes.push(self.put_request(keys::ticket(&t.tenant_id, &t.id), t)?);
            if let Some(d) = &t.deadline {
                writes.push(self.due_request(t, d, None)?);
            }
            writes.push(self.pointer_request(t)?);
        }
        for chunk in writes.chunks(crate::store::BATCH_WRITE_ITEMS) {
            self.batch_write(chunk.to_vec()).await?;
        }
        let mut opened: std::collections::HashMap<(&str, &str), i64> = Default::default();
        for t in tickets {
            if let Some(c) = &t.campaign_id {
                *opened
                    .entry((t.tenant_id.as_str(), c.as_str()))
                    .or_default() += 1;
            }
        }
        for ((tenant, campaign), n) in opened {
            self.add_counters(
                tenant,
                campaign,
                keys::spread(&tickets[0].id),
                &[("t_opened", n)],
            )
            .await?;
        }
        Ok(())
    }

    /// Opens one inbound ticket (a customer wrote and no open ticket matched).
    pub async fn open_inbound_ticket(&self, t: &Ticket) -> Result<(), Error> {
        self.create(keys::ticket(&t.tenant_id, &t.id), t).await?;
        self.batch_write(vec![self.pointer_request(t)?]).await
    }

    /// Schedules the closer to close a ticket as idle if nothing happens on it until
    /// `idle_close_hours` after its last activity.
    pub async fn schedule_idle(&self, t: &Ticket, idle_close_hours: u16) -> Result<(), Error> {
        let Some(due_at) = pregon::model::idle_until(&t.last_activity_at, idle_close_hours) else {
            return Ok(());
        };
        self.batch_write(vec![self.due_request(
            t,
            &due_at,
            Some(&t.last_activity_at),
        )?])
        .await
    }

    /// One page (at most `limit`) of the due items of an hour's shard (`None`: the
    /// hour's unsharded partition, [`keys::due_pk_unsharded`]) whose time is not after
    /// `now`, and where the next page starts.
    pub async fn due_page(
        &self,
        hour: &str,
        shard: Option<u32>,
        now: &str,
        limit: i32,
        start: Option<std::collections::HashMap<String, AttributeValue>>,
    ) -> Result<DuePage, Error> {
        let res = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk <= :now")
            .expression_attribute_values(
                ":pk",
                s(match shard {
                    Some(n) => keys::due_pk(hour, n),
                    None => keys::due_pk_unsharded(hour),
                }),
            )
            // Every sk starting with a time not after now (`#` sorts after `Z`).
            .expression_attribute_values(":now", s(format!("{now}~")))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(Error::dynamo)?;
        let mut items = Vec::new();
        for i in res.items.unwrap_or_default() {
            items.push(serde_dynamo::from_item(i).map_err(Error::shape)?);
        }
        Ok(DuePage {
            items,
            next: res.last_evaluated_key,
        })
    }

    /// Deletes due items (25 a request).
    pub async fn delete_due(&self, items: &[DueItem]) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::DeleteRequest;
        let mut writes = Vec::new();
        for d in items {
            let pk = if d.pk.is_empty() {
                keys::due(&d.due_at, &d.t, &d.id).0
            } else {
                d.pk.clone()
            };
            let del = DeleteRequest::builder()
                .key("pk", s(pk))
                .key("sk", s(&d.sk))
                .build()
                .map_err(Error::dynamo)?;
            writes.push(WriteRequest::builder().delete_request(del).build());
        }
        for chunk in writes.chunks(crate::store::BATCH_WRITE_ITEMS) {
            self.batch_write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// The closer's watermark hour (`YYYY-MM-DDTHH`): no due item is left before it.
    pub async fn closer_watermark(&self) -> Result<Option<String>, Error> {
        #[derive(Deserialize)]
        struct W {
            hour: String,
        }
        Ok(self
            .get::<W>(keys::closer_watermark())
            .await?
            .map(|w| w.hour))
    }

    pub async fn set_closer_watermark(&self, hour: &str) -> Result<(), Error> {
        self.put(keys::closer_watermark(), &serde_json::json!({"hour": hour}))
            .await
    }

    /// The phone's latest open ticket id with this account (for the tenant), if any.
    pub async fn contact_ticket(
        &self,
        account: &str,
        phone: &str,
    ) -> Result<Option<(String, String)>, Error> {
        Ok(self
            .get::<ContactTicket>(keys::contact_ticket(account, phone))
            .await?
            .map(|c| (c.t, c.id)))
    }

    /// Notes the messages informative campaigns just sent as their phones' latest from
    /// the account (`(account, phone, message)`), 25 a request.
    pub async fn note_sent(
        &self,
        tenant: &str,
        sent: &[(&str, &str, String)],
        at: &str,
    ) -> Result<(), Error> {
        let until = unix_at(at) + INFORMATIVE_REPLY_SECS;
        let mut writes = Vec::with_capacity(sent.len());
        for (account, phone, message) in sent {
            writes.push(self.put_request(
                keys::contact_sent(account, phone),
                &ContactSent {
                    t: tenant.to_string(),
                    message_id: message.clone(),
                    sent_at: at.to_string(),
                    expires_at: until,
                },
            )?);
        }
        for chunk in writes.chunks(crate::store::BATCH_WRITE_ITEMS) {
            self.batch_write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// The latest message an informative campaign sent the phone from the account, if
    /// it was sent less than a day before `now` (unix seconds).
    pub async fn latest_sent(
        &self,
        account: &str,
        phone: &str,
        now: i64,
    ) -> Result<Option<ContactSent>, Error> {
        Ok(self
            .get::<ContactSent>(keys::contact_sent(account, phone))
            .await?
            .filter(|c| c.expires_at > now))
    }

    /// When the phone last wrote to the account.
    pub async fn last_inbound(&self, account: &str, phone: &str) -> Result<Option<String>, Error> {
        Ok(self
            .get::<ContactWindow>(keys::contact_window(account, phone))
            .await?
            .map(|c| c.last_inbound_at))
    }

    /// Records an inbound message's time for the 24-hour window (never moves back).
    pub async fn saw_inbound(&self, account: &str, phone: &str, at: &str) -> Result<(), Error> {
        let (pk, sk) = keys::contact_window(account, phone);
        let res = self
            .update_at((pk, sk))
            .update_expression("SET last_inbound_at = :at")
            .condition_expression("attribute_not_exists(last_inbound_at) OR last_inbound_at < :at")
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        conditional(res).map(|_| ())
    }

    /// Adds a line to a ticket's conversation, ordered by when it was stored.
    pub async fn add_entry(&self, tenant: &str, t: &Ticket, e: &TicketEntry) -> Result<(), Error> {
        let ticket = t.id.as_str();
        let tail = e
            .provider_message_id
            .clone()
            .or_else(|| e.message_id.clone())
            .unwrap_or_else(|| pregon::model::new_id("e"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let key = (
            keys::ticket_entries_pk(tenant, ticket),
            format!("{nanos:020}#{tail}"),
        );
        let mut item = self.keyed(key, e)?;
        if let Some(at) = t.expires_at {
            // Removed with its ticket (the tenant's retention).
            item.insert("expires_at".into(), crate::store::n(at));
        }
        let put = self.client.put_item().table_name(&self.table);
        put.set_item(Some(item))
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(())
    }

    /// Whether an inbound message (by its provider id) was already taken in: providers
    /// deliver callbacks more than once.
    pub async fn inbound_seen(
        &self,
        account: &str,
        provider_message_id: &str,
    ) -> Result<bool, Error> {
        Ok(self
            .get::<serde_json::Value>(keys::inbound_message(account, provider_message_id))
            .await?
            .is_some())
    }

    /// Claims an inbound message (the provider's id) before anything is done with it: a
    /// conditional put, so two deliveries of one message at once cannot both take it
    /// in. `Taken` when it was taken in already (or is being taken in by another call,
    /// for at most a minute).
    pub async fn claim_inbound(
        &self,
        account: &str,
        provider_message_id: &str,
    ) -> Result<InboundClaim, Error> {
        let (pk, sk) = keys::inbound_message(account, provider_message_id);
        let now = pregon::clock::unix_now();
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk.clone()))
            .item("sk", s(sk.clone()))
            .item("claim_until", crate::store::n(now + 60))
            .item("expires_at", crate::store::n(now + KEEP_SECS))
            .condition_expression(
                "attribute_not_exists(pk) OR (attribute_not_exists(ticket) AND claim_until < :now)",
            )
            .expression_attribute_values(":now", crate::store::n(now))
            .send()
            .await;
        if conditional(res)? {
            return Ok(InboundClaim::Mine);
        }
        let done = self
            .get::<serde_json::Value>((pk, sk))
            .await?
            .is_some_and(|v| v.get("ticket").is_some());
        Ok(if done {
            InboundClaim::Done
        } else {
            InboundClaim::InFlight
        })
    }

    /// Marks an inbound message taken in (kept a week), once everything it does is done.
    pub async fn inbound_done(
        &self,
        account: &str,
        provider_message_id: &str,
        ticket: &str,
    ) -> Result<(), Error> {
        self.put(
            keys::inbound_message(account, provider_message_id),
            &serde_json::json!({"ticket": ticket, "expires_at": pregon::clock::unix_now() + KEEP_SECS}),
        )
        .await
    }

    /// A ticket's conversation, oldest first (at most `limit` lines).
    pub async fn entries(
        &self,
        tenant: &str,
        ticket: &str,
        limit: i32,
    ) -> Result<Vec<TicketEntry>, Error> {
        let (items, _) = self
            .list::<TicketEntry>(
                keys::ticket_entries_pk(tenant, ticket),
                "",
                false,
                limit,
                None,
                &[],
            )
            .await?;
        Ok(items)
    }

    /// Activity on an open ticket (a reply in or out, an attend): moves its idle clock;
    /// `replied` marks the customer's first reply. `None` when it is not open.
    pub async fn touch_ticket(
        &self,
        tenant: &str,
        id: &str,
        at: &str,
        replied: bool,
        attended: bool,
    ) -> Result<Option<Ticket>, Error> {
        let (pk, sk) = keys::ticket(tenant, id);
        let mut set = vec!["last_activity_at = :at", "updated_at = :at"];
        if replied {
            set.push("replied_at = if_not_exists(replied_at, :at)");
        }
        if attended {
            set.push("attended_at = if_not_exists(attended_at, :at)");
        }
        let res = self
            .update_at((pk, sk))
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression("#st = :open")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        returned(res.map(|o| o.attributes))
    }

    /// Closes a ticket if `when` holds; `None` if it did not (already closed, replied
    /// meanwhile…). Its phone's pointer is dropped if it still names it.
    pub async fn close_ticket(
        &self,
        tenant: &str,
        id: &str,
        reason: CloseReason,
        now: &str,
        when: CloseIf<'_>,
    ) -> Result<Option<Ticket>, Error> {
        let (pk, sk) = keys::ticket(tenant, id);
        let mut req = self
            .update_at((pk, sk))
            .update_expression(
                "SET #st = :closed, close_reason = :why, closed_at = :now, updated_at = :now",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":closed", s("closed"))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":why", s(reason.as_str()))
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew);
        req = match when {
            CloseIf::Open => req.condition_expression("#st = :open"),
            CloseIf::Unanswered { now: cut } => req
                .condition_expression(
                    "#st = :open AND attribute_not_exists(replied_at) AND deadline <= :cut",
                )
                .expression_attribute_values(":cut", s(cut)),
            CloseIf::Idle { activity } => req
                .condition_expression("#st = :open AND last_activity_at = :act")
                .expression_attribute_values(":act", s(activity)),
        };
        let closed: Option<Ticket> = returned(req.send().await.map(|o| o.attributes))?;
        if let Some(t) = &closed {
            if let Some(c) = &t.campaign_id {
                let name = format!("t_{}", reason.as_str());
                self.add_counters(tenant, c, keys::spread(&t.id), &[(name.as_str(), 1)])
                    .await?;
            }
            let (pk, sk) = keys::contact_ticket(&t.account_id, &t.phone);
            let res = self
                .delete_at((pk, sk))
                .condition_expression("id = :id")
                .expression_attribute_values(":id", s(&t.id))
                .send()
                .await;
            conditional(res)?;
        }
        Ok(closed)
    }

    /// A page of a tenant's stored tickets, one shard after another (`cursor`
    /// `{shard}:{last id}`); filters are exact matches on stored fields.
    pub async fn list_tickets(
        &self,
        tenant: &str,
        mut shard: u32,
        mut after: Option<String>,
        limit: i32,
        filters: &[crate::store::Filter<'_>],
    ) -> Result<(Vec<Ticket>, Option<String>), Error> {
        let mut out = Vec::new();
        while shard < keys::TICKET_SHARDS {
            let want = limit - out.len() as i32;
            let (items, next) = self
                .list::<Ticket>(
                    keys::tickets_pk(tenant, shard),
                    "",
                    false,
                    want,
                    after.take(),
                    filters,
                )
                .await?;
            out.extend(items);
            match next {
                Some(n) if out.len() as i32 >= limit => {
                    return Ok((out, Some(format!("{shard}:{n}"))));
                }
                Some(n) => after = Some(n),
                None => {
                    shard += 1;
                    if out.len() as i32 >= limit && shard < keys::TICKET_SHARDS {
                        return Ok((out, Some(format!("{shard}:"))));
                    }
                }
            }
        }
        Ok((out, None))
    }
}

/// A campaign ticket for a message just recorded `sent` (a campaign with a wait).
pub fn campaign_ticket(
    tenant: &str,
    campaign: &pregon::model::Campaign,
    account: &str,
    gen: u32,
    row: u64,
    phone: &str,
    sent_at: &str,
) -> Option<Ticket> {
    let wait = campaign.settings.wait_for_reply_hours;
    if wait == 0 || campaign.single {
        return None;
    }
    let at = pregon::model::parse_time(sent_at).map(format_time)?;
    Some(Ticket {
        id: pregon::model::campaign_ticket_id(&campaign.id, gen, row),
        tenant_id: tenant.to_string(),
        kind: pregon::model::TicketKind::Campaign,
        account_id: account.to_string(),
        phone: phone.to_string(),
        campaign_id: Some(campaign.id.clone()),
        message_id: Some(pregon::sending::message_id(tenant, &campaign.id, gen, row)),
        department: campaign.settings.department.clone(),
        status: TicketStatus::Open,
        close_reason: None,
        deadline: pregon::model::deadline(&at, wait),
        created_at: at.clone(),
        updated_at: at.clone(),
        last_activity_at: at,
        replied_at: None,
        attended_at: None,
        closed_at: None,
        attended_by: None,
        closed_by: None,
        expires_at: Some(campaign.expires_at()),
        reopened_from: None,
    })
}
