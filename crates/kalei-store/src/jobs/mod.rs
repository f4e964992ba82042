//! The durable job queue, in the same database as the data (SQLite or
//! Postgres), modelled on River and Oban.
//!
//! # Model
//!
//! A job is a row of `jobs` with a `kind` (which handler runs it), a `queue`
//! (which workers claim it, each queue with its own concurrency), a JSON
//! `payload` and a [`JobState`]:
//!
//! ```text
//!  enqueue ──► available ─┐            ┌──► completed
//!  (later) ──► scheduled ─┼─ claim ─► running ─┼──► cancelled   (handler said Cancel, or admin cancel)
//!  backoff ──► retryable ─┘   ▲        │  ├──► discarded   (attempts exhausted / Discard: the dead letter)
//!                             │        │  └──► retryable / scheduled (error → backoff; Snooze)
//!          lease expired (rescuer) ────┘
//! ```
//!
//! `available`, `scheduled` and `retryable` jobs are all claimable once their
//! `run_at` has passed; the state only tells why they wait. Claiming is one
//! statement: `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)
//! RETURNING …` on Postgres, the same without the lock clause on SQLite (one
//! writer at a time), served by a partial index on `(queue, run_at, id)`.
//!
//! **Payloads carry ids, never raw user text** (message contents, thoughts,
//! reframes): the payload is stored unencrypted, shown by `kalei jobs show` and
//! `/v1/admin/jobs`, and error texts end up in `last_error`. A job reads the
//! text it needs from the (encrypted) domain tables by id.
//!
//! **Unique keys.** A job may carry a `unique_key` (for instance
//! `weekly:{user}:{iso-week}`); a partial unique index makes a second enqueue
//! with the same key a no-op ([`Enqueued::Duplicate`]) while the first is
//! available, scheduled, running, retryable or completed. A cancelled or
//! discarded job does not block its key (as in River), so work can be
//! re-enqueued after a dead letter. Completed jobs hold their key until pruned.
//!
//! **Leases.** A claim stamps each job with a lease token and a lease expiry;
//! the worker heartbeats (extends) the leases of its running jobs, and
//! completion, failure and snooze only take effect when the token still
//! matches. A rescuer (every worker runs it) turns `running` jobs whose lease
//! expired back into `available` (or `discarded` once attempts are used up), so
//! the work of a crashed worker runs again within a few lease intervals.
//! Delivery is at least once: handlers must be idempotent.
//!
//! **Cron.** A [`Scheduler`] holds named cron schedules; only the leader (a
//! lease row in `job_leaders`) ticks it. Each schedule's next tick is stored in
//! `job_schedules` and advanced by compare-and-set, and the tick's job carries
//! the unique key `cron:{name}:{tick_ms}`, so a double tick (two leaders racing,
//! a restart) enqueues once. Missed ticks while no worker ran collapse into one.
//! Per-user schedules (weekly Spectrum on the user's Monday 08:00) are plain
//! scheduled jobs: compute the next local occurrence with [`tz`] and enqueue
//! with a unique key such as `weekly:{user}:{iso-week}`; the handler enqueues
//! the following one (or an hourly cron fan-out job does it for all users).
//!
//! # Wiring (for `kalei-server`)
//!
//! ```ignore
//! use kalei_store::jobs::{self, Jobs, JobKind, JobOutcome, Registry, Scheduler, Worker, WorkerConfig};
//!
//! // 1. Domain modules declare job kinds (payload = ids only).
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct WeeklyPayload { user_id: String, week: String }
//! struct WeeklySpectrum;
//! impl JobKind for WeeklySpectrum {
//!     const KIND: &'static str = "spectrum.weekly";
//!     const QUEUE: &'static str = "spectrum";
//!     const MAX_ATTEMPTS: u32 = 10;
//!     const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
//!     type Payload = WeeklyPayload;
//!     fn unique_key(p: &WeeklyPayload) -> Option<String> { Some(format!("weekly:{}:{}", p.user_id, p.week)) }
//!     fn user_id(p: &WeeklyPayload) -> Option<String> { Some(p.user_id.clone()) }
//! }
//!
//! // 2. Enqueue, inside the caller's transaction when the job belongs to a write.
//! let jobs = Jobs::new(db.clone());                       // cheap to clone; keep it in AppState
//! let mut tx = db.begin().await?;
//! /* … domain writes … */
//! jobs.enqueue_tx::<WeeklySpectrum>(&mut tx, &payload).await?;
//! tx.commit().await?;                                      // rolled back → the job never exists
//!
//! // 3. Handlers and schedules, then the worker (in `kalei serve`, or alone in `kalei worker --queues a,b`).
//! let mut registry = Registry::new();
//! let state = app_state.clone();
//! registry.register::<WeeklySpectrum, _, _>(move |ctx, payload| {
//!     let state = state.clone();
//!     async move { state.spectrum.weekly(&payload.user_id, &payload.week).await?; Ok(JobOutcome::Completed) }
//! });
//! let mut scheduler = Scheduler::new(jobs.clone());
//! scheduler.add::<RetentionPurge>("retention-purge", "0 30 3 * * *", ())?;   // cron with seconds, UTC
//! let config = WorkerConfig { queues: WorkerConfig::parse_queues("analysis=8,spectrum=4")?, ..Default::default() };
//! let worker = Worker::new(jobs.clone(), registry, config).with_scheduler(scheduler.clone()).start();
//! /* … serve … on SIGTERM: */
//! let report = worker.shutdown().await;                   // finishes or hands back every claimed job
//!
//! // 4. Admin (`/v1/admin/jobs`, `kalei jobs …`), all plain functions of `&Db`:
//! jobs::admin::list(&db, &jobs::admin::ListFilter { state: Some(JobState::Discarded), ..Default::default() }, 50, cursor).await?;
//! jobs::admin::get(&db, &id).await?;  jobs::admin::retry(&db, &id).await?;  jobs::admin::cancel(&db, &id).await?;
//! jobs::admin::stats(&db).await?;     scheduler.run_now("retention-purge").await?;
//! ```
//!
//! Metrics (the `metrics` crate; names in [`telemetry`]): depth per queue and
//! state and the age of the oldest due job (gauges, refreshed by the leader),
//! wait (due → start) and run duration histograms, outcomes counter.
//!
//! # Speed
//!
//! - A worker claims in batches into a local buffer (`prefetch`), so claims
//!   overlap running jobs; results are written in batches by one completer
//!   (one `UPDATE … RETURNING id` for all completions of a batch).
//! - The queue's own bookkeeping (claims, results, heartbeats) commits
//!   asynchronously on Postgres (`synchronous_commit = off`, per transaction):
//!   a database crash can only make a job run again, which at-least-once
//!   delivery allows anyway. Enqueues keep the caller's durability.
//! - The worker uses a small pool of its own, so its claims and heartbeats
//!   never wait behind the application for a connection.
//! - Pickup: an enqueue in the same process wakes the queue's claimer at
//!   once; otherwise the claimer polls, every `min_poll_interval` (2 ms)
//!   while work arrives, backing off to `poll_interval` (250 ms) when idle.
//!   (Postgres LISTEN/NOTIFY is not used: a NOTIFY in the enqueueing
//!   transaction serialises all such commits on a global lock.) For split
//!   `kalei serve --role api` + `kalei worker` deployments, lower
//!   `poll_interval` if cross-process pickup latency matters.
//! - SQLite: the queue's writes in one process take turns on an async mutex
//!   instead of sleeping in SQLite's busy handler.

