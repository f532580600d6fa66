//! Gupshup's WhatsApp API and partner API as providers.md and Gupshup's
//! partner docs describe them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const APP_ID: &str = "bf9ee64c-3d4d-4ac4-0000-732e577007c4";
const SOURCE: &str = "15550001111";

async fn seed_template(sim: &TestSim) -> String {
    let seeded = sim
        .control(
            "/_sim/templates",
            json!({"provider": "gupshup", "account": APP_ID, "name": "aviso_cobranza",
                   "language": "es", "body": "Hola {{1}}, tu deuda es {{2}}"}),
        )
        .await;
    seeded["id"].as_str().unwrap().to_string()
}

fn template_form(template_id: &str, to: &str) -> String {
    let template = json!({"id": template_id, "params": ["María", "$12.500"]}).to_string();
    let header =
        json!({"type": "image", "image": {"link": "https://example.com/promo.png"}}).to_string();
    form(&[
        ("source", SOURCE),
        ("destination", to),
        ("src.name", "DemoApp"),
        ("template", &template),
        ("message", &header),
    ])
}

async fn send_template(sim: &TestSim, body: String) -> (StatusCode, Value) {
    answer(
        sim.post("/wa/api/v1/template/msg")
            .header("apikey", "key-123")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await
}

fn assert_gupshup_error(body: &Value) {
    assert_eq!(body["status"], "error", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn the_documented_template_send_is_submitted() {
    bounded(async {
        let sim = sim().await;
        let id = seed_template(&sim).await;
        let (status, body) = send_template(&sim, template_form(&id, "56962000021")).await;
        assert!(status.is_success(), "{status} {body}");
        assert_eq!(body["status"], "submitted");
        let message_id = body["messageId"].as_str().unwrap();
        assert_eq!(message_id.len(), 36);

        let messages = sim.json("/_sim/messages?recipient=+56962000021").await;
        assert_eq!(messages[0]["provider"], "gupshup");
        assert_eq!(messages[0]["sender"], SOURCE);
        assert_eq!(messages[0]["provider_message_id"], message_id);
        assert_eq!(messages[0]["content"]["template_id"], id);
        assert_eq!(
            messages[0]["content"]["params"],
            json!(["María", "$12.500"])
        );
        assert_eq!(
            messages[0]["content"]["header"]["image"]["link"],
            "https://example.com/promo.png"
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn free_form_messages_are_submitted() {
    bounded(async {
        let sim = sim().await;
        let message = json!({"type": "text", "text": "¿Puedo ayudarte?"}).to_string();
        let (status, body) = answer(sim.post("/wa/api/v1/msg").header("apikey", "key-123").body(
            form(&[
                ("channel", "whatsapp"),
                ("source", SOURCE),
                ("destination", "56962000021"),
                ("src.name", "DemoApp"),
                ("message", &message),
            ]),
        ))
        .await;
        assert!(status.is_success(), "{status} {body}");
        assert_eq!(body["status"], "submitted");
        let messages = sim.json("/_sim/messages").await;
        assert_eq!(messages[0]["content"]["text"], "¿Puedo ayudarte?");
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_missing_api_key_gets_401_and_bad_bodies_400() {
    bounded(async {
        let sim = sim().await;
        let id = seed_template(&sim).await;
        let (status, body) = answer(
            sim.post("/wa/api/v1/template/msg")
                .body(template_form(&id, "56962000021")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_gupshup_error(&body);

        let wrong_count = form(&[
            ("source", SOURCE),
            ("destination", "56962000021"),
            ("src.name", "DemoApp"),
            (
                "template",
                &json!({"id": id, "params": ["María"]}).to_string(),
            ),
        ]);
        let (status, body) = send_template(&sim, wrong_count).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_gupshup_error(&body);

        let (status, body) =
            send_template(&sim, template_form("no-such-template", "56962000021")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_gupshup_error(&body);

        let (status, _) = send_template(&sim, template_form(&id, "+56 abc")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(sim.stats().await["rejected"], 4);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_fail_rule_answers_with_gupshups_error_shape() {
    bounded(async {
        let sim = sim().await;
        let id = seed_template(&sim).await;
        sim.rule(
            json!({"provider": "gupshup", "fail": {"code": 1002, "status": 400,
                        "message": "Number Does Not Exists On WhatsApp"}}),
        )
        .await;
        let (status, body) = send_template(&sim, template_form(&id, "56962000099")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"status": "error", "message": "Number Does Not Exists On WhatsApp"})
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_throttles_the_excess_with_http_429() {
    bounded(async {
        let sim = sim().await;
        let id = seed_template(&sim).await;
        sim.control("/_sim/senders", json!({"sender": SOURCE, "rate": 100}))
            .await;
        at_start_of_a_second().await;
        let started = Instant::now();
        let answers = burst(300, |_| {
            sim.post("/wa/api/v1/template/msg")
                .header("apikey", "key-123")
                .body(template_form(&id, "56962000021"))
        })
        .await;
        let took = started.elapsed();
        let ok = answers.iter().filter(|(s, _)| s.is_success()).count();
        let throttled: Vec<_> = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .collect();
        assert_eq!(ok + throttled.len(), 300);
        for (_, body) in &throttled {
            assert_gupshup_error(body);
        }
        assert!(ok >= 100);
        if took < Duration::from_millis(900) {
            assert_eq!(ok, 100);
        }
        let stats = sim.stats().await;
        assert!(
            stats["max_accepted_in_any_second"][SOURCE]
                .as_u64()
                .unwrap()
                <= 100
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn drop_after_accept_closes_the_connection_and_counts_accepted() {
    bounded(async {
        let sim = sim().await;
        let id = seed_template(&sim).await;
        sim.rule(json!({"provider": "gupshup", "drop_after_accept": true}))
            .await;
        let result = client()
            .post(sim.url("/wa/api/v1/template/msg"))
            .header("apikey", "key-123")
            .body(template_form(&id, "56962000021"))
            .send()
            .await;
        assert!(result.is_err(), "no HTTP response");
        assert_eq!(sim.stats().await["accepted"], 1);
        sim.stop().await;
    })
    .await
}

async fn app_token(sim: &TestSim) -> String {
    let (status, login) = answer(sim.post("/partner/account/login").body(form(&[
        ("email", "partner@example.com"),
        ("password", "secret"),
    ])))
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let partner_token = login["token"].as_str().unwrap().to_string();
    let (status, token) = answer(
        sim.get(&format!("/partner/app/{APP_ID}/token/"))
            .header("Authorization", &partner_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["status"], "success");
    token["token"]["token"].as_str().unwrap().to_string()
}

async fn apply(sim: &TestSim, token: &str, name: &str) -> Value {
    let (status, body) = answer(
        sim.post(&format!("/partner/app/{APP_ID}/templates"))
            .header("Authorization", token)
            .body(form(&[
                ("elementName", name),
                ("languageCode", "es"),
                ("category", "UTILITY"),
                ("templateType", "TEXT"),
                ("vertical", "cobranza"),
                ("content", "Hola {{1}}, tu deuda es {{2}}"),
                ("example", "Hola María, tu deuda es $12.500"),
            ])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "success");
    body["template"].clone()
}

async fn listed(sim: &TestSim, token: &str, name: &str) -> Value {
    let (status, body) = answer(
        sim.get(&format!("/partner/app/{APP_ID}/templates"))
            .header("Authorization", token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["elementName"] == name)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_template_applied_through_the_partner_api_is_approved_after_about_a_second() {
    bounded(async {
        let sim = sim().await;
        let token = app_token(&sim).await;
        let template = apply(&sim, &token, "aviso_cobranza").await;
        assert_eq!(template["status"], "PENDING");
        assert_eq!(
            listed(&sim, &token, "aviso_cobranza").await["status"],
            "PENDING"
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let approved = listed(&sim, &token, "aviso_cobranza").await;
        assert_eq!(approved["status"], "APPROVED");
        assert_eq!(approved["languageCode"], "es");

        let id = template["id"].as_str().unwrap();
        let (status, body) = send_template(&sim, template_form(id, "56962000021")).await;
        assert!(status.is_success(), "{body}");

        let (status, body) = answer(sim.get(&format!("/partner/app/{APP_ID}/templates"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_gupshup_error(&body);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_reject_rule_gives_rejected_with_the_reason() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"provider": "gupshup", "template": "promo_*", "reject": "Promotional content in utility", "after_ms": 50})).await;
        let token = app_token(&sim).await;
        apply(&sim, &token, "promo_verano").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rejected = listed(&sim, &token, "promo_verano").await;
        assert_eq!(rejected["status"], "REJECTED");
        assert_eq!(rejected["reason"], "Promotional content in utility");
        sim.stop().await;
    })
    .await
}

async fn delete_template(sim: &TestSim, token: Option<&str>, name: &str) -> (StatusCode, Value) {
    let mut request = sim
        .http
        .delete(sim.url(&format!("/partner/app/{APP_ID}/template/{name}")));
    if let Some(token) = token {
        request = request.header("Authorization", token);
    }
    answer(request).await
}

#[tokio::test]
async fn a_template_deleted_through_the_partner_api_is_gone_and_refused_on_send() {
    bounded(async {
        let sim = sim().await;
        let token = app_token(&sim).await;
        let id = seed_template(&sim).await;
        let applied = apply(&sim, &token, "aviso_pago").await;

        let (status, body) = delete_template(&sim, None, "aviso_cobranza").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_gupshup_error(&body);

        let (status, body) = delete_template(&sim, Some(&token), "aviso_cobranza").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"status": "success"}));

        let (_, listed) = answer(
            sim.get(&format!("/partner/app/{APP_ID}/templates"))
                .header("Authorization", &token),
        )
        .await;
        let names: Vec<&str> = listed["templates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["elementName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["aviso_pago"]);
        let seeded = sim.json("/_sim/templates").await;
        assert_eq!(seeded.as_array().unwrap().len(), 1);
        assert_eq!(seeded[0]["id"], applied["id"]);

        let (status, body) = send_template(&sim, template_form(&id, "56962000021")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_gupshup_error(&body);

        let (status, body) = delete_template(&sim, Some(&token), "aviso_cobranza").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"status": "error", "message": "Template Does not exists."})
        );
        sim.stop().await;
    })
    .await
}

async fn send_with(sim: &TestSim, api_key: &str, id: &str) -> (StatusCode, Value) {
    answer(
        sim.post("/wa/api/v1/template/msg")
            .header("apikey", api_key)
            .body(template_form(id, "56962000021")),
    )
    .await
}

#[tokio::test]
async fn a_credential_rule_refuses_only_the_rotated_out_api_key_or_app_token() {
    bounded(async {
        let sim = sim().await;
        let id = seed_template(&sim).await;
        sim.rule(json!({"provider": "gupshup", "sender": SOURCE,
                        "bad_credentials": true, "credential": "old-key"}))
            .await;
        for _ in 0..2 {
            let (status, body) = send_with(&sim, "old-key", &id).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "no times: refused from now on"
            );
            assert_eq!(
                body,
                json!({"status": "error", "message": "Authentication Failed"})
            );
        }
        let (status, body) = send_with(&sim, "new-key", &id).await;
        assert!(status.is_success(), "{status} {body}");

        // Template endpoints match on the app id as sender and the token.
        sim.rule(json!({"provider": "gupshup", "sender": APP_ID,
                        "bad_credentials": true, "credential": "sk_old"}))
            .await;
        let templates = format!("/partner/app/{APP_ID}/templates");
        let (status, body) = answer(sim.get(&templates).header("Authorization", "sk_old")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_gupshup_error(&body);
        let (status, _) = answer(sim.get(&templates).header("Authorization", "sk_new")).await;
        assert_eq!(status, StatusCode::OK);

        sim.http
            .delete(sim.url("/_sim/rules"))
            .send()
            .await
            .unwrap();
        sim.rule(json!({"provider": "gupshup", "sender": SOURCE, "bad_credentials": true}))
            .await;
        for key in ["old-key", "new-key"] {
            let (status, _) = send_with(&sim, key, &id).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "without credential: {key} refused"
            );
        }
        sim.stop().await;
    })
    .await
}
