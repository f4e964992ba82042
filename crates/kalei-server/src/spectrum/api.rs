//! Spectrum endpoints: the weekly feed, the monthly deep dive, reset and
//! exclusions. Read endpoints carry an `ETag` (hash of the body) and
//! `Cache-Control: private, max-age=60` and answer 304 to a matching
//! `If-None-Match`; new aggregates change the body, so the tag.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::aggregate::{
    Activity, Aggregates, Change, DayPoint, PatternCount, TurnImpact, VectorStats,
};
use super::insight::sentences;
use super::periodic;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::entitlements::plan_of;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(weekly_feed))
        .routes(routes!(monthly))
        .routes(routes!(reset))
        .routes(routes!(list_exclusions, set_exclusion))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InsightView {
    #[schema(
        example = "This week you wrote 3 sessions and worked through 2 thoughts. Overall your writing felt mostly calm, a little lighter than the period before."
    )]
    pub text: String,
    /// `complete`, or `partial` when the validated insight fell back to the template.
    #[schema(example = "complete")]
    pub status: String,
    #[schema(example = "spectrum-weekly/local-templates@0.1.0")]
    pub prompt_version: String,
}

/// One week. On the free plan (`teaser: true`) only the headline numbers and
/// the first sentence of the insight are filled.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WeeklyItem {
    /// The local Monday.
    #[schema(example = "2026-03-02")]
    pub week_start: String,
    #[schema(example = "2026-03-08")]
    pub week_end: String,
    pub teaser: bool,
    #[schema(example = 3)]
    pub sessions: i64,
    #[schema(example = 2)]
    pub turns: i64,
    pub vector: Option<VectorStats>,
    pub patterns: Vec<PatternCount>,
    pub turn_impact: Option<TurnImpact>,
    pub activity: Option<Activity>,
    /// Seven days, Monday first.
    pub landscape: Vec<DayPoint>,
    pub change: Option<Change>,
    pub insight: InsightView,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WeeklyFeed {
    /// `full` or `teaser` (from the plan).
    #[schema(example = "full")]
    pub access: String,
    /// Newest week first.
    pub items: Vec<WeeklyItem>,
    /// Pass as `cursor` for older weeks; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonthlyView {
    #[schema(example = "2026-02")]
    pub month: String,
    pub sessions: i64,
    pub turns: i64,
    pub vector: VectorStats,
    pub patterns: Vec<PatternCount>,
    pub turn_impact: TurnImpact,
    pub activity: Activity,
    /// One point per day of the month.
    pub landscape: Vec<DayPoint>,
    pub change: Option<Change>,
    pub insight: InsightView,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Weeks per page, 1–52 (default 8).
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthParams {
    /// `YYYY-MM`; default the last complete month in your time zone.
    #[param(example = "2026-02")]
    pub month: Option<String>,
}

/// Serialises `value` with an ETag; 304 when the client has it.
fn cached<T: Serialize>(headers: &HeaderMap, value: &T) -> ApiResult<Response> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    let etag = format!("\"{}\"", &blake3::hash(&body).to_hex()[..32]);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        });
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    Ok(res)
}

fn encode_cursor(week: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("w1:{week}"))
}

fn decode_cursor(c: &str) -> Option<String> {
    let s = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let w = s.strip_prefix("w1:")?;
    NaiveDate::parse_from_str(w, "%Y-%m-%d").ok()?;
    Some(w.to_string())
}

#[derive(sqlx::FromRow)]
struct PeriodRow {
    key: String,
    aggregates: String,
    insight: String,
    insight_status: String,
    prompt_version: String,
}

fn parse_agg(raw: &str) -> ApiResult<Aggregates> {
    serde_json::from_str(raw).map_err(ApiError::internal)
}

async fn teaser(state: &AppState, user_id: &str) -> ApiResult<bool> {
    let plan = plan_of(state, user_id).await?;
    Ok(state.config.plans.limits(&plan).spectrum_weekly != "full")
}

