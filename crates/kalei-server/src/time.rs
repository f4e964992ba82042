//! Time formatting for API responses (storage keeps unix milliseconds).

use chrono::{DateTime, SecondsFormat, Utc};

/// Unix milliseconds → RFC 3339 UTC, e.g. `2026-11-22T09:30:00.123Z`.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
