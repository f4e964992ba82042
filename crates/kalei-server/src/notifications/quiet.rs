//! Quiet hours: a window of local wall-clock time (default 22:00–08:00) in
//! which no push goes out. A notification due inside it is scheduled for the
//! window's end in the user's time zone (DST-safe via `kalei_store::jobs::tz`).

use chrono::{NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;

/// A local-time window; `start > end` wraps midnight, `start == end` is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// `HH:MM` (24-hour) → a time of day.
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

impl QuietHours {
    pub fn parse(start: &str, end: &str) -> Option<QuietHours> {
        Some(QuietHours {
            start: parse_hhmm(start)?,
            end: parse_hhmm(end)?,
        })
    }

    fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// When a push due at `now_ms` may go out: `now_ms` outside quiet hours,
    /// else the next end of the window in `tz`.
    pub fn release_at(&self, tz: Tz, now_ms: i64) -> i64 {
        let Some(local) = tz.timestamp_millis_opt(now_ms).single() else {
            return now_ms;
        };
        let t = local.time().with_nanosecond(0).unwrap_or(local.time());
        if !self.contains(t) {
            return now_ms;
        }
        kalei_store::jobs::tz::next_daily(tz, self.end.hour(), self.end.minute(), now_ms)
            .unwrap_or(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn wrapping_window_delays_to_its_local_end() {
        let q = QuietHours::parse("22:00", "08:00").unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 22:30 UTC on 2026-03-09 is 23:30 in Berlin (CET): wait until 08:00 CET = 07:00 UTC.
        assert_eq!(
            q.release_at(berlin, at(2026, 3, 9, 22, 30)),
            at(2026, 3, 10, 7, 0)
        );
        // 01:00 Berlin, after midnight: the same morning.
        assert_eq!(
            q.release_at(berlin, at(2026, 3, 10, 0, 0)),
            at(2026, 3, 10, 7, 0)
        );
        // 12:00 Berlin: now.
        assert_eq!(
            q.release_at(berlin, at(2026, 3, 10, 11, 0)),
            at(2026, 3, 10, 11, 0)
        );
        // 08:00 sharp is outside.
        assert_eq!(
            q.release_at(berlin, at(2026, 3, 10, 7, 0)),
            at(2026, 3, 10, 7, 0)
        );
    }

    #[test]
    fn same_day_and_empty_windows() {
        let q = QuietHours::parse("13:00", "14:00").unwrap();
        assert_eq!(
            q.release_at(Tz::UTC, at(2026, 3, 10, 13, 30)),
            at(2026, 3, 10, 14, 0)
        );
        assert_eq!(
            q.release_at(Tz::UTC, at(2026, 3, 10, 12, 59)),
            at(2026, 3, 10, 12, 59)
        );
        let none = QuietHours::parse("08:00", "08:00").unwrap();
        assert_eq!(
            none.release_at(Tz::UTC, at(2026, 3, 10, 8, 0)),
            at(2026, 3, 10, 8, 0)
        );
    }

    #[test]
    fn bad_times_are_rejected() {
        assert!(parse_hhmm("24:00").is_none());
        assert!(parse_hhmm("7:00").is_none());
        assert!(parse_hhmm("07:60").is_none());
    }
}
