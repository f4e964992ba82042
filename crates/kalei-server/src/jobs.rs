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

use crate::app::AppState;

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
