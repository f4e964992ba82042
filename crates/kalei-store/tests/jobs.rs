//! The durable job queue on SQLite and Postgres (`db_test!`): unique keys
//! under concurrency, a really killed worker process, dead letters and admin
//! retry, double cron ticks, graceful shutdown, transactional enqueue, handler
//! outcomes, lease-checked acks, bulk enqueue, pruning and per-queue
//! concurrency. No test asserts a timing; liveness waits are generous bounds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kalei_store::db_test;
use kalei_store::jobs::{
    self, admin, leader, Enqueued, JobKind, JobOutcome, JobState, Jobs, ListFilter, NewJob,
    QueueConfig, Registry, RetryPolicy, Scheduler, Worker, WorkerConfig,
};
use kalei_store::{Db, DbOptions};
use serde::{Deserialize, Serialize};
use sqlx::Row;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ids {
    n: u32,
}

/// A plain job on queue `t`.
struct Plain;
impl JobKind for Plain {
    const KIND: &'static str = "test.plain";
    const QUEUE: &'static str = "t";
    const MAX_ATTEMPTS: u32 = 3;
    type Payload = Ids;
}

/// A job with a unique key per `n`, like `weekly:{user}:{iso-week}`.
struct Weekly;
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WeeklyPayload {
    user_id: String,
    week: String,
}
impl JobKind for Weekly {
    const KIND: &'static str = "test.weekly";
    const QUEUE: &'static str = "t";
    type Payload = WeeklyPayload;
    fn unique_key(p: &WeeklyPayload) -> Option<String> {
        Some(format!("weekly:{}:{}", p.user_id, p.week))
    }
    fn user_id(p: &WeeklyPayload) -> Option<String> {
        Some(p.user_id.clone())
    }
}

/// Used by the killed-worker test (parent and child process).
struct Crashy;
impl JobKind for Crashy {
    const KIND: &'static str = "test.crashy";
    const QUEUE: &'static str = "crash";
    const MAX_ATTEMPTS: u32 = 5;
    type Payload = Ids;
}

fn fast_config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(50),
        min_poll_interval: Duration::from_millis(2),
        // Generous against a loaded machine: a lease lost to a late heartbeat
        // would make a job run twice and the counts below flaky.
        lease: Duration::from_secs(3),
        heartbeat_interval: Some(Duration::from_millis(250)),
        rescue_interval: Some(Duration::from_millis(500)),
        shutdown_grace: Duration::from_secs(10),
        retry: RetryPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            jitter: 0.2,
        },
        leader_lease: Duration::from_secs(1),
        maintenance_tick: Duration::from_millis(50),
        ..WorkerConfig::default()
    }
}

