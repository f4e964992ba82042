//! The worker: per-queue fetch loops with their own concurrency, a batching
//! completer, lease heartbeats, the rescuer, and leader-only maintenance (cron
//! ticks, pruning, depth gauges), with graceful shutdown.
//!
//! ```ignore
//! let handle = Worker::new(jobs, registry, WorkerConfig::default()).start();
//! // … later (SIGTERM):
//! let report = handle.shutdown().await;
//! ```
//!
//! Shutdown: the fetch loops stop claiming (a batch claimed after the stop
//! signal is handed back unstarted); running jobs get
//! [`WorkerConfig::shutdown_grace`] to finish; the ones still running then are
//! aborted and handed back (`available` again, the attempt not counted); the
//! completer flushes; the leader lease is released.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::{AbortHandle, JoinHandle};

use super::admin::Retention;
use super::backoff::RetryPolicy;
use super::exec::{self, ClaimedJob};
use super::scheduler::Scheduler;
use super::{leader, telemetry, JobKind, JobState, Jobs};
use crate::db::Db;
use crate::error::{StoreError, StoreResult};

/// What a handler asks for when it does not simply fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done.
    Completed,
    /// Run again after this delay; the attempt does not count.
    Snooze(Duration),
    /// Stop for good (state `cancelled`), e.g. the user deleted the session.
    Cancel(String),
    /// Give up now (state `discarded`, the dead letter), e.g. bad input.
    Discard(String),
}

/// A handler's result: `Err` is a failed attempt, retried with backoff until
/// the kind's `MAX_ATTEMPTS`, then discarded. Error texts are stored in
/// `last_error`: keep user text out of them.
pub type JobResult = anyhow::Result<JobOutcome>;

type HandlerFuture = Pin<Box<dyn Future<Output = JobResult> + Send>>;
type ErasedHandler = Arc<dyn Fn(JobContext, String) -> HandlerFuture + Send + Sync>;

/// What a handler knows about the attempt it runs.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub id: String,
    pub kind: String,
    pub queue: String,
    /// 1 on the first run.
    pub attempt: u32,
    pub max_attempts: u32,
    pub created_at: i64,
    pub run_at: i64,
    /// For enqueueing follow-up jobs.
    pub jobs: Jobs,
    shutdown: watch::Receiver<bool>,
}

impl JobContext {
    /// True once the worker is shutting down: a long job may stop early and
    /// return `Snooze` to be picked up again elsewhere.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

#[derive(Clone)]
struct Registered {
    queue: &'static str,
    handler: ErasedHandler,
}

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Registered>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kinds", &self.kinds())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of kind `K`. The payload is deserialised for it;
    /// a payload that does not deserialise discards the job.
    pub fn register<K, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        K: JobKind,
        F: Fn(JobContext, K::Payload) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: ErasedHandler = Arc::new(move |ctx: JobContext, payload: String| {
            match serde_json::from_str::<K::Payload>(&payload) {
                Ok(p) => Box::pin(handler(ctx, p)) as HandlerFuture,
                Err(e) => {
                    let msg = format!("payload does not deserialise as {}: {e}", K::KIND);
                    Box::pin(async move { Ok(JobOutcome::Discard(msg)) })
                }
            }
        });
        self.handlers.insert(
            K::KIND,
            Registered {
                queue: K::QUEUE,
                handler: erased,
            },
        );
        self
    }

    /// Builder form of [`register`](Self::register).
    pub fn with<K, F, Fut>(mut self, handler: F) -> Self
    where
        K: JobKind,
        F: Fn(JobContext, K::Payload) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        self.register::<K, F, Fut>(handler);
        self
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<_> = self.handlers.keys().copied().collect();
        k.sort_unstable();
        k
    }

    /// The queues of the registered kinds.
    pub fn queues(&self) -> Vec<&'static str> {
        let mut q: Vec<_> = self.handlers.values().map(|r| r.queue).collect();
        q.sort_unstable();
        q.dedup();
        q
    }
}

/// One queue this worker serves, with how many of its jobs run at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub name: String,
    pub concurrency: usize,
}

