//! The post-session and post-turn analysis jobs, run by the real worker.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::*;

async fn wait_for(app: &TestApp, sql: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.count(sql).await != want {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {sql} = {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

api_test!(
    async fn closed_sessions_and_saved_turns_become_vectors(app) {
        let s = app.register("spectrum@example.com").await;
        let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
        let session: Value = app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await.json().await.unwrap();
        let sid = session["id"].as_str().unwrap();
        for text in ["I always mess everything up at work.", "Then again, the walk home was lovely and calm."] {
            let res = app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": text}), Some(&s.access)).await;
            assert_eq!(res.status(), 201);
        }
        app.post(&format!("/v1/mirror/sessions/{sid}/close"), &json!({}), Some(&s.access)).await;
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_session_vectors", 1).await;
        let (count, words, distortions): (i64, i64, String) =
            sqlx::query_as("SELECT message_count, word_count, distortion_counts FROM spectrum_session_vectors")
                .fetch_one(app.db.db.pool()).await.unwrap();
        assert_eq!(count, 2);
        assert!(words >= 14);
        assert!(distortions.contains("overgeneralization"), "{distortions}");

        let turn: Value = app.post("/v1/turns", &json!({"thought": "Everyone thinks I'm useless.", "belief_before": 90}), Some(&s.access)).await.json().await.unwrap();
        let tid = turn["id"].as_str().unwrap();
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_turn_impacts", 1).await;
        app.post(&format!("/v1/turns/{tid}/save"), &json!({"chosen_reframe": 0, "belief_after": 30}), Some(&s.access)).await;
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_turn_impacts WHERE saved = 1 AND belief_after = 30", 1).await;
        let (before, after): (f64, Option<f64>) = sqlx::query_as("SELECT polarity_before, polarity_after FROM spectrum_turn_impacts")
            .fetch_one(app.db.db.pool()).await.unwrap();
        assert!(after.is_some_and(|a| a > before), "the chosen reframe reads kinder than the thought ({before} → {after:?})");
        let jobs_left = app.count("SELECT COUNT(*) FROM jobs WHERE kind LIKE 'spectrum.%' AND state <> 'completed'").await;
        assert_eq!(jobs_left, 0);
        worker.shutdown().await;
    }
);