/// Polls `check` until it is true; panics after `secs` seconds.
async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn state_of(db: &Db, id: &str) -> JobState {
    admin::get(db, id).await.unwrap().state
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

type Runs = Arc<Mutex<HashMap<u32, usize>>>;

fn runs_of(runs: &Runs, n: u32) -> usize {
    runs.lock().unwrap().get(&n).copied().unwrap_or(0)
}

// ---------------------------------------------------------------- unique keys

db_test!(
    async fn unique_key_under_16_concurrent_enqueues_leaves_one_job(t) {
        let jobs = Jobs::new(t.db.clone());
        let mut tasks = Vec::new();
        for i in 0..16 {
            let jobs = jobs.clone();
            tasks.push(tokio::spawn(async move {
                let p = WeeklyPayload {
                    user_id: "u1".into(),
                    week: "2026-W02".into(),
                };
                if i % 2 == 0 {
                    jobs.enqueue::<Weekly>(&p).await.unwrap()
                } else {
                    // Half of them inside a caller's transaction.
                    let mut tx = jobs.db().begin().await.unwrap();
                    let r = jobs.enqueue_tx::<Weekly>(&mut tx, &p).await.unwrap();
                    tx.commit().await.unwrap();
                    r
                }
            }));
        }
        let mut inserted = 0;
        for task in tasks {
            if task.await.unwrap().is_inserted() {
                inserted += 1;
            }
        }
        assert_eq!(inserted, 1);
        assert_eq!(
            count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE unique_key = 'weekly:u1:2026-W02'").await,
            1
        );
        // A duplicate reports the holder.
        let again = jobs
            .enqueue::<Weekly>(&WeeklyPayload {
                user_id: "u1".into(),
                week: "2026-W02".into(),
            })
            .await
            .unwrap();
        let holder = admin::list(&t.db, &ListFilter::default(), 10, None).await.unwrap().items[0].id.clone();
        assert_eq!(again, Enqueued::Duplicate(Some(holder.clone())));
        // Another week is another job; the user id is recorded.
        let other = jobs
            .enqueue::<Weekly>(&WeeklyPayload {
                user_id: "u1".into(),
                week: "2026-W03".into(),
            })
            .await
            .unwrap();
        assert!(other.is_inserted());
        assert_eq!(admin::get(&t.db, other.id().unwrap()).await.unwrap().user_id.as_deref(), Some("u1"));
        // A cancelled job frees its key (as in River); a completed one would not.
        admin::cancel(&t.db, &holder).await.unwrap();
        assert!(jobs
            .enqueue::<Weekly>(&WeeklyPayload {
                user_id: "u1".into(),
                week: "2026-W02".into(),
            })
            .await
            .unwrap()
            .is_inserted());
        assert!(admin::unique_key_taken(&t.db, "weekly:u1:2026-W02").await.unwrap());
    }
);

// ----------------------------------------------------- transactional enqueue

db_test!(
    async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs(t) {
        let jobs = Jobs::new(t.db.clone());
        let mut tx = t.db.begin().await.unwrap();
        let rolled = jobs.enqueue_tx::<Plain>(&mut tx, &Ids { n: 1 }).await.unwrap();
        assert!(rolled.is_inserted());
        tx.rollback().await.unwrap();

        let mut tx = t.db.begin().await.unwrap();
        jobs.enqueue_tx::<Plain>(&mut tx, &Ids { n: 2 }).await.unwrap();
        tx.commit().await.unwrap();

        let runs: Runs = Default::default();
        let r = runs.clone();
        let registry = Registry::new().with::<Plain, _, _>(move |_ctx, p| {
            let r = r.clone();
            async move {
                *r.lock().unwrap().entry(p.n).or_default() += 1;
                Ok(JobOutcome::Completed)
            }
        });
        let worker = Worker::new(jobs.clone(), registry, fast_config()).start();
        wait_until(30, "the committed job ran", || async { runs_of(&runs, 2) == 1 }).await;
        // Let a few more polls pass: the rolled-back job must not exist.
        tokio::time::sleep(Duration::from_millis(300)).await;
        worker.shutdown().await;
        assert_eq!(runs_of(&runs, 1), 0);
        assert!(matches!(
            admin::get(&t.db, rolled.id().unwrap()).await,
            Err(kalei_store::StoreError::NotFound)
        ));
        assert_eq!(count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs").await, 1);
    }
);

// ------------------------------------------------ dead letter and admin retry

db_test!(
    async fn a_job_failing_n_times_is_dead_lettered_and_runs_again_after_admin_retry(t) {
        let jobs = Jobs::new(t.db.clone());
        let failing = Arc::new(AtomicBool::new(true));
        let runs = Arc::new(AtomicUsize::new(0));
        let (f, r) = (failing.clone(), runs.clone());
        let registry = Registry::new().with::<Plain, _, _>(move |ctx, _p| {
            let (f, r) = (f.clone(), r.clone());
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                if f.load(Ordering::SeqCst) {
                    anyhow::bail!("downstream unavailable (attempt {})", ctx.attempt);
                }
                Ok(JobOutcome::Completed)
            }
        });
        let worker = Worker::new(jobs.clone(), registry, fast_config()).start();
        let id = jobs.enqueue::<Plain>(&Ids { n: 7 }).await.unwrap().id().unwrap().to_string();
        wait_until(30, "job discarded", || async {
            state_of(&t.db, &id).await == JobState::Discarded
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), Plain::MAX_ATTEMPTS as usize);
        let dead = admin::get(&t.db, &id).await.unwrap();
        assert_eq!(dead.attempt, 3);
        assert!(dead.finalized_at.is_some());
        assert!(dead.last_error.as_deref().unwrap().contains("downstream unavailable"), "{dead:?}");
        // Listed among the dead letters.
        let page = admin::list(&t.db, &ListFilter::state(JobState::Discarded), 50, None).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].id, id);

        failing.store(false, Ordering::SeqCst);
        let retried = admin::retry(&t.db, &id).await.unwrap();
        assert_eq!(retried.state, JobState::Available);
        assert_eq!(retried.attempt, 0);
        wait_until(30, "retried job completed", || async {
            state_of(&t.db, &id).await == JobState::Completed
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        // Finished jobs cannot be cancelled; running ones cannot be retried.
        assert!(admin::cancel(&t.db, &id).await.unwrap_err().is_conflict());
        worker.shutdown().await;
    }
);

// ------------------------------------------------------------- outcomes

struct Outcomes;
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Ask {
    Snooze,
    Cancel,
    Discard,
    Panic,
    Slow,
}
impl JobKind for Outcomes {
    const KIND: &'static str = "test.outcomes";
    const QUEUE: &'static str = "o";
    const MAX_ATTEMPTS: u32 = 2;
    const TIMEOUT: Duration = Duration::from_millis(200);
    type Payload = Ask;
}

db_test!(
    async fn handlers_can_snooze_cancel_discard_and_panics_and_timeouts_are_failures(t) {
        let jobs = Jobs::new(t.db.clone());
        let snoozes = Arc::new(AtomicUsize::new(0));
        let s = snoozes.clone();
        let registry = Registry::new().with::<Outcomes, _, _>(move |ctx, ask| {
            let s = s.clone();
            async move {
                Ok(match ask {
                    Ask::Snooze => {
                        // Snooze once; the snooze does not use up an attempt.
                        if s.fetch_add(1, Ordering::SeqCst) == 0 {
                            assert_eq!(ctx.attempt, 1);
                            JobOutcome::Snooze(Duration::from_millis(50))
                        } else {
                            assert_eq!(ctx.attempt, 1);
                            JobOutcome::Completed
                        }
                    }
                    Ask::Cancel => JobOutcome::Cancel("session deleted".into()),
                    Ask::Discard => JobOutcome::Discard("bad input".into()),
                    Ask::Panic => panic!("handler bug"),
                    Ask::Slow => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        JobOutcome::Completed
                    }
                })
            }
        });
        let worker = Worker::new(jobs.clone(), registry, fast_config()).start();
        let mut ids = HashMap::new();
        for (name, ask) in [
            ("snooze", Ask::Snooze),
            ("cancel", Ask::Cancel),
            ("discard", Ask::Discard),
            ("panic", Ask::Panic),
            ("slow", Ask::Slow),
        ] {
            ids.insert(name, jobs.enqueue::<Outcomes>(&ask).await.unwrap().id().unwrap().to_string());
        }
        // A payload that does not deserialise is discarded at once.
        let bad = jobs
            .insert(NewJob::new(Outcomes::KIND, Outcomes::QUEUE, &serde_json::json!({"what": 1})).unwrap())
            .await
            .unwrap();
        let expect = [
            ("snooze", JobState::Completed),
            ("cancel", JobState::Cancelled),
            ("discard", JobState::Discarded),
            ("panic", JobState::Discarded),
            ("slow", JobState::Discarded),
        ];
        for (name, want) in expect {
            let id = ids[name].clone();
            wait_until(30, name, || async { state_of(&t.db, &id).await == want }).await;
        }
        wait_until(30, "bad payload discarded", || async {
            state_of(&t.db, bad.id().unwrap()).await == JobState::Discarded
        })
        .await;
        let panic = admin::get(&t.db, &ids["panic"]).await.unwrap();
        assert!(panic.last_error.unwrap().contains("handler bug"));
        assert_eq!(panic.attempt, 2);
        let slow = admin::get(&t.db, &ids["slow"]).await.unwrap();
        assert!(slow.last_error.unwrap().contains("timed out"));
        let cancel = admin::get(&t.db, &ids["cancel"]).await.unwrap();
        assert!(cancel.last_error.unwrap().contains("session deleted"));
        assert_eq!(snoozes.load(Ordering::SeqCst), 2);
        worker.shutdown().await;
    }
);