impl QueueConfig {
    pub fn new(name: impl Into<String>, concurrency: usize) -> Self {
        Self {
            name: name.into(),
            concurrency: concurrency.max(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Identifies this worker in `attempted_by` and the leader lease.
    pub id: String,
    /// Queues to serve; empty = every queue of the registry at
    /// `default_concurrency`.
    pub queues: Vec<QueueConfig>,
    pub default_concurrency: usize,
    /// Most jobs one claim takes.
    pub claim_batch: usize,
    /// Jobs claimed ahead into a local buffer beyond `concurrency`, so claims
    /// overlap running jobs and come in large batches (default:
    /// `max(concurrency, 128)` capped at `claim_batch`; `Some(0)` claims only
    /// for free run slots, which spreads slow jobs more evenly over several
    /// worker processes). Buffered jobs are leased and heartbeated like
    /// running ones, and handed back unstarted at shutdown.
    pub prefetch: Option<usize>,
    /// Longest pause between polls of an idle queue. Polls start at
    /// `min_poll_interval` after work or a wake-up and double while idle.
    pub poll_interval: Duration,
    pub min_poll_interval: Duration,
    /// A running job whose lease is not extended for this long is rescued.
    pub lease: Duration,
    /// How often leases are extended (default: a third of the lease).
    pub heartbeat_interval: Option<Duration>,
    /// How often this worker looks for expired leases (default: half the lease).
    pub rescue_interval: Option<Duration>,
    /// How long running jobs may finish after shutdown starts.
    pub shutdown_grace: Duration,
    pub retry: RetryPolicy,
    /// Most completions written in one statement.
    pub completion_batch: usize,
    /// Take part in leader election (cron, pruning, depth gauges).
    pub leader: bool,
    pub leader_lease: Duration,
    /// How often the maintenance loop runs (cron granularity).
    pub maintenance_tick: Duration,
    pub retention: Retention,
    pub prune_interval: Duration,
    pub gauge_interval: Duration,
    /// Give the worker a small connection pool of its own (queues + 4
    /// connections) for claims, results, heartbeats and maintenance, so they
    /// never wait behind the application for a connection. Handlers still
    /// use the application's pool.
    pub dedicated_pool: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: default_worker_id(),
            queues: Vec::new(),
            default_concurrency: 16,
            claim_batch: 256,
            prefetch: None,
            poll_interval: Duration::from_millis(250),
            min_poll_interval: Duration::from_millis(2),
            lease: Duration::from_secs(30),
            heartbeat_interval: None,
            rescue_interval: None,
            shutdown_grace: Duration::from_secs(25),
            retry: RetryPolicy::default(),
            completion_batch: 512,
            leader: true,
            leader_lease: Duration::from_secs(15),
            maintenance_tick: Duration::from_secs(1),
            retention: Retention::default(),
            prune_interval: Duration::from_secs(60),
            gauge_interval: Duration::from_secs(10),
            dedicated_pool: true,
        }
    }
}

impl WorkerConfig {
    /// Parses `kalei worker --queues`: `analysis=8,spectrum,default=4`
    /// (a queue without `=n` gets `default_concurrency`, filled in at start).
    pub fn parse_queues(spec: &str) -> StoreResult<Vec<QueueConfig>> {
        let mut out = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, n) = match part.split_once('=') {
                Some((name, n)) => {
                    let n: usize = n.trim().parse().map_err(|_| {
                        StoreError::Other(format!("bad concurrency in queue spec `{part}`"))
                    })?;
                    (name.trim(), n)
                }
                None => (part, 0),
            };
            if name.is_empty() {
                return Err(StoreError::Other(format!("empty queue name in `{spec}`")));
            }
            out.push(QueueConfig {
                name: name.to_string(),
                concurrency: n,
            });
        }
        Ok(out)
    }

    fn heartbeat_every(&self) -> Duration {
        self.heartbeat_interval
            .unwrap_or(self.lease / 3)
            .max(Duration::from_millis(10))
    }

    fn rescue_every(&self) -> Duration {
        self.rescue_interval
            .unwrap_or(self.lease / 2)
            .max(Duration::from_millis(10))
    }
}

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_string());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// What a graceful shutdown did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Jobs that finished during the grace period (any outcome).
    pub finished_in_grace: usize,
    /// Claimed jobs handed back to `available` (unstarted or aborted).
    pub handed_back: usize,
}

