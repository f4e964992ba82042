//! `/v1/admin/…`: operator endpoints, admin role only.

pub mod jobs;

use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(jobs::router())
}
