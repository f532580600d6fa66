//! SPEC §2 steps 5–6, §5, §8, §10 on the local stack: the simulator calls our webhook
//! as each provider documents (signed as each provider signs), and messages move
//! forward to `delivered` and `read`; forged or unsigned callbacks change nothing.

use pregon::providers::meta::signature;
use pregon_tests::{Stack, Tenant};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const APP_SECRET: &str = "webhook-test-app-secret";

/// A Meta account whose webhook the simulator calls (signed with `APP_SECRET`), an
/// approved template and a loaded campaign of `phones`; (account, campaign).
async fn meta_campaign(
    stack: &Stack,
    t: &Tenant<'_>,
    sender: &str,
    phones: &[String],
) -> (Value, String) {
    let acc = t
        .post("/v1/accounts", json!({"provider":"meta","channel":"whatsapp","sender":sender,"default_country":"CL","rate":50,
            "credentials":{"access_token":"EAAtoken","app_secret":APP_SECRET,"verify_token":"verify-me","phone_number_id":sender,"waba_id":format!("waba{sender}")}}))
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let url = acc.body["webhook_url"]
        .as_str()
        .expect("webhook_url")
        .to_string();
    assert!(
        url.contains(&format!(
            "/v1/webhooks/{}",
            acc.body["id"].as_str().unwrap()
        )),
        "{url}"
    );
    stack
        .sim_post(
            "/_sim/webhooks",
            json!({"provider":"meta","sender":sender,"url":url,"app_secret":APP_SECRET}),
        )
        .await;
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":format!("estado_{sender}"),"channel":"whatsapp","language":"es",
            "category":"UTILITY","body":"Hola {{1}}","account_id":acc.body["id"]}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let tpl_id = tpl.body["id"].as_str().unwrap().to_string();
    let reviewed = t.reviewed_template(&tpl_id).await;
    assert_eq!(reviewed["status"], "approved", "{reviewed}");
    let account = acc.body["id"].as_str().unwrap();
    let id = t
        .loaded_campaign("whatsapp", account, &tpl_id, phones)
        .await;
    (acc.body, id)
}

/// Waits until every message of the campaign has `status`.
async fn wait_all(t: &Tenant<'_>, id: &str, status: &str, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let ms = t.messages(id).await;
        if !ms.is_empty() && ms.iter().all(|m| m["status"] == status) {
            return ms;
        }
        assert!(Instant::now() < deadline, "not all {status}: {ms:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// POSTs a body to a webhook URL with the headers given.
async fn post_raw(stack: &Stack, url: &str, body: &str, headers: &[(&str, String)]) -> u16 {
    let mut r = stack
        .http
        .post(url)
        .body(body.to_string())
        .header("content-type", "application/json");
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.send().await.unwrap().status().as_u16()
}

/// A customer's text message in Meta's webhook shape, signed with `APP_SECRET` and
/// posted to the webhook URL; the answer's status.
async fn post_meta_text(
    stack: &Stack,
    url: &str,
    phone_number_id: &str,
    from: &str,
    wamid: &str,
    text: &str,
) -> u16 {
    let reply = json!({"object":"whatsapp_business_account","entry":[{"id":"waba","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":phone_number_id},
        "contacts":[{"profile":{"name":"Pedro"},"wa_id":from}],
        "messages":[{"from":from,"id":wamid,"timestamp":"1763800200","type":"text","text":{"body":text}}]}}]}]})
    .to_string();
    let sig = signature(APP_SECRET, reply.as_bytes());
    post_raw(stack, url, &reply, &[("x-hub-signature-256", sig)]).await
}

fn meta_status(phone_number_id: &str, wamid: &str, status: &str) -> String {
    json!({"object":"whatsapp_business_account","entry":[{"id":"waba","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":phone_number_id},
        "statuses":[{"id":wamid,"status":status,"timestamp":"1763800000","recipient_id":"56962000001"}]}}]}]})
    .to_string()
}