/// A configured worker; [`start`](Worker::start) runs it in the background.
pub struct Worker {
    jobs: Jobs,
    registry: Registry,
    config: WorkerConfig,
    scheduler: Option<Scheduler>,
}

impl Worker {
    pub fn new(jobs: Jobs, registry: Registry, config: WorkerConfig) -> Self {
        Self {
            jobs,
            registry,
            config,
            scheduler: None,
        }
    }

    /// Cron schedules, ticked by whichever worker holds the leader lease.
    pub fn with_scheduler(mut self, scheduler: Scheduler) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    /// Starts the loops on the current Tokio runtime.
    pub fn start(self) -> WorkerHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        let mut config = self.config;
        if config.queues.is_empty() {
            config.queues = self
                .registry
                .queues()
                .into_iter()
                .map(|q| QueueConfig::new(q, 0))
                .collect();
        }
        for q in &mut config.queues {
            if q.concurrency == 0 {
                q.concurrency = config.default_concurrency.max(1);
            }
        }
        let (done_tx, done_rx) = mpsc::channel(config.completion_batch.max(1) * 8);
        let shared = Arc::new(Shared {
            jobs: self.jobs,
            bk: std::sync::OnceLock::new(),
            registry: self.registry,
            config,
            running: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            live: AtomicUsize::new(0),
            idle: Notify::new(),
            finished_in_grace: AtomicUsize::new(0),
            stop: stop_rx,
            _stop_tx: stop_tx.clone(),
            done_tx: Mutex::new(Some(done_tx)),
        });
        let supervisor = tokio::spawn(supervise(shared.clone(), done_rx, self.scheduler));
        WorkerHandle {
            stop: stop_tx,
            supervisor,
            id: shared.config.id.clone(),
        }
    }
}

/// A running worker. Dropping it without [`shutdown`](Self::shutdown) detaches
/// it: the loops run until the runtime stops.
pub struct WorkerHandle {
    stop: Arc<watch::Sender<bool>>,
    supervisor: JoinHandle<ShutdownReport>,
    id: String,
}

impl WorkerHandle {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Graceful shutdown (see the module docs); resolves when it is complete.
    pub async fn shutdown(self) -> ShutdownReport {
        let _ = self.stop.send(true);
        self.supervisor.await.unwrap_or_default()
    }

    /// Runs until `signal` resolves, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> ShutdownReport {
        signal.await;
        self.shutdown().await
    }

    /// A receiver that turns `true` when shutdown starts (for other tasks).
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

struct RunningJob {
    token: String,
    abort: Option<AbortHandle>,
}

struct Shared {
    jobs: Jobs,
    /// The worker's own pool for its bookkeeping (see
    /// [`WorkerConfig::dedicated_pool`]); set before any loop starts.
    bk: std::sync::OnceLock<Db>,
    registry: Registry,
    config: WorkerConfig,
    /// Claimed jobs not yet handed to the completer: id → lease.
    running: Mutex<HashMap<String, RunningJob>>,
    /// Lease tokens with jobs still `running` in the database (refcounts).
    tokens: Mutex<HashMap<String, usize>>,
    /// Job tasks alive (decremented when a task ends or is aborted).
    live: AtomicUsize,
    idle: Notify,
    finished_in_grace: AtomicUsize,
    stop: watch::Receiver<bool>,
    /// Keeps the stop channel open even if the handle is dropped (detached).
    _stop_tx: Arc<watch::Sender<bool>>,
    done_tx: Mutex<Option<mpsc::Sender<Done>>>,
}

impl Shared {
    fn bk_db(&self) -> &Db {
        self.bk.get().unwrap_or(self.jobs.db())
    }
    fn now(&self) -> i64 {
        self.jobs.now_ms()
    }
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
    fn add_token(&self, token: &str, n: usize) {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        *t.entry(token.to_string()).or_default() += n;
    }
    fn release_token(&self, token: &str) {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get_mut(token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.remove(token);
            }
        }
    }
}

