//! SMS gateways of the Dinstar kind (providers.md, "SMS gateway"). providers.md
//! documents only the send results as `query_sms_result` answers them
//! (`{"error_code":200,"result":[{"port","number","user_id","status","time"}]}`); it
//! says the gateway "can also push results and inbound SMS to an HTTP URL" without
//! their format, so inbound SMS are not read here. The gateway signs nothing: check
//! the account's URL secret with [`super::verify_url_secret`].

use serde_json::Value;

use super::{bad, Inbound, InboundError, StatusUpdate};
use crate::sending::MessageStatus;

/// The `user_id` a message was sent with, from the id the send adapter records
/// (`{task_id}:{user_id}`): results name messages by it alone.
pub fn user_id_of(provider_message_id: &str) -> Option<u64> {
    provider_message_id.rsplit_once(':')?.1.parse().ok()
}

/// Reads a `query_sms_result` answer into one status per result. Each status's
/// `provider_message_id` is the result's `user_id` (see [`user_id_of`]); `at` is the
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
    fn results_name_the_user_id_the_send_recorded() {
        let sent = gateway::read_send_reply(
            HttpReply {
                status: 200,
                body: br#"{"error_code": 202, "sms_in_queue": 1, "task_id": 7}"#,
            },
            41,
        )
        .unwrap();
        assert_eq!(user_id_of(&sent.provider_message_id), Some(41));
        assert_eq!(user_id_of("41"), None);
        assert_eq!(user_id_of("7:x"), None);
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
