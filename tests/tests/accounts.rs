//! Provider accounts over time (issue "operate it"): credentials replaced through the
//! API become what the webhook checks the provider's signatures with, and the old
//! ones stop working; bad new credentials are refused field by field and change
//! nothing.

use pregon_tests::Stack;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

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

#[tokio::test]
async fn an_account_is_renamed_and_its_rate_changed_and_each_bad_change_is_named() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, _) = t.twilio_sms("+15550009402", "AC_patch").await;
    let path = format!("/v1/accounts/{account}");
    let r = t
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "Cobranzas Chile", "description": "número principal", "rate": 5})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Cobranzas Chile");
    assert_eq!(r.body["rate"], 5);
    let shown = t.get(&path).await.body;
    assert_eq!(
        (&shown["name"], &shown["rate"]),
        (&json!("Cobranzas Chile"), &json!(5))
    );
    let listed = t.get("/v1/accounts").await.body;
    assert_eq!(
        listed["items"][0]["description"], "número principal",
        "{listed}"
    );
    // A left-out field stays; an empty one clears.
    let r = t
        .call(Method::PATCH, &path, Some(json!({"description": ""})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Cobranzas Chile");
    assert!(r.body["description"].is_null(), "{}", r.body);
    // Only gateways have ports; a rate has bounds; unknown fields are named.
    let r = t
        .call(
            Method::PATCH,
            &path,
            Some(json!({"ports": "0-3", "rate": 0, "colour": "red"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let fields = r.fields();
    for f in ["ports", "rate", "colour"] {
        assert!(fields.contains(&f), "{f} named: {}", r.body);
    }
    assert_eq!(t.get(&path).await.body["rate"], 5, "nothing changed");
}

#[tokio::test]
async fn accounts_and_templates_are_filtered_and_unknown_parameters_are_named() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (twilio, _) = t.twilio_sms("+15550009403", "AC_filter").await;
    let r = t
        .call(
            Method::PATCH,
            &format!("/v1/accounts/{twilio}"),
            Some(json!({"name": "Cobranzas Norte"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let gw = t
        .post(
            "/v1/accounts",
            json!({"provider": "sms_gateway", "channel": "sms", "sender": "gw-sur", "ports": "0-1",
                "credentials": {"url": "https://gw.example.cl", "user": "u", "password": "p"}}),
        )
        .await;
    assert_eq!(gw.status, 201, "{}", gw.body);
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let by_provider = t.get("/v1/accounts?provider=sms_gateway").await;
    assert_eq!(ids(&by_provider.body), [gw.body["id"].as_str().unwrap()]);
    let by_text = t.get("/v1/accounts?q=NORTE").await;
    assert_eq!(ids(&by_text.body), [twilio]);
    let r = t.get("/v1/accounts?provider=fax").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "provider");
    let r = t.get("/v1/accounts?colour=red").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "colour");

    // The twilio_sms helper made one SMS template "aviso" (approved).
    let approved = t
        .get("/v1/templates?status=approved&channel=sms&q=pedido")
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(ids(&approved.body).len(), 1, "{}", approved.body);
    let none = t.get("/v1/templates?status=rejected").await;
    assert!(ids(&none.body).is_empty(), "{}", none.body);
    let r = t.get("/v1/templates?departamento=cobranza").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "departamento");
    // Every list names a parameter it does not know, never ignores it.
    for path in [
        "/v1/campaigns?estado=loaded",
        "/v1/dnc?estado=x",
        "/v1/tickets?estado=open",
        "/v1/keys?estado=x",
    ] {
        let r = t.get(path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.fields(), ["estado"], "{path}");
    }
}

/// A disabled account sends nothing: its sending campaign pauses where it stood (the
/// queued jobs parked), a campaign scheduled on it that comes due waits paused, new
/// sends and resumes are refused with 409 `account_disabled`, and it cannot be deleted
/// while those campaigns wait. Enabled again, both finish, each message sent once;
/// then it can be deleted.
#[tokio::test]
async fn a_disabled_account_parks_its_campaigns_and_enabling_finishes_each_message_once() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "+15550009403";
    let (account, template) = t.twilio_sms(sender, "AC_off").await;
    // 300 messages at the account's 20/s take 15 s: the campaign is mid-send.
    let phones: Vec<String> = (0..300).map(|i| format!("+5696460{i:04}")).collect();
    let running = t.loaded_campaign("sms", &account, &template, &phones).await;
    let later_phones: Vec<String> = (0..20).map(|i| format!("+5696461{i:04}")).collect();
    let later = t
        .loaded_campaign("sms", &account, &template, &later_phones)
        .await;
    let r = t
        .post(&format!("/v1/campaigns/{running}/send"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(4);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = t
        .post(
            &format!("/v1/campaigns/{later}/send"),
            json!({"send_at": soon}),
        )
        .await;
    assert_eq!(r.body["status"], "scheduled", "{}", r.body);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let path = format!("/v1/accounts/{account}");
    let r = t
        .call(Method::PATCH, &path, Some(json!({"enabled": false})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["enabled"], false, "{}", r.body);
    assert!(r.body["disabled_at"].is_string(), "{}", r.body);
    assert_eq!(
        t.get(&format!("/v1/campaigns/{running}")).await.body["status"],
        "paused"
    );
    // Refused while disabled: a resume, a single message.
    let r = t
        .post(&format!("/v1/campaigns/{running}/resume"), json!({}))
        .await;
    assert_eq!(
        (r.status, &r.body["error"]),
        (409, &json!("account_disabled")),
        "{}",
        r.body
    );
    let r = t
        .post(
            "/v1/messages",
            json!({"account_id": account, "phone": "+56964629999", "template_id": template, "params": ["x"]}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["error"]),
        (409, &json!("account_disabled")),
        "{}",
        r.body
    );
    let listed = t.get("/v1/accounts?enabled=false").await.body;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(
        t.get("/v1/accounts?enabled=true").await.body["items"],
        json!([])
    );

    // The scheduled one comes due and waits paused; nothing goes out.
    let mut due = json!(null);
    for _ in 0..40 {
        due = t.get(&format!("/v1/campaigns/{later}")).await.body;
        if due["status"] == "paused" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(due["status"], "paused", "{due}");
    // Jobs already past their last check when the pause came (a sender reads a
    // campaign's status at most a second old) may still go: let them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all: Vec<String> = phones.iter().chain(&later_phones).cloned().collect();
    let sent_then = stack.sim_sent(&all).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stack.sim_sent(&all).await,
        sent_then,
        "nothing goes out while disabled"
    );
    assert!(
        sent_then < 300,
        "{sent_then} sent before the pause took hold"
    );
    let r = t.call(Method::DELETE, &path, None).await;
    assert_eq!(
        (r.status, &r.body["error"]),
        (409, &json!("account_in_use")),
        "{}",
        r.body
    );
    let named = r.body["message"].as_str().unwrap_or("");
    assert!(
        named.contains(&running) || named.contains(&later),
        "{}",
        r.body
    );

    let r = t
        .call(Method::PATCH, &path, Some(json!({"enabled": true})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["enabled"], true, "{}", r.body);
    for (id, n) in [(&running, 300), (&later, 20)] {
        let done = t.wait_end(id, Duration::from_secs(90)).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["progress"]["sent"], n, "{done}");
    }
    let stats = stack.sim_get("/_sim/stats").await;
    for p in &all {
        assert_eq!(
            stats["accepted_by_recipient"][p].as_u64(),
            Some(1),
            "{p} sent exactly once"
        );
    }

    // Nothing waits on it now: deleted, and gone.
    let r = t.call(Method::DELETE, &path, None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(t.get(&path).await.status, 404);
}

/// Credentials replaced mid-campaign: from the switch on the provider refuses the old
/// token (a simulator rule), senders still holding it get the provider's 401, read the
/// account's secret again and send with the new one. Every message is sent exactly
/// once and none fails.
#[tokio::test]
async fn credentials_rotated_mid_campaign_lose_nothing_and_send_nothing_twice() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "+15550009404";
    let (account, template) = t.twilio_sms(sender, "AC_rotate").await;
    // 200 messages at the account's 20/s take 10 s.
    let phones: Vec<String> = (0..200).map(|i| format!("+5696462{i:04}")).collect();
    let id = t.loaded_campaign("sms", &account, &template, &phones).await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let r = t
        .call(
            Method::PUT,
            &format!("/v1/accounts/{account}/credentials"),
            Some(
                json!({"credentials": {"account_sid": "AC_rotate", "auth_token": "AC_rotate-new"}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The provider now refuses the old token, for good.
    let rule = stack
        .sim_post(
            "/_sim/rules",
            json!({"provider": "twilio", "sender": sender, "bad_credentials": true,
                "credential": "AC_rotate-token"}),
        )
        .await;
    let rule_id = rule["id"].as_str().expect("the rule's id").to_string();
    let sent_before = stack.sim_sent(&phones).await;
    assert!(sent_before < 200, "{sent_before} sent before the switch");

    let done = t.wait_end(&id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"]["sent"], 200, "{done}");
    assert_eq!(done["progress"]["failed"], 0, "{done}");
    let stats = stack.sim_get("/_sim/stats").await;
    for p in &phones {
        assert_eq!(
            stats["accepted_by_recipient"][p].as_u64(),
            Some(1),
            "{p} sent exactly once"
        );
    }
    let http = &stack.http;
    let url = format!("{}/_sim/rules/{rule_id}", stack.sim());
    http.delete(url).send().await.unwrap();
}