pub mod admin;
pub mod backoff;
mod exec;
pub mod leader;
pub mod scheduler;
pub mod telemetry;
pub mod tz;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::{Any, Row, Transaction};
use tokio::sync::Notify;

use crate::clock::{Clock, SystemClock};
use crate::db::Db;
use crate::error::{StoreError, StoreResult};

pub use admin::{JobPage, JobRecord, ListFilter, QueueStats, Retention};
pub use backoff::RetryPolicy;
pub use scheduler::Scheduler;
pub use worker::{
    JobContext, JobOutcome, JobResult, QueueConfig, Registry, ShutdownReport, Worker, WorkerConfig,
    WorkerHandle,
};

/// The queue of a kind that names none.
pub const DEFAULT_QUEUE: &str = "default";

/// The states of a job (see the module docs for the transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Available,
    Scheduled,
    Running,
    Retryable,
    Completed,
    Cancelled,
    Discarded,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Available,
        JobState::Scheduled,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Cancelled,
        JobState::Discarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Cancelled => "cancelled",
            JobState::Discarded => "discarded",
        }
    }

    /// A job in a final state never runs again unless an admin retries it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Cancelled | JobState::Discarded
        )
    }

    /// Whether a job in this state holds its unique key.
    pub fn holds_unique_key(self) -> bool {
        !matches!(self, JobState::Cancelled | JobState::Discarded)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| StoreError::Other(format!("unknown job state `{s}`")))
    }
}

