//! Per-user schedules in the user's time zone: the next local occurrence of
//! "Monday 08:00 in Europe/Berlin" as a UTC instant, DST-safe, and the week and
//! month keys used in unique keys (`weekly:{user}:{iso-week}`).
//!
//! Daylight-saving rules: a local time that does not exist (spring forward,
//! e.g. 02:30 on the last Sunday of March in Berlin) is read with the offset in
//! force before the gap, so it lands as far after the gap's start as it was
//! meant to (02:30 → 03:30 CEST); a local time that exists twice (fall back)
//! resolves to the first of the two.

use chrono::{
    Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday,
};
use chrono_tz::Tz;

use crate::error::{StoreError, StoreResult};

/// Parses an IANA zone name (`Europe/Berlin`); `UTC` for an empty string.
pub fn parse_tz(name: &str) -> StoreResult<Tz> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>()
        .map_err(|_| StoreError::Other(format!("unknown time zone `{name}`")))
}

/// The UTC instant (unix ms) of local wall time `local` in `tz`, with the DST
/// rules of the module docs.
pub fn local_to_utc_ms(tz: Tz, local: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(dt) => dt.timestamp_millis(),
        LocalResult::Ambiguous(first, second) => {
            first.timestamp_millis().min(second.timestamp_millis())
        }
        LocalResult::None => {
            // In a gap: use the offset from well before it (transitions are
            // months apart, so 26 hours earlier is safely on the other side).
            let before = tz.offset_from_utc_datetime(&(local - Duration::hours(26)));
            let offset = chrono::Offset::fix(&before);
            (local - Duration::seconds(i64::from(offset.local_minus_utc())))
                .and_utc()
                .timestamp_millis()
        }
    }
}

fn local_date(tz: Tz, ms: i64) -> NaiveDate {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|dt| dt.date_naive())
        .unwrap_or_else(|| chrono::DateTime::UNIX_EPOCH.date_naive())
}

fn time_of(hour: u32, minute: u32) -> StoreResult<NaiveTime> {
    NaiveTime::from_hms_opt(hour, minute, 0)
        .ok_or_else(|| StoreError::Other(format!("invalid local time {hour:02}:{minute:02}")))
}

/// The first instant strictly after `after_ms` at which it is `hour:minute`
/// local time in `tz`.
pub fn next_daily(tz: Tz, hour: u32, minute: u32, after_ms: i64) -> StoreResult<i64> {
    let t = time_of(hour, minute)?;
    let start = local_date(tz, after_ms) - Duration::days(1);
    for d in 0..4 {
        let at = local_to_utc_ms(tz, (start + Duration::days(d)).and_time(t));
        if at > after_ms {
            return Ok(at);
        }
    }
    Err(StoreError::Other("no daily occurrence found".into()))
}

/// The first instant strictly after `after_ms` at which it is `weekday`
/// `hour:minute` local time in `tz` (e.g. Monday 08:00 in Europe/Berlin).
pub fn next_weekly(
    tz: Tz,
    weekday: Weekday,
    hour: u32,
    minute: u32,
    after_ms: i64,
) -> StoreResult<i64> {
    let t = time_of(hour, minute)?;
    let start = local_date(tz, after_ms) - Duration::days(1);
    for d in 0..16 {
        let date = start + Duration::days(d);
        if date.weekday() != weekday {
            continue;
        }
        let at = local_to_utc_ms(tz, date.and_time(t));
        if at > after_ms {
            return Ok(at);
        }
    }
    Err(StoreError::Other("no weekly occurrence found".into()))
}

/// The first instant strictly after `after_ms` at which it is day `day` of the
/// month, `hour:minute` local time in `tz`. A day past the month's end means
/// its last day (31 → 30 April, 28/29 February).
pub fn next_monthly(tz: Tz, day: u32, hour: u32, minute: u32, after_ms: i64) -> StoreResult<i64> {
    if !(1..=31).contains(&day) {
        return Err(StoreError::Other(format!("invalid day of month {day}")));
    }
    let t = time_of(hour, minute)?;
    let today = local_date(tz, after_ms);
    let (mut y, mut m) = (today.year(), today.month());
    // Start a month back (the zone may put `after_ms` on another local day).
    if m == 1 {
        y -= 1;
        m = 12;
    } else {
        m -= 1;
    }
    for _ in 0..4 {
        let last = last_day_of_month(y, m);
        let date = NaiveDate::from_ymd_opt(y, m, day.min(last))
            .ok_or_else(|| StoreError::Other("invalid date".into()))?;
        let at = local_to_utc_ms(tz, date.and_time(t));
        if at > after_ms {
            return Ok(at);
        }
        if m == 12 {
            y += 1;
            m = 1;
        } else {
            m += 1;
        }
    }
    Err(StoreError::Other("no monthly occurrence found".into()))
}

fn last_day_of_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

