//! `POST /_sim/inbound`: a customer's reply posted to the webhook registered
//! for the provider and sender, in the provider's documented inbound format,
//! signed as providers.md says, with the webhook's answer handed back.

use axum::http::StatusCode as AxumStatus;
use pregon_simulator::signing;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const PHONE_ID: &str = "106540352242922";
const ACCOUNT: &str = "AC0000000000000000000000000000000a";

fn get<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} in {params:?}"))
}

async fn callbacks_log(sim: &TestSim) -> Vec<Value> {
    sim.json("/_sim/callbacks")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn meta_reply_reaches_the_registered_webhook_signed_with_the_app_secret() {
    bounded(async {
        let sim = sim().await;
        let receiver = receiver().await;
        sim.control(
            "/_sim/webhooks",
            json!({"provider": "meta", "sender": PHONE_ID, "url": format!("{}/v1/webhooks/acc_1", receiver.base),
                   "app_secret": "test_app_secret", "waba_id": "102290129340398",
                   "display_phone_number": "15550001111"}),
        )
        .await;
        let (status, answer_body) = answer(sim.post("/_sim/inbound").json(&json!({
            "provider": "meta", "sender": PHONE_ID, "from": "+56962000001",
            "text": "Hola, ya pagué", "reply_to": "wamid.HBgLSENT"}))).await;
        assert_eq!(status, StatusCode::OK, "{answer_body}");
        assert_eq!(answer_body["status"], 200);
        assert_eq!(answer_body["body"], "ok");
        let id = answer_body["provider_message_id"].as_str().unwrap();
        assert!(id.starts_with("wamid.IN"));

        let hits = receiver.wait_for(1).await;
        let hit = &hits[0];
        assert_eq!(hit.uri.path(), "/v1/webhooks/acc_1");
        assert_eq!(hit.header("content-type"), "application/json");
        assert_eq!(
            hit.header("x-hub-signature-256"),
            signing::meta_signature("test_app_secret", &hit.body)
        );
        let body = hit.json();
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["metadata"]["phone_number_id"], PHONE_ID);
        assert_eq!(value["contacts"][0]["wa_id"], "56962000001");
        let message = &value["messages"][0];
        assert_eq!(message["id"], id);
        assert_eq!(message["from"], "56962000001");
        assert_eq!(message["text"]["body"], "Hola, ya pagué");
        assert_eq!(message["context"]["id"], "wamid.HBgLSENT");

        let log = callbacks_log(&sim).await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["status"], "inbound");
        assert_eq!(log[0]["provider"], "meta");
        assert_eq!(log[0]["provider_message_id"], id);
        assert_eq!(log[0]["recipient"], "+56962000001");
        assert_eq!(log[0]["http_status"], 200);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn twilio_registers_an_incoming_url_and_signs_over_it_exactly() {
    bounded(async {
        let sim = sim().await;
        let receiver = receiver().await;
        let url = format!("{}/v1/webhooks/acc_x/twilio?k=c_1%2Fe_3", receiver.base);

        let (status, _) = answer(sim.post("/_sim/webhooks").json(&json!({
            "provider": "twilio", "sender": "+15550003333", "url": url})))
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "an auth_token is needed to sign"
        );

        let registered = sim
            .control(
                "/_sim/webhooks",
                json!({"provider": "twilio", "sender": "+15550003333", "url": url,
                       "auth_token": "the-auth-token", "account_sid": ACCOUNT}),
            )
            .await;
        assert_eq!(registered["signed"], true);
        assert!(registered.get("auth_token").is_none());
        let listed = sim.json("/_sim/webhooks").await;
        assert!(!listed.to_string().contains("the-auth-token"));

        // A WhatsApp tap on a template button, answered through the number's URL.
        let (status, answer_body) = answer(sim.post("/_sim/inbound").json(&json!({
            "provider": "twilio", "sender": "whatsapp:+15550003333", "from": "+56962000001",
            "button": {"text": "Stop promotions", "payload": "stop"},
            "reply_to": "SM0123456789abcdef0123456789abcdef"})))
        .await;
        assert_eq!(status, StatusCode::OK, "{answer_body}");
        assert_eq!(answer_body["status"], 200);
        let sid = answer_body["provider_message_id"].as_str().unwrap();
        assert!(sid.starts_with("SM"));

        let hits = receiver.wait_for(1).await;
        let hit = &hits[0];
        assert_eq!(hit.uri.query(), Some("k=c_1%2Fe_3"));
        assert_eq!(
            hit.header("content-type"),
            "application/x-www-form-urlencoded"
        );
        let params = hit.form();
        assert_eq!(
            hit.header("x-twilio-signature"),
            signing::twilio_signature("the-auth-token", &url, &params)
        );
        assert_eq!(get(&params, "MessageSid"), sid);
        assert_eq!(get(&params, "AccountSid"), ACCOUNT);
        assert_eq!(get(&params, "From"), "whatsapp:+56962000001");
        assert_eq!(get(&params, "To"), "whatsapp:+15550003333");
        assert_eq!(get(&params, "WaId"), "56962000001");
        assert_eq!(get(&params, "ButtonText"), "Stop promotions");
        assert_eq!(get(&params, "ButtonPayload"), "stop");
        assert_eq!(
            get(&params, "OriginalRepliedMessageSid"),
            "SM0123456789abcdef0123456789abcdef"
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn twilio_status_callbacks_still_go_to_the_message_status_callback() {
    bounded(async {
        let sim = sim().await;
        let incoming = receiver().await;
        let status_callback = receiver().await;
        sim.control(
            "/_sim/webhooks",
            json!({"provider": "twilio", "sender": "+15550001111", "url": format!("{}/in", incoming.base),
                   "auth_token": "tok", "account_sid": ACCOUNT}),
        )
        .await;
        let (status, _) = answer(
            sim.post(&format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"))
                .basic_auth(ACCOUNT, Some("tok"))
                .body(form(&[
                    ("To", "+56962000011"),
                    ("From", "+15550001111"),
                    ("Body", "hola"),
                    ("StatusCallback", &format!("{}/status", status_callback.base)),
                ])),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        status_callback.wait_for(2).await;
        assert!(incoming.hits().is_empty());
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn gupshup_reply_is_an_unsigned_version_2_message() {
    bounded(async {
        let sim = sim().await;
        let receiver = receiver().await;
        sim.control(
            "/_sim/webhooks",
            json!({"provider": "gupshup", "sender": "15550001111", "app": "DemoApp",
                   "url": format!("{}/v1/webhooks/acc_3/gupshup/long-secret", receiver.base)}),
        )
        .await;
        // The sender spelled with `+` finds the registration without it.
        let (status, answer_body) = answer(sim.post("/_sim/inbound").json(&json!({
            "provider": "gupshup", "sender": "+15550001111", "from": "56962000001",
            "text": "Hola, ya pagué", "reply_to": "ee4a68a0-0000-4000-8000-000000000001"})))
        .await;
        assert_eq!(status, StatusCode::OK, "{answer_body}");
        let hit = &receiver.wait_for(1).await[0];
        assert!(hit.headers.get("x-hub-signature-256").is_none());
        assert!(hit.headers.get("x-twilio-signature").is_none());
        let body = hit.json();
        assert_eq!(body["app"], "DemoApp");
        assert_eq!(body["version"], 2);
        assert_eq!(body["type"], "message");
        assert_eq!(body["payload"]["id"], answer_body["provider_message_id"]);
        assert_eq!(body["payload"]["type"], "text");
        assert_eq!(body["payload"]["source"], "56962000001");
        assert_eq!(body["payload"]["payload"]["text"], "Hola, ya pagué");
        assert_eq!(body["payload"]["sender"]["phone"], "56962000001");
        assert_eq!(
            body["payload"]["context"]["gsId"],
            "ee4a68a0-0000-4000-8000-000000000001"
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn without_a_registration_the_answer_is_404() {
    bounded(async {
        let sim = sim().await;
        let (status, body) = answer(sim.post("/_sim/inbound").json(&json!({
            "provider": "twilio", "sender": "+15550003333", "from": "+56962000001", "text": "hola"}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let message = body["error"].as_str().unwrap();
        assert!(message.contains("twilio") && message.contains("+15550003333"), "{message}");
        let (status, _) = answer(sim.post("/_sim/inbound").json(&json!({
            "provider": "meta", "sender": PHONE_ID, "from": "+56962000001"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "no text, button or media");
        assert!(callbacks_log(&sim).await.is_empty());
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn the_webhooks_refusal_comes_back_and_an_unreachable_one_is_502() {
    bounded(async {
        let sim = sim().await;
        // A webhook that rejects the signature, as ours must for a bad one.
        let app = axum::Router::new().fallback(|| async {
            (AxumStatus::FORBIDDEN, "x".repeat(600))
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        sim.control(
            "/_sim/webhooks",
            json!({"provider": "meta", "sender": PHONE_ID, "url": format!("{base}/hook"), "app_secret": "s"}),
        )
        .await;
        let (status, body) = answer(sim.post("/_sim/inbound").json(&json!({
            "provider": "meta", "sender": PHONE_ID, "from": "+56962000001", "text": "hola"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], 403);
        assert_eq!(body["body"].as_str().unwrap().len(), 500);

        // A port nobody listens on.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_url = format!("http://{}/hook", closed.local_addr().unwrap());
        drop(closed);
        sim.control(
            "/_sim/webhooks",
            json!({"provider": "gupshup", "sender": "15550001111", "url": closed_url}),
        )
        .await;
        let (status, body) = answer(sim.post("/_sim/inbound").json(&json!({
            "provider": "gupshup", "sender": "15550001111", "from": "+56962000001", "text": "hola"}))).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(body["status"].is_null());
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));

        let log = callbacks_log(&sim).await;
        assert_eq!(log.len(), 2);
        assert_eq!(log[0]["http_status"], 403);
        assert!(log[1].get("http_status").is_none());
        assert!(log[1]["error"].is_string());
        sim.stop().await;
    })
    .await
}
