//! The executor's SQL: claim, heartbeat, rescue, and the lease-checked state
//! changes that end an attempt. Every change of a running job is conditional
//! on `state = 'running' AND lease_token = <the claim's token>`, so an ack from
//! a worker that lost its lease changes nothing.

use sqlx::{Any, AnyConnection, Row, Transaction};

use super::{write_guard, JobState, CLAIMABLE_STATES_SQL};
use crate::db::{Db, Dialect};
use crate::error::StoreResult;

/// A transaction for the queue's own bookkeeping (claims, results, leases).
/// On Postgres it commits asynchronously (`synchronous_commit = off`): a
/// database crash may forget the last fraction of a second of bookkeeping,
/// which at-least-once delivery already covers (a forgotten claim makes the
/// job available again, a forgotten result runs it again), and in exchange a
/// claim or a batch of results does not wait for a WAL flush. Enqueues stay
/// synchronous. (SQLite in WAL mode with `synchronous = NORMAL` does not sync
/// on commit anyway.)
pub(crate) async fn begin_bookkeeping(db: &Db) -> StoreResult<Transaction<'static, Any>> {
    let mut tx = db.begin().await?;
    if db.dialect() == Dialect::Postgres {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// A job claimed by this worker.
#[derive(Debug, Clone)]
pub(crate) struct ClaimedJob {
    pub id: String,
    pub kind: String,
    pub queue: String,
    pub payload: String,
    pub attempt: i64,
    pub max_attempts: i64,
    pub timeout_ms: i64,
    pub run_at: i64,
    pub created_at: i64,
    pub token: String,
}

const CLAIM_RETURNING: &str =
    "RETURNING id, kind, queue, payload, attempt, max_attempts, timeout_ms, run_at, created_at";

/// Claims up to `limit` due jobs of `queue` for `lease_ms`, stamping them
/// with `token`.
pub(crate) async fn claim(
    db: &Db,
    queue: &str,
    limit: usize,
    worker_id: &str,
    token: &str,
    now: i64,
    lease_ms: i64,
) -> StoreResult<Vec<ClaimedJob>> {
    let sql = match db.dialect() {
        // One round trip: the `sync` CTE makes this statement's implicit
        // transaction commit asynchronously (see `begin_bookkeeping`).
        Dialect::Postgres => format!(
            "WITH sync AS (SELECT set_config('synchronous_commit', 'off', true) AS v), \
             picked AS ( \
               SELECT id FROM jobs \
               WHERE queue = $5 AND state IN {CLAIMABLE_STATES_SQL} AND run_at <= $1 \
               ORDER BY run_at, id LIMIT $6 FOR UPDATE SKIP LOCKED) \
             UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1, attempted_at = $1, \
               attempted_by = $2, lease_token = $3, lease_expires_at = $4 \
             FROM picked, sync WHERE jobs.id = picked.id AND sync.v = 'off' \
             RETURNING jobs.id, jobs.kind, jobs.queue, jobs.payload, jobs.attempt, \
               jobs.max_attempts, jobs.timeout_ms, jobs.run_at, jobs.created_at"
        ),
        Dialect::Sqlite => format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, attempted_at = $1, \
               attempted_by = $2, lease_token = $3, lease_expires_at = $4 \
             WHERE id IN ( \
               SELECT id FROM jobs \
               WHERE queue = $5 AND state IN {CLAIMABLE_STATES_SQL} AND run_at <= $1 \
               ORDER BY run_at, id LIMIT $6) \
             {CLAIM_RETURNING}"
        ),
    };
    let _guard = write_guard(db).await;
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(worker_id)
        .bind(token)
        .bind(now + lease_ms)
        .bind(queue)
        .bind(limit as i64)
        .fetch_all(db.pool())
        .await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        jobs.push(ClaimedJob {
            id: row.try_get(0)?,
            kind: row.try_get(1)?,
            queue: row.try_get(2)?,
            payload: row.try_get(3)?,
            attempt: row.try_get(4)?,
            max_attempts: row.try_get(5)?,
            timeout_ms: row.try_get(6)?,
            run_at: row.try_get(7)?,
            created_at: row.try_get(8)?,
            token: token.to_string(),
        });
    }
    // RETURNING order is unspecified; run in queue order.
    jobs.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
    Ok(jobs)
}