// ------------------------------------------- acks count only with the lease

db_test!(
    async fn an_ack_from_a_worker_that_lost_its_lease_changes_nothing(t) {
        let jobs = Jobs::new(t.db.clone());
        let release = Arc::new(tokio::sync::Notify::new());
        let started = Arc::new(AtomicUsize::new(0));
        let (rel, st) = (release.clone(), started.clone());
        let registry = Registry::new().with::<Plain, _, _>(move |_ctx, _p| {
            let (rel, st) = (rel.clone(), st.clone());
            async move {
                st.fetch_add(1, Ordering::SeqCst);
                rel.notified().await;
                Ok(JobOutcome::Completed)
            }
        });
        let worker = Worker::new(jobs.clone(), registry, fast_config()).start();
        let id = jobs.enqueue::<Plain>(&Ids { n: 1 }).await.unwrap().id().unwrap().to_string();
        wait_until(30, "job started", || async { started.load(Ordering::SeqCst) == 1 }).await;
        assert_eq!(state_of(&t.db, &id).await, JobState::Running);
        // An admin cancels it while it runs: the lease is revoked.
        let cancelled = admin::cancel(&t.db, &id).await.unwrap();
        assert_eq!(cancelled.state, JobState::Cancelled);
        // Retrying a running job is refused (checked on another job below).
        release.notify_one();
        // The worker's completion must not resurrect it.
        let report = worker.shutdown().await;
        assert_eq!(report.handed_back, 0);
        assert_eq!(state_of(&t.db, &id).await, JobState::Cancelled);
        assert_eq!(started.load(Ordering::SeqCst), 1);
    }
);

