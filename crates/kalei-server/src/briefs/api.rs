//! Weekly brief endpoints: `GET /v1/briefs/current` (with `show_overlay`),
//! `GET /v1/briefs/{brief}` and `POST /v1/briefs/{brief}/events`.
//!
//! `{brief}` is a brief id or any date (`YYYY-MM-DD`) of the brief's week.
//! Overlay rules (documented in README):
//! - `show_overlay` is true on the first `GET /v1/briefs/current` after the
//!   brief exists, once: answering true records `first_shown_at`. It is
//!   false for an empty week, after a soft or hard dismissal, while weekly
//!   briefs are disabled, and in weeks the frequency does not offer.
//! - `dismiss_soft` hides the overlay of this week only; `dismiss_hard` also
//!   sets `weekly_brief_enabled = false` (no overlays, no pushes); briefs
//!   are still generated and reachable.
//! - Re-enable: while disabled, opening a brief with `GET /v1/briefs/{brief}`
//!   or an `engaged` event on a brief other than the hard-dismissed one sets
//!   `weekly_brief_enabled` back to true. `GET /v1/briefs/current` never
//!   does: clients call it on every dashboard visit.

use axum::extract::{Path, State};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cadence;
use super::generate::{self, last_complete_week, BriefContent, READY};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::ApiJson;
use crate::spectrum::aggregate::{week_start, ymd};
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current))
        .routes(routes!(get_brief))
        .routes(routes!(post_event))
}

/// What the client reported about the brief so far.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BriefState {
    /// When the overlay was first offered (`show_overlay: true`).
    pub first_shown_at: Option<String>,
    /// Last deliberate open (`GET /v1/briefs/{brief}`).
    pub opened_at: Option<String>,
    /// `soft`, `hard`, or null.
    #[schema(example = "soft")]
    pub dismissed: Option<String>,
    pub dismissed_at: Option<String>,
    #[schema(example = 2)]
    pub impressions: i64,
    pub engaged_at: Option<String>,
    /// Total reported viewing time.
    #[schema(example = 5400)]
    pub engagement_ms: i64,
    /// Deepest scroll reported, 0–1.
    #[schema(example = 0.6)]
    pub max_scroll_depth: f64,
}

/// One week's brief. On the free plan (`teaser: true`) the insight is cut
/// to its first sentence and patterns and mood are left out.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BriefView {
    pub id: String,
    /// The local Monday the week starts on.
    #[schema(example = "2026-03-02")]
    pub week_of: String,
    /// `ready`, or `empty` for a week without entries.
    #[schema(example = "ready")]
    pub status: String,
    pub generated_at: String,
    pub teaser: bool,
    /// Show the brief overlay now (only ever true on `/v1/briefs/current`).
    pub show_overlay: bool,
    /// Current `weekly_brief_enabled` preference.
    pub briefs_enabled: bool,
    #[serde(flatten)]
    pub content: BriefContent,
    pub state: BriefState,
}

#[derive(sqlx::FromRow)]
struct BriefRow {
    id: String,
    week_start: String,
    status: String,
    content: String,
    generated_at: i64,
    first_shown_at: Option<i64>,
    opened_at: Option<i64>,
    dismissed_at: Option<i64>,
    dismiss_kind: Option<String>,
    impressions: i64,
    engaged_at: Option<i64>,
    engagement_ms: i64,
    max_scroll_depth: f64,
}

const COLUMNS: &str =
    "id, week_start, status, content, generated_at, first_shown_at, opened_at, dismissed_at, \
    dismiss_kind, impressions, engaged_at, engagement_ms, max_scroll_depth";

async fn by_week(
    state: &AppState,
    user_id: &str,
    monday: NaiveDate,
) -> ApiResult<Option<BriefRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM weekly_briefs WHERE user_id = $1 AND week_start = $2"
    ))
    .bind(user_id)
    .bind(ymd(monday))
    .fetch_optional(state.db.pool())
    .await?)
}

async fn by_id(state: &AppState, user_id: &str, id: &str) -> ApiResult<Option<BriefRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM weekly_briefs WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?)
}

fn no_brief() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "no_brief",
        "There is no brief for a week before your account existed; your first one follows your first full week.",
    )
}