/// A finished attempt on its way to the completer.
struct Done {
    id: String,
    token: String,
    queue: String,
    kind: String,
    attempt: i64,
    max_attempts: i64,
    result: JobResult,
}

async fn supervise(
    shared: Arc<Shared>,
    done_rx: mpsc::Receiver<Done>,
    scheduler: Option<Scheduler>,
) -> ShutdownReport {
    let mut stop = shared.stop.clone();
    let dedicated = if shared.config.dedicated_pool {
        dedicated_pool(shared.jobs.db(), shared.config.queues.len()).await
    } else {
        None
    };
    if let Some(db) = &dedicated {
        let _ = shared.bk.set(db.clone());
    }
    let completer = tokio::spawn(completer(shared.clone(), done_rx));
    // Heartbeats and rescue run until the very end; they stop on `bg_stop`.
    let (bg_stop_tx, bg_stop_rx) = watch::channel(false);
    let heartbeat = tokio::spawn(heartbeat_loop(shared.clone(), bg_stop_rx.clone()));
    let rescuer = tokio::spawn(rescue_loop(shared.clone(), bg_stop_rx.clone()));
    let maintenance = if shared.config.leader {
        Some(tokio::spawn(maintenance_loop(
            shared.clone(),
            scheduler,
            shared.stop.clone(),
        )))
    } else {
        None
    };
    let mut fetchers = Vec::new();
    for q in shared.config.queues.clone() {
        fetchers.push(tokio::spawn(fetch_loop(shared.clone(), q)));
    }
    tracing::info!(worker = %shared.config.id, queues = ?shared.config.queues, "job worker started");

    // Wait for the stop signal.
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            break;
        }
    }
    tracing::info!(worker = %shared.config.id, "job worker stopping");

    // 1. No more claims (fetchers hand back what they claimed after the stop).
    let mut handed_back = 0;
    for f in fetchers {
        handed_back += f.await.unwrap_or(0);
    }
    // 2. Grace for running jobs.
    let deadline = tokio::time::Instant::now() + shared.config.shutdown_grace;
    loop {
        let idle = shared.idle.notified();
        if shared.live.load(Ordering::SeqCst) == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, idle).await.is_err() {
            break;
        }
    }
    // 3. Abort the stragglers and wait until their tasks are gone.
    {
        let running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
        for r in running.values() {
            if let Some(a) = &r.abort {
                a.abort();
            }
        }
    }
    while shared.live.load(Ordering::SeqCst) > 0 {
        let idle = shared.idle.notified();
        if shared.live.load(Ordering::SeqCst) == 0 {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), idle).await;
    }
    // 4. Flush the completer.
    shared
        .done_tx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let _ = completer.await;
    // 5. Hand back the aborted jobs (a no-op for any the completer recorded).
    let leftovers: Vec<(String, String)> = {
        let running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .map(|(id, r)| (id.clone(), r.token.clone()))
            .collect()
    };
    handed_back += hand_back(&shared, &leftovers).await;
    // 6. Background loops and the leader lease.
    let _ = bg_stop_tx.send(true);
    let _ = heartbeat.await;
    let _ = rescuer.await;
    if let Some(m) = maintenance {
        let _ = m.await;
    }
    if let Some(db) = dedicated {
        db.close().await;
    }
    let report = ShutdownReport {
        finished_in_grace: shared.finished_in_grace.load(Ordering::SeqCst),
        handed_back,
    };
    tracing::info!(worker = %shared.config.id, ?report, "job worker stopped");
    report
}