/// The ISO week of instant `ms` in `tz`, as `2026-W09` (for unique keys).
pub fn iso_week_key(tz: Tz, ms: i64) -> String {
    let w = local_date(tz, ms).iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The local month of instant `ms` in `tz`, as `2026-03`.
pub fn month_key(tz: Tz, ms: i64) -> String {
    let d = local_date(tz, ms);
    format!("{}-{:02}", d.year(), d.month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
            .timestamp_millis()
    }

    fn show(ms: i64) -> String {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    #[test]
    fn monday_eight_in_berlin_winter_and_summer() {
        // Wed 2026-01-14 → Mon 2026-01-19 08:00 CET = 07:00Z.
        let at = next_weekly(BERLIN, Weekday::Mon, 8, 0, utc("2026-01-14T12:00:00Z")).unwrap();
        assert_eq!(show(at), "2026-01-19T07:00:00Z");
        // Summer (CEST, +2).
        let at = next_weekly(BERLIN, Weekday::Mon, 8, 0, utc("2026-07-01T00:00:00Z")).unwrap();
        assert_eq!(show(at), "2026-07-06T06:00:00Z");
    }

    #[test]
    fn weekly_is_strictly_after() {
        let monday_8 = utc("2026-01-19T07:00:00Z");
        assert_eq!(
            show(next_weekly(BERLIN, Weekday::Mon, 8, 0, monday_8 - 1).unwrap()),
            "2026-01-19T07:00:00Z"
        );
        assert_eq!(
            show(next_weekly(BERLIN, Weekday::Mon, 8, 0, monday_8).unwrap()),
            "2026-01-26T07:00:00Z"
        );
    }

    #[test]
    fn weekly_across_the_dst_change_keeps_local_time() {
        // Europe switches on Sun 2026-03-29; the Monday before is CET, after CEST.
        let a = next_weekly(BERLIN, Weekday::Mon, 8, 0, utc("2026-03-20T00:00:00Z")).unwrap();
        let b = next_weekly(BERLIN, Weekday::Mon, 8, 0, a).unwrap();
        assert_eq!(show(a), "2026-03-23T07:00:00Z");
        assert_eq!(show(b), "2026-03-30T06:00:00Z");
        assert_eq!(b - a, (7 * 24 - 1) * 3_600_000);
    }

    #[test]
    fn local_date_differs_from_utc_date() {
        // 23:30Z Sunday is already Monday 08:30 in Tokyo: Monday 08:00 Tokyo is
        // 30 minutes in the past, so the next one is a week later.
        let tokyo: Tz = chrono_tz::Asia::Tokyo;
        let at = next_weekly(tokyo, Weekday::Mon, 8, 0, utc("2026-01-18T23:30:00Z")).unwrap();
        assert_eq!(show(at), "2026-01-25T23:00:00Z");
        // And in Los Angeles, Sunday 20:00Z is still Sunday morning.
        let la: Tz = chrono_tz::America::Los_Angeles;
        let at = next_weekly(la, Weekday::Sun, 8, 0, utc("2026-01-18T15:00:00Z")).unwrap();
        assert_eq!(show(at), "2026-01-18T16:00:00Z");
    }

    #[test]
    fn spring_forward_gap_shifts_by_the_gap() {
        // 02:30 does not exist in Berlin on 2026-03-29 (02:00 → 03:00).
        let at = next_daily(BERLIN, 2, 30, utc("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(show(at), "2026-03-29T01:30:00Z"); // 03:30 CEST
                                                      // The day after is normal again.
        assert_eq!(
            show(next_daily(BERLIN, 2, 30, at).unwrap()),
            "2026-03-30T00:30:00Z"
        );
    }

    #[test]
    fn fall_back_overlap_takes_the_first() {
        // 02:30 exists twice in Berlin on 2026-10-25; the first is CEST (00:30Z).
        let at = next_daily(BERLIN, 2, 30, utc("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(show(at), "2026-10-25T00:30:00Z");
        // It fires once that day, not again at the repeated 02:30 CET.
        assert_eq!(
            show(next_daily(BERLIN, 2, 30, at).unwrap()),
            "2026-10-26T01:30:00Z"
        );
    }

    #[test]
    fn monthly_clamps_to_month_end() {
        let at = next_monthly(BERLIN, 31, 9, 0, utc("2026-04-02T00:00:00Z")).unwrap();
        assert_eq!(show(at), "2026-04-30T07:00:00Z");
        let at = next_monthly(BERLIN, 31, 9, 0, at).unwrap();
        assert_eq!(show(at), "2026-05-31T07:00:00Z");
        let at = next_monthly(Tz::UTC, 30, 0, 0, utc("2028-02-01T00:00:00Z")).unwrap();
        assert_eq!(show(at), "2028-02-29T00:00:00Z");
        let at = next_monthly(Tz::UTC, 1, 0, 0, utc("2026-12-15T00:00:00Z")).unwrap();
        assert_eq!(show(at), "2027-01-01T00:00:00Z");
        assert!(next_monthly(Tz::UTC, 0, 0, 0, 0).is_err());
    }

    #[test]
    fn keys_use_the_local_calendar() {
        // Sunday 2026-01-04 23:30Z is Monday (ISO week 2) in Berlin.
        let ms = utc("2026-01-04T23:30:00Z");
        assert_eq!(iso_week_key(Tz::UTC, ms), "2026-W01");
        assert_eq!(iso_week_key(BERLIN, ms), "2026-W02");
        // ISO week-years: 2027-01-01 is in 2026-W53.
        assert_eq!(
            iso_week_key(Tz::UTC, utc("2027-01-01T12:00:00Z")),
            "2026-W53"
        );
        assert_eq!(month_key(BERLIN, utc("2026-01-31T23:30:00Z")), "2026-02");
    }

    #[test]
    fn zone_names_parse() {
        assert_eq!(parse_tz("Europe/Berlin").unwrap(), BERLIN);
        assert_eq!(parse_tz("").unwrap(), Tz::UTC);
        assert!(parse_tz("Mars/Olympus").is_err());
        assert!(next_daily(BERLIN, 24, 0, 0).is_err());
    }
}
