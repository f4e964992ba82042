//! Per-item deletion shared by the domain modules whose items have no
//! Spectrum footprint (Gallery items, Lens goals and actions). Mirror
//! sessions and Turns delete their own derived rows and recompute Spectrum.

use crate::app::AppState;
use crate::audit::{self, AuditKind};
use crate::error::{ApiError, ApiResult};

/// Deletes the user's item `id` in one transaction: each `(table, column)`
/// in order (children first, the item's own table last, matched on its
/// `id`). 404 when the last table has no such row of this user, so
/// another user's id deletes nothing.
pub async fn delete_owned(
    state: &AppState,
    user_id: &str,
    kind: &'static str,
    steps: &[(&'static str, &'static str)],
    id: &str,
) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let mut last = 0;
    for (table, column) in steps {
        last = sqlx::query(&format!(
            "DELETE FROM {table} WHERE user_id = $1 AND {column} = $2"
        ))
        .bind(user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    if last == 0 {
        // Dropping the transaction rolls back anything a child step removed.
        return Err(ApiError::not_found(kind));
    }
    tx.commit().await?;
    audit::record(
        state,
        Some(user_id),
        AuditKind::ItemDeleted,
        None,
        serde_json::json!({ "kind": kind, "id": id }),
    )
    .await;
    Ok(())
}
