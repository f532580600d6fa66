//! SMS gateways of the Dinstar kind (providers.md, "SMS gateway"). Two bodies reach
//! the webhook: send results as `query_sms_result` answers them
//! (`{"error_code":200,"result":[{"port","number","user_id","status","time"}]}`), and
//! received SMS as the gateway pushes them (Dinstar's HTTP API manual, "Receive SMS":
//! `{"sn":"…","sms":[{"incoming_sms_id","port","number","smsc","timestamp","text"}]}`,
//! the same objects `query_incoming_sms` lists). A received SMS's `number` is the
//! sender as the network gave it (often without `+`): it is read with the account's
//! default country; its `timestamp` is the gateway's local time without a zone, so
//! the arrival time stands instead. The gateway signs nothing: check the account's
//! URL secret with [`crate::providers::inbound::verify_url_secret`].

use serde_json::Value;

use crate::providers::inbound::{bad, Inbound, InboundError, Reply, ReplyKind, StatusUpdate};
use crate::sending::MessageStatus;

/// Reads whatever the gateway posted: pushed received SMS (an `sms` list) or send
/// results (see [`parse_results`]). `default_country` reads numbers without `+`.
pub fn parse(body: &[u8], default_country: Option<&str>) -> Result<Vec<Inbound>, InboundError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| bad("body", e.to_string()))?;
    let Some(sms) = v.get("sms") else {
        return parse_results(body);
    };
    let sn = v["sn"].as_str().unwrap_or("gateway");
    let list = sms.as_array().ok_or_else(|| bad("sms", "not an array"))?;
    let country = default_country.and_then(|c| c.parse().ok());
    let mut phones = crate::phone::PhoneRules::new(country);
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("sms[{i}]");
            let id = m["incoming_sms_id"]
                .as_u64()
                .ok_or_else(|| bad(format!("{at}.incoming_sms_id"), "missing or not a number"))?;
            let number = match &m["number"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad(format!("{at}.number"), "missing")),
            };
            let from = phones
                .parse_text(&number)
                .map_err(|e| bad(format!("{at}.number"), e.to_string()))?;
            Ok(Inbound::Reply(Reply {
                from_phone: from.e164(),
                // Unique per gateway: its serial number and the message's id there.
                provider_message_id: format!("{sn}:{id}"),
                kind: ReplyKind::Text,
                text: m["text"].as_str().map(str::to_string),
                media: Vec::new(),
                button_payload: None,
                replied_to: None,
                at: None,
            }))
        })
        .collect()
}

/// Reads a `query_sms_result` answer into one status per result. Each status's
/// `provider_message_id` is the result's `user_id`, as the send recorded it
/// ([`crate::providers::gateway::user_id`]); `at` is the
/// result's `time` only when it is RFC 3339 (its format is undocumented).
pub fn parse_results(body: &[u8]) -> Result<Vec<Inbound>, InboundError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| bad("body", e.to_string()))?;
    if !v.is_object() {
        return Err(bad("body", "not a JSON object"));
    }
    match v["error_code"].as_i64() {
        Some(200) => {}
        Some(c) => return Err(bad("error_code", format!("the gateway answered {c}"))),
        None => return Err(bad("error_code", "missing")),
    }
    let results = v["result"]
        .as_array()
        .ok_or_else(|| bad("result", "missing or not an array"))?;
    results
        .iter()
        .enumerate()
        .map(|(i, r)| result(r, &format!("result[{i}]")))
        .collect()
}

