//! Status callbacks in each provider's documented format, signed as
//! providers.md says, and the rules that make them misbehave.

use std::time::Duration;

use pregon_simulator::signing;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

const PHONE_ID: &str = "106540352242922";

async fn meta_send(sim: &TestSim, to: &str) -> String {
    let body = json!({"messaging_product": "whatsapp", "to": to, "type": "text",
                      "text": {"body": "hola"}, "biz_opaque_callback_data": "c_1/e_2"});
    let (status, answer_body) = answer(
        sim.post(&format!("/v21.0/{PHONE_ID}/messages"))
            .bearer_auth("t")
            .json(&body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    answer_body["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn register_meta(sim: &TestSim, receiver: &Receiver) {
    sim.control(
        "/_sim/webhooks",
        json!({"provider": "meta", "sender": PHONE_ID, "url": format!("{}/v1/webhooks/acc_1", receiver.base),
               "app_secret": "test_app_secret", "waba_id": "102290129340398",
               "display_phone_number": "15550001111"}),
    )
    .await;
}

fn meta_status(hit: &Hit) -> String {
    hit.json()["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn meta_posts_signed_sent_delivered_read_statuses_with_the_callback_data() {
    bounded(async {
        let sim = sim().await;
        let receiver = receiver().await;
        register_meta(&sim, &receiver).await;
        let wamid = meta_send(&sim, "56962000001").await;
        let hits = receiver.wait_for(3).await;
        let statuses: Vec<String> = hits.iter().map(meta_status).collect();
        assert_eq!(statuses, ["sent", "delivered", "read"]);
        for hit in &hits {
            assert_eq!(hit.uri.path(), "/v1/webhooks/acc_1");
            assert_eq!(
                hit.header("x-hub-signature-256"),
                signing::meta_signature("test_app_secret", &hit.body)
            );
            let body = hit.json();
            assert_eq!(body["object"], "whatsapp_business_account");
            assert_eq!(body["entry"][0]["id"], "102290129340398");
            let value = &body["entry"][0]["changes"][0]["value"];
            assert_eq!(body["entry"][0]["changes"][0]["field"], "messages");
            assert_eq!(value["metadata"]["phone_number_id"], PHONE_ID);
            assert_eq!(value["metadata"]["display_phone_number"], "15550001111");
            let status = &value["statuses"][0];
            assert_eq!(status["id"], wamid);
            assert_eq!(status["recipient_id"], "56962000001");
            assert_eq!(status["biz_opaque_callback_data"], "c_1/e_2");
            assert!(status["timestamp"].as_str().unwrap().parse::<u64>().is_ok());
        }
        let log = sim.json("/_sim/callbacks").await;
        assert_eq!(log.as_array().unwrap().len(), 3);
        assert_eq!(log[0]["http_status"], 200);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn callback_rules_duplicate_reorder_fail_and_drop() {
    bounded(async {
        let sim = sim().await;
        let receiver = receiver().await;
        register_meta(&sim, &receiver).await;
        sim.rule(json!({"recipient": "+56962000001", "callbacks": {"duplicate": true, "delay_ms": 10}})).await;
        sim.rule(json!({"recipient": "+56962000002", "callbacks": {"reorder": true, "delay_ms": 10}})).await;
        sim.rule(json!({"recipient": "+56962000003", "callbacks": {"fail": {"code": 131026}, "delay_ms": 10}})).await;
        sim.rule(json!({"recipient": "+56962000004", "callbacks": {"drop": true}})).await;

        let duplicated = meta_send(&sim, "56962000001").await;
        let reordered = meta_send(&sim, "56962000002").await;
        let failed = meta_send(&sim, "56962000003").await;
        meta_send(&sim, "56962000004").await;
        let hits = receiver.wait_for(6 + 3 + 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let hits_for = |id: &str| -> Vec<String> {
            hits.iter()
                .filter(|h| h.json()["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] == id)
                .map(meta_status)
                .collect()
        };
        assert_eq!(hits_for(&duplicated), ["sent", "sent", "delivered", "delivered", "read", "read"]);
        assert_eq!(hits_for(&reordered), ["read", "delivered", "sent"]);
        assert_eq!(hits_for(&failed), ["failed"]);
        let failure = hits
            .iter()
            .find(|h| meta_status(h) == "failed")
            .unwrap()
            .json();
        assert_eq!(failure["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]["code"], 131026);
        assert_eq!(receiver.hits().len(), 10, "the dropped message posted nothing");
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn twilio_posts_signed_status_callbacks_to_the_message_status_callback() {
    bounded(async {
        let sim = sim().await;
        let receiver = receiver().await;
        let callback = format!("{}/v1/webhooks/acc_2/twilio?m=c_1%2Fe_3", receiver.base);
        let account = "AC0000000000000000000000000000000a";
        let (status, body) = answer(
            sim.post(&format!("/2010-04-01/Accounts/{account}/Messages.json"))
                .basic_auth(account, Some("the-auth-token"))
                .body(form(&[
                    ("To", "+56962000011"),
                    ("From", "+15550001111"),
                    ("Body", "hola"),
                    ("StatusCallback", &callback),
                ])),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let sid = body["sid"].as_str().unwrap();
        let hits = receiver.wait_for(2).await;
        let mut statuses = Vec::new();
        for hit in &hits {
            let params = hit.form();
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            assert_eq!(get("MessageSid"), sid);
            assert_eq!(get("SmsSid"), sid);
            assert_eq!(get("AccountSid"), account);
            assert_eq!(get("To"), "+56962000011");
            assert_eq!(get("From"), "+15550001111");
            assert_eq!(get("ApiVersion"), "2010-04-01");
            assert_eq!(get("SmsStatus"), get("MessageStatus"));
            assert_eq!(hit.uri.query(), Some("m=c_1%2Fe_3"));
            assert_eq!(
                hit.header("x-twilio-signature"),
                signing::twilio_signature("the-auth-token", &callback, &params)
            );
            statuses.push(get("MessageStatus"));
        }
        assert_eq!(statuses, ["sent", "delivered"]);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn twilio_failures_arrive_as_undelivered_with_an_error_code() {
    bounded(async {
        let sim = sim().await;
        let receiver = receiver().await;
        sim.rule(
            json!({"provider": "twilio", "callbacks": {"fail": {"code": 30003}, "delay_ms": 10}}),
        )
        .await;
        let account = "AC0000000000000000000000000000000a";
        let callback = format!("{}/cb", receiver.base);
        let (status, _) = answer(
            sim.post(&format!("/2010-04-01/Accounts/{account}/Messages.json"))
                .basic_auth(account, Some("tok"))
                .body(form(&[
                    ("To", "+56962000012"),
                    ("From", "+15550001111"),
                    ("Body", "hola"),
                    ("StatusCallback", &callback),
                ])),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let hits = receiver.wait_for(2).await;
        let last = hits[1].form();
        assert!(last.contains(&("MessageStatus".into(), "undelivered".into())));
        assert!(last.contains(&("ErrorCode".into(), "30003".into())));
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn gupshup_posts_version_2_message_events() {
    bounded(async {
        let sim = sim().await;
        let receiver = receiver().await;
        sim.control(
            "/_sim/webhooks",
            json!({"provider": "gupshup", "sender": "15550001111", "url": format!("{}/gupshup", receiver.base)}),
        )
        .await;
        let message = json!({"type": "text", "text": "hola"}).to_string();
        let (status, body) = answer(
            sim.post("/wa/api/v1/msg")
                .header("apikey", "k")
                .body(form(&[("channel", "whatsapp"), ("source", "15550001111"), ("destination", "56962000021"),
                             ("src.name", "DemoApp"), ("message", &message)])),
        )
        .await;
        assert!(status.is_success());
        let gs_id = body["messageId"].as_str().unwrap();
        let hits = receiver.wait_for(4).await;
        let events: Vec<_> = hits.iter().map(|h| h.json()).collect();
        let types: Vec<&str> = events.iter().map(|e| e["payload"]["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["enqueued", "sent", "delivered", "read"]);
        for event in &events {
            assert_eq!(event["app"], "DemoApp");
            assert_eq!(event["version"], 2);
            assert_eq!(event["type"], "message-event");
            assert_eq!(event["payload"]["destination"], "56962000021");
        }
        assert_eq!(events[0]["payload"]["id"], gs_id);
        let whatsapp_id = events[0]["payload"]["payload"]["whatsappMessageId"].clone();
        assert_eq!(events[1]["payload"]["gsId"], gs_id);
        assert_eq!(events[1]["payload"]["id"], whatsapp_id);
        assert!(hits.iter().all(|h| h.headers.get("x-hub-signature-256").is_none()));
        sim.stop().await;
    })
    .await
}
