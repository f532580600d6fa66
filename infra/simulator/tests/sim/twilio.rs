//! Twilio Programmable Messaging and the Content API as providers.md and
//! Twilio's docs describe them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const ACCOUNT: &str = "AC0000000000000000000000000000000a";
const TOKEN: &str = "auth-token";

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
}

async fn send(sim: &TestSim, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
    answer(
        sim.post(&messages_path())
            .basic_auth(ACCOUNT, Some(TOKEN))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(pairs)),
    )
    .await
}

const SMS: &[(&str, &str)] = &[
    ("To", "+56962000001"),
    ("From", "+15550001111"),
    ("Body", "Hola María, tu deuda es $12.500"),
    ("StatusCallback", "http://127.0.0.1:9/cb?m=c_1%2Fe_1"),
];

fn assert_twilio_error(body: &Value, status: u16, code: i64) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
}

#[tokio::test]
async fn the_documented_sms_send_is_created_with_the_documented_body() {
    bounded(async {
        let sim = sim().await;
        let (status, body) = send(&sim, SMS).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let sid = body["sid"].as_str().unwrap();
        assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
        assert!(sid[2..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(body["status"], "queued");
        assert_eq!(body["to"], "+56962000001");
        assert_eq!(body["from"], "+15550001111");
        assert_eq!(body["num_segments"], "1");
        assert_eq!(body["error_code"], Value::Null);
        assert_eq!(body["account_sid"], ACCOUNT);

        let messages = sim.json("/_sim/messages").await;
        assert_eq!(messages[0]["provider"], "twilio");
        assert_eq!(messages[0]["sender"], "+15550001111");
        assert_eq!(messages[0]["provider_message_id"], sid);
        assert_eq!(
            messages[0]["content"]["body"],
            "Hola María, tu deuda es $12.500"
        );
        assert_eq!(
            messages[0]["correlation"]["status_callback"],
            "http://127.0.0.1:9/cb?m=c_1%2Fe_1"
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn bad_credentials_get_20003_with_http_401() {
    bounded(async {
        let sim = sim().await;
        let (status, body) = answer(
            sim.post(&messages_path())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(SMS)),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_twilio_error(&body, 401, 20003);

        let (status, body) = answer(
            sim.post(&messages_path())
                .basic_auth("AC_someone_else", Some(TOKEN))
                .body(form(SMS)),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_twilio_error(&body, 401, 20003);
        assert_eq!(sim.stats().await["rejected"], 2);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn bodies_twilio_would_refuse_get_twilios_codes() {
    bounded(async {
        let sim = sim().await;
        let (status, body) = send(
            &sim,
            &[("To", "+5691"), ("From", "+15550001111"), ("Body", "x")],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_twilio_error(&body, 400, 21211);
        let (_, body) = send(&sim, &[("From", "+15550001111"), ("Body", "x")]).await;
        assert_twilio_error(&body, 400, 21604);
        let (_, body) = send(&sim, &[("To", "+56962000001"), ("Body", "x")]).await;
        assert_twilio_error(&body, 400, 21603);
        let (_, body) = send(&sim, &[("To", "+56962000001"), ("From", "+15550001111")]).await;
        assert_twilio_error(&body, 400, 21602);
        let (_, body) = send(
            &sim,
            &[
                ("To", "+56962000001"),
                ("From", "+15550001111"),
                ("ContentVariables", "{}"),
            ],
        )
        .await;
        assert_twilio_error(&body, 400, 21654);
        let (_, body) = send(
            &sim,
            &[
                ("To", "whatsapp:+56962000001"),
                ("From", "whatsapp:+15550001111"),
                ("ContentSid", "HX00000000000000000000000000000000"),
            ],
        )
        .await;
        assert_twilio_error(&body, 400, 21655);
        assert_eq!(sim.stats().await["rejected"], 6);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_fail_rule_answers_with_twilios_error_for_that_code() {
    bounded(async {
        let sim = sim().await;
        sim.rule(
            json!({"provider": "twilio", "recipient": "+56962000001", "fail": {"code": 21610}}),
        )
        .await;
        let (status, body) = send(&sim, SMS).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_twilio_error(&body, 400, 21610);
        sim.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_throttles_the_excess_with_20429_per_sender() {
    bounded(async {
        let sim = sim().await;
        sim.control(
            "/_sim/senders",
            json!({"sender": "+15550001111", "rate": 100}),
        )
        .await;
        at_start_of_a_second().await;
        let started = Instant::now();
        let answers = burst(300, |_| {
            sim.post(&messages_path())
                .basic_auth(ACCOUNT, Some(TOKEN))
                .body(form(SMS))
        })
        .await;
        let took = started.elapsed();
        let ok = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count();
        let throttled: Vec<_> = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .collect();
        assert_eq!(ok + throttled.len(), 300);
        for (_, body) in &throttled {
            assert_twilio_error(body, 429, 20429);
        }
        assert!(ok >= 100);
        if took < Duration::from_millis(900) {
            assert_eq!(ok, 100);
        }
        let stats = sim.stats().await;
        assert!(
            stats["max_accepted_in_any_second"]["+15550001111"]
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
        sim.rule(json!({"provider": "twilio", "drop_after_accept": true, "times": 1}))
            .await;
        let result = client()
            .post(sim.url(&messages_path()))
            .basic_auth(ACCOUNT, Some(TOKEN))
            .body(form(SMS))
            .send()
            .await;
        assert!(result.is_err(), "no HTTP response");
        assert_eq!(sim.stats().await["accepted"], 1);
        sim.stop().await;
    })
    .await
}

async fn create_content(sim: &TestSim) -> String {
    let (status, body) = answer(
        sim.post("/v1/Content")
            .basic_auth(ACCOUNT, Some(TOKEN))
            .json(&json!({
                "friendly_name": "aviso_cobranza",
                "language": "es",
                "variables": {"1": "María", "2": "$12.500"},
                "types": {"twilio/text": {"body": "Hola {{1}}, tu deuda es {{2}}"}}
            })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sid = body["sid"].as_str().unwrap().to_string();
    assert!(sid.starts_with("HX") && sid.len() == 34);
    sid
}

async fn approval(sim: &TestSim, sid: &str) -> Value {
    let (status, body) = answer(
        sim.get(&format!("/v1/Content/{sid}/ApprovalRequests"))
            .basic_auth(ACCOUNT, Some(TOKEN)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["whatsapp"].clone()
}

#[tokio::test]
async fn content_is_approved_about_a_second_after_the_approval_request_and_sends_on_whatsapp() {
    bounded(async {
        let sim = sim().await;
        let sid = create_content(&sim).await;
        assert_eq!(approval(&sim, &sid).await["status"], "unsubmitted");
        let (status, body) = answer(
            sim.post(&format!("/v1/Content/{sid}/ApprovalRequests/whatsapp"))
                .basic_auth(ACCOUNT, Some(TOKEN))
                .json(&json!({"name": "aviso_cobranza", "category": "UTILITY"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["name"], "aviso_cobranza");
        assert_eq!(body["category"], "UTILITY");
        assert_eq!(approval(&sim, &sid).await["status"], "pending");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(approval(&sim, &sid).await["status"], "approved");

        let variables = json!({"1": "María", "2": "$12.500"}).to_string();
        let (status, body) = send(
            &sim,
            &[
                ("To", "whatsapp:+56962000001"),
                ("From", "whatsapp:+15550001111"),
                ("ContentSid", &sid),
                ("ContentVariables", &variables),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["to"], "whatsapp:+56962000001");
        let messages = sim.json("/_sim/messages?recipient=%2B56962000001").await;
        assert_eq!(messages[0]["sender"], "+15550001111");
        assert_eq!(messages[0]["content"]["content_sid"], sid);
        assert_eq!(messages[0]["content"]["content_variables"]["2"], "$12.500");
        assert_eq!(
            messages[0]["content"]["rendered"],
            "Hola María, tu deuda es $12.500"
        );

        let (_, body) = send(
            &sim,
            &[
                ("To", "whatsapp:+56962000001"),
                ("From", "whatsapp:+15550001111"),
                ("ContentSid", &sid),
                ("ContentVariables", r#"{"1":"María"}"#),
            ],
        )
        .await;
        assert_twilio_error(&body, 400, 21656);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_reject_rule_gives_a_rejected_approval_with_the_reason() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"provider": "twilio", "template": "aviso_*", "reject": "Incorrect variable format", "after_ms": 50})).await;
        let sid = create_content(&sim).await;
        let (status, _) = answer(
            sim.post(&format!("/v1/Content/{sid}/ApprovalRequests/whatsapp"))
                .basic_auth(ACCOUNT, Some(TOKEN))
                .json(&json!({"name": "aviso_cobranza", "category": "UTILITY"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let whatsapp = approval(&sim, &sid).await;
        assert_eq!(whatsapp["status"], "rejected");
        assert_eq!(whatsapp["rejection_reason"], "Incorrect variable format");
        sim.stop().await;
    })
    .await
}

/// An approved WhatsApp content of the account, seeded; its `HX…` sid.
async fn seed_content(sim: &TestSim) -> String {
    let seeded = sim
        .control(
            "/_sim/templates",
            json!({"provider": "twilio", "account": ACCOUNT, "name": "aviso_mora",
                   "body": "Hola {{1}}"}),
        )
        .await;
    seeded["id"].as_str().unwrap().to_string()
}

async fn delete_content(sim: &TestSim, sid: &str, user: &str) -> (StatusCode, Vec<u8>) {
    let response = sim
        .http
        .delete(sim.url(&format!("/v1/Content/{sid}")))
        .basic_auth(user, Some(TOKEN))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.bytes().await.unwrap().to_vec())
}

fn content_send(sid: &str) -> [(&str, &str); 4] {
    [
        ("To", "whatsapp:+56962000001"),
        ("From", "whatsapp:+15550001111"),
        ("ContentSid", sid),
        ("ContentVariables", r#"{"1":"María"}"#),
    ]
}

#[tokio::test]
async fn deleted_content_is_gone_with_204_and_its_sid_is_refused_on_send() {
    bounded(async {
        let sim = sim().await;
        let sid = seed_content(&sim).await;
        let (status, body) = send(&sim, &content_send(&sid)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let (status, body) = delete_content(&sim, &sid, "AC_someone_else").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another account's content");
        assert_twilio_error(&serde_json::from_slice(&body).unwrap(), 404, 20404);

        let (status, body) = delete_content(&sim, &sid, ACCOUNT).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(body.is_empty(), "204 has no body");

        let (status, body) = answer(
            sim.get(&format!("/v1/Content/{sid}"))
                .basic_auth(ACCOUNT, Some(TOKEN)),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_twilio_error(&body, 404, 20404);
        let (_, listed) = answer(sim.get("/v1/Content").basic_auth(ACCOUNT, Some(TOKEN))).await;
        assert_eq!(listed["contents"], json!([]));
        assert_eq!(sim.json("/_sim/templates").await, json!([]));

        let (status, body) = send(&sim, &content_send(&sid)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_twilio_error(&body, 400, 21655);

        let (status, body) = delete_content(&sim, &sid, ACCOUNT).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_twilio_error(&body, 404, 20404);
        assert_eq!(
            body["message"],
            format!("The requested resource /Content/{sid} was not found")
        );

        let (status, body) = answer(sim.http.delete(sim.url(&format!("/v1/Content/{sid}")))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_twilio_error(&body, 401, 20003);
        sim.stop().await;
    })
    .await
}

async fn send_with(sim: &TestSim, auth_token: &str) -> (StatusCode, Value) {
    answer(
        sim.post(&messages_path())
            .basic_auth(ACCOUNT, Some(auth_token))
            .body(form(SMS)),
    )
    .await
}

#[tokio::test]
async fn a_credential_rule_refuses_only_the_rotated_out_auth_token() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"provider": "twilio", "sender": "+15550001111",
                        "bad_credentials": true, "credential": "old-token"}))
            .await;
        for _ in 0..2 {
            let (status, body) = send_with(&sim, "old-token").await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "no times: refused from now on"
            );
            assert_twilio_error(&body, 401, 20003);
        }
        let (status, body) = send_with(&sim, "new-token").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // The Content API matches on the AccountSid as sender.
        sim.rule(json!({"provider": "twilio", "sender": ACCOUNT,
                        "bad_credentials": true, "credential": "old-token"}))
            .await;
        let (status, body) = answer(
            sim.get("/v1/Content")
                .basic_auth(ACCOUNT, Some("old-token")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_twilio_error(&body, 401, 20003);
        let (status, _) = answer(
            sim.get("/v1/Content")
                .basic_auth(ACCOUNT, Some("new-token")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        sim.http
            .delete(sim.url("/_sim/rules"))
            .send()
            .await
            .unwrap();
        sim.rule(json!({"provider": "twilio", "sender": "+15550001111", "bad_credentials": true}))
            .await;
        for token in ["old-token", "new-token"] {
            let (status, body) = send_with(&sim, token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "without credential: {token} refused"
            );
            assert_twilio_error(&body, 401, 20003);
        }
        sim.stop().await;
    })
    .await
}
