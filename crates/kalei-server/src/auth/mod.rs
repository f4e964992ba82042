//! Authentication: register and login (Argon2id), rotating refresh tokens with
//! reuse detection, logout, device sessions, Apple/Google sign-in; rate limits
//! per IP and per account; audit events.

pub mod extract;
pub mod model;
pub mod password;
pub mod service;
pub mod social;
pub mod tokens;

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::audit::{self, AuditKind};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::client_ip::rate_limit_subject;
use crate::http::json::created;
use crate::http::{ApiJson, ClientIp};
pub use extract::{AdminUser, AuthUser};
use model::*;
use service::{NewUser, RefreshOutcome};
use social::{Provider, SocialError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(apple_sign_in))
        .routes(routes!(google_sign_in))
}

pub(crate) async fn limit(
    state: &AppState,
    key: String,
    limit: u64,
    window: Duration,
) -> ApiResult<()> {
    let decision = state.counters.rate_limit(&key, limit, window).await?;
    if decision.allowed {
        Ok(())
    } else {
        Err(ApiError::rate_limited(
            "rate_limited",
            decision.retry_after.as_secs_f64().ceil() as u64,
        ))
    }
}

async fn issue(
    state: &AppState,
    user: &service::UserRecord,
    session_id: &str,
    refresh_token: String,
) -> AuthResponse {
    AuthResponse {
        user: user.view(),
        access_token: state
            .tokens
            .issue(&user.id, session_id, &user.role, state.clock.now_ms()),
        refresh_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl_secs,
    }
}

fn device(name: Option<&str>) -> Result<Option<String>, crate::error::FieldError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) => check_text("device_name", n, 100).map(|()| Some(n.to_string())),
    }
}