/// SQL list of the states that hold a unique key (must match the partial
/// index in `0100_jobs.sql`).
pub(crate) const UNIQUE_STATES_SQL: &str =
    "('available', 'scheduled', 'running', 'retryable', 'completed')";
/// SQL list of the states a worker may claim once `run_at` has passed (must
/// match the partial claim index).
pub(crate) const CLAIMABLE_STATES_SQL: &str = "('available', 'scheduled', 'retryable')";

/// A typed job: names its payload type, queue, attempts, timeout and unique
/// key. Register a handler for it with [`Registry::register`].
pub trait JobKind: Send + Sync + 'static {
    /// Stable name stored in the row (`analysis.session`, `spectrum.weekly`, …).
    const KIND: &'static str;
    /// Ids and small parameters only — never raw user text.
    type Payload: Serialize + DeserializeOwned + Send + 'static;
    const QUEUE: &'static str = DEFAULT_QUEUE;
    /// Attempts before the job lands in the dead-letter (`discarded`) state.
    const MAX_ATTEMPTS: u32 = 20;
    /// A run longer than this is cancelled and counts as a failed attempt.
    const TIMEOUT: Duration = Duration::from_secs(300);

    /// Idempotency key: a second enqueue with the same key is a no-op while
    /// the first job is pending, running or completed.
    fn unique_key(_payload: &Self::Payload) -> Option<String> {
        None
    }

    /// The user the job works for, stored in `jobs.user_id` so an account
    /// deletion can remove the user's pending jobs ([`admin::delete_for_user`]).
    fn user_id(_payload: &Self::Payload) -> Option<String> {
        None
    }
}

/// An untyped job to insert; [`NewJob::of`] builds one from a [`JobKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: String,
    pub queue: String,
    /// Serialised JSON.
    pub payload: String,
    pub unique_key: Option<String>,
    pub user_id: Option<String>,
    pub max_attempts: u32,
    pub timeout: Duration,
    /// Unix ms; `None` (or a past time) = run as soon as possible.
    pub run_at: Option<i64>,
}

impl NewJob {
    /// A job of `kind` on `queue` with default attempts (20) and timeout (5 min).
    pub fn new(kind: &str, queue: &str, payload: &impl Serialize) -> StoreResult<Self> {
        Ok(Self {
            kind: kind.to_string(),
            queue: queue.to_string(),
            payload: serde_json::to_string(payload)
                .map_err(|e| StoreError::Other(format!("job payload: {e}")))?,
            unique_key: None,
            user_id: None,
            max_attempts: 20,
            timeout: Duration::from_secs(300),
            run_at: None,
        })
    }

    /// A job of kind `K`, with its queue, attempts, timeout, unique key and user.
    pub fn of<K: JobKind>(payload: &K::Payload) -> StoreResult<Self> {
        let mut job = Self::new(K::KIND, K::QUEUE, payload)?;
        job.unique_key = K::unique_key(payload);
        job.user_id = K::user_id(payload);
        job.max_attempts = K::MAX_ATTEMPTS.max(1);
        job.timeout = K::TIMEOUT;
        Ok(job)
    }

    /// Runs no earlier than `run_at_ms` (unix ms).
    pub fn run_at(mut self, run_at_ms: i64) -> Self {
        self.run_at = Some(run_at_ms);
        self
    }

    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    pub fn no_unique_key(mut self) -> Self {
        self.unique_key = None;
        self
    }

    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }
}

