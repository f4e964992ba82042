//! Account and session storage: users, profiles, auth sessions (one per
//! device, also the refresh-token family) and rotating refresh tokens.

use sqlx::{Any, Transaction};

use super::model::UserView;
use super::tokens::{hash_refresh_token, new_refresh_token};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::time::rfc3339;

/// A user row joined with its profile.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub display_name: Option<String>,
    pub timezone: String,
    pub locale: String,
    pub created_at: i64,
}

impl UserRecord {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id.clone(),
            email: self.email.clone(),
            role: self.role.clone(),
            display_name: self.display_name.clone(),
            timezone: self.timezone.clone(),
            locale: self.locale.clone(),
            created_at: rfc3339(self.created_at),
        }
    }
}

const USER_SELECT: &str = "SELECT u.id, u.email, u.password_hash, u.role, p.display_name, \
     p.timezone, p.locale, u.created_at FROM users u JOIN profiles p ON p.user_id = u.id";

pub async fn user_by_id(state: &AppState, user_id: &str) -> ApiResult<Option<UserRecord>> {
    Ok(sqlx::query_as(&format!("{USER_SELECT} WHERE u.id = $1"))
        .bind(user_id)
        .fetch_optional(state.db.pool())
        .await?)
}

pub async fn user_by_email(state: &AppState, email: &str) -> ApiResult<Option<UserRecord>> {
    Ok(sqlx::query_as(&format!("{USER_SELECT} WHERE u.email = $1"))
        .bind(email)
        .fetch_optional(state.db.pool())
        .await?)
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: Option<&'a str>,
    pub role: &'a str,
    pub display_name: Option<&'a str>,
    pub timezone: &'a str,
    pub locale: &'a str,
}

