//! Tickets (SPEC §5) and the tenant's settings: `GET /v1/tickets`, `GET
//! /v1/tickets/{id}`, `POST /v1/tickets/{id}/reply|attend|close`, `GET|PATCH
//! /v1/settings`.
//!
//! Stored tickets (campaigns with a reply wait, inbound conversations) are listed from
//! the tenant's ticket partitions. An informative campaign's tickets are born closed
//! and never stored: with `campaign_id` of such a campaign the list is a view of its
//! sent messages (`closed`, `informative`).

use crate::views::{TicketDetail, TicketView};
use crate::{invalid, not_found, problem, reply, Api, Reply};
use pregon::keys;
use pregon::model::{
    format_time, Account, Campaign, CampaignSettings, CampaignStatus, CloseReason, FieldError,
    Ticket, TicketEntry, TicketStatus,
};
use pregon::validate::Channel;
use pregon_aws::store::{Filter, RecipientItem};
use pregon_aws::tickets::CloseIf;
use pregon_aws::Error as AwsError;
use serde_json::{json, Value};
use tracing::info;

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.to_string(),
        message: message.to_string(),
    }
}

/// Message statuses that mean the provider took it (a ticket exists).
fn was_sent(status: &str) -> bool {
    matches!(status, "sent" | "delivered" | "read" | "replied")
}

