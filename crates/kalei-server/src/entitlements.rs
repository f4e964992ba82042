//! Plans and daily caps. A user's plan comes from their active subscription
//! (default `free`); caps are counted per user per local day in the shared
//! counters (so every replica agrees), reserved atomically so concurrent
//! requests cannot pass the limit. Over the cap: 429 naming the limit and
//! when it resets.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use kalei_store::counters::Reservation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::http::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_entitlements))
}

/// Limits and features of one plan. `None` means unlimited.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    pub turns_per_day: Option<u32>,
    pub mirror_sessions_per_day: Option<u32>,
    /// `teaser` (headline only) or `full`.
    #[schema(example = "full")]
    pub spectrum_weekly: String,
    pub spectrum_monthly: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlansConfig {
    pub free: PlanLimits,
    pub prism: PlanLimits,
    pub prism_plus: PlanLimits,
}

impl Default for PlansConfig {
    fn default() -> Self {
        Self {
            free: PlanLimits {
                turns_per_day: Some(3),
                mirror_sessions_per_day: Some(1),
                spectrum_weekly: "teaser".into(),
                spectrum_monthly: false,
            },
            prism: PlanLimits {
                turns_per_day: None,
                mirror_sessions_per_day: None,
                spectrum_weekly: "full".into(),
                spectrum_monthly: false,
            },
            prism_plus: PlanLimits {
                turns_per_day: None,
                mirror_sessions_per_day: None,
                spectrum_weekly: "full".into(),
                spectrum_monthly: true,
            },
        }
    }
}

