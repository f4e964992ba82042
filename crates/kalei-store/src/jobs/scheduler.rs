//! Cron schedules. The leader worker calls [`Scheduler::tick`] every second;
//! each schedule's next tick lives in `job_schedules` and is advanced by
//! compare-and-set in the same transaction that enqueues the tick's job, whose
//! unique key is `cron:{name}:{tick_ms}`. So a tick delivered twice (two
//! leaders racing, a restart, a clock step) enqueues one job.
//!
//! Expressions are those of the `cron` crate with seconds first
//! (`sec min hour day-of-month month day-of-week [year]`, day names `Mon`…);
//! a classic five-field expression (`30 3 * * *`) is accepted and gets `0`
//! seconds. Each schedule has a time zone (UTC unless given). A new schedule
//! starts at its next tick; ticks missed while no worker ran fire once on
//! start, not once per missed tick.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use sqlx::Row;

use super::{Enqueued, JobKind, Jobs, NewJob};
use crate::error::{StoreError, StoreResult};

type MakeJob = Arc<dyn Fn(i64) -> StoreResult<NewJob> + Send + Sync>;

struct Entry {
    name: String,
    spec: String,
    schedule: cron::Schedule,
    tz: Tz,
    make: MakeJob,
}

/// Named cron schedules, each enqueueing a job of some kind per tick. Clone
/// it freely (the CLI's `kalei jobs run-now` builds the same one).
#[derive(Clone)]
pub struct Scheduler {
    jobs: Jobs,
    entries: Vec<Arc<Entry>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("schedules", &self.names())
            .finish()
    }
}

/// Parses a cron expression (six or seven fields with seconds, or the classic
/// five fields).
pub fn parse_cron(spec: &str) -> StoreResult<cron::Schedule> {
    let spec = spec.trim();
    let full = if spec.split_whitespace().count() == 5 {
        format!("0 {spec}")
    } else {
        spec.to_string()
    };
    cron::Schedule::from_str(&full)
        .map_err(|e| StoreError::Other(format!("invalid cron expression `{spec}`: {e}")))
}

impl Scheduler {
    pub fn new(jobs: Jobs) -> Self {
        Self {
            jobs,
            entries: Vec::new(),
        }
    }

    /// Adds schedule `name`: every tick of `spec` (UTC) enqueues a `K` with
    /// `payload`.
    pub fn add<K: JobKind>(
        &mut self,
        name: &str,
        spec: &str,
        payload: K::Payload,
    ) -> StoreResult<&mut Self>
    where
        K::Payload: Clone + Sync,
    {
        self.add_with::<K>(name, spec, Tz::UTC, move |_| payload.clone())
    }

