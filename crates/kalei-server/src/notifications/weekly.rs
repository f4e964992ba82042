//! "Your week is ready": offered when a week's brief is generated, decided
//! by the weekly brief notification job (preferences, quiet hours, devices),
//! and delivered by one push delivery job per device.
//!
//! At most one per user and week: the `notifications` row is unique on
//! (user, kind, week) and outlives the jobs, and each job carries a unique
//! key, so regenerations, the verification pass and restarts never send a
//! second push.

use std::time::Duration;

use chrono::NaiveDate;
use kalei_store::jobs::{JobKind, JobOutcome, JobResult, NewJob, Registry};
use serde::{Deserialize, Serialize};

use super::push::{PushError, PushMessage};
use super::quiet::QuietHours;
use crate::app::AppState;
use crate::briefs::cadence;

/// `notifications.kind` of the weekly brief push.
pub const WEEKLY_BRIEF_READY: &str = "weekly_brief_ready";

/// Decides whether and when the weekly brief push goes out.
pub struct WeeklyBriefNotification;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationPayload {
    pub user_id: String,
    pub notification_id: String,
}

impl JobKind for WeeklyBriefNotification {
    const KIND: &'static str = "notifications.weekly_brief";
    const QUEUE: &'static str = "notifications";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(60);
    type Payload = NotificationPayload;
    fn unique_key(p: &NotificationPayload) -> Option<String> {
        Some(format!("weekly-brief-notification:{}", p.notification_id))
    }
    fn user_id(p: &NotificationPayload) -> Option<String> {
        Some(p.user_id.clone())
    }
}

/// Sends one notification to one device through the configured [`super::push::Push`].
pub struct PushDelivery;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryPayload {
    pub user_id: String,
    pub notification_id: String,
    pub device_id: String,
}

impl JobKind for PushDelivery {
    const KIND: &'static str = "notifications.push";
    const QUEUE: &'static str = "notifications";
    const MAX_ATTEMPTS: u32 = 8;
    const TIMEOUT: Duration = Duration::from_secs(60);
    type Payload = DeliveryPayload;
    fn unique_key(p: &DeliveryPayload) -> Option<String> {
        Some(format!("push:{}:{}", p.notification_id, p.device_id))
    }
    fn user_id(p: &DeliveryPayload) -> Option<String> {
        Some(p.user_id.clone())
    }
}

pub fn register(registry: &mut Registry, state: &AppState) {
    let s = state.clone();
    registry.register::<WeeklyBriefNotification, _, _>(move |_ctx, p| {
        let s = s.clone();
        async move { decide(&s, &p, s.clock.now_ms()).await }
    });
    let s = state.clone();
    registry.register::<PushDelivery, _, _>(move |_ctx, p| {
        let s = s.clone();
        async move { deliver(&s, &p).await }
    });
}

fn quiet_hours(state: &AppState) -> QuietHours {
    // Validated at start; the fallback only guards a hand-built config.
    state
        .config
        .push
        .quiet_hours()
        .unwrap_or_else(|| QuietHours::parse("22:00", "08:00").expect("valid default"))
}

async fn prefs(state: &AppState, user_id: &str) -> anyhow::Result<crate::preferences::Preferences> {
    crate::preferences::load(state, user_id)
        .await
        .map_err(|e| anyhow::anyhow!("loading preferences: {}", e.detail))
}

/// Whether the user already saw the week's brief (then a push is pointless).
async fn brief_seen(state: &AppState, user_id: &str, week: &str) -> anyhow::Result<bool> {
    let seen: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM weekly_briefs WHERE user_id = $1 AND week_start = $2 \
         AND (first_shown_at IS NOT NULL OR opened_at IS NOT NULL)",
    )
    .bind(user_id)
    .bind(week)
    .fetch_optional(state.db.pool())
    .await?;
    Ok(seen.is_some())
}

/// Records and schedules the "your week is ready" notification for the
/// week starting `monday`, when the preferences offer that week and the
/// user has not seen the brief yet. Due now, or at the end of quiet hours.
/// Returns whether a new notification was scheduled.
pub async fn offer(
    state: &AppState,
    user_id: &str,
    monday: NaiveDate,
    now: i64,
) -> anyhow::Result<bool> {
    let week = crate::spectrum::aggregate::ymd(monday);
    if !cadence::allows(&prefs(state, user_id).await?, monday)
        || brief_seen(state, user_id, &week).await?
    {
        return Ok(false);
    }
    let tz = crate::spectrum::user_tz(state, user_id).await?;
    let due = quiet_hours(state).release_at(tz, now);
    let id = kalei_store::new_id();
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, user_id, kind, subject, status, created_at, due_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $6) ON CONFLICT (user_id, kind, subject) DO NOTHING",
    )
    .bind(&id)
    .bind(user_id)
    .bind(WEEKLY_BRIEF_READY)
    .bind(&week)
    .bind(now)
    .bind(due)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    let job = NewJob::of::<WeeklyBriefNotification>(&NotificationPayload {
        user_id: user_id.into(),
        notification_id: id,
    })?
    .run_at(due);
    state.jobs.insert_tx(&mut tx, job).await?;
    tx.commit().await?;
    Ok(true)
}

