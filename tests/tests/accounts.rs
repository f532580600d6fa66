//! Provider accounts over time (issue "operate it"): credentials replaced through the
//! API become what the webhook checks the provider's signatures with, and the old
//! ones stop working; bad new credentials are refused field by field and change
//! nothing.

use pregon_tests::Stack;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn replaced_credentials_are_what_the_webhook_checks_from_then_on() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "+15550009401";
    let acc = t
        .post(
            "/v1/accounts",
            json!({"provider": "twilio", "channel": "sms", "sender": sender,
                "default_country": "CL", "credentials": {"account_sid": "AC_rot", "auth_token": "old-token"}}),
        )
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let id = acc.body["id"].as_str().unwrap().to_string();
    let path = format!("/v1/accounts/{id}/credentials");

    // A missing field is named; nothing changes.
    let r = t
        .call(
            Method::PUT,
            &path,
            Some(json!({"credentials": {"account_sid": "AC_rot"}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["fields"][0]["field"], "credentials.auth_token",
        "{}",
        r.body
    );

    let r = t
        .call(
            Method::PUT,
            &path,
            Some(json!({"credentials": {"account_sid": "AC_rot", "auth_token": "new-token"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["credentials"], "stored", "{}", r.body);
    assert!(
        !r.body.to_string().contains("new-token"),
        "never shown again"
    );
    let hook = r.body["webhook_url"].clone();

    // The provider signs with the new token: taken.
    let play = |token: &'static str, from: &'static str| {
        let (stack, hook) = (&stack, hook.clone());
        async move {
            stack
                .sim_post(
                    "/_sim/webhooks",
                    json!({"provider": "twilio", "sender": sender, "url": hook,
                        "auth_token": token, "account_sid": "AC_rot"}),
                )
                .await;
            stack
                .sim_post(
                    "/_sim/inbound",
                    json!({"provider": "twilio", "sender": sender, "from": from, "text": "Hola"}),
                )
                .await
        }
    };
    let r = play("new-token", "+56964700001").await;
    assert_eq!(r["status"], 200, "{r}");
    assert!(!t.ticket_for("+56964700001").await.is_empty());
    // Signed with the old one: refused.
    let r = play("old-token", "+56964700002").await;
    assert_eq!(r["status"], 403, "{r}");
}
