//! The signed-in account: `GET /v1/me`, `PATCH /v1/me/profile` (and
//! `DELETE /v1/me`, handled by `privacy::deletion`).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::model::{
    check_locale, check_text, check_timezone, collect, ProfilePatch, UserView,
};
use crate::auth::{service, AuthUser};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiJson;
use crate::privacy::deletion::{__path_delete_me, delete_me};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, delete_me))
        .routes(routes!(patch_profile))
}

/// The signed-in user and their profile.
#[utoipa::path(get, path = "/v1/me", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = UserView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_me(State(state): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<UserView>> {
    let record = service::user_by_id(&state, &user.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    Ok(ApiJson(record.view()))
}

/// Change display name, time zone or locale. Other fields are rejected.
#[utoipa::path(patch, path = "/v1/me/profile", tag = "me",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 422, description = "Invalid or unknown fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_profile(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> ApiResult<ApiJson<UserView>> {
    let display_name = patch.display_name.as_deref().map(str::trim);
    collect(vec![
        display_name.map_or(Ok(()), |d| check_text("display_name", d, 100)),
        patch.timezone.as_deref().map_or(Ok(()), check_timezone),
        patch.locale.as_deref().map_or(Ok(()), check_locale),
    ])?;
    let now = state.clock.now_ms();
    // COALESCE keeps fields the patch leaves out; an empty display name clears it.
    sqlx::query(
        "UPDATE profiles SET \
           display_name = CASE WHEN $1 IS NULL THEN display_name WHEN $1 = '' THEN NULL ELSE $1 END, \
           timezone = COALESCE($2, timezone), locale = COALESCE($3, locale), updated_at = $4 \
         WHERE user_id = $5",
    )
    .bind(display_name)
    .bind(patch.timezone.as_deref())
    .bind(patch.locale.as_deref())
    .bind(now)
    .bind(&user.user_id)
    .execute(state.db.pool())
    .await?;
    let record = service::user_by_id(&state, &user.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    Ok(ApiJson(record.view()))
}