/// Create an account.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = AuthResponse),
        (status = 409, description = "Email already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<Response> {
    let email = normalise_email(&req.email);
    let display_name = req
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let timezone = req.timezone.as_deref().unwrap_or("UTC");
    let locale = req.locale.as_deref().unwrap_or("en");
    let device_name = device(req.device_name.as_deref());
    collect(vec![
        email.as_ref().map(|_| ()).map_err(Clone::clone),
        check_password(&req.password),
        display_name.map_or(Ok(()), |d| check_text("display_name", d, 100)),
        check_timezone(timezone),
        check_locale(locale),
        device_name.as_ref().map(|_| ()).map_err(Clone::clone),
    ])?;
    let (email, device_name) = (email.unwrap_or_default(), device_name.unwrap_or_default());
    limit(
        &state,
        format!("rl:register:ip:{}", rate_limit_subject(ip)),
        state.config.auth.register_per_ip_per_hour,
        Duration::from_secs(3600),
    )
    .await?;

    let password_hash = state.passwords.hash(req.password).await?;
    let now = state.clock.now_ms();
    let role = service::role_for(&state, &email);
    let mut tx = state.db.begin().await?;
    let user_id = service::insert_user(
        &mut tx,
        &NewUser {
            email: &email,
            password_hash: Some(&password_hash),
            role,
            display_name,
            timezone,
            locale,
        },
        now,
    )
    .await?;
    let (session_id, refresh_token) =
        service::create_session(&state, &mut tx, &user_id, device_name.as_deref(), now).await?;
    tx.commit().await?;
    audit::record(
        &state,
        Some(&user_id),
        AuditKind::Register,
        Some(ip),
        json!({}),
    )
    .await;
    let user = service::user_by_id(&state, &user_id)
        .await?
        .ok_or_else(|| ApiError::internal("user vanished after insert"))?;
    Ok(created(
        issue(&state, &user, &session_id, refresh_token).await,
    ))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = AuthResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<ApiJson<AuthResponse>> {
    let device_name =
        device(req.device_name.as_deref()).map_err(|e| ApiError::validation(vec![e]))?;
    let invalid = || ApiError::unauthorized("The email or password is wrong.");
    let invalid_credentials = || ApiError {
        code: "invalid_credentials",
        ..invalid()
    };
    // Shape errors get the same answer as wrong credentials (no oracle), but
    // only after the rate limits count the attempt.
    let email = normalise_email(&req.email).ok();
    limit(
        &state,
        format!("rl:login:ip:{}", rate_limit_subject(ip)),
        state.config.auth.login_per_ip_per_minute,
        Duration::from_secs(60),
    )
    .await?;
    let Some(email) = email else {
        return Err(invalid_credentials());
    };
    limit(
        &state,
        format!("rl:login:acct:{}", state.tokens.pseudonym(&email)),
        state.config.auth.login_per_account_per_15min,
        Duration::from_secs(15 * 60),
    )
    .await?;

    let user = service::user_by_email(&state, &email).await?;
    let ok = state
        .passwords
        .verify(
            req.password,
            user.as_ref().and_then(|u| u.password_hash.clone()),
        )
        .await?;
    let Some(mut user) = user.filter(|_| ok) else {
        let user_id = service::user_by_email(&state, &email).await?.map(|u| u.id);
        audit::record(
            &state,
            user_id.as_deref(),
            AuditKind::SignInFailed,
            Some(ip),
            json!({}),
        )
        .await;
        return Err(invalid_credentials());
    };
    service::sync_role(&state, &mut user).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let (session_id, refresh_token) =
        service::create_session(&state, &mut tx, &user.id, device_name.as_deref(), now).await?;
    tx.commit().await?;
    crate::privacy::deletion::cancel_on_sign_in(&state, &user.id).await?;
    audit::record(
        &state,
        Some(&user.id),
        AuditKind::SignIn,
        Some(ip),
        json!({}),
    )
    .await;
    Ok(ApiJson(
        issue(&state, &user, &session_id, refresh_token).await,
    ))
}

/// Exchange a refresh token for new tokens (the old refresh token dies).
///
/// Presenting a refresh token that was already used revokes the whole session
/// (token family): a stolen and replayed token locks out both copies.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair", body = AuthResponse),
        (status = 401, description = "Invalid, expired or reused refresh token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<ApiJson<AuthResponse>> {
    if req.refresh_token.is_empty() || req.refresh_token.len() > 256 {
        return Err(invalid_refresh());
    }
    let caller = tokens::bearer_user(&state, &headers);
    match service::rotate_refresh(&state, &req.refresh_token, caller.as_deref()).await? {
        RefreshOutcome::Invalid => Err(invalid_refresh()),
        RefreshOutcome::Reused {
            user_id,
            session_id,
        } => {
            audit::record(
                &state,
                Some(&user_id),
                AuditKind::TokenReuse,
                Some(ip),
                json!({ "session_id": session_id }),
            )
            .await;
            Err(ApiError {
                code: "refresh_token_reused",
                ..ApiError::unauthorized(
                    "This refresh token was already used; the session has been signed out.",
                )
            })
        }
        RefreshOutcome::Rotated {
            user_id,
            session_id,
            refresh_token,
        } => {
            let user = service::user_by_id(&state, &user_id)
                .await?
                .ok_or_else(invalid_refresh)?;
            crate::privacy::deletion::cancel_on_sign_in(&state, &user_id).await?;
            Ok(ApiJson(
                issue(&state, &user, &session_id, refresh_token).await,
            ))
        }
    }
}

fn invalid_refresh() -> ApiError {
    ApiError {
        code: "invalid_refresh_token",
        ..ApiError::unauthorized("The refresh token is invalid or expired.")
    }
}

/// Sign out this device: its refresh tokens and access tokens stop working.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
) -> ApiResult<StatusCode> {
    service::revoke_session(&state, &user.user_id, &user.session_id, "logout").await?;
    audit::record(
        &state,
        Some(&user.user_id),
        AuditKind::Logout,
        Some(ip),
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in devices of this account.
#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Active sessions, newest first", body = SessionList)))]
async fn list_sessions(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<ApiJson<SessionList>> {
    let rows = service::active_sessions(&state, &user.user_id).await?;
    Ok(ApiJson(SessionList {
        items: rows
            .into_iter()
            .map(|r| SessionView {
                current: r.id == user.session_id,
                id: r.id,
                device_name: r.device_name,
                created_at: crate::time::rfc3339(r.created_at),
                last_used_at: crate::time::rfc3339(r.last_used_at),
            })
            .collect(),
    }))
}

/// Sign out one device of this account.
#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Session revoked"),
        (status = 404, description = "No such session of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !service::revoke_session(&state, &user.user_id, &id, "user_revoked").await? {
        return Err(ApiError::not_found("session"));
    }
    audit::record(
        &state,
        Some(&user.user_id),
        AuditKind::SessionRevoked,
        Some(ip),
        json!({ "session_id": id }),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign in with Apple (ID token from the app).
#[utoipa::path(post, path = "/v1/auth/apple", tag = "auth",
    request_body = SocialSignInRequest,
    responses(
        (status = 200, description = "Signed in to an existing account", body = AuthResponse),
        (status = 201, description = "Account created on first sign-in", body = AuthResponse),
        (status = 401, description = "ID token rejected", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Apple sign-in is not configured", body = Problem, content_type = "application/problem+json"),
    ))]
async fn apple_sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SocialSignInRequest>,
) -> ApiResult<Response> {
    social_sign_in(state, ip, Provider::Apple, req).await
}

/// Sign in with Google (ID token from the app).
#[utoipa::path(post, path = "/v1/auth/google", tag = "auth",
    request_body = SocialSignInRequest,
    responses(
        (status = 200, description = "Signed in to an existing account", body = AuthResponse),
        (status = 201, description = "Account created on first sign-in", body = AuthResponse),
        (status = 401, description = "ID token rejected", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Google sign-in is not configured", body = Problem, content_type = "application/problem+json"),
    ))]
async fn google_sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SocialSignInRequest>,
) -> ApiResult<Response> {
    social_sign_in(state, ip, Provider::Google, req).await
}