/// The brief of a complete week, generated on first request when the weekly
/// job has not run yet (aggregating the week first if needed). Weeks that
/// ended before the account existed have none.
async fn ensure(state: &AppState, user_id: &str, monday: NaiveDate) -> ApiResult<BriefRow> {
    if let Some(row) = by_week(state, user_id, monday).await? {
        return Ok(row);
    }
    let created_at: i64 = sqlx::query_scalar("SELECT created_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(state.db.pool())
        .await?;
    let tz = crate::spectrum::user_tz(state, user_id).await?;
    let sunday = ymd(monday + chrono::Duration::days(6));
    if sunday < crate::spectrum::local_date(created_at, tz) {
        return Err(no_brief());
    }
    if generate::generate(state, user_id, monday)
        .await
        .map_err(ApiError::internal)?
        .is_none()
    {
        crate::spectrum::periodic::run_weekly(state, user_id, monday)
            .await
            .map_err(ApiError::internal)?;
        generate::generate(state, user_id, monday)
            .await
            .map_err(ApiError::internal)?;
    }
    by_week(state, user_id, monday)
        .await?
        .ok_or_else(|| ApiError::internal("brief missing after generation"))
}

/// `{brief}`: a date of the week, or a brief id.
enum Target {
    Week(NaiveDate),
    Id(String),
}

/// Dates outside 1970–9999 are rejected up front: week arithmetic near
/// chrono's limits would overflow, and no brief can exist there anyway.
fn target(raw: &str) -> ApiResult<Target> {
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) if (1970..=9999).contains(&d.year()) => Ok(Target::Week(week_start(d))),
        Ok(_) => Err(ApiError::field(
            "week_of",
            "must be a date between 1970 and 9999",
        )),
        Err(_) => Ok(Target::Id(raw.to_string())),
    }
}

async fn teaser(state: &AppState, user_id: &str) -> ApiResult<bool> {
    let plan = crate::entitlements::plan_of(state, user_id).await?;
    Ok(state.config.plans.limits(&plan).spectrum_weekly != "full")
}

fn view(
    row: BriefRow,
    teaser: bool,
    show_overlay: bool,
    briefs_enabled: bool,
) -> ApiResult<BriefView> {
    let mut content: BriefContent =
        serde_json::from_str(&row.content).map_err(ApiError::internal)?;
    if teaser {
        content.insight.text = crate::spectrum::insight::sentences(&content.insight.text)
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default();
        content.top_patterns.clear();
        content.mean_valence = None;
        content.valence_change = None;
    }
    Ok(BriefView {
        id: row.id,
        week_of: row.week_start,
        status: row.status,
        generated_at: rfc3339(row.generated_at),
        teaser,
        show_overlay,
        briefs_enabled,
        content,
        state: BriefState {
            first_shown_at: row.first_shown_at.map(rfc3339),
            opened_at: row.opened_at.map(rfc3339),
            dismissed: row.dismiss_kind,
            dismissed_at: row.dismissed_at.map(rfc3339),
            impressions: row.impressions,
            engaged_at: row.engaged_at.map(rfc3339),
            engagement_ms: row.engagement_ms,
            max_scroll_depth: row.max_scroll_depth,
        },
    })
}

