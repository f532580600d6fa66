//! The `/_sim/` control endpoints.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

async fn meta_text(sim: &TestSim, to: &str) -> StatusCode {
    let body = json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "hola"}});
    answer(
        sim.post("/v21.0/PHONE1/messages")
            .bearer_auth("t")
            .json(&body),
    )
    .await
    .0
}

#[tokio::test]
async fn stats_have_exactly_the_documented_meaning() {
    bounded(async {
        let sim = sim().await;
        sim.control("/_sim/senders", json!({"sender": "PHONE1", "rate": 2}))
            .await;
        sim.rule(json!({"recipient": "+56962000003", "fail": {"code": 131026}}))
            .await;
        at_start_of_a_second().await;
        assert_eq!(meta_text(&sim, "56962000001").await, StatusCode::OK);
        assert_eq!(meta_text(&sim, "56962000001").await, StatusCode::OK);
        assert_eq!(
            meta_text(&sim, "56962000002").await,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            meta_text(&sim, "56962000003").await,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            meta_text(&sim, "not-a-number").await,
            StatusCode::BAD_REQUEST
        );

        let stats = sim.stats().await;
        assert_eq!(stats["accepted"], 2);
        assert_eq!(stats["throttled"], 1);
        assert_eq!(stats["rejected"], 2);
        assert_eq!(stats["accepted_by_recipient"], json!({"+56962000001": 2}));
        assert_eq!(stats["max_accepted_in_any_second"], json!({"PHONE1": 2}));
        for key in [
            "accepted",
            "throttled",
            "rejected",
            "accepted_by_recipient",
            "max_accepted_in_any_second",
        ] {
            assert!(stats.get(key).is_some(), "{key} in {stats}");
        }
        assert_eq!(
            stats["by_provider"]["meta"],
            json!({"accepted": 2, "throttled": 1, "rejected": 2})
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn rules_are_listed_expire_after_times_and_can_be_deleted() {
    bounded(async {
        let sim = sim().await;
        let (status, created) = answer(
            sim.post("/_sim/rules")
                .json(&json!({"recipient": "+56962000*", "throttle": true, "times": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(
            meta_text(&sim, "56962000001").await,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(meta_text(&sim, "56962000001").await, StatusCode::OK);
        let rules = sim.json("/_sim/rules").await;
        assert_eq!(rules["rules"][0]["id"], id);
        assert_eq!(rules["rules"][0]["remaining"], 0);
        assert_eq!(rules["rules"][0]["applied"], 1);

        let (status, error) =
            answer(sim.post("/_sim/rules").json(&json!({"recipient": "+569*"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(error["error"].is_string());
        let (status, _) = answer(
            sim.post("/_sim/rules")
                .json(&json!({"throttle": true, "latency_ms": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, deleted) = answer(sim.http.delete(sim.url("/_sim/rules"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(deleted["deleted"], 1);
        assert_eq!(sim.json("/_sim/rules").await["rules"], json!([]));
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn messages_filter_by_recipient_even_with_an_unescaped_plus_and_keep_the_newest_with_limit() {
    bounded(async {
        let sim = sim().await;
        for to in ["56962000001", "56962000002", "56962000001"] {
            assert_eq!(meta_text(&sim, to).await, StatusCode::OK);
        }
        let mine = sim.json("/_sim/messages?recipient=+56962000001").await;
        assert_eq!(mine.as_array().unwrap().len(), 2);
        let escaped = sim.json("/_sim/messages?recipient=%2B56962000001").await;
        assert_eq!(escaped, mine);
        let last = sim.json("/_sim/messages?limit=1").await;
        assert_eq!(last.as_array().unwrap().len(), 1);
        assert_eq!(last[0]["seq"], 3);
        for m in sim.json("/_sim/messages").await.as_array().unwrap() {
            for key in [
                "provider",
                "sender",
                "recipient",
                "content",
                "provider_message_id",
                "accepted_at",
            ] {
                assert!(m.get(key).is_some(), "{key} in {m}");
            }
        }
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn reset_clears_stats_messages_and_rules_but_templates_only_when_asked() {
    bounded(async {
        let sim = sim().await;
        sim.control(
            "/_sim/templates",
            json!({"provider": "meta", "account": "W", "name": "t", "body": "x"}),
        )
        .await;
        sim.rule(json!({"latency_ms": 1})).await;
        assert_eq!(meta_text(&sim, "56962000001").await, StatusCode::OK);

        sim.control("/_sim/reset", json!({})).await;
        let stats = sim.stats().await;
        assert_eq!(
            stats,
            json!({"accepted": 0, "throttled": 0, "rejected": 0, "accepted_by_recipient": {},
                   "max_accepted_in_any_second": {}, "dropped": 0, "by_provider": {}})
        );
        assert_eq!(sim.json("/_sim/messages").await, json!([]));
        assert_eq!(sim.json("/_sim/rules").await["rules"], json!([]));
        assert_eq!(
            sim.json("/_sim/templates").await.as_array().unwrap().len(),
            1
        );

        let (status, _) = answer(sim.post("/_sim/reset")).await;
        assert_eq!(status, StatusCode::OK, "an empty body is a plain reset");
        sim.control("/_sim/reset", json!({"templates": true})).await;
        assert_eq!(sim.json("/_sim/templates").await, json!([]));
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn sender_rates_are_listed_with_the_default() {
    bounded(async {
        let sim = sim_with(pregon_simulator::Config {
            default_rate: 80,
            ..Default::default()
        })
        .await;
        sim.control(
            "/_sim/senders",
            json!({"sender": "15550001111", "rate": 20}),
        )
        .await;
        let senders: Value = sim.json("/_sim/senders").await;
        assert_eq!(
            senders,
            json!({"default_rate": 80, "senders": {"15550001111": 20}})
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_credential_is_refused_on_any_rule_but_bad_credentials() {
    bounded(async {
        let sim = sim().await;
        for rule in [
            json!({"throttle": true, "credential": "old-token"}),
            json!({"fail": {"code": 131026}, "credential": "old-token"}),
            json!({"latency_ms": 5, "credential": "old-token"}),
        ] {
            let (status, body) = answer(sim.post("/_sim/rules").json(&rule)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{rule}");
            assert_eq!(
                body["error"],
                "\"credential\" goes with bad_credentials only: it names the secret refused",
                "{rule}"
            );
        }
        for rule in [
            json!({"credential": "old-token"}),
            json!({"bad_credentials": true, "credential": ""}),
        ] {
            let (status, body) = answer(sim.post("/_sim/rules").json(&rule)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{rule}: {body}");
        }
        assert_eq!(sim.json("/_sim/rules").await["rules"], json!([]));

        let created = sim
            .rule(json!({"provider": "twilio", "bad_credentials": true, "credential": "old-token"}))
            .await;
        assert_eq!(created["rule"]["credential"], "old-token");
        assert_eq!(
            created["rule"]["remaining"],
            Value::Null,
            "no times: forever"
        );
        sim.stop().await;
    })
    .await
}
