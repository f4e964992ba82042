//! Job queue benchmark: enqueue rates, no-op drain throughput and pickup
//! latency, on SQLite or Postgres. Prints one JSON object per scenario.
//!
//! ```text
//! cargo run --release -p kalei-store --example queue_bench -- \
//!     --db postgres://postgres@127.0.0.1:5432/postgres [--jobs 50000] [--seconds 10] \
//!     [--only enqueue,drain,latency] [--concurrency 32,256] [--rate 1000]
//! cargo run --release -p kalei-store --example queue_bench -- --db sqlite
//! ```
//!
//! For Postgres a fresh database `kalei_bench_jobs` is created next to the
//! given one (and dropped at the end); for `sqlite` a fresh file under the temp
//! directory. Loads stay on loopback and every scenario is bounded in time.
//! `latency-child` is internal: the latency scenario's external enqueuer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kalei_store::jobs::{
    JobKind, JobOutcome, Jobs, NewJob, QueueConfig, Registry, Worker, WorkerConfig,
};
use kalei_store::{Db, DbOptions};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Noop {
    /// Enqueue time, unix µs (bench only: real payloads carry ids).
    t: u64,
}

struct NoopJob;
impl JobKind for NoopJob {
    const KIND: &'static str = "bench.noop";
    const QUEUE: &'static str = "bench";
    type Payload = Noop;
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

struct Args {
    db: String,
    jobs: usize,
    seconds: u64,
    only: Vec<String>,
    concurrency: Vec<usize>,
    rate: u64,
    keep: bool,
    bulk_batch: usize,
    prefetch: Option<usize>,
    pg_async_commit: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        db: "sqlite".into(),
        jobs: 50_000,
        seconds: 10,
        only: vec!["enqueue".into(), "drain".into(), "latency".into()],
        concurrency: vec![32, 256],
        rate: 1000,
        keep: false,
        bulk_batch: 1000,
        prefetch: None,
        pg_async_commit: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--db" => a.db = v(),
            "--jobs" => a.jobs = v().parse().unwrap(),
            "--seconds" => a.seconds = v().parse().unwrap(),
            "--only" => a.only = v().split(',').map(str::to_string).collect(),
            "--concurrency" => a.concurrency = v().split(',').map(|c| c.parse().unwrap()).collect(),
            "--rate" => a.rate = v().parse().unwrap(),
            "--keep" => a.keep = true,
            "--bulk-batch" => a.bulk_batch = v().parse().unwrap(),
            "--prefetch" => a.prefetch = Some(v().parse().unwrap()),
            // Bench database only: every commit asynchronous, to separate the
            // queue from this machine's fsync latency.
            "--pg-async-commit" => a.pg_async_commit = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after..].find('/') {
        Some(i) => &base[..after + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn fresh_db(args: &Args) -> (Db, String, &'static str) {
    let opts = DbOptions {
        max_connections: 32,
        ..DbOptions::default()
    };
    if args.db == "sqlite" || args.db.starts_with("sqlite:") {
        let dir = std::env::temp_dir().join("kalei-queue-bench");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/jobs.db", dir.display());
        let db = Db::connect(&url, &opts).await.unwrap();
        db.migrate().await.unwrap();
        (db, url, "sqlite")
    } else {
        let admin = Db::connect(&args.db, &DbOptions::default()).await.unwrap();
        sqlx::query("DROP DATABASE IF EXISTS kalei_bench_jobs WITH (FORCE)")
            .execute(admin.pool())
            .await
            .unwrap();
        sqlx::query("CREATE DATABASE kalei_bench_jobs")
            .execute(admin.pool())
            .await
            .unwrap();
        if args.pg_async_commit {
            sqlx::query("ALTER DATABASE kalei_bench_jobs SET synchronous_commit = off")
                .execute(admin.pool())
                .await
                .unwrap();
        }
        admin.close().await;
        let url = replace_database(&args.db, "kalei_bench_jobs");
        let db = Db::connect(&url, &opts).await.unwrap();
        db.migrate().await.unwrap();
        (db, url, "postgres")
    }
}

async fn reset(db: &Db) {
    sqlx::query("DELETE FROM jobs")
        .execute(db.pool())
        .await
        .unwrap();
    if db.dialect() == kalei_store::Dialect::Postgres {
        sqlx::query("VACUUM ANALYZE jobs")
            .execute(db.pool())
            .await
            .unwrap();
    }
}

static PREFETCH: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();

fn bench_config(concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        queues: vec![QueueConfig::new("bench", concurrency)],
        prefetch: *PREFETCH.get().unwrap_or(&None),
        leader: false,
        ..WorkerConfig::default()
    }
}

fn emit(v: serde_json::Value) {
    println!("{v}");
}

async fn enqueue_single(jobs: &Jobs, backend: &str, clients: usize, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let count = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (jobs, count) = (jobs.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                jobs.enqueue::<NoopJob>(&Noop { t: 0 }).await.unwrap();
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = count.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    emit(
        serde_json::json!({"backend": backend, "scenario": "enqueue_single", "clients": clients,
        "jobs": n, "seconds": secs, "jobs_per_sec": (n as f64 / secs).round()}),
    );
}

async fn enqueue_bulk(jobs: &Jobs, backend: &str, total: usize, batch: usize) {
    let start = Instant::now();
    let mut n = 0;
    while n < total {
        let k = batch.min(total - n);
        let b: Vec<NewJob> = (0..k)
            .map(|_| NewJob::of::<NoopJob>(&Noop { t: 0 }).unwrap())
            .collect();
        n += jobs.insert_many(&b).await.unwrap().inserted.len();
    }
    let secs = start.elapsed().as_secs_f64();
    emit(
        serde_json::json!({"backend": backend, "scenario": "enqueue_bulk", "batch": batch,
        "jobs": n, "seconds": secs, "jobs_per_sec": (n as f64 / secs).round()}),
    );
}

async fn drain(jobs: &Jobs, backend: &str, total: usize, concurrency: usize, max_seconds: u64) {
    reset(jobs.db()).await;
    let mut n = 0;
    while n < total {
        let k = 1000.min(total - n);
        let b: Vec<NewJob> = (0..k)
            .map(|_| NewJob::of::<NoopJob>(&Noop { t: 0 }).unwrap())
            .collect();
        n += jobs.insert_many(&b).await.unwrap().inserted.len();
    }
    if jobs.db().dialect() == kalei_store::Dialect::Postgres {
        sqlx::query("ANALYZE jobs")
            .execute(jobs.db().pool())
            .await
            .unwrap();
    }
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let registry = Registry::new().with::<NoopJob, _, _>(move |_ctx, _p| {
        d.fetch_add(1, Ordering::Relaxed);
        async { Ok(JobOutcome::Completed) }
    });
    let start = Instant::now();
    let worker = Worker::new(jobs.clone(), registry, bench_config(concurrency)).start();
    let deadline = start + Duration::from_secs(max_seconds);
    // Done when every job is recorded completed in the database.
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if done.load(Ordering::Relaxed) >= total {
            let left: i64 = sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state <> 'completed'",
            )
            .fetch_one(jobs.db().pool())
            .await
            .unwrap();
            if left == 0 {
                break;
            }
        }
        if Instant::now() > deadline {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    worker.shutdown().await;
    let completed: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'completed'")
            .fetch_one(jobs.db().pool())
            .await
            .unwrap();
    emit(
        serde_json::json!({"backend": backend, "scenario": "drain", "concurrency": concurrency,
        "jobs": completed, "seconds": secs, "jobs_per_sec": (completed as f64 / secs).round()}),
    );
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Paced enqueues at `rate`/s for `seconds`, from this process (the
/// in-process wake-up applies) or from a child process (`external`: only
/// polling, as with an API replica and a separate `kalei worker`).
/// Reports, per job, enqueue call → handler start (includes the enqueue's own
/// durable commit) and, in-process, enqueue returned → handler start.
async fn latency(jobs: &Jobs, url: &str, backend: &str, rate: u64, seconds: u64, external: bool) {
    reset(jobs.db()).await;
    let started = Arc::new(Mutex::new(HashMap::<String, (u64, u64)>::new()));
    let s = started.clone();
    let registry = Registry::new().with::<NoopJob, _, _>(move |ctx, p| {
        s.lock().unwrap().insert(ctx.id, (p.t, now_us()));
        async { Ok(JobOutcome::Completed) }
    });
    let worker = Worker::new(jobs.clone(), registry, bench_config(32)).start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let total = (rate * seconds) as usize;
    let start = Instant::now();
    let returned = Arc::new(Mutex::new(HashMap::<String, u64>::new()));
    if external {
        let status = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "latency-child",
                url,
                &rate.to_string(),
                &seconds.to_string(),
            ])
            .status()
            .await
            .unwrap();
        assert!(status.success());
    } else {
        pace(jobs, rate, total, Some(returned.clone())).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.lock().unwrap().len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    worker.shutdown().await;
    let started = started.lock().unwrap().clone();
    let returned = returned.lock().unwrap().clone();
    let mut from_call: Vec<u64> = started
        .values()
        .map(|(t, s)| s.saturating_sub(*t))
        .collect();
    from_call.sort_unstable();
    let mut from_commit: Vec<u64> = started
        .iter()
        .filter_map(|(id, (_, s))| returned.get(id).map(|r| s.saturating_sub(*r)))
        .collect();
    from_commit.sort_unstable();
    let mut v = serde_json::json!({"backend": backend,
        "scenario": if external {"latency_external_enqueuer"} else {"latency"},
        "rate": rate, "jobs": from_call.len(), "seconds": elapsed,
        "p50_ms": percentile(&from_call, 0.50), "p90_ms": percentile(&from_call, 0.90),
        "p99_ms": percentile(&from_call, 0.99), "max_ms": percentile(&from_call, 1.0)});
    if !from_commit.is_empty() {
        v["after_commit_p50_ms"] = percentile(&from_commit, 0.50).into();
        v["after_commit_p99_ms"] = percentile(&from_commit, 0.99).into();
    }
    emit(v);
}

async fn pace(
    jobs: &Jobs,
    rate: u64,
    total: usize,
    returned: Option<Arc<Mutex<HashMap<String, u64>>>>,
) {
    let start = tokio::time::Instant::now();
    let period = Duration::from_nanos(1_000_000_000 / rate);
    let in_flight = Arc::new(AtomicU64::new(0));
    for i in 0..total {
        tokio::time::sleep_until(start + period * i as u32).await;
        let jobs = jobs.clone();
        let f = in_flight.clone();
        let returned = returned.clone();
        f.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let r = jobs
                .enqueue::<NoopJob>(&Noop { t: now_us() })
                .await
                .unwrap();
            if let (Some(map), Some(id)) = (returned, r.id()) {
                map.lock().unwrap().insert(id.to_string(), now_us());
            }
            f.fetch_sub(1, Ordering::Relaxed);
        });
    }
    while in_flight.load(Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("latency-child") {
        let db = Db::connect(&argv[2], &DbOptions::default()).await.unwrap();
        let rate: u64 = argv[3].parse().unwrap();
        let secs: u64 = argv[4].parse().unwrap();
        pace(&Jobs::new(db), rate, (rate * secs) as usize, None).await;
        return;
    }
    let args = parse_args();
    PREFETCH.set(args.prefetch).unwrap();
    let (db, url, backend) = fresh_db(&args).await;
    let backend: &'static str = if backend == "postgres" && args.pg_async_commit {
        "postgres(async commit)"
    } else {
        backend
    };
    let jobs = Jobs::new(db.clone());
    eprintln!("queue_bench on {backend} ({url})");
    if args.only.iter().any(|o| o == "enqueue") {
        reset(&db).await;
        enqueue_single(&jobs, backend, 1, args.seconds.min(5)).await;
        reset(&db).await;
        enqueue_single(&jobs, backend, 8, args.seconds.min(5)).await;
        reset(&db).await;
        enqueue_bulk(&jobs, backend, args.jobs, args.bulk_batch).await;
    }
    if args.only.iter().any(|o| o == "drain") {
        for &c in &args.concurrency {
            drain(&jobs, backend, args.jobs, c, 120).await;
        }
    }
    if args.only.iter().any(|o| o == "latency") {
        latency(&jobs, &url, backend, args.rate, args.seconds, false).await;
        latency(&jobs, &url, backend, args.rate, args.seconds, true).await;
    }
    db.close().await;
    if backend.starts_with("postgres") && !args.keep {
        let admin = Db::connect(&args.db, &DbOptions::default()).await.unwrap();
        let _ = sqlx::query("DROP DATABASE IF EXISTS kalei_bench_jobs WITH (FORCE)")
            .execute(admin.pool())
            .await;
    }
}
