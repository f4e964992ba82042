//! Operator functions behind `/v1/admin/jobs` and `kalei jobs`: list (by
//! state, queue, kind; newest first, cursor-paginated), show, retry (the
//! dead-letter retry), cancel, queue statistics, pruning.

use std::time::Duration;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{JobState, UNIQUE_STATES_SQL};
use crate::clock::{Clock, SystemClock};
use crate::db::Db;
use crate::error::{StoreError, StoreResult};

const COLUMNS: &str = "id, kind, queue, state, payload, user_id, unique_key, attempt, \
     max_attempts, timeout_ms, run_at, created_at, attempted_at, finalized_at, attempted_by, \
     lease_expires_at, last_error";

/// A job as the admin sees it (serialises to the `/v1/admin/jobs` JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub queue: String,
    pub state: JobState,
    pub payload: serde_json::Value,
    pub user_id: Option<String>,
    pub unique_key: Option<String>,
    pub attempt: i64,
    pub max_attempts: i64,
    pub timeout_ms: i64,
    pub run_at: i64,
    pub created_at: i64,
    pub attempted_at: Option<i64>,
    pub finalized_at: Option<i64>,
    pub attempted_by: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub last_error: Option<String>,
}

impl JobRecord {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let state: String = row.try_get("state")?;
        let payload: String = row.try_get("payload")?;
        Ok(Self {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            queue: row.try_get("queue")?,
            state: state.parse()?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload)),
            user_id: row.try_get("user_id")?,
            unique_key: row.try_get("unique_key")?,
            attempt: row.try_get("attempt")?,
            max_attempts: row.try_get("max_attempts")?,
            timeout_ms: row.try_get("timeout_ms")?,
            run_at: row.try_get("run_at")?,
            created_at: row.try_get("created_at")?,
            attempted_at: row.try_get("attempted_at")?,
            finalized_at: row.try_get("finalized_at")?,
            attempted_by: row.try_get("attempted_by")?,
            lease_expires_at: row.try_get("lease_expires_at")?,
            last_error: row.try_get("last_error")?,
        })
    }
}

/// Filters of [`list`]; `None` = any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub state: Option<JobState>,
    pub queue: Option<String>,
    pub kind: Option<String>,
    pub user_id: Option<String>,
}

impl ListFilter {
    pub fn state(state: JobState) -> Self {
        Self {
            state: Some(state),
            ..Self::default()
        }
    }
}

/// One page of [`list`]: pass `next_cursor` back as `cursor` for the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobPage {
    pub items: Vec<JobRecord>,
    pub next_cursor: Option<String>,
}

/// Jobs matching `filter`, newest first (ids are UUIDv7, so id order is
/// creation order); `limit` is clamped to 1..=500; `cursor` is the last id of
/// the previous page.
pub async fn list(
    db: &Db,
    filter: &ListFilter,
    limit: u32,
    cursor: Option<&str>,
) -> StoreResult<JobPage> {
    let limit = limit.clamp(1, 500) as i64;
    let mut sql = format!("SELECT {COLUMNS} FROM jobs WHERE 1 = 1");
    let mut binds: Vec<String> = Vec::new();
    let mut push = |sql: &mut String, col: &str, op: &str, v: String| {
        binds.push(v);
        sql.push_str(&format!(" AND {col} {op} ${}", binds.len()));
    };
    if let Some(st) = filter.state {
        push(&mut sql, "state", "=", st.as_str().to_string());
    }
    if let Some(q) = &filter.queue {
        push(&mut sql, "queue", "=", q.clone());
    }
    if let Some(k) = &filter.kind {
        push(&mut sql, "kind", "=", k.clone());
    }
    if let Some(u) = &filter.user_id {
        push(&mut sql, "user_id", "=", u.clone());
    }
    if let Some(c) = cursor.filter(|c| !c.is_empty()) {
        push(&mut sql, "id", "<", c.to_string());
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", binds.len() + 1));
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.bind(limit + 1).fetch_all(db.pool()).await?;
    let mut items = rows
        .iter()
        .map(JobRecord::from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|j| j.id.clone())
    } else {
        None
    };
    Ok(JobPage { items, next_cursor })
}

/// One job, or [`StoreError::NotFound`].
pub async fn get(db: &Db, id: &str) -> StoreResult<JobRecord> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    JobRecord::from_row(&row)
}

/// Makes a job run again now with a fresh set of attempts: the dead-letter
/// retry. Allowed from every state but `running`
/// ([`StoreError::Conflict`]); a retried job whose unique key is now held by
/// another job is also a conflict.
pub async fn retry(db: &Db, id: &str) -> StoreResult<JobRecord> {
    retry_at(db, id, SystemClock.now_ms()).await
}

