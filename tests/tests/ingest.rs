//! SPEC §2 steps 1–2 on the local stack: create → upload → `loaded` | `invalid`.

use pregon_tests::{fixture, Stack};
use serde_json::{json, Value};

fn codes(c: &Value) -> Vec<(Value, Value, String)> {
    c["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["row"].clone(),
                p["column"].clone(),
                p["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_valid_spreadsheet_uploaded_through_the_presigned_url_loads_the_campaign() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t
        .whatsapp_campaign(json!({"metadata":[{"name":"Segmento","type":"text"},{"name":"Cliente VIP","type":"yes_no"}]}))
        .await;
    assert_eq!(c["status"], "awaiting_file");
    let id = c["id"].as_str().unwrap();

    t.put_upload(id, fixture("whatsapp_ok.xlsx")).await;
    let done = t.settled(id).await;

    assert_eq!(done["status"], "loaded", "{done}");
    assert_eq!(done["format"], "xlsx");
    assert_eq!(done["counts"]["valid_rows"], 5);
    assert_eq!(done["counts"]["unique_phones"], 5);
    let recipients = stack.current_recipients(&t.id, id).await;
    assert_eq!(recipients.len(), 5);
    assert_eq!(recipients[0].phone, "+56962000001");
    assert_eq!(recipients[0].params, ["María", "$12.500"]);
    assert_eq!(recipients[0].metadata["Cliente VIP"], json!(true));
    assert!(recipients
        .iter()
        .all(|r| r.status == "pending" && r.phone.starts_with('+')));
}

#[tokio::test]
async fn a_bad_spreadsheet_makes_the_campaign_invalid_naming_rows_and_codes() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();

    t.put_upload(id, fixture("with_errors.csv")).await;
    let done = t.settled(id).await;

    assert_eq!(done["status"], "invalid");
    assert_eq!(
        codes(&done),
        vec![
            (json!(3), json!("name"), "missing_parameter".into()),
            (json!(4), json!("phone"), "missing_phone".into()),
            (json!(5), json!("D"), "too_many_columns".into()),
            (json!(6), json!("phone"), "invalid_phone".into()),
            (json!(7), json!("phone"), "duplicate_phone".into()),
        ]
    );
    // The full report is downloadable as CSV.
    let report = stack
        .http
        .get(done["report_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        report.starts_with("\"row\",\"column\",\"code\",\"severity\",\"message\""),
        "{report}"
    );
    assert_eq!(report.lines().count(), 6, "{report}");
    assert!(report.contains("7,\"phone\",\"duplicate_phone\",\"error\","));
    // Nothing is stored for a rejected file.
    assert_eq!(stack.current_recipients(&t.id, id).await.len(), 0);
}

#[tokio::test]
async fn only_the_first_100_problems_are_on_the_campaign_and_all_are_in_the_report() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    let mut csv = String::from("phone,name,amount\n");
    for i in 0..150 {
        csv.push_str(&format!("5696200{i:04},,100\n"));
    }
    t.put_upload(id, csv.into_bytes()).await;
    let done = t.settled(id).await;
    assert_eq!(done["status"], "invalid");
    assert_eq!(done["problems"].as_array().unwrap().len(), 100);
    assert_eq!(done["problems_total"], 150);
    let report = stack
        .http
        .get(done["report_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(report.lines().count(), 151);
}

#[tokio::test]
async fn a_corrupt_or_hostile_file_ends_invalid_with_a_clear_code() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    for (bytes, code) in [
        (
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0".to_vec(),
            "unsupported_format",
        ),
        (
            b"PK\x03\x04\x14\0\0\0broken zip".to_vec(),
            "unreadable_file",
        ),
        (Vec::new(), "empty_file"),
    ] {
        let c = t.whatsapp_campaign(json!({})).await;
        let id = c["id"].as_str().unwrap();
        t.put_upload(id, bytes).await;
        let done = t.settled(id).await;
        assert_eq!(done["status"], "invalid", "{code}");
        assert_eq!(
            codes(&done),
            vec![(Value::Null, Value::Null, code.to_string())]
        );
    }
}

#[tokio::test]
async fn the_same_s3_event_delivered_twice_is_processed_once() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    t.put_upload(
        id,
        b"phone,name,amount\n56962000001,Ana,100\n56962000002,Eva,200\n".to_vec(),
    )
    .await;
    assert_eq!(t.settled(id).await["status"], "loaded");
    let first = stack.campaign_item(&t.id, id).await.unwrap();

    // The queue delivers the same notification again, twice.
    let key =
        pregon::model::Campaign::upload_key_for(&t.id, id, first.upload_id.as_deref().unwrap());
    let head = stack
        .s3
        .head_object()
        .bucket(stack.bucket())
        .key(&key)
        .send()
        .await
        .unwrap();
    let event = json!({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
        "eventName":"ObjectCreated:Put","s3":{"bucket":{"name":stack.bucket()},
        "object":{"key":key,"size":head.content_length.unwrap(),"eTag":head.e_tag.unwrap().trim_matches('"')}}}]});
    for _ in 0..2 {
        stack
            .sqs
            .send_message()
            .queue_url(stack.upload_queue())
            .message_body(event.to_string())
            .send()
            .await
            .unwrap();
    }
    stack.drain_uploads().await;

    let after = stack.campaign_item(&t.id, id).await.unwrap();
    assert_eq!(after.validated_at, first.validated_at, "validated again");
    assert_eq!(
        after.recipient_gen, first.recipient_gen,
        "recipients written again"
    );
    assert_eq!(
        stack.recipient_count(&t.id, id, after.recipient_gen).await,
        2
    );
}