/// Inserts a user and profile. A taken email is 409 `email_taken`.
pub async fn insert_user(
    tx: &mut Transaction<'static, Any>,
    new: &NewUser<'_>,
    now: i64,
) -> ApiResult<String> {
    let id = kalei_store::new_id();
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, password_hash, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(new.email)
    .bind(new.password_hash)
    .bind(new.role)
    .bind(now)
    .execute(&mut **tx)
    .await;
    if let Err(e) = inserted {
        let e = kalei_store::StoreError::from_sqlx(e);
        return Err(if e.is_conflict() {
            ApiError::conflict("email_taken", "An account with this email already exists.")
        } else {
            e.into()
        });
    }
    sqlx::query(
        "INSERT INTO profiles (user_id, display_name, timezone, locale, updated_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(new.display_name)
    .bind(new.timezone)
    .bind(new.locale)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Starts a device session and its first refresh token. Returns
/// (session id, refresh token in clear: shown to the client once).
pub async fn create_session(
    state: &AppState,
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    device_name: Option<&str>,
    now: i64,
) -> ApiResult<(String, String)> {
    let session_id = kalei_store::new_id();
    let expires = now + refresh_ttl_ms(state);
    sqlx::query(
        "INSERT INTO auth_sessions (id, user_id, device_name, created_at, last_used_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(&session_id)
    .bind(user_id)
    .bind(device_name)
    .bind(now)
    .bind(expires)
    .execute(&mut **tx)
    .await?;
    let token = insert_refresh_token(tx, user_id, &session_id, now, expires).await?;
    Ok((session_id, token))
}

fn refresh_ttl_ms(state: &AppState) -> i64 {
    state.config.auth.refresh_ttl_days as i64 * 24 * 3600 * 1000
}

async fn insert_refresh_token(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    session_id: &str,
    now: i64,
    expires: i64,
) -> ApiResult<String> {
    let token = new_refresh_token();
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, session_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_refresh_token(&token))
    .bind(user_id)
    .bind(session_id)
    .bind(now)
    .bind(expires)
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// What presenting a refresh token led to.
pub enum RefreshOutcome {
    Rotated {
        user_id: String,
        session_id: String,
        refresh_token: String,
    },
    /// Unknown, expired, or its session is revoked.
    Invalid,
    /// A token that was already rotated: the whole family is now revoked.
    Reused { user_id: String, session_id: String },
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    user_id: String,
    session_id: String,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// Rotates a refresh token: the presented one dies, a new one is issued in
/// the same family. Presenting a dead one revokes the family.
pub async fn rotate_refresh(
    state: &AppState,
    token: &str,
    expected_user: Option<&str>,
) -> ApiResult<RefreshOutcome> {
    let now = state.clock.now_ms();
    let hash = hash_refresh_token(token);
    let mut tx = state.db.begin().await?;
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT t.user_id, t.session_id, t.expires_at, t.used_at, s.revoked_at \
         FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id \
         WHERE t.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(RefreshOutcome::Invalid);
    };
    if expected_user.is_some_and(|u| u != row.user_id) {
        // Someone else's token next to this caller's access token: refuse
        // without touching either family.
        return Ok(RefreshOutcome::Invalid);
    }
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Ok(RefreshOutcome::Invalid);
    }
    let claimed = if row.used_at.is_none() {
        sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(&hash)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1
    } else {
        false
    };
    if !claimed {
        revoke_session_tx(&mut tx, &row.session_id, "token_reuse", now).await?;
        tx.commit().await?;
        mark_revoked(state, &row.session_id).await;
        return Ok(RefreshOutcome::Reused {
            user_id: row.user_id,
            session_id: row.session_id,
        });
    }
    let expires = now + refresh_ttl_ms(state);
    let refresh_token =
        insert_refresh_token(&mut tx, &row.user_id, &row.session_id, now, expires).await?;
    sqlx::query("UPDATE auth_sessions SET last_used_at = $1, expires_at = $2 WHERE id = $3")
        .bind(now)
        .bind(expires)
        .bind(&row.session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RefreshOutcome::Rotated {
        user_id: row.user_id,
        session_id: row.session_id,
        refresh_token,
    })
}

async fn revoke_session_tx(
    tx: &mut Transaction<'static, Any>,
    session_id: &str,
    reason: &str,
    now: i64,
) -> ApiResult<()> {
    sqlx::query(
        "UPDATE auth_sessions SET revoked_at = $1, revoke_reason = $2 \
         WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(session_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Makes the session's outstanding access tokens fail immediately.
async fn mark_revoked(state: &AppState, session_id: &str) {
    let ttl = std::time::Duration::from_secs(state.tokens.access_ttl_secs + 60);
    if let Err(e) = state
        .counters
        .cache_set(&super::extract::revoked_session_key(session_id), b"1", ttl)
        .await
    {
        tracing::warn!(error = %e, "could not mark session revoked in cache");
    }
}

/// Revokes one of `user_id`'s sessions. False when it is not theirs or
/// does not exist (the caller answers 404 either way).
pub async fn revoke_session(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    reason: &str,
) -> ApiResult<bool> {
    let now = state.clock.now_ms();
    let n = sqlx::query(
        "UPDATE auth_sessions SET revoked_at = $1, revoke_reason = $2 \
         WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(session_id)
    .bind(user_id)
    .execute(state.db.pool())
    .await?
    .rows_affected();
    if n == 1 {
        mark_revoked(state, session_id).await;
    }
    Ok(n == 1)
}

/// Revokes every active session of `user_id` (account deletion): refresh
/// tokens die and outstanding access tokens stop working at once.
pub async fn revoke_all_sessions(state: &AppState, user_id: &str, reason: &str) -> ApiResult<u64> {
    let now = state.clock.now_ms();
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM auth_sessions WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    sqlx::query(
        "UPDATE auth_sessions SET revoked_at = $1, revoke_reason = $2 \
         WHERE user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(user_id)
    .execute(state.db.pool())
    .await?;
    for id in &ids {
        mark_revoked(state, id).await;
    }
    Ok(ids.len() as u64)
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub device_name: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
}

pub async fn active_sessions(state: &AppState, user_id: &str) -> ApiResult<Vec<SessionRow>> {
    Ok(sqlx::query_as(
        "SELECT id, device_name, created_at, last_used_at FROM auth_sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         ORDER BY created_at DESC LIMIT 200",
    )
    .bind(user_id)
    .bind(state.clock.now_ms())
    .fetch_all(state.db.pool())
    .await?)
}

/// Keeps the role in step with `auth.admin_emails`.
pub fn role_for(state: &AppState, email: &str) -> &'static str {
    if state
        .config
        .auth
        .admin_emails
        .iter()
        .any(|a| a.trim().eq_ignore_ascii_case(email))
    {
        "admin"
    } else {
        "user"
    }
}

pub async fn sync_role(state: &AppState, user: &mut UserRecord) -> ApiResult<()> {
    let role = role_for(state, &user.email);
    if role == "admin" && user.role != "admin" {
        sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
            .bind(role)
            .bind(state.clock.now_ms())
            .bind(&user.id)
            .execute(state.db.pool())
            .await?;
        user.role = role.to_string();
    }
    Ok(())
}