#[tokio::test]
async fn signed_meta_callbacks_move_messages_to_read_and_forged_ones_change_nothing() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let phones: Vec<String> = (0..5).map(|i| format!("+5696303{i:04}")).collect();
    let (acc, id) = meta_campaign(&stack, &t, "155500030", &phones).await;
    let url = acc["webhook_url"].as_str().unwrap().to_string();
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The simulator posts sent, delivered, read for each, signed; they land in order or not.
    let ms = wait_all(&t, &id, "read", Duration::from_secs(60)).await;
    for m in &ms {
        assert!(
            m["delivered_at"].is_string() && m["read_at"].is_string(),
            "{m}"
        );
    }
    let wamid = ms[0]["provider_message_id"].as_str().unwrap().to_string();

    // A late `delivered` after `read`, correctly signed: 200, and nothing moves back.
    let late = meta_status("155500030", &wamid, "delivered");
    let sig = signature(APP_SECRET, late.as_bytes());
    assert_eq!(
        post_raw(&stack, &url, &late, &[("x-hub-signature-256", sig)]).await,
        200
    );
    // A forged `failed` (wrong secret) and an unsigned one: refused, nothing changes.
    let forged = meta_status("155500030", &wamid, "failed");
    let bad = signature("not-the-secret", forged.as_bytes());
    assert_eq!(
        post_raw(&stack, &url, &forged, &[("x-hub-signature-256", bad)]).await,
        403
    );
    assert_eq!(post_raw(&stack, &url, &forged, &[]).await, 401);
    // The signature covers the body: a valid one for another body does not pass.
    let other = signature(APP_SECRET, late.as_bytes());
    assert_eq!(
        post_raw(&stack, &url, &forged, &[("x-hub-signature-256", other)]).await,
        403
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = t.messages(&id).await;
    assert!(again.iter().all(|m| m["status"] == "read"), "{again:?}");

    // Meta's verification handshake.
    let base = url.split('?').next().unwrap();
    let ok = stack
        .http
        .get(format!(
            "{base}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=8412"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "8412");
    let no = stack
        .http
        .get(format!(
            "{base}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=8412"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(no.status(), 403);
}

#[tokio::test]
async fn an_opt_out_reply_puts_the_phone_on_the_do_not_contact_list() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let phones: Vec<String> = vec!["+56963040001".into()];
    let (acc, _id) = meta_campaign(&stack, &t, "155500031", &phones).await;
    let url = acc["webhook_url"].as_str().unwrap().to_string();
    assert_eq!(
        post_meta_text(
            &stack,
            &url,
            "155500031",
            "56963040001",
            "wamid.optout1",
            "  Baja "
        )
        .await,
        200
    );
    let dnc = t.get("/v1/dnc?limit=100").await.body;
    let listed: Vec<&str> = dnc["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["phone"].as_str())
        .collect();
    assert!(listed.contains(&"+56963040001"), "{dnc}");
}

#[tokio::test]
async fn twilio_status_callbacks_signed_over_the_public_url_are_applied() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let acc = t
        .post("/v1/accounts", json!({"provider":"twilio","channel":"sms","sender":"+15550004444","default_country":"CL","rate":20,
            "credentials":{"account_sid":"AC_webhooks","auth_token":"twilio-token"}}))
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":"aviso_sms","channel":"sms","body":"Hola {{1}}"}),
        )
        .await;
    let c = t
        .post(
            "/v1/campaigns",
            json!({"name":"SMS","channel":"sms","account_id":acc.body["id"],
            "template_id":tpl.body["id"],"consent_confirmed":true}),
        )
        .await;
    let id = c.body["id"].as_str().unwrap().to_string();
    let csv = "phone,nombre\n+56963050001,Ana\n+56963050002,Luis\n";
    assert_eq!(
        t.upload(&id, csv.as_bytes().to_vec()).await["status"],
        "loaded"
    );
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Twilio posts `sent` then `delivered` to each message's StatusCallback, signed with
    // the auth token over the URL and the sorted parameters.
    let ms = wait_all(&t, &id, "delivered", Duration::from_secs(60)).await;
    assert_eq!(ms.len(), 2);
    let calls = stack.sim_get("/_sim/callbacks").await;
    let ours: Vec<&Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["provider"] == "twilio"
                && c["recipient"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("+5696305"))
        })
        .collect();
    assert!(
        !ours.is_empty() && ours.iter().all(|c| c["http_status"] == 200),
        "{ours:?}"
    );
}