#[tokio::test]
async fn a_reupload_replaces_the_recipient_set() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    let first = t
        .upload(
            id,
            b"phone,name,amount\n56962000001,Ana,1\n56962000002,Eva,2\n56962000003,Leo,3\n"
                .to_vec(),
        )
        .await;
    assert_eq!(first["counts"]["valid_rows"], 3);
    let old_gen = stack.campaign_item(&t.id, id).await.unwrap().recipient_gen;

    let second = t
        .upload(id, b"phone,name,amount\n56962000009,Zoe,9\n".to_vec())
        .await;

    assert_eq!(second["status"], "loaded");
    assert_eq!(second["counts"]["valid_rows"], 1);
    let now = stack.current_recipients(&t.id, id).await;
    assert_eq!(
        now.iter().map(|r| r.phone.as_str()).collect::<Vec<_>>(),
        ["+56962000009"]
    );
    assert_eq!(
        stack.recipient_count(&t.id, id, old_gen).await,
        0,
        "leftovers of the old file"
    );

    // A re-upload may also turn a loaded campaign invalid, and then nothing is left to send.
    let third = t.upload(id, b"phone,name,amount\n,Zoe,9\n".to_vec()).await;
    assert_eq!(third["status"], "invalid");
    assert_eq!(stack.current_recipients(&t.id, id).await.len(), 0);
    let gen = stack.campaign_item(&t.id, id).await.unwrap().recipient_gen;
    assert_eq!(stack.recipient_count(&t.id, id, gen - 1).await, 0);
}

#[tokio::test]
async fn an_upload_once_sending_has_started_changes_nothing() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    t.upload(id, b"phone,name,amount\n56962000001,Ana,1\n".to_vec())
        .await;
    let late = b"phone,name,amount\n56962000005,Otro,5\n".to_vec();
    let url = t.upload_url(id, late.len()).await["upload_url"]
        .as_str()
        .unwrap()
        .to_string();
    stack.set_status(&t.id, id, "sending").await;
    let before = stack.campaign_item(&t.id, id).await.unwrap();

    // The API no longer hands out upload URLs…
    let refused = t
        .post(&format!("/v1/campaigns/{id}/upload"), json!({"size": 10}))
        .await;
    assert_eq!(refused.status, 409);
    // …and an old URL's upload is ignored by ingest.
    t.put(&url, late).await;
    stack.drain_uploads().await;

    let after = stack.campaign_item(&t.id, id).await.unwrap();
    assert_eq!(after.status.as_str(), "sending");
    assert_eq!(after.validated_at, before.validated_at);
    assert_eq!(
        stack.recipient_count(&t.id, id, after.recipient_gen).await,
        1
    );
}

