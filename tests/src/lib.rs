//! Test helpers: the running local stack (`.cache/local/stack.json`, written by
//! `pregon-local up`; `make test` starts it), a fresh tenant per test, and the AWS
//! clients to look behind the API.

pub mod hostile;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Stack {
    pub info: Value,
    pub http: reqwest::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub store: pregon_aws::store::Store,
}

impl Stack {
    /// The provider simulator's base URL (`simulator_url` in stack.json).
    pub fn sim(&self) -> String {
        self.info["simulator_url"]
            .as_str()
            .expect("the local stack runs the provider simulator (simulator_url in stack.json)")
            .trim_end_matches('/')
            .to_string()
    }

    /// `GET` one of the simulator's documented `/_sim` endpoints.
    pub async fn sim_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.sim()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Messages the simulator accepted for any of `phones` (`/_sim/stats`).
    pub async fn sim_sent(&self, phones: &[String]) -> u64 {
        let stats = self.sim_get("/_sim/stats").await;
        phones
            .iter()
            .map(|p| stats["accepted_by_recipient"][p].as_u64().unwrap_or(0))
            .sum()
    }

    /// `POST` to one of the simulator's documented `/_sim` endpoints.
    pub async fn sim_post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.sim()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// Runs a scheduled function of the template now, with its event `time` set to
    /// `time` (its clock): the local stack's `POST /_local/schedules/{id}`.
    pub async fn run_schedule(&self, function: &str, time: &str) -> Value {
        let r = self
            .http
            .post(self.api(&format!("/_local/schedules/{function}")))
            .json(&json!({ "time": time }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{function}: {}", r.status());
        r.json().await.unwrap()
    }

    /// The process ids of a function's instances in this stack (matched by the function
    /// name and this stack's DynamoDB endpoint in their environment).
    pub fn function_pids(&self, function: &str) -> Vec<u32> {
        let ddb = self.info["endpoints"]["dynamodb"]
            .as_str()
            .unwrap_or_default();
        let want_name = format!("AWS_LAMBDA_FUNCTION_NAME={function}");
        let want_ddb = format!("AWS_ENDPOINT_URL_DYNAMODB={ddb}");
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(env) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
            if vars.contains(&want_name.as_bytes()) && vars.contains(&want_ddb.as_bytes()) {
                pids.push(pid);
            }
        }
        pids
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

impl Stack {
    pub async fn connect() -> Stack {
        let path = std::env::var("PREGON_STACK_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/local/stack.json")
            });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "no local stack at {}: run the tests with `make test`, or start `make up` first",
                path.display()
            )
        });
        let info: Value = serde_json::from_str(&text).expect("stack.json");
        std::env::set_var("AWS_ACCESS_KEY_ID", "local");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
        std::env::set_var("AWS_REGION", info["region"].as_str().unwrap());
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let e = |k: &str| info["endpoints"][k].as_str().unwrap().to_string();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&shared)
                .endpoint_url(e("dynamodb"))
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .endpoint_url(e("s3"))
                .force_path_style(true)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&shared)
                .endpoint_url(e("sqs"))
                .build(),
        );
        let secrets = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&shared)
                .endpoint_url(e("secretsmanager"))
                .build(),
        );
        let store = pregon_aws::store::Store::new(
            dynamodb.clone(),
            info["table"].as_str().unwrap().to_string(),
        );
        Stack {
            info,
            http: reqwest::Client::new(),
            dynamodb,
            s3,
            sqs,
            secrets,
            store,
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.info["api_url"].as_str().unwrap())
    }

    pub fn bucket(&self) -> &str {
        self.info["bucket"].as_str().unwrap()
    }

    pub fn upload_queue(&self) -> &str {
        self.info["queues"]["UploadEventsQueue"].as_str().unwrap()
    }

    /// A new tenant with its own API key.
    pub async fn tenant(&self) -> Tenant<'_> {
        let id = pregon::model::new_id("ten");
        let key = pregon::auth::new_api_key();
        self.store
            .create_tenant(&id, "test tenant", &pregon::auth::key_hash(&key))
            .await
            .unwrap();
        Tenant {
            stack: self,
            id,
            key,
        }
    }

    /// A request to the operator's routes (`/v1/admin/…`) with the stack's operator key.
    pub async fn operator(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let key = self.info["admin_key"]
            .as_str()
            .expect("the stack's operator key");
        let mut req = self.http.request(method, self.api(path)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Reply { status, body }
    }

    /// Waits until the upload queue has nothing waiting or in flight.
    pub async fn drain_uploads(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let a = self
                .sqs
                .get_queue_attributes()
                .queue_url(self.upload_queue())
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default();
            let n = |k: aws_sdk_sqs::types::QueueAttributeName| {
                a.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            };
            if n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages) == 0
                && n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    == 0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the upload queue did not drain in 30 s");
    }

    /// The raw campaign item, to look at what the API does not show.
    pub async fn campaign_item(&self, tenant: &str, id: &str) -> Option<pregon::model::Campaign> {
        self.store.campaign(tenant, id).await.unwrap()
    }

    /// The recipients of the campaign's current generation, in row order.
    pub async fn current_recipients(
        &self,
        tenant: &str,
        campaign: &str,
    ) -> Vec<pregon_aws::store::RecipientItem> {
        let gen = self
            .campaign_item(tenant, campaign)
            .await
            .expect("campaign")
            .recipient_gen;
        self.store.recipients(tenant, campaign, gen).await.unwrap()
    }

    /// How many recipient items exist for a campaign in a generation (all shards).
    pub async fn recipient_count(&self, tenant: &str, campaign: &str, gen: u32) -> usize {
        self.store
            .recipients(tenant, campaign, gen)
            .await
            .unwrap()
            .len()
    }

    /// Turns on a DynamoDB fault for the requests `rule` names (`infra/local/src/faults.rs`:
    /// `{"error", "actions", "contains", "seconds", "count"}`); the rule's id.
    pub async fn dynamodb_fault(&self, rule: Value) -> u64 {
        let url = self.info["dynamodb_faults"]
            .as_str()
            .expect("the fault switch");
        let r = self.http.post(url).json(&rule).send().await.unwrap();
        assert!(r.status().is_success(), "{rule}: {}", r.status());
        r.json::<Value>().await.unwrap()["id"].as_u64().unwrap()
    }

    /// How many requests the fault rule `id` has refused so far.
    pub async fn dynamodb_fault_refused(&self, id: u64) -> u64 {
        let url = self.info["dynamodb_faults"]
            .as_str()
            .expect("the fault switch");
        let all: Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .map_or(0, |r| r["refused"].as_u64().unwrap())
    }

    /// Ends the fault rule `id` at once.
    pub async fn end_dynamodb_fault(&self, id: u64) {
        let url = self.info["dynamodb_faults"]
            .as_str()
            .expect("the fault switch");
        self.http
            .delete(format!("{url}/{id}"))
            .send()
            .await
            .unwrap();
    }

    pub async fn set_status(&self, tenant: &str, campaign: &str, status: &str) {
        let (pk, sk) = pregon::keys::campaign(tenant, campaign);
        self.dynamodb
            .update_item()
            .table_name(self.store.table.clone())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("SET #s = :s")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", AttributeValue::S(status.into()))
            .send()
            .await
            .unwrap();
    }
}

