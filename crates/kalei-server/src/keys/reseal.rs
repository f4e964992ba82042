//! The `keys.reseal` job: re-seals every stored value that is not on the
//! active key. It walks each sealed column in id order, reading only value
//! headers, and re-seals stale rows one batch per transaction. Progress is
//! the data itself (a re-sealed value carries the new key id), so a run that
//! is interrupted, retried or duplicated simply skips what is done.

use std::time::Duration;

use kalei_store::jobs::{JobContext, JobKind, JobOutcome, JobResult};
use kalei_store::Db;
use serde::{Deserialize, Serialize};

use super::columns::{SealedColumn, SEALED_COLUMNS};
use super::usage::heads_after;
use crate::app::AppState;
use crate::crypto::Cipher;

pub struct ResealColumns;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResealPayload {
    /// The key every value should end up on (the active key after rotate).
    pub key_id: String,
}

impl JobKind for ResealColumns {
    const KIND: &'static str = "keys.reseal";
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: u32 = 10;
    /// A large database takes a while; the walk stops early at shutdown.
    const TIMEOUT: Duration = Duration::from_secs(3600);
    type Payload = ResealPayload;
}

/// What one walk did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ResealReport {
    /// Values examined (headers read).
    pub scanned: u64,
    /// Values re-sealed with the active key.
    pub resealed: u64,
    /// Values that could not be opened (wrong key, altered, moved): left as they are.
    pub failed: u64,
    /// The walk stopped early because the worker is shutting down.
    pub interrupted: bool,
}

/// The job handler.
pub async fn run(state: &AppState, ctx: &JobContext, payload: &ResealPayload) -> JobResult {
    // This process may not have noticed the rotation yet.
    state.cipher.reload(&state.db, state.clock.now_ms()).await?;
    let cipher = state.cipher.current();
    if cipher.active_key() != payload.key_id {
        // Retried with backoff: the key file or configuration with the new
        // key has not reached this worker yet.
        anyhow::bail!(
            "the active key here is `{}`, not `{}` yet",
            cipher.active_key(),
            payload.key_id
        );
    }
    let report = reseal_all(&state.db, &cipher, || ctx.is_shutting_down()).await?;
    tracing::info!(
        key = %payload.key_id,
        scanned = report.scanned,
        resealed = report.resealed,
        failed = report.failed,
        interrupted = report.interrupted,
        "re-encryption walk"
    );
    if report.interrupted {
        return Ok(JobOutcome::Snooze(Duration::from_secs(1)));
    }
    if report.failed > 0 {
        anyhow::bail!(
            "{} value(s) could not be opened and still use an old key (see `kalei keys status`)",
            report.failed
        );
    }
    Ok(JobOutcome::Completed)
}

/// Re-seals every value of every sealed column that `cipher`'s active key
/// did not seal. `stop` is checked between batches.
pub async fn reseal_all(
    db: &Db,
    cipher: &Cipher,
    stop: impl Fn() -> bool,
) -> anyhow::Result<ResealReport> {
    let mut report = ResealReport::default();
    for column in SEALED_COLUMNS {
        let mut after = String::new();
        loop {
            if stop() {
                report.interrupted = true;
                return Ok(report);
            }
            let batch = heads_after(db, column, &after).await?;
            let Some(last) = batch.last() else { break };
            after = last.id.clone();
            report.scanned += batch.len() as u64;
            let stale: Vec<_> = batch
                .iter()
                .filter(|h| h.key_id != cipher.active_key())
                .collect();
            if stale.is_empty() {
                continue;
            }
            let mut tx = db.begin().await?;
            for head in stale {
                match reseal_one(&mut tx, column, cipher, &head.id, &head.user_id).await? {
                    true => report.resealed += 1,
                    false => report.failed += 1,
                }
            }
            tx.commit().await?;
        }
    }
    Ok(report)
}

/// Re-seals one value; `false` when it cannot be opened. The update only
/// applies if the value is still the one that was read, so a concurrent
/// write is never overwritten with older text.
async fn reseal_one(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    column: &SealedColumn,
    cipher: &Cipher,
    id: &str,
    user_id: &str,
) -> anyhow::Result<bool> {
    let select = format!(
        "SELECT {} FROM {} WHERE id = $1",
        column.column, column.table
    );
    let Some(Some(old)): Option<Option<Vec<u8>>> = sqlx::query_scalar(&select)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(true); // deleted or cleared meanwhile: nothing left to re-seal
    };
    let aad = column.aad(user_id);
    let Ok(plain) = cipher.open(&old, &aad) else {
        tracing::error!(
            table = column.table,
            column = column.column,
            row = id,
            "a sealed value cannot be opened with the loaded keys; left as it is"
        );
        return Ok(false);
    };
    let update = format!(
        "UPDATE {table} SET {col} = $1 WHERE id = $2 AND {col} = $3",
        table = column.table,
        col = column.column
    );
    sqlx::query(&update)
        .bind(cipher.seal(&plain, &aad))
        .bind(id)
        .bind(old)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}
