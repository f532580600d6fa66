//! Issue 19, "defects that give tenants wrong answers", on the local stack: a `send_at`
//! given at creation, the hidden one-message campaigns in the list, the end state of a
//! campaign none of whose messages could be sent, `valid_rows` of a file missing a
//! column, and inputs that answered 500.

use pregon_tests::{Stack, Tenant};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// A Twilio SMS account on `sender` and a one-parameter SMS template; (account, template).
async fn sms_setup(t: &Tenant<'_>, sender: &str) -> (String, String) {
    let acc = t
        .post(
            "/v1/accounts",
            json!({"provider":"twilio","channel":"sms","sender":sender,"default_country":"CL",
            "rate":20,"credentials":{"account_sid":"AC_answers","auth_token":"tok"}}),
        )
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":"aviso","channel":"sms","body":"Hola {{1}}"}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    (
        acc.body["id"].as_str().unwrap().to_string(),
        tpl.body["id"].as_str().unwrap().to_string(),
    )
}

// Defect 7: `send_at` given at creation had no effect; a later `send` went straight to
// `sending`.
#[tokio::test]
async fn a_send_at_given_at_creation_schedules_and_can_be_rescheduled_unscheduled_and_sent() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = sms_setup(&t, "+15551900001").await;
    let phones = vec!["+56969000001".to_string(), "+56969000002".to_string()];
    let id = t
        .loaded_campaign_with(
            "sms",
            &account,
            &template,
            &phones,
            json!({"send_at": "2099-01-01T09:00:00-03:00"}),
        )
        .await;
    let send = |body: Value| {
        let t = &t;
        let id = id.clone();
        async move { t.post(&format!("/v1/campaigns/{id}/send"), body).await }
    };
    let r = send(json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "scheduled", "{}", r.body);
    assert_eq!(r.body["send_at"], "2099-01-01T09:00:00-03:00");

    // Rescheduled to another future time.
    let r = send(json!({"send_at": "2098-06-01T10:00:00Z"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "scheduled", "{}", r.body);
    assert_eq!(r.body["send_at"], "2098-06-01T10:00:00Z");

    // Unscheduled: back to loaded, and a second unschedule does not fit.
    let r = t
        .post(&format!("/v1/campaigns/{id}/unschedule"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "loaded", "{}", r.body);
    let r = t
        .post(&format!("/v1/campaigns/{id}/unschedule"), json!({}))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("loaded"),
        "{}",
        r.body
    );

    // `send_at: null` sends now, whatever was scheduled.
    let r = send(json!({"send_at": null})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "sending", "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
}

// Defect 9: the hidden campaigns of single messages and ticket replies were listed as
// campaigns.
#[tokio::test]
async fn single_message_campaigns_are_listed_only_when_asked_for() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = sms_setup(&t, "+15551900002").await;
    let campaign = t
        .loaded_campaign("sms", &account, &template, &["+56969000011".to_string()])
        .await;
    let one = t
        .post(
            "/v1/messages",
            json!({"account_id": account, "phone": "+56969000012", "text": "Hola"}),
        )
        .await;
    assert_eq!(one.status, 202, "{}", one.body);
    let hidden = one.body["campaign_id"].as_str().unwrap();
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = t.get("/v1/campaigns").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(ids(&listed.body), vec![campaign.clone()], "{}", listed.body);
    assert_eq!(listed.body["items"][0]["kind"], "campaign");
    let messages = t.get("/v1/campaigns?kind=message").await.body;
    assert_eq!(ids(&messages), vec![hidden.to_string()], "{messages}");
    assert_eq!(messages["items"][0]["kind"], "message");
    let all = ids(&t.get("/v1/campaigns?kind=all").await.body);
    assert!(
        all.contains(&campaign) && all.contains(&hidden.to_string()),
        "{all:?}"
    );
    let bad = t.get("/v1/campaigns?kind=hidden").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["fields"][0]["field"], "kind", "{}", bad.body);
}

// Defect 11: a campaign whose every message was blocked ended `completed`; seed 001
// calls it an error ("no message of the campaign could be sent").
#[tokio::test]
async fn a_campaign_none_of_whose_messages_could_be_sent_ends_error() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = sms_setup(&t, "+15551900003").await;
    let phones = vec!["+56969000021".to_string(), "+56969000022".to_string()];
    let r = t.post("/v1/dnc", json!({"phones": phones})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = t.loaded_campaign("sms", &account, &template, &phones).await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "error", "{done}");
    assert_eq!(done["progress"]["blocked"], 2, "{done}");
}

// Defect 13: a file without one of the template's parameter columns is invalid, yet
// its rows were counted valid.
#[tokio::test]
async fn a_file_missing_a_parameter_column_has_no_valid_rows_and_keeps_each_rows_problems() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    // The template takes two parameters; the file has one, and row 3's phone is bad.
    let csv = "phone,nombre\n+56969000031,Ana\nnot-a-phone,Luis\n+56969000033,Eva\n";
    let done = t.upload(id, csv.as_bytes().to_vec()).await;
    assert_eq!(done["status"], "invalid", "{done}");
    assert_eq!(done["counts"]["rows"], 3, "{done}");
    assert_eq!(done["counts"]["valid_rows"], 0, "{done}");
    assert_eq!(done["counts"]["invalid_rows"], 3, "{done}");
    let problems = done["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["code"] == "missing_columns"),
        "{done}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p["row"] == 3 && p["column"] == "phone"),
        "row 3's own problem is still listed: {done}"
    );
}

