//! Results download (SPEC §7) on the local stack: offered once the campaign has ended
//! (409 naming the state before; an invalid campaign points to its problem report),
//! built by the results function, CSV and XLSX read back with every column, rows in
//! spreadsheet order, and a formula-like cell written as text.

use calamine::{Data, Reader};
use pregon_tests::{Stack, Tenant};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Asks until the file is ready; its bytes and the answer.
async fn download(stack: &Stack, t: &Tenant<'_>, id: &str, format: &str) -> (Vec<u8>, Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = t
        .get(&format!("/v1/campaigns/{id}/results?format={format}"))
        .await;
    assert_eq!(
        first.status, 202,
        "the first request starts a build: {}",
        first.body
    );
    assert_eq!(first.body["status"], "building");
    loop {
        let r = t
            .get(&format!("/v1/campaigns/{id}/results?format={format}"))
            .await;
        if r.status == 200 {
            assert_eq!(r.body["status"], "ready");
            let bytes = stack
                .http
                .get(r.body["url"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert!(bytes.status().is_success(), "{}", bytes.status());
            return (bytes.bytes().await.unwrap().to_vec(), r.body);
        }
        assert_eq!(r.status, 202, "{}", r.body);
        assert!(Instant::now() < deadline, "the results were never built");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn results_come_as_csv_and_xlsx_once_the_campaign_has_ended_with_formulas_as_text() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let acc = t
        .post("/v1/accounts", json!({"provider":"twilio","channel":"sms","sender":"+15550007201","default_country":"CL","rate":20,
            "credentials":{"account_sid":"AC_results","auth_token":"tok"}}))
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":"saldo","channel":"sms","body":"Hola {{1}}, su saldo es {{2}}"}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let c = t
        .post(
            "/v1/campaigns",
            json!({"name":"Saldos","channel":"sms","account_id":acc.body["id"],
            "template_id":tpl.body["id"],"consent_confirmed":true}),
        )
        .await;
    let id = c.body["id"].as_str().unwrap().to_string();
    // Rows 2–21; row 3 carries a formula-like parameter, row 4 one starting with @.
    let mut csv = String::from("phone,nombre,saldo\n");
    for i in 0..20 {
        let name = match i {
            1 => "=HYPERLINK(\"http://x\",\"pagar\")".to_string(),
            2 => "@SUM(1)".to_string(),
            _ => format!("Cliente {i}"),
        };
        csv.push_str(&format!(
            "+5696520{i:04},\"{}\",${i}.000\n",
            name.replace('"', "\"\"")
        ));
    }
    let loaded = t.upload(&id, csv.into_bytes()).await;
    assert_eq!(loaded["status"], "loaded", "{loaded}");
    let early = t.get(&format!("/v1/campaigns/{id}/results")).await;
    assert_eq!(early.status, 409, "{}", early.body);
    assert!(
        early.body["message"].as_str().unwrap().contains("loaded"),
        "{}",
        early.body
    );

    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    // Twilio's status callbacks settle every message `delivered` first, so the file
    // and the listing below see the same statuses.
    let deadline = Instant::now() + Duration::from_secs(30);
    let messages = loop {
        let ms = t.messages(&id).await;
        if ms.iter().all(|m| m["status"] == "delivered") {
            break ms;
        }
        assert!(
            Instant::now() < deadline,
            "callbacks did not settle: {ms:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };

    // CSV: the SPEC §7 columns, then the parameters; one row per message, in order.
    let (bytes, answer) = download(&stack, &t, &id, "csv").await;
    assert_eq!(answer["rows"], 20, "{answer}");
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut want: Vec<String> = pregon::model::RESULTS_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.extend(["param_1".to_string(), "param_2".to_string()]);
    assert_eq!(header, want);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 20);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(&r[0], id.as_str());
        assert_eq!(
            &r[1],
            (i + 2).to_string().as_str(),
            "rows in spreadsheet order"
        );
        let m = messages
            .iter()
            .find(|m| m["phone"] == r[2].trim_start_matches('\''))
            .expect("a listed message");
        assert_eq!(&r[3], m["status"].as_str().unwrap());
        assert_eq!(&r[7], m["provider_message_id"].as_str().unwrap());
    }
    assert_eq!(
        &rows[1][13], "'=HYPERLINK(\"http://x\",\"pagar\")",
        "a formula-like cell is text"
    );
    assert_eq!(&rows[2][13], "'@SUM(1)");
    assert_eq!(&rows[0][14], "$0.000");

    // XLSX: the same, every cell a string (no formula anywhere).
    let (bytes, answer) = download(&stack, &t, &id, "xlsx").await;
    assert_eq!(answer["rows"], 20, "{answer}");
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).unwrap();
    assert_eq!(range.height(), 21);
    let cell = |r: usize, c: usize| range.get((r, c)).cloned().unwrap_or(Data::Empty);
    assert_eq!(cell(0, 4), Data::String("ticket_id".into()));
    // String cells: shown as the text they are, never run.
    assert_eq!(
        cell(2, 13),
        Data::String("=HYPERLINK(\"http://x\",\"pagar\")".into())
    );
    assert_eq!(cell(1, 2), Data::String("+56965200000".into()));
    assert_eq!(cell(21 - 1, 1), Data::String("21".into()));
    let formulas = book.worksheet_formula(&sheet).unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no formulas in the file"
    );

    // A second request while the file is fresh is served at once.
    let again = t
        .get(&format!("/v1/campaigns/{id}/results?format=csv"))
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let bad = t
        .get(&format!("/v1/campaigns/{id}/results?format=pdf"))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[tokio::test]
async fn an_invalid_campaign_offers_its_problem_report_instead() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    let done = t
        .upload(id, b"phone,p1,p2\nnot a phone,Ana,1\n".to_vec())
        .await;
    assert_eq!(done["status"], "invalid", "{done}");
    let r = t.get(&format!("/v1/campaigns/{id}/results")).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["report_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{}",
        r.body
    );
}

/// The report emails moto's SES took for this address: each one's raw MIME text.
async fn emails_to(stack: &Stack, address: &str) -> Vec<String> {
    let url = format!(
        "{}/moto-api/data.json",
        stack.info["endpoints"]["ses"].as_str().unwrap()
    );
    let data: Value = stack
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["destinations"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d.as_str() == Some(address)))
        })
        .map(|m| m["raw_data"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Polls the campaign until its report email has an outcome.
/// The tests that run the closer at a time of their choosing take turns: a run in the
/// future closes (and reports) every tenant's due items, another test's too.
static CLOSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn report_outcome(t: &Tenant<'_>, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
        if matches!(c["report_email_status"].as_str(), Some("sent" | "failed")) {
            return c;
        }
        assert!(Instant::now() < deadline, "no report email outcome: {c}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn sms_setup(t: &Tenant<'_>, sender: &str) -> (String, String) {
    let acc = t
        .post("/v1/accounts", json!({"provider":"twilio","channel":"sms","sender":sender,"default_country":"CL","rate":20,
            "credentials":{"account_sid":"AC_report","auth_token":"tok"}}))
        .await;
    assert_eq!(acc.status, 201, "{}", acc.body);
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":"aviso","channel":"sms","body":"Hola {{1}}"}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    (
        acc.body["id"].as_str().unwrap().to_string(),
        tpl.body["id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn the_report_email_goes_once_after_the_last_ticket_closes_with_the_stats_and_the_file() {
    let _turn = CLOSER.lock().await;
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (acc, tpl) = sms_setup(&t, "+15550007301").await;
    let address = format!("jefa+{}@empresa.cl", t.id.to_lowercase());
    let phones: Vec<String> = (0..3).map(|i| format!("+5696530{i:04}")).collect();
    let id = t
        .loaded_campaign_with(
            "sms",
            &acc,
            &tpl,
            &phones,
            json!({"wait_for_reply_hours": 1, "report_email": address}),
        )
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !t
        .messages(&id)
        .await
        .iter()
        .all(|m| m["status"] == "delivered")
    {
        assert!(Instant::now() < deadline, "callbacks did not settle");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let s = t
        .stats_when(&id, |s| s["delivered"] == 3, Duration::from_secs(10))
        .await;
    assert_eq!(
        s["delivered"], 3,
        "the stats did not count the deliveries: {s}"
    );

    // Ended, but its three tickets are open for an hour: no report yet.
    let now = time::OffsetDateTime::now_utc();
    stack.run_schedule("CloserFunction", &rfc3339(now)).await;
    let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
    assert!(c["report_email_status"].is_null(), "{c}");
    assert!(emails_to(&stack, &address).await.is_empty());

    // Two hours on: the tickets close `no_reply`, and the same run asks for the report.
    let later = rfc3339(now + time::Duration::hours(2));
    stack.run_schedule("CloserFunction", &later).await;
    let c = report_outcome(&t, &id).await;
    assert_eq!(c["report_email_status"], "sent", "{c}");
    let mails = emails_to(&stack, &address).await;
    assert_eq!(mails.len(), 1, "one email");
    let raw = &mails[0];
    assert!(raw.contains("reports@pregon.local"), "from the sender");
    // The stats table: 3 sent, all delivered.
    let plain = raw.replace("=\r\n", "").replace("=\n", "");
    assert!(plain.contains("delivery rate"), "{raw}");
    assert!(plain.contains("100.0 %"), "{raw}");
    assert!(plain.contains("no_reply 3"), "{raw}");
    // The results file, attached: an XLSX with a header and the three messages.
    // (lettre names it in RFC 2231 form: `filename*0="…"`.)
    let name = format!("=\"results-{id}.xlsx\"");
    let at = raw
        .find(&name)
        .unwrap_or_else(|| panic!("the file is attached: {raw}"));
    let part = &raw[at..];
    let start = part.find("\r\n\r\n").map(|i| i + 4).expect("part body");
    let end = part[start..].find("\r\n--").expect("part end") + start;
    let b64: String = part[start..end].split_whitespace().collect();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).unwrap();
    assert_eq!(range.height(), 4);
    assert_eq!(
        range.get((1, 3)).cloned(),
        Some(Data::String("delivered".into()))
    );

    // Later runs send nothing more.
    let later = rfc3339(now + time::Duration::hours(3));
    stack.run_schedule("CloserFunction", &later).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(emails_to(&stack, &address).await.len(), 1, "sent once");
}

#[tokio::test]
async fn a_report_from_an_unverified_sender_is_recorded_failed_with_ses_reason() {
    let _turn = CLOSER.lock().await;
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    // The operator approved the address for this tenant; SES has not verified it.
    let r = operator(
        &stack,
        reqwest::Method::PUT,
        &format!(
            "/v1/admin/tenants/{}/report-senders/cobranzas%40unverified.example",
            t.id
        ),
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let s = t
        .call(
            reqwest::Method::PATCH,
            "/v1/settings",
            Some(json!({"report_sender": "cobranzas@unverified.example"})),
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["report_sender"], "cobranzas@unverified.example");
    let bad = t
        .call(
            reqwest::Method::PATCH,
            "/v1/settings",
            Some(json!({"report_sender": "not an address"})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let (acc, tpl) = sms_setup(&t, "+15550007302").await;
    let address = format!("jefe+{}@empresa.cl", t.id.to_lowercase());
    let phones: Vec<String> = (0..2).map(|i| format!("+5696531{i:04}")).collect();
    // Informative: its tickets are born closed; the report waits a few minutes for the
    // first statuses.
    let id = t
        .loaded_campaign_with("sms", &acc, &tpl, &phones, json!({"report_email": address}))
        .await;
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let now = time::OffsetDateTime::now_utc();
    stack.run_schedule("CloserFunction", &rfc3339(now)).await;
    let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
    assert!(c["report_email_status"].is_null(), "{c}");

    let later = rfc3339(now + time::Duration::minutes(10));
    stack.run_schedule("CloserFunction", &later).await;
    let c = report_outcome(&t, &id).await;
    assert_eq!(c["report_email_status"], "failed", "{c}");
    let why = c["report_email_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("MessageRejected") && why.contains("cobranzas@unverified.example"),
        "SES's reason: {c}"
    );
    assert!(emails_to(&stack, &address).await.is_empty());
}

async fn patch(t: &Tenant<'_>, from: &str) -> pregon_tests::Reply {
    t.call(
        reqwest::Method::PATCH,
        "/v1/settings",
        Some(json!({"report_sender": from})),
    )
    .await
}

/// A request to the operator's routes with the local stack's operator key.
async fn operator(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let key = stack.info["admin_key"]
        .as_str()
        .expect("the stack's operator key");
    let mut req = stack.http.request(method, stack.api(path)).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

// Issue 19, item 1: any tenant could send DKIM-signed report mail from the operator's
// or another tenant's address, without limit. Now only an address the operator
// approved for that tenant, and a daily quota per tenant.
#[tokio::test]
async fn reports_come_only_from_addresses_the_operator_approved_and_within_the_daily_quota() {
    let _turn = CLOSER.lock().await;
    let stack = Stack::connect().await;
    let (t, other) = (stack.tenant().await, stack.tenant().await);
    let own = format!("avisos-{}@empresa.cl", t.id.to_lowercase());
    // Not approved: refused, naming the field.
    let r = patch(&t, &own).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "report_sender", "{}", r.body);
    // A tenant's key never opens the operator's routes.
    let as_tenant = t
        .call(
            reqwest::Method::PUT,
            &format!("/v1/admin/tenants/{}/report-senders/x%40y.cl", t.id),
            None,
        )
        .await;
    assert_eq!(as_tenant.status, 401, "{}", as_tenant.body);
    // The operator approves it for this tenant only.
    let path = format!(
        "/v1/admin/tenants/{}/report-senders/{}",
        t.id,
        own.replace('@', "%40")
    );
    let (s, b) = operator(&stack, reqwest::Method::PUT, &path, None).await;
    assert_eq!(s, 200, "{b}");
    let r = patch(&t, &own).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = patch(&other, &own).await;
    assert_eq!(r.status, 400, "another tenant may not use it: {}", r.body);
    let (s, b) = operator(
        &stack,
        reqwest::Method::GET,
        &format!("/v1/admin/tenants/{}/report-senders", t.id),
        None,
    )
    .await;
    assert_eq!((s, b["items"].clone()), (200, json!([own])), "{b}");
    // Revoked: the tenant's reports come from the deployment's sender again.
    let (s, _) = operator(&stack, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(s, 204);
    let (s, _) = operator(&stack, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(s, 404);

    // One report email a day for this tenant: the second campaign's report fails with
    // the quota as its reason, and nothing more is sent.
    let (s, b) = operator(
        &stack,
        reqwest::Method::PUT,
        &format!("/v1/admin/tenants/{}/limits", t.id),
        Some(json!({"report_emails_per_day": 1})),
    )
    .await;
    assert_eq!(
        (s, b["report_emails_per_day"].clone()),
        (200, json!(1)),
        "{b}"
    );
    let (acc, tpl) = sms_setup(&t, "+15550007303").await;
    let address = format!("jefe+{}@empresa.cl", t.id.to_lowercase());
    let mut outcomes = Vec::new();
    for n in 0..2 {
        let phones = vec![format!("+569653200{n}0")];
        let id = t
            .loaded_campaign_with("sms", &acc, &tpl, &phones, json!({"report_email": address}))
            .await;
        let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        t.wait_end(&id, Duration::from_secs(60)).await;
        let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(10);
        stack.run_schedule("CloserFunction", &rfc3339(later)).await;
        outcomes.push(report_outcome(&t, &id).await);
    }
    assert_eq!(
        outcomes[0]["report_email_status"], "sent",
        "{}",
        outcomes[0]
    );
    assert_eq!(
        outcomes[1]["report_email_status"], "failed",
        "{}",
        outcomes[1]
    );
    assert!(
        outcomes[1]["report_email_error"]
            .as_str()
            .unwrap_or_default()
            .contains("quota"),
        "{}",
        outcomes[1]
    );
    assert_eq!(emails_to(&stack, &address).await.len(), 1);
    // The first came from the deployment's own sender, not the revoked address.
    let raw = &emails_to(&stack, &address).await[0];
    assert!(!raw.contains(&own), "sent from a revoked address");
}