/// A small pool of the worker's own on the same database, so claims,
/// results and heartbeats never queue behind the application's requests for
/// a connection (a starved heartbeat would lose leases). `None` (use the
/// shared pool) for in-memory SQLite or when connecting fails.
async fn dedicated_pool(db: &Db, queues: usize) -> Option<Db> {
    let url = db.pool().connect_options().database_url.to_string();
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = crate::db::DbOptions {
        max_connections: (queues + 4) as u32,
        ..crate::db::DbOptions::default()
    };
    match Db::connect(&url, &options).await {
        Ok(db) => Some(db),
        Err(e) => {
            tracing::warn!(error = %e, "job worker: no pool of its own, sharing the application's");
            None
        }
    }
}

/// Returns claimed jobs to `available` without counting the attempt.
async fn hand_back(shared: &Shared, jobs: &[(String, String)]) -> usize {
    if jobs.is_empty() {
        return 0;
    }
    let mut n = 0;
    let now = shared.now();
    for attempt in 0..3 {
        let result: StoreResult<usize> = async {
            let _guard = super::write_guard(shared.bk_db()).await;
            let mut conn = shared.bk_db().pool().acquire().await?;
            let mut k = 0;
            for (id, token) in jobs {
                if exec::finish(
                    &mut conn,
                    id,
                    token,
                    JobState::Available,
                    Some(now),
                    None,
                    -1,
                    now,
                )
                .await?
                {
                    k += 1;
                }
            }
            Ok(k)
        }
        .await;
        match result {
            Ok(k) => {
                n = k;
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "handing back jobs failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    for (_, token) in jobs {
        shared.release_token(token);
    }
    if n > 0 {
        ::metrics::counter!(telemetry::OUTCOMES, "queue" => "*", "kind" => "*", "outcome" => "handed_back")
            .increment(n as u64);
    }
    n
}

/// A claimed job waiting in the local buffer, with its buffer slot.
struct Buffered {
    job: ClaimedJob,
    claimed_at: i64,
    slot: OwnedSemaphorePermit,
}

/// One queue: a claimer keeps a local buffer of claimed jobs filled (up to
/// `concurrency + prefetch` claimed-but-unfinished jobs), a dispatcher starts
/// them as run permits (`concurrency`) free up. Returns how many claimed but
/// unstarted jobs it handed back at shutdown.
async fn fetch_loop(shared: Arc<Shared>, queue: QueueConfig) -> usize {
    let prefetch = shared.config.prefetch.unwrap_or(
        queue
            .concurrency
            .max(128)
            .min(shared.config.claim_batch.max(1)),
    );
    let slots = Arc::new(Semaphore::new(queue.concurrency + prefetch));
    let (buf_tx, mut buf_rx) = mpsc::unbounded_channel::<Buffered>();
    let claimer = tokio::spawn(claim_loop(
        shared.clone(),
        queue.name.clone(),
        slots.clone(),
        buf_tx,
    ));
    let run = Arc::new(Semaphore::new(queue.concurrency));
    let mut stop = shared.stop.clone();
    // Kept whole (with their slots) until the claimer has stopped.
    let mut unstarted: Vec<Buffered> = Vec::new();
    loop {
        let next = tokio::select! {
            b = buf_rx.recv() => b,
            _ = stop.changed() => None,
        };
        let Some(b) = next else { break };
        let permit = tokio::select! {
            p = run.clone().acquire_owned() => p.ok(),
            _ = stop.changed() => None,
        };
        match permit {
            Some(p) if !shared.stopping() => spawn_job(&shared, b.job, p, b.slot, b.claimed_at),
            _ => {
                unstarted.push(b);
                break;
            }
        }
    }
    // Stop: no more buffer slots (a slot freed from here on must not let the
    // claimer claim again), the claimer ends, whatever it buffered goes back.
    slots.close();
    let _ = claimer.await;
    buf_rx.close();
    while let Some(b) = buf_rx.recv().await {
        unstarted.push(b);
    }
    let pairs: Vec<(String, String)> = unstarted
        .into_iter()
        .map(|b| (b.job.id, b.job.token))
        .collect();
    hand_back(&shared, &pairs).await
}

async fn claim_loop(
    shared: Arc<Shared>,
    queue: String,
    slots: Arc<Semaphore>,
    buf: mpsc::UnboundedSender<Buffered>,
) {
    let waker = super::waker(&queue);
    let mut stop = shared.stop.clone();
    let cfg = &shared.config;
    let mut idle = cfg.min_poll_interval;
    loop {
        if shared.stopping() {
            return;
        }
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => continue,
        };
        let mut permits = vec![first];
        while permits.len() < cfg.claim_batch.max(1) {
            match slots.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        let want = permits.len();
        let token = crate::new_id();
        let now = shared.now();
        let claimed = match exec::claim(
            shared.bk_db(),
            &queue,
            want,
            &cfg.id,
            &token,
            now,
            cfg.lease.as_millis() as i64,
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(queue = %queue, error = %e, "claiming jobs failed");
                drop(permits);
                tokio::select! {
                    _ = tokio::time::sleep(cfg.poll_interval) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let got = claimed.len();
        if got > 0 {
            shared.add_token(&token, got);
            for job in claimed {
                let slot = permits.pop().expect("one slot per claimed job");
                if let Err(back) = buf.send(Buffered {
                    job,
                    claimed_at: now,
                    slot,
                }) {
                    // The dispatcher is gone (shutdown): hand it back.
                    let b = back.0;
                    hand_back(&shared, &[(b.job.id, b.job.token)]).await;
                }
            }
        }
        drop(permits);
        if got == want {
            // Possibly more waiting: claim again as soon as there is room.
            idle = cfg.min_poll_interval;
            continue;
        }
        if got > 0 {
            idle = cfg.min_poll_interval;
        }
        tokio::select! {
            _ = waker.notified() => { idle = cfg.min_poll_interval; }
            _ = tokio::time::sleep(idle) => { idle = (idle * 2).min(cfg.poll_interval); }
            _ = stop.changed() => {}
        }
    }
}

struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

fn spawn_job(
    shared: &Arc<Shared>,
    job: ClaimedJob,
    permit: OwnedSemaphorePermit,
    slot: OwnedSemaphorePermit,
    claimed_at: i64,
) {
    let _ = claimed_at;
    let wait_ms = (shared.now() - job.run_at.max(job.created_at)).max(0);
    ::metrics::histogram!(telemetry::WAIT_SECONDS, "queue" => job.queue.clone(), "kind" => job.kind.clone())
        .record(wait_ms as f64 / 1000.0);
    shared.live.fetch_add(1, Ordering::SeqCst);
    shared
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            job.id.clone(),
            RunningJob {
                token: job.token.clone(),
                abort: None,
            },
        );
    let id = job.id.clone();
    let task_shared = shared.clone();
    let handle = tokio::spawn(async move {
        let shared = task_shared;
        let _guard = LiveGuard(shared.clone());
        let _permit = permit;
        let _slot = slot;
        let ctx = JobContext {
            id: job.id.clone(),
            kind: job.kind.clone(),
            queue: job.queue.clone(),
            attempt: job.attempt.max(0) as u32,
            max_attempts: job.max_attempts.max(0) as u32,
            created_at: job.created_at,
            run_at: job.run_at,
            jobs: shared.jobs.clone(),
            shutdown: shared.stop.clone(),
        };
        let started = Instant::now();
        let result = match shared.registry.handlers.get(job.kind.as_str()) {
            None => Err(anyhow::anyhow!(
                "no handler registered for kind `{}`",
                job.kind
            )),
            Some(reg) => {
                let fut = (reg.handler)(ctx, job.payload);
                let timeout = Duration::from_millis(job.timeout_ms.max(1) as u64);
                match tokio::time::timeout(timeout, AssertUnwindSafe(fut).catch_unwind()).await {
                    Err(_) => Err(anyhow::anyhow!("timed out after {timeout:?}")),
                    Ok(Err(panic)) => Err(anyhow::anyhow!("panicked: {}", panic_message(&panic))),
                    Ok(Ok(r)) => r,
                }
            }
        };
        ::metrics::histogram!(telemetry::RUN_SECONDS, "queue" => job.queue.clone(), "kind" => job.kind.clone())
            .record(started.elapsed().as_secs_f64());
        if shared.stopping() {
            shared.finished_in_grace.fetch_add(1, Ordering::SeqCst);
        }
        let tx = shared
            .done_tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(tx) = tx {
            let done = Done {
                id: job.id.clone(),
                token: job.token.clone(),
                queue: job.queue,
                kind: job.kind,
                attempt: job.attempt,
                max_attempts: job.max_attempts,
                result,
            };
            if tx.send(done).await.is_ok() {
                shared
                    .running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&job.id);
            }
        }
    });
    if let Some(r) = shared
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&id)
    {
        r.abort = Some(handle.abort_handle());
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_string()
    }
}

async fn completer(shared: Arc<Shared>, mut rx: mpsc::Receiver<Done>) {
    let max = shared.config.completion_batch.max(1);
    let mut batch = Vec::with_capacity(max);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < max {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let mut tries = 0;
        loop {
            match flush(&shared, &batch).await {
                Ok(()) => break,
                Err(e) => {
                    tries += 1;
                    tracing::warn!(error = %e, tries, n = batch.len(), "recording job results failed");
                    if tries >= 5 {
                        // Leases will expire and the rescuer re-runs them.
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50 << tries)).await;
                }
            }
        }
        for d in batch.drain(..) {
            shared.release_token(&d.token);
        }
    }
}

