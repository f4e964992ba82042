//! The `encryption_keys` table: which key ids have been active for writes
//! and which were retired. Holds ids and times only, never key material.

use kalei_store::Db;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegisteredKey {
    pub id: String,
    pub first_active_at: i64,
    pub retired_at: Option<i64>,
}

/// Records that `id` is (again) the key new values are sealed with.
pub async fn register_active(db: &Db, id: &str, now_ms: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO encryption_keys (id, first_active_at, retired_at) VALUES ($1, $2, NULL) \
         ON CONFLICT (id) DO UPDATE SET retired_at = NULL",
    )
    .bind(id)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Records that no value uses `id` any more.
pub async fn mark_retired(db: &Db, id: &str, now_ms: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO encryption_keys (id, first_active_at, retired_at) VALUES ($1, $2, $2) \
         ON CONFLICT (id) DO UPDATE SET retired_at = $2",
    )
    .bind(id)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

pub async fn list(db: &Db) -> anyhow::Result<Vec<RegisteredKey>> {
    let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, first_active_at, retired_at FROM encryption_keys ORDER BY first_active_at, id",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, first_active_at, retired_at)| RegisteredKey {
            id,
            first_active_at,
            retired_at,
        })
        .collect())
}

/// Key ids that sealed values may still use.
pub async fn in_use(db: &Db) -> anyhow::Result<Vec<String>> {
    Ok(list(db)
        .await?
        .into_iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.id)
        .collect())
}
