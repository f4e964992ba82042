//! Which weeks offer the brief (overlay and "your week is ready" push) under
//! the user's `weekly_brief_frequency`. Pure and deterministic from the
//! week's Monday, so the overlay, the notification and the verification pass
//! always agree, whatever the server's time zone or the run order.

use chrono::{Datelike, NaiveDate};

use crate::preferences::Preferences;

/// A Monday long ago; biweekly counts weeks from it so the parity never jumps
/// at a year boundary (ISO week numbers go 52/53 → 1).
fn epoch_monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 5).expect("valid date")
}

/// Whether the brief of the week starting on `monday` is offered under
/// `frequency`:
/// - `weekly`: every week;
/// - `biweekly`: every other week (even week count since 1970-01-05);
/// - `monthly`: the week whose Monday is the month's first Monday (day 1–7),
///   so exactly one week per month;
/// - `never` (and anything unknown): no week.
pub fn offered(frequency: &str, monday: NaiveDate) -> bool {
    match frequency {
        "weekly" => true,
        "biweekly" => (monday - epoch_monday()).num_days().div_euclid(7) % 2 == 0,
        "monthly" => monday.day() <= 7,
        _ => false,
    }
}

/// Whether the user's preferences let the brief of `monday` be pushed at
/// them (overlay or notification). Briefs are generated and reachable
/// regardless.
pub fn allows(prefs: &Preferences, monday: NaiveDate) -> bool {
    prefs.weekly_brief_enabled && offered(&prefs.weekly_brief_frequency, monday)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn biweekly_alternates_across_year_ends() {
        let mut monday = d(2026, 11, 30);
        let mut seen = Vec::new();
        for _ in 0..8 {
            seen.push(offered("biweekly", monday));
            monday += chrono::Duration::days(7);
        }
        // Strict alternation through 2026-12-28 → 2027-01-04.
        assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    }

    #[test]
    fn monthly_is_one_week_per_month() {
        let mut monday = d(2026, 1, 5);
        let mut per_month = std::collections::BTreeMap::new();
        while monday.year() == 2026 {
            if offered("monthly", monday) {
                *per_month.entry(monday.month()).or_insert(0) += 1;
            }
            monday += chrono::Duration::days(7);
        }
        assert_eq!(per_month.len(), 12);
        assert!(per_month.values().all(|&n| n == 1));
    }

    #[test]
    fn never_and_unknown_offer_nothing() {
        assert!(offered("weekly", d(2026, 3, 2)));
        assert!(!offered("never", d(2026, 3, 2)));
        assert!(!offered("daily", d(2026, 3, 2)));
    }
}
