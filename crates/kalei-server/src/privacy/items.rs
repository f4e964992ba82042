//! Per-item deletion shared by every domain module: Mirror sessions, Turns,
//! Gallery items, Lens goals and actions. Derived rows go with the item, and
//! Spectrum weeks and months the item counted toward are recomputed.

use crate::app::AppState;
use crate::audit::{self, AuditKind};
use crate::error::{ApiError, ApiResult};

/// A kind of item a user can delete.
pub struct OwnedItem {
    /// Named in the audit event.
    pub kind: &'static str,
    /// Named in the 404 detail.
    pub noun: &'static str,
    /// `(table, column)` deleted in order, matched on the item id: children
    /// first (explicit, so behaviour does not depend on cascade pragmas),
    /// the item's own table last, matched on its `id`.
    pub steps: &'static [(&'static str, &'static str)],
    /// `(table, column)` of the analysis row holding the Spectrum day the
    /// item counted toward, read before the delete to recompute that week
    /// and month after it.
    pub spectrum_day: Option<(&'static str, &'static str)>,
}

/// Deletes the user's item `id` of `item` in one transaction. 404 when the
/// item's own table has no such row of this user, so another user's id
/// deletes nothing.
pub async fn delete_owned(
    state: &AppState,
    user_id: &str,
    item: &OwnedItem,
    id: &str,
) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let analysed_day: Option<String> = match item.spectrum_day {
        Some((table, column)) => {
            sqlx::query_scalar(&format!(
                "SELECT local_date FROM {table} WHERE user_id = $1 AND {column} = $2"
            ))
            .bind(user_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let mut last = 0;
    for (table, column) in item.steps {
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
        return Err(ApiError::not_found(item.noun));
    }
    tx.commit().await?;
    if let Some(day) = analysed_day {
        crate::spectrum::periodic::recompute_for(state, user_id, &day)
            .await
            .map_err(ApiError::internal)?;
    }
    audit::record(
        state,
        Some(user_id),
        AuditKind::ItemDeleted,
        None,
        serde_json::json!({ "kind": item.kind, "id": id }),
    )
    .await;
    Ok(())
}
