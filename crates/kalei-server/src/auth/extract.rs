//! `AuthUser`: the verified caller of a protected route. `AdminUser`: the same,
//! with the admin role.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::error::ApiError;
use crate::http::RequestContext;

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub session_id: String,
    pub role: String,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// Cache key marking an auth session as revoked, so its still-unexpired access
/// tokens stop working at once (logout, token reuse, session revoke).
pub fn revoked_session_key(session_id: &str) -> String {
    format!("revoked-session:{session_id}")
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = super::tokens::bearer(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("A bearer access token is required."))?;
        let claims = state
            .tokens
            .verify(token)
            .ok_or_else(|| ApiError::unauthorized("The access token is invalid or expired."))?;
        if state
            .counters
            .cache_get(&revoked_session_key(&claims.sid))
            .await
            .map_err(ApiError::from)?
            .is_some()
        {
            return Err(ApiError::unauthorized("This session has been signed out."));
        }
        if let Some(ctx) = parts.extensions.get::<RequestContext>() {
            ctx.set_user_hash(state.tokens.pseudonym(&claims.sub));
        }
        Ok(AuthUser {
            user_id: claims.sub,
            session_id: claims.sid,
            role: claims.role,
        })
    }
}

#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if !user.is_admin() {
            return Err(ApiError::forbidden("This needs the admin role."));
        }
        Ok(AdminUser(user))
    }
}