// Defect 14: inputs a property-based run found answering 500.
#[tokio::test]
async fn an_empty_cursor_or_a_blank_phone_is_a_400_naming_it_not_a_500() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let r = t.get("/v1/dnc?cursor=").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "cursor", "{}", r.body);
    for phone in ["%20", "abc", "%2B1"] {
        let r = t
            .call(Method::DELETE, &format!("/v1/dnc/{phone}"), None)
            .await;
        assert_eq!(r.status, 400, "{phone}: {}", r.body);
        assert_eq!(r.body["fields"][0]["field"], "phone", "{}", r.body);
    }
    let r = t
        .call(Method::DELETE, "/v1/dnc/%2B56969000041?campaign_id=", None)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A well-formed phone that is not on the list: 404, as before.
    let r = t.call(Method::DELETE, "/v1/dnc/%2B56969000041", None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    // A `+` is itself in a path (found by `make fuzz`): the phone as GET /v1/dnc lists
    // it, unencoded, removes its entry.
    let r = t.post("/v1/dnc", json!({"phones": ["+56969000042"]})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = t.call(Method::DELETE, "/v1/dnc/+56969000042", None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(t.get("/v1/dnc").await.body["items"], json!([]));
    // And the campaigns list's empty cursor starts from the top.
    let r = t.get("/v1/campaigns?cursor=").await;
    assert!(r.status == 200 || r.status == 400, "{}", r.body);
}

/// Posts a do-not-contact file as a dialer exports it.
async fn dnc_file(stack: &Stack, t: &Tenant<'_>, query: &str, body: &str) -> (u16, Value) {
    let r = stack
        .http
        .post(stack.api(&format!("/v1/dnc{query}")))
        .bearer_auth(&t.key)
        .header("content-type", "text/csv")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

// Defect 12: the dialer's export (seed 002: national number, campaign by name, trailing
// `;`, no header) answered 400 naming only line 2; its first line was taken as a header.
#[tokio::test]
async fn the_dialers_do_not_contact_export_is_read_line_by_line() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = sms_setup(&t, "+15551900004").await;
    let c = t
        .post(
            "/v1/campaigns",
            json!({"name":"marcadortest","channel":"sms","account_id":account,
            "template_id":template,"consent_confirmed":true}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let campaign = c.body["id"].as_str().unwrap();
    // Without a country for national numbers nothing is guessed: every line is named.
    let r = t
        .call(
            Method::PATCH,
            "/v1/settings",
            Some(json!({"default_country": "CL"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["default_country"], "CL");
    // Exactly as the seed shows it.
    let seed = "962000051;marcadortest;\n962000052;marcadortest;\n";
    let (status, body) = dnc_file(&stack, &t, "", seed).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["added"], 2, "{body}");
    let listed = t.get("/v1/dnc").await.body;
    let entries: Vec<(String, String)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["phone"].as_str().unwrap().to_string(),
                e["campaign_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("+56962000051".to_string(), campaign.to_string()),
            ("+56962000052".to_string(), campaign.to_string())
        ]
    );
    // Bad lines: every one named, nothing applied.
    let file = "962000053;marcadortest;\nnot-a-phone;marcadortest;\n962000054;no-such-campaign;\n";
    let (status, body) = dnc_file(&stack, &t, "", file).await;
    assert_eq!(status, 400, "{body}");
    let named: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["line 2", "line 3"], "{body}");
    assert_eq!(
        t.get("/v1/dnc").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // With on_invalid_rows=skip the good line is applied and the bad ones listed.
    let (status, body) = dnc_file(&stack, &t, "?on_invalid_rows=skip", file).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["added"], 1, "{body}");
    assert_eq!(body["skipped"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(
        t.get("/v1/dnc").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

// Defect 8: analytics took the newest 1,000 campaign records, hidden single-message
// campaigns included, and filtered by creation date after that cap.
#[tokio::test]
async fn analytics_filters_first_by_send_date_and_leaves_single_messages_out() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = sms_setup(&t, "+15551900005").await;
    let id = t
        .loaded_campaign("sms", &account, &template, &["+56969000061".to_string()])
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    t.wait_end(&id, Duration::from_secs(60)).await;
    let one = t
        .post(
            "/v1/messages",
            json!({"account_id": account, "phone": "+56969000062", "text": "Hola"}),
        )
        .await;
    assert_eq!(one.status, 202, "{}", one.body);
    let a = t.get("/v1/analytics?period=last_7_days").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["campaigns"], 1, "{}", a.body);
    assert_eq!(a.body["items"][0]["campaign_id"], id.as_str(), "{}", a.body);
    assert_eq!(a.body["capped"], false);
    assert_eq!(a.body["sent"], 1, "{}", a.body);
    assert!(
        a.body["from"].is_string() && a.body["to"].is_string(),
        "{}",
        a.body
    );
    // The previous month holds nothing sent today.
    let prev = t.get("/v1/analytics?period=previous_month").await.body;
    assert_eq!(prev["campaigns"], 0, "{prev}");
    let bad = t.get("/v1/analytics?period=yesterday").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["fields"][0]["field"], "period");
}
