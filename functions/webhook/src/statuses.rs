//! Applying statuses: forward only, to this account's messages (named by our own id,
//! else found by the provider's), early ones kept for their sender; and Meta's template
//! status updates.

use crate::{Bad, Known, Webhook};
use pregon::model::Template;
use pregon::providers::inbound::{StatusUpdate, TemplateStatusUpdate};
use pregon::sending::MessageStatus;
use pregon_aws::statuses::{apply, Applied};
use pregon_aws::Error as AwsError;
use tracing::info;

impl Webhook {
    /// Applies statuses, forward only, to this account's messages; keeps those whose
    /// message is not recorded yet.
    /// Whether a status is still kept for a message not recorded yet (the callback came
    /// before the sender's write): the caller has the callback applied again shortly.
    pub(crate) async fn statuses(&self, k: &Known, statuses: &[StatusUpdate]) -> Result<bool, Bad> {
        if statuses.is_empty() {
            return Ok(false);
        }
        let mut still_kept = false;
        let acc = k.account.id.as_str();
        let now = pregon::clock::now_rfc3339();
        // A status that names our message (Meta `biz_opaque_callback_data`, Twilio's
        // StatusCallback `m`) of this account's campaign goes straight to it; the
        // others are looked up by provider id (one batch read).
        let mut named = Vec::new();
        let mut by_index = Vec::new();
        for u in statuses {
            match self.correlated(k, u).await? {
                Some(message) => named.push((message, u)),
                None => by_index.push(u),
            }
        }
        let ours = if by_index.is_empty() {
            Default::default()
        } else {
            let ids: Vec<&str> = by_index
                .iter()
                .map(|s| s.provider_message_id.as_str())
                .collect();
            self.store.messages_by_provider_id(acc, &ids).await?
        };
        let mut kept = Vec::new();
        let mut found = Vec::new();
        for u in by_index {
            match ours.get(&u.provider_message_id) {
                Some(message) => found.push((message.clone(), u)),
                None => {
                    self.store.keep_early_status(acc, u).await?;
                    kept.push(u);
                }
            }
        }
        // Several statuses: one batch request moves the recorded messages they advance.
        // Each one it did not move (and a status alone) gets its own conditional
        // write, which also settles a message whose sender died, and tells a late
        // status from one whose message is not recorded yet.
        let pairs: Vec<(&str, &StatusUpdate)> = named
            .iter()
            .chain(found.iter())
            .map(|(m, u)| (m.as_str(), *u))
            .collect();
        let moved = if pairs.len() > 1 {
            self.store.apply_recorded(&pairs, &now).await?
        } else {
            vec![false; pairs.len()]
        };
        for (i, (message, u)) in pairs.iter().enumerate() {
            if moved[i] {
                continue;
            }
            let a = apply(&self.store, message, u, &now).await?;
            if a == Applied::Unchanged && i < named.len() {
                still_kept |= self.not_applied(acc, message, u, &now).await?;
            }
        }
        // As above: a message recorded while these were kept is applied here.
        if !kept.is_empty() {
            let ids: Vec<&str> = kept
                .iter()
                .map(|s| s.provider_message_id.as_str())
                .collect();
            let now_ours = self.store.messages_by_provider_id(acc, &ids).await?;
            for u in kept {
                match now_ours.get(&u.provider_message_id) {
                    Some(message) => {
                        apply(&self.store, message, u, &now).await?;
                    }
                    None => still_kept = true,
                }
            }
        }
        Ok(still_kept)
    }

    /// A status naming our message that did not apply: not forward — or the message is
    /// not recorded yet (its sender holds it: the callback came before the sender's own
    /// write). Keep it for the sender, as for an unknown provider id.
    async fn not_applied(
        &self,
        acc: &str,
        message: &str,
        u: &StatusUpdate,
        now: &str,
    ) -> Result<bool, Bad> {
        let unrecorded = |m: &Option<pregon_aws::store::RecipientItem>| {
            m.as_ref()
                .is_some_and(|m| m.status == "pending" || m.status == "queued")
        };
        let now_seen = self.store.message_by_id(message).await?;
        let behind = now_seen
            .as_ref()
            .and_then(|m| m.status.parse::<MessageStatus>().ok())
            .is_some_and(|cur| cur.advances(u.status));
        if behind && !unrecorded(&now_seen) {
            // Recorded between the write and this read (the write met an unrecorded
            // message): apply it now.
            apply(&self.store, message, u, now).await?;
        } else if unrecorded(&now_seen) {
            self.store.keep_early_status(acc, u).await?;
            // The provider took it: should its sender die before recording it, the
            // message is settled from this status, not as outcome_unknown.
            self.store
                .note_reported(message, &u.provider_message_id)
                .await?;
            // Recorded meanwhile: apply it here (forward only, so twice is harmless);
            // else the callback is applied again shortly from the retry queue.
            if !unrecorded(&self.store.message_by_id(message).await?) {
                apply(&self.store, message, u, now).await?;
            } else {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The message a status names by our own id, if that is a message of a campaign of
    /// this account (the campaign's account is read once per process).
    async fn correlated(&self, k: &Known, u: &StatusUpdate) -> Result<Option<String>, AwsError> {
        let Some(m) = u.correlation.as_deref() else {
            return Ok(None);
        };
        let Some((tenant, campaign, _, _)) = pregon::sending::parse_message_id(m) else {
            return Ok(None);
        };
        if tenant != k.tenant {
            return Ok(None);
        }
        let cached = self
            .campaign_accounts
            .lock()
            .expect("cache")
            .get(campaign)
            .cloned();
        let account = match cached {
            Some(a) => a,
            None => {
                let Some(c) = self.store.campaign(tenant, campaign).await? else {
                    return Ok(None);
                };
                let a = c.settings.account_id;
                self.campaign_accounts
                    .lock()
                    .expect("cache")
                    .insert(campaign.to_string(), a.clone());
                a
            }
        };
        Ok((account == k.account.id).then(|| m.to_string()))
    }

    /// Meta's `message_template_status_update`: the template registered with this
    /// account (by Meta's id, else name and language) takes the new status at once.
    pub(crate) async fn template_status(
        &self,
        k: &Known,
        u: &TemplateStatusUpdate,
    ) -> Result<(), Bad> {
        let Some(status) = u.status else {
            info!(account = %k.account.id, event = %u.event, "template event with no status of ours");
            return Ok(());
        };
        let pk = pregon::keys::tenant_pk(&k.tenant);
        let mut after = None;
        loop {
            let (page, next) = self
                .store
                .list::<Template>(
                    pk.clone(),
                    pregon::keys::TEMPLATE_PREFIX,
                    false,
                    100,
                    after.take(),
                    &[],
                )
                .await?;
            for mut t in page {
                let ours = t.account_id.as_deref() == Some(k.account.id.as_str());
                let same = t.provider_template_id.as_deref()
                    == Some(u.provider_template_id.as_str())
                    || (t.spec.name == u.name && t.spec.language == u.language);
                if ours && same && (t.status != status || t.rejected_reason != u.reason) {
                    t.status = status;
                    t.rejected_reason = u.reason.clone();
                    self.store
                        .put(pregon::keys::template(&k.tenant, &t.id), &t)
                        .await?;
                    info!(account = %k.account.id, template = %t.id, event = %u.event, "template status from the provider");
                }
            }
            match next {
                Some(n) => after = Some(n),
                None => return Ok(()),
            }
        }
    }
}