/// Marks a batch of jobs completed; returns the ids whose lease still held.
/// `items` are (id, token) pairs.
pub(crate) async fn complete_batch(
    conn: &mut AnyConnection,
    items: &[(&str, &str)],
    now: i64,
) -> StoreResult<Vec<String>> {
    let mut done = Vec::with_capacity(items.len());
    for chunk in items.chunks(400) {
        // Group ids by token: (lease_token = $t AND id IN (…)) OR …
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (id, token) in chunk {
            match groups.iter_mut().find(|(t, _)| t == token) {
                Some((_, ids)) => ids.push(id),
                None => groups.push((token, vec![id])),
            }
        }
        let mut sql = String::from(
            "UPDATE jobs SET state = 'completed', finalized_at = $1, lease_token = NULL, \
             lease_expires_at = NULL WHERE state = 'running' AND (",
        );
        let mut n = 1;
        for (g, (_, ids)) in groups.iter().enumerate() {
            if g > 0 {
                sql.push_str(" OR ");
            }
            n += 1;
            sql.push_str(&format!("(lease_token = ${n} AND id IN ("));
            for (i, _) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push_str("))");
        }
        sql.push_str(") RETURNING id");
        let mut q = sqlx::query(&sql).bind(now);
        for (token, ids) in &groups {
            q = q.bind(token.to_string());
            for id in ids {
                q = q.bind(id.to_string());
            }
        }
        for row in q.fetch_all(&mut *conn).await? {
            done.push(row.try_get(0)?);
        }
    }
    Ok(done)
}

/// Ends an attempt in `state` (retryable, scheduled, cancelled, discarded or
/// available). `attempt_delta` is -1 for a snooze or hand-back (the attempt
/// does not count). Returns whether the lease still held.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn finish(
    conn: &mut AnyConnection,
    id: &str,
    token: &str,
    state: JobState,
    run_at: Option<i64>,
    error: Option<&str>,
    attempt_delta: i64,
    now: i64,
) -> StoreResult<bool> {
    let finalized = state.is_final().then_some(now);
    let res = sqlx::query(
        "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), finalized_at = $3, \
           last_error = COALESCE($4, last_error), attempt = attempt + $5, \
           lease_token = NULL, lease_expires_at = NULL \
         WHERE id = $6 AND lease_token = $7 AND state = 'running'",
    )
    .bind(state.as_str())
    .bind(run_at)
    .bind(finalized)
    .bind(error.map(truncate_error))
    .bind(attempt_delta)
    .bind(id)
    .bind(token)
    .execute(&mut *conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Extends the leases of every running job claimed with one of `tokens`.
pub(crate) async fn heartbeat(
    db: &Db,
    tokens: &[String],
    now: i64,
    lease_ms: i64,
) -> StoreResult<u64> {
    let _guard = write_guard(db).await;
    let mut total = 0;
    for chunk in tokens.chunks(500) {
        let mut sql = String::from(
            "UPDATE jobs SET lease_expires_at = $1 WHERE state = 'running' AND lease_token IN (",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i + 2));
        }
        sql.push(')');
        let mut q = sqlx::query(&sql).bind(now + lease_ms);
        for t in chunk {
            q = q.bind(t.clone());
        }
        total += q.execute(db.pool()).await?.rows_affected();
    }
    Ok(total)
}

/// A job the rescuer moved out of `running`.
#[derive(Debug, Clone)]
pub(crate) struct Rescued {
    pub queue: String,
    pub kind: String,
    pub state: String,
}

/// Running jobs whose lease expired go back to `available` (or to
/// `discarded` when their attempts are used up).
pub(crate) async fn rescue(db: &Db, now: i64) -> StoreResult<Vec<Rescued>> {
    let _guard = write_guard(db).await;
    let rows = sqlx::query(
        "UPDATE jobs SET \
           state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END, \
           finalized_at = CASE WHEN attempt >= max_attempts THEN $1 ELSE NULL END, \
           run_at = $1, last_error = 'lease expired: the worker stopped heartbeating', \
           lease_token = NULL, lease_expires_at = NULL \
         WHERE state = 'running' AND lease_expires_at < $1 \
         RETURNING queue, kind, state",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(Rescued {
            queue: row.try_get(0)?,
            kind: row.try_get(1)?,
            state: row.try_get(2)?,
        });
    }
    Ok(out)
}

/// Error texts are kept short (and must never contain raw user text).
pub(crate) fn truncate_error(e: &str) -> String {
    const MAX: usize = 2000;
    if e.len() <= MAX {
        return e.to_string();
    }
    let mut end = MAX;
    while !e.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &e[..end])
}
