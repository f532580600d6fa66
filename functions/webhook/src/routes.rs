//! Meta routing: the account a Meta change is for when several accounts share one
//! app — by the number or business account the change names — and the cached table
//! of accounts filed under each.

use crate::{Bad, Known, Webhook, CACHE_FOR};
use pregon::providers::inbound::{self, Inbound};
use pregon::providers::Credentials;
use std::sync::Arc;
use std::time::Instant;

impl Webhook {
    /// The accounts a Meta change is for (SPEC §10, issue "two accounts on one app"):
    /// a status or a reply goes to the account of the number the change names — this
    /// URL's, or another account whose credentials hold the same app secret (the
    /// signature was checked with it); a template update to every such account of the
    /// business account it names. None: the number belongs to no account of this app
    /// here, and the change is ignored (counted, never applied). A change that names no
    /// number (not one Meta sends) stays with this URL's account.
    pub(crate) async fn meta_targets(
        &self,
        k: &Arc<Known>,
        route: &pregon::providers::meta::Route,
        e: &Inbound,
    ) -> Result<Vec<Arc<Known>>, Bad> {
        let Credentials::Meta {
            app_secret,
            phone_number_id,
            waba_id,
            ..
        } = &k.secret.credentials
        else {
            return Ok(vec![k.clone()]);
        };
        let (kind, id, own) = match e {
            Inbound::Ignored { .. } => return Ok(Vec::new()),
            Inbound::TemplateStatus(_) => ("waba", &route.waba_id, waba_id),
            _ => ("number", &route.phone_number_id, phone_number_id),
        };
        let Some(id) = id else {
            return Ok(vec![k.clone()]);
        };
        let mut to = Vec::new();
        if id == own {
            to.push(k.clone());
            if kind == "number" {
                return Ok(to);
            }
        }
        for account in self.meta_routes(kind, id).await? {
            if account == k.account.id {
                continue;
            }
            let Some(other) = self.account(&account).await.map_err(Bad::Store)? else {
                continue;
            };
            let same_app = matches!(&other.secret.credentials,
                Credentials::Meta { app_secret: theirs, phone_number_id: n, waba_id: w, .. }
                    if inbound::secret_eq(theirs, app_secret)
                        && (if kind == "number" { n } else { w }) == id);
            if same_app {
                to.push(other);
                if kind == "number" {
                    break;
                }
            }
        }
        Ok(to)
    }

    /// The accounts filed under a Meta number or business account, kept a minute.
    async fn meta_routes(&self, kind: &str, id: &str) -> Result<Vec<String>, Bad> {
        let key = format!("{kind}#{id}");
        if let Some((at, v)) = self.routes.lock().expect("cache").get(&key) {
            if at.elapsed() < CACHE_FOR {
                return Ok(v.clone());
            }
        }
        let found = self.store.meta_routes(kind, id).await?;
        self.routes
            .lock()
            .expect("cache")
            .insert(key, (Instant::now(), found.clone()));
        Ok(found)
    }
}
