//! A customer's reply: claimed once, matched to the message it quotes or the phone's
//! open ticket (taken before the closer can close it), else an inbound ticket; the
//! answered message `replied`; an opt-out onto the do-not-contact list.

use crate::{Bad, Known, Webhook};
use pregon::clock::unix_now;
use pregon::model::{CloseReason, MediaRef, Ticket, TicketEntry, TicketStatus};
use pregon::providers::inbound::{Reply, StatusUpdate};
use pregon::sending::MessageStatus;
use pregon_aws::events::{self, Event};
use pregon_aws::statuses::apply;
use pregon_aws::tickets::{CloseIf, InboundClaim};
use pregon_aws::Error as AwsError;
use tracing::info;

impl Webhook {
    /// A customer's message (SPEC §5): matched to the message it answers (the
    /// provider's context), else to the phone's latest open ticket with this account,
    /// else it opens an `inbound` ticket — never dropped. Stored on the ticket; the
    /// message becomes `replied`; the 24-hour window reopens; an opt-out word or "stop"
    /// button puts the phone on the do-not-contact list and closes the ticket
    /// `opted_out`; otherwise the ticket is scheduled to close `idle`.
    pub(crate) async fn reply(
        &self,
        k: &Known,
        r: &Reply,
        published: &mut Vec<Event>,
    ) -> Result<(), Bad> {
        let acc = k.account.id.as_str();
        let tenant = k.tenant.as_str();
        if !self.claim_reply(acc, r).await? {
            return Ok(());
        }
        let now = pregon::clock::now_rfc3339();
        let at = r.at.clone().unwrap_or_else(|| now.clone());
        let answered = self.quoted_message(acc, r).await?;
        let (ticket, mut touched) = self
            .take_open_ticket(k, r, answered.as_deref(), &now)
            .await?;
        let replied = self
            .replied_message(k, r, answered, ticket.as_ref(), &now, &at)
            .await?;
        let ticket = match ticket {
            Some(t) => t,
            None => {
                let mut t = Ticket::inbound(tenant, acc, &r.from_phone, &now);
                let days = k.settings.retention_days;
                t.expires_at = Some(pregon::model::retention_expiry(unix_now(), days));
                self.store.open_inbound_ticket(&t).await?;
                info!(account = acc, ticket = %t.id, "a message that matched no open ticket opened an inbound ticket");
                touched = self
                    .store
                    .touch_ticket(tenant, &t.id, &now, true, false)
                    .await?;
                t
            }
        };
        self.store
            .add_entry(tenant, &ticket, &reply_entry(r, &at))
            .await?;
        published.push(events::reply_received(
            tenant,
            acc,
            &ticket.id,
            ticket.campaign_id.as_deref(),
            replied.as_deref(),
            &r.from_phone,
            r.text.as_deref(),
            r.button_payload.as_deref(),
            &at,
        ));
        self.store.saw_inbound(acc, &r.from_phone, &at).await?;
        let words: Vec<&str> = k
            .settings
            .opt_out_words
            .iter()
            .map(String::as_str)
            .collect();
        if r.is_opt_out(&words) {
            self.opt_out(k, r, &ticket, &now, published).await?;
        } else if let Some(t) = touched {
            self.store
                .schedule_idle(&t, k.settings.idle_close_hours)
                .await?;
        }
        self.store
            .inbound_done(acc, &r.provider_message_id, &ticket.id)
            .await?;
        Ok(())
    }

    /// Claims an inbound message (a conditional put on the provider's id), so two
    /// deliveries of one message at once never both take it in: `false` when it was
    /// taken in already.
    async fn claim_reply(&self, acc: &str, r: &Reply) -> Result<bool, Bad> {
        match self
            .store
            .claim_inbound(acc, &r.provider_message_id)
            .await?
        {
            InboundClaim::Mine => Ok(true),
            InboundClaim::Done => {
                info!(
                    account = acc,
                    "a repeated inbound callback: already taken in"
                );
                Ok(false)
            }
            // Kept and applied again shortly; by then the other call has finished (or
            // its claim expired and this one takes it in).
            InboundClaim::InFlight => Err(Bad::Store(AwsError::Dynamo(
                "the same inbound message is being taken in by another call".into(),
            ))),
        }
    }

    /// Our message the reply quotes (the provider's context), if it names one of ours.
    async fn quoted_message(&self, acc: &str, r: &Reply) -> Result<Option<String>, Bad> {
        let Some(to) = &r.replied_to else {
            return Ok(None);
        };
        let ours = self
            .store
            .messages_by_provider_id(acc, &[to.as_str()])
            .await?;
        Ok(ours.get(to).cloned())
    }

