//! Leader leases in `job_leaders`: one row per role; the holder renews it
//! before it expires, anyone may take it over once it has expired.

use sqlx::Row;

use crate::db::Db;
use crate::error::StoreResult;

/// The lease that runs cron ticks, pruning and depth gauges.
pub const JOBS_LEADER: &str = "jobs";

/// Takes or renews the lease `name` for `holder` until `now + ttl_ms`.
/// Returns whether `holder` is the leader now.
pub async fn try_acquire(
    db: &Db,
    name: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> StoreResult<bool> {
    let res = sqlx::query(
        "INSERT INTO job_leaders (name, holder, expires_at, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
           expires_at = excluded.expires_at, updated_at = excluded.updated_at \
         WHERE job_leaders.holder = excluded.holder OR job_leaders.expires_at < excluded.updated_at",
    )
    .bind(name)
    .bind(holder)
    .bind(now + ttl_ms)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Gives the lease up (only if `holder` has it), so another worker takes over
/// at once instead of after the lease expires.
pub async fn release(db: &Db, name: &str, holder: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM job_leaders WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The current holder and expiry of lease `name`, if any.
pub async fn current(db: &Db, name: &str) -> StoreResult<Option<(String, i64)>> {
    let row = sqlx::query("SELECT holder, expires_at FROM job_leaders WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    })
}