fn result(r: &Value, at: &str) -> Result<Inbound, InboundError> {
    let user_id = r["user_id"]
        .as_u64()
        .ok_or_else(|| bad(format!("{at}.user_id"), "missing or not a number"))?;
    let name = r["status"]
        .as_str()
        .ok_or_else(|| bad(format!("{at}.status"), "missing or not a string"))?;
    let status = match name {
        "SENT_OK" => MessageStatus::Sent,
        "DELIVERED" => MessageStatus::Delivered,
        "FAILED" => MessageStatus::Failed,
        other => {
            return Ok(Inbound::Ignored {
                why: format!("gateway status '{other}'"),
            })
        }
    };
    let time = r["time"].as_str().filter(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
    });
    Ok(Inbound::Status(StatusUpdate {
        provider_message_id: user_id.to_string(),
        status,
        provider_status: name.to_string(),
        at: time.map(str::to_string),
        error_code: (status == MessageStatus::Failed).then(|| "gateway_failed".to_string()),
        error_message: None,
        correlation: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{gateway, HttpReply};

    #[test]
    fn a_pushed_received_sms_is_a_reply_from_the_number_read_with_the_default_country() {
        // The push example of Dinstar's manual, with a Chilean number written two ways.
        let body = r#"{"sn":"da00-0030-1901-2817","sms":[
            {"incoming_sms_id":1,"port":1,"number":"56962000001","smsc":"+56900000000","timestamp":"2016-07-12 15:46:18","text":"BAJA"},
            {"incoming_sms_id":2,"port":3,"number":"962000002","smsc":"+56900000000","timestamp":"2016-07-12 15:47:00","text":"Ya pagué"}]}"#;
        let all = parse(body.as_bytes(), Some("CL")).unwrap();
        let Inbound::Reply(a) = &all[0] else { panic!() };
        assert_eq!(a.from_phone, "+56962000001");
        assert_eq!(a.provider_message_id, "da00-0030-1901-2817:1");
        assert_eq!(a.text.as_deref(), Some("BAJA"));
        assert!(a.is_opt_out(crate::providers::inbound::DEFAULT_OPT_OUT_WORDS));
        let Inbound::Reply(b) = &all[1] else { panic!() };
        assert_eq!(b.from_phone, "+56962000002");
        assert_eq!(b.text.as_deref(), Some("Ya pagué"));
        // Results still read the same way through `parse`.
        let r = parse(br#"{"error_code":200,"result":[{"port":0,"number":"1","user_id":4,"status":"DELIVERED","time":"-"}]}"#, None).unwrap();
        assert!(matches!(&r[0], Inbound::Status(s) if s.provider_message_id == "4"));
        let e = parse(
            br#"{"sn":"x","sms":[{"incoming_sms_id":3,"text":"hola"}]}"#,
            Some("CL"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("sms[0].number"), "{e}");
    }

    #[test]
    fn results_name_the_user_id_the_send_recorded() {
        let uid = gateway::user_id("ten_a.cmp_b.1.2");
        let sent = gateway::read_send_reply(
            HttpReply {
                status: 200,
                body: br#"{"error_code": 202, "sms_in_queue": 1, "task_id": 7}"#,
            },
            uid,
        )
        .unwrap();
        let body = format!(
            r#"{{"error_code":200,"result":[{{"port":0,"number":"56962000001","user_id":{uid},"status":"DELIVERED","time":"-"}}]}}"#
        );
        let r = parse_results(body.as_bytes()).unwrap();
        assert!(
            matches!(&r[0], Inbound::Status(s) if s.provider_message_id == sent.provider_message_id),
            "{r:?}"
        );
        // The same row of two campaigns: two ids (a row number would be one).
        assert_ne!(uid, gateway::user_id("ten_a.cmp_c.1.2"));
        assert!(uid < 1 << 48);
    }

    #[test]
    fn the_documented_result_answer_is_read() {
        let body = br#"{"error_code": 200, "result": [
            {"port": 2, "number": "56962000001", "user_id": 41, "status": "DELIVERED", "time": "2025-11-22T08:26:40Z"},
            {"port": 3, "number": "56962000002", "user_id": 42, "status": "FAILED", "time": "2025-11-22 08:26:40"},
            {"port": 0, "number": "56962000003", "user_id": 43, "status": "SENT_OK", "time": "-"},
            {"port": 1, "number": "56962000004", "user_id": 44, "status": "SENDING", "time": "-"}]}"#;
        let all = parse_results(body).unwrap();
        assert_eq!(all.len(), 4);
        let Inbound::Status(d) = &all[0] else {
            panic!()
        };
        assert_eq!(
            (d.provider_message_id.as_str(), d.status, d.at.as_deref()),
            ("41", MessageStatus::Delivered, Some("2025-11-22T08:26:40Z"))
        );
        let Inbound::Status(f) = &all[1] else {
            panic!()
        };
        assert_eq!(
            (f.status, f.at.as_deref(), f.error_code.as_deref()),
            (MessageStatus::Failed, None, Some("gateway_failed"))
        );
        let Inbound::Status(s) = &all[2] else {
            panic!()
        };
        assert_eq!(
            (s.provider_message_id.as_str(), s.status),
            ("43", MessageStatus::Sent)
        );
        assert!(matches!(all[3], Inbound::Ignored { .. }));
    }

    #[test]
    fn malformed_answers_name_the_field() {
        let field = |b: &str| parse_results(b.as_bytes()).unwrap_err().field;
        assert_eq!(field("nope"), "body");
        assert_eq!(field(r#"{"error_code": 500}"#), "error_code");
        assert_eq!(field(r#"{"result": []}"#), "error_code");
        assert_eq!(field(r#"{"error_code": 200}"#), "result");
        assert_eq!(
            field(r#"{"error_code": 200, "result": [{"status": "SENT_OK"}]}"#),
            "result[0].user_id"
        );
        assert_eq!(
            field(r#"{"error_code": 200, "result": [{"user_id": 1}]}"#),
            "result[0].status"
        );
    }
}
