//! SPEC §5, §9, §10 on the local stack, where things go wrong: sender processes killed
//! in the middle of a campaign, and an SMS gateway's ports taken in turn. These tests
//! kill real processes of the stack, so they live in their own test binary (cargo runs
//! test binaries one after another) and use providers no other test here sends through.

use pregon_tests::{Stack, Tenant};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// An SMS account of `provider`, an SMS template with one parameter and a loaded campaign
/// of `phones` (row 2 is the first phone).
async fn sms_campaign(t: &Tenant<'_>, account: Value, phones: &[String]) -> String {
    let acc = t.post("/v1/accounts", account).await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let tpl = t
        .post("/v1/templates", json!({"name":"recordatorio","channel":"sms","body":"Hola {{1}}, te recordamos tu cita"}))
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let (account, template) = (
        acc.body["id"].as_str().unwrap(),
        tpl.body["id"].as_str().unwrap(),
    );
    t.loaded_campaign("sms", account, template, phones).await
}

/// How many times the simulator accepted a message for each of `phones`.
async fn accepted(stack: &Stack, phones: &[String]) -> HashMap<String, u64> {
    let stats = stack.sim_get("/_sim/stats").await;
    phones
        .iter()
        .map(|p| {
            let n = stats["accepted_by_recipient"][p].as_u64().unwrap_or(0);
            (p.clone(), n)
        })
        .collect()
}

/// An SMS campaign on its own Twilio number (`sender`), created with `extra` settings.
async fn twilio_campaign(t: &Tenant<'_>, sender: &str, phones: &[String], extra: Value) -> String {
    let acc = t
        .post(
            "/v1/accounts",
            json!({"provider":"twilio","channel":"sms","sender":sender,"default_country":"CL",
            "rate":10,"credentials":{"account_sid":"AC_resilience","auth_token":"tok"}}),
        )
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let tpl = t
        .post("/v1/templates", json!({"name":"recordatorio","channel":"sms","body":"Hola {{1}}, te recordamos tu cita"}))
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let (account, template) = (
        acc.body["id"].as_str().unwrap(),
        tpl.body["id"].as_str().unwrap(),
    );
    t.loaded_campaign_with("sms", account, template, phones, extra)
        .await
}

