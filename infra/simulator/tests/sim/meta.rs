//! Meta WhatsApp Cloud API as providers.md documents it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const PHONE_ID: &str = "106540352242922";
const WABA: &str = "102290129340398";

fn messages_path() -> String {
    format!("/v21.0/{PHONE_ID}/messages")
}

/// providers.md's documented template send.
fn documented_template(to: &str) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
     "type": "template",
     "template": {"name": "aviso_cobranza", "language": {"code": "es"},
       "components": [
         {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/promo.png"}}]},
         {"type": "body", "parameters": [{"type": "text", "text": "María"}, {"type": "text", "text": "$12.500"}]}]},
     "biz_opaque_callback_data": "our-correlation-id"})
}

async fn seed_template(sim: &TestSim, status: &str) {
    sim.control(
        "/_sim/templates",
        json!({"provider": "meta", "account": WABA, "name": "aviso_cobranza", "language": "es",
               "body": "Hola {{1}}, tu deuda es {{2}}", "header": "IMAGE", "status": status}),
    )
    .await;
}

async fn send(sim: &TestSim, body: &Value) -> (StatusCode, Value) {
    answer(
        sim.post(&messages_path())
            .bearer_auth("EAAG-token")
            .json(body),
    )
    .await
}

fn assert_meta_error(body: &Value, code: i64) {
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(error["type"], "OAuthException");
    assert!(error["fbtrace_id"].is_string());
}

