//! Product events (`analytics_events`): what happened, never what was
//! written. Recorded only while the user's `analytics` consent is granted.
//! Properties are small scalars (counts, flags); no user text and no ids of
//! the user's content, so an anonymised event cannot be joined back to them.

use serde_json::{Map, Value};

use crate::app::AppState;
use crate::privacy::consents::{self, Purpose};

/// Event names, one place so reports can rely on them.
pub mod event {
    pub const MIRROR_SESSION_CLOSED: &str = "mirror_session_closed";
    pub const TURN_CREATED: &str = "turn_created";
    pub const TURN_SAVED: &str = "turn_saved";
    pub const LENS_ACTION_COMPLETED: &str = "lens_action_completed";
}

/// A scalar property value (numbers and flags only, by construction).
pub enum Prop {
    Int(i64),
    Flag(bool),
}

/// Records `name` for `user_id` if they consented to analytics. Failures
/// are logged, never raised: an event must not fail the user's request.
pub async fn record(state: &AppState, user_id: &str, name: &'static str, props: &[(&str, Prop)]) {
    match consents::granted(state, user_id, Purpose::Analytics).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(
                event = name,
                code = e.code,
                "analytics consent check failed"
            );
            return;
        }
    }
    let properties: Map<String, Value> = props
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Prop::Int(n) => Value::from(*n),
                Prop::Flag(b) => Value::from(*b),
            };
            ((*k).to_string(), v)
        })
        .collect();
    let result = sqlx::query(
        "INSERT INTO analytics_events (id, user_id, name, properties, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kalei_store::new_id())
    .bind(user_id)
    .bind(name)
    .bind(Value::Object(properties).to_string())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, event = name, "could not record analytics event");
    }
}
