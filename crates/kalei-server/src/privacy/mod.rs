//! Privacy: data export, account deletion and purge, consents, product
//! analytics events (behind consent) and retention. See SPEC section 5.

pub mod analytics;
pub mod config;
pub mod consents;
pub mod deletion;
pub mod export;
pub mod items;
pub mod purge;
pub mod retention;

use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

/// Export and consents. `DELETE /v1/me` shares its path with `GET /v1/me`
/// and is routed by `me.rs`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(export::router())
        .merge(consents::router())
}
