//! Lens: goals, actions toward them, completion, streaks of completed days,
//! and today's affirmation (generated once per user and local day).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::entitlements::local_day;
use crate::error::{ApiError, ApiResult, Problem};
use crate::generation;
use crate::http::json::created;
use crate::http::pagination::{Page, PageParams};
use crate::http::ApiJson;
use crate::privacy::analytics::{self, Prop};
use crate::privacy::items::OwnedItem;
use crate::product::check_user_text;
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_goal, list_goals))
        .routes(routes!(create_action))
        .routes(routes!(complete_action))
        .routes(routes!(affirmation_today))
        .routes(routes!(delete_goal))
        .routes(routes!(delete_action))
}

const MAX_TITLE: usize = 500;

fn goal_aad(user_id: &str) -> String {
    crate::keys::columns::LENS_GOAL_TITLE.aad(user_id)
}
fn action_aad(user_id: &str) -> String {
    crate::keys::columns::LENS_ACTION_TITLE.aad(user_id)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTitle {
    #[schema(example = "Sleep before midnight")]
    pub title: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionView {
    pub id: String,
    pub goal_id: String,
    #[schema(example = "Phone out of the bedroom at 23:00")]
    pub title: String,
    pub completed_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalView {
    pub id: String,
    #[schema(example = "Sleep before midnight")]
    pub title: String,
    pub created_at: String,
    pub actions: Vec<ActionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalList {
    pub items: Vec<GoalView>,
    pub next_cursor: Option<String>,
    /// Consecutive local days, up to today, with at least one completed action.
    #[schema(example = 3)]
    pub streak_days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompletedAction {
    pub action: ActionView,
    #[schema(example = 4)]
    pub streak_days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Affirmation {
    #[schema(example = "2026-11-22")]
    pub date: String,
    #[schema(example = "You can take today one small step at a time.")]
    pub text: String,
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: String,
    goal_id: String,
    title_sealed: Vec<u8>,
    completed_at: Option<i64>,
    created_at: i64,
}

impl ActionRow {
    fn view(&self, state: &AppState, user_id: &str) -> ApiResult<ActionView> {
        Ok(ActionView {
            id: self.id.clone(),
            goal_id: self.goal_id.clone(),
            title: state
                .cipher
                .open_string(&self.title_sealed, &action_aad(user_id))
                .map_err(ApiError::internal)?,
            completed_at: self.completed_at.map(rfc3339),
            created_at: rfc3339(self.created_at),
        })
    }
}

/// Set a goal.
#[utoipa::path(post, path = "/v1/lens/goals", tag = "lens", security(("bearer" = [])),
    request_body = NewTitle,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 201, description = "The goal", body = GoalView),
        (status = 422, description = "Empty or too long", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_goal(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<NewTitle>,
) -> ApiResult<Response> {
    check_user_text("title", &req.title, MAX_TITLE)?;
    let id = kalei_store::new_id();
    let now = state.clock.now_ms();
    sqlx::query(
        "INSERT INTO lens_goals (id, user_id, title_sealed, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(&user.user_id)
    .bind(
        state
            .cipher
            .seal_str(req.title.trim(), &goal_aad(&user.user_id)),
    )
    .bind(now)
    .execute(state.db.pool())
    .await?;
    Ok(created(GoalView {
        id,
        title: req.title.trim().to_string(),
        created_at: rfc3339(now),
        actions: Vec::new(),
    }))
}

/// Your goals with their actions, newest first, and your current streak.
#[utoipa::path(get, path = "/v1/lens/goals", tag = "lens", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "Goals", body = GoalList)))]
async fn list_goals(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageParams>,
) -> ApiResult<ApiJson<GoalList>> {
    let page = page.validate()?;
    let goals: Vec<(String, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT id, title_sealed, created_at FROM lens_goals WHERE user_id = $1 AND archived_at IS NULL \
         AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(&user.user_id)
    .bind(page.before_id.as_deref())
    .bind(page.limit as i64 + 1)
    .fetch_all(state.db.pool())
    .await?;
    let actions: Vec<ActionRow> = sqlx::query_as(
        "SELECT id, goal_id, title_sealed, completed_at, created_at FROM lens_actions WHERE user_id = $1 ORDER BY id",
    )
    .bind(&user.user_id)
    .fetch_all(state.db.pool())
    .await?;
    let mut views = Vec::with_capacity(goals.len());
    for (id, sealed, created_at) in goals {
        let title = state
            .cipher
            .open_string(&sealed, &goal_aad(&user.user_id))
            .map_err(ApiError::internal)?;
        let acts = actions
            .iter()
            .filter(|a| a.goal_id == id)
            .map(|a| a.view(&state, &user.user_id))
            .collect::<ApiResult<Vec<_>>>()?;
        views.push(GoalView {
            id,
            title,
            created_at: rfc3339(created_at),
            actions: acts,
        });
    }
    let page = Page::from_rows(views, &page, |g| &g.id);
    Ok(ApiJson(GoalList {
        items: page.items,
        next_cursor: page.next_cursor,
        streak_days: streak(&state, &user.user_id).await?,
    }))
}

/// Add an action toward a goal.
#[utoipa::path(post, path = "/v1/lens/goals/{id}/actions", tag = "lens", security(("bearer" = [])),
    request_body = NewTitle,
    params(("id" = String, Path, description = "Goal id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 201, description = "The action", body = ActionView),
        (status = 404, description = "No such goal of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_action(
    State(state): State<AppState>,
    user: AuthUser,
    Path(goal_id): Path<String>,
    ApiJson(req): ApiJson<NewTitle>,
) -> ApiResult<Response> {
    check_user_text("title", &req.title, MAX_TITLE)?;
    let owned: Option<String> =
        sqlx::query_scalar("SELECT id FROM lens_goals WHERE user_id = $1 AND id = $2")
            .bind(&user.user_id)
            .bind(&goal_id)
            .fetch_optional(state.db.pool())
            .await?;
    if owned.is_none() {
        return Err(ApiError::not_found("goal"));
    }
    let id = kalei_store::new_id();
    let now = state.clock.now_ms();
    sqlx::query("INSERT INTO lens_actions (id, user_id, goal_id, title_sealed, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(&user.user_id)
        .bind(&goal_id)
        .bind(state.cipher.seal_str(req.title.trim(), &action_aad(&user.user_id)))
        .bind(now)
        .execute(state.db.pool())
        .await?;
    Ok(created(ActionView {
        id,
        goal_id,
        title: req.title.trim().to_string(),
        completed_at: None,
        created_at: rfc3339(now),
    }))
}

/// Mark an action done (today, in your time zone).
#[utoipa::path(post, path = "/v1/lens/actions/{id}/complete", tag = "lens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Action id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 200, description = "The completed action and your streak", body = CompletedAction),
        (status = 404, description = "No such action of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already completed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn complete_action(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<CompletedAction>> {
    let (day, _) = local_day(&state, &user.user_id).await?;
    let now = state.clock.now_ms();
    let n = sqlx::query(
        "UPDATE lens_actions SET completed_at = $1, completed_day = $2 WHERE user_id = $3 AND id = $4 AND completed_at IS NULL",
    )
    .bind(now)
    .bind(&day)
    .bind(&user.user_id)
    .bind(&id)
    .execute(state.db.pool())
    .await?
    .rows_affected();
    let row: ActionRow = sqlx::query_as(
        "SELECT id, goal_id, title_sealed, completed_at, created_at FROM lens_actions WHERE user_id = $1 AND id = $2",
    )
    .bind(&user.user_id)
    .bind(&id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| ApiError::not_found("action"))?;
    if n == 0 {
        return Err(ApiError::conflict(
            "already_completed",
            "This action is already completed.",
        ));
    }
    let streak_days = streak(&state, &user.user_id).await?;
    analytics::record(
        &state,
        &user.user_id,
        analytics::event::LENS_ACTION_COMPLETED,
        &[("streak_days", Prop::Int(streak_days))],
    )
    .await;
    Ok(ApiJson(CompletedAction {
        action: row.view(&state, &user.user_id)?,
        streak_days,
    }))
}

/// Consecutive local days with a completed action, ending today (or
/// yesterday, so a streak is not lost before today's action).
async fn streak(state: &AppState, user_id: &str) -> ApiResult<i64> {
    let (today, _) = local_day(state, user_id).await?;
    let days: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT completed_day FROM lens_actions WHERE user_id = $1 AND completed_day IS NOT NULL \
         ORDER BY completed_day DESC LIMIT 400",
    )
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(count_streak(&today, &days))
}

pub fn count_streak(today: &str, days_desc: &[String]) -> i64 {
    use chrono::NaiveDate;
    let Ok(mut expect) = NaiveDate::parse_from_str(today, "%Y-%m-%d") else {
        return 0;
    };
    let mut iter = days_desc
        .iter()
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .peekable();
    if iter.peek() != Some(&expect) {
        expect = expect.pred_opt().unwrap_or(expect);
    }
    let mut n = 0;
    for d in iter {
        if d == expect {
            n += 1;
            expect = expect.pred_opt().unwrap_or(expect);
        } else if d < expect {
            break;
        }
    }
    n
}

/// Today's affirmation: the same all day, new tomorrow (your time zone).
#[utoipa::path(get, path = "/v1/lens/affirmation/today", tag = "lens", security(("bearer" = [])),
    responses((status = 200, description = "Today's affirmation", body = Affirmation)))]
async fn affirmation_today(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<ApiJson<Affirmation>> {
    let (day, _) = local_day(&state, &user.user_id).await?;
    let cached: Option<String> = sqlx::query_scalar(
        "SELECT text FROM lens_affirmations WHERE user_id = $1 AND local_date = $2",
    )
    .bind(&user.user_id)
    .bind(&day)
    .fetch_optional(state.db.pool())
    .await?;
    if let Some(text) = cached {
        return Ok(ApiJson(Affirmation { date: day, text }));
    }
    let g = generation::affirmation(
        &state,
        &user.user_id,
        None,
        generation::seed(&[&user.user_id, &day]),
    )
    .await?;
    let text = if crate::safety::output_is_safe(&state, &user.user_id, "lens", &g.output).await? {
        g.output
    } else {
        kalei_analysis::templates::affirmation(None, 0)
    };
    // Concurrent first requests: one insert wins, everyone reads the winner.
    sqlx::query(
        "INSERT INTO lens_affirmations (user_id, local_date, text, model, prompt_version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, local_date) DO NOTHING",
    )
    .bind(&user.user_id)
    .bind(&day)
    .bind(&text)
    .bind(&g.provenance.model)
    .bind(&g.provenance.prompt_version)
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    let text: String = sqlx::query_scalar(
        "SELECT text FROM lens_affirmations WHERE user_id = $1 AND local_date = $2",
    )
    .bind(&user.user_id)
    .bind(&day)
    .fetch_one(state.db.pool())
    .await?;
    Ok(ApiJson(Affirmation { date: day, text }))
}

#[cfg(test)]
mod tests {
    use super::count_streak;

    fn d(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn streaks_count_consecutive_days() {
        assert_eq!(count_streak("2026-11-22", &d(&[])), 0);
        assert_eq!(
            count_streak(
                "2026-11-22",
                &d(&["2026-11-22", "2026-11-21", "2026-11-20", "2026-11-18"])
            ),
            3
        );
        // Nothing yet today: yesterday's streak still stands.
        assert_eq!(
            count_streak("2026-11-22", &d(&["2026-11-21", "2026-11-20"])),
            2
        );
        assert_eq!(count_streak("2026-11-22", &d(&["2026-11-20"])), 0);
        // Across a month boundary.
        assert_eq!(
            count_streak("2026-12-01", &d(&["2026-12-01", "2026-11-30"])),
            2
        );
    }
}

/// A goal goes with its actions.
const LENS_GOAL: OwnedItem = OwnedItem {
    kind: "lens_goal",
    noun: "lens_goal",
    steps: &[("lens_actions", "goal_id"), ("lens_goals", "id")],
    spectrum_day: None,
};
const LENS_ACTION: OwnedItem = OwnedItem {
    kind: "lens_action",
    noun: "lens_action",
    steps: &[("lens_actions", "id")],
    spectrum_day: None,
};

/// Delete a goal with all its actions (their completions leave your streak).
#[utoipa::path(delete, path = "/v1/lens/goals/{id}", tag = "lens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Goal id")),
    responses(
        (status = 204, description = "Deleted with its actions"),
        (status = 404, description = "No such goal of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_goal(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    crate::privacy::items::delete_owned(&state, &user.user_id, &LENS_GOAL, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Delete an action (a completed one leaves your streak).
#[utoipa::path(delete, path = "/v1/lens/actions/{id}", tag = "lens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Action id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such action of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_action(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    crate::privacy::items::delete_owned(&state, &user.user_id, &LENS_ACTION, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
