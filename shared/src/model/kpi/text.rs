//! Stats as readable text tables (SPEC §6): `pregon campaign stats`, `pregon analytics`
//! and the report email show the same.

use serde_json::Value;

fn pct(v: &Value) -> String {
    match v.as_f64() {
        Some(r) => format!("{:.1} %", r * 100.0),
        None => "—".into(),
    }
}

fn n(v: &Value) -> String {
    match v.as_i64() {
        Some(x) => {
            let s = x.abs().to_string();
            let mut out = String::new();
            for (i, ch) in s.chars().enumerate() {
                if i > 0 && (s.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(ch);
            }
            if x < 0 {
                format!("-{out}")
            } else {
                out
            }
        }
        None => v.as_str().unwrap_or("—").to_string(),
    }
}

fn rates(v: &Value) -> Vec<(String, String)> {
    let r = &v["rates"];
    vec![
        ("delivery rate".into(), pct(&r["delivery_rate"])),
        ("bounce rate".into(), pct(&r["bounce_rate"])),
        ("read rate".into(), pct(&r["read_rate"])),
        ("reply rate".into(), pct(&r["reply_rate"])),
        ("attended rate".into(), pct(&r["attended_rate"])),
        ("refused share".into(), pct(&r["refused_rate"])),
    ]
}

fn table(rows: &[(String, String)]) -> String {
    let w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("  {k:<w$}  {v:>12}\n"))
        .collect()
}

/// One campaign's stats.
pub fn campaign(v: &Value) -> String {
    let mut out = format!(
        "{} — {} ({})\n",
        v["campaign_id"].as_str().unwrap_or(""),
        v["name"].as_str().unwrap_or(""),
        v["status"].as_str().unwrap_or("")
    );
    let rows = counts_and_rates(v, &["messages", "unique_phones"]);
    out.push_str(&table(&rows));
    out.push_str("  by status:");
    if let Some(by) = v["by_status"].as_object() {
        for (k, x) in by {
            out.push_str(&format!(" {k} {}", n(x)));
        }
    }
    out.push('\n');
    let t = &v["tickets"];
    out.push_str(&format!(
        "  tickets: open {}, closed {}",
        n(&t["open"]),
        n(&t["closed"])
    ));
    if let Some(by) = t["by_close_reason"].as_object() {
        let parts: Vec<String> = by.iter().map(|(k, x)| format!("{k} {}", n(x))).collect();
        out.push_str(&format!(" ({})", parts.join(", ")));
    }
    out.push('\n');
    if let Some(mps) = v["messages_per_second"].as_f64() {
        out.push_str(&format!(
            "  sent from {} to {}: {mps} messages/s\n",
            v["first_send_at"].as_str().unwrap_or("—"),
            v["last_send_at"].as_str().unwrap_or("—")
        ));
    }
    out
}

/// The table rows of the message counts (after the `first` ones) and the rates.
fn counts_and_rates(v: &Value, first: &[&str]) -> Vec<(String, String)> {
    const COUNTS: [&str; 7] = [
        "sent",
        "refused",
        "delivered",
        "read",
        "replied",
        "bounced",
        "attended",
    ];
    let mut rows: Vec<(String, String)> = first
        .iter()
        .chain(COUNTS.iter())
        .map(|k| (k.replace('_', " "), n(&v[*k])))
        .collect();
    rows.extend(rates(v));
    rows
}

/// KPIs over campaigns, then one line per campaign.
pub fn analytics(v: &Value) -> String {
    let mut out = format!(
        "{} campaigns, {} messages\n",
        n(&v["campaigns"]),
        n(&v["messages"])
    );
    let rows = counts_and_rates(v, &[]);
    out.push_str(&table(&rows));
    out.push_str(&format!(
        "\n  {:<32} {:<22} {:>9} {:>9} {:>9} {:>9}\n",
        "campaign", "status", "sent", "delivery", "read", "reply"
    ));
    for c in v["items"].as_array().into_iter().flatten() {
        let r = &c["rates"];
        out.push_str(&format!(
            "  {:<32} {:<22} {:>9} {:>9} {:>9} {:>9}\n",
            c["campaign_id"].as_str().unwrap_or(""),
            c["status"].as_str().unwrap_or(""),
            n(&c["sent"]),
            pct(&r["delivery_rate"]),
            pct(&r["read_rate"]),
            pct(&r["reply_rate"])
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_null_rate_shows_as_a_dash_and_numbers_get_separators() {
        let v = json!({"campaign_id":"cmp_1","name":"Cobranza","status":"completed","messages":12345,
            "unique_phones":12000,"sent":12000,"refused":345,"delivered":11000,"read":0,"replied":0,"bounced":10,
            "attended":0,"rates":{"delivery_rate":0.9167,"bounce_rate":0.0008,"read_rate":0.0,"reply_rate":null,
            "attended_rate":null,"refused_rate":0.0279},"by_status":{"sent":990},"tickets":{"open":0,"closed":12000,
            "by_close_reason":{"informative":12000}}});
        let s = campaign(&v);
        assert!(s.contains("12,345"), "{s}");
        assert!(s.contains("91.7 %"), "{s}");
        assert!(
            s.lines()
                .any(|l| l.contains("reply rate") && l.trim_end().ends_with('—')),
            "{s}"
        );
        assert!(s.contains("informative 12,000"), "{s}");
    }
}
