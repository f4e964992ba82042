//! `/v1/admin/jobs`: list (e.g. the dead letters), inspect, retry, cancel,
//! queue stats.

use axum::extract::{Path, Query, State};
use kalei_store::jobs::{admin, JobRecord, JobState, ListFilter};
use kalei_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiJson;
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(job_stats))
        .routes(routes!(get_job))
        .routes(routes!(retry_job))
        .routes(routes!(cancel_job))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    #[schema(example = "01932f6e-7a1c-7cc3-9a55-3f1f0e6f4a10")]
    pub id: String,
    #[schema(example = "maintenance.prune_idempotency_keys")]
    pub kind: String,
    #[schema(example = "maintenance")]
    pub queue: String,
    /// available, scheduled, running, retryable, completed, cancelled, discarded
    #[schema(example = "discarded")]
    pub state: String,
    /// Ids only; never user text.
    pub payload: serde_json::Value,
    pub unique_key: Option<String>,
    #[schema(example = 5)]
    pub attempt: i64,
    #[schema(example = 5)]
    pub max_attempts: i64,
    pub run_at: String,
    pub created_at: String,
    pub attempted_at: Option<String>,
    pub finalized_at: Option<String>,
    pub attempted_by: Option<String>,
    #[schema(example = "database unavailable")]
    pub last_error: Option<String>,
}

impl From<JobRecord> for JobView {
    fn from(j: JobRecord) -> Self {
        JobView {
            id: j.id,
            kind: j.kind,
            queue: j.queue,
            state: j.state.as_str().to_string(),
            payload: j.payload,
            unique_key: j.unique_key,
            attempt: j.attempt,
            max_attempts: j.max_attempts,
            run_at: rfc3339(j.run_at),
            created_at: rfc3339(j.created_at),
            attempted_at: j.attempted_at.map(rfc3339),
            finalized_at: j.finalized_at.map(rfc3339),
            attempted_by: j.attempted_by,
            last_error: j.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStat {
    #[schema(example = "maintenance")]
    pub queue: String,
    #[schema(example = "available")]
    pub state: String,
    #[schema(example = 3)]
    pub count: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Filter by state, e.g. `discarded` for the dead letters.
    pub state: Option<String>,
    pub queue: Option<String>,
    pub kind: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn job_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("job"),
        StoreError::Conflict(msg) => ApiError::conflict("job_state_conflict", msg),
        other => other.into(),
    }
}

/// Jobs, newest first, filtered by state, queue or kind.
#[utoipa::path(get, path = "/v1/admin/jobs", tag = "admin",
    security(("bearer" = [])), params(JobQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_jobs(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<JobQuery>,
) -> ApiResult<ApiJson<JobList>> {
    let job_state = match q.state.as_deref() {
        Some(s) => Some(
            s.parse::<JobState>()
                .map_err(|_| ApiError::field("state", "is not a job state"))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 500"));
    }
    if let Some(c) = &q.cursor {
        uuid::Uuid::parse_str(c).map_err(|_| {
            ApiError::bad_request("invalid_cursor", "The cursor is not one this API issued.")
        })?;
    }
    let filter = ListFilter {
        state: job_state,
        queue: q.queue,
        kind: q.kind,
        user_id: None,
    };
    let page = admin::list(&state.db, &filter, limit, q.cursor.as_deref()).await?;
    Ok(ApiJson(JobList {
        items: page.items.into_iter().map(JobView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Job counts per queue and state.
#[utoipa::path(get, path = "/v1/admin/jobs/stats", tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, description = "Counts", body = Vec<QueueStat>)))]
async fn job_stats(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> ApiResult<ApiJson<Vec<QueueStat>>> {
    let stats = admin::stats(&state.db).await?;
    Ok(ApiJson(
        stats
            .into_iter()
            .map(|s| QueueStat {
                queue: s.queue,
                state: s.state.as_str().to_string(),
                count: s.count,
            })
            .collect(),
    ))
}

/// One job.
#[utoipa::path(get, path = "/v1/admin/jobs/{id}", tag = "admin",
    security(("bearer" = [])), params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<JobView>> {
    Ok(ApiJson(
        admin::get(&state.db, &id).await.map_err(job_error)?.into(),
    ))
}

/// Run a job again now with fresh attempts (the dead-letter retry).
#[utoipa::path(post, path = "/v1/admin/jobs/{id}/retry", tag = "admin",
    security(("bearer" = [])), params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job, available again", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Running, or its unique key is taken", body = Problem, content_type = "application/problem+json"),
    ))]
async fn retry_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<JobView>> {
    Ok(ApiJson(
        admin::retry(&state.db, &id)
            .await
            .map_err(job_error)?
            .into(),
    ))
}

/// Cancel a job that has not finished.
#[utoipa::path(post, path = "/v1/admin/jobs/{id}/cancel", tag = "admin",
    security(("bearer" = [])), params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The cancelled job", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already finished", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<JobView>> {
    Ok(ApiJson(
        admin::cancel(&state.db, &id)
            .await
            .map_err(job_error)?
            .into(),
    ))
}
