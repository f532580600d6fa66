//! Tickets (SPEC §5, §8, §9) on the local stack: customers answer through the provider
//! simulator (`POST /_sim/inbound`, in each provider's documented format, signed as
//! the provider signs), replies land on tickets, an opt-out closes its ticket and
//! blocks the phone, an agent replies inside the 24-hour window and is refused outside
//! it, and the scheduled closer — played with its event time hours ahead — closes
//! unanswered tickets `no_reply` at their deadline and replied ones `idle`.
//!
//! Only this file moves the closer's clock ahead (it closes every tenant's due
//! tickets), and its tests take turns (`SERIAL`), so a closer run here never closes a
//! ticket another test is still using.

use pregon::model::{format_time, parse_time};
use pregon_tests::{Stack, Tenant};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const APP_SECRET: &str = "tickets-test-app-secret";

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn hours_from_now(h: i64) -> String {
    format_time(time::OffsetDateTime::now_utc() + time::Duration::hours(h))
}

/// A customer's message, played by the simulator to our webhook; the webhook's answer.
async fn customer_says(stack: &Stack, body: Value) -> Value {
    let r = stack.sim_post("/_sim/inbound", body.clone()).await;
    assert_eq!(r["status"], 200, "{body} → {r}");
    r
}

async fn ticket(t: &Tenant<'_>, id: &str) -> Value {
    let r = t.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Waits until `check` holds for the ticket.
async fn ticket_until(
    t: &Tenant<'_>,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = ticket(t, id).await;
        if check(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "ticket never {what}: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn whatsapp_tickets_from_send_to_reply_opt_out_agent_and_the_closer() {
    let _turn = SERIAL.lock().await;
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "15550007001";
    let (account, tpl_id) = t
        .meta_account_with_webhook(
            sender,
            APP_SECRET,
            "aviso_cuota",
            "Hola {{1}}, tu cuota vence mañana",
        )
        .await;
    let phones: Vec<String> = (0..4).map(|i| format!("+5696400{i:04}")).collect();
    let id = t
        .loaded_campaign_with(
            "whatsapp",
            &account,
            &tpl_id,
            &phones,
            json!({"wait_for_reply_hours": 2, "department": "cobranza"}),
        )
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");

    // One open ticket per sent message, its deadline the message's own send time + 2 h.
    let messages = t.messages(&id).await;
    let tickets = t.tickets(&format!("campaign_id={id}")).await;
    assert_eq!(tickets.len(), 4, "{tickets:?}");
    let by_phone = |p: &str| -> Value {
        tickets
            .iter()
            .find(|k| k["phone"] == p)
            .cloned()
            .unwrap_or_else(|| panic!("no ticket for {p}: {tickets:?}"))
    };
    for m in &messages {
        let k = by_phone(m["phone"].as_str().unwrap());
        assert_eq!(k["status"], "open", "{k}");
        assert_eq!(k["kind"], "campaign");
        assert_eq!(k["department"], "cobranza");
        assert_eq!(k["message_id"], m["id"]);
        let sent = parse_time(m["sent_at"].as_str().unwrap()).unwrap();
        let deadline = parse_time(k["deadline"].as_str().unwrap()).unwrap();
        let wait = deadline - sent.replace_nanosecond(0).unwrap();
        assert_eq!(wait, time::Duration::hours(2), "{k} vs {m}");
    }
    let open_here = t.tickets("status=open&department=cobranza").await;
    assert_eq!(open_here.len(), 4);
    let pmid = |p: &str| -> String {
        messages.iter().find(|m| m["phone"] == p).unwrap()["provider_message_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let ticket_of = |p: &str| by_phone(p)["id"].as_str().unwrap().to_string();

    // phones[0] answers the message (Meta's context.id names it).
    customer_says(
        &stack,
        json!({"provider":"meta","sender":sender,"from":phones[0],
        "text":"Hola, ya pagué","reply_to":pmid(&phones[0])}),
    )
    .await;
    let k0 = ticket_until(&t, &ticket_of(&phones[0]), "replied", |v| {
        !v["replied_at"].is_null()
    })
    .await;
    assert_eq!(k0["status"], "open");
    let said: Vec<&str> = k0["conversation"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(said, vec!["Hola, ya pagué"], "{k0}");
    let m0 = t
        .get(&format!(
            "/v1/messages/{}",
            k0["message_id"].as_str().unwrap()
        ))
        .await
        .body;
    assert_eq!(m0["status"], "replied", "{m0}");
    assert!(m0["replied_at"].is_string(), "{m0}");

    // phones[1] writes BAJA without quoting anything: its latest open ticket takes it,
    // closed opted_out, the phone blocked.
    customer_says(
        &stack,
        json!({"provider":"meta","sender":sender,"from":phones[1],"text":"  baja "}),
    )
    .await;
    let k1 = ticket_until(&t, &ticket_of(&phones[1]), "closed", |v| {
        v["status"] == "closed"
    })
    .await;
    assert_eq!(k1["close_reason"], "opted_out", "{k1}");
    let dnc = t.get("/v1/dnc?limit=100").await.body;
    assert!(dnc.to_string().contains(&phones[1]), "{dnc}");

    // Someone we never wrote to: a new inbound ticket, nothing dropped.
    let stranger = "+56964009999";
    customer_says(
        &stack,
        json!({"provider":"meta","sender":sender,"from":stranger,"text":"¿Quién es?"}),
    )
    .await;
    let inbound = t
        .tickets("status=open")
        .await
        .into_iter()
        .find(|k| k["phone"] == stranger)
        .expect("an inbound ticket for the stranger");
    assert_eq!(inbound["kind"], "inbound", "{inbound}");
    let inbound_id = inbound["id"].as_str().unwrap().to_string();

    // The agent answers phones[0] inside the window: the simulator gets a text message.
    let r = t
        .post(
            &format!("/v1/tickets/{}/reply", ticket_of(&phones[0])),
            json!({"text":"Gracias, lo revisamos"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = stack
            .sim_get(&format!("/_sim/messages?recipient=%2B{}", &phones[0][1..]))
            .await;
        if got.to_string().contains("Gracias, lo revisamos") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent's reply never reached the provider: {got}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = t
        .post(
            &format!("/v1/tickets/{}/attend", ticket_of(&phones[0])),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["attended_at"].is_string(), "{}", r.body);

    // phones[2] never wrote: WhatsApp's 24-hour window is closed for free text.
    let r = t
        .post(
            &format!("/v1/tickets/{}/reply", ticket_of(&phones[2])),
            json!({"text":"¿Sigue ahí?"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["error"], "window_expired", "{}", r.body);
    // An opted-out ticket is closed: no reply, no attend.
    let r = t
        .post(
            &format!("/v1/tickets/{}/attend", ticket_of(&phones[1])),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // The closer an hour later closes nothing of this campaign; past the deadline it
    // closes the two unanswered tickets as no_reply and leaves the replied one open.
    t_closer(&stack, &hours_from_now(1)).await;
    assert_eq!(ticket(&t, &ticket_of(&phones[2])).await["status"], "open");
    let run = t_closer(&stack, &hours_from_now(3)).await;
    assert!(run["no_reply"].as_u64().unwrap() >= 2, "{run}");
    for p in &phones[2..] {
        let k = ticket(&t, &ticket_of(p)).await;
        assert_eq!(
            (k["status"].as_str(), k["close_reason"].as_str()),
            (Some("closed"), Some("no_reply")),
            "{k}"
        );
    }
    assert_eq!(ticket(&t, &ticket_of(&phones[0])).await["status"], "open");

    // An agent closes the inbound ticket; closing it again is refused.
    let r = t
        .post(&format!("/v1/tickets/{inbound_id}/close"), json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["close_reason"].as_str()),
        (200, Some("agent")),
        "{}",
        r.body
    );
    let r = t
        .post(&format!("/v1/tickets/{inbound_id}/close"), json!({}))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // A day after the last activity, the replied ticket closes idle.
    t_closer(&stack, &hours_from_now(25)).await;
    let k0 = ticket(&t, &ticket_of(&phones[0])).await;
    assert_eq!(
        (k0["status"].as_str(), k0["close_reason"].as_str()),
        (Some("closed"), Some("idle")),
        "{k0}"
    );
    let outs: Vec<&str> = k0["conversation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["direction"].as_str().unwrap())
        .collect();
    assert_eq!(outs, vec!["in", "out"], "{k0}");
    assert!(t
        .tickets(&format!("campaign_id={id}&status=open"))
        .await
        .is_empty());
}

async fn t_closer(stack: &Stack, at: &str) -> Value {
    stack.run_schedule("CloserFunction", at).await
}

#[tokio::test]
async fn an_informative_sms_campaign_has_closed_tickets_and_a_late_reply_opens_an_inbound_one() {
    let _turn = SERIAL.lock().await;
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    // The tenant's own opt-out words, set before any callback reads them.
    let s = t
        .call(
            reqwest::Method::PATCH,
            "/v1/settings",
            Some(json!({"opt_out_words":["NO MOLESTAR"],"idle_close_hours":6})),
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(t.get("/v1/settings").await.body["idle_close_hours"], 6);
    let sender = "+15550007002";
    let (account, template) = t.twilio_sms(sender, "AC_tickets").await;
    let phones: Vec<String> = (0..3).map(|i| format!("+5696410{i:04}")).collect();
    let id = t.loaded_campaign("sms", &account, &template, &phones).await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");

    // Born closed: a view of the sent messages.
    let tickets = t.tickets(&format!("campaign_id={id}")).await;
    assert_eq!(tickets.len(), 3, "{tickets:?}");
    assert!(
        tickets
            .iter()
            .all(|k| k["status"] == "closed" && k["close_reason"] == "informative"),
        "{tickets:?}"
    );
    assert!(t
        .tickets(&format!("campaign_id={id}&status=open"))
        .await
        .is_empty());
    let one = ticket(&t, tickets[0]["id"].as_str().unwrap()).await;
    assert_eq!(one["close_reason"], "informative");

    // A reply to an informative message matches no open ticket: an inbound ticket.
    customer_says(
        &stack,
        json!({"provider":"twilio","sender":sender,"from":phones[0],"text":"¿Cuándo llega?"}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let inbound = loop {
        // (Not filtered by status: the other test's closer runs hours ahead.)
        let all = t.tickets("").await;
        if let Some(k) = all.into_iter().find(|k| k["phone"] == phones[0]) {
            break k;
        }
        assert!(Instant::now() < deadline, "the reply opened no ticket");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(inbound["kind"], "inbound", "{inbound}");
    // It quoted nothing (SMS cannot), yet it answers the campaign's message of the
    // day to that phone: that message is `replied`, and counts in the KPIs.
    let m = t
        .messages(&id)
        .await
        .into_iter()
        .find(|m| m["phone"] == phones[0])
        .unwrap();
    assert_eq!(m["status"], "replied", "{m}");
    let others = t.messages(&id).await;
    assert_eq!(
        others.iter().filter(|m| m["status"] == "replied").count(),
        1,
        "{others:?}"
    );
    // SMS has no 24-hour window: the agent answers.
    let r = t
        .post(
            &format!("/v1/tickets/{}/reply", inbound["id"].as_str().unwrap()),
            json!({"text":"Mañana antes de las 14:00"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    // Issue 19, item 10: an agent's reply after the customer's is a take, and an inbound
    // ticket's take counts in analytics by account (it was lost before).
    let k = ticket(&t, inbound["id"].as_str().unwrap()).await;
    assert!(k["attended_at"].is_string(), "{k}");
    let a = t
        .get(&format!(
            "/v1/analytics?account_id={account}&period=last_7_days"
        ))
        .await
        .body;
    assert_eq!(a["inbound"]["attended"], 1, "{a}");
    assert_eq!(a["inbound"]["by_account"][&account]["attended"], 1, "{a}");
    // A second reply is not a second take.
    let r = t
        .post(
            &format!("/v1/tickets/{}/reply", inbound["id"].as_str().unwrap()),
            json!({"text":"Le confirmamos mañana"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let a = t
        .get(&format!("/v1/analytics?account_id={account}"))
        .await
        .body;
    assert_eq!(a["inbound"]["attended"], 1, "{a}");

    // The tenant's own opt-out words count (accents and case aside).
    customer_says(
        &stack,
        json!({"provider":"twilio","sender":sender,"from":phones[1],"text":"No molestar"}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let dnc = t.get("/v1/dnc?limit=100").await.body;
        if dnc.to_string().contains(&phones[1]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the opt-out did not reach the DNC list: {dnc}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closed = t.tickets("status=closed").await;
    let k = closed
        .iter()
        .find(|k| k["phone"] == phones[1])
        .expect("the opt-out's ticket");
    assert_eq!(k["close_reason"], "opted_out", "{k}");
}

/// A deployment upgraded from before due items were sharded has its tickets' due items
/// in the hour's unsharded partition (`DUE#{hour}`): the closer still reads them, closes
/// their tickets, and deletes them.
#[tokio::test]
async fn a_due_item_an_older_deployment_wrote_unsharded_still_closes_its_ticket() {
    let _turn = SERIAL.lock().await;
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "+15550007003";
    t.twilio_sms(sender, "AC_legacy").await;
    let phone = "+56964200001";
    customer_says(
        &stack,
        json!({"provider":"twilio","sender":sender,"from":phone,"text":"Hola"}),
    )
    .await;
    let id = t.ticket_for(phone).await;
    let item = stack
        .store
        .ticket(&t.id, &id)
        .await
        .unwrap()
        .expect("ticket");
    // Idle in an hour (the tenant's own idle item is 24 hours out), written as the
    // older closer's items were: one partition per hour.
    let due_at = hours_from_now(1);
    let pk = format!("DUE#{}", &due_at[..13]);
    let sk = format!("{due_at}#{}#{id}", t.id);
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
    stack
        .dynamodb
        .put_item()
        .table_name(stack.store.table.clone())
        .item("pk", s(&pk))
        .item("sk", s(&sk))
        .item("t", s(&t.id))
        .item("id", s(&id))
        .item("due_at", s(&due_at))
        .item("activity", s(&item.last_activity_at))
        .send()
        .await
        .unwrap();

    let run = t_closer(&stack, &hours_from_now(2)).await;
    assert!(run["idle"].as_u64().unwrap() >= 1, "{run}");
    let k = ticket(&t, &id).await;
    assert_eq!(
        (k["status"].as_str(), k["close_reason"].as_str()),
        (Some("closed"), Some("idle")),
        "{k}"
    );
    let left = stack
        .dynamodb
        .get_item()
        .table_name(stack.store.table.clone())
        .key("pk", s(&pk))
        .key("sk", s(&sk))
        .send()
        .await
        .unwrap();
    assert!(
        left.item.is_none(),
        "the closed item was not deleted: {left:?}"
    );
}
