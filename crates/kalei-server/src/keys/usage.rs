//! Which key sealed which stored value, read from the first bytes of each
//! value only (`crypto::HEADER_MAX`), batch by batch in id order.

use std::collections::BTreeMap;

use kalei_store::Db;
use serde::Serialize;

use super::columns::{SealedColumn, SEALED_COLUMNS};
use crate::crypto::{key_id_of_header, HEADER_MAX};

pub const BATCH: i64 = 500;
/// Reported for a value whose header cannot be parsed.
pub const MALFORMED: &str = "(malformed)";

/// One row's header: its id, owner and the key id that sealed it.
#[derive(Debug, Clone)]
pub struct SealedHead {
    pub id: String,
    pub user_id: String,
    pub key_id: String,
}

/// The next `BATCH` non-null values of `column` after row id `after`.
pub async fn heads_after(
    db: &Db,
    column: &SealedColumn,
    after: &str,
) -> anyhow::Result<Vec<SealedHead>> {
    // substr works on BLOB (SQLite) and BYTEA (Postgres) alike, in bytes.
    let sql = format!(
        "SELECT id, user_id, substr({col}, 1, {HEADER_MAX}) FROM {table} \
         WHERE id > $1 AND {col} IS NOT NULL ORDER BY id LIMIT {BATCH}",
        col = column.column,
        table = column.table,
    );
    let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(&sql)
        .bind(after)
        .fetch_all(db.pool())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, user_id, head)| SealedHead {
            id,
            user_id,
            key_id: key_id_of_header(&head)
                .map(str::to_string)
                .unwrap_or_else(|_| MALFORMED.to_string()),
        })
        .collect())
}

/// Values per key id in one column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnUsage {
    pub table: &'static str,
    pub column: &'static str,
    pub keys: BTreeMap<String, u64>,
}

pub async fn column_usage(db: &Db, column: &SealedColumn) -> anyhow::Result<ColumnUsage> {
    let mut keys = BTreeMap::new();
    let mut after = String::new();
    loop {
        let batch = heads_after(db, column, &after).await?;
        let Some(last) = batch.last() else { break };
        after = last.id.clone();
        for head in &batch {
            *keys.entry(head.key_id.clone()).or_insert(0) += 1;
        }
    }
    Ok(ColumnUsage {
        table: column.table,
        column: column.column,
        keys,
    })
}

/// Usage of every sealed column.
pub async fn all_usage(db: &Db) -> anyhow::Result<Vec<ColumnUsage>> {
    let mut out = Vec::with_capacity(SEALED_COLUMNS.len());
    for column in SEALED_COLUMNS {
        out.push(column_usage(db, column).await?);
    }
    Ok(out)
}

/// Values per key id over all columns.
pub fn totals(usage: &[ColumnUsage]) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for column in usage {
        for (key, n) in &column.keys {
            *total.entry(key.clone()).or_insert(0) += n;
        }
    }
    total
}
