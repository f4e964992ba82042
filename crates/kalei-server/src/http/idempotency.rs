//! `Idempotency-Key` for authenticated write endpoints: the first request with
//! a key runs and its response (status, body, content type) is stored; a retry
//! with the same key and the same request gets the stored response and
//! performs no second write; the same key with a different request is 422;
//! a retry while the first is still running is 409.
//!
//! Scope is the user (from the verified access token), so keys of different
//! users never collide. 5xx responses are not stored, so the client may retry.
//! Records expire after 24 hours; a reservation whose request died without an
//! answer is taken over after a minute.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::ApiError;
use crate::http::observe::{render_problem, RequestContext};

pub const HEADER: &str = "idempotency-key";
pub const KEEP_MS: i64 = 24 * 3600 * 1000;
const STALE_RESERVATION_MS: i64 = 60 * 1000;
/// Larger responses are passed through without being stored.
const MAX_STORED_RESPONSE: usize = 1024 * 1024;

enum Reservation {
    Reserved,
    Replay {
        status: u16,
        body: Vec<u8>,
        content_type: Option<String>,
    },
    InProgress,
    Mismatch,
}

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let writes = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    if !writes {
        return next.run(req).await;
    }
    let Some(key) = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
    else {
        return ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 visible ASCII characters.",
        )
        .into_response();
    };
    // Unauthenticated calls go straight through: the handler answers 401.
    let Some(user_id) = crate::auth::tokens::bearer_user(&state, req.headers()) else {
        return next.run(req).await;
    };

    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, state.config.http.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE).into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(""));
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());

    match reserve(&state, &user_id, &key, &request_hash).await {
        Err(e) => e.into_response(),
        Ok(Reservation::Mismatch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request.",
        )
        .into_response(),
        Ok(Reservation::InProgress) => ApiError::conflict(
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed.",
        )
        .into_response(),
        Ok(Reservation::Replay {
            status,
            body,
            content_type,
        }) => {
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                res.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            res.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            res
        }
        Ok(Reservation::Reserved) => {
            let request_id = parts
                .extensions
                .get::<RequestContext>()
                .map(|c| c.request_id.to_string())
                .unwrap_or_default();
            let res = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            // Render problems now so the stored body is the full document.
            let res = render_problem(res, &request_id);
            finish(&state, &user_id, &key, res).await
        }
    }
}

#[derive(sqlx::FromRow)]
struct StoredKey {
    request_hash: String,
    status: Option<i64>,
    response_body: Option<Vec<u8>>,
    content_type: Option<String>,
    created_at: i64,
}

async fn reserve(
    state: &AppState,
    user_id: &str,
    key: &str,
    request_hash: &str,
) -> Result<Reservation, ApiError> {
    let now = state.clock.now_ms();
    for _ in 0..2 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, idem_key) DO NOTHING",
        )
        .bind(user_id)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(state.db.pool())
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Reservation::Reserved);
        }
        let row: Option<StoredKey> = sqlx::query_as(
            "SELECT request_hash, status, response_body, content_type, created_at \
                 FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(state.db.pool())
        .await?;
        let Some(StoredKey {
            request_hash: hash,
            status,
            response_body: body,
            content_type,
            created_at,
        }) = row
        else {
            continue; // Removed between our statements; try the insert again.
        };
        let expired = now - created_at > KEEP_MS;
        let stale = status.is_none() && now - created_at > STALE_RESERVATION_MS;
        if expired || stale {
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2 AND created_at = $3",
            )
            .bind(user_id)
            .bind(key)
            .bind(created_at)
            .execute(state.db.pool())
            .await?;
            continue;
        }
        if hash != request_hash {
            return Ok(Reservation::Mismatch);
        }
        return Ok(match status {
            None => Reservation::InProgress,
            Some(status) => Reservation::Replay {
                status: status as u16,
                body: body.unwrap_or_default(),
                content_type,
            },
        });
    }
    Ok(Reservation::InProgress)
}

async fn finish(state: &AppState, user_id: &str, key: &str, res: Response) -> Response {
    let streaming = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if res.status().is_server_error() || streaming {
        release(state, user_id, key).await;
        return res;
    }
    let (parts, body) = res.into_parts();
    let bytes = match to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(b) => b,
        Err(_) => {
            release(state, user_id, key).await;
            return ApiError::internal("response too large to store for idempotency")
                .into_response();
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let stored = sqlx::query(
        "UPDATE idempotency_keys SET status = $1, response_body = $2, content_type = $3 \
         WHERE user_id = $4 AND idem_key = $5",
    )
    .bind(parts.status.as_u16() as i64)
    .bind(bytes.to_vec())
    .bind(content_type)
    .bind(user_id)
    .bind(key)
    .execute(state.db.pool())
    .await;
    if let Err(e) = stored {
        tracing::warn!(error = %e, "could not store idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn release(state: &AppState, user_id: &str, key: &str) {
    let _ = sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2")
        .bind(user_id)
        .bind(key)
        .execute(state.db.pool())
        .await;
}
