//! SPEC §10 and the tenant API: authentication, tenant isolation, request validation.

use pregon_tests::Stack;
use serde_json::{json, Value};

#[tokio::test]
async fn unauthenticated_or_unknown_keys_get_401_and_change_nothing() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let body = json!({"name":"x","channel":"sms","account_id":"acc_x","consent_confirmed":true});
    for auth in [
        None,
        Some("Bearer pgn_nope".to_string()),
        Some(format!("Bearer pgn_{}", "0".repeat(64))),
        Some(t.key.clone()),
    ] {
        let mut req = stack.http.post(stack.api("/v1/campaigns")).json(&body);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{auth:?}");
    }
    assert_eq!(t.get("/v1/campaigns").await.body["items"], json!([]));
}

#[tokio::test]
async fn malformed_requests_get_400_naming_each_bad_field_and_change_nothing() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let bad_json = stack
        .http
        .post(stack.api("/v1/campaigns"))
        .bearer_auth(&t.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status().as_u16(), 400);

    let r = t
        .post(
            "/v1/campaigns",
            json!({"name":"", "channel":"fax", "wait_for_reply_hours": 48}),
        )
        .await;
    assert_eq!(r.status, 400);
    let mut fields: Vec<String> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "account_id",
            "channel",
            "consent_confirmed",
            "name",
            "wait_for_reply_hours"
        ]
    );

    let no_consent = t.whatsapp_campaign(json!({})).await; // a valid account and template exist now
    let r = t
        .post(
            "/v1/campaigns",
            json!({"name":"x","channel":"whatsapp","account_id":no_consent["account_id"],"template_id":no_consent["template_id"],
                   "consent_confirmed":false}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["fields"][0]["field"].as_str()),
        (400, Some("consent_confirmed"))
    );

    let r = t.post("/v1/campaigns", json!({"name":"x","channel":"whatsapp","account_id":"acc_none","template_id":"tpl_none","consent_confirmed":true})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        t.get("/v1/campaigns").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "only the valid one exists"
    );
}