/// Your weekly Spectrum, newest week first: the emotional vector (mean and
/// spread), pattern distribution, turn impact, activity, a day-by-day
/// landscape, the change against the week before, and an insight written
/// from these aggregates only. The free plan gets a teaser.
#[utoipa::path(get, path = "/v1/spectrum/weekly", tag = "spectrum", security(("bearer" = [])),
    params(FeedParams, ("If-None-Match" = Option<String>, Header, description = "ETag of a previous answer")),
    responses(
        (status = 200, description = "A page of weeks", body = WeeklyFeed,
            headers(("ETag" = String, description = "Hash of the body"), ("Cache-Control" = String, description = "private, max-age=60")),
            example = json!({"access": "full", "items": [{"week_start": "2026-03-02", "week_end": "2026-03-08", "teaser": false, "sessions": 3, "turns": 2,
                "vector": {"mean": {"valence": 0.12, "arousal": 0.3, "joy": 0.2, "trust": 0.1, "fear": 0.05, "surprise": 0.0, "sadness": 0.1, "disgust": 0.0, "anger": 0.02, "anticipation": 0.1},
                           "spread": {"valence": 0.2, "arousal": 0.1, "joy": 0.1, "trust": 0.05, "fear": 0.05, "surprise": 0.0, "sadness": 0.1, "disgust": 0.0, "anger": 0.02, "anticipation": 0.05}, "samples": 3},
                "patterns": [{"type": "catastrophizing", "count": 3}],
                "turn_impact": {"rated_turns": 2, "mean_belief_change": -35.0, "shifted_turns": 2, "mean_sentiment_shift": 0.8, "saved_turns": 2},
                "activity": {"sessions": 3, "turns": 2, "messages": 9, "words": 420, "active_days": 4, "longest_streak_days": 3},
                "landscape": [{"date": "2026-03-02", "sessions": 1, "turns": 0, "valence": 0.2, "arousal": 0.3, "dominant": "joy"}],
                "change": {"valence": 0.1, "arousal": -0.05, "sessions": 1, "turns": 0},
                "insight": {"text": "This week you wrote 3 sessions and worked through 2 thoughts.", "status": "complete", "prompt_version": "spectrum-weekly/local-templates@0.1.0"}}],
                "next_cursor": null})),
        (status = 304, description = "Unchanged since the ETag sent"),
    ))]
async fn weekly_feed(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(p): Query<FeedParams>,
) -> ApiResult<Response> {
    let limit = p.limit.unwrap_or(8);
    if !(1..=52).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 52"));
    }
    let before = match &p.cursor {
        None => None,
        Some(c) => Some(decode_cursor(c).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "The cursor is not one this API issued.")
        })?),
    };
    let rows: Vec<PeriodRow> = sqlx::query_as(
        "SELECT week_start AS key, aggregates, insight, insight_status, prompt_version FROM spectrum_weekly \
         WHERE user_id = $1 AND ($2 IS NULL OR week_start < $2) ORDER BY week_start DESC LIMIT $3",
    )
    .bind(&user.user_id)
    .bind(before.as_deref())
    .bind(limit as i64 + 1)
    .fetch_all(state.db.pool())
    .await?;
    let teaser = teaser(&state, &user.user_id).await?;
    let more = rows.len() > limit as usize;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows.into_iter().take(limit as usize) {
        let a = parse_agg(&r.aggregates)?;
        let insight = InsightView {
            text: if teaser {
                sentences(&r.insight)
                    .first()
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            } else {
                r.insight
            },
            status: r.insight_status,
            prompt_version: r.prompt_version,
        };
        items.push(if teaser {
            WeeklyItem {
                week_start: r.key,
                week_end: a.end,
                teaser: true,
                sessions: a.activity.sessions,
                turns: a.activity.turns,
                vector: None,
                patterns: Vec::new(),
                turn_impact: None,
                activity: None,
                landscape: Vec::new(),
                change: None,
                insight,
            }
        } else {
            WeeklyItem {
                week_start: r.key,
                week_end: a.end,
                teaser: false,
                sessions: a.activity.sessions,
                turns: a.activity.turns,
                vector: Some(a.vector),
                patterns: a.patterns,
                turn_impact: Some(a.turn_impact),
                activity: Some(a.activity),
                landscape: a.landscape,
                change: a.change,
                insight,
            }
        });
    }
    let next_cursor = more
        .then(|| items.last().map(|i| encode_cursor(&i.week_start)))
        .flatten();
    cached(
        &headers,
        &WeeklyFeed {
            access: if teaser { "teaser" } else { "full" }.into(),
            items,
            next_cursor,
        },
    )
}

