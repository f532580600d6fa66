//! The web console in a real browser: `console/tests/console.mjs` (Node, playwright-core
//! and Debian's Chromium, installed by setup) drives the console the local stack serves
//! at `{api}/console/`, logged in with this tenant's keys: the login screen, a wrong key
//! refused with the API's message, the campaigns list with its filters and search, a
//! loaded campaign sent from its page (asked twice, progress live to `completed`, the
//! KPIs after the provider's callbacks), a customer's message answered, attended and
//! closed from the inbox, a number put on the do-not-contact list, the two languages, 360 px, a read-only key's
//! greyed-out actions, sign-out, and axe-core's accessibility check on each screen.
//! Screenshots land in `.cache/console/`.

use pregon_tests::Stack;
use serde_json::json;
use std::path::PathBuf;

#[tokio::test]
async fn the_console_logs_in_lists_campaigns_sends_one_and_shows_only_what_the_key_allows() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, template) = t.twilio_sms("+15550009701", "AC_console").await;
    for name in ["Cobranza diciembre", "Recordatorio de pago"] {
        let c = t
            .post(
                "/v1/campaigns",
                json!({"name": name, "channel": "sms", "account_id": account,
                    "template_id": template, "consent_confirmed": true}),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.body);
    }
    // One loaded, to send from its page.
    let phones: Vec<String> = (0..5).map(|i| format!("+5696466{i:04}")).collect();
    t.loaded_campaign_with(
        "sms",
        &account,
        &template,
        &phones,
        json!({"name": "Envío de prueba"}),
    )
    .await;
    // A customer writes first: an inbound ticket for the inbox.
    let said = json!({"provider": "twilio", "sender": "+15550009701",
        "from": "+56964670001", "text": "Hola, ¿cuánto debo?"});
    assert_eq!(stack.sim_post("/_sim/inbound", said).await["status"], 200);
    t.ticket_for("+56964670001").await;
    let read = t
        .post(
            "/v1/keys",
            json!({"name": "solo lectura", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(read.status, 201, "{}", read.body);

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tokio::process::Command::new("node")
        .arg(root.join("console/tests/console.mjs"))
        .env("PREGON_CONSOLE_URL", stack.api("/console/"))
        .env("PREGON_API_KEY", &t.key)
        .env("PREGON_READ_KEY", read.body["key"].as_str().unwrap())
        .env("PREGON_SHOTS", root.join(".cache/console"))
        .output()
        .await
        .expect("node runs (the console's tests need Node and setup's npm packages)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{said}");
    assert!(out.status.success(), "the browser tests failed:\n{said}");
}
