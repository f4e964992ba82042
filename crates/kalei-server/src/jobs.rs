//! Background work of the server: which job handlers exist, which cron
//! schedules run, and how the worker is configured. `kalei serve --role all`
//! and `kalei worker` both start it through [`start_worker`].
//!
//! Domain modules add their job kinds here (payloads carry ids, never user
//! text; see `kalei_store::jobs`).

use std::time::Duration;

use kalei_store::jobs::{
    JobKind, JobOutcome, Registry, Retention, Scheduler, Worker, WorkerConfig, WorkerHandle,
};
use serde::{Deserialize, Serialize};

use sqlx::{Any, Transaction};

use crate::app::AppState;
use crate::error::ApiResult;

/// Deletes idempotency records past their 24-hour replay window.
pub struct PruneIdempotencyKeys;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct NoPayload {}

impl JobKind for PruneIdempotencyKeys {
    const KIND: &'static str = "maintenance.prune_idempotency_keys";
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(300);
    type Payload = NoPayload;
}

/// Post-session analysis for Spectrum (payload: ids only). Enqueued in the
/// same transaction that closes the session; handled by the Spectrum module.
pub struct SessionAnalysis;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionAnalysisPayload {
    pub user_id: String,
    pub session_id: String,
}

impl JobKind for SessionAnalysis {
    const KIND: &'static str = "spectrum.session_analysis";
    const QUEUE: &'static str = "analysis";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(60);
    type Payload = SessionAnalysisPayload;
    fn unique_key(p: &SessionAnalysisPayload) -> Option<String> {
        Some(format!("session-analysis:{}", p.session_id))
    }
    fn user_id(p: &SessionAnalysisPayload) -> Option<String> {
        Some(p.user_id.clone())
    }
}

/// Post-turn analysis for Spectrum, enqueued when a turn is created and
/// again when it is saved (belief after, chosen reframe).
pub struct TurnAnalysis;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnAnalysisPayload {
    pub user_id: String,
    pub turn_id: String,
    /// `created` or `saved`.
    pub event: String,
}

impl JobKind for TurnAnalysis {
    const KIND: &'static str = "spectrum.turn_analysis";
    const QUEUE: &'static str = "analysis";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(60);
    type Payload = TurnAnalysisPayload;
    fn unique_key(p: &TurnAnalysisPayload) -> Option<String> {
        Some(format!("turn-analysis:{}:{}", p.turn_id, p.event))
    }
    fn user_id(p: &TurnAnalysisPayload) -> Option<String> {
        Some(p.user_id.clone())
    }
}

pub async fn enqueue_session_analysis(
    state: &AppState,
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    session_id: &str,
) -> ApiResult<()> {
    state
        .jobs
        .enqueue_tx::<SessionAnalysis>(
            tx,
            &SessionAnalysisPayload {
                user_id: user_id.into(),
                session_id: session_id.into(),
            },
        )
        .await?;
    Ok(())
}

pub async fn enqueue_turn_analysis(
    state: &AppState,
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    turn_id: &str,
    event: &str,
) -> ApiResult<()> {
    state
        .jobs
        .enqueue_tx::<TurnAnalysis>(
            tx,
            &TurnAnalysisPayload {
                user_id: user_id.into(),
                turn_id: turn_id.into(),
                event: event.into(),
            },
        )
        .await?;
    Ok(())
}

/// Every handler of the server.
pub fn registry(state: &AppState) -> Registry {
    let mut registry = Registry::new();
    let s = state.clone();
    registry.register::<PruneIdempotencyKeys, _, _>(move |_ctx, _payload| {
        let s = s.clone();
        async move {
            let cutoff = s.clock.now_ms() - crate::http::idempotency::KEEP_MS;
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(cutoff)
                .execute(s.db.pool())
                .await?;
            Ok(JobOutcome::Completed)
        }
    });
    let s = state.clone();
    registry.register::<SessionAnalysis, _, _>(move |_ctx, payload| {
        let s = s.clone();
        async move { crate::spectrum::analyse_session(&s, &payload).await }
    });
    let s = state.clone();
    registry.register::<TurnAnalysis, _, _>(move |_ctx, payload| {
        let s = s.clone();
        async move { crate::spectrum::analyse_turn(&s, &payload).await }
    });
    let s = state.clone();
    registry.register::<crate::privacy::deletion::AccountPurge, _, _>(move |_ctx, payload| {
        let s = s.clone();
        async move { crate::privacy::deletion::run_purge(&s, &payload).await }
    });
    let s = state.clone();
    registry.register::<crate::privacy::retention::RetentionSweep, _, _>(move |_ctx, _payload| {
        let s = s.clone();
        async move { crate::privacy::retention::run(&s).await }
    });
    let s = state.clone();
    registry.register::<crate::keys::reseal::ResealColumns, _, _>(move |ctx, payload| {
        let s = s.clone();
        async move { crate::keys::reseal::run(&s, &ctx, &payload).await }
    });
    crate::spectrum::periodic::register(&mut registry, state);
    crate::briefs::generate::register(&mut registry, state);
    crate::notifications::weekly::register(&mut registry, state);
    registry
}

/// Every cron schedule of the server (ticked by the leader only).
pub fn scheduler(state: &AppState) -> anyhow::Result<Scheduler> {
    let mut scheduler = Scheduler::new(state.jobs.clone());
    scheduler.add::<PruneIdempotencyKeys>(
        "prune-idempotency-keys",
        "0 17 * * * *",
        NoPayload {},
    )?;
    scheduler.add::<crate::privacy::retention::RetentionSweep>(
        "retention",
        crate::privacy::retention::SCHEDULE,
        crate::privacy::retention::RetentionPayload {},
    )?;
    crate::spectrum::periodic::schedule(&mut scheduler)?;
    crate::briefs::generate::schedule(&mut scheduler)?;
    Ok(scheduler)
}

/// The worker configuration from `[jobs]` and, for `kalei worker`, `--queues`.
pub fn worker_config(state: &AppState, queues: Option<&str>) -> anyhow::Result<WorkerConfig> {
    let c = &state.config.jobs;
    let spec = queues.filter(|q| !q.trim().is_empty()).unwrap_or(&c.queues);
    Ok(WorkerConfig {
        queues: if spec.trim().is_empty() {
            Vec::new() // every queue a handler is registered for
        } else {
            WorkerConfig::parse_queues(spec).map_err(|e| {
                anyhow::anyhow!("invalid configuration: jobs.queues / --queues: {e}")
            })?
        },
        default_concurrency: c.concurrency,
        lease: Duration::from_secs(c.lease_secs),
        shutdown_grace: Duration::from_secs(c.shutdown_grace_secs),
        retention: Retention {
            completed: Duration::from_secs(c.completed_retention_hours * 3600),
            cancelled: Duration::from_secs(c.dead_letter_retention_days * 24 * 3600),
            discarded: Duration::from_secs(c.dead_letter_retention_days * 24 * 3600),
        },
        ..WorkerConfig::default()
    })
}

/// Starts the workers on the current runtime.
pub fn start_worker(state: &AppState, queues: Option<&str>) -> anyhow::Result<WorkerHandle> {
    let worker = Worker::new(
        state.jobs.clone(),
        registry(state),
        worker_config(state, queues)?,
    )
    .with_scheduler(scheduler(state)?);
    Ok(worker.start())
}