impl Stack {
    /// Puts a campaign in `validating` for its expected upload, with a lease ending at
    /// `lease_until` (unix seconds), as a run that died would leave it.
    pub async fn set_validating(&self, tenant: &str, campaign: &str, lease_until: i64) {
        let (pk, sk) = pregon::keys::campaign(tenant, campaign);
        self.dynamodb
            .update_item()
            .table_name(self.store.table.clone())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("SET #s = :s, lease_until = :l, upload_etag = :e")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", AttributeValue::S("validating".into()))
            .expression_attribute_values(":l", AttributeValue::N(lease_until.to_string()))
            .expression_attribute_values(":e", AttributeValue::S("etag-of-a-dead-run".into()))
            .send()
            .await
            .unwrap();
    }

    /// An S3 `ObjectCreated` notification for an object of the bucket, as S3 sends it.
    pub fn s3_event(&self, key: &str, size: u64, etag: &str) -> Value {
        json!({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventName":"ObjectCreated:Put","s3":{"bucket":{"name":self.bucket()},
            "object":{"key":key,"size":size,"eTag":etag}}}]})
    }

    /// Waits for a message on a queue whose body contains `needle`; returns it.
    pub async fn find_message(&self, queue_url: &str, needle: &str) -> aws_sdk_sqs::types::Message {
        for _ in 0..30 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for m in out.messages.unwrap_or_default() {
                if m.body.as_deref().is_some_and(|b| b.contains(needle)) {
                    return m;
                }
            }
        }
        panic!("no message containing {needle} on {queue_url}");
    }
}