async fn flush(shared: &Shared, batch: &[Done]) -> StoreResult<()> {
    let _guard = super::write_guard(shared.bk_db()).await;
    let now = shared.now();
    let mut tx = exec::begin_bookkeeping(shared.bk_db()).await?;
    let completed: Vec<(&str, &str)> = batch
        .iter()
        .filter(|d| matches!(d.result, Ok(JobOutcome::Completed)))
        .map(|d| (d.id.as_str(), d.token.as_str()))
        .collect();
    let mut outcomes: Vec<(&Done, &'static str)> = Vec::with_capacity(batch.len());
    let acked = if completed.is_empty() {
        Vec::new()
    } else {
        exec::complete_batch(&mut tx, &completed, now).await?
    };
    let acked: std::collections::HashSet<&str> = acked.iter().map(String::as_str).collect();
    for d in batch {
        let (state, run_at, error, delta, label): (
            JobState,
            Option<i64>,
            Option<String>,
            i64,
            &'static str,
        ) = match &d.result {
            Ok(JobOutcome::Completed) => {
                outcomes.push((
                    d,
                    if acked.contains(d.id.as_str()) {
                        "completed"
                    } else {
                        "lease_lost"
                    },
                ));
                continue;
            }
            Ok(JobOutcome::Snooze(after)) => (
                JobState::Scheduled,
                Some(now + after.as_millis() as i64),
                None,
                -1,
                "snoozed",
            ),
            Ok(JobOutcome::Cancel(why)) => (
                JobState::Cancelled,
                None,
                Some(format!("cancelled: {why}")),
                0,
                "cancelled",
            ),
            Ok(JobOutcome::Discard(why)) => (
                JobState::Discarded,
                None,
                Some(format!("discarded: {why}")),
                0,
                "discarded",
            ),
            Err(e) => {
                let msg = format!("attempt {}: {e:#}", d.attempt);
                if d.attempt >= d.max_attempts {
                    (JobState::Discarded, None, Some(msg), 0, "discarded")
                } else {
                    let delay = shared.config.retry.delay(d.attempt.max(1) as u32);
                    (
                        JobState::Retryable,
                        Some(now + delay.as_millis() as i64),
                        Some(msg),
                        0,
                        "retried",
                    )
                }
            }
        };
        let held = exec::finish(
            &mut tx,
            &d.id,
            &d.token,
            state,
            run_at,
            error.as_deref(),
            delta,
            now,
        )
        .await?;
        outcomes.push((d, if held { label } else { "lease_lost" }));
    }
    tx.commit().await?;
    for (d, label) in outcomes {
        if label == "retried" || label == "discarded" {
            if let Err(e) = &d.result {
                tracing::warn!(job = %d.id, kind = %d.kind, attempt = d.attempt, error = %format!("{e:#}"), "job failed");
            }
        }
        ::metrics::counter!(telemetry::OUTCOMES, "queue" => d.queue.clone(), "kind" => d.kind.clone(), "outcome" => label)
            .increment(1);
    }
    Ok(())
}

async fn heartbeat_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let every = shared.config.heartbeat_every();
    let lease_ms = shared.config.lease.as_millis() as i64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let tokens: Vec<String> = shared
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        if tokens.is_empty() {
            continue;
        }
        if let Err(e) = exec::heartbeat(shared.bk_db(), &tokens, shared.now(), lease_ms).await {
            tracing::warn!(error = %e, "job heartbeat failed");
        }
    }
}