    /// The open ticket the reply lands on — the quoted message's, else the phone's
    /// latest open ticket with the account — taken first (a conditional write marking
    /// it replied), so the closer can no longer close it `no_reply` or idle under this
    /// reply; a ticket that closed meanwhile gives way to an inbound one (no reply is
    /// dropped). The ticket, and the ticket as the write left it.
    async fn take_open_ticket(
        &self,
        k: &Known,
        r: &Reply,
        answered: Option<&str>,
        now: &str,
    ) -> Result<(Option<Ticket>, Option<Ticket>), Bad> {
        let (acc, tenant) = (k.account.id.as_str(), k.tenant.as_str());
        let open = |t: Option<Ticket>| t.filter(|t| t.status == TicketStatus::Open);
        let mut ticket = None;
        if let Some((_, c, gen, row)) = answered.and_then(pregon::sending::parse_message_id) {
            let id = pregon::model::campaign_ticket_id(c, gen, row);
            ticket = open(self.store.ticket(tenant, &id).await?);
        }
        if ticket.is_none() {
            if let Some((t, id)) = self.store.contact_ticket(acc, &r.from_phone).await? {
                if t == tenant {
                    ticket = open(self.store.ticket(tenant, &id).await?);
                }
            }
        }
        let Some(t) = ticket else {
            return Ok((None, None));
        };
        let touched = self
            .store
            .touch_ticket(tenant, &t.id, now, true, false)
            .await?;
        if touched.is_none() {
            info!(account = acc, ticket = %t.id, "the ticket closed meanwhile: the reply opens an inbound ticket");
            return Ok((None, None));
        }
        Ok((Some(t), touched))
    }

    /// The message the reply answers — named by the provider, else the matched
    /// ticket's, else the latest an informative campaign sent the phone from this
    /// account in the last day (SPEC §6: its reply counts as the campaign's) — moved to
    /// `replied`.
    async fn replied_message(
        &self,
        k: &Known,
        r: &Reply,
        answered: Option<String>,
        ticket: Option<&Ticket>,
        now: &str,
        at: &str,
    ) -> Result<Option<String>, Bad> {
        let (acc, tenant) = (k.account.id.as_str(), k.tenant.as_str());
        let mut replied = answered.or_else(|| ticket.and_then(|t| t.message_id.clone()));
        if replied.is_none() && ticket.is_none() {
            replied = self
                .store
                .latest_sent(acc, &r.from_phone, pregon::clock::unix_now())
                .await?
                .filter(|c| c.t == tenant)
                .map(|c| c.message_id);
        }
        if let Some(message) = &replied {
            let u = StatusUpdate {
                provider_message_id: r.replied_to.clone().unwrap_or_default(),
                status: MessageStatus::Replied,
                provider_status: "reply".into(),
                at: Some(at.to_string()),
                error_code: None,
                error_message: None,
                correlation: None,
            };
            apply(&self.store, message, &u, now).await?;
        }
        Ok(replied)
    }

    /// An opt-out reply (SPEC §8): the phone on the tenant's do-not-contact list, the
    /// ticket closed `opted_out`, both published.
    async fn opt_out(
        &self,
        k: &Known,
        r: &Reply,
        ticket: &Ticket,
        now: &str,
        published: &mut Vec<Event>,
    ) -> Result<(), Bad> {
        let (acc, tenant) = (k.account.id.as_str(), k.tenant.as_str());
        self.store
            .dnc_put(tenant, &[(r.from_phone.clone(), None)], now, None)
            .await?;
        let closed = self
            .store
            .close_ticket(
                tenant,
                &ticket.id,
                CloseReason::OptedOut,
                now,
                CloseIf::Open,
            )
            .await?;
        published.push(events::opted_out(
            tenant,
            acc,
            &r.from_phone,
            &ticket.id,
            now,
        ));
        if closed.is_some() {
            published.push(events::ticket_closed(
                tenant,
                &ticket.id,
                ticket.campaign_id.as_deref(),
                CloseReason::OptedOut.as_str(),
                now,
            ));
        }
        info!(
            account = acc,
            phone = %pregon::phone::mask(&r.from_phone),
            ticket = %ticket.id,
            "opt-out: the phone is on the do-not-contact list"
        );
        Ok(())
    }
}

/// A customer's message as a line of its ticket's conversation.
fn reply_entry(r: &Reply, at: &str) -> TicketEntry {
    TicketEntry {
        author: None,
        direction: "in".into(),
        kind: format!("{:?}", r.kind).to_lowercase(),
        text: r.text.clone(),
        button_payload: r.button_payload.clone(),
        media: r
            .media
            .iter()
            .map(|m| MediaRef {
                id: m.id.clone(),
                url: m.url.clone(),
                mime: m.mime.clone(),
            })
            .collect(),
        provider_message_id: Some(r.provider_message_id.clone()),
        message_id: None,
        at: at.to_string(),
    }
}