async fn skip(state: &AppState, id: &str, reason: &str) -> JobResult {
    sqlx::query("UPDATE notifications SET status = 'skipped', reason = $1 WHERE id = $2 AND status = 'pending'")
        .bind(reason)
        .bind(id)
        .execute(state.db.pool())
        .await?;
    Ok(JobOutcome::Completed)
}

/// The weekly brief notification job: re-checks the preferences (they may
/// have changed since the offer) and quiet hours at `now`, then hands the
/// push to one delivery job per registered device.
pub async fn decide(state: &AppState, p: &NotificationPayload, now: i64) -> JobResult {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT status, subject FROM notifications WHERE user_id = $1 AND id = $2")
            .bind(&p.user_id)
            .bind(&p.notification_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((status, week)) = row else {
        return Ok(JobOutcome::Cancel("notification deleted".into()));
    };
    if status != "pending" {
        return Ok(JobOutcome::Completed);
    }
    let Ok(monday) = NaiveDate::parse_from_str(&week, "%Y-%m-%d") else {
        return Ok(JobOutcome::Discard("bad week in notification".into()));
    };
    let prefs = prefs(state, &p.user_id).await?;
    if !prefs.weekly_brief_enabled {
        return skip(state, &p.notification_id, "disabled").await;
    }
    if !cadence::offered(&prefs.weekly_brief_frequency, monday) {
        return skip(state, &p.notification_id, "frequency").await;
    }
    if brief_seen(state, &p.user_id, &week).await? {
        return skip(state, &p.notification_id, "seen").await;
    }
    let tz = crate::spectrum::user_tz(state, &p.user_id).await?;
    let release = quiet_hours(state).release_at(tz, now);
    if release > now {
        return Ok(JobOutcome::Snooze(Duration::from_millis(
            (release - now) as u64,
        )));
    }
    let devices: Vec<String> =
        sqlx::query_scalar("SELECT id FROM push_devices WHERE user_id = $1 ORDER BY id")
            .bind(&p.user_id)
            .fetch_all(state.db.pool())
            .await?;
    if devices.is_empty() {
        return skip(state, &p.notification_id, "no_devices").await;
    }
    let jobs = devices
        .iter()
        .map(|device_id| {
            NewJob::of::<PushDelivery>(&DeliveryPayload {
                user_id: p.user_id.clone(),
                notification_id: p.notification_id.clone(),
                device_id: device_id.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut tx = state.db.begin().await?;
    state.jobs.insert_many_tx(&mut tx, &jobs).await?;
    sqlx::query("UPDATE notifications SET status = 'sent', devices = $1, sent_at = $2 WHERE id = $3 AND status = 'pending'")
        .bind(devices.len() as i64)
        .bind(now)
        .bind(&p.notification_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(JobOutcome::Completed)
}

/// Fixed copy per kind (never user text) and the client's deep-link data.
fn copy(kind: &str, subject: &str) -> Option<(&'static str, &'static str, serde_json::Value)> {
    match kind {
        WEEKLY_BRIEF_READY => Some((
            "Your week is ready",
            "Your weekly brief is waiting whenever you'd like a look back.",
            serde_json::json!({"week_of": subject}),
        )),
        _ => None,
    }
}

/// The push delivery job: one notification to one device.
pub async fn deliver(state: &AppState, p: &DeliveryPayload) -> JobResult {
    let device: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT platform, token_sealed FROM push_devices WHERE user_id = $1 AND id = $2",
    )
    .bind(&p.user_id)
    .bind(&p.device_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((platform, sealed)) = device else {
        return Ok(JobOutcome::Cancel("device removed".into()));
    };
    let notification: Option<(String, String)> =
        sqlx::query_as("SELECT kind, subject FROM notifications WHERE user_id = $1 AND id = $2")
            .bind(&p.user_id)
            .bind(&p.notification_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((kind, subject)) = notification else {
        return Ok(JobOutcome::Cancel("notification deleted".into()));
    };
    let Some((title, body, data)) = copy(&kind, &subject) else {
        return Ok(JobOutcome::Discard("unknown notification kind".into()));
    };
    let token = state
        .cipher
        .open_string(&sealed, &super::devices::token_aad(&p.user_id))
        .map_err(|e| anyhow::anyhow!("cannot open the device token: {e}"))?;
    let message = PushMessage {
        device_id: &p.device_id,
        platform: &platform,
        token: &token,
        kind: &kind,
        title,
        body,
        data,
    };
    let provider = state.push.name();
    match state.push.send(&message).await {
        Ok(()) => {
            metrics::counter!("push_deliveries_total", "provider" => provider, "outcome" => "delivered").increment(1);
            Ok(JobOutcome::Completed)
        }
        Err(PushError::Unregistered) => {
            metrics::counter!("push_deliveries_total", "provider" => provider, "outcome" => "unregistered").increment(1);
            sqlx::query("DELETE FROM push_devices WHERE user_id = $1 AND id = $2")
                .bind(&p.user_id)
                .bind(&p.device_id)
                .execute(state.db.pool())
                .await?;
            Ok(JobOutcome::Completed)
        }
        Err(e @ PushError::Retryable(_)) => {
            metrics::counter!("push_deliveries_total", "provider" => provider, "outcome" => "retry").increment(1);
            Err(e.into())
        }
    }
}
