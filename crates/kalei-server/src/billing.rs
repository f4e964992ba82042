//! Store notifications: App Store Server Notifications v2 and Google Play
//! real-time developer notifications. Both are verified before anything is
//! read, idempotent on the notification id (a replay changes nothing), written
//! to `billing_events`, and update `subscriptions` plus the
//! `entitlement_snapshots` history in one transaction.
//!
//! Apple: the body's `signedPayload` is a JWS whose `x5c` chain must lead to
//! the configured root certificate (Apple Root CA G3 in production); the
//! leaf signs the JWS (ES256). The transaction inside is a JWS of its own,
//! verified the same way. The user is the transaction's `appAccountToken`
//! (the app sets it to the Kalei user id at purchase).
//!
//! Google: Pub/Sub push with a Google-signed OIDC token in `Authorization`,
//! verified against the configured JWKS, issuer and audience. RTDN carries a
//! purchase token, not a user: the app registers the token for the signed-in
//! user first (`POST /v1/billing/google/purchases`, which grants nothing),
//! and only a verified notification for that token changes the plan.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::extract::State;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{Any, Transaction};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use x509_parser::prelude::*;

use crate::app::AppState;
use crate::audit::{self, AuditKind};
use crate::auth::social::OidcKeys;
use crate::auth::AuthUser;
use crate::config::SocialConfig;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(apple_webhook))
        .routes(routes!(google_webhook))
        .routes(routes!(register_google_purchase))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    pub apple: Option<AppleConfig>,
    pub google: Option<GoogleConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppleConfig {
    pub bundle_id: String,
    /// PEM of the trusted root (Apple Root CA - G3), inline or as a file.
    pub root_cert_pem: Option<String>,
    pub root_cert_file: Option<PathBuf>,
    /// Product id → plan (`prism` or `prism_plus`).
    pub products: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    pub package_name: String,
    /// The Pub/Sub push token's issuer, audience and JWKS.
    pub push_auth: SocialConfig,
    /// Subscription id → plan.
    pub products: BTreeMap<String, String>,
}

/// Verifiers built from [`BillingConfig`] at start.
#[derive(Default)]
pub struct BillingVerifiers {
    apple: Option<(AppleConfig, Vec<u8>)>,
    google: Option<(GoogleConfig, OidcKeys)>,
}

impl BillingVerifiers {
    pub fn from_config(c: &BillingConfig) -> Result<Self, String> {
        let apple = match &c.apple {
            None => None,
            Some(a) => {
                let pem = match (&a.root_cert_pem, &a.root_cert_file) {
                    (Some(p), _) => p.clone(),
                    (None, Some(f)) => std::fs::read_to_string(f)
                        .map_err(|e| format!("invalid configuration: billing.apple.root_cert_file {}: {e}", f.display()))?,
                    (None, None) => return Err("invalid configuration: billing.apple needs root_cert_pem or root_cert_file".into()),
                };
                let (_, parsed) =
                    x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| {
                        format!("invalid configuration: billing.apple root certificate: {e}")
                    })?;
                parsed.parse_x509().map_err(|e| {
                    format!("invalid configuration: billing.apple root certificate: {e}")
                })?;
                Some((a.clone(), parsed.contents))
            }
        };
        let google = match &c.google {
            None => None,
            Some(g) => Some((
                g.clone(),
                OidcKeys::from_config("billing.google.push_auth", &g.push_auth)?,
            )),
        };
        Ok(Self { apple, google })
    }
}

fn unauthorized() -> ApiError {
    ApiError {
        code: "invalid_signature",
        ..ApiError::unauthorized("The notification could not be verified.")
    }
}