impl Api {
    /// `GET /v1/tickets?status=&campaign_id=&department=&limit=&cursor=`.
    pub(crate) async fn list_tickets(
        &self,
        tenant: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let mut bad = Vec::new();
        let known = ["status", "campaign_id", "department", "limit", "cursor"];
        for (k, _) in query {
            if !known.contains(&k.as_str()) {
                bad.push(field(k, "is not a known filter"));
            }
        }
        let limit = match get("limit").map(|l| l.parse::<i32>()) {
            None => 50,
            Some(Ok(l)) if (1..=500).contains(&l) => l,
            Some(_) => {
                bad.push(field("limit", "must be a whole number from 1 to 500"));
                50
            }
        };
        let status = match get("status").map(|s| s.parse::<TicketStatus>()) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                bad.push(field("status", &e));
                None
            }
        };
        let cursor = get("cursor");
        let (shard, after) = match cursor.as_deref() {
            None => (0u32, None),
            Some(c) => match c.split_once(':').and_then(|(s, id)| {
                let s = s.parse::<u32>().ok()?;
                (s < keys::TICKET_SHARDS && id.len() <= 200 && !id.contains('#')).then_some((s, id))
            }) {
                Some((s, "")) => (s, None),
                Some((s, id)) => (s, Some(id.to_string())),
                None => {
                    bad.push(field("cursor", "is not a cursor this API gave"));
                    (0, None)
                }
            },
        };
        if !bad.is_empty() {
            return Ok(invalid(bad));
        }
        let campaign_id = get("campaign_id");
        if let Some(cid) = &campaign_id {
            let Some(c) = self.store.campaign(tenant, cid).await? else {
                return Ok(invalid(vec![field("campaign_id", "no such campaign")]));
            };
            if c.settings.wait_for_reply_hours == 0 {
                return self
                    .informative_tickets(tenant, &c, status, get("department"), query)
                    .await;
            }
        }
        let mut filters: Vec<Filter> = Vec::new();
        if let Some(s) = status {
            filters.push(Filter::Eq("status", s.as_str().to_string()));
        }
        if let Some(c) = campaign_id {
            filters.push(Filter::Eq("campaign_id", c));
        }
        if let Some(d) = get("department") {
            filters.push(Filter::Eq("department", d));
        }
        let (items, next) = self
            .store
            .list_tickets(tenant, shard, after, limit, &filters)
            .await?;
        Ok(reply(
            200,
            json!({"items": items.iter().map(TicketView::from).collect::<Vec<_>>(), "next_cursor": next}),
        ))
    }

    /// An informative campaign's tickets: its sent messages, closed `informative`.
    async fn informative_tickets(
        &self,
        tenant: &str,
        c: &Campaign,
        status: Option<TicketStatus>,
        department: Option<String>,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let wrong_department = department.is_some() && department != c.settings.department;
        if status == Some(TicketStatus::Open) || wrong_department {
            return Ok(reply(200, json!({"items": [], "next_cursor": null})));
        }
        let q: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k == "limit" || k == "cursor")
            .cloned()
            .collect();
        let page = self.messages_page(tenant, c, &q).await?;
        let (items, next) = match page {
            Ok(p) => p,
            Err(r) => return Ok(r),
        };
        let views: Vec<TicketView> = items
            .iter()
            .filter(|m| was_sent(&m.status))
            .map(|m| TicketView::informative(tenant, c, m))
            .collect();
        Ok(reply(200, json!({"items": views, "next_cursor": next})))
    }

    /// `GET /v1/tickets/{id}`: the ticket and its conversation.
    pub(crate) async fn get_ticket(&self, tenant: &str, id: &str) -> Result<Reply, AwsError> {
        if let Some(t) = self.store.ticket(tenant, id).await? {
            let entries = self.store.entries(tenant, id, 500).await?;
            let v = TicketDetail::new(TicketView::from(&t), entries);
            return Ok(reply(200, json!(v)));
        }
        // An informative campaign's ticket is a view of its message.
        if let Some((cid, gen, row)) = pregon::model::parse_campaign_ticket_id(id) {
            if let Some(c) = self.store.campaign(tenant, cid).await? {
                if c.settings.wait_for_reply_hours == 0 && gen == c.recipient_gen {
                    let m: Option<RecipientItem> = self
                        .store
                        .get(keys::recipient(tenant, cid, gen, row))
                        .await?;
                    if let Some(m) = m.filter(|m| was_sent(&m.status)) {
                        let v = TicketDetail::new(TicketView::informative(tenant, &c, &m), vec![]);
                        return Ok(reply(200, json!(v)));
                    }
                }
            }
        }
        Ok(not_found("ticket"))
    }

    async fn open_ticket(&self, tenant: &str, id: &str) -> Result<Result<Ticket, Reply>, AwsError> {
        match self.store.ticket(tenant, id).await? {
            None => {
                // An informative ticket exists (as a view) but is closed.
                let r = self.get_ticket(tenant, id).await?;
                if r.status == 200 {
                    Ok(Err(problem(
                        409,
                        "ticket_closed",
                        "the ticket is closed (informative)",
                    )))
                } else {
                    Ok(Err(r))
                }
            }
            Some(t) if t.status == TicketStatus::Closed => Ok(Err(problem(
                409,
                "ticket_closed",
                &format!(
                    "the ticket is closed ({})",
                    t.close_reason.map(|r| r.as_str()).unwrap_or("closed")
                ),
            ))),
            Some(t) => Ok(Ok(t)),
        }
    }

    /// `POST /v1/tickets/{id}/reply` `{"text": "…"}`: a free-form message to the
    /// ticket's phone through the sender path. WhatsApp allows it only within 24 hours
    /// of the customer's last message (SPEC §9): outside it, 409 `window_expired`.
    pub(crate) async fn ticket_reply(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
        by: Option<&str>,
    ) -> Result<Reply, AwsError> {
        let b: Value = match crate::read_json(body) {
            Ok(b) => b,
            Err(_) => return Ok(invalid(vec![field("body", "must be a JSON object")])),
        };
        let mut bad = Vec::new();
        if let Some(o) = b.as_object() {
            for k in o.keys().filter(|k| *k != "text") {
                bad.push(field(k, "is not a known field"));
            }
        }
        let text = b.get("text").and_then(Value::as_str).map(str::trim);
        match text {
            None | Some("") => bad.push(field("text", "is required")),
            Some(t) if t.chars().count() > 4096 => {
                bad.push(field("text", "must be at most 4,096 characters"))
            }
            Some(t) if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
                bad.push(field("text", "must not contain control characters"))
            }
            _ => {}
        }
        if !bad.is_empty() {
            return Ok(invalid(bad));
        }
        let text = text.expect("checked");
        let t = match self.open_ticket(tenant, id).await? {
            Ok(t) => t,
            Err(r) => return Ok(r),
        };
        let Some(account) = self
            .store
            .get::<Account>(keys::account(tenant, &t.account_id))
            .await?
        else {
            return Ok(problem(
                409,
                "account_gone",
                "the ticket's account no longer exists",
            ));
        };
        let now_t = time::OffsetDateTime::now_utc();
        if account.channel == Channel::Whatsapp {
            let last = self.store.last_inbound(&t.account_id, &t.phone).await?;
            if !pregon::model::window_open(last.as_deref(), now_t) {
                let since = last
                    .map(|l| format!("the customer last wrote at {l}"))
                    .unwrap_or_else(|| "the customer has not written".into());
                return Ok(problem(
                    409,
                    "window_expired",
                    &format!("{since}: outside WhatsApp's 24-hour window only an approved template can be sent (send one with POST /v1/tickets/{{id}}/template)"),
                ));
            }
        }
        let message_id = self
            .send_free_form(tenant, &account, &t.phone, text)
            .await?;
        let now = format_time(now_t);
        let entry = TicketEntry {
            direction: "out".into(),
            kind: "text".into(),
            text: Some(text.to_string()),
            button_payload: None,
            media: Vec::new(),
            provider_message_id: None,
            message_id: Some(message_id.clone()),
            author: by.map(str::to_string),
            at: now.clone(),
        };
        self.store.add_entry(tenant, &t, &entry).await?;
        // An agent's reply after the customer's is a take, like `attend` (SPEC §6).
        let takes = t.replied_at.is_some();
        if let Some(touched) = self
            .store
            .touch_ticket(tenant, &t.id, &now, false, takes)
            .await?
        {
            if takes && t.attended_at.is_none() {
                self.count_attend(tenant, &touched, &now).await?;
            }
            let s = self.store.settings(tenant).await?;
            self.store
                .schedule_idle(&touched, s.idle_close_hours)
                .await?;
        }
        info!(tenant, ticket = %t.id, "agent reply accepted");
        Ok(reply(
            202,
            json!({"ticket_id": t.id, "message_id": message_id, "status": "pending"}),
        ))
    }

    /// `POST /v1/tickets/{id}/template` `{template_id, params}`: an approved template of
    /// the ticket's account sent to its phone (the only message WhatsApp delivers once
    /// the 24-hour window has closed), recorded in the conversation. A closed ticket is
    /// reopened as a new ticket (`reopened_from` the old one) that waits 24 hours for
    /// the customer's answer like a campaign ticket; answered 202 with the ticket the
    /// template went on.
    pub(crate) async fn ticket_template(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
        by: Option<&str>,
    ) -> Result<Reply, AwsError> {
        let b: Value = match crate::read_json(body) {
            Ok(b) => b,
            Err(_) => return Ok(invalid(vec![field("body", "must be a JSON object")])),
        };
        let Some(o) = b.as_object() else {
            return Ok(invalid(vec![field("body", "must be a JSON object")]));
        };
        let unknown: Vec<_> = o
            .keys()
            .filter(|k| !["template_id", "params"].contains(&k.as_str()))
            .map(|k| field(k, "is not a known field"))
            .collect();
        if !unknown.is_empty() {
            return Ok(invalid(unknown));
        }
        if o.get("template_id").and_then(Value::as_str).is_none() {
            return Ok(invalid(vec![field("template_id", "is required")]));
        }
        let Some(t) = self.store.ticket(tenant, id).await? else {
            return Ok(not_found("ticket"));
        };
        let Some(account) = self
            .store
            .get::<Account>(keys::account(tenant, &t.account_id))
            .await?
        else {
            return Ok(problem(
                409,
                "account_gone",
                "the ticket's account no longer exists",
            ));
        };
        // Nothing goes to a phone that asked not to be contacted (the sender would block
        // it; the conversation must not show a template the customer never got).
        let scope = t.campaign_id.as_deref().unwrap_or("-");
        if !self
            .store
            .do_not_contact(tenant, scope, &[t.phone.as_str()])
            .await?
            .is_empty()
        {
            return Ok(problem(
                409,
                "do_not_contact",
                "the phone is on the do-not-contact list: nothing was sent",
            ));
        }
        // A closed ticket whose phone has an open one since (the customer wrote again):
        // the template goes on that one, never a second open ticket for the phone.
        let t = match (
            t.status,
            self.store.contact_ticket(&account.id, &t.phone).await?,
        ) {
            (TicketStatus::Closed, Some((owner, open))) if owner == tenant && open != t.id => {
                match self.store.ticket(tenant, &open).await? {
                    Some(o) if o.status == TicketStatus::Open => o,
                    _ => t,
                }
            }
            _ => t,
        };
        let mut message = o.clone();
        message.insert("phone".into(), json!(t.phone));
        let sent = match self
            .send_single(
                tenant,
                &account,
                &message,
                pregon::model::CampaignKind::Reply,
            )
            .await?
        {
            Ok(sent) => sent,
            Err(r) => return Ok(r),
        };
        let now = pregon::clock::now_rfc3339();
        let on = if t.status == TicketStatus::Open {
            t
        } else {
            let mut reopened = Ticket::inbound(tenant, &account.id, &t.phone, &now);
            reopened.department = t.department.clone();
            reopened.reopened_from = Some(t.id.clone());
            reopened.deadline = pregon::model::deadline(&now, 24);
            let retention = self.store.settings(tenant).await?.retention_days;
            reopened.expires_at = Some(pregon::model::retention_expiry(
                pregon::clock::unix_now(),
                retention,
            ));
            self.store
                .open_tickets(std::slice::from_ref(&reopened))
                .await?;
            reopened
        };
        let entry = TicketEntry {
            direction: "out".into(),
            kind: "template".into(),
            text: Some(sent.text),
            button_payload: None,
            media: Vec::new(),
            provider_message_id: None,
            message_id: Some(sent.message_id.clone()),
            author: by.map(str::to_string),
            at: now.clone(),
        };
        self.store.add_entry(tenant, &on, &entry).await?;
        // Its activity moved: the idle close is scheduled again from it, as for a reply.
        if let Some(touched) = self
            .store
            .touch_ticket(tenant, &on.id, &now, false, false)
            .await?
        {
            let s = self.store.settings(tenant).await?;
            self.store
                .schedule_idle(&touched, s.idle_close_hours)
                .await?;
        }
        info!(tenant, ticket = %on.id, reopened = on.reopened_from.is_some(), "template sent on a ticket");
        Ok(reply(
            202,
            json!({"ticket_id": on.id, "message_id": sent.message_id, "status": "pending",
                "reopened_from": on.reopened_from}),
        ))
    }

    /// One free-form message through the normal path (dispatch → sender), as a hidden
    /// single campaign.
    async fn send_free_form(
        &self,
        tenant: &str,
        account: &Account,
        phone: &str,
        text: &str,
    ) -> Result<String, AwsError> {
        let settings = CampaignSettings::free_form(&account.id, account.channel);
        let id = pregon::model::new_id("cmp");
        let now = pregon::clock::now_rfc3339();
        let mut c = Campaign::new(
            id.clone(),
            tenant,
            settings,
            0,
            account.default_country.clone(),
            &now,
        );
        c.status = CampaignStatus::Sending;
        c.single = true;
        c.kind = pregon::model::CampaignKind::Reply;
        c.counts.rows = 1;
        c.counts.valid_rows = 1;
        c.counts.unique_phones = 1;
        c.recipient_gen = 1;
        c.clean_below = 1;
        c.validated_at = Some(now.clone());
        c.sending_started_at = Some(now.clone());
        let phone: pregon::phone::Phone = phone
            .parse()
            .map_err(|_| AwsError::Shape("a ticket's phone is not E.164".into()))?;
        let recipient = pregon::validate::Recipient {
            row: 2,
            phone,
            params: Vec::new(),
            metadata: Vec::new(),
            message: Some(text.to_string()),
            priority: None,
            sms: None,
        };
        c.retention_days = self.store.settings(tenant).await?.retention_days;
        self.store.put_campaign(&c).await?;
        let put = self
            .store
            .recipient_put(tenant, &id, 1, &recipient, c.expires_at())?;
        self.store.batch_write(vec![put]).await?;
        self.request_dispatch(tenant, &id).await?;
        Ok(pregon::sending::message_id(tenant, &id, 1, recipient.row))
    }

    /// Counts a ticket taken (`attend`, or an agent's reply) after the customer replied,
    /// the first time only (SPEC §6; the caller saw it untaken, and this call's time is
    /// the one kept): a campaign's ticket in its campaign's `attended`;
    /// an inbound ticket in its account's (all time and per UTC day), which analytics
    /// reports by account.
    async fn count_attend(&self, tenant: &str, t: &Ticket, now: &str) -> Result<(), AwsError> {
        let first = t.attended_at.as_deref() == Some(now);
        if !first || t.replied_at.is_none() {
            return Ok(());
        }
        let shard = t.id.len() as u32;
        match &t.campaign_id {
            Some(c) => {
                self.store
                    .add_counters(tenant, c, shard, &[("k_attended", 1)])
                    .await
            }
            None => {
                for bucket in pregon::keys::inbound_buckets(&t.account_id, &now[..10]) {
                    self.store
                        .add_counters(tenant, &bucket, shard, &[("k_attended", 1)])
                        .await?;
                }
                Ok(())
            }
        }
    }

    /// `POST /v1/tickets/{id}/attend`: a person took the ticket (the attended rate).
    pub(crate) async fn ticket_attend(
        &self,
        tenant: &str,
        id: &str,
        by: Option<&str>,
    ) -> Result<Reply, AwsError> {
        let t = match self.open_ticket(tenant, id).await? {
            Ok(t) => t,
            Err(r) => return Ok(r),
        };
        let before = t.attended_at.clone();
        let now = pregon::clock::now_rfc3339();
        match self
            .store
            .touch_ticket(tenant, &t.id, &now, false, true)
            .await?
        {
            Some(mut t) => {
                if before.is_none() {
                    self.count_attend(tenant, &t, &now).await?;
                }
                if let Some(by) = by {
                    self.store
                        .note_ticket_actor(tenant, &t.id, "attended_by", by)
                        .await?;
                    t.attended_by = Some(by.to_string());
                }
                let s = self.store.settings(tenant).await?;
                if t.replied_at.is_some() {
                    self.store.schedule_idle(&t, s.idle_close_hours).await?;
                }
                Ok(reply(200, json!(TicketView::from(&t))))
            }
            None => Ok(problem(409, "ticket_closed", "the ticket closed meanwhile")),
        }
    }

    /// `POST /v1/tickets/{id}/close`: closed by an agent.
    pub(crate) async fn ticket_close(
        &self,
        tenant: &str,
        id: &str,
        by: Option<&str>,
    ) -> Result<Reply, AwsError> {
        let t = match self.open_ticket(tenant, id).await? {
            Ok(t) => t,
            Err(r) => return Ok(r),
        };
        let now = pregon::clock::now_rfc3339();
        match self
            .store
            .close_ticket(tenant, &t.id, CloseReason::Agent, &now, CloseIf::Open)
            .await?
        {
            Some(mut t) => {
                if let Some(by) = by {
                    self.store
                        .note_ticket_actor(tenant, &t.id, "closed_by", by)
                        .await?;
                    t.closed_by = Some(by.to_string());
                }
                self.events
                    .publish(vec![pregon_aws::events::ticket_closed(
                        tenant,
                        &t.id,
                        t.campaign_id.as_deref(),
                        CloseReason::Agent.as_str(),
                        &now,
                    )])
                    .await;
                Ok(reply(200, json!(TicketView::from(&t))))
            }
            None => Ok(problem(409, "ticket_closed", "the ticket closed meanwhile")),
        }
    }

    /// `GET /v1/settings`.
    pub(crate) async fn get_settings(&self, tenant: &str) -> Result<Reply, AwsError> {
        let s = self.store.settings(tenant).await?;
        Ok(reply(200, json!(s)))
    }

    /// `PATCH /v1/settings` `{"idle_close_hours"?, "opt_out_words"?}`.
    pub(crate) async fn patch_settings(
        &self,
        tenant: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let b: Value = match crate::read_json(body) {
            Ok(b) => b,
            Err(_) => return Ok(invalid(vec![field("body", "must be a JSON object")])),
        };
        let s = self.store.settings(tenant).await?;
        match s.patched(&b) {
            Ok(next) => {
                // Reports may come only from an address the operator approved for this
                // tenant (or the deployment's own ReportSender, when none is set).
                if let Some(from) = next.report_sender.as_deref() {
                    if next.report_sender != s.report_sender
                        && !self.store.report_sender_approved(tenant, from).await?
                    {
                        return Ok(invalid(vec![field(
                            "report_sender",
                            "is not an address the operator approved for this tenant (pregon admin report-sender approve); leave it null to use the deployment's sender",
                        )]));
                    }
                }
                self.store.put_settings(tenant, &next).await?;
                Ok(reply(200, json!(next)))
            }
            Err(e) => Ok(invalid(e)),
        }
    }
}
