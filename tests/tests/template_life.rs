//! Templates over time (issue "operate it") on the local stack: a template carries a
//! department (a list filter, taken by the campaigns that use it) and the tenant's own
//! review examples; it is deleted at its provider (Meta, Twilio, Gupshup through the
//! simulator's documented delete endpoints) and here, but not while a campaign waits on
//! it; a preview is exactly what the simulator then records; and a campaign's empty
//! sheet carries its metadata columns.

use pregon_tests::{Stack, Tenant};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// A suffix no other run of these tests uses (ids at the simulator).
fn unique() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A WhatsApp account of `provider` on the simulator.
async fn account(t: &Tenant<'_>, provider: &str, sender: &str) -> String {
    let u = unique();
    let credentials = match provider {
        "meta" => json!({"access_token": "EAAtoken", "app_secret": "s", "verify_token": "v",
            "phone_number_id": sender, "waba_id": format!("waba{u}")}),
        "twilio" => json!({"account_sid": format!("AC{u:032x}"), "auth_token": "tok"}),
        _ => json!({"api_key": "gskey", "app_name": "PregonApp", "app_id": format!("app-{u}"),
            "partner_token": "ptok"}),
    };
    let acc = t
        .post(
            "/v1/accounts",
            json!({"provider": provider, "channel": "whatsapp", "sender": sender,
                "default_country": "CL", "credentials": credentials}),
        )
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    acc.body["id"].as_str().unwrap().to_string()
}

/// The simulator's templates with this provider id (none once deleted).
async fn at_simulator(stack: &Stack, provider_id: &str) -> usize {
    let all = stack.sim_get("/_sim/templates").await;
    all.as_array()
        .unwrap()
        .iter()
        .filter(|t| t["id"] == provider_id)
        .count()
}