#[tokio::test]
async fn a_meta_template_review_callback_changes_the_template_at_once() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let phones: Vec<String> = vec!["+56963060001".into()];
    let (acc, id) = meta_campaign(&stack, &t, "155500032", &phones).await;
    let url = acc["webhook_url"].as_str().unwrap().to_string();
    let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
    let tpl_id = c["template_id"].as_str().unwrap().to_string();
    let tpl = t.get(&format!("/v1/templates/{tpl_id}")).await.body;
    assert_eq!(tpl["status"], "approved");
    let body = json!({"object":"whatsapp_business_account","entry":[{"id":"waba155500032","time":1763800300,"changes":[{
        "field":"message_template_status_update","value":{"event":"REJECTED",
        "message_template_id": tpl["provider_template_id"].as_str().unwrap().parse::<u64>().unwrap_or(0),
        "message_template_name": tpl["name"], "message_template_language":"es","reason":"INCORRECT_CATEGORY"}}]}]})
    .to_string();
    let sig = signature(APP_SECRET, body.as_bytes());
    assert_eq!(
        post_raw(&stack, &url, &body, &[("x-hub-signature-256", sig)]).await,
        200
    );
    let tpl = t.get(&format!("/v1/templates/{tpl_id}")).await.body;
    assert_eq!(tpl["status"], "rejected", "{tpl}");
    assert_eq!(tpl["rejected_reason"], "INCORRECT_CATEGORY", "{tpl}");
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 409, "{}", r.body);
}

#[tokio::test]
async fn a_gateway_pushes_received_sms_that_land_on_the_ticket_and_opt_out() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let acc = t
        .post("/v1/accounts", json!({"provider":"sms_gateway","channel":"sms","sender":"gw-inbound","default_country":"CL",
            "rate":20,"ports":"0-1","credentials":{"url":stack.sim(),"user":"admin","password":"pw"}}))
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let account = acc.body["id"].as_str().unwrap().to_string();
    // The gateway's push URL for received SMS is the account's webhook_url (its secret
    // inside); the simulator's registration names the gateway by its serial number.
    let reg = stack
        .sim_post(
            "/_sim/webhooks",
            json!({"provider":"gateway","sender":"DG-0042","url":acc.body["webhook_url"]}),
        )
        .await;
    assert!(reg.get("error").is_none(), "{reg}");
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":"cuota","channel":"sms","body":"Hola {{1}}, su cuota vence hoy"}),
        )
        .await;
    let phones: Vec<String> = (0..2).map(|i| format!("+5696540{i:04}")).collect();
    let id = t
        .loaded_campaign_with(
            "sms",
            &account,
            tpl.body["id"].as_str().unwrap(),
            &phones,
            json!({"wait_for_reply_hours": 2}),
        )
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");

    // The customer answers from the handset: the number arrives without `+`.
    let got = stack
        .sim_post(
            "/_sim/inbound",
            json!({"provider":"gateway","sender":"DG-0042","from":phones[0],"text":"Ya pagué"}),
        )
        .await;
    assert_eq!(got["status"], 200, "{got}");
    let tickets = t.tickets(&format!("campaign_id={id}")).await;
    let mine = tickets
        .iter()
        .find(|k| k["phone"] == phones[0].as_str())
        .unwrap_or_else(|| panic!("no ticket for the phone: {tickets:?}"));
    assert!(mine["replied_at"].is_string(), "{mine}");
    let k = t
        .get(&format!("/v1/tickets/{}", mine["id"].as_str().unwrap()))
        .await;
    assert_eq!(k.body["conversation"][0]["text"], "Ya pagué", "{}", k.body);

    // BAJA from the other phone: do-not-contact, its ticket closed opted_out.
    let got = stack
        .sim_post(
            "/_sim/inbound",
            json!({"provider":"gateway","sender":"DG-0042","from":phones[1],"text":"baja"}),
        )
        .await;
    assert_eq!(got["status"], 200, "{got}");
    let dnc = t.get("/v1/dnc").await;
    assert!(
        dnc.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["phone"] == phones[1].as_str()),
        "{}",
        dnc.body
    );
    let tickets = t.tickets(&format!("campaign_id={id}")).await;
    let other = tickets
        .iter()
        .find(|k| k["phone"] == phones[1].as_str())
        .unwrap();
    assert_eq!(other["close_reason"], "opted_out", "{other}");
}

