//! SPEC §2 step 3, §5, §8 on the local stack: send controls, the do-not-contact list.

use pregon_tests::Stack;
use serde_json::json;
use std::time::{Duration, Instant};

/// An SMS account at Twilio.
async fn sms_account(t: &pregon_tests::Tenant<'_>) -> pregon_tests::Reply {
    let acc = t
        .post("/v1/accounts", json!({"provider":"twilio","channel":"sms","sender":"+15550002222","default_country":"CL",
            "credentials":{"account_sid":"AC123","auth_token":"tok"}}))
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    acc
}

/// An SMS account (Twilio), an SMS template with one parameter, and a loaded campaign
/// of `phones`.
async fn loaded_sms_campaign(t: &pregon_tests::Tenant<'_>, phones: &[&str]) -> String {
    let acc = sms_account(t).await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":"aviso","channel":"sms","body":"Hola {{1}}"}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let c = t
        .post(
            "/v1/campaigns",
            json!({"name":"Avisos","channel":"sms","account_id":acc.body["id"],
            "template_id":tpl.body["id"],"consent_confirmed":true}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap().to_string();
    let mut csv = String::from("phone,name\n");
    for p in phones {
        csv.push_str(&format!("{p},Ana\n"));
    }
    let done = t.upload(&id, csv.into_bytes()).await;
    assert_eq!(done["status"], "loaded", "{done}");
    id
}

#[tokio::test]
async fn a_whatsapp_campaign_whose_template_is_not_approved_cannot_be_sent() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    t.upload(id, b"phone,name,amount\n56962000001,Ana,1\n".to_vec())
        .await;

    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;

    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["error"], "template_not_approved");
    assert!(r.body["message"].as_str().unwrap().contains("pending"));
    assert_eq!(
        t.get(&format!("/v1/campaigns/{id}")).await.body["status"],
        "loaded"
    );
}

