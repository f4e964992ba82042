//! Job metrics (the `metrics` crate; the server installs the Prometheus
//! exporter):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `kalei_jobs_depth` | gauge | queue, state (every state; refreshed by the leader) |
//! | `kalei_jobs_oldest_due_age_seconds` | gauge | queue (age of the oldest claimable job past its `run_at`) |
//! | `kalei_jobs_wait_seconds` | histogram | queue, kind (due → claimed) |
//! | `kalei_jobs_run_seconds` | histogram | queue, kind (handler run time) |
//! | `kalei_jobs_outcomes_total` | counter | queue, kind, outcome (completed, retried, discarded, cancelled, snoozed, lease_lost, rescued, rescued_discarded, handed_back) |

use std::collections::BTreeSet;

use sqlx::Row;

use super::{JobState, CLAIMABLE_STATES_SQL};
use crate::db::Db;
use crate::error::StoreResult;

pub const DEPTH: &str = "kalei_jobs_depth";
pub const OLDEST_DUE_AGE_SECONDS: &str = "kalei_jobs_oldest_due_age_seconds";
pub const WAIT_SECONDS: &str = "kalei_jobs_wait_seconds";
pub const RUN_SECONDS: &str = "kalei_jobs_run_seconds";
pub const OUTCOMES: &str = "kalei_jobs_outcomes_total";

/// Remembers which label sets were published so a queue that drains to zero
/// reports 0 rather than its last value.
#[derive(Debug, Default)]
pub struct GaugeState {
    depth_seen: BTreeSet<(String, String)>,
    age_seen: BTreeSet<String>,
}

impl GaugeState {
    /// Reads depth per (queue, state) and the oldest due job per queue, and
    /// publishes them as gauges.
    pub async fn refresh(&mut self, db: &Db, now: i64) -> StoreResult<()> {
        let rows = sqlx::query(
            "SELECT queue, state, CAST(COUNT(*) AS BIGINT) AS n FROM jobs GROUP BY queue, state",
        )
        .fetch_all(db.pool())
        .await?;
        let mut seen = BTreeSet::new();
        for row in rows {
            let queue: String = row.try_get(0)?;
            let state: String = row.try_get(1)?;
            let n: i64 = row.try_get(2)?;
            ::metrics::gauge!(DEPTH, "queue" => queue.clone(), "state" => state.clone())
                .set(n as f64);
            seen.insert((queue, state));
        }
        for (queue, state) in self.depth_seen.difference(&seen) {
            ::metrics::gauge!(DEPTH, "queue" => queue.clone(), "state" => state.clone()).set(0.0);
        }
        // Make every state of a known queue visible, even at zero.
        let queues: BTreeSet<String> = seen.iter().map(|(q, _)| q.clone()).collect();
        for q in &queues {
            for st in JobState::ALL {
                let key = (q.clone(), st.as_str().to_string());
                if !seen.contains(&key) {
                    ::metrics::gauge!(DEPTH, "queue" => q.clone(), "state" => st.as_str()).set(0.0);
                    seen.insert(key);
                }
            }
        }
        self.depth_seen = seen;

        let rows = sqlx::query(&format!(
            "SELECT queue, CAST(MIN(run_at) AS BIGINT) AS oldest FROM jobs \
             WHERE state IN {CLAIMABLE_STATES_SQL} AND run_at <= $1 GROUP BY queue"
        ))
        .bind(now)
        .fetch_all(db.pool())
        .await?;
        let mut age_seen = BTreeSet::new();
        for row in rows {
            let queue: String = row.try_get(0)?;
            let oldest: i64 = row.try_get(1)?;
            ::metrics::gauge!(OLDEST_DUE_AGE_SECONDS, "queue" => queue.clone())
                .set((now - oldest).max(0) as f64 / 1000.0);
            age_seen.insert(queue);
        }
        for q in queues.iter().chain(self.age_seen.iter()) {
            if !age_seen.contains(q) {
                ::metrics::gauge!(OLDEST_DUE_AGE_SECONDS, "queue" => q.clone()).set(0.0);
            }
        }
        self.age_seen = age_seen;
        Ok(())
    }
}