/// Waits until a campaign leaves `sending`; panics with what is unfinished after `within`.
async fn wait_end(
    stack: &Stack,
    t: &Tenant<'_>,
    id: &str,
    phones: &[String],
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
        if c["status"] != "sending" {
            return c;
        }
        if Instant::now() > deadline {
            let stuck: Vec<Value> = t
                .messages(id)
                .await
                .into_iter()
                .filter(|m| m["status"] == "pending" || m["status"] == "queued")
                .collect();
            let counts = accepted(stack, phones).await;
            let seen: Vec<u64> = stuck
                .iter()
                .map(|m| counts[m["phone"].as_str().unwrap()])
                .collect();
            panic!(
                "still sending: {}; unfinished: {stuck:?}; accepted for them: {seen:?}",
                c["progress"]
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// A fault test (also alone: `make test-crash`): it kills every Twilio sender process of
// the stack and waits out the 120 s visibility timeout. No other test of this file
// sends through Twilio, and test files run one after another. (`make test` gives the
// provider `UnreportedWaitSeconds=15` to report a message whose answer was lost.)
#[tokio::test]
async fn senders_killed_mid_campaign_never_send_twice_and_the_campaign_still_ends() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    // Two campaigns on two numbers: one leaves a lost answer that Twilio never reported
    // `not_sent`, the other (`resend_unreported`) sends it once more.
    let keep: Vec<String> = (0..60).map(|i| format!("+5696301{i:04}")).collect();
    let again: Vec<String> = (0..60).map(|i| format!("+5696303{i:04}")).collect();
    let keep_id = twilio_campaign(&t, "+15550003333", &keep, json!({})).await;
    let again_id = twilio_campaign(
        &t,
        "+15550003334",
        &again,
        json!({"resend_unreported": true}),
    )
    .await;
    for id in [&keep_id, &again_id] {
        let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    // Once some of each have gone, every Twilio sender instance dies at once (SIGKILL:
    // no clean-up, claims held, answers unrecorded).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (a, b) = (
            accepted(&stack, &keep).await,
            accepted(&stack, &again).await,
        );
        if a.values().sum::<u64>() >= 10 && b.values().sum::<u64>() >= 10 {
            break;
        }
        assert!(Instant::now() < deadline, "nothing was sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pids = stack.function_pids("TwilioSenderFunction");
    assert!(!pids.is_empty(), "no Twilio sender process found");
    for pid in &pids {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let at_kill: u64 = accepted(&stack, &keep).await.values().sum::<u64>()
        + accepted(&stack, &again).await.values().sum::<u64>();

    // The killed invocations' jobs come back after the queue's visibility timeout
    // (120 s); new instances take them.
    let within = Duration::from_secs(300);
    let keep_done = wait_end(&stack, &t, &keep_id, &keep, within).await;
    let again_done = wait_end(&stack, &t, &again_id, &again, within).await;

    // Without resend: every message the provider took ends with what it reported
    // (Twilio calls back for each), exactly once; a message whose call never reached
    // Twilio ends `not_sent`, never re-sent on a guess.
    assert!(
        ["completed", "completed_with_errors"].contains(&keep_done["status"].as_str().unwrap()),
        "{keep_done}"
    );
    let counts = accepted(&stack, &keep).await;
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let messages = t.messages(&keep_id).await;
    assert_eq!(messages.len(), 60);
    let mut not_sent = 0;
    for m in &messages {
        let phone = m["phone"].as_str().unwrap();
        match m["status"].as_str().unwrap() {
            "sent" | "delivered" => assert_eq!(counts[phone], 1, "{m}"),
            "failed" => {
                assert_eq!(m["error_code"], "not_sent", "{m}");
                assert_eq!(
                    counts[phone], 0,
                    "reported as not sent, but Twilio took it: {m}"
                );
                not_sent += 1;
            }
            other => panic!("message left {other}: {m}"),
        }
    }
    assert_eq!(
        keep_done["progress"]["sent"].as_u64().unwrap()
            + keep_done["progress"]["failed"].as_u64().unwrap(),
        60,
        "{keep_done}"
    );
    // With resend: each recipient reached exactly once, the lost ones on a second try.
    assert_eq!(again_done["status"], "completed", "{again_done}");
    let counts = accepted(&stack, &again).await;
    let messages = t.messages(&again_id).await;
    let mut resent = 0;
    for m in &messages {
        let phone = m["phone"].as_str().unwrap();
        assert!(
            ["sent", "delivered"].contains(&m["status"].as_str().unwrap()),
            "{m}"
        );
        assert_eq!(counts[phone], 1, "{m}");
        resent += m["resent"].as_bool().unwrap() as u32;
    }
    let total: u64 =
        accepted(&stack, &keep).await.values().sum::<u64>() + counts.values().sum::<u64>();
    assert!(total > at_kill, "nothing was sent after the restart");
    eprintln!("killed {} senders at {at_kill} accepted: {not_sent} not_sent without resend, {resent} resent with it", pids.len());
}

#[tokio::test]
async fn a_gateway_campaign_takes_the_ports_in_turn() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let phones: Vec<String> = (0..10).map(|i| format!("+5696302{i:04}")).collect();
    let account = json!({"provider":"sms_gateway","channel":"sms","sender":"gw-resilience","default_country":"CL",
        "rate":20,"ports":"0-3","credentials":{"url":stack.sim(),"user":"admin","password":"pw"}});
    let id = sms_campaign(&t, account, &phones).await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");

    // The simulator records the port each message went out on; the sheet's order
    // decides it: rows 2, 3, 4, 5, 6 … on ports 0, 1, 2, 3, 0 …
    let sent = stack.sim_get("/_sim/messages?provider=gateway").await;
    let port_of: HashMap<String, u64> = sent
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            Some((
                m["recipient"].as_str()?.to_string(),
                m["content"]["port"].as_u64().or(m["port"].as_u64())?,
            ))
        })
        .collect();
    for (i, p) in phones.iter().enumerate() {
        assert_eq!(port_of.get(p), Some(&(i as u64 % 4)), "row {} ({p})", i + 2);
    }
}

#[tokio::test]
async fn a_campaign_whose_counters_a_crash_left_short_still_ends_with_the_right_counts() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let phones: Vec<String> = (0..20).map(|i| format!("+5696307{i:04}")).collect();
    let account = json!({"provider":"sms_gateway","channel":"sms","sender":"gw-counters","default_country":"CL",
        "rate":5,"ports":"0-1","credentials":{"url":stack.sim(),"user":"admin","password":"pw"}});
    let id = sms_campaign(&t, account, &phones).await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // What a sender killed between its records and its counter write leaves behind:
    // three messages recorded `sent` that the counters never saw.
    let lost = pregon::model::Progress {
        sent: -3,
        queued: 3,
        ..Default::default()
    };
    stack
        .store
        .add_progress(&t.id, &id, 0, &lost)
        .await
        .unwrap();

    // Every message goes out in about 4 s; the counters then still say 3 are missing,
    // until dispatch's watch sees them stand still and counts the messages.
    // (The watch trusts a count only of messages quiet for 90 s: about 2 minutes.)
    let done = t.wait_end(&id, Duration::from_secs(200)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"]["sent"], 20, "{done}");
    assert_eq!(done["progress"]["queued"], 0, "{done}");
    let counts = accepted(&stack, &phones).await;
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}
