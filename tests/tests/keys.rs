//! API keys with names and scopes, and tenants made by the operator (issue "operate
//! it"), through the running local stack's API: each route refuses a key without its
//! scope (403 `insufficient_scope` naming it) and takes one with it; a revoked key, a
//! rotated-away secret and an expired key are refused at once; the operator makes a
//! tenant whose first key can do everything, and a tenant key never opens the
//! operator's routes.

use pregon_tests::{Reply, Stack, Tenant};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// A key of `t` holding `scopes`, as a tenant handle that uses it.
async fn with_scopes<'a>(t: &Tenant<'a>, scopes: &[&str]) -> (Tenant<'a>, Value) {
    let r = t
        .post("/v1/keys", json!({"name": "test key", "scopes": scopes}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["key"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    assert!(secret.starts_with("pgn_"), "{secret}");
    (t.with_key(&secret), r.body)
}

#[tokio::test]
async fn each_route_takes_only_a_key_holding_its_scope() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = t.twilio_sms("+15550009301", "AC_keys").await;
    let campaign = json!({"name": "Scopes", "channel": "sms", "account_id": account,
        "template_id": template, "consent_confirmed": true});
    // (method, path, body, the scope it needs)
    let routes: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/v1/campaigns".into(), None, "read"),
        (Method::GET, format!("/v1/accounts/{account}"), None, "read"),
        (
            Method::POST,
            "/v1/campaigns".into(),
            Some(campaign.clone()),
            "campaigns:write",
        ),
        (
            Method::POST,
            "/v1/dnc".into(),
            Some(json!({"phones": ["+56964400001"]})),
            "campaigns:write",
        ),
        (
            Method::POST,
            "/v1/messages".into(),
            Some(json!({"account_id": account, "phone": "+56964400002", "text": "Hola"})),
            "send",
        ),
        (
            Method::PATCH,
            "/v1/settings".into(),
            Some(json!({"idle_close_hours": 12})),
            "settings:write",
        ),
        (Method::GET, "/v1/keys".into(), None, "keys:admin"),
    ];
    for (method, path, body, scope) in &routes {
        // Every other scope: refused, naming the one it needs.
        let others: Vec<&str> = [
            "read",
            "campaigns:write",
            "send",
            "tickets:write",
            "settings:write",
            "keys:admin",
        ]
        .into_iter()
        .filter(|s| s != scope)
        .collect();
        let (without, _) = with_scopes(&t, &others).await;
        let r = without.call(method.clone(), path, body.clone()).await;
        assert_eq!(r.status, 403, "{method} {path} without {scope}: {}", r.body);
        assert_eq!(r.body["error"], "insufficient_scope", "{}", r.body);
        assert!(
            r.body["message"].as_str().unwrap_or("").contains(scope),
            "{method} {path}: the refusal names {scope}: {}",
            r.body
        );
        // Only its scope: taken.
        let (with, _) = with_scopes(&t, &[scope]).await;
        let r = with.call(method.clone(), path, body.clone()).await;
        assert!(
            (200..300).contains(&r.status),
            "{method} {path} with {scope}: {} {}",
            r.status,
            r.body
        );
    }
}

#[tokio::test]
async fn revoked_rotated_and_expired_keys_are_refused_at_once() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (k, made) = with_scopes(&t, &["read"]).await;
    assert_eq!(k.get("/v1/campaigns").await.status, 200);
    let id = made["id"].as_str().unwrap().to_string();
    // Listed by name and scopes, never with its secret.
    let list = t.get("/v1/keys").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let listed: Vec<&Value> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["id"] == id.as_str())
        .collect();
    assert_eq!(listed.len(), 1, "{}", list.body);
    assert_eq!(listed[0]["scopes"], json!(["read"]));
    assert!(
        listed[0].get("key").is_none_or(Value::is_null),
        "{}",
        list.body
    );
    assert!(!list.body.to_string().contains(&k.key[4..]));

    // Rotation: a new secret, the same key; the old secret is refused from now on.
    let r = t
        .call(Method::POST, &format!("/v1/keys/{id}/rotate"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    let new = t.with_key(r.body["key"].as_str().unwrap());
    assert_ne!(new.key, k.key);
    assert_eq!(k.get("/v1/campaigns").await.status, 401);
    assert_eq!(new.get("/v1/campaigns").await.status, 200);

    // Revocation: refused on the next request.
    let r = t
        .call(Method::DELETE, &format!("/v1/keys/{id}"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(new.get("/v1/campaigns").await.status, 401);
    let again = t
        .call(Method::DELETE, &format!("/v1/keys/{id}"), None)
        .await;
    assert_eq!(again.status, 404, "{}", again.body);

    // Expiry: a key made to last two seconds.
    let at = pregon::model::format_time(time::OffsetDateTime::now_utc() + Duration::from_secs(2));
    let r = t
        .post(
            "/v1/keys",
            json!({"name": "short", "scopes": ["read"], "expires_at": at}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let short = t.with_key(r.body["key"].as_str().unwrap());
    assert_eq!(short.get("/v1/campaigns").await.status, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = short.get("/v1/campaigns").await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.body["message"].as_str().unwrap_or("").contains("expired"),
        "{}",
        r.body
    );

    // Bad requests are named field by field.
    let r = t
        .post("/v1/keys", json!({"name": "", "scopes": ["write"]}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let fields = r.fields();
    assert!(
        fields.contains(&"name") && fields.contains(&"scopes[0]"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_operator_makes_a_tenant_whose_first_key_can_do_everything() {
    let stack = Stack::connect().await;
    let id = format!("acme-{}", pregon::model::new_id("t").to_lowercase());
    let made = stack
        .operator(
            Method::POST,
            "/v1/admin/tenants",
            Some(json!({"id": id, "name": "ACME Cobranzas"})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["tenant_id"], id.as_str());
    let t = Tenant {
        stack: &stack,
        id: id.clone(),
        key: made.body["key"].as_str().unwrap().to_string(),
    };
    // Its first key holds every scope: it can make accounts and keys.
    let (account, _) = t.twilio_sms("+15550009302", "AC_first").await;
    assert!(account.starts_with("acc_"), "{account}");
    assert_eq!(t.get("/v1/keys").await.status, 200);
    // The same id twice is refused.
    let again = json!({"id": id, "name": "again"});
    let r = stack
        .operator(Method::POST, "/v1/admin/tenants", Some(again))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Listed and shown to the operator; never to a tenant key.
    let shown = stack
        .operator(Method::GET, &format!("/v1/admin/tenants/{id}"), None)
        .await;
    assert_eq!(shown.body["name"], "ACME Cobranzas", "{}", shown.body);
    let mut found = false;
    let mut path = "/v1/admin/tenants?limit=100".to_string();
    for _ in 0..50 {
        let page = stack.operator(Method::GET, &path, None).await.body;
        found |= page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["tenant_id"] == id.as_str());
        match page["next_cursor"].as_str() {
            Some(c) if !found => path = format!("/v1/admin/tenants?limit=100&cursor={c}"),
            _ => break,
        }
    }
    assert!(found, "the new tenant is in the operator's list");
    let r = t.get("/v1/admin/tenants").await;
    assert_eq!(r.status, 401, "{}", r.body);
}

/// A disabled tenant: every key refused, its sending campaign paused where it stood;
/// enabled again: the keys work and the campaign finishes, each message sent once.
#[tokio::test]
async fn a_disabled_tenant_is_refused_and_paused_then_resumes_each_message_once() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "+15550009303";
    let (account, template) = t.twilio_sms(sender, "AC_disable").await;
    // 300 messages at the account's 20/s take 15 s: the campaign is mid-send.
    let phones: Vec<String> = (0..300).map(|i| format!("+5696450{i:04}")).collect();
    let id = t.loaded_campaign("sms", &account, &template, &phones).await;
    // And one scheduled to start while the tenant is disabled.
    let later_phones: Vec<String> = (0..10).map(|i| format!("+5696455{i:04}")).collect();
    let later = t
        .loaded_campaign("sms", &account, &template, &later_phones)
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
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

    let disable = format!("/v1/admin/tenants/{}/disable", t.id);
    let Reply { status, body } = stack.operator(Method::POST, &disable, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["disabled_at"].is_string(), "{body}");
    let r = t.get("/v1/campaigns").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"], "tenant_disabled", "{}", r.body);
    let c = stack.campaign_item(&t.id, &id).await.unwrap();
    assert_eq!(
        c.status.as_str(),
        "paused",
        "the operator's disable paused it"
    );
    // The scheduled one comes due and waits paused.
    let mut due = None;
    for _ in 0..40 {
        let c = stack.campaign_item(&t.id, &later).await.unwrap();
        if c.status.as_str() == "paused" {
            due = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        due.is_some(),
        "the campaign due while disabled waits paused"
    );
    assert_eq!(stack.sim_sent(&later_phones).await, 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent_then = stack.sim_sent(&phones).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stack.sim_sent(&phones).await,
        sent_then,
        "nothing goes out while disabled"
    );
    assert!(
        sent_then < 300,
        "{sent_then} sent before the pause took hold"
    );

    let enable = format!("/v1/admin/tenants/{}/enable", t.id);
    let Reply { status, body } = stack.operator(Method::POST, &enable, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["disabled_at"].is_null(), "{body}");
    assert_eq!(t.get("/v1/campaigns").await.status, 200);
    let done = t.wait_end(&id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"]["sent"], 300, "{done}");
    let done = t.wait_end(&later, Duration::from_secs(60)).await;
    assert_eq!(done["progress"]["sent"], 10, "{done}");
    let stats = stack.sim_get("/_sim/stats").await;
    for p in phones.iter().chain(&later_phones) {
        assert_eq!(
            stats["accepted_by_recipient"][p].as_u64(),
            Some(1),
            "{p} sent exactly once"
        );
    }
}

/// What a key writes carries its name: a campaign's `created_by`, a do-not-contact
/// entry's `created_by`, an agent reply's `author`, a ticket's `attended_by` and
/// `closed_by`.
#[tokio::test]
async fn records_carry_the_name_of_the_key_that_wrote_them() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "+15550009304";
    let (account, template) = t.twilio_sms(sender, "AC_by").await;
    let r = t
        .post(
            "/v1/keys",
            json!({"name": "supervisora Ana", "scopes": ["read", "campaigns:write", "tickets:write"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ana = t.with_key(r.body["key"].as_str().unwrap());
    let c = ana
        .post(
            "/v1/campaigns",
            json!({"name": "Por Ana", "channel": "sms", "account_id": account,
                "template_id": template, "consent_confirmed": true}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["created_by"], "supervisora Ana", "{}", c.body);
    let listed = ana.get("/v1/campaigns").await;
    assert_eq!(listed.body["items"][0]["created_by"], "supervisora Ana");

    let d = ana
        .post("/v1/dnc", json!({"phones": ["+56964600001"]}))
        .await;
    assert_eq!(d.status, 201, "{}", d.body);
    let dnc = ana.get("/v1/dnc").await;
    let entry = dnc.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["phone"] == "+56964600001")
        .cloned()
        .unwrap();
    assert_eq!(entry["created_by"], "supervisora Ana", "{entry}");

    // A customer writes; Ana answers, takes and closes the ticket.
    let phone = "+56964600002";
    let r = stack
        .sim_post(
            "/_sim/inbound",
            json!({"provider": "twilio", "sender": sender, "from": phone, "text": "Hola"}),
        )
        .await;
    assert_eq!(r["status"], 200, "{r}");
    let ticket = t.ticket_for(phone).await;
    let r = ana
        .post(
            &format!("/v1/tickets/{ticket}/reply"),
            json!({"text": "Hola, ¿en qué le ayudo?"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = ana
        .post(&format!("/v1/tickets/{ticket}/attend"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["attended_by"], "supervisora Ana", "{}", r.body);
    let r = ana
        .post(&format!("/v1/tickets/{ticket}/close"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["closed_by"], "supervisora Ana", "{}", r.body);
    let shown = ana.get(&format!("/v1/tickets/{ticket}")).await.body;
    assert_eq!(shown["attended_by"], "supervisora Ana", "{shown}");
    assert_eq!(shown["closed_by"], "supervisora Ana", "{shown}");
    let out: Vec<&Value> = shown["conversation"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["direction"] == "out")
        .collect();
    assert_eq!(out.len(), 1, "{shown}");
    assert_eq!(out[0]["author"], "supervisora Ana", "{shown}");
}

/// The operator's daily message quota for a tenant: what is over it is held back, queued
/// (neither failed nor sent twice), and the operator sees today's count against it.
#[tokio::test]
async fn a_tenants_daily_quota_holds_back_what_is_over_it() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let limits = format!("/v1/admin/tenants/{}/limits", t.id);
    let Reply { status, body } = stack
        .operator(Method::PUT, &limits, Some(json!({"messages_per_day": 15})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages_per_day"], 15, "{body}");
    assert_eq!(body["messages_sent_today"], 0, "{body}");
    let Reply { status, body } = stack
        .operator(Method::PUT, &limits, Some(json!({"messages_per_day": 0})))
        .await;
    assert_eq!(
        status, 400,
        "a quota of nothing is a disabled tenant: {body}"
    );

    let sender = "+15550009305";
    let (account, template) = t.twilio_sms(sender, "AC_quota").await;
    let phones: Vec<String> = (0..25).map(|i| format!("+5696463{i:04}")).collect();
    let id = t.loaded_campaign("sms", &account, &template, &phones).await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stack.sim_sent(&phones).await < 15 {
        assert!(
            std::time::Instant::now() < deadline,
            "the quota's 15 never went"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        stack.sim_sent(&phones).await,
        15,
        "nothing over the quota goes"
    );
    let stats = stack.sim_get("/_sim/stats").await;
    assert!(
        phones
            .iter()
            .all(|p| stats["accepted_by_recipient"][p].as_u64().unwrap_or(0) <= 1),
        "none twice"
    );
    let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
    assert_eq!(c["status"], "sending", "{c}");
    assert_eq!(c["progress"]["sent"], 15, "{c}");
    assert_eq!(c["progress"]["failed"], 0, "held back, not failed: {c}");
    let Reply { body, .. } = stack.operator(Method::GET, &limits, None).await;
    assert_eq!(body["messages_sent_today"], 15, "{body}");
}
