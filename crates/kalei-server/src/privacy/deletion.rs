//! Account deletion: `DELETE /v1/me` schedules a purge after a grace period
//! (`[privacy] deletion_grace_days`) and signs every device out; signing in
//! again during the grace period cancels it. `?immediate=true` with the
//! account password in the body purges at once.
//!
//! The scheduled purge is a job whose payload holds the deletion request's
//! id, never the user id, so the finished job row keeps no reference to the
//! purged account. The job re-reads the request when it runs: a withdrawn
//! request (signed in again) cancels it, a request whose time has not come
//! yet (a clock moved) snoozes it.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kalei_store::jobs::{JobKind, JobOutcome, JobResult, NewJob};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::{self, AuditKind};
use crate::auth::{service, AuthUser};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiJson;
use crate::time::rfc3339;

/// The scheduled purge of one deletion request.
pub struct AccountPurge;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountPurgePayload {
    /// `account_deletions.id`.
    pub request_id: String,
}

impl JobKind for AccountPurge {
    const KIND: &'static str = "privacy.account_purge";
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(600);
    type Payload = AccountPurgePayload;
    fn unique_key(p: &AccountPurgePayload) -> Option<String> {
        Some(purge_key(&p.request_id))
    }
}

fn purge_key(request_id: &str) -> String {
    format!("account-purge:{request_id}")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionScheduled {
    /// Always `scheduled`.
    #[schema(example = "scheduled")]
    pub status: String,
    /// When the account and all its data are purged, unless you sign in
    /// before then.
    #[schema(example = "2026-11-29T03:15:00.000Z")]
    pub purge_at: String,
    #[schema(example = 7)]
    pub grace_days: u32,
}

/// Body of `DELETE /v1/me?immediate=true`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPassword {
    /// The account password, to confirm an immediate purge.
    pub password: String,
}

fn immediate_flag(query: Option<&str>) -> ApiResult<bool> {
    let mut immediate = false;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (key, value) {
            ("immediate", "true" | "1") => immediate = true,
            ("immediate", "false" | "0") => immediate = false,
            ("immediate", _) => {
                return Err(ApiError::field("immediate", "must be true or false"));
            }
            _ => return Err(ApiError::field(key, "unknown query parameter")),
        }
    }
    Ok(immediate)
}

/// Delete your account.
///
/// Without `immediate`: every device is signed out at once and the account
/// with all its data (writing, derived analytics, consents, billing and
/// audit records) is purged after the grace period (7 days by default);
/// signing in again before then cancels the deletion. Asking again while a
/// deletion is pending answers the same schedule.
///
/// With `?immediate=true`: send `{"password": "…"}` as the JSON body; the
/// purge happens now and the answer is 204. Accounts that sign in only with
/// Apple or Google have no password and use the grace period.
#[utoipa::path(delete, path = "/v1/me", tag = "me", security(("bearer" = [])),
    params(
        ("immediate" = Option<bool>, Query, description = "Purge now (requires the password in the body)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body(content = ConfirmPassword, description = "Only with `immediate=true`; otherwise send no body",
        example = json!({"password": "correct horse battery"})),
    responses(
        (status = 202, description = "Deletion scheduled", body = DeletionScheduled),
        (status = 204, description = "Purged now (immediate)"),
        (status = 403, description = "Wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing password, or the account has none", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many password attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_me(
    State(state): State<AppState>,
    user: AuthUser,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    if immediate_flag(query.as_deref())? {
        purge_now(&state, &user, &body).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let scheduled = schedule(&state, &user.user_id).await?;
    service::revoke_all_sessions(&state, &user.user_id, "account_deletion").await?;
    Ok((StatusCode::ACCEPTED, ApiJson(scheduled)).into_response())
}

async fn purge_now(state: &AppState, user: &AuthUser, body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field(
            "password",
            "required to delete the account immediately",
        ));
    }
    let ApiJson(confirm) = ApiJson::<ConfirmPassword>::parse(body)?;
    let record = service::user_by_id(state, &user.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    let Some(hash) = record.password_hash.clone() else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password_not_set",
            "This account signs in with Apple or Google and has no password: delete it without \
             `immediate` (it is purged after the grace period).",
        ));
    };
    // The same budget as sign-in attempts: this is a password oracle too.
    crate::auth::limit(
        state,
        format!("rl:login:acct:{}", state.tokens.pseudonym(&record.email)),
        state.config.auth.login_per_account_per_15min,
        Duration::from_secs(15 * 60),
    )
    .await?;
    if !state.passwords.verify(confirm.password, Some(hash)).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "password_mismatch",
            "The password is wrong; the account was not deleted.",
        ));
    }
    service::revoke_all_sessions(state, &user.user_id, "account_deletion").await?;
    // Its own task: a request timeout or a client that hangs up must not
    // cancel a purge halfway (the transaction would roll back and leave a
    // signed-out account with all its data).
    let (s, user_id) = (state.clone(), user.user_id.clone());
    tokio::spawn(async move { super::purge::purge_user(&s, &user_id).await })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(())
}