#[tokio::test]
async fn a_template_is_deleted_at_each_provider_but_not_while_a_campaign_waits_on_it() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    for (i, provider) in ["meta", "twilio", "gupshup"].into_iter().enumerate() {
        let acc = account(&t, provider, &format!("+1555000950{i}")).await;
        let name = format!("aviso_borrar_{provider}");
        let tpl = t
            .post(
                "/v1/templates",
                json!({"name": name, "channel": "whatsapp", "language": "es", "category": "UTILITY",
                    "body": "Hola {{1}}, tu pago vence mañana", "account_id": acc,
                    "department": "cobranzas", "examples": ["María"]}),
            )
            .await;
        assert_eq!(tpl.status, 201, "{}", tpl.body);
        assert_eq!(tpl.body["department"], "cobranzas");
        assert_eq!(tpl.body["examples"], json!(["María"]));
        let id = tpl.body["id"].as_str().unwrap().to_string();
        let provider_id = tpl.body["provider_template_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(t.reviewed_template(&id).await["status"], "approved");
        assert_eq!(at_simulator(&stack, &provider_id).await, 1, "{provider}");

        // A campaign waiting to send with it keeps it.
        let cmp = t
            .loaded_campaign("whatsapp", &acc, &id, &[format!("+5696464{i:04}")])
            .await;
        let campaign = t.get(&format!("/v1/campaigns/{cmp}")).await.body;
        assert_eq!(
            campaign["department"], "cobranzas",
            "taken from the template"
        );
        let r = t
            .post(
                &format!("/v1/campaigns/{cmp}/send"),
                json!({"send_at": "2099-01-01T09:00:00-03:00"}),
            )
            .await;
        assert_eq!(r.body["status"], "scheduled", "{}", r.body);
        let path = format!("/v1/templates/{id}");
        let r = t.call(Method::DELETE, &path, None).await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(r.body["error"], "template_in_use");
        assert!(
            r.body["message"].as_str().unwrap().contains(&cmp),
            "{}",
            r.body
        );
        assert_eq!(
            at_simulator(&stack, &provider_id).await,
            1,
            "still at {provider}"
        );

        let r = t
            .post(&format!("/v1/campaigns/{cmp}/cancel"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = t.call(Method::DELETE, &path, None).await;
        assert_eq!(r.status, 204, "{provider}: {}", r.body);
        assert_eq!(
            at_simulator(&stack, &provider_id).await,
            0,
            "gone at {provider}"
        );
        assert_eq!(t.get(&path).await.status, 404);
    }
    // The department filter, and its unknown neighbours named.
    let listed = t.get("/v1/templates?department=cobranzas").await.body;
    assert_eq!(listed["items"], json!([]), "all three deleted: {listed}");
    let r = t.get("/v1/templates?departamento=x").await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test]
async fn examples_given_are_what_the_provider_reviews() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "+15550009510";
    let acc = account(&t, "meta", sender).await;
    let r = t
        .post(
            "/v1/templates",
            json!({"name": "aviso_ejemplos", "channel": "whatsapp", "language": "es",
                "category": "UTILITY", "body": "Hola {{1}}, vence {{2}}", "account_id": acc,
                "examples": ["María", "el 5 de enero"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Meta's own list of the WABA's templates (the simulator's Graph API).
    let all = stack.sim_get("/_sim/templates").await;
    let registered = all
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "aviso_ejemplos")
        .cloned()
        .unwrap();
    let url = format!(
        "{}/v21.0/{}/message_templates?name=aviso_ejemplos",
        stack.sim(),
        registered["account"].as_str().unwrap()
    );
    let graph: Value = stack
        .http
        .get(url)
        .bearer_auth("EAAtoken")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = graph["data"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "BODY")
        .cloned()
        .unwrap();
    assert_eq!(
        body["example"]["body_text"],
        json!([["María", "el 5 de enero"]]),
        "{graph}"
    );
    // One example short: named, nothing registered.
    let r = t
        .post(
            "/v1/templates",
            json!({"name": "aviso_corto", "channel": "whatsapp", "language": "es",
                "category": "UTILITY", "body": "Hola {{1}}, vence {{2}}", "account_id": acc,
                "examples": ["María"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fields(), ["examples"]);
}

#[tokio::test]
async fn a_preview_is_what_the_simulator_then_records() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    // WhatsApp through Meta: the body as the provider renders it.
    let sender = "+15550009511";
    let (acc, tpl) = t
        .meta_account_with_webhook(sender, "sec", "aviso_vista", "Hola {{1}}, debes {{2}}")
        .await;
    let params = json!(["María José", "$12.500"]);
    let p = t
        .post(
            &format!("/v1/templates/{tpl}/preview"),
            json!({"params": params}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["text"], "Hola María José, debes $12.500");
    assert!(p.body["encoding"].is_null(), "{}", p.body);
    let phone = "+56964700101";
    let r = t
        .post(
            "/v1/messages",
            json!({"account_id": acc, "phone": phone, "template_id": tpl, "params": params}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let recorded = sim_message(&stack, phone).await;
    assert_eq!(
        recorded["content"]["rendered"], p.body["text"],
        "{recorded}"
    );

    // SMS through Twilio: the text sent, with its encoding and segments.
    let (sms_acc, sms_tpl) = t.twilio_sms("+15550009512", "AC_preview").await;
    let p = t
        .post(
            &format!("/v1/templates/{sms_tpl}/preview"),
            json!({"params": ["Ñuñoa"]}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["text"], "Hola Ñuñoa, su pedido salió");
    assert_eq!(p.body["encoding"], "ucs2", "ó is not GSM-7: {}", p.body);
    assert_eq!(p.body["segments"], 1);
    let phone = "+56964700102";
    let r = t
        .post(
            "/v1/messages",
            json!({"account_id": sms_acc, "phone": phone, "template_id": sms_tpl, "params": ["Ñuñoa"]}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let recorded = sim_message(&stack, phone).await;
    assert_eq!(recorded["content"]["body"], p.body["text"], "{recorded}");

    // A parameter short is named.
    let r = t
        .post(
            &format!("/v1/templates/{tpl}/preview"),
            json!({"params": ["x"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fields(), ["params"]);
}

/// The message the simulator accepted for `phone`, once it has (up to 20 s).
async fn sim_message(stack: &Stack, phone: &str) -> Value {
    for _ in 0..80 {
        let q = format!("/_sim/messages?recipient={}", phone.replace('+', "%2B"));
        if let Some(m) = stack
            .sim_get(&q)
            .await
            .as_array()
            .and_then(|a| a.first().cloned())
        {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("the simulator accepted nothing for {phone}");
}

#[tokio::test]
async fn a_campaign_sheet_carries_its_metadata_columns() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (acc, tpl) = t.twilio_sms("+15550009513", "AC_sheet").await;
    let c = t
        .post(
            "/v1/campaigns",
            json!({"name": "Cobranza diciembre", "channel": "sms", "account_id": acc,
                "template_id": tpl, "consent_confirmed": true,
                "metadata": [{"name": "Cliente", "type": "text"}, {"name": "VIP", "type": "yes_no"}]}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap();
    let r = stack
        .http
        .get(stack.api(&format!("/v1/campaigns/{id}/sheet?format=csv")))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("Cobranza_diciembre.csv"),
        "{disposition}"
    );
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().next(), Some("phone,param_1,Cliente,VIP"));
    let r = t.get(&format!("/v1/campaigns/{id}/sheet?format=pdf")).await;
    assert_eq!(r.status, 400, "{}", r.body);
}