impl PlansConfig {
    pub fn limits(&self, plan: &str) -> &PlanLimits {
        match plan {
            "prism" => &self.prism,
            "prism_plus" => &self.prism_plus,
            _ => &self.free,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Turns,
    MirrorSessions,
}

impl Cap {
    pub fn as_str(self) -> &'static str {
        match self {
            Cap::Turns => "turns_per_day",
            Cap::MirrorSessions => "mirror_sessions_per_day",
        }
    }
    fn limit(self, limits: &PlanLimits) -> Option<u32> {
        match self {
            Cap::Turns => limits.turns_per_day,
            Cap::MirrorSessions => limits.mirror_sessions_per_day,
        }
    }
}

/// The user's current plan: an active, unexpired subscription, else `free`.
pub async fn plan_of(state: &AppState, user_id: &str) -> ApiResult<String> {
    let row: Option<(String, Option<i64>)> = sqlx::query_as(
        "SELECT plan, expires_at FROM subscriptions WHERE user_id = $1 AND status = 'active'",
    )
    .bind(user_id)
    .fetch_optional(state.db.pool())
    .await?;
    let now = state.clock.now_ms();
    Ok(match row {
        Some((plan, expires)) if expires.is_none_or(|e| e > now) => plan,
        _ => "free".into(),
    })
}

/// The user's local day and when it ends (UTC), from their profile's zone.
pub async fn local_day(state: &AppState, user_id: &str) -> ApiResult<(String, DateTime<Utc>)> {
    let tz = crate::spectrum::user_tz(state, user_id).await?;
    let now = Utc
        .timestamp_millis_opt(state.clock.now_ms())
        .single()
        .unwrap_or_else(Utc::now);
    Ok(day_bounds(now, tz))
}

/// `YYYY-MM-DD` of `now` in `tz`, and the next local midnight in UTC
/// (DST-safe: the first valid instant of the next day).
pub fn day_bounds(now: DateTime<Utc>, tz: Tz) -> (String, DateTime<Utc>) {
    let local = now.with_timezone(&tz);
    let date = local.date_naive();
    let next = date.succ_opt().unwrap_or(date);
    let reset = (0..=3)
        .find_map(|h| {
            tz.from_local_datetime(
                &next.and_time(NaiveTime::from_hms_opt(h, 0, 0).expect("valid hour")),
            )
            .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(now + chrono::Duration::hours(24));
    (
        format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
        reset,
    )
}

fn cap_key(cap: Cap, user_id: &str, day: &str) -> String {
    format!("cap:{}:{user_id}:{day}", cap.as_str())
}

/// Every daily-cap counter key of `user_id` that can still exist at
/// `now_ms` (keys live 48 hours; local days run from UTC-12 to UTC+14), for
/// account purge.
pub fn user_counter_keys(user_id: &str, now_ms: i64) -> Vec<String> {
    let today = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .unwrap_or_else(Utc::now)
        .date_naive();
    let mut keys = Vec::new();
    for offset in -3..=1 {
        let day = today + chrono::Duration::days(offset);
        let day = format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day());
        for cap in [Cap::Turns, Cap::MirrorSessions] {
            keys.push(cap_key(cap, user_id, &day));
        }
    }
    keys
}

/// Counts one use of `cap` today, or answers 429 when the plan's limit is
/// reached (the counter is left unchanged then).
pub async fn consume(state: &AppState, user_id: &str, cap: Cap) -> ApiResult<()> {
    let plan = plan_of(state, user_id).await?;
    let Some(limit) = cap.limit(state.config.plans.limits(&plan)) else {
        return Ok(());
    };
    let (day, reset) = local_day(state, user_id).await?;
    let ttl = Duration::from_secs(48 * 3600);
    match state
        .counters
        .reserve(&cap_key(cap, user_id, &day), 1, limit as i64, ttl)
        .await?
    {
        Reservation::Granted(_) => Ok(()),
        Reservation::Denied(_) => {
            let wait = (reset.timestamp_millis() - state.clock.now_ms()).max(1000) / 1000;
            Err(ApiError {
                detail: format!(
                    "The {plan} plan allows {limit} per day ({}); it resets at {}.",
                    cap.as_str(),
                    reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                ..ApiError::rate_limited("daily_limit_reached", wait as u64)
            })
        }
    }
}

/// Gives back a use counted by [`consume`] when the request then failed.
pub async fn refund(state: &AppState, user_id: &str, cap: Cap) {
    if let Ok((day, _)) = local_day(state, user_id).await {
        let _ = state
            .counters
            .incr(
                &cap_key(cap, user_id, &day),
                -1,
                Duration::from_secs(48 * 3600),
            )
            .await;
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageToday {
    #[schema(example = 1)]
    pub used: i64,
    /// Null when unlimited.
    #[schema(example = 3)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Entitlements {
    /// free, prism or prism_plus
    #[schema(example = "free")]
    pub plan: String,
    pub limits: PlanLimits,
    /// Features the plan includes.
    pub features: Vec<&'static str>,
    /// Today's usage per capped feature, in the user's time zone.
    pub usage_today: BTreeMap<&'static str, UsageToday>,
    /// Local date the usage is counted for.
    #[schema(example = "2026-11-22")]
    pub day: String,
    pub resets_at: String,
}

/// Plan, features, limits and today's usage.
#[utoipa::path(get, path = "/v1/billing/entitlements", tag = "billing", security(("bearer" = [])),
    responses((status = 200, description = "What the plan includes and today's usage", body = Entitlements)))]
async fn get_entitlements(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<ApiJson<Entitlements>> {
    let plan = plan_of(&state, &user.user_id).await?;
    let limits = state.config.plans.limits(&plan).clone();
    let (day, reset) = local_day(&state, &user.user_id).await?;
    let mut usage_today = BTreeMap::new();
    for cap in [Cap::Turns, Cap::MirrorSessions] {
        let used = state
            .counters
            .get(&cap_key(cap, &user.user_id, &day))
            .await?;
        usage_today.insert(
            cap.as_str(),
            UsageToday {
                used,
                limit: cap.limit(&limits),
            },
        );
    }
    let mut features = vec!["mirror", "turn", "lens", "gallery"];
    features.push(if limits.spectrum_weekly == "full" {
        "spectrum_weekly"
    } else {
        "spectrum_weekly_teaser"
    });
    if limits.spectrum_monthly {
        features.push("spectrum_monthly");
    }
    Ok(ApiJson(Entitlements {
        plan,
        limits,
        features,
        usage_today,
        day,
        resets_at: reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_and_resets() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 23, 30, 0).unwrap();
        let (day, reset) = day_bounds(now, Tz::UTC);
        assert_eq!(day, "2026-11-22");
        assert_eq!(reset, Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        // 23:30 UTC is already the next day in Berlin.
        let (day, reset) = day_bounds(now, chrono_tz::Europe::Berlin);
        assert_eq!(day, "2026-11-23");
        assert_eq!(reset, Utc.with_ymd_and_hms(2026, 11, 23, 23, 0, 0).unwrap());
        // A midnight that does not exist (DST jump at 00:00 in Santiago).
        let now = Utc.with_ymd_and_hms(2026, 9, 5, 12, 0, 0).unwrap();
        let (_, reset) = day_bounds(now, chrono_tz::America::Santiago);
        assert!(reset > now);
    }
}