/// The monthly deep dive (prism_plus): the month's aggregates and a
/// narrative written from them. Computed on first request when the monthly
/// job has not run yet.
#[utoipa::path(get, path = "/v1/spectrum/monthly", tag = "spectrum", security(("bearer" = [])),
    params(MonthParams, ("If-None-Match" = Option<String>, Header, description = "ETag of a previous answer")),
    responses(
        (status = 200, description = "The month", body = MonthlyView,
            headers(("ETag" = String, description = "Hash of the body"), ("Cache-Control" = String, description = "private, max-age=60"))),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 402, description = "The monthly deep dive needs the prism_plus plan", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://kalei.app/problems/plan_required", "title": "Payment Required", "status": 402,
                "detail": "The monthly deep dive is part of the prism_plus plan.", "code": "plan_required", "request_id": "01932f6e-7a1c-7cc3-9a55-3f1f0e6f4a10"})),
        (status = 422, description = "month is not YYYY-MM or lies in the future", body = Problem, content_type = "application/problem+json"),
    ))]
async fn monthly(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(p): Query<MonthParams>,
) -> ApiResult<Response> {
    let plan = plan_of(&state, &user.user_id).await?;
    if !state.config.plans.limits(&plan).spectrum_monthly {
        return Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "plan_required",
            "The monthly deep dive is part of the prism_plus plan.",
        ));
    }
    let tz = super::user_tz(&state, &user.user_id).await?;
    let today: NaiveDate = super::local_date(state.clock.now_ms(), tz)
        .parse()
        .map_err(ApiError::internal)?;
    let this_month = (today.year(), today.month());
    let (y, m) = match &p.month {
        Some(s) => {
            periodic::parse_month(s).ok_or_else(|| ApiError::field("month", "must be YYYY-MM"))?
        }
        None if this_month.1 == 1 => (this_month.0 - 1, 12),
        None => (this_month.0, this_month.1 - 1),
    };
    if (y, m) > this_month {
        return Err(ApiError::field("month", "must not be in the future"));
    }
    let key = format!("{y:04}-{m:02}");
    let load = || async {
        sqlx::query_as::<_, PeriodRow>(
            "SELECT month AS key, aggregates, insight, insight_status, prompt_version FROM spectrum_monthly \
             WHERE user_id = $1 AND month = $2",
        )
        .bind(&user.user_id)
        .bind(&key)
        .fetch_optional(state.db.pool())
        .await
    };
    let row = match load().await? {
        Some(r) => r,
        None => {
            periodic::run_monthly(&state, &user.user_id, y, m)
                .await
                .map_err(ApiError::internal)?;
            load()
                .await?
                .ok_or_else(|| ApiError::internal("monthly row missing"))?
        }
    };
    let a = parse_agg(&row.aggregates)?;
    cached(
        &headers,
        &MonthlyView {
            month: row.key,
            sessions: a.activity.sessions,
            turns: a.activity.turns,
            vector: a.vector,
            patterns: a.patterns,
            turn_impact: a.turn_impact,
            activity: a.activity,
            landscape: a.landscape,
            change: a.change,
            insight: InsightView {
                text: row.insight,
                status: row.insight_status,
                prompt_version: row.prompt_version,
            },
        },
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetResult {
    /// Derived rows removed (vectors, impacts, weekly and monthly aggregates).
    #[schema(example = 42)]
    pub deleted: i64,
}

/// Reset Spectrum: removes every derived Spectrum record of yours now
/// (session vectors, turn impacts, weekly and monthly aggregates and
/// insights, and the weekly briefs built from them). Your Mirror sessions
/// and Turns stay.
#[utoipa::path(post, path = "/v1/spectrum/reset", tag = "spectrum", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 200, description = "Derived data removed", body = ResetResult, example = json!({"deleted": 42}))))]
async fn reset(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<ResetResult>> {
    let mut tx = state.db.begin().await?;
    let mut deleted = 0;
    for table in [
        "spectrum_session_vectors",
        "spectrum_turn_impacts",
        "spectrum_weekly",
        "spectrum_monthly",
        // Briefs are snapshots of the weekly aggregates.
        "weekly_briefs",
    ] {
        deleted += sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(&user.user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
    }
    tx.commit().await?;
    Ok(ApiJson(ResetResult { deleted }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetExclusion {
    /// A Mirror session of yours (give this or `turn_id`).
    #[schema(example = "0195f3c2-8a6b-7c1d-9e2f-3a4b5c6d7e8f")]
    pub session_id: Option<String>,
    /// A Turn of yours.
    pub turn_id: Option<String>,
    /// true: leave it out of Spectrum; false: include it again.
    #[schema(example = true)]
    pub excluded: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExclusionView {
    /// `session` or `turn`.
    #[schema(example = "session")]
    pub kind: String,
    pub session_id: Option<String>,
    pub turn_id: Option<String>,
    pub excluded: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Exclusions {
    pub items: Vec<ExclusionView>,
}

/// Sessions and turns you left out of Spectrum.
#[utoipa::path(get, path = "/v1/spectrum/exclusions", tag = "spectrum", security(("bearer" = [])),
    responses((status = 200, description = "Excluded items", body = Exclusions,
        example = json!({"items": [{"kind": "session", "session_id": "0195f3c2-8a6b-7c1d-9e2f-3a4b5c6d7e8f", "turn_id": null, "excluded": true}]}))))]
async fn list_exclusions(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<ApiJson<Exclusions>> {
    let sessions: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM mirror_sessions WHERE user_id = $1 AND excluded = 1 ORDER BY id DESC",
    )
    .bind(&user.user_id)
    .fetch_all(state.db.pool())
    .await?;
    let turns: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM turns WHERE user_id = $1 AND excluded = 1 ORDER BY id DESC",
    )
    .bind(&user.user_id)
    .fetch_all(state.db.pool())
    .await?;
    let items = sessions
        .into_iter()
        .map(|id| ExclusionView {
            kind: "session".into(),
            session_id: Some(id),
            turn_id: None,
            excluded: true,
        })
        .chain(turns.into_iter().map(|id| ExclusionView {
            kind: "turn".into(),
            session_id: None,
            turn_id: Some(id),
            excluded: true,
        }))
        .collect();
    Ok(ApiJson(Exclusions { items }))
}

/// Leave a session or turn out of Spectrum (or include it again). Its
/// derived record is removed (restored) by the analysis job, and weeks and
/// months already aggregated are recomputed.
#[utoipa::path(post, path = "/v1/spectrum/exclusions", tag = "spectrum", security(("bearer" = [])),
    request_body(content = SetExclusion, example = json!({"session_id": "0195f3c2-8a6b-7c1d-9e2f-3a4b5c6d7e8f", "excluded": true})),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 200, description = "The item's state", body = ExclusionView),
        (status = 404, description = "No such session or turn of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Give exactly one of session_id and turn_id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_exclusion(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<SetExclusion>,
) -> ApiResult<ApiJson<ExclusionView>> {
    let flag = req.excluded as i64;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let view = match (&req.session_id, &req.turn_id) {
        (Some(sid), None) => {
            let status: Option<String> = sqlx::query_scalar(
                "SELECT status FROM mirror_sessions WHERE user_id = $1 AND id = $2",
            )
            .bind(&user.user_id)
            .bind(sid)
            .fetch_optional(&mut *tx)
            .await?;
            let status = status.ok_or_else(|| ApiError::not_found("session"))?;
            sqlx::query("UPDATE mirror_sessions SET excluded = $1 WHERE user_id = $2 AND id = $3")
                .bind(flag)
                .bind(&user.user_id)
                .bind(sid)
                .execute(&mut *tx)
                .await?;
            // An open session is analysed when it closes.
            if status == "closed" {
                let job = kalei_store::jobs::NewJob::of::<crate::jobs::SessionAnalysis>(
                    &crate::jobs::SessionAnalysisPayload {
                        user_id: user.user_id.clone(),
                        session_id: sid.clone(),
                    },
                )?
                .unique_key(format!("session-analysis:{sid}:exclusion:{now}"));
                state.jobs.insert_tx(&mut tx, job).await?;
            }
            ExclusionView {
                kind: "session".into(),
                session_id: Some(sid.clone()),
                turn_id: None,
                excluded: req.excluded,
            }
        }
        (None, Some(tid)) => {
            let n = sqlx::query("UPDATE turns SET excluded = $1 WHERE user_id = $2 AND id = $3")
                .bind(flag)
                .bind(&user.user_id)
                .bind(tid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(ApiError::not_found("turn"));
            }
            let event = format!("exclusion-{now}");
            crate::jobs::enqueue_turn_analysis(&state, &mut tx, &user.user_id, tid, &event).await?;
            ExclusionView {
                kind: "turn".into(),
                session_id: None,
                turn_id: Some(tid.clone()),
                excluded: req.excluded,
            }
        }
        _ => {
            return Err(ApiError::field(
                "session_id",
                "give exactly one of session_id and turn_id",
            ))
        }
    };
    tx.commit().await?;
    Ok(ApiJson(view))
}
