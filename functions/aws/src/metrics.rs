//! CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per call,
//! which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics (no API
//! call, no extra latency). Namespace `Pregon`.

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "Pregon";

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF document: `dimensions` (name, value) and `metrics` (name, value, unit).
/// Metrics whose value is 0 are still written (a rate needs its zeros).
pub fn document(dimensions: &[(&str, &str)], metrics: &[(&str, f64, Unit)], at_ms: u64) -> Value {
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": metrics.iter().map(|(n, _, u)| json!({"Name": n, "Unit": u.as_str()})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (k, v) in dimensions {
        doc.insert((*k).into(), json!(v));
    }
    for (n, v, _) in metrics {
        doc.insert((*n).into(), json!(v));
    }
    Value::Object(doc)
}

/// Writes one EMF document to stdout.
pub fn emit(dimensions: &[(&str, &str)], metrics: &[(&str, f64, Unit)]) {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    println!("{}", document(dimensions, metrics, at));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_declares_its_metrics_and_carries_their_values() {
        let d = document(
            &[("Provider", "meta")],
            &[
                ("MessagesSent", 9.0, Unit::Count),
                ("ProviderLatency", 120.0, Unit::Milliseconds),
            ],
            1_764_600_000_000,
        );
        let cw = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Pregon");
        assert_eq!(cw["Dimensions"], json!([["Provider"]]));
        assert_eq!(
            cw["Metrics"][1],
            json!({"Name": "ProviderLatency", "Unit": "Milliseconds"})
        );
        assert_eq!(d["_aws"]["Timestamp"], 1_764_600_000_000u64);
        assert_eq!(
            (d["Provider"].as_str(), d["MessagesSent"].as_f64()),
            (Some("meta"), Some(9.0))
        );
    }
}