#[tokio::test]
async fn skip_mode_loads_the_good_rows_and_reports_the_bad_ones() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({"on_invalid_rows":"skip"})).await;
    let id = c["id"].as_str().unwrap();
    t.put_upload(id, fixture("with_errors.csv")).await;
    let done = t.settled(id).await;
    assert_eq!(done["status"], "loaded");
    assert_eq!(done["counts"]["valid_rows"], 1);
    assert_eq!(done["counts"]["invalid_rows"], 5);
    let r = stack.current_recipients(&t.id, id).await;
    assert_eq!(r.iter().map(|r| r.row).collect::<Vec<_>>(), [2]);
}

#[tokio::test]
async fn a_message_that_is_not_an_s3_event_goes_to_the_dead_letter_queue_with_its_reason() {
    let stack = Stack::connect().await;
    let marker = format!("not an event {}", pregon::model::new_id("x"));
    stack
        .sqs
        .send_message()
        .queue_url(stack.upload_queue())
        .message_body(&marker)
        .send()
        .await
        .unwrap();
    stack.drain_uploads().await;

    let dlq = stack.info["queues"]["UploadEventsDLQ"].as_str().unwrap();
    let m = stack.find_message(dlq, &marker).await;
    let reason = m.message_attributes.unwrap()["reason"]
        .string_value
        .clone()
        .unwrap();
    assert!(reason.contains("not JSON"), "{reason}");
}

#[tokio::test]
async fn an_sms_campaign_without_template_takes_each_rows_message_and_priority() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let acc = t
        .post("/v1/accounts", json!({"provider":"twilio","channel":"sms","sender":"+15550002222","default_country":"CL","credentials":{"account_sid":"AC123","auth_token":"tok"}}))
        .await;
    let c = t
        .post("/v1/campaigns", json!({"name":"Avisos","channel":"sms","account_id":acc.body["id"],"consent_confirmed":true}))
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap();
    t.put_upload(id, fixture("sms_per_row_text.csv")).await;
    let done = t.settled(id).await;
    assert_eq!(done["status"], "loaded", "{done}");
    let r = stack.current_recipients(&t.id, id).await;
    assert_eq!(r[0].message.as_deref(), Some("Su cuota vence mañana"));
    assert_eq!(
        r.iter().map(|r| r.priority).collect::<Vec<_>>(),
        [Some(5), Some(9), Some(1)]
    );
}

#[tokio::test]
async fn two_uploads_racing_end_with_the_later_one_current() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    let big =
        b"phone,name,amount\n56962000001,Ana,1\n56962000002,Eva,2\n56962000003,Leo,3\n".to_vec();
    let small = b"phone,name,amount\n56962000009,Zoe,9\n".to_vec();
    // The tenant asks for a URL, then changes their mind and asks for another.
    let older = t.upload_url(id, big.len()).await;
    let newer = t.upload_url(id, small.len()).await;

    // The later upload lands first; the older, slower one finishes after it.
    t.put(newer["upload_url"].as_str().unwrap(), small).await;
    assert_eq!(t.settled(id).await["status"], "loaded");
    t.put(older["upload_url"].as_str().unwrap(), big).await;
    stack.drain_uploads().await;

    let now = t.get(&format!("/v1/campaigns/{id}")).await.body;
    assert_eq!(now["counts"]["valid_rows"], 1, "{now}");
    let phones: Vec<String> = stack
        .current_recipients(&t.id, id)
        .await
        .into_iter()
        .map(|r| r.phone)
        .collect();
    assert_eq!(phones, ["+56962000009"]);
    // The superseded object is not kept.
    let older_key =
        pregon::model::Campaign::upload_key_for(&t.id, id, older["upload_id"].as_str().unwrap());
    let head = stack
        .s3
        .head_object()
        .bucket(stack.bucket())
        .key(&older_key)
        .send()
        .await;
    assert!(head.is_err(), "the superseded upload is still stored");
}

