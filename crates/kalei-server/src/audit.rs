//! Audit events: security-relevant facts about an account (sign-in, failed
//! sign-in, token reuse, logout…). IPs are stored as keyed hashes; no request
//! content is ever recorded.

use std::net::IpAddr;

use crate::app::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    Register,
    SignIn,
    SignInFailed,
    SocialSignIn,
    TokenRefresh,
    TokenReuse,
    Logout,
    SessionRevoked,
    ItemDeleted,
    EntitlementChanged,
    AccountDeletionRequested,
    AccountDeletionCancelled,
    /// Written without a user id: the account no longer exists.
    AccountPurged,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Register => "register",
            AuditKind::SignIn => "sign_in",
            AuditKind::SignInFailed => "sign_in_failed",
            AuditKind::SocialSignIn => "social_sign_in",
            AuditKind::TokenRefresh => "token_refresh",
            AuditKind::TokenReuse => "token_reuse",
            AuditKind::Logout => "logout",
            AuditKind::SessionRevoked => "session_revoked",
            AuditKind::ItemDeleted => "item_deleted",
            AuditKind::EntitlementChanged => "entitlement_changed",
            AuditKind::AccountDeletionRequested => "account_deletion_requested",
            AuditKind::AccountDeletionCancelled => "account_deletion_cancelled",
            AuditKind::AccountPurged => "account_purged",
        }
    }
}

/// Records an event. Failures are logged, not raised: auditing must not turn
/// a successful sign-in into an error.
pub async fn record(
    state: &AppState,
    user_id: Option<&str>,
    kind: AuditKind,
    ip: Option<IpAddr>,
    detail: serde_json::Value,
) {
    let ip_hash = ip.map(|ip| state.tokens.pseudonym(&ip.to_string()));
    let result = sqlx::query(
        "INSERT INTO audit_events (id, user_id, kind, ip_hash, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kalei_store::new_id())
    .bind(user_id)
    .bind(kind.as_str())
    .bind(ip_hash)
    .bind(detail.to_string())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await;
    metrics::counter!("auth_events_total", "kind" => kind.as_str()).increment(1);
    if let Err(e) = result {
        tracing::warn!(error = %e, kind = kind.as_str(), "could not record audit event");
    }
}