#[tokio::test]
async fn tenant_b_gets_404_for_tenant_a_campaign_and_cannot_upload_into_it() {
    let stack = Stack::connect().await;
    let a = stack.tenant().await;
    let b = stack.tenant().await;
    let c = a.whatsapp_campaign(json!({})).await;
    let id = c["id"].as_str().unwrap();

    assert_eq!(b.get(&format!("/v1/campaigns/{id}")).await.status, 404);
    assert_eq!(
        b.post(&format!("/v1/campaigns/{id}/upload"), json!({"size": 20}))
            .await
            .status,
        404
    );
    assert_eq!(
        b.get(&format!(
            "/v1/accounts/{}",
            c["account_id"].as_str().unwrap()
        ))
        .await
        .status,
        404
    );
    assert_eq!(
        b.get(&format!(
            "/v1/templates/{}",
            c["template_id"].as_str().unwrap()
        ))
        .await
        .status,
        404
    );
    assert_eq!(b.get("/v1/campaigns").await.body["items"], json!([]));
    // A campaign of B's cannot be made on A's account.
    let r = b
        .post(
            "/v1/campaigns",
            json!({"name":"x","channel":"whatsapp","account_id":c["account_id"],
        "template_id":c["template_id"],"consent_confirmed":true}),
        )
        .await;
    assert_eq!(r.status, 400);

    // An object under B's prefix naming A's campaign id changes nothing for A.
    let key = format!("uploads/{}/{id}/upl_0000", b.id);
    stack
        .s3
        .put_object()
        .bucket(stack.bucket())
        .key(&key)
        .body(b"phone\n56962000001\n".to_vec().into())
        .send()
        .await
        .unwrap();
    stack.drain_uploads().await;
    let after = a.get(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(after.body["status"], "awaiting_file");
}

#[tokio::test]
async fn account_credentials_go_to_secrets_manager_and_are_never_returned() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let r = t
        .post(
            "/v1/accounts",
            json!({"provider":"twilio","channel":"sms","sender":"+15550002222","rate":10,
            "credentials":{"account_sid":"AC123","auth_token":"very-secret-token"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["credentials"], "stored");
    let shown = t
        .get(&format!("/v1/accounts/{}", r.body["id"].as_str().unwrap()))
        .await;
    assert!(!shown.body.to_string().contains("very-secret-token"));
    assert!(!shown.body.to_string().contains("arn:"));

    let item: pregon::model::Account = stack
        .store
        .get(pregon::keys::account(&t.id, r.body["id"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    let arn = item.credentials_secret_arn.expect("secret reference");
    let secret = stack
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .unwrap();
    assert!(secret
        .secret_string()
        .unwrap()
        .contains("very-secret-token"));
}

#[tokio::test]
async fn campaigns_list_newest_first_filtered_and_paginated() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let mut ids = Vec::new();
    for dept in ["cobranza", "ventas", "cobranza"] {
        ids.push(
            t.whatsapp_campaign(json!({"department": dept})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let all = t.get("/v1/campaigns").await.body;
    let listed: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]);

    let cobranza = t.get("/v1/campaigns?department=cobranza").await.body;
    assert_eq!(cobranza["items"].as_array().unwrap().len(), 2);

    let page1 = t.get("/v1/campaigns?limit=2").await.body;
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = t
        .get(&format!("/v1/campaigns?limit=2&cursor={cursor}"))
        .await
        .body;
    assert_eq!(page2["items"][0]["id"], ids[0].as_str());

    assert_eq!(
        t.get("/v1/campaigns?status=loaded").await.body["items"],
        json!([])
    );
    assert_eq!(t.get("/v1/campaigns?status=nope").await.status, 400);
}

#[tokio::test]
async fn templates_count_their_parameters_and_give_the_sheet_layout() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let r = t
        .post(
            "/v1/templates",
            json!({"name":"aviso","channel":"whatsapp","language":"es","category":"UTILITY",
        "body":"Hola {{1}}, vence {{2}} por {{3}}"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["params"], 3);
    let id = r.body["id"].as_str().unwrap();
    let csv = stack
        .http
        .get(stack.api(&format!("/v1/templates/{id}/sheet?format=csv")))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.text().await.unwrap(), "phone,param_1,param_2,param_3\n");
    let xlsx = stack
        .http
        .get(stack.api(&format!("/v1/templates/{id}/sheet")))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let bytes = xlsx.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"), "an XLSX workbook");
    // What the tenant downloads is what the validator reads back.
    let mut header = Vec::new();
    pregon::spreadsheet::read_rows(std::io::Cursor::new(bytes.to_vec()), |_, cells| {
        header = cells.iter().map(|c| c.to_text().into_owned()).collect();
        std::ops::ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(header, ["phone", "param_1", "param_2", "param_3"]);
    let bad = t
        .post(
            "/v1/templates",
            json!({"name":"Aviso Malo","channel":"whatsapp","language":"es","category":"UTILITY",
        "body":"Hola {{2}}"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["fields"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn hostile_bodies_get_400_or_413_naming_the_field_never_500() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let c = t.whatsapp_campaign(json!({})).await;
    let base = json!({"name":"x","channel":"whatsapp","account_id":c["account_id"],"template_id":c["template_id"],"consent_confirmed":true});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let many: Vec<Value> = (0..30_000)
        .map(|i| json!({"name": format!("f{i}"), "type": "text"}))
        .collect();
    let cases = [
        (with("metadata", json!(many)), "metadata"),
        (
            with(
                "send_window",
                json!({"timezone": "x".repeat(450_000), "days": ["mon"], "from": "09:00", "to": "18:00"}),
            ),
            "send_window.timezone",
        ),
        (
            with(
                "send_window",
                json!({"timezone": "x", "days": ["mon"], "from": "09:00", "to": "18:00"}),
            ),
            "send_window.timezone",
        ),
        (
            with(
                "send_window",
                json!({"timezone": "America/Santiago", "days": ["mon"], "from": "09:00", "to": "18:00", "tz": 1}),
            ),
            "send_window.tz",
        ),
        (
            with(
                "send_window",
                json!({"timezone": "America/Santiago", "days": ["mon", "mon"], "from": "09:00", "to": "18:00"}),
            ),
            "send_window.days",
        ),
        (
            with(
                "metadata",
                json!([{"name": "Segmento", "type": "text", "colour": "red"}]),
            ),
            "metadata[0].colour",
        ),
        (
            with(
                "header_image",
                json!("http://169.254.169.254/latest/meta-data"),
            ),
            "header_image",
        ),
        (
            with("header_image", json!("https://169.254.169.254/x.png")),
            "header_image",
        ),
        (
            with("report_email", json!("a@b.c\r\nBcc:victim@x.io")),
            "report_email",
        ),
    ];
    for (body, field) in cases {
        let r = t.post("/v1/campaigns", body).await;
        assert_eq!(r.status, 400, "{field}: {}", r.body);
        assert!(
            r.body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["field"] == field),
            "{field}: {}",
            r.body
        );
    }
    let tpl = t
        .post("/v1/templates", json!({"name":"t","channel":"whatsapp","language":"es","category":"UTILITY","body":"Hola",
            "header":{"type":"text","text":"Hola","link":"https://cdn.empresa.cl/x.png"}}))
        .await;
    assert_eq!(tpl.status, 400, "{}", tpl.body);
    assert_eq!(tpl.body["fields"][0]["field"], "header.link");
    let acc = t
        .post("/v1/accounts", json!({"provider":"meta","channel":"whatsapp","sender":"1555","credentials":{"access_token":"x"}}))
        .await;
    assert_eq!(acc.status, 400);
    let missing: Vec<&str> = acc.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        missing,
        [
            "credentials.app_secret",
            "credentials.verify_token",
            "credentials.phone_number_id",
            "credentials.waba_id"
        ]
    );
    let huge = stack
        .http
        .post(stack.api("/v1/campaigns"))
        .bearer_auth(&t.key)
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
}

#[tokio::test]
async fn accounts_and_templates_are_listed_page_by_page() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    for i in 0..3 {
        let r = t
            .post(
                "/v1/accounts",
                json!({"provider":"twilio","channel":"sms","sender":format!("+1555000{i}"),
                "credentials":{"account_sid":"AC1","auth_token":"t"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let first = t.get("/v1/accounts?limit=2").await.body;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = t
        .get(&format!("/v1/accounts?limit=2&cursor={cursor}"))
        .await
        .body;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(second["items"][0]["id"], first["items"][0]["id"]);
    assert_eq!(t.get("/v1/accounts?limit=0").await.status, 400);
    assert_eq!(t.get("/v1/templates?cursor=x%23y").await.status, 400);
}

#[tokio::test]
async fn a_campaign_is_renamed_only_in_the_states_that_allow_it_and_deleted_only_before_sending() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let id = t.whatsapp_campaign(json!({"name": "Cobranza"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/campaigns/{id}");
    let patch = |body: Value| t.call(reqwest::Method::PATCH, &path, Some(body));
    // awaiting_file: SPEC §3 allows a rename only in loaded, completed, completed_with_errors.
    let r = patch(json!({"name": "Cobranza diciembre"})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("awaiting_file"),
        "{}",
        r.body
    );
    let done = t
        .upload(
            &id,
            b"phone,p1,p2\n+56962000001,Ana,100\n+56962000002,Luis,200\n".to_vec(),
        )
        .await;
    assert_eq!(done["status"], "loaded", "{done}");
    let r = patch(json!({"name": "Cobranza diciembre"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        t.get(&format!("/v1/campaigns/{id}")).await.body["name"],
        "Cobranza diciembre"
    );
    // Only the name: anything else is named and refused, nothing changes.
    let r = patch(json!({"name": "", "channel": "sms"})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let fields: Vec<&str> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["channel", "name"], "{}", r.body);

    // Sending: neither a rename nor a delete.
    stack.set_status(&t.id, &id, "sending").await;
    let r = patch(json!({"name": "Otra"})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = t
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/campaigns/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("sending"),
        "{}",
        r.body
    );

    // Loaded again: deleted, with its recipients.
    stack.set_status(&t.id, &id, "loaded").await;
    let gen = stack.campaign_item(&t.id, &id).await.unwrap().recipient_gen;
    assert_eq!(stack.recipient_count(&t.id, &id, gen).await, 2);
    let r = t
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/campaigns/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(t.get(&format!("/v1/campaigns/{id}")).await.status, 404);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while stack.recipient_count(&t.id, &id, gen).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the deleted campaign's recipients stayed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let r = t
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/campaigns/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn a_method_a_path_does_not_take_is_a_405_naming_the_methods_it_takes() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    for (method, path, allow) in [
        ("TRACE", "/v1/campaigns/cmp_x", "GET, DELETE, PATCH"),
        ("PUT", "/v1/dnc", "GET, POST"),
        ("DELETE", "/v1/campaigns/cmp_x/send", "POST"),
    ] {
        let r = stack
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                stack.api(path),
            )
            .header("authorization", format!("Bearer {}", t.key))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "method_not_allowed");
    }
}

/// Found by `make fuzz`: an id no record can have (here 300 combining marks, percent-
/// encoded) was a 500 where the key did not fit DynamoDB; it names nothing: 404.
#[tokio::test]
async fn an_id_too_long_to_be_one_is_a_404_never_a_500() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let long = "%CC%BA".repeat(300);
    for path in [
        format!("/v1/accounts/{long}"),
        format!("/v1/templates/{long}"),
        format!("/v1/campaigns/{long}"),
        format!("/v1/campaigns/{long}/stats"),
        format!("/v1/messages/{long}"),
        format!("/v1/tickets/{long}"),
    ] {
        let r = t.get(&path).await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (404, Some("not_found")),
            "{path}: {}",
            r.body
        );
    }
    // A known id still answers.
    let c = t.whatsapp_campaign(json!({})).await;
    let r = t
        .get(&format!(
            "/v1/accounts/{}",
            c["account_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// JSON has one number type: a whole number written `1000000.0` is the integer a field
/// asks for (found by `make fuzz`, as JSON Schema reads it).
#[tokio::test]
async fn a_whole_number_written_with_a_decimal_point_is_taken_as_that_integer() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let r = t
        .call(
            reqwest::Method::PATCH,
            "/v1/settings",
            Some(json!({"idle_close_hours": 6.0})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.get("/v1/settings").await.body["idle_close_hours"], 6);
    let r = t
        .call(
            reqwest::Method::PATCH,
            "/v1/settings",
            Some(json!({"idle_close_hours": 6.5})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["fields"][0]["field"], "idle_close_hours",
        "{}",
        r.body
    );
}
