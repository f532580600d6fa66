//! Clone and re-run (issue 23, item 8; Collection's "Ejecutar"): a campaign that ran is
//! the starting point of the next one. `POST /v1/campaigns/{id}/clone` makes a new
//! campaign awaiting its file with the same settings, and the original stays as it was.

use pregon_tests::Stack;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_sent_campaign_is_cloned_with_its_settings_awaiting_a_new_file() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = t.twilio_sms("+15550009706", "AC_clone").await;
    let settings = json!({
        "name": "Cobranza noviembre", "department": "cobranza", "wait_for_reply_hours": 4,
        "metadata": [{"name": "RUT", "type": "text"}],
        "send_window": {"timezone": "America/Santiago", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "from": "00:00", "to": "23:59"},
        "on_invalid_rows": "skip", "report_email": "supervisora@empresa.example"
    });
    let id = t
        .loaded_campaign_with(
            "sms",
            &account,
            &template,
            &["+56966900001".to_string(), "+56966900002".to_string()],
            settings,
        )
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");

    let copy = t
        .post(&format!("/v1/campaigns/{id}/clone"), json!({}))
        .await;
    assert_eq!(copy.status, 201, "{}", copy.body);
    let c = &copy.body;
    assert_ne!(c["id"], id.as_str());
    assert_eq!(c["status"], "awaiting_file", "{c}");
    assert_eq!(c["name"], "Cobranza noviembre (copia)");
    for k in [
        "channel",
        "account_id",
        "template_id",
        "department",
        "wait_for_reply_hours",
        "metadata",
        "send_window",
        "on_invalid_rows",
        "report_email",
    ] {
        assert_eq!(c[k], done[k], "{k} was not copied: {c}");
    }
    assert_eq!(c["created_by"], "first key");
    assert_eq!(c["counts"]["rows"], 0, "{c}");
    // Its sheet has the same columns, ready for the next list.
    let sheet = stack
        .http
        .get(stack.api(&format!(
            "/v1/campaigns/{}/sheet?format=csv",
            c["id"].as_str().unwrap()
        )))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sheet.trim_start_matches('\u{feff}').trim(),
        "phone,param_1,RUT"
    );
    // The original is untouched.
    let original = t.get(&format!("/v1/campaigns/{id}")).await.body;
    assert_eq!(original["status"], "completed");
    assert_eq!(original["name"], "Cobranza noviembre");

    // A name of its own; bad requests named; another tenant's or no campaign is 404.
    let named = t
        .post(
            &format!("/v1/campaigns/{id}/clone"),
            json!({"name": "Cobranza diciembre"}),
        )
        .await;
    assert_eq!(named.status, 201, "{}", named.body);
    assert_eq!(named.body["name"], "Cobranza diciembre");
    let bad = t
        .post(
            &format!("/v1/campaigns/{id}/clone"),
            json!({"nombre": "x", "name": ""}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["fields"][0]["field"], "nombre", "{}", bad.body);
    let empty = t
        .post(&format!("/v1/campaigns/{id}/clone"), json!({"name": ""}))
        .await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    assert_eq!(empty.body["fields"][0]["field"], "name", "{}", empty.body);
    let other = stack.tenant().await;
    let theirs = other
        .post(&format!("/v1/campaigns/{id}/clone"), json!({}))
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    let none = t.post("/v1/campaigns/cmp_nope/clone", json!({})).await;
    assert_eq!(none.status, 404, "{}", none.body);
}