    /// Adds schedule `name` ticking on `spec` in time zone `tz`; `payload`
    /// builds each tick's payload from the tick time (unix ms).
    pub fn add_with<K: JobKind>(
        &mut self,
        name: &str,
        spec: &str,
        tz: Tz,
        payload: impl Fn(i64) -> K::Payload + Send + Sync + 'static,
    ) -> StoreResult<&mut Self> {
        if self.entries.iter().any(|e| e.name == name) {
            return Err(StoreError::Other(format!("duplicate schedule `{name}`")));
        }
        if name.is_empty() || name.contains(':') {
            return Err(StoreError::Other(format!(
                "schedule name `{name}` must be non-empty and contain no `:`"
            )));
        }
        let schedule = parse_cron(spec)?;
        let make: MakeJob = Arc::new(move |tick| NewJob::of::<K>(&payload(tick)));
        self.entries.push(Arc::new(Entry {
            name: name.to_string(),
            spec: format!("{} @ {}", spec.trim(), tz.name()),
            schedule,
            tz,
            make,
        }));
        Ok(self)
    }

    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    fn entry(&self, name: &str) -> StoreResult<&Arc<Entry>> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or(StoreError::NotFound)
    }

    /// The first tick of schedule `name` strictly after `after_ms`.
    pub fn next_tick(&self, name: &str, after_ms: i64) -> StoreResult<Option<i64>> {
        Ok(next_after(self.entry(name)?, after_ms))
    }

    /// Enqueues schedule `name`'s job now, outside its schedule (`kalei jobs
    /// run-now NAME`). Its unique key is `cron:{name}:manual:{now_ms}`.
    pub async fn run_now(&self, name: &str) -> StoreResult<Enqueued> {
        let e = self.entry(name)?;
        let now = self.jobs.now_ms();
        let job = (e.make)(now)?.unique_key(format!("cron:{}:manual:{now}", e.name));
        self.jobs.insert(job).await
    }

    /// Fires every schedule that is due at the clock's now.
    pub async fn tick(&self) -> StoreResult<Vec<Enqueued>> {
        self.tick_at(self.jobs.now_ms()).await
    }

    /// Fires every schedule due at `now_ms`; returns the jobs it inserted.
    pub async fn tick_at(&self, now_ms: i64) -> StoreResult<Vec<Enqueued>> {
        let mut out = Vec::new();
        for e in &self.entries {
            match self.tick_one(e, now_ms).await {
                Ok(Some(x)) => out.push(x),
                Ok(None) => {}
                Err(err) => tracing::warn!(schedule = %e.name, error = %err, "cron tick failed"),
            }
        }
        Ok(out)
    }

    async fn tick_one(&self, e: &Entry, now: i64) -> StoreResult<Option<Enqueued>> {
        let db = self.jobs.db();
        let row = sqlx::query("SELECT spec, next_tick_at FROM job_schedules WHERE name = $1")
            .bind(&e.name)
            .fetch_optional(db.pool())
            .await?;
        let Some(row) = row else {
            // First sight: start at the next tick.
            if let Some(next) = next_after(e, now) {
                sqlx::query(
                    "INSERT INTO job_schedules (name, spec, next_tick_at, last_tick_at, updated_at) \
                     VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (name) DO NOTHING",
                )
                .bind(&e.name)
                .bind(&e.spec)
                .bind(next)
                .bind(now)
                .execute(db.pool())
                .await?;
            }
            return Ok(None);
        };
        let spec: String = row.try_get(0)?;
        let due: i64 = row.try_get(1)?;
        if spec != e.spec {
            // The expression changed: restart from its next tick.
            if let Some(next) = next_after(e, now) {
                sqlx::query(
                    "UPDATE job_schedules SET spec = $1, next_tick_at = $2, updated_at = $3 \
                     WHERE name = $4 AND spec = $5",
                )
                .bind(&e.spec)
                .bind(next)
                .bind(now)
                .bind(&e.name)
                .bind(&spec)
                .execute(db.pool())
                .await?;
            }
            return Ok(None);
        }
        if now < due {
            return Ok(None);
        }
        let next = next_after(e, now).unwrap_or(i64::MAX);
        let job = (e.make)(due)?
            .unique_key(format!("cron:{}:{due}", e.name))
            .run_at(due);
        let _guard = super::write_guard(db).await;
        let mut tx = db.begin().await?;
        let advanced = sqlx::query(
            "UPDATE job_schedules SET next_tick_at = $1, last_tick_at = $2, updated_at = $3 \
             WHERE name = $4 AND next_tick_at = $2",
        )
        .bind(next)
        .bind(due)
        .bind(now)
        .bind(&e.name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if advanced != 1 {
            // Another leader took this tick.
            tx.rollback().await?;
            return Ok(None);
        }
        let out = self.jobs.insert_tx(&mut tx, job).await?;
        tx.commit().await?;
        tracing::info!(schedule = %e.name, tick = due, inserted = out.is_inserted(), "cron tick");
        Ok(Some(out))
    }
}

fn next_after(e: &Entry, after_ms: i64) -> Option<i64> {
    let after =
        e.tz.from_utc_datetime(&Utc.timestamp_millis_opt(after_ms).single()?.naive_utc());
    e.schedule
        .after(&after)
        .next()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_field_expressions_parse() {
        assert!(parse_cron("30 3 * * *").is_ok());
        assert!(parse_cron("0 30 3 * * *").is_ok());
        assert!(parse_cron("0 0 8 * * Mon").is_ok());
        assert!(parse_cron("not cron").is_err());
    }
}
