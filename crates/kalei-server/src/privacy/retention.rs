//! Retention (`[retention]`), enforced by the daily `privacy.retention`
//! job: kept records older than `anonymise_after_days` lose what ties them
//! to a person (user id, IP hash, AI user hash, free-form detail) but keep
//! what they count; records older than their type's `*_days` are deleted.
//! The same run prunes finished jobs (by `[jobs]` retention) and expired
//! idempotency records.

use std::time::Duration;

use kalei_store::jobs::{JobKind, JobOutcome, JobResult};
use serde::{Deserialize, Serialize};

use super::config::DAY_MS;
use super::purge::ANONYMOUS;
use crate::app::AppState;

/// The daily sweep (cron `retention`).
pub struct RetentionSweep;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RetentionPayload {}

impl JobKind for RetentionSweep {
    const KIND: &'static str = "privacy.retention";
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(1800);
    type Payload = RetentionPayload;
}

/// 03:40 UTC every day.
pub const SCHEDULE: &str = "0 40 3 * * *";

/// One kind of kept record: how to strip it of the person, and how to tell
/// it still points to one.
struct Rule {
    table: &'static str,
    keep_days: u32,
    anonymise: String,
    still_linked: String,
}

fn rules(state: &AppState) -> Vec<Rule> {
    let r = &state.config.retention;
    vec![
        Rule {
            table: "safety_events",
            keep_days: r.safety_events_days,
            anonymise: format!("user_id = '{ANONYMOUS}'"),
            still_linked: format!("user_id <> '{ANONYMOUS}'"),
        },
        Rule {
            table: "audit_events",
            keep_days: r.audit_events_days,
            anonymise: "user_id = NULL, ip_hash = NULL, detail = '{}'".into(),
            still_linked: "(user_id IS NOT NULL OR ip_hash IS NOT NULL OR detail <> '{}')".into(),
        },
        Rule {
            table: "ai_usage_events",
            keep_days: r.ai_usage_events_days,
            anonymise: format!("user_hash = '{ANONYMOUS}'"),
            still_linked: format!("user_hash <> '{ANONYMOUS}'"),
        },
        Rule {
            table: "analytics_events",
            keep_days: r.analytics_events_days,
            anonymise: "user_id = NULL".into(),
            still_linked: "user_id IS NOT NULL".into(),
        },
    ]
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub anonymised: u64,
    pub deleted: u64,
    pub jobs_pruned: u64,
}

/// Rows per statement, so a large backlog never holds a long write lock.
const BATCH: i64 = 1000;

/// Runs `statement` (which must bind `$1` = cutoff and `$2` = batch size)
/// until it affects fewer rows than a batch.
async fn in_batches(state: &AppState, statement: &str, cutoff: i64) -> anyhow::Result<u64> {
    let mut total = 0;
    loop {
        let n = sqlx::query(statement)
            .bind(cutoff)
            .bind(BATCH)
            .execute(state.db.pool())
            .await?
            .rows_affected();
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Applies every rule as of `now_ms` (unix ms).
pub async fn enforce(state: &AppState, now_ms: i64) -> anyhow::Result<RetentionReport> {
    let mut report = RetentionReport::default();
    let anonymise_before = now_ms - i64::from(state.config.retention.anonymise_after_days) * DAY_MS;
    for rule in rules(state) {
        let t = rule.table;
        if rule.keep_days > 0 {
            let delete_before = now_ms - i64::from(rule.keep_days) * DAY_MS;
            report.deleted += in_batches(
                state,
                &format!(
                    "DELETE FROM {t} WHERE id IN \
                     (SELECT id FROM {t} WHERE created_at < $1 LIMIT $2)"
                ),
                delete_before,
            )
            .await?;
        }
        report.anonymised += in_batches(
            state,
            &format!(
                "UPDATE {t} SET {} WHERE id IN \
                 (SELECT id FROM {t} WHERE created_at < $1 AND {} LIMIT $2)",
                rule.anonymise, rule.still_linked
            ),
            anonymise_before,
        )
        .await?;
    }
    let jobs = crate::jobs::worker_config(state, None)?.retention;
    report.jobs_pruned = kalei_store::jobs::admin::prune(&state.db, &jobs, now_ms).await?;
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now_ms - crate::http::idempotency::KEEP_MS)
        .execute(state.db.pool())
        .await?;
    tracing::info!(
        anonymised = report.anonymised,
        deleted = report.deleted,
        jobs_pruned = report.jobs_pruned,
        "retention applied"
    );
    Ok(report)
}

pub async fn run(state: &AppState) -> JobResult {
    enforce(state, state.clock.now_ms()).await?;
    Ok(JobOutcome::Completed)
}
