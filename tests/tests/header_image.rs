//! A campaign's header image (SPEC §3) on the local stack: uploaded through a
//! size-bounded pre-signed PUT, its type checked by content when it lands (PNG and JPEG
//! taken, a text file renamed `.png` rejected with the reason, more than 5 MB refused at
//! the grant), refused for a template without an image header, and sent by the
//! WhatsApp sender as the template's header media through a short-lived pre-signed link
//! the provider can fetch.

use pregon_tests::{Stack, Tenant};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xd9";

/// Asks for a grant for these bytes, PUTs them and waits for the verdict.
async fn upload_image(t: &Tenant<'_>, id: &str, bytes: &[u8]) -> Value {
    let g = t
        .post(
            &format!("/v1/campaigns/{id}/header-image"),
            json!({"size": bytes.len()}),
        )
        .await;
    assert_eq!(g.status, 200, "{}", g.body);
    let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
    assert_eq!(c["header_image_status"], "awaiting", "{c}");
    t.put(g.body["upload_url"].as_str().unwrap(), bytes.to_vec())
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = t.get(&format!("/v1/campaigns/{id}")).await.body;
        if c["header_image_status"] != "awaiting" {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "the image was never checked: {c}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Meta account (callbacks registered at the simulator) and an approved template
/// with an image header.
async fn meta_with_image_template(t: &Tenant<'_>, sender: &str) -> (String, String) {
    let (account, _) = t
        .meta_account_with_webhook(sender, "img-secret", "plain_text", "Hola {{1}}")
        .await;
    let tpl = t
        .post(
            "/v1/templates",
            json!({"name":"promo_imagen","channel":"whatsapp","language":"es","category":"MARKETING",
                "body":"Hola {{1}}, mira esta oferta","account_id":account,
                "header":{"type":"image","link":"https://cdn.example.com/promo.png"}}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let id = tpl.body["id"].as_str().unwrap().to_string();
    assert_eq!(t.reviewed_template(&id).await["status"], "approved");
    (account, id)
}

#[tokio::test]
async fn header_images_are_checked_by_content_and_size() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, tpl) = meta_with_image_template(&t, "15550007401").await;
    let c = t
        .post(
            "/v1/campaigns",
            json!({"name":"Oferta","channel":"whatsapp","account_id":account,"template_id":tpl,
                "consent_confirmed":true}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap().to_string();

    // 6 MB: refused before any byte is sent.
    let big = t
        .post(
            &format!("/v1/campaigns/{id}/header-image"),
            json!({"size": 6 * 1024 * 1024}),
        )
        .await;
    assert_eq!(big.status, 413, "{}", big.body);
    assert_eq!(big.body["error"], "image_too_large");

    let c = upload_image(&t, &id, PNG).await;
    assert_eq!(c["header_image_status"], "ready", "{c}");
    assert_eq!(c["header_image_type"], "image/png");

    // A text file renamed .png is text: rejected, with the reason.
    let c = upload_image(&t, &id, b"phone,nombre\n+56912345678,Ana\n").await;
    assert_eq!(c["header_image_status"], "rejected", "{c}");
    assert!(
        c["header_image_error"]
            .as_str()
            .is_some_and(|e| e.contains("not a PNG or JPEG")),
        "{c}"
    );

    let c = upload_image(&t, &id, JPEG).await;
    assert_eq!(c["header_image_status"], "ready", "{c}");
    assert_eq!(c["header_image_type"], "image/jpeg");

    // A template without an image header has nothing to replace.
    let plain = t.whatsapp_campaign(json!({})).await;
    let r = t
        .post(
            &format!(
                "/v1/campaigns/{}/header-image",
                plain["id"].as_str().unwrap()
            ),
            json!({"size": PNG.len()}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["error"], "no_image_header");
}

#[tokio::test]
async fn the_uploaded_image_goes_to_the_provider_as_the_template_header() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    let (account, tpl) = meta_with_image_template(&t, "15550007402").await;
    let phones = vec!["+56965400001".to_string()];
    let id = t.loaded_campaign("whatsapp", &account, &tpl, &phones).await;
    let c = upload_image(&t, &id, PNG).await;
    assert_eq!(c["header_image_status"], "ready", "{c}");
    let r = t.post(&format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = t.wait_end(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");

    let got = stack
        .sim_get("/_sim/messages?recipient=%2B56965400001&limit=10")
        .await;
    let items = got.as_array().cloned().unwrap_or_default();
    let sent = items
        .iter()
        .find(|m| m["content"]["name"] == "promo_imagen")
        .unwrap_or_else(|| panic!("the simulator took no template send: {got}"));
    let link = sent["content"]["header"]["image"]["link"]
        .as_str()
        .unwrap_or_else(|| panic!("no header image link: {sent}"));
    assert!(
        link.contains(&format!("/images/{}/{id}/", t.id)),
        "the campaign's image, not the template's: {link}"
    );
    // The provider can fetch it: the same bytes.
    let fetched = stack.http.get(link).send().await.unwrap();
    assert!(fetched.status().is_success(), "{}", fetched.status());
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), PNG);
}