/// Verifies an Apple JWS: the `x5c` chain up to the configured root, each
/// certificate valid now, and the leaf's ES256 signature. Returns the payload.
pub fn verify_apple_jws(jws: &str, root_der: &[u8], now_secs: i64) -> Result<Value, ApiError> {
    let header = jsonwebtoken::decode_header(jws).map_err(|_| unauthorized())?;
    if header.alg != Algorithm::ES256 {
        return Err(unauthorized());
    }
    let chain: Vec<Vec<u8>> = header
        .x5c
        .ok_or_else(unauthorized)?
        .iter()
        .map(|c| STANDARD.decode(c).map_err(|_| unauthorized()))
        .collect::<Result<_, _>>()?;
    if chain.len() < 2 || chain.len() > 4 {
        return Err(unauthorized());
    }
    let (_, root) = parse_x509_certificate(root_der).map_err(|_| unauthorized())?;
    let certs: Vec<X509Certificate> = chain
        .iter()
        .map(|der| {
            parse_x509_certificate(der)
                .map(|(_, c)| c)
                .map_err(|_| unauthorized())
        })
        .collect::<Result<_, _>>()?;
    let at = ASN1Time::from_timestamp(now_secs).map_err(|_| unauthorized())?;
    for (i, cert) in certs.iter().enumerate() {
        if !cert.validity().is_valid_at(at) {
            return Err(unauthorized());
        }
        // Each certificate is signed by the next one; the last by the root
        // (or it is the root itself).
        let issuer = match certs.get(i + 1) {
            Some(next) => {
                if !next.is_ca() {
                    return Err(unauthorized());
                }
                next.public_key()
            }
            None if cert.as_ref() == root.as_ref() => continue,
            None => root.public_key(),
        };
        cert.verify_signature(Some(issuer))
            .map_err(|_| unauthorized())?;
    }
    let leaf_key = &certs[0].public_key().subject_public_key.data;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(jws, &DecodingKey::from_ec_der(leaf_key), &validation)
        .map(|d| d.claims)
        .map_err(|_| unauthorized())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppleNotification {
    /// The JWS Apple sends.
    pub signed_payload: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResult {
    /// `applied`, `duplicate` or `recorded` (verified but not linked to a user)
    #[schema(example = "applied")]
    pub status: &'static str,
}

/// Records the event; false when this notification id was seen before.
async fn record_event(
    tx: &mut Transaction<'static, Any>,
    store: &str,
    notification_id: &str,
    user_id: Option<&str>,
    event_type: &str,
    payload: &Value,
    now: i64,
) -> ApiResult<bool> {
    let n = sqlx::query(
        "INSERT INTO billing_events (id, user_id, store, notification_id, event_type, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (store, notification_id) DO NOTHING",
    )
    .bind(kalei_store::new_id())
    .bind(user_id)
    .bind(store)
    .bind(notification_id)
    .bind(event_type)
    .bind(payload.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Upserts the subscription and snapshots a plan change.
#[allow(clippy::too_many_arguments)]
async fn apply_subscription(
    state: &AppState,
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    store: &str,
    transaction_id: &str,
    plan: &str,
    active: bool,
    expires_at: Option<i64>,
    reason: &str,
    now: i64,
) -> ApiResult<()> {
    let before = crate::entitlements::plan_of(state, user_id).await?;
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan, store, original_transaction_id, status, expires_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (user_id) DO UPDATE SET plan = excluded.plan, store = excluded.store, \
           original_transaction_id = excluded.original_transaction_id, status = excluded.status, \
           expires_at = excluded.expires_at, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(plan)
    .bind(store)
    .bind(transaction_id)
    .bind(if active { "active" } else { "inactive" })
    .bind(expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let after = if active && expires_at.is_none_or(|e| e > now) {
        plan
    } else {
        "free"
    };
    if after != before {
        sqlx::query("INSERT INTO entitlement_snapshots (id, user_id, plan, reason, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(kalei_store::new_id())
            .bind(user_id)
            .bind(after)
            .bind(reason)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// App Store Server Notifications v2.
#[utoipa::path(post, path = "/v1/billing/webhooks/apple", tag = "billing",
    request_body = AppleNotification,
    responses(
        (status = 200, description = "Verified and applied (or a duplicate)", body = WebhookResult),
        (status = 401, description = "Signature, chain or bundle id rejected; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Apple notifications are not configured (billing.apple)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn apple_webhook(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AppleNotification>,
) -> ApiResult<ApiJson<WebhookResult>> {
    let (config, root) = state
        .billing
        .apple
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Apple notifications endpoint"))?;
    let now = state.clock.now_ms();
    let payload = verify_apple_jws(&body.signed_payload, root, now / 1000)?;
    let data = &payload["data"];
    if data["bundleId"].as_str() != Some(config.bundle_id.as_str()) {
        return Err(unauthorized());
    }
    let notification_id = payload["notificationUUID"]
        .as_str()
        .ok_or_else(unauthorized)?
        .to_string();
    let kind = payload["notificationType"]
        .as_str()
        .unwrap_or("UNKNOWN")
        .to_string();
    let transaction = match data["signedTransactionInfo"].as_str() {
        Some(jws) => Some(verify_apple_jws(jws, root, now / 1000)?),
        None => None,
    };
    if transaction.as_ref().is_some_and(|t| {
        t["bundleId"]
            .as_str()
            .is_some_and(|b| b != config.bundle_id)
    }) {
        return Err(unauthorized());
    }
    let mut tx = state.db.begin().await?;
    // Who: the app account token (our user id), else a known transaction.
    let original_id = transaction
        .as_ref()
        .and_then(|t| t["originalTransactionId"].as_str())
        .map(str::to_string);
    let mut user_id: Option<String> = None;
    if let Some(token) = transaction
        .as_ref()
        .and_then(|t| t["appAccountToken"].as_str())
    {
        user_id = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(token.to_lowercase())
            .fetch_optional(&mut *tx)
            .await?;
    }
    if user_id.is_none() {
        if let Some(orig) = &original_id {
            user_id = sqlx::query_scalar("SELECT user_id FROM subscriptions WHERE store = 'apple' AND original_transaction_id = $1")
                .bind(orig)
                .fetch_optional(&mut *tx)
                .await?;
        }
    }
    if !record_event(
        &mut tx,
        "apple",
        &notification_id,
        user_id.as_deref(),
        &kind,
        &payload,
        now,
    )
    .await?
    {
        return Ok(ApiJson(WebhookResult {
            status: "duplicate",
        }));
    }
    let (Some(user_id), Some(t), Some(orig)) = (user_id, transaction, original_id) else {
        tx.commit().await?;
        return Ok(ApiJson(WebhookResult { status: "recorded" }));
    };
    let product = t["productId"].as_str().unwrap_or_default();
    let Some(plan) = config.products.get(product) else {
        tx.commit().await?;
        return Ok(ApiJson(WebhookResult { status: "recorded" }));
    };
    let active = matches!(
        kind.as_str(),
        "SUBSCRIBED"
            | "DID_RENEW"
            | "DID_CHANGE_RENEWAL_PREF"
            | "DID_CHANGE_RENEWAL_STATUS"
            | "OFFER_REDEEMED"
            | "RENEWAL_EXTENDED"
    ) && t["revocationDate"].is_null();
    let expires_at = t["expiresDate"].as_i64();
    apply_subscription(
        &state,
        &mut tx,
        &user_id,
        "apple",
        &orig,
        plan,
        active,
        expires_at,
        &format!("apple:{kind}"),
        now,
    )
    .await?;
    tx.commit().await?;
    audit::record(
        &state,
        Some(&user_id),
        AuditKind::EntitlementChanged,
        None,
        json!({"store": "apple", "type": kind, "plan": plan, "active": active}),
    )
    .await;
    Ok(ApiJson(WebhookResult { status: "applied" }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PubSubPush {
    pub message: PubSubMessage,
    pub subscription: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PubSubMessage {
    /// Base64 of the RTDN JSON.
    pub data: String,
    pub message_id: String,
}

/// Google Play real-time developer notifications (Pub/Sub push).
#[utoipa::path(post, path = "/v1/billing/webhooks/google", tag = "billing",
    request_body = PubSubPush,
    responses(
        (status = 200, description = "Verified and applied (or a duplicate)", body = WebhookResult),
        (status = 401, description = "Push token or package rejected; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Google notifications are not configured (billing.google)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn google_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PubSubPush>,
) -> ApiResult<ApiJson<WebhookResult>> {
    let (config, keys) = state
        .billing
        .google
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Google notifications endpoint"))?;
    let token = crate::auth::tokens::bearer(&headers).ok_or_else(unauthorized)?;
    keys.verify::<Value>(token).map_err(|_| unauthorized())?;
    let data = STANDARD
        .decode(body.message.data.as_bytes())
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_notification", "message.data is not base64 JSON.")
        })?;
    if data["packageName"].as_str() != Some(config.package_name.as_str()) {
        return Err(unauthorized());
    }
    let _ = &body.subscription;
    let now = state.clock.now_ms();
    let sub = &data["subscriptionNotification"];
    let kind = sub["notificationType"].as_i64().unwrap_or(0);
    let purchase_token = sub["purchaseToken"].as_str().map(str::to_string);
    let mut tx = state.db.begin().await?;
    let user_id: Option<String> = match &purchase_token {
        Some(t) => sqlx::query_scalar("SELECT user_id FROM subscriptions WHERE store = 'google' AND original_transaction_id = $1")
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?,
        None => None,
    };
    if !record_event(
        &mut tx,
        "google",
        &body.message.message_id,
        user_id.as_deref(),
        &format!("subscription:{kind}"),
        &data,
        now,
    )
    .await?
    {
        return Ok(ApiJson(WebhookResult {
            status: "duplicate",
        }));
    }
    let plan = sub["subscriptionId"]
        .as_str()
        .and_then(|p| config.products.get(p));
    let (Some(user_id), Some(token), Some(plan)) = (user_id, purchase_token, plan) else {
        tx.commit().await?;
        return Ok(ApiJson(WebhookResult { status: "recorded" }));
    };
    // RECOVERED 1, RENEWED 2, CANCELED 3 (active until expiry), PURCHASED 4,
    // RESTARTED 7, PRICE_CHANGE_CONFIRMED 8, DEFERRED 9: active;
    // ON_HOLD 5, IN_GRACE_PERIOD 6 (still active), PAUSED 10, REVOKED 12, EXPIRED 13.
    let active = matches!(kind, 1 | 2 | 3 | 4 | 6 | 7 | 8 | 9);
    apply_subscription(
        &state,
        &mut tx,
        &user_id,
        "google",
        &token,
        plan,
        active,
        None,
        &format!("google:{kind}"),
        now,
    )
    .await?;
    tx.commit().await?;
    audit::record(
        &state,
        Some(&user_id),
        AuditKind::EntitlementChanged,
        None,
        json!({"store": "google", "type": kind, "plan": plan, "active": active}),
    )
    .await;
    Ok(ApiJson(WebhookResult { status: "applied" }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GooglePurchase {
    /// The purchase token Google Play returned to the app.
    pub purchase_token: String,
}

/// Link a Google Play purchase token to your account. Grants nothing by
/// itself: the plan changes when Google's verified notification arrives.
#[utoipa::path(post, path = "/v1/billing/google/purchases", tag = "billing", security(("bearer" = [])),
    request_body = GooglePurchase,
    responses(
        (status = 202, description = "Registered; waiting for Google's notification"),
        (status = 409, description = "The token belongs to another account", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register_google_purchase(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<GooglePurchase>,
) -> ApiResult<axum::http::StatusCode> {
    if req.purchase_token.is_empty() || req.purchase_token.len() > 1024 {
        return Err(ApiError::field(
            "purchase_token",
            "must be 1-1024 characters",
        ));
    }
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT user_id FROM subscriptions WHERE store = 'google' AND original_transaction_id = $1",
    )
    .bind(&req.purchase_token)
    .fetch_optional(state.db.pool())
    .await?;
    match owner {
        Some(o) if o != user.user_id => {
            return Err(ApiError::conflict(
                "purchase_taken",
                "This purchase belongs to another account.",
            ))
        }
        Some(_) => return Ok(axum::http::StatusCode::ACCEPTED),
        None => {}
    }
    // Pending until a verified notification: status 'pending' grants nothing.
    let plan = crate::entitlements::plan_of(&state, &user.user_id).await?;
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan, store, original_transaction_id, status, updated_at) \
         VALUES ($1, $2, 'google', $3, 'pending', $4) \
         ON CONFLICT (user_id) DO UPDATE SET store = 'google', original_transaction_id = excluded.original_transaction_id, \
           status = 'pending', updated_at = excluded.updated_at \
         WHERE subscriptions.status <> 'active'",
    )
    .bind(&user.user_id)
    .bind(plan)
    .bind(&req.purchase_token)
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(axum::http::StatusCode::ACCEPTED)
}
