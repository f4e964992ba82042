//! Operations endpoints: liveness, readiness, Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    status: &'static str,
    #[schema(example = "ok")]
    database: String,
    /// Migrations the binary knows that the database lacks.
    pending_migrations: Vec<i64>,
    #[schema(example = "memory")]
    counters: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// The database answers and its migrations are current.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready", body = Readiness),
    ))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (database, pending) = match state.db.ping().await {
        Ok(()) => match state.db.pending_migrations().await {
            Ok(p) => ("ok".to_string(), p),
            Err(_) => ("migrations unreadable".to_string(), Vec::new()),
        },
        Err(_) => ("unreachable".to_string(), Vec::new()),
    };
    let ready = database == "ok" && pending.is_empty();
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database,
        pending_migrations: pending,
        counters: state.counters.backend(),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let (size, idle) = state.db.pool_state();
    metrics::gauge!("db_pool_connections", "state" => "open").set(size as f64);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("db_pool_connections", "state" => "in_use")
        .set(size.saturating_sub(idle as u32) as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
