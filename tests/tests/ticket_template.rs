//! Reactivating a conversation (issue 23, item 15; AnnA's "reactivar"): once WhatsApp's
//! 24-hour window has closed only an approved template reaches the customer.
//! `POST /v1/tickets/{id}/template` sends one of the ticket's account to its phone
//! through the normal send path and records it in the conversation; on a closed ticket
//! it opens a new ticket linked to the old one, where the customer's answer lands.

use pregon_tests::Stack;
use serde_json::json;
use std::time::{Duration, Instant};

const APP_SECRET: &str = "reactivate-app-secret";

#[tokio::test]
async fn a_template_reaches_a_customer_outside_the_window_and_reopens_a_closed_ticket() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "15550009705";
    let (account, template) = t
        .meta_account_with_webhook(
            sender,
            APP_SECRET,
            "recordatorio_deuda",
            "Hola {{1}}, revisa tu deuda",
        )
        .await;
    let phone = "+56964690001";
    let id = t
        .loaded_campaign_with(
            "whatsapp",
            &account,
            &template,
            &[phone.to_string()],
            json!({"wait_for_reply_hours": 2, "department": "cobranza"}),
        )
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    t.wait_end(&id, Duration::from_secs(60)).await;
    let ticket = t.ticket_for(phone).await;

    // The customer never wrote: free text is refused, and the refusal names the way out.
    let text = t
        .post(
            &format!("/v1/tickets/{ticket}/reply"),
            json!({"text": "¿Pudo pagar?"}),
        )
        .await;
    assert_eq!(text.status, 409, "{}", text.body);
    assert_eq!(text.body["error"], "window_expired");
    assert!(
        text.body["message"]
            .as_str()
            .unwrap()
            .contains("/v1/tickets/{id}/template"),
        "{}",
        text.body
    );

    // Bad requests name what is wrong, and nothing is sent.
    let path = format!("/v1/tickets/{ticket}/template");
    let unknown = t
        .post(
            &path,
            json!({"template_id": template, "params": ["Ana"], "texto": "x"}),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(
        unknown.body["fields"][0]["field"], "texto",
        "{}",
        unknown.body
    );
    let short = t
        .post(&path, json!({"template_id": template, "params": []}))
        .await;
    assert_eq!(short.status, 400, "{}", short.body);
    assert!(
        short.body["fields"].to_string().contains("params"),
        "{}",
        short.body
    );
    let nobody = t
        .post(
            "/v1/tickets/tk_nobody/template",
            json!({"template_id": template, "params": ["Ana"]}),
        )
        .await;
    assert_eq!(nobody.status, 404, "{}", nobody.body);

    // On the open ticket: sent, and in the conversation as the customer reads it.
    let sent = t
        .post(&path, json!({"template_id": template, "params": ["Ana"]}))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    assert_eq!(sent.body["ticket_id"], ticket.as_str());
    assert!(sent.body["reopened_from"].is_null(), "{}", sent.body);
    let received = sim_template(&stack, phone, 2).await;
    assert_eq!(received["content"]["name"], "recordatorio_deuda");
    assert_eq!(received["content"]["rendered"], "Hola Ana, revisa tu deuda");
    let k = t.get(&format!("/v1/tickets/{ticket}")).await.body;
    let last = k["conversation"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["direction"], "out", "{k}");
    assert_eq!(last["kind"], "template", "{k}");
    assert_eq!(last["text"], "Hola Ana, revisa tu deuda", "{k}");
    assert_eq!(last["message_id"], sent.body["message_id"], "{k}");
    assert_eq!(last["author"], "first key", "{k}");
    let m = t
        .get(&format!(
            "/v1/messages/{}",
            sent.body["message_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(m.status, 200, "{}", m.body);

    // Closed, then a template again: a new ticket, linked to the old one, open for the
    // customer's answer — which lands there.
    let closed = t
        .post(&format!("/v1/tickets/{ticket}/close"), json!({}))
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let again = t
        .post(
            &path,
            json!({"template_id": template, "params": ["Beatriz"]}),
        )
        .await;
    assert_eq!(again.status, 202, "{}", again.body);
    let reopened = again.body["ticket_id"].as_str().unwrap().to_string();
    assert_ne!(reopened, ticket);
    assert_eq!(again.body["reopened_from"], ticket.as_str());
    sim_template(&stack, phone, 3).await;
    let n = t.get(&format!("/v1/tickets/{reopened}")).await.body;
    assert_eq!(n["status"], "open", "{n}");
    assert_eq!(n["reopened_from"], ticket.as_str(), "{n}");
    assert_eq!(n["department"], "cobranza", "{n}");
    assert_eq!(n["phone"], phone, "{n}");
    assert!(n["deadline"].is_string(), "{n}");
    assert_eq!(
        n["conversation"][0]["text"],
        "Hola Beatriz, revisa tu deuda"
    );
    let old = t.get(&format!("/v1/tickets/{ticket}")).await.body;
    assert_eq!(old["status"], "closed", "{old}");

    let said = json!({"provider": "meta", "sender": sender, "from": phone, "text": "Ya pagué"});
    assert_eq!(stack.sim_post("/_sim/inbound", said).await["status"], 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = t.get(&format!("/v1/tickets/{reopened}")).await.body;
        let answered = n["conversation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["direction"] == "in" && e["text"] == "Ya pagué");
        if answered {
            assert!(n["replied_at"].is_string(), "{n}");
            break;
        }
        assert!(Instant::now() < deadline, "the answer never landed: {n}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A template asked on the old, closed ticket while the phone has an open one goes
    // on the open one: never two open conversations for a phone.
    let onto = t
        .post(&path, json!({"template_id": template, "params": ["Ana"]}))
        .await;
    assert_eq!(onto.status, 202, "{}", onto.body);
    assert_eq!(onto.body["ticket_id"], reopened.as_str(), "{}", onto.body);
    sim_template(&stack, phone, 4).await;

    // A phone on the do-not-contact list gets nothing, and nothing is recorded.
    let dnc = t.post("/v1/dnc", json!({"phones": [phone]})).await;
    assert_eq!(dnc.status, 201, "{}", dnc.body);
    let before = t.get(&format!("/v1/tickets/{reopened}")).await.body["conversation"]
        .as_array()
        .unwrap()
        .len();
    let refused = t
        .post(
            &format!("/v1/tickets/{reopened}/template"),
            json!({"template_id": template, "params": ["Ana"]}),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["error"], "do_not_contact", "{}", refused.body);
    let after = t.get(&format!("/v1/tickets/{reopened}")).await.body["conversation"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

/// The newest message the simulator accepted for `phone`, once it has `count` of them.
async fn sim_template(stack: &Stack, phone: &str, count: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = stack
            .sim_get(&format!(
                "/_sim/messages?recipient={}",
                phone.replace('+', "%2B")
            ))
            .await;
        let list = got.as_array().cloned().unwrap_or_default();
        if list.len() >= count {
            return list.last().unwrap().clone();
        }
        assert!(
            Instant::now() < deadline,
            "the simulator has {} messages for {phone}, not {count}",
            list.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
