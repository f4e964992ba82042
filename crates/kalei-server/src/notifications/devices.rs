//! Push device registration: `POST`/`GET /v1/devices`, `DELETE
//! /v1/devices/{id}`. Tokens are sealed with the column cipher, looked up by
//! their BLAKE3 hash, and never returned or logged.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::json::created;
use crate::http::pagination::{Page, PageParams};
use crate::http::ApiJson;
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_device, list_devices))
        .routes(routes!(delete_device))
}

pub const PLATFORMS: &[&str] = &["ios", "android", "web"];
/// APNs tokens are 64 hex chars, FCM tokens ~160, Web Push subscriptions a
/// few hundred bytes of JSON; 4 KiB leaves room without inviting abuse.
const MAX_TOKEN: usize = 4096;
/// Devices kept per user; registering one more forgets the least recently
/// seen (tokens rotate, old ones pile up).
const MAX_DEVICES: i64 = 20;

pub(crate) fn token_aad(user_id: &str) -> String {
    crate::keys::columns::PUSH_DEVICE_TOKEN.aad(user_id)
}

fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// `ios`, `android` or `web`.
    #[schema(example = "ios")]
    pub platform: String,
    /// The push token (APNs device token, FCM registration token, or a Web
    /// Push subscription as JSON text).
    #[schema(example = "4f3c9a0e8b7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3")]
    pub token: String,
}

// No `Debug` on NewDevice: it holds the token.

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    #[schema(example = "ios")]
    pub platform: String,
    pub created_at: String,
    /// Last registration of this token (apps re-register on every start).
    pub last_seen_at: String,
}

fn validate(req: &NewDevice) -> ApiResult<()> {
    let mut errors = Vec::new();
    if !PLATFORMS.contains(&req.platform.as_str()) {
        errors.push(FieldError {
            field: "platform".into(),
            message: "must be ios, android or web".into(),
        });
    }
    if req.token.is_empty()
        || req.token.len() > MAX_TOKEN
        || req.token.chars().any(|c| c.is_control())
    {
        errors.push(FieldError {
            field: "token".into(),
            message: format!("must be 1 to {MAX_TOKEN} bytes without control characters"),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Register a push token for this account. Idempotent: the same token again
/// answers 200 with the existing device (its platform and last-seen time
/// updated); a new token answers 201. At most 20 devices are kept.
#[utoipa::path(post, path = "/v1/devices", tag = "notifications", security(("bearer" = [])),
    request_body = NewDevice,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 201, description = "A new device", body = DeviceView),
        (status = 200, description = "The token was already registered", body = DeviceView),
        (status = 422, description = "Unknown platform or bad token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register_device(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<NewDevice>,
) -> ApiResult<Response> {
    validate(&req)?;
    let now = state.clock.now_ms();
    let hash = token_hash(&req.token);
    let mut tx = state.db.begin().await?;
    let existing: Option<(String, i64)> = sqlx::query_as(
        "SELECT id, created_at FROM push_devices WHERE user_id = $1 AND token_hash = $2",
    )
    .bind(&user.user_id)
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let (view, status) = match existing {
        Some((id, created_at)) => {
            sqlx::query("UPDATE push_devices SET platform = $1, last_seen_at = $2 WHERE user_id = $3 AND id = $4")
                .bind(&req.platform)
                .bind(now)
                .bind(&user.user_id)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            (
                DeviceView {
                    id,
                    platform: req.platform,
                    created_at: rfc3339(created_at),
                    last_seen_at: rfc3339(now),
                },
                StatusCode::OK,
            )
        }
        None => {
            let id = kalei_store::new_id();
            sqlx::query(
                "INSERT INTO push_devices (id, user_id, platform, token_sealed, token_hash, created_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&id)
            .bind(&user.user_id)
            .bind(&req.platform)
            .bind(state.cipher.seal_str(&req.token, &token_aad(&user.user_id)))
            .bind(&hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // Forget the least recently seen beyond the cap.
            let stale: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM push_devices WHERE user_id = $1 ORDER BY last_seen_at DESC, id DESC LIMIT 1000 OFFSET $2",
            )
            .bind(&user.user_id)
            .bind(MAX_DEVICES)
            .fetch_all(&mut *tx)
            .await?;
            for old in stale {
                sqlx::query("DELETE FROM push_devices WHERE user_id = $1 AND id = $2")
                    .bind(&user.user_id)
                    .bind(&old)
                    .execute(&mut *tx)
                    .await?;
            }
            (
                DeviceView {
                    id,
                    platform: req.platform,
                    created_at: rfc3339(now),
                    last_seen_at: rfc3339(now),
                },
                StatusCode::CREATED,
            )
        }
    };
    tx.commit().await?;
    Ok(if status == StatusCode::CREATED {
        created(view)
    } else {
        ApiJson(view).into_response()
    })
}

/// Your registered devices, newest first (tokens are never returned).
#[utoipa::path(get, path = "/v1/devices", tag = "notifications", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "Devices", body = Page<DeviceView>)))]
async fn list_devices(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageParams>,
) -> ApiResult<ApiJson<Page<DeviceView>>> {
    let page = page.validate()?;
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, platform, created_at, last_seen_at FROM push_devices WHERE user_id = $1 \
         AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(&user.user_id)
    .bind(page.before_id.as_deref())
    .bind(page.limit as i64 + 1)
    .fetch_all(state.db.pool())
    .await?;
    let views = rows
        .into_iter()
        .map(|(id, platform, created_at, last_seen_at)| DeviceView {
            id,
            platform,
            created_at: rfc3339(created_at),
            last_seen_at: rfc3339(last_seen_at),
        })
        .collect();
    Ok(ApiJson(Page::from_rows(views, &page, |d| &d.id)))
}

/// Unregister a device (sign-out on that phone, or notifications turned off
/// in the OS). Pushes already queued for it are dropped.
#[utoipa::path(delete, path = "/v1/devices/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such device of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_device(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let n = sqlx::query("DELETE FROM push_devices WHERE user_id = $1 AND id = $2")
        .bind(&user.user_id)
        .bind(&id)
        .execute(state.db.pool())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found("device"));
    }
    Ok(StatusCode::NO_CONTENT)
}
