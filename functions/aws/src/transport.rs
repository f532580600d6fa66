//! The one HTTP transport to providers: the adapters (`pregon::providers`) build the
//! request and read the answer; this sends it, with connect and request timeouts, and
//! says whether a failed request may have reached the provider.

use pregon::providers::{Credentials, Endpoints, HttpRequest};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest a provider call may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A call's transport failure: whether the request may have reached the provider.
#[derive(Debug)]
pub enum CallError {
    /// Nothing was sent (connection refused, DNS): safe to send again.
    NotSent(String),
    /// It may have been received: the outcome is unknown.
    Unknown(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotSent(w) | CallError::Unknown(w) => f.write_str(w),
        }
    }
}

#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
    /// Where each provider's API is: `PROVIDER_BASE_URL` (the local simulator) or the real hosts.
    pub endpoints: Endpoints,
}

impl Transport {
    pub fn from_env() -> Result<Self, String> {
        let endpoints = match std::env::var("PROVIDER_BASE_URL") {
            Ok(base) if !base.is_empty() => Endpoints::all_at(&base),
            _ => Endpoints::default(),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Transport { http, endpoints })
    }

    pub async fn send(&self, req: HttpRequest) -> Result<(u16, Vec<u8>), CallError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("a method");
        let mut r = self.http.request(method, &req.url).body(req.body);
        for (k, v) in &req.headers {
            r = r.header(k, v);
        }
        let resp = r.send().await.map_err(|e| {
            if e.is_connect() {
                CallError::NotSent(format!("connection failed: {e}"))
            } else {
                CallError::Unknown(format!("request failed after it left: {e}"))
            }
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| CallError::Unknown(format!("answer cut short: {e}")))?;
        Ok((status, body.to_vec()))
    }
}

/// An account's provider credentials, from its secret.
pub async fn credentials(
    aws: &crate::config::Aws,
    account: &pregon::model::Account,
) -> Result<Credentials, String> {
    Ok(account_secret(aws, account).await?.credentials)
}

/// An account's secret: its provider credentials and its webhook URL secret.
pub struct AccountSecret {
    pub credentials: Credentials,
    /// The secret in the account's `webhook_url` (Gupshup and gateways sign nothing).
    pub webhook_secret: Option<String>,
}

/// The name of the webhook URL secret inside an account's secret.
pub const WEBHOOK_SECRET: &str = "webhook_secret";

pub async fn account_secret(
    aws: &crate::config::Aws,
    account: &pregon::model::Account,
) -> Result<AccountSecret, String> {
    let arn = account
        .credentials_secret_arn
        .clone()
        .ok_or("the account has no credentials")?;
    let secret = aws
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| format!("Secrets Manager: {e}"))?;
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(secret.secret_string().unwrap_or("{}"))
            .map_err(|e| format!("the account's secret is not a JSON object: {e}"))?;
    let webhook_secret = map
        .remove(WEBHOOK_SECRET)
        .and_then(|v| v.as_str().map(str::to_string));
    let provider = serde_json::to_value(account.provider)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(AccountSecret {
        credentials: Credentials::from_secret(&provider, &map)?,
        webhook_secret,
    })
}