#[tokio::test]
async fn upload_urls_are_signed_for_a_declared_size_within_the_limit() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();

    let too_big = t
        .post(
            &format!("/v1/campaigns/{id}/upload"),
            json!({"size": 104_857_601u64}),
        )
        .await;
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    assert_eq!(too_big.body["error"], "file_too_large");
    let no_size = t
        .post(&format!("/v1/campaigns/{id}/upload"), json!({}))
        .await;
    assert_eq!(no_size.status, 400);
    assert_eq!(no_size.body["fields"][0]["field"], "size");

    let grant = t.upload_url(id, 1234).await;
    let url = grant["upload_url"].as_str().unwrap();
    // S3 checks every signed header: a body of another length does not match the signature.
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bhost"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    assert_eq!(grant["upload_headers"], json!({"content-length": "1234"}));
    assert!(
        url.contains(&format!("/uploads/{}/{id}/upl_", t.id)),
        "{url}"
    );
}

#[tokio::test]
async fn an_object_over_the_size_limit_ends_file_too_large_and_is_deleted() {
    // Real S3 refuses a body whose length differs from the signed one; moto does not check
    // signatures, so this stores a 100 MB + 1 byte object at the upload's key anyway, as
    // an attacker holding the URL would try: ingest is the backstop.
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    let grant = t.upload_url(id, 20).await;
    let key =
        pregon::model::Campaign::upload_key_for(&t.id, id, grant["upload_id"].as_str().unwrap());
    let mut body = b"phone,name,amount\n".to_vec();
    body.resize(100 * 1024 * 1024 + 1, b'9');
    stack
        .s3
        .put_object()
        .bucket(stack.bucket())
        .key(&key)
        .body(body.into())
        .send()
        .await
        .unwrap();

    let done = t.settled(id).await;
    assert_eq!(done["status"], "invalid", "{done}");
    assert_eq!(
        codes(&done),
        vec![(Value::Null, Value::Null, "file_too_large".to_string())]
    );
    stack.drain_uploads().await;
    let head = stack
        .s3
        .head_object()
        .bucket(stack.bucket())
        .key(&key)
        .send()
        .await;
    assert!(head.is_err(), "an object over the limit is kept");
}