#[tokio::test]
async fn a_control_that_does_not_fit_the_state_answers_409_naming_the_state() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    for action in ["send", "pause", "resume"] {
        let r = t
            .post(&format!("/v1/campaigns/{id}/{action}"), json!({}))
            .await;
        assert_eq!(r.status, 409, "{action}: {}", r.body);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .contains("awaiting_file"),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_scheduled_campaign_waits_and_cancel_skips_every_unsent_message() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let id = loaded_sms_campaign(&t, &["+56962000001", "+56962000002", "+56962000003"]).await;

    let later = t
        .post(
            &format!("/v1/campaigns/{id}/send"),
            json!({"send_at":"2099-01-01T09:00:00-03:00"}),
        )
        .await;
    assert_eq!(later.status, 200, "{}", later.body);
    assert_eq!(later.body["status"], "scheduled");
    let cancel = t
        .post(&format!("/v1/campaigns/{id}/cancel"), json!({}))
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.body["status"], "cancelled");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = t.get(&format!("/v1/campaigns/{id}/messages")).await.body;
        let statuses: Vec<&str> = m["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["status"].as_str().unwrap())
            .collect();
        if statuses == ["skipped"; 3] {
            break;
        }
        assert!(Instant::now() < deadline, "still {statuses:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = t
        .post(&format!("/v1/campaigns/{id}/cancel"), json!({}))
        .await;
    assert_eq!(again.status, 409);
}

#[tokio::test]
async fn the_do_not_contact_list_takes_json_or_a_dialer_csv_and_lists_and_removes() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let r = t
        .post(
            "/v1/dnc",
            json!({"phones":["+56 9 6200 0001", "+56962000002"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let csv = stack
        .http
        .post(stack.api("/v1/dnc"))
        .bearer_auth(&t.key)
        .header("content-type", "text/csv")
        .body("phone;campaign\n+56962000003;cmp_x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 201);
    let bad = t.post("/v1/dnc", json!({"phones":["abc"]})).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["fields"][0]["field"], "phones[0]");

    let list = t.get("/v1/dnc").await.body;
    let phones: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["phone"].as_str().unwrap())
        .collect();
    assert_eq!(phones, ["+56962000001", "+56962000002", "+56962000003"]);
    assert_eq!(list["items"][2]["campaign_id"], "cmp_x");

    let del = t
        .call(reqwest::Method::DELETE, "/v1/dnc/%2B56962000001", None)
        .await;
    assert_eq!(del.status, 204);
    let del = t
        .call(reqwest::Method::DELETE, "/v1/dnc/%2B56962000001", None)
        .await;
    assert_eq!(del.status, 404);
    // Another tenant sees none of it.
    let other = stack.tenant().await;
    assert_eq!(other.get("/v1/dnc").await.body["items"], json!([]));
}

#[tokio::test]
async fn outside_its_send_window_a_campaign_enqueues_nothing() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    // Every day but today (UTC): the window is closed now.
    let today = (pregon_tests::unix_now() / 86_400 + 3) % 7; // 0 = Monday
    let days: Vec<&str> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .enumerate()
        .filter(|(i, _)| *i as i64 != today)
        .map(|(_, d)| *d)
        .collect();
    let acc = sms_account(&t).await;
    let c = t
        .post("/v1/campaigns", json!({"name":"Ventana","channel":"sms","account_id":acc.body["id"],"consent_confirmed":true,
            "send_window":{"timezone":"UTC","days":days,"from":"00:00","to":"23:59"}}))
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap();
    let done = t
        .upload(
            id,
            b"phone,message\n+56962000001,Hola\n+56962000002,Hola\n".to_vec(),
        )
        .await;
    assert_eq!(done["status"], "loaded", "{done}");

    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let now = t.get(&format!("/v1/campaigns/{id}")).await.body;
    assert_eq!(now["status"], "sending");
    assert_eq!(
        now["progress"]["queued"].as_i64().unwrap_or(0),
        0,
        "{}",
        now["progress"]
    );
    let m = t.get(&format!("/v1/campaigns/{id}/messages")).await.body;
    assert!(
        m["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "pending"),
        "{m}"
    );
}

#[tokio::test]
async fn a_single_message_is_checked_like_a_row_and_answers_its_id() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let acc = sms_account(&t).await;
    let bad = t
        .post(
            "/v1/messages",
            json!({"account_id": acc.body["id"], "phone": "12", "text": "Hola"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["fields"][0]["field"], "phone");
    assert!(bad.body["fields"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid_phone"));

    let ok = t
        .post(
            "/v1/messages",
            json!({"account_id": acc.body["id"], "phone": "+56 9 6200 0001", "text": "Hola Ana"}),
        )
        .await;
    assert_eq!(ok.status, 202, "{}", ok.body);
    let id = ok.body["id"].as_str().unwrap();
    let m = t.get(&format!("/v1/messages/{id}")).await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.body["phone"], "+56962000001");
    // Another tenant cannot see it.
    let other = stack.tenant().await;
    assert_eq!(other.get(&format!("/v1/messages/{id}")).await.status, 404);
}

#[tokio::test]
async fn inline_recipients_are_validated_like_a_file() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let acc = sms_account(&t).await;
    let c = t
        .post("/v1/campaigns", json!({"name":"Lista","channel":"sms","account_id":acc.body["id"],"consent_confirmed":true,
            "recipients":[{"phone":"+56962000001","message":"Hola Ana"},{"phone":"abc","message":"Hola"}]}))
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap();
    let done = t.settled(id).await;
    assert_eq!(done["status"], "invalid", "{done}");
    assert_eq!(done["problems"][0]["row"], 3);
    assert_eq!(done["problems"][0]["code"], "invalid_phone");

    let bad = t
        .post("/v1/campaigns", json!({"name":"Lista","channel":"sms","account_id":acc.body["id"],"consent_confirmed":true,
            "recipients":[{"phone":"+56962000001","text":"x"}]}))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["fields"][0]["field"], "recipients[0].text");
}
