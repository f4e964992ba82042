//! Consents per purpose: `GET`/`PUT /v1/me/consents`, and the two checks the
//! rest of the server asks: may this user's text go to a remote model, and
//! may we record product events about them.
//!
//! The current answer lives in `user_consents`; every change is appended to
//! `consent_events` with the policy version the user agreed to. A purpose
//! the user never answered takes `[privacy.consent_defaults]`.

use std::collections::BTreeSet;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::ApiJson;
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_consents, put_consents))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Purpose {
    /// Product events (`analytics_events`).
    Analytics,
    /// Sending the user's text to a remote (third-party) model.
    AiProcessingRemote,
    Marketing,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::Analytics,
        Purpose::AiProcessingRemote,
        Purpose::Marketing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Analytics => "analytics",
            Purpose::AiProcessingRemote => "ai_processing_remote",
            Purpose::Marketing => "marketing",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The built-in default when neither the user nor `[privacy]` says.
    /// Remote AI is how the service produces its reframes (disclosed at
    /// sign-up and withdrawable at any time), so it starts granted; product
    /// analytics and marketing are not needed to provide the service, so
    /// they are opt-in.
    pub fn default_granted(self) -> bool {
        matches!(self, Purpose::AiProcessingRemote)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentView {
    /// analytics, ai_processing_remote or marketing
    #[schema(example = "analytics")]
    pub purpose: String,
    pub granted: bool,
    /// The policy version the user answered; null for a default.
    #[schema(example = "2026-11")]
    pub version: Option<String>,
    /// When the user answered; null for a default.
    pub updated_at: Option<String>,
    /// `recorded` (the user answered) or `default` (from configuration).
    #[schema(example = "recorded")]
    pub source: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentChange {
    pub purpose: String,
    pub granted: bool,
    pub version: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Consents {
    /// One entry per purpose.
    pub items: Vec<ConsentView>,
    /// Every recorded change, newest first (at most 100).
    pub history: Vec<ConsentChange>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentUpdate {
    /// analytics, ai_processing_remote or marketing
    #[schema(example = "ai_processing_remote")]
    pub purpose: String,
    pub granted: bool,
    /// The version of the policy text the user saw (1-64 characters).
    #[schema(example = "2026-11")]
    pub version: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutConsents {
    /// The purposes to set; purposes left out keep their answer.
    pub consents: Vec<ConsentUpdate>,
}

/// The user's answer for `purpose`, or the configured default.
pub async fn granted(state: &AppState, user_id: &str, purpose: Purpose) -> ApiResult<bool> {
    let recorded: Option<i64> =
        sqlx::query_scalar("SELECT granted FROM user_consents WHERE user_id = $1 AND purpose = $2")
            .bind(user_id)
            .bind(purpose.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    Ok(match recorded {
        Some(g) => g != 0,
        None => default_for(state, purpose),
    })
}

fn default_for(state: &AppState, purpose: Purpose) -> bool {
    state
        .config
        .privacy
        .consent_defaults
        .get(purpose.as_str())
        .copied()
        .unwrap_or_else(|| purpose.default_granted())
}

/// Whether the user's text may go to a remote model. Without this consent
/// the AI gateway uses the built-in `local` provider only.
pub async fn remote_ai_allowed(state: &AppState, user_id: &str) -> ApiResult<bool> {
    granted(state, user_id, Purpose::AiProcessingRemote).await
}

#[derive(sqlx::FromRow)]
struct ConsentRow {
    purpose: String,
    granted: i64,
    version: String,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    purpose: String,
    granted: i64,
    version: String,
    created_at: i64,
}

async fn load(state: &AppState, user_id: &str) -> ApiResult<Consents> {
    let rows: Vec<ConsentRow> = sqlx::query_as(
        "SELECT purpose, granted, version, updated_at FROM user_consents WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    let items = Purpose::ALL
        .iter()
        .map(|p| match rows.iter().find(|r| r.purpose == p.as_str()) {
            Some(r) => ConsentView {
                purpose: r.purpose.clone(),
                granted: r.granted != 0,
                version: Some(r.version.clone()),
                updated_at: Some(rfc3339(r.updated_at)),
                source: "recorded".into(),
            },
            None => ConsentView {
                purpose: p.as_str().into(),
                granted: default_for(state, *p),
                version: None,
                updated_at: None,
                source: "default".into(),
            },
        })
        .collect();
    let events: Vec<EventRow> = sqlx::query_as(
        "SELECT purpose, granted, version, created_at FROM consent_events WHERE user_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 100",
    )
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    let history = events
        .into_iter()
        .map(|e| ConsentChange {
            purpose: e.purpose,
            granted: e.granted != 0,
            version: e.version,
            at: rfc3339(e.created_at),
        })
        .collect();
    Ok(Consents { items, history })
}

/// Your consent per purpose (defaults included) and the history of changes.
#[utoipa::path(get, path = "/v1/me/consents", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "Consent per purpose", body = Consents),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_consents(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<ApiJson<Consents>> {
    Ok(ApiJson(load(&state, &user.user_id).await?))
}

fn validate(update: &PutConsents) -> ApiResult<Vec<(Purpose, bool, String)>> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    if update.consents.is_empty() {
        errors.push(FieldError {
            field: "consents".into(),
            message: "list at least one purpose".into(),
        });
    }
    for (i, c) in update.consents.iter().enumerate() {
        let version = c.version.trim();
        if version.is_empty() || version.chars().count() > 64 {
            errors.push(FieldError {
                field: format!("consents[{i}].version"),
                message: "must be 1-64 characters".into(),
            });
        }
        match Purpose::parse(&c.purpose) {
            None => errors.push(FieldError {
                field: format!("consents[{i}].purpose"),
                message: "must be one of analytics, ai_processing_remote, marketing".into(),
            }),
            Some(p) if !seen.insert(p) => errors.push(FieldError {
                field: format!("consents[{i}].purpose"),
                message: "listed twice".into(),
            }),
            Some(p) => out.push((p, c.granted, version.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Grant or withdraw consent per purpose. Withdrawing `ai_processing_remote`
/// keeps your text on our servers (the built-in engine answers);
/// withdrawing `analytics` stops product events about you.
#[utoipa::path(put, path = "/v1/me/consents", tag = "me", security(("bearer" = [])),
    request_body(content = PutConsents,
        example = json!({"consents": [{"purpose": "ai_processing_remote", "granted": false, "version": "2026-11"}]})),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 200, description = "Consent per purpose after the change", body = Consents),
        (status = 422, description = "Unknown purpose, duplicate purpose or bad version", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_consents(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(update): ApiJson<PutConsents>,
) -> ApiResult<ApiJson<Consents>> {
    let changes = validate(&update)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    for (purpose, granted, version) in changes {
        let current: Option<(i64, String)> = sqlx::query_as(
            "SELECT granted, version FROM user_consents WHERE user_id = $1 AND purpose = $2",
        )
        .bind(&user.user_id)
        .bind(purpose.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        // Re-sending the same answer is not a change: no history row.
        if current.is_some_and(|(g, v)| (g != 0) == granted && v == version) {
            continue;
        }
        sqlx::query(
            "INSERT INTO user_consents (user_id, purpose, granted, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, purpose) DO UPDATE SET granted = excluded.granted, \
               version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(&user.user_id)
        .bind(purpose.as_str())
        .bind(granted as i64)
        .bind(&version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO consent_events (id, user_id, purpose, granted, version, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(kalei_store::new_id())
        .bind(&user.user_id)
        .bind(purpose.as_str())
        .bind(granted as i64)
        .bind(&version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(ApiJson(load(&state, &user.user_id).await?))
}