/// Turns weekly briefs on or off (the `weekly_brief_enabled` preference).
async fn set_enabled(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    enabled: bool,
    now: i64,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO user_preferences (user_id, weekly_brief_enabled, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET weekly_brief_enabled = excluded.weekly_brief_enabled, \
           updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(enabled as i64)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const BRIEF_EXAMPLE: &str = r#"{"id": "0195f3c2-8a6b-7c1d-9e2f-3a4b5c6d7e8f", "week_of": "2026-03-02", "status": "ready",
  "generated_at": "2026-03-09T08:05:12.000Z", "teaser": false, "show_overlay": true, "briefs_enabled": true,
  "week_end": "2026-03-08", "headline": "Your week: 3 sessions and 2 turns.", "sessions": 3, "turns": 2, "active_days": 4,
  "top_patterns": [{"type": "catastrophizing", "count": 3}], "mean_valence": 0.12, "valence_change": 0.1,
  "insight": {"text": "This week you wrote 3 sessions and worked through 2 thoughts.", "status": "complete", "prompt_version": "spectrum-weekly/local-templates@0.1.0"},
  "state": {"first_shown_at": "2026-03-09T18:30:00.000Z", "opened_at": null, "dismissed": null, "dismissed_at": null,
            "impressions": 0, "engaged_at": null, "engagement_ms": 0, "max_scroll_depth": 0.0}}"#;

fn example() -> serde_json::Value {
    serde_json::from_str(BRIEF_EXAMPLE).unwrap_or_default()
}

/// The brief of your last complete week (Monday–Sunday in your time zone),
/// generated now if the weekly job has not run yet; a week without entries
/// gets a friendly `empty` brief. `show_overlay` is true once, on the first
/// call after the brief exists, unless the week is empty, the brief was
/// dismissed, weekly briefs are disabled, or your frequency skips this week.
#[utoipa::path(get, path = "/v1/briefs/current", tag = "briefs", security(("bearer" = [])),
    responses(
        (status = 200, description = "The brief of the last complete week", body = BriefView, example = json!(example())),
        (status = 404, description = "Your account is younger than a full week (`no_brief`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn current(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<BriefView>> {
    let now = state.clock.now_ms();
    let tz = crate::spectrum::user_tz(&state, &user.user_id).await?;
    let monday = last_complete_week(tz, now);
    let mut row = ensure(&state, &user.user_id, monday).await?;
    let prefs = crate::preferences::load(&state, &user.user_id).await?;
    let mut show = row.status == READY
        && cadence::allows(&prefs, monday)
        && row.dismissed_at.is_none()
        && row.first_shown_at.is_none();
    if show {
        // Conditional, so two racing visits cannot both get the overlay.
        show = sqlx::query(
            "UPDATE weekly_briefs SET first_shown_at = $1 WHERE user_id = $2 AND id = $3 \
             AND first_shown_at IS NULL AND dismissed_at IS NULL",
        )
        .bind(now)
        .bind(&user.user_id)
        .bind(&row.id)
        .execute(state.db.pool())
        .await?
        .rows_affected()
            == 1;
        if show {
            row.first_shown_at = Some(now);
        }
    }
    let teaser = teaser(&state, &user.user_id).await?;
    Ok(ApiJson(view(
        row,
        teaser,
        show,
        prefs.weekly_brief_enabled,
    )?))
}

/// Open a brief: by any date of its week (`YYYY-MM-DD`) or by its id. Past
/// weeks are generated on demand. Opening a brief while weekly briefs are
/// disabled turns them back on.
#[utoipa::path(get, path = "/v1/briefs/{brief}", tag = "briefs", security(("bearer" = [])),
    params(("brief" = String, Path, description = "A date of the week (`YYYY-MM-DD`, e.g. its Monday) or the brief id", example = "2026-03-02")),
    responses(
        (status = 200, description = "The brief", body = BriefView),
        (status = 404, description = "No such brief of yours, or a week before your account existed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The week has not ended yet", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_brief(
    State(state): State<AppState>,
    user: AuthUser,
    Path(brief): Path<String>,
) -> ApiResult<ApiJson<BriefView>> {
    let now = state.clock.now_ms();
    let mut row = match target(&brief)? {
        Target::Id(id) => by_id(&state, &user.user_id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("brief"))?,
        Target::Week(monday) => {
            let tz = crate::spectrum::user_tz(&state, &user.user_id).await?;
            if monday > last_complete_week(tz, now) {
                return Err(ApiError::field("week_of", "must be a week that has ended"));
            }
            ensure(&state, &user.user_id, monday).await?
        }
    };
    let prefs = crate::preferences::load(&state, &user.user_id).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE weekly_briefs SET opened_at = $1 WHERE user_id = $2 AND id = $3")
        .bind(now)
        .bind(&user.user_id)
        .bind(&row.id)
        .execute(&mut *tx)
        .await?;
    if !prefs.weekly_brief_enabled {
        set_enabled(&mut tx, &user.user_id, true, now).await?;
    }
    tx.commit().await?;
    row.opened_at = Some(now);
    let teaser = teaser(&state, &user.user_id).await?;
    Ok(ApiJson(view(row, teaser, false, true)?))
}

pub const EVENT_TYPES: &[&str] = &[
    "impression",
    "engaged",
    "scroll",
    "dismiss_soft",
    "dismiss_hard",
];
/// Longest viewing time one event may report (an hour); more is a client bug.
const MAX_ENGAGEMENT_MS: i64 = 3_600_000;

/// What the client saw: `impression` (the overlay became visible),
/// `engaged` (visible for a while), `scroll` (with `scroll_depth`),
/// `dismiss_soft` (hide this week), `dismiss_hard` (stop weekly briefs).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BriefEvent {
    #[serde(rename = "type")]
    #[schema(example = "engaged")]
    pub type_: String,
    /// Viewing time to add, 0–3600000.
    #[schema(example = 4200)]
    pub engagement_ms: Option<i64>,
    /// 0–1; required with `scroll`, not allowed otherwise.
    #[schema(example = 0.6)]
    pub scroll_depth: Option<f64>,
}

fn check_event(e: &BriefEvent) -> ApiResult<()> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    if !EVENT_TYPES.contains(&e.type_.as_str()) {
        bad(
            "type",
            "must be impression, engaged, scroll, dismiss_soft or dismiss_hard",
        );
    }
    if e.engagement_ms
        .is_some_and(|ms| !(0..=MAX_ENGAGEMENT_MS).contains(&ms))
    {
        bad("engagement_ms", "must be between 0 and 3600000");
    }
    match (e.type_.as_str(), e.scroll_depth) {
        ("scroll", None) => bad("scroll_depth", "is required with type scroll"),
        ("scroll", Some(d)) if !(0.0..=1.0).contains(&d) => {
            bad("scroll_depth", "must be between 0 and 1")
        }
        ("scroll", Some(_)) => {}
        (_, Some(_)) => bad("scroll_depth", "is only allowed with type scroll"),
        (_, None) => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Record what happened to a brief on the client. Answers the brief with
/// its updated state (`show_overlay` is always false here).
#[utoipa::path(post, path = "/v1/briefs/{brief}/events", tag = "briefs", security(("bearer" = [])),
    params(("brief" = String, Path, description = "The brief id, or a date of its week (`YYYY-MM-DD`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body(content = BriefEvent, example = json!({"type": "engaged", "engagement_ms": 4200})),
    responses(
        (status = 200, description = "The brief with its updated state", body = BriefView),
        (status = 404, description = "No such brief of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown type or out-of-range values", body = Problem, content_type = "application/problem+json"),
    ))]
async fn post_event(
    State(state): State<AppState>,
    user: AuthUser,
    Path(brief): Path<String>,
    ApiJson(event): ApiJson<BriefEvent>,
) -> ApiResult<ApiJson<BriefView>> {
    check_event(&event)?;
    let row = match target(&brief)? {
        Target::Id(id) => by_id(&state, &user.user_id, &id).await?,
        Target::Week(monday) => by_week(&state, &user.user_id, monday).await?,
    }
    .ok_or_else(|| ApiError::not_found("brief"))?;
    let now = state.clock.now_ms();
    let prefs = crate::preferences::load(&state, &user.user_id).await?;
    let mut enabled = prefs.weekly_brief_enabled;
    // $1 is the time, or the depth for `scroll`; every statement binds
    // exactly the placeholders it names (Postgres rejects unused ones).
    let change = match event.type_.as_str() {
        "impression" => "impressions = impressions + 1, first_shown_at = COALESCE(first_shown_at, $1)",
        "engaged" => "engaged_at = COALESCE(engaged_at, $1)",
        "scroll" => "max_scroll_depth = CASE WHEN max_scroll_depth < $1 THEN $1 ELSE max_scroll_depth END",
        "dismiss_soft" => {
            "dismissed_at = $1, dismiss_kind = CASE WHEN dismiss_kind = 'hard' THEN 'hard' ELSE 'soft' END"
        }
        _ => "dismissed_at = $1, dismiss_kind = 'hard'",
    };
    let sql = format!("UPDATE weekly_briefs SET {change} WHERE user_id = $2 AND id = $3");
    let mut tx = state.db.begin().await?;
    let update = match event.scroll_depth {
        Some(depth) => sqlx::query(&sql).bind(depth),
        None => sqlx::query(&sql).bind(now),
    };
    update
        .bind(&user.user_id)
        .bind(&row.id)
        .execute(&mut *tx)
        .await?;
    if let Some(ms) = event.engagement_ms.filter(|&ms| ms > 0) {
        sqlx::query("UPDATE weekly_briefs SET engagement_ms = engagement_ms + $1 WHERE user_id = $2 AND id = $3")
            .bind(ms)
            .bind(&user.user_id)
            .bind(&row.id)
            .execute(&mut *tx)
            .await?;
    }
    match event.type_.as_str() {
        "dismiss_hard" if enabled => {
            set_enabled(&mut tx, &user.user_id, false, now).await?;
            enabled = false;
        }
        // A trailing `engaged` from the overlay the user just turned off
        // must not undo that; engaging with any other brief does.
        "engaged" if !enabled && row.dismiss_kind.as_deref() != Some("hard") => {
            set_enabled(&mut tx, &user.user_id, true, now).await?;
            enabled = true;
        }
        _ => {}
    }
    tx.commit().await?;
    let row = by_id(&state, &user.user_id, &row.id)
        .await?
        .ok_or_else(|| ApiError::not_found("brief"))?;
    let teaser = teaser(&state, &user.user_id).await?;
    Ok(ApiJson(view(row, teaser, false, enabled)?))
}