#[tokio::test]
async fn statuses_kept_for_a_message_not_recorded_yet_are_all_taken_even_while_more_arrive() {
    use pregon::providers::inbound::StatusUpdate;
    use pregon::sending::MessageStatus;
    let stack = Stack::connect().await;
    let account = pregon::model::new_id("acc");
    let status = |i: usize| StatusUpdate {
        provider_message_id: "wamid.EARLY".into(),
        status: if i.is_multiple_of(2) {
            MessageStatus::Delivered
        } else {
            MessageStatus::Read
        },
        provider_status: format!("status {i}"),
        at: None,
        error_code: None,
        error_message: None,
        correlation: None,
    };
    // The webhook keeps 60 statuses while the sender takes what is there, again and again.
    let store = stack.store.clone();
    let acc = account.clone();
    let writer = tokio::spawn(async move {
        for i in 0..60 {
            store.keep_early_status(&acc, &status(i)).await.unwrap();
        }
    });
    let mut taken = Vec::new();
    while !writer.is_finished() {
        taken.extend(
            stack
                .store
                .take_early_statuses(&account, &["wamid.EARLY"])
                .await
                .unwrap(),
        );
    }
    writer.await.unwrap();
    taken.extend(
        stack
            .store
            .take_early_statuses(&account, &["wamid.EARLY"])
            .await
            .unwrap(),
    );
    let mut names: Vec<String> = taken.into_iter().map(|s| s.provider_status).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        60,
        "every kept status is taken once: {names:?}"
    );
}