/// Records the request (or answers the pending one) and schedules its purge.
async fn schedule(state: &AppState, user_id: &str) -> ApiResult<DeletionScheduled> {
    let now = state.clock.now_ms();
    let grace_days = state.config.privacy.deletion_grace_days;
    let mut tx = state.db.begin().await?;
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT purge_at FROM account_deletions WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let purge_at = match pending {
        Some(at) => at,
        None => {
            let request_id = kalei_store::new_id();
            let purge_at = now + state.config.privacy.grace_ms();
            sqlx::query(
                "INSERT INTO account_deletions (id, user_id, requested_at, purge_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&request_id)
            .bind(user_id)
            .bind(now)
            .bind(purge_at)
            .execute(&mut *tx)
            .await?;
            let job =
                NewJob::of::<AccountPurge>(&AccountPurgePayload { request_id })?.run_at(purge_at);
            state.jobs.insert_tx(&mut tx, job).await?;
            purge_at
        }
    };
    tx.commit().await?;
    if pending.is_none() {
        audit::record(
            state,
            Some(user_id),
            AuditKind::AccountDeletionRequested,
            None,
            serde_json::json!({ "purge_at": rfc3339(purge_at) }),
        )
        .await;
    }
    Ok(DeletionScheduled {
        status: "scheduled".into(),
        purge_at: rfc3339(purge_at),
        grace_days,
    })
}

/// Sign-in (password, social or refresh) during the grace period withdraws
/// a pending deletion and cancels its purge job. True when one was pending.
pub async fn cancel_on_sign_in(state: &AppState, user_id: &str) -> ApiResult<bool> {
    let request: Option<String> =
        sqlx::query_scalar("SELECT id FROM account_deletions WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some(request_id) = request else {
        return Ok(false);
    };
    let n = sqlx::query("DELETE FROM account_deletions WHERE id = $1")
        .bind(&request_id)
        .execute(state.db.pool())
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(false); // another sign-in got there first
    }
    // The job re-checks the request anyway; cancelling it now keeps the
    // queue honest (no scheduled purge of a live account).
    sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finalized_at = $1, \
           last_error = 'deletion withdrawn: the user signed in' \
         WHERE unique_key = $2 AND state IN ('available', 'scheduled', 'retryable')",
    )
    .bind(state.clock.now_ms())
    .bind(purge_key(&request_id))
    .execute(state.db.pool())
    .await?;
    audit::record(
        state,
        Some(user_id),
        AuditKind::AccountDeletionCancelled,
        None,
        serde_json::json!({}),
    )
    .await;
    Ok(true)
}

/// The purge job's handler.
pub async fn run_purge(state: &AppState, p: &AccountPurgePayload) -> JobResult {
    let request: Option<(String, i64)> =
        sqlx::query_as("SELECT user_id, purge_at FROM account_deletions WHERE id = $1")
            .bind(&p.request_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((user_id, purge_at)) = request else {
        return Ok(JobOutcome::Cancel("deletion withdrawn".into()));
    };
    let now = state.clock.now_ms();
    if purge_at > now {
        return Ok(JobOutcome::Snooze(Duration::from_millis(
            (purge_at - now) as u64,
        )));
    }
    super::purge::purge_user(state, &user_id).await?;
    Ok(JobOutcome::Completed)
}
