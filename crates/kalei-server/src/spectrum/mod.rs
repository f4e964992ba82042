//! Spectrum, first stage: the post-session and post-turn analysis jobs turn
//! each closed session into an emotional vector and each turn into an impact
//! record. They read derived columns (per-message vectors, fragment types,
//! beliefs) and decrypt only a turn's chosen reframe to score its sentiment;
//! nothing they store contains text. Excluded items are removed, and weeks
//! and months already aggregated are recomputed when an item changes.
//!
//! Later stages: [`aggregate`] (period aggregates), [`insight`] (insights
//! from aggregates, checked against the user's own text), [`periodic`] (the
//! weekly and monthly jobs and their fan-out) and [`api`] (endpoints).

pub mod aggregate;
pub mod api;
pub mod insight;
pub mod periodic;

pub use api::router;

use chrono::TimeZone;
use chrono_tz::Tz;
use kalei_analysis::Emotions;
use kalei_store::jobs::{JobOutcome, JobResult};

use crate::app::AppState;
use crate::jobs::{SessionAnalysisPayload, TurnAnalysisPayload};

/// The user's time zone (UTC when unknown).
pub async fn user_tz(state: &AppState, user_id: &str) -> Result<Tz, sqlx::Error> {
    let tz: Option<String> = sqlx::query_scalar("SELECT timezone FROM profiles WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(tz.and_then(|t| t.parse().ok()).unwrap_or(Tz::UTC))
}

/// `YYYY-MM-DD` of unix-ms `at` in `tz`.
pub fn local_date(at: i64, tz: Tz) -> String {
    tz.timestamp_millis_opt(at)
        .single()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

pub async fn analyse_session(state: &AppState, p: &SessionAnalysisPayload) -> JobResult {
    let session: Option<(i64, i64)> = sqlx::query_as(
        "SELECT started_at, excluded FROM mirror_sessions WHERE user_id = $1 AND id = $2",
    )
    .bind(&p.user_id)
    .bind(&p.session_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some((started_at, excluded)) = session else {
        return Ok(JobOutcome::Cancel("session deleted".into()));
    };
    let date = local_date(started_at, user_tz(state, &p.user_id).await?);
    if excluded != 0 {
        sqlx::query("DELETE FROM spectrum_session_vectors WHERE user_id = $1 AND session_id = $2")
            .bind(&p.user_id)
            .bind(&p.session_id)
            .execute(state.db.pool())
            .await?;
        return periodic::recompute_for(state, &p.user_id, &date).await;
    }
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT emotions, word_count FROM mirror_messages WHERE user_id = $1 AND session_id = $2",
    )
    .bind(&p.user_id)
    .bind(&p.session_id)
    .fetch_all(state.db.pool())
    .await?;
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT distortion, COUNT(*) FROM mirror_fragments WHERE user_id = $1 AND session_id = $2 GROUP BY distortion",
    )
    .bind(&p.user_id)
    .bind(&p.session_id)
    .fetch_all(state.db.pool())
    .await?;
    let vectors: Vec<Emotions> = rows
        .iter()
        .filter_map(|(e, _)| serde_json::from_str(e).ok())
        .collect();
    let mean = crate::product::mean_emotions(&vectors);
    let words: i64 = rows.iter().map(|(_, w)| w).sum();
    let counts: std::collections::BTreeMap<String, i64> = counts.into_iter().collect();
    sqlx::query(
        "INSERT INTO spectrum_session_vectors (session_id, user_id, local_date, valence, arousal, emotions, \
           distortion_counts, message_count, word_count, analysed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (session_id) DO UPDATE SET local_date = excluded.local_date, valence = excluded.valence, \
           arousal = excluded.arousal, emotions = excluded.emotions, distortion_counts = excluded.distortion_counts, \
           message_count = excluded.message_count, word_count = excluded.word_count, analysed_at = excluded.analysed_at",
    )
    .bind(&p.session_id)
    .bind(&p.user_id)
    .bind(&date)
    .bind(mean.valence as f64)
    .bind(mean.arousal as f64)
    .bind(serde_json::to_string(&mean)?)
    .bind(serde_json::to_string(&counts)?)
    .bind(rows.len() as i64)
    .bind(words)
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    periodic::recompute_for(state, &p.user_id, &date).await
}

#[derive(sqlx::FromRow)]
struct TurnFacts {
    result_sealed: Option<Vec<u8>>,
    distortions: String,
    polarity: f64,
    belief_before: Option<i64>,
    belief_after: Option<i64>,
    chosen_reframe: Option<i64>,
    saved_at: Option<i64>,
    excluded: i64,
    created_at: i64,
}

pub async fn analyse_turn(state: &AppState, p: &TurnAnalysisPayload) -> JobResult {
    let turn: Option<TurnFacts> = sqlx::query_as(
        "SELECT result_sealed, distortions, polarity, belief_before, belief_after, chosen_reframe, saved_at, \
           excluded, created_at FROM turns WHERE user_id = $1 AND id = $2",
    )
    .bind(&p.user_id)
    .bind(&p.turn_id)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(t) = turn else {
        return Ok(JobOutcome::Cancel("turn deleted".into()));
    };
    let date = local_date(t.created_at, user_tz(state, &p.user_id).await?);
    if t.excluded != 0 || t.result_sealed.is_none() {
        // Excluded, or a crisis turn (no reframes): not part of Spectrum.
        sqlx::query("DELETE FROM spectrum_turn_impacts WHERE user_id = $1 AND turn_id = $2")
            .bind(&p.user_id)
            .bind(&p.turn_id)
            .execute(state.db.pool())
            .await?;
        return periodic::recompute_for(state, &p.user_id, &date).await;
    }
    // Sentiment shift from the thought to the reframe the user chose.
    let polarity_after = match (&t.result_sealed, t.chosen_reframe) {
        (Some(sealed), Some(i)) => crate::turn::chosen_reframe_text(state, &p.user_id, sealed, i)
            .map_err(|e| anyhow::anyhow!("{}", e.detail))?
            .map(|text| kalei_analysis::analyze(&text).sentiment.polarity as f64),
        _ => None,
    };
    let types: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&t.distortions)
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d["type"].as_str().map(str::to_string))
        .collect();
    let insert = sqlx::query(
        "INSERT INTO spectrum_turn_impacts (turn_id, user_id, local_date, distortions, belief_before, belief_after, \
           polarity_before, polarity_after, saved, analysed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (turn_id) DO UPDATE SET belief_before = excluded.belief_before, belief_after = excluded.belief_after, \
           polarity_after = excluded.polarity_after, saved = excluded.saved, analysed_at = excluded.analysed_at",
    )
    .bind(&p.turn_id)
    .bind(&p.user_id)
    .bind(&date)
    .bind(serde_json::to_string(&types)?)
    .bind(t.belief_before)
    .bind(t.belief_after)
    .bind(t.polarity);
    kalei_store::bind_opt_f64(insert, polarity_after)
        .bind(t.saved_at.is_some() as i64)
        .bind(state.clock.now_ms())
        .execute(state.db.pool())
        .await?;
    periodic::recompute_for(state, &p.user_id, &date).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_dates_follow_the_zone() {
        // 2026-11-22T23:30Z is already the 23rd in Berlin.
        let at = 1_795_390_200_000;
        assert_eq!(super::local_date(at, chrono_tz::UTC), "2026-11-22");
        assert_eq!(
            super::local_date(at, chrono_tz::Europe::Berlin),
            "2026-11-23"
        );
    }
}