/// The result of an enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job with this id.
    Inserted(String),
    /// The unique key was taken; the id of the job holding it (when it could
    /// be read, which may not be the case inside a concurrent transaction).
    Duplicate(Option<String>),
}

impl Enqueued {
    pub fn is_inserted(&self) -> bool {
        matches!(self, Enqueued::Inserted(_))
    }
    /// The new job's id, or the id of the job holding the unique key.
    pub fn id(&self) -> Option<&str> {
        match self {
            Enqueued::Inserted(id) => Some(id),
            Enqueued::Duplicate(id) => id.as_deref(),
        }
    }
}

/// The result of a bulk enqueue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkEnqueued {
    /// Ids of the inserted jobs, in input order.
    pub inserted: Vec<String>,
    /// Jobs skipped because their unique key was taken.
    pub duplicates: usize,
}

/// The enqueueing side of the queue: cheap to clone, keep one in the app
/// state. Holds the database and the clock that stamps `created_at`/`run_at`.
#[derive(Debug, Clone)]
pub struct Jobs {
    db: Db,
    clock: Arc<dyn Clock>,
}

impl Jobs {
    pub fn new(db: Db) -> Self {
        Self::with_clock(db, Arc::new(SystemClock))
    }

    pub fn with_clock(db: Db, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Enqueues a job of kind `K` (its own statement, committed at once).
    pub async fn enqueue<K: JobKind>(&self, payload: &K::Payload) -> StoreResult<Enqueued> {
        self.insert(NewJob::of::<K>(payload)?).await
    }

    /// Enqueues a job of kind `K` inside the caller's transaction: it exists
    /// (and runs) only if the transaction commits.
    pub async fn enqueue_tx<K: JobKind>(
        &self,
        tx: &mut Transaction<'_, Any>,
        payload: &K::Payload,
    ) -> StoreResult<Enqueued> {
        self.insert_tx(tx, NewJob::of::<K>(payload)?).await
    }

    /// Enqueues a job of kind `K` to run no earlier than `run_at_ms`.
    pub async fn enqueue_at<K: JobKind>(
        &self,
        payload: &K::Payload,
        run_at_ms: i64,
    ) -> StoreResult<Enqueued> {
        self.insert(NewJob::of::<K>(payload)?.run_at(run_at_ms))
            .await
    }

    pub async fn insert(&self, job: NewJob) -> StoreResult<Enqueued> {
        let guard = write_guard(&self.db).await;
        let mut conn = self.db.pool().acquire().await?;
        let out = insert_one(&mut conn, &job, self.now_ms()).await?;
        drop(conn);
        drop(guard);
        if out.is_inserted() {
            wake(&job.queue);
        }
        Ok(out)
    }

    pub async fn insert_tx(
        &self,
        tx: &mut Transaction<'_, Any>,
        job: NewJob,
    ) -> StoreResult<Enqueued> {
        let out = insert_one(tx, &job, self.now_ms()).await?;
        if out.is_inserted() {
            // Fires before the commit; the woken worker re-polls shortly after.
            wake(&job.queue);
        }
        Ok(out)
    }

    /// Bulk enqueue (multi-row inserts of up to 500 rows), in one transaction.
    pub async fn insert_many(&self, jobs: &[NewJob]) -> StoreResult<BulkEnqueued> {
        let _guard = write_guard(&self.db).await;
        let mut tx = self.db.begin().await?;
        let out = self.insert_many_tx(&mut tx, jobs).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Bulk enqueue inside the caller's transaction.
    pub async fn insert_many_tx(
        &self,
        tx: &mut Transaction<'_, Any>,
        jobs: &[NewJob],
    ) -> StoreResult<BulkEnqueued> {
        let now = self.now_ms();
        let mut out = BulkEnqueued::default();
        let chunk_rows = match self.db.dialect() {
            // SQLite (through sqlx) binds parameters in quadratic time: keep
            // statements small.
            crate::db::Dialect::Sqlite => 100,
            crate::db::Dialect::Postgres => 500,
        };
        for chunk in jobs.chunks(chunk_rows) {
            let ids: Vec<String> = chunk.iter().map(|_| crate::new_id()).collect();
            let mut sql = String::with_capacity(256 + chunk.len() * 64);
            sql.push_str(INSERT_HEAD);
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                let b = i * 11;
                sql.push_str(&format!(
                    "(${},${},${},${},${},${},${},0,${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9,
                    b + 10,
                    b + 11
                ));
            }
            sql.push_str(" ON CONFLICT DO NOTHING RETURNING id");
            let mut q = sqlx::query(&sql);
            for (job, id) in chunk.iter().zip(&ids) {
                q = bind_job(q, id, job, now);
            }
            let rows = q
                .fetch_all(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
            let mut got = std::collections::HashSet::with_capacity(rows.len());
            for row in rows {
                got.insert(row.try_get::<String, _>(0)?);
            }
            for id in ids {
                if got.contains(&id) {
                    out.inserted.push(id);
                } else {
                    out.duplicates += 1;
                }
            }
        }
        let mut queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
        queues.sort_unstable();
        queues.dedup();
        for q in queues {
            wake(q);
        }
        Ok(out)
    }
}

const INSERT_HEAD: &str =
    "INSERT INTO jobs (id, kind, queue, state, payload, user_id, unique_key, \
     attempt, max_attempts, timeout_ms, run_at, created_at) VALUES ";

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

fn bind_job<'q>(q: AnyQuery<'q>, id: &str, job: &NewJob, now: i64) -> AnyQuery<'q> {
    let run_at = job.run_at.unwrap_or(now);
    let state = if run_at > now {
        JobState::Scheduled
    } else {
        JobState::Available
    };
    q.bind(id.to_string())
        .bind(job.kind.clone())
        .bind(job.queue.clone())
        .bind(state.as_str())
        .bind(job.payload.clone())
        .bind(job.user_id.clone())
        .bind(job.unique_key.clone())
        .bind(i64::from(job.max_attempts.max(1)))
        .bind(job.timeout.as_millis().min(i64::MAX as u128) as i64)
        .bind(run_at)
        .bind(now)
}

