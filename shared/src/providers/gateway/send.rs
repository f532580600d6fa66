//! SMS gateways of the Dinstar kind (providers.md, "SMS gateway"): a JSON
//! `POST {url}/api/send_sms` with HTTP Basic auth, one port per message, rotated
//! 0,1,2,3,0,… over the ports the campaign may use (SPEC §9). The gateway answers
//! `{"error_code":202,"task_id"}` when it queued the message.

use crate::providers::{
    basic, by_status, digits, Accepted, Content, HttpReply, HttpRequest, Outgoing, ProviderError,
};
use serde_json::{json, Value};

/// The `user_id` a message is sent with, and so its provider id: the gateway reports
/// results by it alone, so it must name one message among all of an account's
/// campaigns (a row number would repeat). 48 bits of the SHA-256 of our message id:
/// a number JSON carries exactly; two messages of one account meet with odds of about
/// n²/2⁴⁹ (one in 500 at a million messages).
pub fn user_id(message_id: &str) -> u64 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(message_id.as_bytes());
    h[..6].iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))
}

/// The port for the `n`th message of a campaign (0-based): round robin over `ports`.
pub fn port_for(ports: &[u16], n: u64) -> u16 {
    if ports.is_empty() {
        return 0;
    }
    ports[(n % ports.len() as u64) as usize]
}

/// Builds the send request. `user_id` is the number the gateway reports results by.
pub fn send_request(
    url: &str,
    user: &str,
    password: &str,
    port: u16,
    user_id: u64,
    m: &Outgoing<'_>,
) -> Result<HttpRequest, ProviderError> {
    let Content::Text { body: text } = &m.content else {
        return Err(ProviderError::Rejected {
            code: "not_text".into(),
            message: "an SMS gateway sends text; render the template first".into(),
        });
    };
    let body = json!({
        "text": text,
        "port": [port],
        "param": [{"number": digits(m.to), "user_id": user_id}],
    });
    Ok(HttpRequest {
        method: "POST",
        url: format!("{}/api/send_sms", url.trim_end_matches('/')),
        headers: vec![
            ("authorization".into(), basic(user, password)),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
    })
}

/// Reads the answer to a send: the message id is the `user_id` (see [`user_id`]).
pub fn read_send_reply(reply: HttpReply<'_>, user_id: u64) -> Result<Accepted, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    let code = v["error_code"].as_i64();
    if (200..300).contains(&reply.status) && matches!(code, Some(200 | 202)) {
        return Ok(Accepted {
            provider_message_id: user_id.to_string(),
        });
    }
    if let Some(e) = crate::providers::from_intermediary(reply.status, &v) {
        return Err(e);
    }
    let message = format!("gateway error_code {}", code.unwrap_or(-1));
    let code_s = code.map_or_else(|| format!("http_{}", reply.status), |c| c.to_string());
    let status = match code {
        // The gateway's codes mirror HTTP: 400 bad request, 413 too many numbers, 500.
        Some(c @ 400..=599) if reply.status < 300 => c as u16,
        _ => reply.status,
    };
    Err(by_status(status, code_s, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_rotate_in_order() {
        let ports = [0, 1, 2, 3];
        let used: Vec<u16> = (0..6).map(|n| port_for(&ports, n)).collect();
        assert_eq!(used, [0, 1, 2, 3, 0, 1]);
        assert_eq!(port_for(&[0, 2], 3), 2);
    }

    #[test]
    fn a_send_is_the_documented_json_with_one_port() {
        let m = Outgoing {
            to: "+56962000001",
            content: Content::Text { body: "Hola" },
            correlation: "msg_1",
            status_callback: None,
        };
        let r = send_request("https://gw.example.com", "admin", "pw", 2, 7, &m).unwrap();
        assert_eq!(r.url, "https://gw.example.com/api/send_sms");
        let b: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            b,
            json!({"text": "Hola", "port": [2], "param": [{"number": "56962000001", "user_id": 7}]})
        );
    }

    #[test]
    fn documented_answers_are_read() {
        let ok = br#"{"error_code": 202, "sms_in_queue": 1, "task_id": 7}"#;
        assert_eq!(
            read_send_reply(
                HttpReply {
                    status: 200,
                    body: ok
                },
                9
            )
            .unwrap()
            .provider_message_id,
            "9"
        );
        let bad = br#"{"error_code": 400}"#;
        assert!(matches!(
            read_send_reply(
                HttpReply {
                    status: 200,
                    body: bad
                },
                9
            ),
            Err(ProviderError::Rejected { .. })
        ));
        let busy = br#"{"error_code": 500}"#;
        assert!(matches!(
            read_send_reply(
                HttpReply {
                    status: 200,
                    body: busy
                },
                9
            ),
            Err(ProviderError::Retry { .. })
        ));
    }
}