#[tokio::test]
async fn a_validation_that_failed_every_try_ends_invalid_with_internal_error_and_accepts_a_new_upload(
) {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    let grant = t.upload_url(id, 40).await;
    let key =
        pregon::model::Campaign::upload_key_for(&t.id, id, grant["upload_id"].as_str().unwrap());
    // A run that is still holding its lease, as a killed or timed-out one leaves it…
    stack
        .set_validating(&t.id, id, pregon_tests::unix_now() + 600)
        .await;
    let busy = t
        .post(&format!("/v1/campaigns/{id}/upload"), json!({"size": 10}))
        .await;
    assert_eq!(busy.status, 409, "{}", busy.body);

    // …and SQS moving its event to the failures queue after the last receive.
    let failures = stack.info["queues"]["UploadFailuresQueue"]
        .as_str()
        .unwrap();
    stack
        .sqs
        .send_message()
        .queue_url(failures)
        .message_body(stack.s3_event(&key, 40, "etag-of-a-dead-run").to_string())
        .send()
        .await
        .unwrap();

    let done = t.settled(id).await;
    assert_eq!(done["status"], "invalid", "{done}");
    assert_eq!(
        codes(&done),
        vec![(Value::Null, Value::Null, "internal_error".to_string())]
    );
    assert!(done["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("upload it again"));
    // The event goes on to the dead-letter queue, with the reason.
    let dlq = stack.info["queues"]["UploadEventsDLQ"].as_str().unwrap();
    let m = stack.find_message(dlq, &key).await;
    let reason = m.message_attributes.unwrap()["reason"]
        .string_value
        .clone()
        .unwrap();
    assert!(reason.contains("internal_error"), "{reason}");

    // The tenant can upload again, and this time it loads.
    let again = t
        .upload(id, b"phone,name,amount\n56962000001,Ana,1\n".to_vec())
        .await;
    assert_eq!(again["status"], "loaded", "{again}");
}

#[tokio::test]
async fn an_expired_validation_lease_lets_a_new_upload_url_be_granted() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    t.upload_url(id, 10).await;
    stack
        .set_validating(&t.id, id, pregon_tests::unix_now() - 1)
        .await;

    let fresh = t
        .upload(id, b"phone,name,amount\n56962000001,Ana,1\n".to_vec())
        .await;

    assert_eq!(fresh["status"], "loaded", "{fresh}");
}

#[tokio::test]
async fn huge_cells_make_bounded_problems_and_the_campaign_never_sticks_in_validating() {
    // 100 rows whose phone cell is 5 KB of `x`: the first 100 problems once made the
    // campaign item exceed DynamoDB's 400 KB, and the campaign stayed `validating`.
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    let mut csv = String::from("phone,name,amount\n");
    let cell = "x".repeat(5000);
    for _ in 0..100 {
        csv.push_str(&format!("{cell},Ana,1\n"));
    }
    let done = t.upload(id, csv.into_bytes()).await;
    assert_eq!(done["status"], "invalid");
    let problems = done["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 100);
    assert!(problems
        .iter()
        .all(|p| p["code"] == "invalid_phone" && p["message"].as_str().unwrap().len() < 300));
    assert_eq!(done["problems_total"], 100);
}

#[tokio::test]
async fn recipients_a_failed_clean_up_left_behind_are_deleted_by_the_next_run() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();
    t.upload(id, b"phone,name,amount\n56962000001,Ana,1\n".to_vec())
        .await;
    let loaded = stack.campaign_item(&t.id, id).await.unwrap();
    // A previous generation still in the table, as a delete that failed after the
    // campaign moved on leaves it (clean_below records what is known to be gone).
    let phone = pregon::phone::PhoneRules::new(None)
        .parse_text("+56962000077")
        .unwrap();
    let old = pregon::validate::Recipient {
        row: 2,
        phone,
        params: vec!["Old".into(), "1".into()],
        metadata: Vec::new(),
        message: None,
        priority: None,
        sms: None,
    };
    let put = stack
        .store
        .recipient_put(
            &t.id,
            id,
            loaded.recipient_gen - 1,
            &old,
            loaded.expires_at(),
        )
        .unwrap();
    stack.store.batch_write(vec![put]).await.unwrap();
    let (pk, sk) = pregon::keys::campaign(&t.id, id);
    stack
        .dynamodb
        .update_item()
        .table_name(stack.store.table.clone())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
        .update_expression("SET clean_below = :z")
        .expression_attribute_values(":z", aws_sdk_dynamodb::types::AttributeValue::N("0".into()))
        .send()
        .await
        .unwrap();

    // The retry of the event (the upload itself was validated) finishes the clean-up.
    let key =
        pregon::model::Campaign::upload_key_for(&t.id, id, loaded.upload_id.as_deref().unwrap());
    let head = stack
        .s3
        .head_object()
        .bucket(stack.bucket())
        .key(&key)
        .send()
        .await
        .unwrap();
    let event = stack.s3_event(
        &key,
        head.content_length.unwrap() as u64,
        head.e_tag.unwrap().trim_matches('"'),
    );
    stack
        .sqs
        .send_message()
        .queue_url(stack.upload_queue())
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();
    stack.drain_uploads().await;

    assert_eq!(
        stack
            .recipient_count(&t.id, id, loaded.recipient_gen - 1)
            .await,
        0
    );
    let after = stack.campaign_item(&t.id, id).await.unwrap();
    assert_eq!(after.clean_below, after.recipient_gen);
    assert_eq!(after.validated_at, loaded.validated_at, "validated again");
    assert_eq!(stack.current_recipients(&t.id, id).await.len(), 1);
}

/// Peak resident memory (KB) of every running `pregon-ingest` of this checkout.
fn ingest_peaks_kb() -> Vec<i64> {
    let exe = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/debug/pregon-ingest")
        .canonicalize()
        .unwrap();
    let mut peaks = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let p = entry.path();
        if std::fs::read_link(p.join("exe")).ok().as_deref() != Some(exe.as_path()) {
            continue;
        }
        let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
        {
            peaks.push(kb);
        }
    }
    peaks
}