pub async fn retry_at(db: &Db, id: &str, now: i64) -> StoreResult<JobRecord> {
    let row = sqlx::query(&format!(
        "UPDATE jobs SET state = 'available', run_at = $1, attempt = 0, finalized_at = NULL, \
           lease_token = NULL, lease_expires_at = NULL \
         WHERE id = $2 AND state <> 'running' RETURNING {COLUMNS}"
    ))
    .bind(now)
    .bind(id)
    .fetch_optional(db.pool())
    .await
    .map_err(StoreError::from_sqlx)?;
    let Some(row) = row else {
        let job = get(db, id).await?;
        return Err(StoreError::Conflict(format!(
            "job {} is {}; it cannot be retried now",
            job.id, job.state
        )));
    };
    let job = JobRecord::from_row(&row)?;
    super::wake(&job.queue);
    Ok(job)
}

/// Cancels a job that has not finished. A running job is marked cancelled at
/// once: its lease is revoked, so whatever its worker reports is ignored (the
/// handler itself runs to its end). Cancelling a finished job is a conflict.
pub async fn cancel(db: &Db, id: &str) -> StoreResult<JobRecord> {
    cancel_at(db, id, SystemClock.now_ms()).await
}

pub async fn cancel_at(db: &Db, id: &str, now: i64) -> StoreResult<JobRecord> {
    let row = sqlx::query(&format!(
        "UPDATE jobs SET state = 'cancelled', finalized_at = $1, lease_token = NULL, \
           lease_expires_at = NULL, last_error = COALESCE(last_error, 'cancelled by an admin') \
         WHERE id = $2 AND state IN ('available', 'scheduled', 'running', 'retryable') \
         RETURNING {COLUMNS}"
    ))
    .bind(now)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some(row) => JobRecord::from_row(&row),
        None => {
            let job = get(db, id).await?;
            Err(StoreError::Conflict(format!(
                "job {} is already {}",
                job.id, job.state
            )))
        }
    }
}

/// Job counts per queue and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub queue: String,
    pub state: JobState,
    pub count: i64,
    /// Smallest `run_at` among these jobs.
    pub oldest_run_at: Option<i64>,
}

pub async fn stats(db: &Db) -> StoreResult<Vec<QueueStats>> {
    let rows = sqlx::query(
        "SELECT queue, state, CAST(COUNT(*) AS BIGINT) AS n, CAST(MIN(run_at) AS BIGINT) AS oldest \
         FROM jobs GROUP BY queue, state ORDER BY queue, state",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let state: String = r.try_get(1)?;
            Ok(QueueStats {
                queue: r.try_get(0)?,
                state: state.parse()?,
                count: r.try_get(2)?,
                oldest_run_at: r.try_get(3)?,
            })
        })
        .collect()
}

/// How long finished jobs are kept before [`prune`] deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub completed: Duration,
    pub cancelled: Duration,
    /// The dead letters.
    pub discarded: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            completed: Duration::from_secs(24 * 3600),
            cancelled: Duration::from_secs(7 * 24 * 3600),
            discarded: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Deletes finished jobs older than their retention, in batches of 1000.
/// Returns how many were deleted.
pub async fn prune(db: &Db, retention: &Retention, now: i64) -> StoreResult<u64> {
    let mut total = 0;
    for (state, keep) in [
        (JobState::Completed, retention.completed),
        (JobState::Cancelled, retention.cancelled),
        (JobState::Discarded, retention.discarded),
    ] {
        let cutoff = now - keep.as_millis() as i64;
        loop {
            let n = sqlx::query(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                 WHERE state = $1 AND finalized_at IS NOT NULL AND finalized_at < $2 LIMIT 1000)",
            )
            .bind(state.as_str())
            .bind(cutoff)
            .execute(db.pool())
            .await?
            .rows_affected();
            total += n;
            if n < 1000 {
                break;
            }
        }
    }
    Ok(total)
}

/// Account deletion: removes every job of `user_id` that is not running
/// (pending, finished and dead-lettered). Returns how many were deleted.
pub async fn delete_for_user(db: &Db, user_id: &str) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM jobs WHERE user_id = $1 AND state <> 'running'")
            .bind(user_id)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}

/// Whether a job holding `key` exists (pending, running or completed).
pub async fn unique_key_taken(db: &Db, key: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE unique_key = $1 AND state IN {UNIQUE_STATES_SQL}"
    ))
    .bind(key)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}
