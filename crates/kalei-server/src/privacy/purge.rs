//! Account purge: hard-deletes a user and every row that references them.
//!
//! Driven by the live schema rather than a list of tables, so a table added
//! later is covered without touching this file: every table with a
//! `user_id` column (or a `…_user_id` one) loses the user's rows, every
//! `user_hash` column (AI usage metering) is anonymised so the cost
//! aggregates survive without the person, job payloads that name the user
//! are deleted, and finally the `users` row goes (its `ON DELETE CASCADE`s
//! catch anything left). The purge writes one `account_purged` audit event
//! that carries no user id. The per-user counters (daily caps, AI token
//! budgets) are deleted too; cached AI outputs are keyed by one-way hashes
//! and expire with the cache TTL.

use kalei_store::schema::{self, ColumnKind};

use crate::app::AppState;

/// What a stored hash of a purged or anonymised user is replaced with.
pub const ANONYMOUS: &str = "anonymous";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    pub rows_deleted: u64,
    pub rows_anonymised: u64,
}

/// Columns whose value is a user id (by naming convention).
fn names_a_user(column: &str) -> bool {
    column == "user_id" || column.ends_with("_user_id")
}

/// Deletes `user_id` and everything that references them, in one
/// transaction. Purging an account that no longer exists is a no-op.
pub async fn purge_user(state: &AppState, user_id: &str) -> anyhow::Result<PurgeReport> {
    // AI usage events are written in batches: write the user's pending ones
    // now so none lands after the purge with their hash.
    state.gateway.flush().await;
    let tables = schema::describe(&state.db).await?;
    let user_hash = state.gateway.user_hash(user_id);
    let mut report = PurgeReport::default();
    let mut tx = state.db.begin().await?;
    for (table, columns) in &tables {
        if table == "users" {
            continue;
        }
        for column in columns.iter().filter(|c| c.kind == ColumnKind::Text) {
            if names_a_user(&column.name) {
                report.rows_deleted += sqlx::query(&format!(
                    "DELETE FROM \"{table}\" WHERE \"{}\" = $1",
                    column.name
                ))
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            } else if column.name == "user_hash" {
                report.rows_anonymised += sqlx::query(&format!(
                    "UPDATE \"{table}\" SET user_hash = $1 WHERE user_hash = $2"
                ))
                .bind(ANONYMOUS)
                .bind(&user_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        }
    }
    // Jobs whose payload names the user without a `user_id` column (ids
    // are UUIDs: no LIKE wildcards in them).
    report.rows_deleted += sqlx::query("DELETE FROM jobs WHERE payload LIKE $1")
        .bind(format!("%{user_id}%"))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let users = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    report.rows_deleted += users;
    if users > 0 {
        // Evidence that a purge happened, with nothing that points back.
        sqlx::query(
            "INSERT INTO audit_events (id, user_id, kind, ip_hash, detail, created_at) \
             VALUES ($1, NULL, $2, NULL, $3, $4)",
        )
        .bind(kalei_store::new_id())
        .bind(crate::audit::AuditKind::AccountPurged.as_str())
        .bind(serde_json::json!({ "rows_deleted": report.rows_deleted }).to_string())
        .bind(state.clock.now_ms())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let now = state.clock.now_ms();
    let keys = crate::entitlements::user_counter_keys(user_id, now)
        .into_iter()
        .chain(state.gateway.user_counter_keys(user_id, now));
    for key in keys {
        if let Err(e) = state.counters.cache_delete(&key).await {
            tracing::warn!(error = %e, "could not delete a purged user's counter");
        }
    }
    metrics::counter!("account_purges_total").increment(u64::from(users > 0));
    Ok(report)
}