async fn rescue_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let every = shared.config.rescue_every();
    loop {
        match exec::rescue(shared.bk_db(), shared.now()).await {
            Ok(rescued) => {
                for r in rescued {
                    tracing::warn!(queue = %r.queue, kind = %r.kind, state = %r.state, "rescued a job whose lease expired");
                    let outcome = if r.state == "discarded" {
                        "rescued_discarded"
                    } else {
                        "rescued"
                    };
                    ::metrics::counter!(telemetry::OUTCOMES, "queue" => r.queue, "kind" => r.kind, "outcome" => outcome)
                        .increment(1);
                }
            }
            Err(e) => tracing::warn!(error = %e, "job rescue failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn maintenance_loop(
    shared: Arc<Shared>,
    scheduler: Option<Scheduler>,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = &shared.config;
    let ttl_ms = cfg.leader_lease.as_millis() as i64;
    let renew_every = (cfg.leader_lease / 3).max(Duration::from_millis(10));
    let mut is_leader = false;
    let mut last_renew: Option<Instant> = None;
    let mut last_prune: Option<Instant> = None;
    let mut last_gauges: Option<Instant> = None;
    let mut gauges = telemetry::GaugeState::default();
    loop {
        if last_renew.is_none_or(|t| t.elapsed() >= renew_every) {
            match leader::try_acquire(
                shared.bk_db(),
                leader::JOBS_LEADER,
                &cfg.id,
                shared.now(),
                ttl_ms,
            )
            .await
            {
                Ok(l) => {
                    if l != is_leader {
                        tracing::info!(worker = %cfg.id, leader = l, "job leadership changed");
                    }
                    is_leader = l;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "leader election failed");
                    is_leader = false;
                }
            }
            last_renew = Some(Instant::now());
        }
        if is_leader {
            if let Some(s) = &scheduler {
                if let Err(e) = s.tick().await {
                    tracing::warn!(error = %e, "cron tick failed");
                }
            }
            if last_prune.is_none_or(|t| t.elapsed() >= cfg.prune_interval) {
                match super::admin::prune(shared.bk_db(), &cfg.retention, shared.now()).await {
                    Ok(n) if n > 0 => tracing::info!(pruned = n, "pruned finished jobs"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "pruning jobs failed"),
                }
                last_prune = Some(Instant::now());
            }
            if last_gauges.is_none_or(|t| t.elapsed() >= cfg.gauge_interval) {
                if let Err(e) = gauges.refresh(shared.bk_db(), shared.now()).await {
                    tracing::warn!(error = %e, "refreshing job gauges failed");
                }
                last_gauges = Some(Instant::now());
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.maintenance_tick) => {}
            _ = stop.changed() => break,
        }
    }
    if is_leader {
        let _ = leader::release(shared.bk_db(), leader::JOBS_LEADER, &cfg.id).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_specs_parse() {
        let q = WorkerConfig::parse_queues("analysis=8, spectrum ,default=2").unwrap();
        assert_eq!(
            q,
            vec![
                QueueConfig {
                    name: "analysis".into(),
                    concurrency: 8
                },
                QueueConfig {
                    name: "spectrum".into(),
                    concurrency: 0
                },
                QueueConfig {
                    name: "default".into(),
                    concurrency: 2
                },
            ]
        );
        assert!(WorkerConfig::parse_queues("a=x").is_err());
        assert!(WorkerConfig::parse_queues("=3").is_err());
        assert!(WorkerConfig::parse_queues("").unwrap().is_empty());
    }
}
