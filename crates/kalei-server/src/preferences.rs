//! `GET`/`PATCH /v1/me/preferences`: weekly brief, reminder time, and the
//! region whose crisis resources the user sees.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_preferences, patch_preferences))
}

pub const FREQUENCIES: &[&str] = &["weekly", "biweekly", "monthly", "never"];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preferences {
    pub weekly_brief_enabled: bool,
    /// weekly, biweekly, monthly or never
    #[schema(example = "weekly")]
    pub weekly_brief_frequency: String,
    /// Local time `HH:MM`, or null for no reminder.
    #[schema(example = "20:30")]
    pub reminder_time: Option<String>,
    /// ISO 3166-1 alpha-2 code; picks the crisis resources.
    #[schema(example = "US")]
    pub region: String,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            weekly_brief_enabled: true,
            weekly_brief_frequency: "weekly".into(),
            reminder_time: None,
            region: "US".into(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesPatch {
    pub weekly_brief_enabled: Option<bool>,
    #[schema(example = "biweekly")]
    pub weekly_brief_frequency: Option<String>,
    /// `HH:MM`; an empty string removes the reminder.
    #[schema(example = "08:00")]
    pub reminder_time: Option<String>,
    #[schema(example = "GB")]
    pub region: Option<String>,
}

/// The user's preferences (defaults when never set).
pub async fn load(state: &AppState, user_id: &str) -> ApiResult<Preferences> {
    let row: Option<(i64, String, Option<String>, String)> = sqlx::query_as(
        "SELECT weekly_brief_enabled, weekly_brief_frequency, reminder_time, region \
         FROM user_preferences WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(match row {
        Some((enabled, frequency, reminder_time, region)) => Preferences {
            weekly_brief_enabled: enabled != 0,
            weekly_brief_frequency: frequency,
            reminder_time,
            region,
        },
        None => Preferences::default(),
    })
}

/// The region for crisis resources.
pub async fn region(state: &AppState, user_id: &str) -> ApiResult<String> {
    Ok(load(state, user_id).await?.region)
}

fn valid_time(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && t[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && t[3..].parse::<u8>().is_ok_and(|m| m < 60)
        && b[0].is_ascii_digit()
        && b[3].is_ascii_digit()
}

/// Weekly brief, reminder and crisis-resource region.
#[utoipa::path(get, path = "/v1/me/preferences", tag = "me", security(("bearer" = [])),
    responses((status = 200, description = "Preferences", body = Preferences)))]
async fn get_preferences(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<ApiJson<Preferences>> {
    Ok(ApiJson(load(&state, &user.user_id).await?))
}

/// Change preferences; fields left out keep their value.
#[utoipa::path(patch, path = "/v1/me/preferences", tag = "me", security(("bearer" = [])),
    request_body = PreferencesPatch,
    responses(
        (status = 200, description = "Updated preferences", body = Preferences),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_preferences(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(patch): ApiJson<PreferencesPatch>,
) -> ApiResult<ApiJson<Preferences>> {
    let mut errors = Vec::new();
    let mut prefs = load(&state, &user.user_id).await?;
    if let Some(v) = patch.weekly_brief_enabled {
        prefs.weekly_brief_enabled = v;
    }
    if let Some(f) = patch.weekly_brief_frequency {
        if FREQUENCIES.contains(&f.as_str()) {
            prefs.weekly_brief_frequency = f;
        } else {
            errors.push(FieldError {
                field: "weekly_brief_frequency".into(),
                message: "must be weekly, biweekly, monthly or never".into(),
            });
        }
    }
    if let Some(t) = patch.reminder_time {
        if t.is_empty() {
            prefs.reminder_time = None;
        } else if valid_time(&t) {
            prefs.reminder_time = Some(t);
        } else {
            errors.push(FieldError {
                field: "reminder_time".into(),
                message: "must be HH:MM (24-hour)".into(),
            });
        }
    }
    if let Some(r) = patch.region {
        if crate::safety::resources::is_valid_region(&r) {
            prefs.region = r.to_ascii_uppercase();
        } else {
            errors.push(FieldError {
                field: "region".into(),
                message: "must be a two-letter country code".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    sqlx::query(
        "INSERT INTO user_preferences (user_id, weekly_brief_enabled, weekly_brief_frequency, reminder_time, region, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id) DO UPDATE SET weekly_brief_enabled = excluded.weekly_brief_enabled, \
           weekly_brief_frequency = excluded.weekly_brief_frequency, reminder_time = excluded.reminder_time, \
           region = excluded.region, updated_at = excluded.updated_at",
    )
    .bind(&user.user_id)
    .bind(prefs.weekly_brief_enabled as i64)
    .bind(&prefs.weekly_brief_frequency)
    .bind(prefs.reminder_time.as_deref())
    .bind(&prefs.region)
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(ApiJson(prefs))
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_validate() {
        assert!(super::valid_time("08:00"));
        assert!(super::valid_time("23:59"));
        assert!(!super::valid_time("24:00"));
        assert!(!super::valid_time("8:00"));
        assert!(!super::valid_time("08:60"));
    }
}
