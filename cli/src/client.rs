//! The API's client for every command: the base URL and key from the environment (or
//! the local stack's `stack.json`), JSON calls, raw uploads and pre-signed PUTs, and
//! the one failure type the commands report.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

#[derive(Debug)]
pub(crate) enum Failure {
    /// The API answered with an error status.
    Refused(u16, Value),
    /// Could not talk to it, or a local file problem.
    Io(String),
}

impl Client {
    /// The operator's client: `PREGON_ADMIN_KEY`, or the local stack's `admin_key`.
    pub(crate) fn operator_from_env() -> Result<Self, Failure> {
        let mut c =
            Self::from_env_with(Some(std::env::var("PREGON_ADMIN_KEY").ok().or_else(|| {
                local_stack().and_then(|s| s["admin_key"].as_str().map(String::from))
            })))?;
        if !c.key.starts_with("pgo_") {
            return Err(Failure::Io(
                "set PREGON_ADMIN_KEY (the operator key, pgo_…)".into(),
            ));
        }
        c.key = c.key.trim().to_string();
        Ok(c)
    }

    pub(crate) fn from_env() -> Result<Self, Failure> {
        Self::from_env_with(None)
    }

    fn from_env_with(operator: Option<Option<String>>) -> Result<Self, Failure> {
        let stack = local_stack();
        let base = std::env::var("PREGON_API_URL")
            .ok()
            .or_else(|| {
                stack
                    .as_ref()
                    .and_then(|s| s["api_url"].as_str().map(String::from))
            })
            .ok_or_else(|| {
                Failure::Io("set PREGON_API_URL (or start the local stack: make up)".into())
            })?;
        let key = match operator {
            Some(k) => k.ok_or_else(|| Failure::Io("set PREGON_ADMIN_KEY".into()))?,
            None => std::env::var("PREGON_API_KEY")
                .ok()
                .or_else(|| {
                    stack
                        .as_ref()
                        .and_then(|s| s["demo_api_key"].as_str().map(String::from))
                })
                .ok_or_else(|| Failure::Io("set PREGON_API_KEY".into()))?,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Failure::Io(e.to_string()))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            key,
        })
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.answer(req).await
    }

    /// Sends a request and reads the API's JSON answer (an error status is a `Refused`).
    async fn answer(&self, req: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Io(format!("cannot reach {}: {e}", self.base)))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| Failure::Io(e.to_string()))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            Err(Failure::Refused(status, v))
        } else {
            Ok(v)
        }
    }
}

impl Client {
    /// A file the API answers (a template's sheet): its bytes; an error status is a
    /// `Refused` with the API's JSON.
    pub(crate) async fn download(&self, path: &str) -> Result<Vec<u8>, Failure> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| Failure::Io(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| Failure::Io(e.to_string()))?;
        if status >= 400 {
            return Err(Failure::Refused(
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            ));
        }
        Ok(bytes.to_vec())
    }

    /// A request with a non-JSON body (a CSV upload).
    pub(crate) async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value, Failure> {
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("content-type", content_type)
            .body(body);
        self.answer(req).await
    }
}

fn local_stack() -> Option<Value> {
    let path = std::env::var("PREGON_STACK_FILE")
        .map(PathBuf::from)
        .ok()
        .or_else(|| {
            let mut dir = std::env::current_dir().ok()?;
            loop {
                let p = dir.join(".cache/local/stack.json");
                if p.exists() {
                    return Some(p);
                }
                if !dir.pop() {
                    return None;
                }
            }
        })?;
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Asks `grant_path` for a pre-signed PUT signed for exactly these bytes, and sends them
/// with the headers it was signed with; the grant.
pub(crate) async fn upload_granted(
    c: &Client,
    grant_path: &str,
    bytes: Vec<u8>,
) -> Result<Value, Failure> {
    let target = c
        .call(
            reqwest::Method::POST,
            grant_path,
            Some(json!({ "size": bytes.len() })),
        )
        .await?;
    let url = target["upload_url"]
        .as_str()
        .ok_or_else(|| Failure::Io("the API gave no upload_url".into()))?;
    let mut put = c.http.put(url).body(bytes);
    for (k, v) in target["upload_headers"].as_object().into_iter().flatten() {
        if let Some(v) = v.as_str() {
            put = put.header(k.as_str(), v);
        }
    }
    let resp = put
        .send()
        .await
        .map_err(|e| Failure::Io(format!("upload failed: {e}")))?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        return Err(Failure::Refused(
            status,
            Value::String(resp.text().await.unwrap_or_default()),
        ));
    }
    Ok(target)
}
