//! Metering: one `ai_usage_events` row per attempt (remote HTTP attempts,
//! local generations, cache hits, budget denials), written off the request
//! path by a background task in batched transactions. The row holds a user
//! hash, never a user id or any text.

use std::time::Duration;

use kalei_store::Db;
use tokio::sync::{mpsc, oneshot};

use crate::prompts::PromptRevision;

#[derive(Debug, Clone)]
pub(crate) struct UsageEvent {
    pub call_id: String,
    pub attempt: i64,
    pub user_hash: String,
    pub feature: &'static str,
    pub target: String,
    pub provider: String,
    pub model: String,
    pub prompt_version: String,
    pub config_hash: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_nanos: Option<i64>,
    pub latency_ms: i64,
    pub provider_ms: i64,
    pub outcome: &'static str,
    pub streamed: bool,
    pub created_at: i64,
}

pub(crate) enum Msg {
    Event(Box<UsageEvent>),
    Flush(oneshot::Sender<()>),
}

const COLS: &str = "id, call_id, attempt, user_hash, feature, target, provider, model, prompt_version, \
config_hash, tokens_in, tokens_out, cost_nanos, latency_ms, provider_ms, outcome, streamed, created_at";
const NCOLS: usize = 18;
const BATCH: usize = 200;

pub(crate) fn spawn_writer(db: Db, capacity: usize) -> mpsc::Sender<Msg> {
    let (tx, mut rx) = mpsc::channel::<Msg>(capacity);
    tokio::spawn(async move {
        let mut batch: Vec<UsageEvent> = Vec::with_capacity(BATCH);
        let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(m) = next.take() {
                match m {
                    Msg::Event(e) => batch.push(*e),
                    Msg::Flush(w) => waiters.push(w),
                }
                if batch.len() >= BATCH {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if !batch.is_empty() {
                write(&db, &batch).await;
                batch.clear();
            }
            for w in waiters.drain(..) {
                let _ = w.send(());
            }
        }
    });
    tx
}

async fn write(db: &Db, events: &[UsageEvent]) {
    let mut attempt = 0;
    loop {
        match insert(db, events).await {
            Ok(()) => {
                metrics::counter!("kalei_ai_usage_events_written_total")
                    .increment(events.len() as u64);
                return;
            }
            Err(e) if attempt < 2 => {
                attempt += 1;
                tracing::warn!(target: "kalei_ai", error = %e, "writing ai_usage_events failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => {
                metrics::counter!("kalei_ai_usage_events_dropped_total")
                    .increment(events.len() as u64);
                tracing::error!(target: "kalei_ai", error = %e, n = events.len(), "dropping ai_usage_events");
                return;
            }
        }
    }
}

async fn insert(db: &Db, events: &[UsageEvent]) -> Result<(), sqlx::Error> {
    let mut sql = format!("INSERT INTO ai_usage_events ({COLS}) VALUES ");
    for i in 0..events.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..NCOLS {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", i * NCOLS + c + 1));
        }
        sql.push(')');
    }
    let mut q = sqlx::query(&sql);
    for e in events {
        q = q
            .bind(kalei_store::new_id())
            .bind(e.call_id.clone())
            .bind(e.attempt)
            .bind(e.user_hash.clone())
            .bind(e.feature.to_string())
            .bind(e.target.clone())
            .bind(e.provider.clone())
            .bind(e.model.clone())
            .bind(e.prompt_version.clone())
            .bind(e.config_hash.clone())
            .bind(e.tokens_in)
            .bind(e.tokens_out)
            .bind(e.cost_nanos)
            .bind(e.latency_ms)
            .bind(e.provider_ms)
            .bind(e.outcome.to_string())
            .bind(e.streamed as i64)
            .bind(e.created_at);
    }
    let mut tx = db.begin().await.map_err(|e| match e {
        kalei_store::StoreError::Database(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    })?;
    q.execute(&mut *tx).await?;
    tx.commit().await
}

/// Records each prompt revision (first activation time wins).
pub(crate) async fn register_prompts<'a>(
    db: &Db,
    revisions: impl Iterator<Item = &'a PromptRevision>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    for r in revisions {
        sqlx::query(
            "INSERT INTO prompt_revisions (name, version, text, activated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(r.name.to_string())
        .bind(r.version.clone())
        .bind(r.text.clone())
        .bind(now_ms)
        .execute(db.pool())
        .await?;
    }
    Ok(())
}
