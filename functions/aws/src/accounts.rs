//! A provider account's life: disabled and enabled, with the campaigns disabling it
//! paused (so enabling resumes exactly those), and deleted.

use crate::store::{conditional, s, Store};
use crate::Error;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use pregon::keys;

impl Store {
    /// Marks the account disabled at `at` (senders and dispatch stop starting its work).
    pub async fn set_account_disabled(
        &self,
        tenant: &str,
        id: &str,
        at: &str,
    ) -> Result<(), Error> {
        let res = self
            .update_at(keys::account(tenant, id))
            .update_expression("SET disabled_at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        conditional(res).map(|_| ())
    }

    /// Adds campaigns to the ones a disabled account paused (dispatch adds a scheduled
    /// one that came due meanwhile). `false` when the account is not disabled (any more).
    pub async fn add_account_paused(
        &self,
        tenant: &str,
        id: &str,
        campaigns: &[String],
    ) -> Result<bool, Error> {
        if campaigns.is_empty() {
            return Ok(true);
        }
        let list = AttributeValue::L(campaigns.iter().map(|c| s(c.as_str())).collect());
        let res = self
            .update_at(keys::account(tenant, id))
            .update_expression(
                "SET paused_campaigns = list_append(if_not_exists(paused_campaigns, :none), :ids)",
            )
            .condition_expression("attribute_exists(disabled_at)")
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":ids", list)
            .send()
            .await;
        conditional(res)
    }

    /// Marks the account enabled; the campaigns disabling it paused, to resume (taken
    /// from the item in the same write, so each is resumed once).
    pub async fn set_account_enabled(&self, tenant: &str, id: &str) -> Result<Vec<String>, Error> {
        let out = self
            .update_at(keys::account(tenant, id))
            .update_expression("REMOVE disabled_at, paused_campaigns")
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match out {
            Ok(o) => o.attributes.unwrap_or_default(),
            Err(e) => {
                conditional::<(), _, _>(Err(e))?;
                return Ok(Vec::new());
            }
        };
        Ok(match old.get("paused_campaigns") {
            Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
            _ => Vec::new(),
        })
    }
}

impl Store {
    /// Deletes the account's items: the account, its webhook route, and (Meta) its
    /// routes by number and business account.
    pub async fn delete_account(
        &self,
        tenant: &str,
        id: &str,
        meta: Option<(&str, &str)>,
    ) -> Result<(), Error> {
        let mut items = vec![keys::account(tenant, id), keys::webhook_account(id)];
        if let Some((number, waba)) = meta {
            items.push(keys::meta_route("number", number, id));
            items.push(keys::meta_route("waba", waba, id));
        }
        for key in items {
            self.delete(key).await?;
        }
        Ok(())
    }
}