/// A queue of the tenant's own, fed by a rule on the stack's event bus that matches
/// its `tenant_id` — as a tenant's integration would subscribe.
async fn subscribe_events(stack: &Stack, tenant: &str) -> String {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&shared)
            .endpoint_url(stack.info["endpoints"]["events"].as_str().unwrap())
            .build(),
    );
    let queue = stack
        .sqs
        .create_queue()
        .queue_name(format!("events-{tenant}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = stack
        .sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap();
    let bus = stack.info["event_bus"].as_str().unwrap();
    events
        .put_rule()
        .name(format!("to-{tenant}"))
        .event_bus_name(bus)
        .event_pattern(json!({"source": ["pregon"], "detail": {"tenant_id": [tenant]}}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(format!("to-{tenant}"))
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    queue
}

/// Reads the queue until `done` says enough has come (or 30 s).
async fn read_events(stack: &Stack, queue: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut all = Vec::new();
    while !done(&all) && Instant::now() < deadline {
        let got = stack
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for m in got.messages.unwrap_or_default() {
            all.push(serde_json::from_str::<Value>(m.body.as_deref().unwrap()).unwrap());
            stack
                .sqs
                .delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    all
}

#[tokio::test]
async fn statuses_replies_opt_outs_and_closes_are_published_to_eventbridge_with_their_shapes() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let queue = subscribe_events(&stack, &t.id).await;
    let phones: Vec<String> = vec!["+56963050001".into(), "+56963050002".into()];
    let (acc, id) = meta_campaign(&stack, &t, "155500051", &phones).await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ms = wait_all(&t, &id, "read", Duration::from_secs(60)).await;
    let url = acc["webhook_url"].as_str().unwrap().to_string();
    assert_eq!(
        post_meta_text(
            &stack,
            &url,
            "155500051",
            "56963050001",
            "wamid.events1",
            "BAJA"
        )
        .await,
        200
    );
    let of = |all: &[Value], kind: &str| -> Vec<Value> {
        all.iter()
            .filter(|e| e["detail-type"] == kind)
            .map(|e| e["detail"].clone())
            .collect()
    };
    let count = |all: &[Value], status: &str| {
        of(all, "Message Status Changed")
            .iter()
            .filter(|d| d["status"] == status)
            .count()
    };
    let all = read_events(&stack, &queue, |all| {
        of(all, "Ticket Closed").len() == 1 && count(all, "read") == 2 && count(all, "sent") == 2
    })
    .await;
    assert!(all.iter().all(|e| e["source"] == "pregon"), "{all:?}");
    let statuses = of(&all, "Message Status Changed");
    for m in &ms {
        let mine: Vec<&Value> = statuses
            .iter()
            .filter(|d| d["message_id"] == m["id"])
            .collect();
        let read: Vec<&&Value> = mine.iter().filter(|d| d["status"] == "read").collect();
        assert_eq!(read.len(), 1, "one read event per message: {mine:?}");
        // The send itself is announced too (from the sender's record, via the stream).
        let sent: Vec<&&Value> = mine.iter().filter(|d| d["status"] == "sent").collect();
        assert_eq!(sent.len(), 1, "one sent event per message: {mine:?}");
        assert_eq!(sent[0]["previous_status"], "pending", "{}", sent[0]);
        assert_eq!(read[0]["tenant_id"], t.id.as_str());
        assert_eq!(read[0]["campaign_id"], id.as_str());
        assert_eq!(read[0]["provider_message_id"], m["provider_message_id"]);
        assert!(read[0]["at"].is_string(), "{}", read[0]);
    }
    let replies = of(&all, "Reply Received");
    assert_eq!(replies.len(), 1, "{all:?}");
    assert_eq!(replies[0]["phone"], "+56963050001");
    assert_eq!(replies[0]["text"], "BAJA");
    assert_eq!(replies[0]["account_id"], acc["id"]);
    let out = of(&all, "Contact Opted Out");
    assert_eq!(out.len(), 1, "{all:?}");
    assert_eq!(out[0]["phone"], "+56963050001");
    let closed = of(&all, "Ticket Closed");
    assert_eq!(closed[0]["close_reason"], "opted_out");
    assert_eq!(closed[0]["ticket_id"], replies[0]["ticket_id"]);
}

#[tokio::test]
async fn one_callback_carrying_many_statuses_moves_each_message_forward_once() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let phones: Vec<String> = (0..4).map(|i| format!("+5696307{i:04}")).collect();
    // The simulator's own callbacks stay off for these numbers: this test posts them.
    stack
        .sim_post(
            "/_sim/rules",
            json!({"provider":"meta","recipient":"+5696307*","callbacks":{"drop":true}}),
        )
        .await;
    let (acc, id) = meta_campaign(&stack, &t, "155500071", &phones).await;
    let url = acc["webhook_url"].as_str().unwrap().to_string();
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ms = wait_all(&t, &id, "sent", Duration::from_secs(60)).await;
    let wamid = |i: usize| ms[i]["provider_message_id"].as_str().unwrap().to_string();
    let status = |i: usize, st: &str, ts: &str| {
        let mut s = json!({"id":wamid(i),"status":st,"timestamp":ts,"recipient_id":ms[i]["phone"].as_str().unwrap().trim_start_matches('+')});
        if st == "failed" {
            s["errors"] = json!([{"code":131026,"title":"Message undeliverable","message":"Message undeliverable"}]);
        }
        s
    };
    // One webhook POST, as Meta batches them: three messages delivered, one read
    // straight away, a message failed, and the same delivered twice.
    let body = json!({"object":"whatsapp_business_account","entry":[{"id":"waba","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"155500071"},
        "statuses":[status(0,"delivered","1763800001"), status(1,"delivered","1763800002"), status(1,"read","1763800003"),
                    status(2,"delivered","1763800004"), status(2,"delivered","1763800004"), status(3,"failed","1763800005")]}}]}]})
    .to_string();
    let sig = signature(APP_SECRET, body.as_bytes());
    assert_eq!(
        post_raw(&stack, &url, &body, &[("x-hub-signature-256", sig)]).await,
        200
    );
    let by_row = |all: &[Value], i: usize| -> Value {
        all.iter().find(|m| m["id"] == ms[i]["id"]).unwrap().clone()
    };
    let now = t.messages(&id).await;
    assert_eq!(by_row(&now, 0)["status"], "delivered");
    assert_eq!(by_row(&now, 1)["status"], "read");
    assert!(by_row(&now, 1)["delivered_at"].is_string() || by_row(&now, 1)["read_at"].is_string());
    assert_eq!(by_row(&now, 2)["status"], "delivered");
    assert_eq!(by_row(&now, 3)["status"], "failed");
    assert_eq!(
        by_row(&now, 3)["error_code"],
        "131026",
        "{}",
        by_row(&now, 3)
    );
    // The KPIs count each message once (the stream's tally): 3 delivered, 1 read, 1 bounced.
    let kpis = |s: &Value| {
        (
            s["delivered"].clone(),
            s["read"].clone(),
            s["bounced"].clone(),
        )
    };
    let want = (json!(3), json!(1), json!(1));
    let s = t
        .stats_when(&id, |s| kpis(s) == want, Duration::from_secs(10))
        .await;
    assert_eq!(kpis(&s), want, "{s}");
    // The same POST again (a provider's retry) changes nothing.
    let sig = signature(APP_SECRET, body.as_bytes());
    assert_eq!(
        post_raw(&stack, &url, &body, &[("x-hub-signature-256", sig)]).await,
        200
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s2 = t.get(&format!("/v1/campaigns/{id}/stats")).await.body;
    assert_eq!(kpis(&s2), want, "{s2}");
}

// Issue 19, item 2: Meta posts every number of an app to the app's one callback URL.
// With two tenants' accounts on one app, account B's statuses were kept as "early" and
// never applied, and B's customers' replies became A's tickets. Each change is routed
// by its `metadata.phone_number_id`; a number of no account on this app is ignored.
#[tokio::test]
async fn two_accounts_on_one_meta_app_each_get_their_own_statuses_and_replies() {
    let stack = Stack::connect().await;
    const SHARED: &str = "one-app-secret-for-two-tenants";
    let (ta, tb) = (stack.tenant().await, stack.tenant().await);
    let (a_number, b_number, stranger) = ("15550019001", "15550019002", "15550019009");
    let (account_a, _) = ta
        .meta_account_with_webhook(a_number, SHARED, "aviso_a", "Hola {{1}}")
        .await;
    let (account_b, tpl_b) = tb
        .meta_account_with_webhook(b_number, SHARED, "aviso_b", "Hola {{1}}")
        .await;
    let a_url = ta.get(&format!("/v1/accounts/{account_a}")).await.body["webhook_url"].clone();
    assert!(a_url.is_string(), "{a_url}");
    // The app's one URL (A's) receives B's number too, and a number nobody here has.
    for number in [b_number, stranger] {
        stack
            .sim_post(
                "/_sim/webhooks",
                json!({"provider":"meta","sender":number,"url":a_url,"app_secret":SHARED}),
            )
            .await;
    }
    let phones: Vec<String> = (0..2).map(|i| format!("+5696919{i:04}")).collect();
    let id = tb
        .loaded_campaign("whatsapp", &account_b, &tpl_b, &phones)
        .await;
    let r = tb
        .post(&format!("/v1/campaigns/{id}/send"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    tb.wait_end(&id, Duration::from_secs(60)).await;
    // B's statuses, posted to A's URL, reach B's messages.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let messages = tb.messages(&id).await;
        if messages.iter().all(|m| m["status"] == "read") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "statuses never applied: {messages:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A customer of B's number writes: the ticket is B's tenant's, not A's.
    let from = "+56969190099";
    let r = stack
        .sim_post(
            "/_sim/inbound",
            json!({"provider":"meta","sender":b_number,"from":from,"text":"hola"}),
        )
        .await;
    assert_eq!(r["status"], 200, "{r}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let theirs = tb.tickets("status=open").await;
        if let Some(k) = theirs.iter().find(|k| k["phone"] == from) {
            assert_eq!(k["account_id"], account_b.as_str(), "{k}");
            break;
        }
        assert!(Instant::now() < deadline, "no ticket for B: {theirs:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A number of no account on this app: answered, never applied.
    let r = stack
        .sim_post(
            "/_sim/inbound",
            json!({"provider":"meta","sender":stranger,"from":"+56969190098","text":"hola"}),
        )
        .await;
    assert_eq!(r["status"], 200, "{r}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mine = ta.tickets("").await;
    assert!(
        mine.iter()
            .all(|k| k["phone"] != from && k["phone"] != "+56969190098"),
        "A got another number's customers: {mine:?}"
    );
}

// Issue 19, item 5: inbound deduplication was check-then-act; two identical signed
// inbound POSTs at the same time opened two tickets.
#[tokio::test]
async fn two_identical_inbound_posts_at_once_open_one_ticket_with_one_entry() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let sender = "155500039";
    let (acc, _) = meta_campaign(&stack, &t, sender, &["+56963390001".to_string()]).await;
    let url = acc["webhook_url"].as_str().unwrap().to_string();
    let from = "56963390099";
    let wamid = "wamid.DUPLICATE0000000000000000000001";
    for round in 0..3 {
        let (a, b) = tokio::join!(
            post_meta_text(&stack, &url, sender, from, wamid, "hola"),
            post_meta_text(&stack, &url, sender, from, wamid, "hola"),
        );
        // One takes it in; the other is a repeat, or, while the first is still at it,
        // kept on the inbound retry queue and applied from there: 200 either way.
        assert_eq!((a, b), (200, 200), "round {round}");
    }
    // (What was kept is applied within a second or two, and changes nothing more.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    let phone = format!("+{from}");
    let mine: Vec<Value> = t
        .tickets("")
        .await
        .into_iter()
        .filter(|k| k["phone"] == phone.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let k = t
        .get(&format!("/v1/tickets/{}", mine[0]["id"].as_str().unwrap()))
        .await
        .body;
    let entries = k["conversation"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "{k}");
}