// ------------------------------------------------------ graceful shutdown

struct Slow;
impl JobKind for Slow {
    const KIND: &'static str = "test.slow";
    const QUEUE: &'static str = "slow";
    type Payload = Ids;
}

db_test!(
    async fn graceful_shutdown_finishes_running_jobs_and_hands_back_unstarted_ones(t) {
        let jobs = Jobs::new(t.db.clone());
        let started = Arc::new(AtomicUsize::new(0));
        let st = started.clone();
        let registry = Registry::new().with::<Slow, _, _>(move |_ctx, _p| {
            let st = st.clone();
            async move {
                st.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(JobOutcome::Completed)
            }
        });
        let mut config = fast_config();
        // One runs at a time, five more are claimed into the local buffer.
        config.queues = vec![QueueConfig::new("slow", 1)];
        config.prefetch = Some(5);
        let batch: Vec<NewJob> = (0..12).map(|n| NewJob::of::<Slow>(&Ids { n }).unwrap()).collect();
        jobs.insert_many(&batch).await.unwrap();
        let worker = Worker::new(jobs.clone(), registry, config).start();
        wait_until(30, "jobs running", || async { started.load(Ordering::SeqCst) >= 1 }).await;
        let report = worker.shutdown().await;
        let n_started = started.load(Ordering::SeqCst) as i64;
        // The running job finished in the grace period; the five claimed but
        // unstarted ones were handed back.
        assert_eq!(n_started, 1);
        assert_eq!(report.finished_in_grace, 1, "{report:?}");
        assert_eq!(report.handed_back, 5, "{report:?}");
        // Every job that started finished; the others are untouched.
        let completed = count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'completed'").await;
        let available = count(
            &t.db,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'available' AND attempt = 0 AND lease_token IS NULL",
        )
        .await;
        assert_eq!(completed, n_started);
        assert_eq!(completed + available, 12);
        assert_eq!(count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'running'").await, 0);
    }
);

db_test!(
    async fn graceful_shutdown_hands_back_jobs_still_running_after_the_grace(t) {
        let jobs = Jobs::new(t.db.clone());
        let started = Arc::new(AtomicUsize::new(0));
        let st = started.clone();
        let registry = Registry::new().with::<Slow, _, _>(move |_ctx, _p| {
            let st = st.clone();
            async move {
                st.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(JobOutcome::Completed)
            }
        });
        let mut config = fast_config();
        config.queues = vec![QueueConfig::new("slow", 2)];
        config.shutdown_grace = Duration::from_millis(200);
        for n in 0..3 {
            jobs.enqueue::<Slow>(&Ids { n }).await.unwrap();
        }
        let worker = Worker::new(jobs.clone(), registry, config).start();
        wait_until(30, "two jobs running", || async { started.load(Ordering::SeqCst) == 2 }).await;
        let report = worker.shutdown().await;
        // Two aborted after the grace, one claimed into the buffer unstarted.
        assert_eq!(report.handed_back, 3, "{report:?}");
        assert_eq!(count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'running'").await, 0);
        // Handed back as if never attempted.
        assert_eq!(
            count(
                &t.db,
                "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'available' AND attempt = 0 AND lease_token IS NULL"
            )
            .await,
            3
        );
        // And another worker runs all three.
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let registry = Registry::new().with::<Slow, _, _>(move |_ctx, _p| {
            let d = d.clone();
            async move {
                d.fetch_add(1, Ordering::SeqCst);
                Ok(JobOutcome::Completed)
            }
        });
        let worker = Worker::new(jobs.clone(), registry, fast_config()).start();
        wait_until(30, "handed-back jobs completed", || async {
            count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'completed'").await == 3
        })
        .await;
        worker.shutdown().await;
        assert_eq!(done.load(Ordering::SeqCst), 3);
    }
);

// ---------------------------------------------------------------- cron

struct Tick;
impl JobKind for Tick {
    const KIND: &'static str = "test.tick";
    const QUEUE: &'static str = "cron";
    type Payload = i64;
}

fn utc_ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

db_test!(
    async fn a_cron_tick_delivered_twice_enqueues_once(t) {
        let jobs = Jobs::new(t.db.clone());
        let make = || {
            let mut s = Scheduler::new(jobs.clone());
            s.add_with::<Tick>("minutely", "0 * * * * *", chrono_tz::UTC, |tick| tick)
                .unwrap();
            s
        };
        let (a, b) = (make(), make());
        // First sight registers the next tick and enqueues nothing.
        assert!(a.tick_at(utc_ms("2026-01-05T10:00:30Z")).await.unwrap().is_empty());
        // Two leaders race on the same due tick.
        let now = utc_ms("2026-01-05T10:01:05Z");
        let (ra, rb) = tokio::join!(a.tick_at(now), b.tick_at(now));
        let inserted = ra.unwrap().iter().chain(rb.unwrap().iter()).filter(|e| e.is_inserted()).count();
        assert_eq!(inserted, 1);
        // A restarted leader (fresh scheduler) sees the tick as done.
        let c = make();
        assert!(c.tick_at(now + 1000).await.unwrap().is_empty());
        let tick_key = format!("cron:minutely:{}", utc_ms("2026-01-05T10:01:00Z"));
        assert_eq!(
            count(&t.db, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE unique_key = '{tick_key}'")).await,
            1
        );
        // Even bypassing the schedule row, the tick's unique key holds.
        let again = jobs
            .insert(NewJob::of::<Tick>(&0).unwrap().unique_key(tick_key.clone()))
            .await
            .unwrap();
        assert!(matches!(again, Enqueued::Duplicate(Some(_))));
        // Ticks missed while down fire once, then the schedule moves on.
        let later = utc_ms("2026-01-05T10:05:10Z");
        assert_eq!(c.tick_at(later).await.unwrap().len(), 1);
        assert!(a.tick_at(later).await.unwrap().is_empty());
        assert_eq!(c.next_tick("minutely", later).unwrap(), Some(utc_ms("2026-01-05T10:06:00Z")));
        assert_eq!(count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs").await, 2);
        // run_now enqueues outside the schedule.
        assert!(c.run_now("minutely").await.unwrap().is_inserted());
        assert!(c.run_now("nope").await.is_err());
    }
);

db_test!(
    async fn one_leader_at_a_time_and_takeover_after_expiry(t) {
        let db = &t.db;
        assert!(leader::try_acquire(db, "jobs", "a", 1_000, 500).await.unwrap());
        assert!(!leader::try_acquire(db, "jobs", "b", 1_100, 500).await.unwrap());
        // The holder renews.
        assert!(leader::try_acquire(db, "jobs", "a", 1_200, 500).await.unwrap());
        assert!(!leader::try_acquire(db, "jobs", "b", 1_600, 500).await.unwrap());
        // Expired (a last renewed until 1_700): b takes over, a cannot renew.
        assert!(leader::try_acquire(db, "jobs", "b", 1_701, 500).await.unwrap());
        assert!(!leader::try_acquire(db, "jobs", "a", 1_702, 500).await.unwrap());
        assert_eq!(leader::current(db, "jobs").await.unwrap().unwrap().0, "b");
        // Release hands it over at once.
        leader::release(db, "jobs", "b").await.unwrap();
        assert!(leader::try_acquire(db, "jobs", "a", 1_703, 500).await.unwrap());
        // Racing acquirers: exactly one wins.
        let mut wins = 0;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    leader::try_acquire(&db, "race", &format!("w{i}"), 5_000, 1_000).await.unwrap()
                })
            })
            .collect();
        for task in tasks {
            if task.await.unwrap() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1);
    }
);

