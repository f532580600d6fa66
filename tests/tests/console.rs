//! The web console in a real browser: `console/tests/console.mjs` (Node, playwright-core
//! and Debian's Chromium, installed by setup) drives the console the local stack serves
//! at `{api}/console/`, logged in with this tenant's keys. It walks what a supervisor
//! does: log in (a wrong key refused with the API's message); list, filter and search
//! campaigns; create a provider account, a WhatsApp template that the simulated
//! provider approves, and an SMS template; save settings; create a campaign on them,
//! download its sheet, upload an XLSX with two bad rows and read the problems table,
//! drop the fixed file and see it `loaded`, schedule and unschedule it, send it and
//! watch it reach `completed` with the KPIs after the provider's callbacks, draw it over
//! time and in the analytics, download its results; answer, attend and close a
//! customer's message; send a template to a WhatsApp conversation whose window has
//! closed; add to and upload the do-not-contact list; switch language, check 360 px and
//! a read-only key's greyed-out actions, sign out; axe-core on each screen. This test
//! prepares what the console cannot make: campaigns to list, a customer's message, a
//! sent WhatsApp campaign, the spreadsheets, a read-only key. Screenshots land in
//! `.cache/console/`.

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
    let _ = template;
    // The supervisor's spreadsheets (phone, the template's one parameter, a `rut`
    // metadata column): first with two bad rows, then fixed.
    let files = tempfile::tempdir().unwrap();
    let bad = files.path().join("cobranza-enero.xlsx");
    let good = files.path().join("cobranza-enero-corregida.xlsx");
    let rows = |third: &str, fifth: &str| {
        vec![
            ["phone", "param_1", "rut"].map(String::from),
            ["+56964660001", "Ana", "11.111.111-1"].map(String::from),
            [third, "Beto", "22.222.222-2"].map(String::from),
            ["+56964660003", "Carla", "33.333.333-3"].map(String::from),
            ["+56964660004", fifth, "44.444.444-4"].map(String::from),
            ["+56964660005", "Diego", "55.555.555-5"].map(String::from),
        ]
    };
    xlsx(&bad, &rows("12345", ""));
    xlsx(&good, &rows("+56964660002", "Elena"));
    // A customer writes first: an inbound ticket for the inbox.
    let said = json!({"provider": "twilio", "sender": "+15550009701",
        "from": "+56964670001", "text": "Hola, ¿cuánto debo?"});
    assert_eq!(stack.sim_post("/_sim/inbound", said).await["status"], 200);
    t.ticket_for("+56964670001").await;
    // A WhatsApp campaign that waits for replies: its ticket has no customer message,
    // so only a template reaches them (the console offers the template send).
    let (meta, cuota) = t
        .meta_account_with_webhook(
            "15550009704",
            "console-app-secret",
            "recordatorio_cuota",
            "Hola {{1}}, tu cuota vence mañana",
        )
        .await;
    let whatsapp = t
        .loaded_campaign_with(
            "whatsapp",
            &meta,
            &cuota,
            &["+56964670006".to_string()],
            json!({"name": "Cuotas WhatsApp", "wait_for_reply_hours": 2, "department": "cobranza"}),
        )
        .await;
    let sent = t
        .post(&format!("/v1/campaigns/{whatsapp}/send"), json!({}))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    t.wait_end(&whatsapp, std::time::Duration::from_secs(60))
        .await;
    t.ticket_for("+56964670006").await;
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
        .env("PREGON_BAD_XLSX", &bad)
        .env("PREGON_GOOD_XLSX", &good)
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

/// A workbook of text cells, as a supervisor's Excel saves it.
fn xlsx(path: &std::path::Path, rows: &[[String; 3]]) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, cell).unwrap();
            }
        }
    }
    book.save(path).unwrap();
}