impl Stack {
    /// An SQS client for the send-job queues (fauxqs when the stack runs it, else moto).
    pub async fn jobs_sqs(&self) -> aws_sdk_sqs::Client {
        let url = self.info["endpoints"]["sqs_jobs"]
            .as_str()
            .or(self.info["endpoints"]["sqs"].as_str())
            .unwrap()
            .to_string();
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&shared)
                .endpoint_url(url)
                .build(),
        )
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub struct Tenant<'a> {
    pub stack: &'a Stack,
    pub id: String,
    pub key: String,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The fields a 400 names (`{"fields": [{"field", "message"}]}`), in order.
    pub fn fields(&self) -> Vec<&str> {
        self.body["fields"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default()
    }
}

impl<'a> Tenant<'a> {
    /// The same tenant, asking with another of its API keys.
    pub fn with_key(&self, key: &str) -> Tenant<'a> {
        Tenant {
            stack: self.stack,
            id: self.id.clone(),
            key: key.to_string(),
        }
    }
}

impl Tenant<'_> {
    /// A campaign's stats once `done` holds of them, else as they are after `within`
    /// (the caller asserts): the KPI counters follow the statuses through the table's
    /// stream (the tally function), moments after the callbacks.
    pub async fn stats_when(
        &self,
        id: &str,
        done: impl Fn(&Value) -> bool,
        within: Duration,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let s = self.get(&format!("/v1/campaigns/{id}/stats")).await.body;
            if done(&s) || Instant::now() >= deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a campaign's end state (`completed`, `completed_with_errors`, `error`,
    /// `cancelled`); panics with its progress after `within`.
    pub async fn wait_end(&self, id: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let c = self.get(&format!("/v1/campaigns/{id}")).await.body;
            let st = c["status"].as_str().unwrap_or_default();
            if ["completed", "completed_with_errors", "error", "cancelled"].contains(&st) {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "campaign {id} still {st}: {}",
                c["progress"]
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A template once its provider has reviewed it (no longer `pending`; the simulator
    /// decides in about a second); panics after 20 s.
    pub async fn reviewed_template(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let body = self.get(&format!("/v1/templates/{id}")).await.body;
            if body["status"] != "pending" {
                return body;
            }
            assert!(Instant::now() < deadline, "template still pending: {body}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// A `loaded` campaign of `channel` with this account and template, whose file has
    /// the header `phone,nombre` and one row per phone (row 2 is the first).
    pub async fn loaded_campaign(
        &self,
        channel: &str,
        account: &str,
        template: &str,
        phones: &[String],
    ) -> String {
        self.loaded_campaign_with(channel, account, template, phones, json!({}))
            .await
    }

    /// [`Tenant::loaded_campaign`] with more settings (`extra` is merged into the
    /// creation body, e.g. `{"wait_for_reply_hours": 2}`).
    pub async fn loaded_campaign_with(
        &self,
        channel: &str,
        account: &str,
        template: &str,
        phones: &[String],
        extra: Value,
    ) -> String {
        let mut body = json!({"name":"Campaña","channel":channel,"account_id":account,
            "template_id":template,"consent_confirmed":true});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let c = self.post("/v1/campaigns", body).await;
        assert_eq!(c.status, 201, "{}", c.body);
        let id = c.body["id"].as_str().unwrap().to_string();
        let mut csv = String::from("phone,nombre\n");
        for p in phones {
            csv.push_str(&format!("{p},Ana\n"));
        }
        let done = self.upload(&id, csv.into_bytes()).await;
        assert_eq!(done["status"], "loaded", "{done}");
        id
    }

    /// Every message of a campaign, following `next_cursor`.
    pub async fn messages(&self, id: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let page = self
                .get(&format!("/v1/campaigns/{id}/messages?limit=500{q}"))
                .await
                .body;
            all.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return all,
            }
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .stack
            .http
            .request(method, self.stack.api(path))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Reply { status, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// A Meta account on `sender` whose webhook the simulator calls (signed with
    /// `app_secret`, as Meta signs), and an approved one-parameter template `name` with
    /// `body`; (account id, template id).
    pub async fn meta_account_with_webhook(
        &self,
        sender: &str,
        app_secret: &str,
        name: &str,
        body: &str,
    ) -> (String, String) {
        let acc = self
            .post("/v1/accounts", json!({"provider":"meta","channel":"whatsapp","sender":sender,"default_country":"CL","rate":50,
                "credentials":{"access_token":"EAAtoken","app_secret":app_secret,"verify_token":"verify-me","phone_number_id":sender,"waba_id":format!("waba{sender}")}}))
            .await;
        assert_eq!(acc.status, 201, "{}", acc.body);
        let account = acc.body["id"].as_str().unwrap().to_string();
        self.stack
            .sim_post(
                "/_sim/webhooks",
                json!({"provider":"meta","sender":sender,"url":acc.body["webhook_url"],"app_secret":app_secret}),
            )
            .await;
        let tpl = self
            .post(
                "/v1/templates",
                json!({"name":name,"channel":"whatsapp","language":"es",
                "category":"UTILITY","body":body,"account_id":account}),
            )
            .await;
        assert_eq!(tpl.status, 201, "{}", tpl.body);
        let tpl_id = tpl.body["id"].as_str().unwrap().to_string();
        assert_eq!(self.reviewed_template(&tpl_id).await["status"], "approved");
        (account, tpl_id)
    }

    /// Every ticket a `GET /v1/tickets` query lists, following `next_cursor`.
    pub async fn tickets(&self, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let page = self.get(&format!("/v1/tickets?limit=100&{query}{q}")).await;
            assert_eq!(page.status, 200, "{}", page.body);
            all.extend(page.body["items"].as_array().unwrap().iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return all,
            }
        }
    }

    /// The id of the ticket a phone's message opened, waiting up to 20 s for it.
    pub async fn ticket_for(&self, phone: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(k) = self
                .tickets("")
                .await
                .into_iter()
                .find(|k| k["phone"] == phone)
            {
                return k["id"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "no ticket for {phone} in 20 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A Twilio SMS account sending from `sender` (credentials `sid` and `{sid}-token`)
    /// whose incoming-message URL the simulator calls, and an SMS template with one
    /// parameter; their ids.
    pub async fn twilio_sms(&self, sender: &str, sid: &str) -> (String, String) {
        let token = format!("{sid}-token");
        let acc = self
            .post("/v1/accounts", json!({"provider":"twilio","channel":"sms","sender":sender,"default_country":"CL","rate":20,
                "credentials":{"account_sid":sid,"auth_token":token}}))
            .await;
        assert_eq!(acc.status, 201, "{}", acc.body);
        self.stack
            .sim_post(
                "/_sim/webhooks",
                json!({"provider":"twilio","sender":sender,"url":acc.body["webhook_url"],"auth_token":token,"account_sid":sid}),
            )
            .await;
        let tpl = self
            .post(
                "/v1/templates",
                json!({"name":"aviso","channel":"sms","body":"Hola {{1}}, su pedido salió"}),
            )
            .await;
        assert_eq!(tpl.status, 201, "{}", tpl.body);
        (
            acc.body["id"].as_str().unwrap().to_string(),
            tpl.body["id"].as_str().unwrap().to_string(),
        )
    }

    /// An account and a 2-parameter WhatsApp template, and a campaign using them.
    pub async fn whatsapp_campaign(&self, extra: Value) -> Value {
        let acc = self
            .post("/v1/accounts", json!({"provider":"meta","channel":"whatsapp","sender":"15550001111","default_country":"CL","credentials":{"access_token":"EAAtoken","app_secret":"secret","verify_token":"verify","phone_number_id":"15550001111","waba_id":"waba1"}}))
            .await;
        assert_eq!(acc.status, 201, "{}", acc.body);
        let tpl = self
            .post(
                "/v1/templates",
                json!({"name":"aviso_cobranza","channel":"whatsapp","language":"es","category":"UTILITY","body":"Hola {{1}}, debes {{2}}"}),
            )
            .await;
        assert_eq!(tpl.status, 201, "{}", tpl.body);
        let mut body = json!({"name":"Cobranza","channel":"whatsapp","account_id":acc.body["id"],"template_id":tpl.body["id"],
            "consent_confirmed":true});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let c = self.post("/v1/campaigns", body).await;
        assert_eq!(c.status, 201, "{}", c.body);
        c.body
    }

    /// A fresh upload URL for a file of `size` bytes (the grant: `upload_id`, `upload_url`, …).
    pub async fn upload_url(&self, id: &str, size: usize) -> Value {
        let u = self
            .post(
                &format!("/v1/campaigns/{id}/upload"),
                json!({ "size": size }),
            )
            .await;
        assert_eq!(u.status, 200, "{}", u.body);
        u.body
    }

    /// PUTs a file to a pre-signed URL, as a browser or the CLI does.
    pub async fn put(&self, url: &str, bytes: Vec<u8>) {
        let r = self.stack.http.put(url).body(bytes).send().await.unwrap();
        assert!(r.status().is_success(), "upload refused: {}", r.status());
    }

    /// Asks for an upload URL for these bytes and PUTs them; returns the grant.
    pub async fn put_upload(&self, id: &str, bytes: Vec<u8>) -> Value {
        let grant = self.upload_url(id, bytes.len()).await;
        self.put(grant["upload_url"].as_str().unwrap(), bytes).await;
        grant
    }

    /// Polls the campaign until it leaves `awaiting_file`/`validating`.
    pub async fn settled(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let c = self.get(&format!("/v1/campaigns/{id}")).await;
            let st = c.body["status"].as_str().unwrap_or_default().to_string();
            if st != "awaiting_file" && st != "validating" {
                return c.body;
            }
            assert!(
                Instant::now() < deadline,
                "campaign {id} still {st} after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Uploads through a fresh pre-signed URL and waits for the verdict.
    pub async fn upload(&self, id: &str, bytes: Vec<u8>) -> Value {
        let before = self
            .stack
            .campaign_item(&self.id, id)
            .await
            .and_then(|c| c.validated_at);
        self.put_upload(id, bytes).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let c = self.stack.campaign_item(&self.id, id).await.unwrap();
            if c.validated_at.is_some()
                && c.validated_at != before
                && c.status.as_str() != "validating"
            {
                return self.get(&format!("/v1/campaigns/{id}")).await.body;
            }
            assert!(
                Instant::now() < deadline,
                "upload to {id} not validated after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
