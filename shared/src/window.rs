//! Sending windows (SPEC §3 `send_window`): messages are enqueued only inside the
//! campaign's `{timezone, days, from, to}`; outside it dispatch waits and resumes at the
//! next opening by itself. Times are read in the window's IANA time zone (daylight
//! saving included); a window whose `to` is not after its `from` runs past midnight.
//! The clock is a parameter, so the rule is tested at any hour without waiting for it.

use crate::model::SendWindow;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

fn weekday(day: &str) -> Option<Weekday> {
    Some(match day {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

fn hhmm(s: &str) -> Result<Time, String> {
    let (h, m) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not HH:MM"))?;
    let h: i8 = h.parse().map_err(|_| format!("'{s}' is not HH:MM"))?;
    let m: i8 = m.parse().map_err(|_| format!("'{s}' is not HH:MM"))?;
    Time::new(h, m, 0, 0).map_err(|e| e.to_string())
}

/// How long until the window opens at `now`: `Ok(None)` when it is open now,
/// `Ok(Some(seconds))` otherwise. Errors name a bad time zone, day or time.
pub fn opens_in(w: &SendWindow, now: Timestamp) -> Result<Option<i64>, String> {
    let tz = TimeZone::get(&w.timezone)
        .map_err(|_| format!("'{}' is not an IANA time zone", w.timezone))?;
    let days: Vec<Weekday> = w
        .days
        .iter()
        .map(|d| weekday(d).ok_or_else(|| format!("'{d}' is not a day (mon…sun)")))
        .collect::<Result<_, _>>()?;
    let (from, to) = (hhmm(&w.from)?, hhmm(&w.to)?);
    let local = now.to_zoned(tz.clone());
    let (date, t) = (local.date(), local.time());
    let overnight = to <= from;
    let open = if overnight {
        let yesterday = date.yesterday().map_err(|e| e.to_string())?;
        (days.contains(&date.weekday()) && t >= from)
            || (days.contains(&yesterday.weekday()) && t < to)
    } else {
        days.contains(&date.weekday()) && t >= from && t < to
    };
    if open {
        return Ok(None);
    }
    // The next opening: today or one of the next seven days, at `from`.
    for ahead in 0..=7 {
        let day = date
            .checked_add(jiff::Span::new().days(ahead))
            .map_err(|e| e.to_string())?;
        if !days.contains(&day.weekday()) {
            continue;
        }
        let opening = day
            .to_datetime(from)
            .to_zoned(tz.clone())
            .map_err(|e| e.to_string())?
            .timestamp();
        if opening > now {
            return Ok(Some(opening.as_second() - now.as_second()));
        }
    }
    Err("the window never opens".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[&str], from: &str, to: &str) -> SendWindow {
        SendWindow {
            timezone: "America/Santiago".into(),
            days: days.iter().map(|d| d.to_string()).collect(),
            from: from.into(),
            to: to.into(),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn inside_the_window_it_is_open_in_the_windows_own_time_zone() {
        let w = window(&["mon", "tue", "wed", "thu", "fri"], "09:00", "20:00");
        // Tuesday 2026-11-24 10:00 in Santiago (UTC-3 in summer) is 13:00 UTC.
        assert_eq!(opens_in(&w, at("2026-11-24T13:00:00Z")), Ok(None));
        // 08:59 there: opens in a minute.
        assert_eq!(opens_in(&w, at("2026-11-24T11:59:00Z")), Ok(Some(60)));
        // 20:00 there: closed, opens Wednesday 09:00, 13 hours later.
        assert_eq!(
            opens_in(&w, at("2026-11-24T23:00:00Z")),
            Ok(Some(13 * 3600))
        );
    }

    #[test]
    fn after_friday_it_opens_on_monday() {
        let w = window(&["mon", "tue", "wed", "thu", "fri"], "09:00", "20:00");
        // Saturday 2026-11-28 12:00 Santiago → Monday 2026-11-30 09:00: 45 hours.
        assert_eq!(
            opens_in(&w, at("2026-11-28T15:00:00Z")),
            Ok(Some(45 * 3600))
        );
    }

    #[test]
    fn an_overnight_window_runs_past_midnight() {
        let w = window(&["fri"], "22:00", "02:00");
        // Saturday 01:00 Santiago belongs to Friday's window.
        assert_eq!(opens_in(&w, at("2026-11-28T04:00:00Z")), Ok(None));
        assert!(opens_in(&w, at("2026-11-28T06:00:00Z")).unwrap().is_some());
    }

    #[test]
    fn a_bad_time_zone_is_named() {
        let mut w = window(&["mon"], "09:00", "10:00");
        w.timezone = "Mars/Olympus".into();
        assert!(opens_in(&w, at("2026-11-24T13:00:00Z"))
            .unwrap_err()
            .contains("Mars/Olympus"));
    }
}