async fn social_sign_in(
    state: AppState,
    ip: std::net::IpAddr,
    provider: Provider,
    req: SocialSignInRequest,
) -> ApiResult<Response> {
    let device_name =
        device(req.device_name.as_deref()).map_err(|e| ApiError::validation(vec![e]))?;
    let timezone = req.timezone.as_deref().unwrap_or("UTC");
    check_timezone(timezone).map_err(|e| ApiError::validation(vec![e]))?;
    limit(
        &state,
        format!("rl:login:ip:{}", rate_limit_subject(ip)),
        state.config.auth.login_per_ip_per_minute,
        Duration::from_secs(60),
    )
    .await?;
    let claims = match state.social.verify(provider, &req.id_token) {
        Ok(c) => c,
        Err(SocialError::NotConfigured) => {
            return Err(ApiError::bad_request(
                "provider_not_configured",
                format!(
                    "{} sign-in is not configured on this server.",
                    provider.as_str()
                ),
            ))
        }
        Err(SocialError::Invalid) => {
            audit::record(
                &state,
                None,
                AuditKind::SignInFailed,
                Some(ip),
                json!({ "provider": provider.as_str() }),
            )
            .await;
            return Err(ApiError {
                code: "invalid_id_token",
                ..ApiError::unauthorized("The identity token could not be verified.")
            });
        }
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let linked: Option<String> = sqlx::query_scalar(
        "SELECT user_id FROM user_identities WHERE provider = $1 AND subject = $2",
    )
    .bind(provider.as_str())
    .bind(&claims.sub)
    .fetch_optional(&mut *tx)
    .await?;
    let verified_email = claims
        .email
        .as_deref()
        .filter(|_| claims.email_verified)
        .and_then(|e| normalise_email(e).ok());
    let (user_id, created_now) = match linked {
        Some(id) => (id, false),
        None => {
            // Link to an existing account only through a verified email.
            let existing: Option<String> = match &verified_email {
                Some(email) => {
                    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
                        .bind(email)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                None => None,
            };
            let (id, created_now) = match existing {
                Some(id) => (id, false),
                None => {
                    let email = verified_email.clone().unwrap_or_else(|| {
                        format!("{}-{}@users.kalei.invalid", provider.as_str(), claims.sub)
                    });
                    let role = service::role_for(&state, &email);
                    let id = service::insert_user(
                        &mut tx,
                        &NewUser {
                            email: &email,
                            password_hash: None,
                            role,
                            display_name: None,
                            timezone,
                            locale: "en",
                        },
                        now,
                    )
                    .await?;
                    (id, true)
                }
            };
            sqlx::query(
                "INSERT INTO user_identities (user_id, provider, subject, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&id)
            .bind(provider.as_str())
            .bind(&claims.sub)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            (id, created_now)
        }
    };
    let (session_id, refresh_token) =
        service::create_session(&state, &mut tx, &user_id, device_name.as_deref(), now).await?;
    tx.commit().await?;
    crate::privacy::deletion::cancel_on_sign_in(&state, &user_id).await?;
    audit::record(
        &state,
        Some(&user_id),
        AuditKind::SocialSignIn,
        Some(ip),
        json!({ "provider": provider.as_str(), "created": created_now }),
    )
    .await;
    let user = service::user_by_id(&state, &user_id)
        .await?
        .ok_or_else(|| ApiError::internal("user vanished after social sign-in"))?;
    let body = issue(&state, &user, &session_id, refresh_token).await;
    Ok(if created_now {
        created(body)
    } else {
        ApiJson(body).into_response()
    })
}