db_test!(
    async fn the_leader_worker_ticks_cron_schedules(t) {
        let jobs = Jobs::new(t.db.clone());
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let registry = Registry::new().with::<Tick, _, _>(move |_ctx, _tick| {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                Ok(JobOutcome::Completed)
            }
        });
        let mut scheduler = Scheduler::new(jobs.clone());
        scheduler.add::<Tick>("every-second", "* * * * * *", 0).unwrap();
        // Two workers, one leader: each second's tick runs once.
        let w1 = Worker::new(jobs.clone(), registry.clone(), fast_config())
            .with_scheduler(scheduler.clone())
            .start();
        let w2 = Worker::new(jobs.clone(), registry, fast_config())
            .with_scheduler(scheduler.clone())
            .start();
        wait_until(30, "three ticks ran", || async { ran.load(Ordering::SeqCst) >= 3 }).await;
        w1.shutdown().await;
        w2.shutdown().await;
        let dupes = count(
            &t.db,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT unique_key FROM jobs GROUP BY unique_key HAVING COUNT(*) > 1) d",
        )
        .await;
        assert_eq!(dupes, 0);
    }
);

// ---------------------------------------------------- killed worker process

const CHILD_DB_ENV: &str = "KALEI_JOBS_TEST_CHILD_DB";

