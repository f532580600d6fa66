//! Knowing the account a callback is for (its record, secret and tenant settings,
//! cached a minute; unknown ids remembered too), Meta's `GET` verification handshake,
//! and each provider's own authentication of a `POST`.

use crate::{answer, Answer, Headers, Known, Webhook, CACHE_FOR};
use pregon::model::Account;
use pregon::providers::inbound::AuthError;
use pregon::providers::Callback;
use pregon_aws::transport::account_secret;
use pregon_aws::Error as AwsError;
use std::sync::Arc;
use std::time::Instant;

impl Webhook {
    pub(crate) async fn account(&self, id: &str) -> Result<Option<Arc<Known>>, AwsError> {
        if let Some((at, k)) = self.accounts.lock().expect("cache").get(id) {
            if at.elapsed() < CACHE_FOR {
                return Ok(Some(k.clone()));
            }
        }
        // An account id no account has is remembered a minute (at most 10,000 of them:
        // a flood of made-up ids clears the list rather than growing it).
        if self
            .unknown
            .lock()
            .expect("cache")
            .get(id)
            .is_some_and(|at| at.elapsed() < CACHE_FOR)
        {
            return Ok(None);
        }
        let found = self.load_account(id).await?;
        if found.is_none() {
            let mut unknown = self.unknown.lock().expect("cache");
            if unknown.len() >= 10_000 {
                unknown.clear();
            }
            unknown.insert(id.to_string(), Instant::now());
        }
        Ok(found)
    }

    async fn load_account(&self, id: &str) -> Result<Option<Arc<Known>>, AwsError> {
        let Some(tenant) = self.store.webhook_tenant(id).await? else {
            return Ok(None);
        };
        let Some(account) = self
            .store
            .get::<Account>(pregon::keys::account(&tenant, id))
            .await?
        else {
            return Ok(None);
        };
        let secret = account_secret(&self.aws, &account).await?;
        let settings = self.store.settings(&tenant).await?;
        let k = Arc::new(Known {
            tenant,
            account,
            secret,
            settings,
        });
        self.accounts
            .lock()
            .expect("cache")
            .insert(id.to_string(), (Instant::now(), k.clone()));
        Ok(Some(k))
    }

    /// Meta's `GET` handshake: `hub.challenge` back when `hub.verify_token` is the
    /// account's.
    pub(crate) fn verify_subscription(&self, k: &Known, query: &str) -> Answer {
        match k.adapter().verify_subscription(query) {
            None => answer(405, "only Meta accounts verify by GET"),
            Some(Ok(challenge)) => Answer {
                status: 200,
                content_type: "text/plain",
                body: challenge,
            },
            Some(Err(_)) => answer(403, "verify token does not match"),
        }
    }

    pub(crate) fn authenticate(
        &self,
        k: &Known,
        path: &str,
        query: &str,
        h: &Headers,
        body: &[u8],
    ) -> Result<(), AuthError> {
        // The URL exactly as given to the provider: the configured public base, never
        // one rebuilt from a `Host` header (without one, Twilio's signature is refused).
        let public_url = self.base.as_ref().map(|base| match query {
            "" => format!("{base}{path}"),
            q => format!("{base}{path}?{q}"),
        });
        let callback = Callback {
            public_url: public_url.as_deref(),
            query,
            body,
            meta_signature: h.meta_signature.as_deref(),
            twilio_signature: h.twilio_signature.as_deref(),
        };
        k.adapter()
            .authenticate(&callback, k.secret.webhook_secret.as_deref())
    }
}
