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

// A fault test (also alone: `make test-crash`): it kills every Twilio sender process of
// the stack and waits out the 120 s visibility timeout. No other test of this file
// sends through Twilio, and test files run one after another.
#[tokio::test]
async fn senders_killed_mid_campaign_never_send_twice_and_the_campaign_still_ends() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let phones: Vec<String> = (0..60).map(|i| format!("+5696301{i:04}")).collect();
    let account = json!({"provider":"twilio","channel":"sms","sender":"+15550003333","default_country":"CL",
        "rate":10,"credentials":{"account_sid":"AC_resilience","auth_token":"tok"}});
    let id = sms_campaign(&t, account, &phones).await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Once some have gone, every Twilio sender instance dies at once (SIGKILL: no
    // clean-up, claims held, answers unrecorded).
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted(&stack, &phones).await.values().sum::<u64>() < 10 {
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
    let at_kill: u64 = accepted(&stack, &phones).await.values().sum();

    // The killed invocations' jobs come back after the queue's visibility timeout
    // (120 s); new instances take them.
    let deadline = Instant::now() + Duration::from_secs(300);
    let done = loop {
        let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
        if c["status"] != "sending" {
            break c;
        }
        if Instant::now() > deadline {
            let stuck: Vec<Value> = t
                .messages(&id)
                .await
                .into_iter()
                .filter(|m| m["status"] == "pending" || m["status"] == "queued")
                .collect();
            let counts = accepted(&stack, &phones).await;
            let seen: Vec<u64> = stuck
                .iter()
                .map(|m| counts[m["phone"].as_str().unwrap()])
                .collect();
            panic!("still sending: {} (killed {pids:?} at {at_kill} accepted); unfinished: {stuck:?}; accepted for them: {seen:?}", c["progress"]);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        ["completed", "completed_with_errors"].contains(&done["status"].as_str().unwrap()),
        "{done}"
    );
    let counts = accepted(&stack, &phones).await;
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let messages = t.messages(&id).await;
    assert_eq!(messages.len(), 60);
    for m in &messages {
        let phone = m["phone"].as_str().unwrap();
        match m["status"].as_str().unwrap() {
            // Sent, and maybe already confirmed by Twilio's status callback (which also
            // settles a message whose sender died after Twilio took it).
            "sent" | "delivered" => assert_eq!(counts[phone], 1, "{m}"),
            // Its sender died between the call and the record: never re-sent on a guess.
            "failed" => assert_eq!(m["error_code"], "outcome_unknown", "{m}"),
            other => panic!("message left {other}: {m}"),
        }
    }
    let total: u64 = counts.values().sum();
    assert!(total > at_kill, "nothing was sent after the restart");
    assert_eq!(
        done["progress"]["sent"].as_u64().unwrap() + done["progress"]["failed"].as_u64().unwrap(),
        60,
        "{done}"
    );
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
    let lost = pregon_aws::messages::Progress {
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
