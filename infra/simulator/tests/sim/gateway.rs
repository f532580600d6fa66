//! The Dinstar-style SMS gateway's HTTP API.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const USER: &str = "admin";

async fn send(sim: &TestSim, body: &Value) -> (StatusCode, Value) {
    answer(
        sim.post("/api/send_sms")
            .basic_auth(USER, Some("admin"))
            .json(body),
    )
    .await
}

async fn results(sim: &TestSim, query: &Value) -> Value {
    let (status, body) = answer(
        sim.post("/api/query_sms_result")
            .basic_auth(USER, Some("admin"))
            .json(query),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["error_code"], 200);
    body["result"].clone()
}

#[tokio::test]
async fn the_documented_send_is_queued_and_rotates_through_the_ports() {
    bounded(async {
        let sim = sim().await;
        let params: Vec<Value> = (1..=5)
            .map(|i| json!({"number": format!("5696200000{i}"), "text_param": [format!("Cliente {i}")], "user_id": i}))
            .collect();
        let (status, body) = send(&sim, &json!({"text": "Hola #param#, tu cuota vence hoy", "port": [0, 1, 2, 3], "param": params})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["error_code"], 202);
        assert_eq!(body["sms_in_queue"], 5);
        assert!(body["task_id"].as_u64().is_some());

        let messages = sim.json("/_sim/messages?provider=gateway").await;
        let ports: Vec<u64> = messages.as_array().unwrap().iter().map(|m| m["port"].as_u64().unwrap()).collect();
        assert_eq!(ports, [0, 1, 2, 3, 0]);
        assert_eq!(messages[0]["recipient"], "+56962000001");
        assert_eq!(messages[0]["sender"], USER);
        assert_eq!(messages[0]["content"]["text"], "Hola Cliente 1, tu cuota vence hoy");

        let (_, next) = send(&sim, &json!({"text": "x", "port": [0, 1, 2, 3], "param": [{"number": "56962000009"}]})).await;
        assert_eq!(next["error_code"], 202);
        let last = sim.json("/_sim/messages?limit=1").await;
        assert_eq!(last[0]["port"], 1, "the rotation continues across requests");

        let sent = results(&sim, &json!({"user_id": [2]})).await;
        assert_eq!(sent.as_array().unwrap().len(), 1);
        assert_eq!(sent[0]["port"], 1);
        assert_eq!(sent[0]["number"], "56962000002");
        assert_eq!(sent[0]["user_id"], 2);
        assert!(sent[0]["time"].as_str().is_some_and(|t| t.len() == 19));
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(results(&sim, &json!({"user_id": [2]})).await[0]["status"], "DELIVERED");
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn statuses_go_sending_sent_ok_delivered_or_failed() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"provider": "gateway", "recipient": "+56962000002", "callbacks": {"fail": {"code": 500}}})).await;
        let (_, body) = send(&sim, &json!({"text": "x", "param": [
            {"number": "56962000001", "user_id": 1}, {"number": "56962000002", "user_id": 2}]})).await;
        assert_eq!(body["error_code"], 202);
        let now = results(&sim, &json!({})).await;
        assert_eq!(now[0]["status"], "SENDING");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let later = results(&sim, &json!({})).await;
        assert_eq!(later[0]["status"], "SENT_OK");
        assert_eq!(later[1]["status"], "FAILED");
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn bad_auth_gets_401_and_bad_requests_get_the_documented_codes() {
    bounded(async {
        let sim = sim().await;
        let ok_body = json!({"text": "x", "param": [{"number": "56962000001"}]});
        let (status, _) = answer(sim.post("/api/send_sms").json(&ok_body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (_, body) = send(&sim, &json!({"param": [{"number": "56962000001"}]})).await;
        assert_eq!(body["error_code"], 400);
        let many: Vec<Value> = (0..129)
            .map(|i| json!({"number": format!("569620{i:05}")}))
            .collect();
        let (_, body) = send(&sim, &json!({"text": "x", "param": many})).await;
        assert_eq!(body["error_code"], 413);
        let (_, body) = send(
            &sim,
            &json!({"text": "x", "port": [32], "param": [{"number": "56962000001"}]}),
        )
        .await;
        assert_eq!(body["error_code"], 400);
        assert_eq!(sim.stats().await["rejected"], 4);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_fail_rule_answers_with_that_error_code() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"provider": "gateway", "fail": {"code": 550}}))
            .await;
        let (status, body) = send(
            &sim,
            &json!({"text": "x", "param": [{"number": "56962000001"}]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["error_code"], 550);
        sim.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_counts_messages_per_account_and_throttles_with_429() {
    bounded(async {
        let sim = sim().await;
        sim.control("/_sim/senders", json!({"sender": USER, "rate": 100})).await;
        at_start_of_a_second().await;
        let started = Instant::now();
        let answers = burst(300, |i| {
            sim.post("/api/send_sms").basic_auth(USER, Some("admin")).json(
                &json!({"text": "x", "port": [i % 4], "param": [{"number": "56962000001", "user_id": i}]}),
            )
        })
        .await;
        let took = started.elapsed();
        let ok = answers.iter().filter(|(_, b)| b["error_code"] == 202).count();
        let throttled = answers
            .iter()
            .filter(|(s, b)| *s == StatusCode::TOO_MANY_REQUESTS && b["error_code"] == 429)
            .count();
        assert_eq!(ok + throttled, 300);
        assert!(ok >= 100);
        if took < Duration::from_millis(900) {
            assert_eq!(ok, 100);
        }
        let stats = sim.stats().await;
        assert!(stats["max_accepted_in_any_second"][USER].as_u64().unwrap() <= 100);
        assert_eq!(stats["throttled"], throttled as u64);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn drop_after_accept_closes_the_connection_and_counts_accepted() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"provider": "gateway", "drop_after_accept": true}))
            .await;
        let result = client()
            .post(sim.url("/api/send_sms"))
            .basic_auth(USER, Some("admin"))
            .json(&json!({"text": "x", "param": [{"number": "56962000001", "user_id": 7}]}))
            .send()
            .await;
        assert!(result.is_err(), "no HTTP response");
        assert_eq!(sim.stats().await["accepted"], 1);
        assert_eq!(
            results(&sim, &json!({"user_id": [7]}))
                .await
                .as_array()
                .unwrap()
                .len(),
            1
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_credential_rule_refuses_only_the_rotated_out_password() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"provider": "gateway", "sender": USER,
                        "bad_credentials": true, "credential": "old-password"}))
            .await;
        let body = json!({"text": "x", "param": [{"number": "56962000001"}]});
        let send_with = |password: &'static str| {
            answer(
                sim.post("/api/send_sms")
                    .basic_auth(USER, Some(password))
                    .json(&body),
            )
        };
        let (status, _) = send_with("old-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, answer_body) = send_with("new-password").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer_body["error_code"], 202);

        sim.http
            .delete(sim.url("/_sim/rules"))
            .send()
            .await
            .unwrap();
        sim.rule(json!({"provider": "gateway", "bad_credentials": true}))
            .await;
        for password in ["old-password", "new-password"] {
            let (status, _) = send_with(password).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "without credential: {password}"
            );
        }
        sim.stop().await;
    })
    .await
}
