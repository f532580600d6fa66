//! The one HTTP transport to providers: the adapters (`pregon::providers`) build the
//! request and read the answer; this sends it, with connect and request timeouts, and
//! says whether a failed request may have reached the provider.

use pregon::providers::{Credentials, Endpoints, HttpRequest};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest a provider call may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer read: a provider's answer is a few hundred bytes.
pub const MAX_ANSWER: usize = 64 * 1024;

/// DNS answers with public addresses only: a provider URL a tenant gave (an SMS
/// gateway's) can never reach the stack's own network, not even through a name that
/// resolves to a private address now and then (DNS rebinding: the address checked is
/// the one connected to).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| pregon::model::public_ip(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

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
    /// Connect to public addresses only (everywhere but the local stack).
    public_only: bool,
}

impl Transport {
    pub fn from_env() -> Result<Self, crate::Error> {
        let endpoints = match std::env::var("PROVIDER_BASE_URL") {
            Ok(base) if !base.is_empty() => Endpoints::all_at(&base),
            _ => Endpoints::default(),
        };
        // The local stack's simulator listens on loopback.
        let local = std::env::var("PREGON_ALLOW_HTTP_PROVIDERS").as_deref() == Ok("1");
        let mut b = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A provider's API answers; it never sends us elsewhere.
            .redirect(reqwest::redirect::Policy::none());
        if !local {
            b = b.dns_resolver(PublicOnly);
        }
        let http = b
            .build()
            .map_err(|e| crate::Error::Config(format!("HTTP client: {e}")))?;
        Ok(Transport {
            http,
            endpoints,
            public_only: !local,
        })
    }

    pub async fn send(&self, req: HttpRequest) -> Result<(u16, Vec<u8>), CallError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("a method");
        // An address in the URL is not resolved: check it here.
        if self.public_only {
            let url = reqwest::Url::parse(&req.url)
                .map_err(|e| CallError::NotSent(format!("not a URL: {e}")))?;
            let literal = url.host_str().and_then(|h| {
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .ok()
            });
            if literal.is_some_and(|ip| !pregon::model::public_ip(ip)) {
                return Err(CallError::NotSent(
                    "the URL points to a private or local address".into(),
                ));
            }
        }
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
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| CallError::Unknown(format!("answer cut short: {e}")))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(CallError::Unknown(format!(
                    "an answer over {} KB (HTTP {status})",
                    MAX_ANSWER / 1024
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}

/// An account's provider credentials, from its secret.
pub async fn credentials(
    aws: &crate::config::Aws,
    account: &pregon::model::Account,
) -> Result<Credentials, crate::Error> {
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
) -> Result<AccountSecret, crate::Error> {
    use crate::Error;
    let arn = account
        .credentials_secret_arn
        .clone()
        .ok_or_else(|| Error::Shape("the account has no credentials".into()))?;
    let secret = aws
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| Error::secrets("GetSecretValue", e))?;
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(secret.secret_string().unwrap_or("{}"))
            .map_err(|e| Error::Shape(format!("the account's secret is not a JSON object: {e}")))?;
    let webhook_secret = map
        .remove(WEBHOOK_SECRET)
        .and_then(|v| v.as_str().map(str::to_string));
    let provider = serde_json::to_value(account.provider)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(AccountSecret {
        credentials: Credentials::from_secret(&provider, &map).map_err(Error::Shape)?,
        webhook_secret,
    })
}

#[cfg(test)]
mod safety_tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on loopback that answers every request with `answer`.
    async fn serve(answer: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let _ = sock.write_all(&answer).await;
                });
            }
        });
        format!("http://{addr}/api/send_sms")
    }

    fn transport(public_only: bool) -> Transport {
        let mut b = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if public_only {
            b = b.dns_resolver(PublicOnly);
        }
        Transport {
            http: b.build().unwrap(),
            endpoints: Endpoints::all_at("http://127.0.0.1:1"),
            public_only,
        }
    }

    fn post(url: &str) -> HttpRequest {
        HttpRequest {
            method: "POST",
            url: url.to_string(),
            headers: vec![],
            body: b"{}".to_vec(),
        }
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_a_huge_answer_is_not_read_whole() {
        let url = serve(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data\r\nContent-Length: 0\r\n\r\n".to_vec()).await;
        let (status, _) = transport(false).send(post(&url)).await.unwrap();
        assert_eq!(status, 302);
        let mut big =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", 200_000).into_bytes();
        big.extend(std::iter::repeat_n(b'x', 200_000));
        let url = serve(big).await;
        match transport(false).send(post(&url)).await {
            Err(CallError::Unknown(why)) => assert!(why.contains("64 KB"), "{why}"),
            other => panic!("{:?}", other.map(|(s, b)| (s, b.len()))),
        }
    }

    #[tokio::test]
    async fn private_and_local_addresses_are_never_called() {
        let url = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec()).await;
        // The same server is reachable (the local stack's setting) …
        assert!(transport(false).send(post(&url)).await.is_ok());
        // … but not where only public addresses are: neither as an address in the URL
        // nor through a name that resolves to one.
        for u in [url.clone(), url.replace("127.0.0.1", "localhost")] {
            match transport(true).send(post(&u)).await {
                Err(CallError::NotSent(_)) => {}
                other => panic!("{u}: {:?}", other.map(|(s, _)| s)),
            }
        }
        assert!(matches!(
            transport(true).send(post("http://[::1]:9/x")).await,
            Err(CallError::NotSent(_))
        ));
    }
}
