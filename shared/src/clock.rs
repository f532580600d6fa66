//! The wall clock, as every part reads it: unix seconds, unix milliseconds, RFC 3339.

/// Unix time in seconds (TTLs, claims' `counted_at`, caches).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Unix time in milliseconds (claims are held until such a time).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now in RFC 3339, UTC (the time every record and answer carries).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_readings_agree() {
        let (s, ms) = (unix_now(), now_ms());
        assert!((ms / 1000 - s).abs() <= 1, "{s} {ms}");
        let t = crate::model::parse_time(&now_rfc3339()).unwrap();
        assert!((t.unix_timestamp() - s).abs() <= 1);
    }
}
