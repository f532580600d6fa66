//! The running local stack (`PREGON_STACK_FILE`, written by `pregon-local up` under
//! `infra/local/with-stack.sh`) and clients of it, shared by the modes that run on it.

use serde_json::Value;
use std::time::{Duration, Instant};

/// The stack's description: API URL and key, endpoints, table, logs directory.
pub fn info() -> Value {
    let stack_file =
        std::env::var("PREGON_STACK_FILE").expect("run under infra/local/with-stack.sh");
    serde_json::from_str(&std::fs::read_to_string(stack_file).unwrap()).unwrap()
}

/// A DynamoDB client on the stack's DynamoDB Local.
pub async fn dynamodb(info: &Value) -> aws_sdk_dynamodb::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(info["endpoints"]["dynamodb"].as_str().unwrap())
        .region(aws_config::Region::new(
            info["region"].as_str().unwrap_or("us-east-1").to_string(),
        ))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "bench",
        ))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&conf)
}

/// The tenant API (as the demo tenant) and the provider simulator (empty when not built).
pub struct Ctx {
    pub http: reqwest::Client,
    pub api: String,
    pub key: String,
    pub sim: String,
}

impl Ctx {
    pub fn new(info: &Value) -> Ctx {
        Ctx {
            http: reqwest::Client::new(),
            api: info["api_url"]
                .as_str()
                .unwrap()
                .trim_end_matches('/')
                .to_string(),
            key: info["demo_api_key"].as_str().unwrap().to_string(),
            sim: info["simulator_url"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// An API call's JSON answer (`null` when it has none).
    pub async fn call(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.call_status(m, path, body).await.1
    }

    /// An API call's status and JSON answer (`null` when it has none).
    pub async fn call_status(
        &self,
        m: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.api))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Every message of a campaign.
    pub async fn messages(&self, id: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/campaigns/{id}/messages?limit=500{cursor}"),
                    None,
                )
                .await;
            all.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return all,
            }
        }
    }

    /// A new Meta WhatsApp account (`sender`), a two-parameter template and a campaign
    /// whose file `bytes` is uploaded; waits until the ingest function has validated it.
    /// The campaign's id and view, the PUT's time and the time from the PUT to the end
    /// of validation.
    pub async fn load_campaign(
        &self,
        sender: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> (String, Value, Duration, Duration) {
        let post = reqwest::Method::POST;
        let acc = self.call(post.clone(), "/v1/accounts", Some(serde_json::json!({"provider":"meta","channel":"whatsapp","sender":sender,"default_country":"CL","credentials":{"access_token":"EAAtoken","app_secret":"secret","verify_token":"verify","phone_number_id":sender,"waba_id":format!("waba{sender}")}}))).await;
        let tpl = self.call(post.clone(), "/v1/templates", Some(serde_json::json!({"name":name,"channel":"whatsapp","language":"es","category":"UTILITY","body":"Hola {{1}}, debes {{2}}"}))).await;
        // Created with the file's size: the answer carries an upload URL signed for it.
        let c = self.call(post, "/v1/campaigns", Some(serde_json::json!({"name":name,"channel":"whatsapp","account_id":acc["id"],"template_id":tpl["id"],"consent_confirmed":true,"upload_size":bytes.len()}))).await;
        let id = c["id"].as_str().expect("a campaign").to_string();
        let t = Instant::now();
        let r = self
            .http
            .put(c["upload_url"].as_str().unwrap())
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let uploaded = t.elapsed();
        loop {
            let v = self
                .call(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None)
                .await;
            let st = v["status"].as_str().unwrap_or_default();
            if st != "awaiting_file" && st != "validating" {
                return (id, v, uploaded, t.elapsed());
            }
            if t.elapsed() > Duration::from_secs(1800) {
                panic!("ingest did not finish in 30 minutes");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
