//! SPEC §10 when DynamoDB throttles: the local stack's fault switch
//! (`infra/local/src/faults.rs`) answers a tenant's own writes as DynamoDB does when a
//! partition is over its rate (`ProvisionedThroughputExceededException`), for a few
//! seconds, and the functions must lose nothing and apply nothing twice: a customer's
//! reply a provider delivered while its writes were refused is answered 200 (kept) and
//! lands on its ticket once the writes pass again; a campaign that waits for replies,
//! sent while its ticket writes were refused, still opens one ticket per message.
//! Each rule names only this test's own account or tenant, so the other tests of the
//! stack are not touched; its own file keeps it apart from the timing of the others.

use pregon_tests::{Stack, Tenant};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Every DynamoDB write action.
const WRITES: [&str; 8] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

/// Waits until `find` finds something in the tenant's tickets.
async fn ticket_where(
    t: &Tenant<'_>,
    within: Duration,
    what: &str,
    find: impl Fn(&[Value]) -> Option<Value>,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let all = t.tickets("").await;
        if let Some(k) = find(&all) {
            return k;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {within:?}: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_reply_delivered_while_dynamodb_throttles_is_answered_200_and_lands_once_on_its_ticket() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "+15550007101";
    let (account, _) = t.twilio_sms(sender, "AC_throttle").await;
    // Every write naming the account refused for 8 s (its inbound message, contact
    // pointer and ticket all carry the account id).
    let rule = stack
        .dynamodb_fault(json!({"actions": WRITES, "contains": account, "seconds": 8}))
        .await;
    let phone = "+56964500001";
    let r = stack
        .sim_post(
            "/_sim/inbound",
            json!({"provider":"twilio","sender":sender,"from":phone,"text":"¿Cuándo llega mi pedido?"}),
        )
        .await;
    assert_eq!(r["status"], 200, "the provider must hear it was kept: {r}");
    assert!(
        stack.dynamodb_fault_refused(rule).await > 0,
        "the fault switch refused none of the account's writes"
    );
    // Applied from the retry queue once the writes pass (its visibility is 60 s).
    let k = ticket_where(&t, Duration::from_secs(120), "the reply's ticket", |all| {
        all.iter().find(|k| k["phone"] == phone).cloned()
    })
    .await;
    let full = t
        .get(&format!("/v1/tickets/{}", k["id"].as_str().unwrap()))
        .await;
    assert_eq!(full.status, 200, "{}", full.body);
    let lines = full.body["conversation"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 1, "one reply, one line: {lines:?}");
    assert_eq!(lines[0]["direction"], "in");
    assert_eq!(lines[0]["text"], "¿Cuándo llega mi pedido?", "{lines:?}");
    // And nothing more comes of it: still one ticket, one line, a while later.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all: Vec<Value> = t
        .tickets("")
        .await
        .into_iter()
        .filter(|k| k["phone"] == phone)
        .collect();
    assert_eq!(all.len(), 1, "{all:?}");
}

#[tokio::test]
async fn a_campaign_sent_while_its_ticket_writes_are_throttled_still_opens_one_ticket_per_message()
{
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = t.twilio_sms("+15550007102", "AC_throttle").await;
    let phones: Vec<String> = (0..6).map(|i| format!("+5696451{i:04}")).collect();
    let id = t
        .loaded_campaign_with(
            "sms",
            &account,
            &template,
            &phones,
            json!({"wait_for_reply_hours": 2}),
        )
        .await;
    // The tenant's ticket partitions refuse writes for 6 s, from before the send.
    let rule = stack
        .dynamodb_fault(json!({"actions": ["BatchWriteItem"], "contains": format!("TICKETS#{}", t.id), "seconds": 6}))
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        stack.dynamodb_fault_refused(rule).await > 0,
        "the fault switch refused none of the ticket writes"
    );
    // Each message sent once, and each gets its ticket once the writes pass.
    let stats = stack.sim_get("/_sim/stats").await;
    for p in &phones {
        assert_eq!(stats["accepted_by_recipient"][p], 1, "{p}: {stats}");
    }
    ticket_where(&t, Duration::from_secs(120), "six open tickets", |all| {
        let open: Vec<&Value> = all
            .iter()
            .filter(|k| k["campaign_id"] == id.as_str() && k["status"] == "open")
            .collect();
        (open.len() == phones.len()).then(|| json!(open))
    })
    .await;
    let all = t.tickets(&format!("campaign_id={id}")).await;
    let mut seen: Vec<&str> = all.iter().map(|k| k["phone"].as_str().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, phones.iter().map(String::as_str).collect::<Vec<_>>());
}