#[tokio::test]
async fn hostile_workbooks_end_invalid_and_the_ingest_function_stays_under_200_mb() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let dir = std::env::temp_dir().join(pregon::model::new_id("hostile"));
    std::fs::create_dir_all(&dir).unwrap();
    let far = dir.join("far.xlsx");
    pregon_tests::hostile::xlsx_far_cell(&far, "XFD1048576").unwrap();
    let ods = dir.join("repeats.ods");
    pregon_tests::hostile::ods_repeats(&ods, 30_000, 3_000).unwrap();
    let sst = dir.join("sst.xlsx");
    pregon_tests::hostile::xlsx_huge_shared_string(&sst, 400).unwrap();
    let xls = dir.join("corners.xls");
    pregon_tests::hostile::xls_corners(&xls, 65_535, 255).unwrap();
    for f in [&far, &ods, &sst, &xls] {
        let c = t.whatsapp_campaign(json!({})).await;
        let id = c["id"].as_str().unwrap();
        let done = t.upload(id, std::fs::read(f).unwrap()).await;
        assert_eq!(done["status"], "invalid", "{}: {done}", f.display());
        assert!(
            codes(&done)
                .iter()
                .any(|(_, _, code)| code == "file_too_large"),
            "{}: {done}",
            f.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let peaks = ingest_peaks_kb();
    assert!(!peaks.is_empty(), "no pregon-ingest process found");
    for kb in peaks {
        assert!(
            kb <= 200 * 1024,
            "an ingest process peaked at {} MB",
            kb / 1024
        );
    }
}

#[tokio::test]
async fn each_sms_message_carries_its_encoding_and_segments_and_the_campaign_sets_the_warning_limit(
) {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let acc = t
        .post("/v1/accounts", json!({"provider":"twilio","channel":"sms","sender":"+15550002223","default_country":"CL","credentials":{"account_sid":"AC124","auth_token":"tok"}}))
        .await;
    let c = t
        .post(
            "/v1/campaigns",
            json!({"name":"Costos","channel":"sms","account_id":acc.body["id"],
            "consent_confirmed":true,"max_sms_segments":1}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["max_sms_segments"], 1);
    let id = c.body["id"].as_str().unwrap();
    // Row 2: 161 GSM-7 characters (2 segments, over the campaign's limit of 1);
    // row 3: an emoji forces UCS-2 (1 segment); row 4: short GSM-7.
    let csv = format!(
        "phone,message\n56962000041,{}\n56962000042,Gracias 🙏\n56962000043,Hola\n",
        "a".repeat(161)
    );
    t.put_upload(id, csv.into_bytes()).await;
    let done = t.settled(id).await;
    assert_eq!(done["status"], "loaded", "{done}");
    let warned: Vec<&Value> = done["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "sms_segments")
        .collect();
    assert_eq!(warned.len(), 1, "{done}");
    assert_eq!(warned[0]["row"], 2);
    assert_eq!(done["sms"]["total_segments"], 4, "{done}");
    let ms = t.messages(id).await;
    let got: Vec<(Value, Value)> = ms
        .iter()
        .map(|m| (m["sms_encoding"].clone(), m["sms_segments"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (json!("gsm7"), json!(2)),
            (json!("ucs2"), json!(1)),
            (json!("gsm7"), json!(1))
        ]
    );
}
