//! Retention (issue "operate it"): with the tenant's `retention_days` set, every
//! long-lived item a campaign writes carries DynamoDB's TTL attribute `expires_at` at
//! that many days — its recipients (the messages), its tickets and each line of their
//! conversations (a customer's reply, an agent's reply), an inbound ticket opened by a
//! stranger — and the provider-id index its own 30 days. Read from the table itself.

use aws_sdk_dynamodb::types::AttributeValue;
use pregon::keys;
use pregon_tests::Stack;
use reqwest::Method;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

type Item = HashMap<String, AttributeValue>;

/// Every item of a partition.
async fn partition(stack: &Stack, pk: &str) -> Vec<Item> {
    let out = stack
        .dynamodb
        .query()
        .table_name(&stack.store.table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AttributeValue::S(pk.into()))
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default()
}

/// The item's `expires_at`, in days from now (panics naming the item without one).
fn days_left(item: &Item) -> f64 {
    let at: i64 = match item.get("expires_at") {
        Some(AttributeValue::N(n)) => n.parse().unwrap(),
        _ => panic!(
            "no expires_at on {:?} / {:?}",
            item.get("pk"),
            item.get("sk")
        ),
    };
    (at - pregon::clock::unix_now()) as f64 / 86_400.0
}

fn near(days: f64, want: f64, what: &str) {
    assert!(
        (days - want).abs() < 0.1,
        "{what}: expires in {days:.3} days, not {want}"
    );
}

#[tokio::test]
async fn every_long_lived_item_expires_after_the_tenants_retention() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let r = t
        .call(
            Method::PATCH,
            "/v1/settings",
            Some(json!({"retention_days": 45})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["retention_days"], 45);
    let r = t
        .call(
            Method::PATCH,
            "/v1/settings",
            Some(json!({"retention_days": 7})),
        )
        .await;
    assert_eq!(r.status, 400, "under the 30-day minimum: {}", r.body);

    let sender = "15550009601";
    let (account, tpl) = t
        .meta_account_with_webhook(sender, "ret-secret", "aviso_retencion", "Hola {{1}}")
        .await;
    let phones: Vec<String> = (0..3).map(|i| format!("+5696480{i:04}")).collect();
    let id = t
        .loaded_campaign_with(
            "whatsapp",
            &account,
            &tpl,
            &phones,
            json!({"wait_for_reply_hours": 2}),
        )
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");

    // A customer replies; an agent answers; a stranger writes.
    let said =
        json!({"provider": "meta", "sender": sender, "from": phones[0], "text": "¿Cuánto debo?"});
    assert_eq!(stack.sim_post("/_sim/inbound", said).await["status"], 200);
    let ticket = t.ticket_for(&phones[0]).await;
    let r = t
        .post(
            &format!("/v1/tickets/{ticket}/reply"),
            json!({"text": "Son $12.500"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let stranger = "+56964809999";
    let said = json!({"provider": "meta", "sender": sender, "from": stranger, "text": "Hola"});
    assert_eq!(stack.sim_post("/_sim/inbound", said).await["status"], 200);
    let inbound = t.ticket_for(stranger).await;

    // The campaign's recipients, each with its message's provider id indexed.
    let gen = stack.campaign_item(&t.id, &id).await.unwrap().recipient_gen;
    let mut rows = 0;
    for shard in 0..keys::RECIPIENT_SHARDS {
        for item in partition(&stack, &keys::recipient_pk(&t.id, &id, gen, shard)).await {
            near(days_left(&item), 45.0, "a recipient");
            rows += 1;
            let Some(AttributeValue::S(pmid)) = item.get("provider_message_id") else {
                panic!("sent without a provider id: {item:?}");
            };
            let (pk, _) = keys::provider_message(&account, pmid);
            for index in partition(&stack, &pk).await {
                near(days_left(&index), 30.0, "a provider-id index entry");
            }
        }
    }
    assert_eq!(rows, 3);
    // Every ticket of the tenant and every line of each conversation.
    let tickets = t.tickets("").await;
    assert_eq!(
        tickets.len(),
        4,
        "three campaign tickets and one inbound: {tickets:?}"
    );
    assert!(tickets.iter().any(|k| k["id"] == inbound.as_str()));
    let mut lines = 0;
    for k in &tickets {
        let tid = k["id"].as_str().unwrap();
        let (pk, sk) = keys::ticket(&t.id, tid);
        let item = partition(&stack, &pk)
            .await
            .into_iter()
            .find(|i| i.get("sk") == Some(&AttributeValue::S(sk.clone())))
            .unwrap();
        near(days_left(&item), 45.0, "a ticket");
        for line in partition(&stack, &keys::ticket_entries_pk(&t.id, tid)).await {
            near(days_left(&line), 45.0, "a conversation line");
            lines += 1;
        }
    }
    assert!(
        lines >= 3,
        "the reply, the agent's answer and the stranger's message: {lines}"
    );
}
