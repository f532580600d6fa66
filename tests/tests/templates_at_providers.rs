//! WhatsApp templates registered at Twilio (Content API) and Gupshup (partner API) on
//! the local stack: `POST /v1/templates` with an `account_id` registers the template at
//! that account's provider, `GET /v1/templates/{id}` follows its review, and an approved
//! template is sent by the provider's own id (Content SID, Gupshup template uuid). What
//! the simulator registered and accepted (its documented `/_sim` endpoints) is the proof.

use pregon_tests::{Stack, Tenant};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A suffix no other run of these tests uses (template names, account ids).
fn unique() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Phones no other test uses: `+56964{block}{i:04}`.
fn phones(block: u32, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+56964{block:02}{i:04}")).collect()
}

async fn twilio_account(t: &Tenant<'_>, sender: &str) -> String {
    let acc = t
        .post(
            "/v1/accounts",
            json!({"provider":"twilio","channel":"whatsapp","sender":sender,"default_country":"CL",
            "credentials":{"account_sid":format!("AC{:032x}", unique()),"auth_token":"tok"}}),
        )
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    acc.body["id"].as_str().unwrap().to_string()
}

async fn gupshup_account(t: &Tenant<'_>, sender: &str) -> String {
    let acc = t
        .post("/v1/accounts", json!({"provider":"gupshup","channel":"whatsapp","sender":sender,"default_country":"CL",
            "credentials":{"api_key":"gskey","app_name":"PregonApp","app_id":format!("app-{}", unique()),"partner_token":"ptok"}}))
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    acc.body["id"].as_str().unwrap().to_string()
}

/// Creates a 1-parameter template registered with `account`; its answer.
async fn template(t: &Tenant<'_>, account: &str, name: &str) -> Value {
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":name,"channel":"whatsapp","language":"es","category":"UTILITY",
            "body":"Hola {{1}}, tu pago vence mañana","account_id":account}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    assert_eq!(tpl.body["status"], "pending", "{}", tpl.body);
    tpl.body
}

/// The simulator's registration of the template with this provider id.
async fn at_simulator(stack: &Stack, provider_id: &str) -> Value {
    let all = stack.sim_get("/_sim/templates").await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == provider_id)
        .cloned()
        .unwrap_or_else(|| panic!("the simulator has no template {provider_id}"))
}

async fn send_and_wait(t: &Tenant<'_>, id: &str) -> Value {
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
        let st = c["status"].as_str().unwrap_or_default();
        if ["completed", "completed_with_errors", "error", "cancelled"].contains(&st) {
            return c;
        }
        assert!(Instant::now() < deadline, "campaign {id} still {st}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Creates, waits for approval, checks the registration, sends to 3 recipients, and
/// answers the simulator's accepted messages for them.
async fn approved_and_sent(
    stack: &Stack,
    t: &Tenant<'_>,
    account: &str,
    provider: &str,
    name: &str,
    to: &[String],
) -> (String, Vec<Value>) {
    let tpl = template(t, account, name).await;
    let provider_id = tpl["provider_template_id"]
        .as_str()
        .expect("registered at once: the provider's id is kept")
        .to_string();
    let done = t.reviewed_template(tpl["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(done["provider_template_id"], provider_id.as_str());

    let registered = at_simulator(stack, &provider_id).await;
    assert_eq!(registered["provider"], provider, "{registered}");
    assert_eq!(registered["name"], name, "{registered}");
    assert_eq!(registered["status"], "APPROVED", "{registered}");
    assert_eq!(registered["body"], "Hola {{1}}, tu pago vence mañana");

    let id = t
        .loaded_campaign("whatsapp", account, tpl["id"].as_str().unwrap(), to)
        .await;
    let end = send_and_wait(t, &id).await;
    assert_eq!(end["status"], "completed", "{end}");

    let stats = stack.sim_get("/_sim/stats").await;
    let mut sent = Vec::new();
    for p in to {
        assert_eq!(
            stats["accepted_by_recipient"][p].as_u64(),
            Some(1),
            "{p}: {}",
            stats["accepted_by_recipient"]
        );
        let ms = stack
            .sim_get(&format!("/_sim/messages?recipient={p}&provider={provider}"))
            .await;
        let ms = ms.as_array().unwrap();
        assert_eq!(ms.len(), 1, "{ms:?}");
        sent.push(ms[0].clone());
    }
    (provider_id, sent)
}

#[tokio::test]
async fn a_twilio_template_is_registered_as_content_approved_and_sent_by_its_sid() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let account = twilio_account(&t, "+15550007101").await;
    let to = phones(71, 3);
    let name = format!("aviso_tw_{}", unique());

    let (sid, sent) = approved_and_sent(&stack, &t, &account, "twilio", &name, &to).await;

    assert!(sid.starts_with("HX") && sid.len() == 34, "{sid}");
    for m in sent {
        assert_eq!(m["content"]["content_sid"], sid.as_str(), "{m}");
        assert_eq!(
            m["content"]["content_variables"],
            json!({"1": "Ana"}),
            "{m}"
        );
        assert_eq!(m["content"]["template_name"], name.as_str(), "{m}");
        assert_eq!(m["content"]["rendered"], "Hola Ana, tu pago vence mañana");
    }
}

#[tokio::test]
async fn a_gupshup_template_is_applied_for_approved_and_sent_by_its_id() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let account = gupshup_account(&t, "+15550007202").await;
    let to = phones(72, 3);
    let name = format!("aviso_gs_{}", unique());

    let (id, sent) = approved_and_sent(&stack, &t, &account, "gupshup", &name, &to).await;

    for m in sent {
        assert_eq!(m["content"]["template_id"], id.as_str(), "{m}");
        assert_eq!(m["content"]["params"], json!(["Ana"]), "{m}");
        assert_eq!(m["content"]["rendered"], "Hola Ana, tu pago vence mañana");
    }
}

/// A template the provider rejects shows `rejected` with the provider's reason, and a
/// campaign with it cannot be sent.
async fn rejected_is_shown_and_blocks_sending(
    stack: &Stack,
    t: &Tenant<'_>,
    account: &str,
    prefix: &str,
    block: u32,
) {
    let name = format!("{prefix}_{}", unique());
    stack
        .sim_post(
            "/_sim/rules",
            json!({"template": name, "reject": "INVALID_FORMAT", "after_ms": 300}),
        )
        .await;
    let tpl = template(t, account, &name).await;
    let done = t.reviewed_template(tpl["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "rejected", "{done}");
    assert_eq!(done["rejected_reason"], "INVALID_FORMAT", "{done}");

    let id = t
        .loaded_campaign(
            "whatsapp",
            account,
            tpl["id"].as_str().unwrap(),
            &phones(block, 1),
        )
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["error"], "template_not_approved");
}

#[tokio::test]
async fn a_template_twilio_rejects_shows_the_reason_and_cannot_be_sent() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let account = twilio_account(&t, "+15550007303").await;
    rejected_is_shown_and_blocks_sending(&stack, &t, &account, "rechazo_tw", 73).await;
}

#[tokio::test]
async fn a_template_gupshup_rejects_shows_the_reason_and_cannot_be_sent() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let account = gupshup_account(&t, "+15550007404").await;
    rejected_is_shown_and_blocks_sending(&stack, &t, &account, "rechazo_gs", 74).await;
}
