//! KPIs (SPEC §6) on the local stack: after a campaign with mixed outcomes — refused
//! at send, failed after acceptance, delivered and read through signed callbacks, a
//! reply, an attended ticket, a ticket closed by an agent — the stats served from the
//! counters equal what listing the campaign's messages and tickets counts.

use pregon_tests::Stack;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const APP_SECRET: &str = "stats-test-app-secret";

fn ratio(n: i64, d: i64) -> Value {
    if d == 0 {
        Value::Null
    } else {
        json!(((n as f64 / d as f64) * 10_000.0).round() / 10_000.0)
    }
}

#[tokio::test]
async fn stats_after_mixed_outcomes_equal_the_counts_from_listing_the_messages() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "15550007101";
    let (account, tpl_id) = t
        .meta_account_with_webhook(sender, APP_SECRET, "kpi_aviso", "Hola {{1}}")
        .await;
    let phones: Vec<String> = (0..8).map(|i| format!("+5696510{i:04}")).collect();
    // phones[0]: refused at send; phones[1]: accepted, then failed on the callback.
    stack
        .sim_post("/_sim/rules", json!({"recipient": phones[0], "fail": {"code": 131026, "status": 400, "message": "Message undeliverable"}}))
        .await;
    stack
        .sim_post(
            "/_sim/rules",
            json!({"recipient": phones[1], "callbacks": {"fail": {"code": 131026}}}),
        )
        .await;
    let id = t
        .loaded_campaign_with(
            "whatsapp",
            &account,
            &tpl_id,
            &phones,
            json!({"wait_for_reply_hours": 1}),
        )
        .await;
    // Before sending: every rate is null, never 0 or NaN.
    let before = t.get(&format!("/v1/campaigns/{id}/stats")).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert!(
        before.body["rates"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_null),
        "{}",
        before.body
    );
    assert_eq!(before.body["by_status"]["pending"], 8, "{}", before.body);

    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed_with_errors", "{done}");
    // Callbacks settle: everyone accepted ends read, or failed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let settled = |ms: &[Value]| {
        ms.iter()
            .all(|m| ["read", "failed"].contains(&m["status"].as_str().unwrap()))
    };
    while !settled(&t.messages(&id).await) {
        assert!(
            Instant::now() < deadline,
            "callbacks did not settle: {:?}",
            t.messages(&id).await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let messages = t.messages(&id).await;
    let pmid =
        |p: &str| messages.iter().find(|m| m["phone"] == p).unwrap()["provider_message_id"].clone();
    // phones[2] replies (and an agent takes it); phones[3]'s ticket is closed by an agent.
    let r = stack
        .sim_post("/_sim/inbound", json!({"provider":"meta","sender":sender,"from":phones[2],"text":"Gracias","reply_to":pmid(&phones[2])}))
        .await;
    assert_eq!(r["status"], 200, "{r}");
    let tickets = t.tickets(&format!("campaign_id={id}")).await;
    let ticket_of = |p: &str| {
        tickets.iter().find(|k| k["phone"] == p).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let r = t
        .post(
            &format!("/v1/tickets/{}/attend", ticket_of(&phones[2])),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = t
        .post(
            &format!("/v1/tickets/{}/close", ticket_of(&phones[3])),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Count from the listings.
    let messages = t.messages(&id).await;
    let mut by: HashMap<String, i64> = HashMap::new();
    for m in &messages {
        *by.entry(m["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let refused = messages
        .iter()
        .filter(|m| m["status"] == "failed" && m["provider_message_id"].is_null())
        .count() as i64;
    let failed_after = by.get("failed").copied().unwrap_or(0) - refused;
    let n = |k: &str| by.get(k).copied().unwrap_or(0);
    let sent = messages.len() as i64 - refused;
    let delivered = n("delivered") + n("read") + n("replied");
    let read = n("read") + n("replied");
    let bounced = n("undelivered") + failed_after;
    assert_eq!((refused, failed_after, n("replied")), (1, 1, 1), "{by:?}");

    let s = t
        .stats_when(
            &id,
            |s| {
                s["delivered"] == delivered
                    && s["read"] == read
                    && s["replied"] == n("replied")
                    && s["bounced"] == bounced
            },
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(s["messages"], 8, "{s}");
    assert_eq!(s["unique_phones"], 8, "{s}");
    assert_eq!(s["sent"], sent, "{s}");
    assert_eq!(s["refused"], refused, "{s}");
    assert_eq!(s["delivered"], delivered, "{s}");
    assert_eq!(s["read"], read, "{s}");
    assert_eq!(s["replied"], n("replied"), "{s}");
    assert_eq!(s["bounced"], bounced, "{s}");
    assert_eq!(s["attended"], 1, "{s}");
    for st in [
        "sent",
        "delivered",
        "read",
        "replied",
        "undelivered",
        "failed",
        "blocked",
        "skipped",
        "pending",
        "queued",
    ] {
        assert_eq!(s["by_status"][st], n(st), "by_status.{st}: {s}");
    }
    let rates = &s["rates"];
    assert_eq!(rates["delivery_rate"], ratio(delivered, sent), "{s}");
    assert_eq!(rates["bounce_rate"], ratio(bounced, sent), "{s}");
    assert_eq!(rates["read_rate"], ratio(read, delivered), "{s}");
    assert_eq!(rates["reply_rate"], ratio(n("replied"), delivered), "{s}");
    assert_eq!(rates["attended_rate"], ratio(1, delivered), "{s}");
    assert_eq!(rates["refused_rate"], ratio(refused, sent + refused), "{s}");

    // Tickets: one per accepted message; by state as listing them says.
    let tickets = t.tickets(&format!("campaign_id={id}")).await;
    assert_eq!(tickets.len() as i64, sent);
    let open = tickets.iter().filter(|k| k["status"] == "open").count();
    assert_eq!(s["tickets"]["open"], open, "{s}");
    assert_eq!(s["tickets"]["by_close_reason"]["agent"], 1, "{s}");
    assert!(
        s["first_send_at"].is_string() && s["last_send_at"].is_string(),
        "{s}"
    );

    // Analytics over this campaign agree; an unknown filter is refused by name.
    let a = t.get(&format!("/v1/analytics?campaign_id={id}")).await.body;
    assert_eq!(
        (
            a["campaigns"].as_i64(),
            a["sent"].as_i64(),
            a["replied"].as_i64()
        ),
        (Some(1), Some(sent), Some(1)),
        "{a}"
    );
    assert_eq!(a["rates"], s["rates"], "{a}");
    let a = t
        .get(&format!(
            "/v1/analytics?account_id={account}&from=2020-01-01T00:00:00Z"
        ))
        .await
        .body;
    assert_eq!(a["campaigns"], 1, "{a}");
    let bad = t.get("/v1/analytics?colour=red&from=yesterday").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let fields: Vec<&str> = bad.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["colour", "from"], "{}", bad.body);
}

/// A stream record as Lambda delivers it: message `row` of `campaign` moved
/// `from` → `to` by a status write (its `status_move` changed).
fn stream_record(tenant: &str, campaign: &str, row: u64, from: &str, to: &str, seq: &str) -> Value {
    let (pk, sk) = pregon::keys::recipient(tenant, campaign, 1, row);
    let image = |status: &str, mv: &str| {
        json!({"pk": {"S": pk}, "sk": {"S": sk}, "status": {"S": status}, "status_move": {"S": mv},
            "provider_message_id": {"S": format!("wamid.{row}")}, "status_at": {"S": "2026-12-01T12:00:00Z"}})
    };
    json!({"eventID": seq, "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/pregon-local-main/stream/test",
        "dynamodb": {"ApproximateCreationDateTime": 1764590400.0, "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
            "OldImage": image(from, &format!("m{seq}a")), "NewImage": image(to, &format!("m{seq}b")),
            "SequenceNumber": seq, "SizeBytes": 200, "StreamViewType": "NEW_AND_OLD_IMAGES"}})
}

#[tokio::test]
async fn a_stream_batch_delivered_twice_counts_its_status_moves_once() {
    let stack = Stack::connect().await;
    let tally = pregon_tally::Tally::with(stack.store.clone(), pregon_aws::events::Events::none());
    let (tenant, campaign) = ("ten_tally", pregon::model::new_id("cmp"));
    let batch = |records: Vec<Value>| -> aws_lambda_events::event::dynamodb::Event {
        serde_json::from_value(json!({"Records": records})).unwrap()
    };
    let first = batch(vec![
        stream_record(
            tenant,
            &campaign,
            1,
            "sent",
            "delivered",
            "000000000000000000101",
        ),
        stream_record(
            tenant,
            &campaign,
            2,
            "delivered",
            "read",
            "000000000000000000102",
        ),
        stream_record(
            tenant,
            &campaign,
            3,
            "sent",
            "undelivered",
            "000000000000000000103",
        ),
    ]);
    // Lambda retries a batch whose invocation failed (or timed out after writing):
    // the same records again.
    for _ in 0..2 {
        let s = tally.handle(&first).await.unwrap();
        assert_eq!(s.moves, 3);
    }
    let c = stack.store.counters(tenant, &campaign).await.unwrap();
    let k = |n: &str| c.get(n).copied().unwrap_or(0);
    assert_eq!(
        (
            k("k_delivered"),
            k("k_read"),
            k("k_bounced"),
            k("k_undelivered")
        ),
        (1, 1, 1, 1),
        "{c:?}"
    );
    // The next batch counts.
    let next = batch(vec![stream_record(
        tenant,
        &campaign,
        1,
        "delivered",
        "read",
        "000000000000000000104",
    )]);
    tally.handle(&next).await.unwrap();
    let c = stack.store.counters(tenant, &campaign).await.unwrap();
    assert_eq!(c.get("k_read").copied(), Some(2), "{c:?}");
    assert_eq!(c.get("k_delivered").copied(), Some(1), "{c:?}");
}

// Defect: progress counters were plain `ADD`s written by the senders, so a write the
// SDK retried after it had landed counted twice and a campaign could end (and report)
// early. Now they follow from the table's stream, in the tally's idempotent transaction.
#[tokio::test]
async fn send_outcomes_in_a_stream_batch_delivered_twice_count_in_progress_once() {
    let stack = Stack::connect().await;
    let tally = pregon_tally::Tally::with(stack.store.clone(), pregon_aws::events::Events::none());
    let (tenant, campaign) = ("ten_tally", pregon::model::new_id("cmp"));
    let batch = |records: Vec<Value>| -> aws_lambda_events::event::dynamodb::Event {
        serde_json::from_value(json!({"Records": records})).unwrap()
    };
    let first = batch(vec![
        stream_record(
            tenant,
            &campaign,
            1,
            "pending",
            "sent",
            "000000000000000000201",
        ),
        stream_record(
            tenant,
            &campaign,
            2,
            "queued",
            "failed",
            "000000000000000000202",
        ),
        stream_record(
            tenant,
            &campaign,
            3,
            "pending",
            "blocked",
            "000000000000000000203",
        ),
        stream_record(
            tenant,
            &campaign,
            4,
            "pending",
            "skipped",
            "000000000000000000204",
        ),
        // A callback settling a message whose sender died: sent, and delivered.
        stream_record(
            tenant,
            &campaign,
            5,
            "pending",
            "delivered",
            "000000000000000000205",
        ),
        // Not outcomes: a later status of a sent message.
        stream_record(
            tenant,
            &campaign,
            1,
            "sent",
            "delivered",
            "000000000000000000206",
        ),
    ]);
    for _ in 0..2 {
        tally.handle(&first).await.unwrap();
    }
    let p = stack.store.progress(tenant, &campaign).await.unwrap();
    assert_eq!(
        (p.sent, p.failed, p.blocked, p.skipped),
        (2, 1, 1, 1),
        "{p:?}"
    );
}