#[tokio::test]
async fn the_documented_template_send_is_accepted_with_the_documented_success_body() {
    bounded(async {
        let sim = sim().await;
        seed_template(&sim, "APPROVED").await;
        let (status, body) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["messaging_product"], "whatsapp");
        assert_eq!(
            body["contacts"],
            json!([{"input": "56962000001", "wa_id": "56962000001"}])
        );
        let id = body["messages"][0]["id"].as_str().unwrap();
        assert!(id.starts_with("wamid."));
        assert_eq!(body["messages"][0]["message_status"], "accepted");

        let messages = sim.json("/_sim/messages?recipient=+56962000001").await;
        let message = &messages[0];
        assert_eq!(message["provider"], "meta");
        assert_eq!(message["sender"], PHONE_ID);
        assert_eq!(message["provider_message_id"], id);
        assert_eq!(message["content"]["name"], "aviso_cobranza");
        assert_eq!(message["content"]["language"], "es");
        assert_eq!(
            message["content"]["parameters"],
            json!(["María", "$12.500"])
        );
        assert_eq!(
            message["content"]["rendered"],
            "Hola María, tu deuda es $12.500"
        );
        assert_eq!(
            message["content"]["header"]["image"]["link"],
            "https://example.com/promo.png"
        );
        assert_eq!(
            message["correlation"]["biz_opaque_callback_data"],
            "our-correlation-id"
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn free_form_text_is_accepted() {
    bounded(async {
        let sim = sim().await;
        let body = json!({"messaging_product": "whatsapp", "to": "+56962000002", "type": "text",
                          "text": {"body": "Hola, ¿pagaste?"}});
        let (status, answer_body) = send(&sim, &body).await;
        assert_eq!(status, StatusCode::OK, "{answer_body}");
        let messages = sim.json("/_sim/messages").await;
        assert_eq!(messages[0]["recipient"], "+56962000002");
        assert_eq!(
            messages[0]["content"],
            json!({"type": "text", "body": "Hola, ¿pagaste?"})
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_missing_token_gets_error_190_with_http_401_and_counts_rejected() {
    bounded(async {
        let sim = sim().await;
        seed_template(&sim, "APPROVED").await;
        let (status, body) = answer(
            sim.post(&messages_path())
                .json(&documented_template("56962000001")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_meta_error(&body, 190);
        let (status, body) = answer(
            sim.post(&messages_path())
                .header("Authorization", "Bearer ")
                .json(&documented_template("56962000001")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_meta_error(&body, 190);
        assert_eq!(sim.stats().await["rejected"], 2);
        assert_eq!(sim.stats().await["accepted"], 0);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_bad_credentials_rule_refuses_the_token_of_that_sender() {
    bounded(async {
        let sim = sim().await;
        seed_template(&sim, "APPROVED").await;
        sim.rule(json!({"sender": PHONE_ID, "bad_credentials": true, "times": 1}))
            .await;
        let (status, body) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_meta_error(&body, 190);
        let (status, _) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::OK);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn bodies_meta_would_refuse_get_metas_codes() {
    bounded(async {
        let sim = sim().await;
        seed_template(&sim, "APPROVED").await;

        let mut one_param = documented_template("56962000001");
        one_param["template"]["components"][1]["parameters"] =
            json!([{"type": "text", "text": "María"}]);
        let (status, body) = send(&sim, &one_param).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_meta_error(&body, 132000);

        let mut unknown = documented_template("56962000001");
        unknown["template"]["name"] = json!("no_such_template");
        let (_, body) = send(&sim, &unknown).await;
        assert_meta_error(&body, 132001);

        let mut other_language = documented_template("56962000001");
        other_language["template"]["language"]["code"] = json!("en_US");
        let (_, body) = send(&sim, &other_language).await;
        assert_meta_error(&body, 132001);

        let mut no_header = documented_template("56962000001");
        no_header["template"]["components"]
            .as_array_mut()
            .unwrap()
            .remove(0);
        let (_, body) = send(&sim, &no_header).await;
        assert_meta_error(&body, 132012);

        let (status, body) = send(&sim, &documented_template("569-abc")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_meta_error(&body, 100);

        let mut no_product = documented_template("56962000001");
        no_product
            .as_object_mut()
            .unwrap()
            .remove("messaging_product");
        let (_, body) = send(&sim, &no_product).await;
        assert_meta_error(&body, 100);

        let mut long_data = documented_template("56962000001");
        long_data["biz_opaque_callback_data"] = json!("x".repeat(513));
        let (_, body) = send(&sim, &long_data).await;
        assert_meta_error(&body, 100);

        let stats = sim.stats().await;
        assert_eq!(stats["rejected"], 7);
        assert_eq!(stats["accepted"], 0);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn templates_not_approved_cannot_be_sent() {
    bounded(async {
        let sim = sim().await;
        seed_template(&sim, "PENDING").await;
        let (_, body) = send(&sim, &documented_template("56962000001")).await;
        assert_meta_error(&body, 132001);

        sim.control("/_sim/reset", json!({"templates": true})).await;
        seed_template(&sim, "PAUSED").await;
        let (_, body) = send(&sim, &documented_template("56962000001")).await;
        assert_meta_error(&body, 132015);

        sim.control("/_sim/reset", json!({"templates": true})).await;
        seed_template(&sim, "DISABLED").await;
        let (_, body) = send(&sim, &documented_template("56962000001")).await;
        assert_meta_error(&body, 132016);

        sim.control("/_sim/reset", json!({"templates": true})).await;
        seed_template(&sim, "APPROVED").await;
        sim.rule(json!({"template": "aviso_*", "pause": true}))
            .await;
        let (_, body) = send(&sim, &documented_template("56962000001")).await;
        assert_meta_error(&body, 132015);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_fail_rule_answers_with_metas_error_for_that_code() {
    bounded(async {
        let sim = sim().await;
        seed_template(&sim, "APPROVED").await;
        sim.rule(
            json!({"recipient": "+56962000*", "fail": {"code": 131026, "status": 400,
                        "message": "Message undeliverable"}, "times": 1}),
        )
        .await;
        let (status, body) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_meta_error(&body, 131026);
        assert_eq!(body["error"]["message"], "Message undeliverable");
        let (status, _) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::OK, "the rule applied once");

        sim.rule(json!({"fail": {"code": 131000}})).await;
        let (status, body) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_meta_error(&body, 131000);

        let stats = sim.stats().await;
        assert_eq!(
            (stats["accepted"].clone(), stats["rejected"].clone()),
            (json!(1), json!(2))
        );
        sim.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_throttles_the_excess_with_130429_and_never_accepts_more_than_the_rate() {
    bounded(async {
        let sim = sim().await;
        sim.control("/_sim/senders", json!({"sender": PHONE_ID, "rate": 100}))
            .await;
        let body = json!({"messaging_product": "whatsapp", "to": "56962000001", "type": "text",
                          "text": {"body": "hola"}});
        at_start_of_a_second().await;
        let started = Instant::now();
        let answers = burst(300, |_| {
            sim.post(&messages_path()).bearer_auth("t").json(&body)
        })
        .await;
        let took = started.elapsed();
        let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        let throttled: Vec<_> = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .collect();
        assert_eq!(ok + throttled.len(), 300);
        for (_, body) in &throttled {
            assert_meta_error(body, 130429);
        }
        assert!(ok >= 100, "the rate is reachable: {ok} accepted");
        if took < Duration::from_millis(900) {
            assert_eq!(ok, 100, "one second's worth");
        }
        let stats = sim.stats().await;
        assert!(
            stats["max_accepted_in_any_second"][PHONE_ID]
                .as_u64()
                .unwrap()
                <= 100
        );
        assert_eq!(stats["accepted"], ok as u64);
        assert_eq!(stats["throttled"], throttled.len() as u64);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn drop_after_accept_closes_the_connection_without_a_response_and_counts_accepted() {
    bounded(async {
        let sim = sim().await;
        seed_template(&sim, "APPROVED").await;
        sim.rule(json!({"recipient": "+56962000001", "drop_after_accept": true, "times": 1}))
            .await;
        let result = client()
            .post(sim.url(&messages_path()))
            .bearer_auth("t")
            .json(&documented_template("56962000001"))
            .send()
            .await;
        let error = result.expect_err("no HTTP response");
        assert!(!error.is_timeout(), "{error}");
        let stats = sim.stats().await;
        assert_eq!(stats["accepted"], 1);
        assert_eq!(stats["dropped"], 1);
        let messages = sim.json("/_sim/messages").await;
        assert_eq!(messages[0]["dropped"], true);
        let (status, _) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::OK, "the rule applied once");
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_latency_rule_slows_the_answer() {
    bounded(async {
        let sim = sim().await;
        seed_template(&sim, "APPROVED").await;
        sim.rule(json!({"sender": PHONE_ID, "latency_ms": 300, "times": 1}))
            .await;
        let started = Instant::now();
        let (status, _) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(started.elapsed() >= Duration::from_millis(300));
        sim.stop().await;
    })
    .await
}

async fn template_status(sim: &TestSim, name: &str) -> Value {
    let path = format!("/v21.0/{WABA}/message_templates?name={name}");
    let (status, body) = answer(sim.get(&path).bearer_auth("t")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"][0].clone()
}

#[tokio::test]
async fn a_registered_template_is_pending_then_approved_after_about_a_second_and_can_be_sent() {
    bounded(async {
        let sim = sim().await;
        let definition = json!({"name": "aviso_cobranza", "language": "es", "category": "UTILITY",
            "components": [
                {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1h"]}},
                {"type": "BODY", "text": "Hola {{1}}, tu deuda es {{2}}",
                 "example": {"body_text": [["María", "$12.500"]]}}]});
        let (status, body) = answer(
            sim.post(&format!("/v21.0/{WABA}/message_templates"))
                .bearer_auth("t")
                .json(&definition),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "PENDING");
        assert_eq!(body["category"], "UTILITY");
        assert!(body["id"]
            .as_str()
            .is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit())));

        assert_eq!(
            template_status(&sim, "aviso_cobranza").await["status"],
            "PENDING"
        );
        let (_, refused) = send(&sim, &documented_template("56962000001")).await;
        assert_meta_error(&refused, 132001);

        tokio::time::sleep(Duration::from_millis(1200)).await;
        let listed = template_status(&sim, "aviso_cobranza").await;
        assert_eq!(listed["status"], "APPROVED");
        assert_eq!(listed["name"], "aviso_cobranza");
        assert_eq!(listed["language"], "es");
        assert_eq!(listed["id"], body["id"]);
        let (status, _) = send(&sim, &documented_template("56962000001")).await;
        assert_eq!(status, StatusCode::OK);

        let (status, duplicate) = answer(
            sim.post(&format!("/v21.0/{WABA}/message_templates"))
                .bearer_auth("t")
                .json(&definition),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_meta_error(&duplicate, 100);
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn a_reject_rule_gives_rejected_with_the_reason() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"template": "promo_*", "reject": "INVALID_FORMAT", "after_ms": 100}))
            .await;
        let definition = json!({"name": "promo_verano", "language": "es", "category": "MARKETING",
            "components": [{"type": "BODY", "text": "Oferta {{1}}"}]});
        let (status, _) = answer(
            sim.post(&format!("/v21.0/{WABA}/message_templates"))
                .bearer_auth("t")
                .json(&definition),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listed = template_status(&sim, "promo_verano").await;
        assert_eq!(listed["status"], "REJECTED");
        assert_eq!(listed["rejected_reason"], "INVALID_FORMAT");
        sim.stop().await;
    })
    .await
}

fn templates_path() -> String {
    format!("/v21.0/{WABA}/message_templates")
}

/// Seeds an approved template of `name` in `language` and returns its id.
async fn seed_language(sim: &TestSim, name: &str, language: &str) -> String {
    let seeded = sim
        .control(
            "/_sim/templates",
            json!({"provider": "meta", "account": WABA, "name": name, "language": language,
                   "body": "Hola {{1}}"}),
        )
        .await;
    seeded["id"].as_str().unwrap().to_string()
}

async fn delete_template(sim: &TestSim, query: &str) -> (StatusCode, Value) {
    answer(
        sim.http
            .delete(sim.url(&format!("{}?{query}", templates_path())))
            .bearer_auth("t"),
    )
    .await
}

fn text_template(name: &str, language: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": "56962000001", "type": "template",
           "template": {"name": name, "language": {"code": language},
             "components": [{"type": "body", "parameters": [{"type": "text", "text": "María"}]}]}})
}

async fn listed_names(sim: &TestSim) -> Vec<(String, String)> {
    let (status, body) = answer(sim.get(&templates_path()).bearer_auth("t")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["language"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn deleting_a_template_by_name_removes_every_language_and_sends_of_it_get_132001() {
    bounded(async {
        let sim = sim().await;
        seed_language(&sim, "aviso_mora", "es").await;
        seed_language(&sim, "aviso_mora", "en_US").await;
        seed_language(&sim, "aviso_pago", "es").await;
        let (status, _) = send(&sim, &text_template("aviso_mora", "es")).await;
        assert_eq!(status, StatusCode::OK);

        let (status, body) = delete_template(&sim, "name=aviso_mora").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"success": true}));

        assert_eq!(
            listed_names(&sim).await,
            [("aviso_pago".to_string(), "es".to_string())]
        );
        let seeded = sim.json("/_sim/templates").await;
        assert_eq!(seeded.as_array().unwrap().len(), 1, "{seeded}");
        assert_eq!(seeded[0]["name"], "aviso_pago");
        for language in ["es", "en_US"] {
            let (status, body) = send(&sim, &text_template("aviso_mora", language)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_meta_error(&body, 132001);
        }

        let (status, body) = delete_template(&sim, "name=aviso_mora").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_meta_error(&body, 100);
        assert_eq!(body["error"]["error_subcode"], 2593002);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"));
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn deleting_with_hsm_id_removes_only_that_template() {
    bounded(async {
        let sim = sim().await;
        let spanish = seed_language(&sim, "aviso_mora", "es").await;
        seed_language(&sim, "aviso_mora", "en_US").await;

        let (status, body) =
            delete_template(&sim, &format!("name=aviso_mora&hsm_id={spanish}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"success": true}));
        assert_eq!(
            listed_names(&sim).await,
            [("aviso_mora".to_string(), "en_US".to_string())]
        );
        let (_, body) = send(&sim, &text_template("aviso_mora", "es")).await;
        assert_meta_error(&body, 132001);
        let (status, _) = send(&sim, &text_template("aviso_mora", "en_US")).await;
        assert_eq!(status, StatusCode::OK);

        let (status, body) =
            delete_template(&sim, &format!("name=aviso_mora&hsm_id={spanish}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["error_subcode"], 2593002, "{body}");
        sim.stop().await;
    })
    .await
}

#[tokio::test]
async fn template_delete_checks_version_token_rules_and_name_like_the_other_template_endpoints() {
    bounded(async {
        let sim = sim().await;
        seed_language(&sim, "aviso_mora", "es").await;
        let path = format!("{}?name=aviso_mora", templates_path());

        let (status, body) = answer(sim.http.delete(sim.url(&path))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_meta_error(&body, 190);

        let (status, body) = answer(
            sim.http
                .delete(sim.url(&format!("/latest/{WABA}/message_templates?name=aviso_mora")))
                .bearer_auth("t"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_meta_error(&body, 2500);

        sim.rule(json!({"provider": "meta", "sender": WABA, "bad_credentials": true, "times": 1}))
            .await;
        let (status, body) = delete_template(&sim, "name=aviso_mora").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_meta_error(&body, 190);

        let (status, body) = delete_template(&sim, "hsm_id=1").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_meta_error(&body, 100);

        assert_eq!(listed_names(&sim).await.len(), 1, "nothing was deleted");
        let (status, _) = answer(
            sim.http
                .delete(sim.url(&format!("{}&access_token=t", path))),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "?access_token= works too");
        sim.stop().await;
    })
    .await
}

/// A free-form send made with `token`.
async fn send_text_with(sim: &TestSim, token: &str) -> (StatusCode, Value) {
    let text = json!({"messaging_product": "whatsapp", "to": "56962000001", "type": "text",
                      "text": {"body": "hola"}});
    answer(sim.post(&messages_path()).bearer_auth(token).json(&text)).await
}

#[tokio::test]
async fn a_credential_rule_refuses_only_the_rotated_out_token() {
    bounded(async {
        let sim = sim().await;
        sim.rule(json!({"provider": "meta", "bad_credentials": true, "credential": "old-token"}))
            .await;
        for _ in 0..2 {
            let (status, body) = send_text_with(&sim, "old-token").await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "no times: refused from now on"
            );
            assert_meta_error(&body, 190);
        }
        let (status, body) = send_text_with(&sim, "new-token").await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let (status, body) = answer(sim.get(&templates_path()).bearer_auth("old-token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_meta_error(&body, 190);
        let (status, _) = answer(sim.get(&templates_path()).bearer_auth("new-token")).await;
        assert_eq!(status, StatusCode::OK);

        let stats = sim.stats().await;
        assert_eq!(
            (stats["accepted"].clone(), stats["rejected"].clone()),
            (json!(1), json!(2))
        );

        sim.http
            .delete(sim.url("/_sim/rules"))
            .send()
            .await
            .unwrap();
        sim.rule(json!({"sender": PHONE_ID, "bad_credentials": true}))
            .await;
        for token in ["old-token", "new-token"] {
            let (status, body) = send_text_with(&sim, token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "without credential: {token} refused"
            );
            assert_meta_error(&body, 190);
        }
        sim.stop().await;
    })
    .await
}