/// Not a test of its own: the killed-worker test re-runs this test binary
/// with `CHILD_DB_ENV` set, and this function then acts as a worker process
/// whose handler records its start and never finishes. Without the variable
/// it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker_process() {
    let Ok(url) = std::env::var(CHILD_DB_ENV) else {
        return;
    };
    let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
    let registry = Registry::new().with::<Crashy, _, _>(move |ctx, _p| {
        let db = ctx.jobs.db().clone();
        async move {
            record_run(&db, &ctx.id, "child").await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(JobOutcome::Completed)
        }
    });
    let _worker = Worker::new(Jobs::new(db), registry, fast_config()).start();
    // Bounded: the parent kills us long before this.
    tokio::time::sleep(Duration::from_secs(120)).await;
}

async fn record_run(db: &Db, job_id: &str, who: &str) {
    sqlx::query("INSERT INTO test_runs (job_id, who) VALUES ($1, $2)")
        .bind(job_id)
        .bind(who)
        .execute(db.pool())
        .await
        .unwrap();
}

db_test!(
    async fn a_job_whose_worker_process_was_killed_runs_again_exactly_once_more(t) {
        sqlx::query("CREATE TABLE test_runs (job_id TEXT NOT NULL, who TEXT NOT NULL)")
            .execute(t.db.pool())
            .await
            .unwrap();
        let jobs = Jobs::new(t.db.clone());
        let id = jobs.enqueue::<Crashy>(&Ids { n: 1 }).await.unwrap().id().unwrap().to_string();

        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_worker_process", "--test-threads=1", "--nocapture"])
            .env(CHILD_DB_ENV, &t.url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let runs = |who: &'static str| {
            let db = t.db.clone();
            async move {
                sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM test_runs WHERE who = $1")
                    .bind(who)
                    .fetch_one(db.pool())
                    .await
                    .unwrap()
                    .get::<i64, _>(0)
            }
        };
        wait_until(60, "the child worker started the job", || async { runs("child").await == 1 }).await;
        assert_eq!(state_of(&t.db, &id).await, JobState::Running);
        // Really kill it (SIGKILL): no shutdown, no hand-back, no more heartbeats.
        child.kill().unwrap();
        child.wait().unwrap();

        let registry = Registry::new().with::<Crashy, _, _>(move |ctx, _p| {
            let db = ctx.jobs.db().clone();
            async move {
                record_run(&db, &ctx.id, "parent").await;
                Ok(JobOutcome::Completed)
            }
        });
        let worker = Worker::new(jobs.clone(), registry, fast_config()).start();
        wait_until(30, "the job ran again and completed", || async {
            state_of(&t.db, &id).await == JobState::Completed
        })
        .await;
        // Two more lease intervals: nothing runs it a third time.
        tokio::time::sleep(Duration::from_secs(6)).await;
        worker.shutdown().await;
        assert_eq!(runs("child").await, 1);
        assert_eq!(runs("parent").await, 1);
        let job = admin::get(&t.db, &id).await.unwrap();
        assert_eq!(job.attempt, 2);
    }
);