async fn insert_one(conn: &mut AnyConnection, job: &NewJob, now: i64) -> StoreResult<Enqueued> {
    let id = crate::new_id();
    let sql = format!(
        "{INSERT_HEAD}($1,$2,$3,$4,$5,$6,$7,0,$8,$9,$10,$11) ON CONFLICT DO NOTHING RETURNING id"
    );
    let row = bind_job(sqlx::query(&sql), &id, job, now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::from_sqlx)?;
    if row.is_some() {
        return Ok(Enqueued::Inserted(id));
    }
    let Some(key) = &job.unique_key else {
        return Err(StoreError::Other("job insert returned no row".into()));
    };
    let existing: Option<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM jobs WHERE unique_key = $1 AND state IN {UNIQUE_STATES_SQL}"
    ))
    .bind(key.clone())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(Enqueued::Duplicate(existing))
}

/// SQLite has one writer at a time, and a writer that finds the lock taken
/// sleeps in SQLite's busy handler (1, 2, 5, … 100 ms), which shows up as
/// tail latency. The queue's own writes in this process therefore queue on
/// this (FIFO) mutex first. Never held across user code or while waiting for
/// anything that could need it. Postgres needs no such thing.
static SQLITE_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) async fn write_guard(db: &Db) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    match db.dialect() {
        crate::db::Dialect::Sqlite => Some(SQLITE_WRITES.lock().await),
        crate::db::Dialect::Postgres => None,
    }
}

/// In-process wake-ups: an enqueue in this process wakes the queue's fetcher
/// at once instead of waiting for its next poll. (A wake from another
/// database in the same process is a harmless extra poll.)
fn wakers() -> &'static Mutex<HashMap<String, Arc<Notify>>> {
    static WAKERS: OnceLock<Mutex<HashMap<String, Arc<Notify>>>> = OnceLock::new();
    WAKERS.get_or_init(Default::default)
}

pub(crate) fn waker(queue: &str) -> Arc<Notify> {
    let mut map = wakers().lock().unwrap_or_else(|e| e.into_inner());
    map.entry(queue.to_string()).or_default().clone()
}

pub(crate) fn wake(queue: &str) {
    let map = wakers().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = map.get(queue) {
        n.notify_waiters();
        n.notify_one();
    }
}