// ------------------------------------------------------ bulk, prune, admin

db_test!(
    async fn bulk_enqueue_dedups_and_admin_lists_pages(t) {
        let jobs = Jobs::new(t.db.clone());
        let mut batch: Vec<NewJob> = (0..1200).map(|n| NewJob::of::<Plain>(&Ids { n }).unwrap()).collect();
        // Two duplicates of one key, within the batch and across.
        for _ in 0..2 {
            batch.push(
                NewJob::of::<Weekly>(&WeeklyPayload {
                    user_id: "u9".into(),
                    week: "2026-W10".into(),
                })
                .unwrap(),
            );
        }
        let out = jobs.insert_many(&batch).await.unwrap();
        assert_eq!(out.inserted.len(), 1201);
        assert_eq!(out.duplicates, 1);
        // Scheduled jobs are `scheduled`.
        let later = jobs.now_ms() + 3_600_000;
        let s = jobs.enqueue_at::<Plain>(&Ids { n: 9999 }, later).await.unwrap();
        assert_eq!(state_of(&t.db, s.id().unwrap()).await, JobState::Scheduled);

        // Pages of 500, newest first, then the rest.
        let filter = ListFilter {
            queue: Some("t".into()),
            ..ListFilter::default()
        };
        let p1 = admin::list(&t.db, &filter, 500, None).await.unwrap();
        assert_eq!(p1.items.len(), 500);
        assert_eq!(p1.items[0].id, s.id().unwrap());
        let p2 = admin::list(&t.db, &filter, 500, p1.next_cursor.as_deref()).await.unwrap();
        let p3 = admin::list(&t.db, &filter, 500, p2.next_cursor.as_deref()).await.unwrap();
        assert_eq!(p3.items.len(), 202);
        assert!(p3.next_cursor.is_none());
        assert!(p1.items.last().unwrap().id > p2.items[0].id);
        let by_user = admin::list(
            &t.db,
            &ListFilter {
                user_id: Some("u9".into()),
                ..ListFilter::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
        assert_eq!(by_user.items.len(), 1);
        let stats = admin::stats(&t.db).await.unwrap();
        let available: i64 = stats.iter().filter(|s| s.state == JobState::Available).map(|s| s.count).sum();
        assert_eq!(available, 1201);
        // Account deletion drops the user's jobs.
        assert_eq!(admin::delete_for_user(&t.db, "u9").await.unwrap(), 1);
    }
);

db_test!(
    async fn prune_deletes_finished_jobs_past_their_retention(t) {
        let jobs = Jobs::new(t.db.clone());
        let day = 86_400_000i64;
        let now = jobs.now_ms();
        let mut ids = Vec::new();
        for n in 0..6 {
            ids.push(jobs.enqueue::<Plain>(&Ids { n }).await.unwrap().id().unwrap().to_string());
        }
        // completed 2 days ago, completed 1 hour ago, cancelled 2 days ago,
        // discarded 2 days ago, discarded 40 days ago, still available.
        let set = [
            ("completed", now - 2 * day),
            ("completed", now - 3_600_000),
            ("cancelled", now - 2 * day),
            ("discarded", now - 2 * day),
            ("discarded", now - 40 * day),
        ];
        for (id, (state, at)) in ids.iter().zip(set) {
            sqlx::query("UPDATE jobs SET state = $1, finalized_at = $2 WHERE id = $3")
                .bind(state)
                .bind(at)
                .bind(id)
                .execute(t.db.pool())
                .await
                .unwrap();
        }
        let n = admin::prune(&t.db, &jobs::Retention::default(), now).await.unwrap();
        assert_eq!(n, 2);
        let left: Vec<String> = sqlx::query_scalar("SELECT id FROM jobs ORDER BY id")
            .fetch_all(t.db.pool())
            .await
            .unwrap();
        assert_eq!(left, vec![ids[1].clone(), ids[2].clone(), ids[3].clone(), ids[5].clone()]);
    }
);

// ------------------------------------------------------ per-queue concurrency

struct Busy;
impl JobKind for Busy {
    const KIND: &'static str = "test.busy";
    const QUEUE: &'static str = "narrow";
    type Payload = Ids;
}

db_test!(
    async fn each_queue_runs_at_most_its_concurrency(t) {
        let jobs = Jobs::new(t.db.clone());
        let now_running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let plain_done = Arc::new(AtomicUsize::new(0));
        let (nr, pk) = (now_running.clone(), peak.clone());
        let pd = plain_done.clone();
        let registry = Registry::new()
            .with::<Busy, _, _>(move |_ctx, _p| {
                let (nr, pk) = (nr.clone(), pk.clone());
                async move {
                    let n = nr.fetch_add(1, Ordering::SeqCst) + 1;
                    pk.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    nr.fetch_sub(1, Ordering::SeqCst);
                    Ok(JobOutcome::Completed)
                }
            })
            .with::<Plain, _, _>(move |_ctx, _p| {
                let pd = pd.clone();
                async move {
                    pd.fetch_add(1, Ordering::SeqCst);
                    Ok(JobOutcome::Completed)
                }
            });
        let mut config = fast_config();
        config.queues = WorkerConfig::parse_queues("narrow=2,t").unwrap();
        let busy: Vec<NewJob> = (0..20).map(|n| NewJob::of::<Busy>(&Ids { n }).unwrap()).collect();
        jobs.insert_many(&busy).await.unwrap();
        let worker = Worker::new(jobs.clone(), registry, config).start();
        for n in 0..5 {
            jobs.enqueue::<Plain>(&Ids { n }).await.unwrap();
        }
        wait_until(60, "all jobs completed", || async {
            count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'completed'").await == 25
        })
        .await;
        worker.shutdown().await;
        assert!(peak.load(Ordering::SeqCst) <= 2, "peak {}", peak.load(Ordering::SeqCst));
        assert_eq!(plain_done.load(Ordering::SeqCst), 5);
    }
);
