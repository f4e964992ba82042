//! The post-session and post-turn analysis jobs, run by the real worker.

use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::*;

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
        // Completions are recorded in batches: wait for the bookkeeping too.
        wait_for(&app, "SELECT COUNT(*) FROM jobs WHERE kind IN ('spectrum.session_analysis', 'spectrum.turn_analysis') AND state <> 'completed'", 0).await;
        worker.shutdown().await;
    }
);

// ---- Stage 2: weekly and monthly aggregates, insights, endpoints ----

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use kalei_server::spectrum::periodic;

fn ms(y: i32, m: u32, d: u32, h: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .timestamp_millis()
}

async fn set_plan(app: &TestApp, user_id: &str, plan: &str) {
    sqlx::query("DELETE FROM subscriptions WHERE user_id = $1")
        .bind(user_id)
        .execute(app.db.db.pool())
        .await
        .unwrap();
    if plan != "free" {
        sqlx::query("INSERT INTO subscriptions (user_id, plan, store, status, updated_at) VALUES ($1, $2, 'test', 'active', 0)")
            .bind(user_id)
            .bind(plan)
            .execute(app.db.db.pool())
            .await
            .unwrap();
    }
}

/// A closed session with its derived vector, written directly (chosen dates).
async fn put_session(
    app: &TestApp,
    user_id: &str,
    at: i64,
    date: &str,
    valence: f64,
    counts: &str,
) -> String {
    let id = kalei_store::new_id();
    sqlx::query("INSERT INTO mirror_sessions (id, user_id, status, started_at, closed_at, message_count) VALUES ($1, $2, 'closed', $3, $3, 2)")
        .bind(&id).bind(user_id).bind(at)
        .execute(app.db.db.pool()).await.unwrap();
    let emotions = json!({"valence": valence, "arousal": 0.2, "joy": valence.max(0.0), "trust": 0.0, "fear": 0.0, "surprise": 0.0,
        "sadness": (-valence).max(0.0), "disgust": 0.0, "anger": 0.0, "anticipation": 0.0});
    sqlx::query("INSERT INTO spectrum_session_vectors (session_id, user_id, local_date, valence, arousal, emotions, distortion_counts, \
                 message_count, word_count, analysed_at) VALUES ($1, $2, $3, $4, 0.2, $5, $6, 2, 30, $7)")
        .bind(&id).bind(user_id).bind(date).bind(valence).bind(emotions.to_string()).bind(counts).bind(at)
        .execute(app.db.db.pool()).await.unwrap();
    id
}

async fn put_turn(
    app: &TestApp,
    user_id: &str,
    at: i64,
    date: &str,
    before: i64,
    after: i64,
) -> String {
    let id = kalei_store::new_id();
    let sealed = app
        .app
        .cipher
        .seal_str("A thought.", &format!("turns.thought:{user_id}"));
    sqlx::query("INSERT INTO turns (id, user_id, thought_sealed, distortions, polarity, emotions, crisis_level, belief_before, belief_after, created_at) \
                 VALUES ($1, $2, $3, '[]', -0.5, '{}', 'none', $4, $5, $6)")
        .bind(&id).bind(user_id).bind(sealed).bind(before).bind(after).bind(at)
        .execute(app.db.db.pool()).await.unwrap();
    sqlx::query("INSERT INTO spectrum_turn_impacts (turn_id, user_id, local_date, distortions, belief_before, belief_after, polarity_before, \
                 polarity_after, saved, analysed_at) VALUES ($1, $2, $3, '[\"labeling\"]', $4, $5, -0.5, 0.25, 1, $6)")
        .bind(&id).bind(user_id).bind(date).bind(before).bind(after).bind(at)
        .execute(app.db.db.pool()).await.unwrap();
    id
}

async fn get_with(app: &TestApp, path: &str, token: &str, etag: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(e) = etag {
        req = req.header("if-none-match", e);
    }
    req.send().await.unwrap()
}

/// Every 6-word run of `user` (lower-cased words) that appears in `insight`.
fn quoted(user: &[&str], insight: &str) -> Vec<String> {
    let words = |t: &str| -> Vec<String> {
        t.to_lowercase()
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let have: Vec<String> = words(insight).windows(6).map(|w| w.join(" ")).collect();
    user.iter()
        .flat_map(|t| words(t).windows(6).map(|w| w.join(" ")).collect::<Vec<_>>())
        .filter(|s| have.contains(s))
        .collect()
}

api_test!(
    async fn weekly_aggregates_teaser_and_etag(app) {
        let s = app.register("weekly@example.com").await;
        let u = &s.user_id;
        // Week of Monday 2026-03-02 (UTC user), and one session the week before.
        put_session(&app, u, ms(2026, 2, 25, 10), "2026-02-25", -0.5, "{}").await;
        put_session(&app, u, ms(2026, 3, 2, 10), "2026-03-02", 0.5, r#"{"catastrophizing":2}"#).await;
        put_session(&app, u, ms(2026, 3, 3, 10), "2026-03-03", -0.5, r#"{"catastrophizing":1,"labeling":1}"#).await;
        put_turn(&app, u, ms(2026, 3, 3, 12), "2026-03-03", 80, 30).await;
        put_session(&app, u, ms(2026, 3, 9, 10), "2026-03-09", 0.9, "{}").await; // next week
        let week = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap(); // any day of the week
        periodic::run_weekly(&app.app, u, week).await.unwrap();
        // Interrupted and run again: still one row.
        periodic::run_weekly(&app.app, u, week).await.unwrap();
        assert_eq!(app.count("SELECT COUNT(*) FROM spectrum_weekly").await, 1);

        set_plan(&app, u, "prism").await;
        let res = app.get("/v1/spectrum/weekly", Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "private, max-age=60");
        let etag = res.headers()["etag"].to_str().unwrap().to_string();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["access"], "full");
        let w = &body["items"][0];
        assert_eq!(w["week_start"], "2026-03-02");
        assert_eq!(w["week_end"], "2026-03-08");
        assert_eq!(w["sessions"], 2);
        assert_eq!(w["turns"], 1);
        assert_eq!(w["vector"]["mean"]["valence"], 0.0);
        assert_eq!(w["vector"]["spread"]["valence"], 0.5);
        assert_eq!(w["patterns"][0], json!({"type": "catastrophizing", "count": 3}));
        assert_eq!(w["patterns"][1], json!({"type": "labeling", "count": 2}));
        assert_eq!(w["turn_impact"]["mean_belief_change"], -50.0);
        assert_eq!(w["turn_impact"]["mean_sentiment_shift"], 0.75);
        assert_eq!(w["landscape"].as_array().unwrap().len(), 7);
        assert_eq!(w["landscape"][0]["valence"], 0.5);
        assert_eq!(w["landscape"][2]["sessions"], 0);
        assert_eq!(w["activity"]["active_days"], 2);
        assert_eq!(w["activity"]["longest_streak_days"], 2);
        assert_eq!(w["change"]["valence"], 0.5);
        assert_eq!(w["change"]["sessions"], 1);
        assert_eq!(w["insight"]["status"], "complete");
        assert!(w["insight"]["prompt_version"].as_str().unwrap().starts_with("spectrum-weekly/"));
        let text = w["insight"]["text"].as_str().unwrap();
        assert!(text.contains("2 sessions") && text.contains("1 thought"), "{text}");
        assert!(body["next_cursor"].is_null());

        // ETag: 304 while nothing changed, a new tag once new aggregates land.
        let res = get_with(&app, "/v1/spectrum/weekly", &s.access, Some(&etag)).await;
        assert_eq!(res.status(), 304);
        assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
        periodic::run_weekly(&app.app, u, NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()).await.unwrap();
        let res = get_with(&app, "/v1/spectrum/weekly", &s.access, Some(&etag)).await;
        assert_eq!(res.status(), 200);
        assert_ne!(res.headers()["etag"].to_str().unwrap(), etag);

        // Pagination, newest first.
        let page: Value = app.get("/v1/spectrum/weekly?limit=1", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(page["items"][0]["week_start"], "2026-03-09");
        let cursor = page["next_cursor"].as_str().unwrap();
        let page: Value = app.get(&format!("/v1/spectrum/weekly?limit=1&cursor={cursor}"), Some(&s.access)).await.json().await.unwrap();
        assert_eq!(page["items"][0]["week_start"], "2026-03-02");
        assert!(page["next_cursor"].is_null());
        let res = app.get("/v1/spectrum/weekly?cursor=bogus", Some(&s.access)).await;
        problem(res, 400, "invalid_cursor").await;

        // Free plan: headline numbers and the first sentence only.
        set_plan(&app, u, "free").await;
        let body: Value = app.get("/v1/spectrum/weekly", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(body["access"], "teaser");
        let w = &body["items"][1];
        assert_eq!(w["teaser"], true);
        assert_eq!(w["sessions"], 2);
        assert!(w["vector"].is_null() && w["turn_impact"].is_null());
        assert_eq!(w["patterns"], json!([]));
        let first = w["insight"]["text"].as_str().unwrap();
        assert!(text.starts_with(first) && first.len() < text.len(), "{first}");

        // Another user sees none of it.
        let other = app.register("weekly-other@example.com").await;
        let body: Value = app.get("/v1/spectrum/weekly", Some(&other.access)).await.json().await.unwrap();
        assert_eq!(body["items"], json!([]));
    }
);

api_test!(
    async fn insights_never_quote_the_users_text(app) {
        let s = app.register("quote@example.com").await;
        // An adversarial user writes the template's own sentences, every day.
        let texts = [
            "This week you wrote 1 session and worked through 0 thoughts.",
            "What is one thing you'd like to keep doing next time?",
            "Remember to notice the small things that helped.",
            "Whatever comes next, you've already shown you can pause and reflect.",
            "There's nothing to reflect on for this week yet. Whenever you're ready, even a few lines of writing can help you notice what's going on.",
        ];
        let session: Value = app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await.json().await.unwrap();
        let sid = session["id"].as_str().unwrap().to_string();
        for t in texts {
            let res = app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": t}), Some(&s.access)).await;
            assert_eq!(res.status(), 201);
        }
        app.post(&format!("/v1/mirror/sessions/{sid}/close"), &json!({}), Some(&s.access)).await;
        kalei_server::spectrum::analyse_session(&app.app, &kalei_server::jobs::SessionAnalysisPayload {
            user_id: s.user_id.clone(), session_id: sid.clone() }).await.unwrap();
        let today = Utc::now().date_naive();
        periodic::run_weekly(&app.app, &s.user_id, today).await.unwrap();
        let (insight, status, attempts): (String, String, i64) =
            sqlx::query_as("SELECT insight, insight_status, attempts FROM spectrum_weekly")
                .fetch_one(app.db.db.pool()).await.unwrap();
        assert_eq!(status, "partial", "{insight}");
        assert_eq!(attempts, 2);
        assert!(!insight.trim().is_empty());
        assert_eq!(quoted(&texts, &insight), Vec::<String>::new(), "{insight}");

        // A user who writes nothing like it gets a complete insight.
        let calm = app.register("calm@example.com").await;
        let session: Value = app.post("/v1/mirror/sessions", &json!({}), Some(&calm.access)).await.json().await.unwrap();
        let sid = session["id"].as_str().unwrap().to_string();
        app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": "Walked the dog by the river, cold but bright."}), Some(&calm.access)).await;
        periodic::run_weekly(&app.app, &calm.user_id, today).await.unwrap();
        let status: String = sqlx::query_scalar("SELECT insight_status FROM spectrum_weekly WHERE user_id = $1")
            .bind(&calm.user_id).fetch_one(app.db.db.pool()).await.unwrap();
        assert_eq!(status, "complete");
    }
);

api_test!(
    async fn empty_weeks_get_a_friendly_insight(app) {
        let s = app.register("empty@example.com").await;
        set_plan(&app, &s.user_id, "prism").await;
        periodic::run_weekly(&app.app, &s.user_id, NaiveDate::from_ymd_opt(2026, 1, 7).unwrap()).await.unwrap();
        let body: Value = app.get("/v1/spectrum/weekly", Some(&s.access)).await.json().await.unwrap();
        let w = &body["items"][0];
        assert_eq!(w["week_start"], "2026-01-05");
        assert_eq!(w["sessions"], 0);
        assert_eq!(w["insight"]["status"], "complete");
        assert!(w["insight"]["text"].as_str().unwrap().contains("nothing to reflect on"));
        assert!(w["change"].is_null());
    }
);

api_test!(
    async fn exclusions_and_reset_change_the_aggregates(app) {
        let s = app.register("exclude@example.com").await;
        let other = app.register("exclude-other@example.com").await;
        set_plan(&app, &s.user_id, "prism").await;
        let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
        let session: Value = app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await.json().await.unwrap();
        let sid = session["id"].as_str().unwrap().to_string();
        app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": "I always mess everything up at work."}), Some(&s.access)).await;
        app.post(&format!("/v1/mirror/sessions/{sid}/close"), &json!({}), Some(&s.access)).await;
        let turn: Value = app.post("/v1/turns", &json!({"thought": "Everyone thinks I'm useless.", "belief_before": 90}), Some(&s.access)).await.json().await.unwrap();
        let tid = turn["id"].as_str().unwrap().to_string();
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_session_vectors", 1).await;
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_turn_impacts", 1).await;
        let today = Utc::now().date_naive();
        periodic::run_weekly(&app.app, &s.user_id, today).await.unwrap();
        let weekly = "SELECT sessions * 10 + turns FROM spectrum_weekly";
        assert_eq!(app.count(weekly).await, 11);

        // Someone else's ids: 404, nothing changes.
        let res = app.post("/v1/spectrum/exclusions", &json!({"session_id": sid, "excluded": true}), Some(&other.access)).await;
        problem(res, 404, "not_found").await;
        let res = app.post("/v1/spectrum/exclusions", &json!({"turn_id": tid, "excluded": true}), Some(&other.access)).await;
        problem(res, 404, "not_found").await;
        let res = app.post("/v1/spectrum/exclusions", &json!({"excluded": true}), Some(&s.access)).await;
        problem(res, 422, "validation_failed").await;

        // Excluding the session removes it from the recomputed week.
        let res = app.post("/v1/spectrum/exclusions", &json!({"session_id": sid, "excluded": true}), Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        wait_for(&app, weekly, 1).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM spectrum_session_vectors").await, 0);
        let res = app.post("/v1/spectrum/exclusions", &json!({"turn_id": tid, "excluded": true}), Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        wait_for(&app, weekly, 0).await;
        let list: Value = app.get("/v1/spectrum/exclusions", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
        let list: Value = app.get("/v1/spectrum/exclusions", Some(&other.access)).await.json().await.unwrap();
        assert_eq!(list["items"], json!([]));

        // Including it again restores it.
        app.post("/v1/spectrum/exclusions", &json!({"session_id": sid, "excluded": false}), Some(&s.access)).await;
        wait_for(&app, weekly, 10).await;

        // Reset: every derived row goes, raw entries stay.
        let res = app.post("/v1/spectrum/reset", &json!({}), Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert!(body["deleted"].as_i64().unwrap() >= 2);
        for t in ["spectrum_session_vectors", "spectrum_turn_impacts", "spectrum_weekly", "spectrum_monthly"] {
            assert_eq!(app.count(&format!("SELECT COUNT(*) FROM {t}")).await, 0, "{t}");
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM mirror_sessions").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM turns").await, 1);
        let body: Value = app.get("/v1/spectrum/weekly", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(body["items"], json!([]));
        worker.shutdown().await;
    }
);

api_test!(
    async fn monthly_is_for_prism_plus(app) {
        let s = app.register("monthly@example.com").await;
        let res = app.get("/v1/spectrum/monthly", Some(&s.access)).await;
        let body = problem(res, 402, "plan_required").await;
        assert!(body["detail"].as_str().unwrap().contains("prism_plus"));
        set_plan(&app, &s.user_id, "prism").await;
        problem(app.get("/v1/spectrum/monthly", Some(&s.access)).await, 402, "plan_required").await;

        set_plan(&app, &s.user_id, "prism_plus").await;
        put_session(&app, &s.user_id, ms(2026, 2, 3, 10), "2026-02-03", 0.4, r#"{"labeling":1}"#).await;
        put_session(&app, &s.user_id, ms(2026, 2, 20, 10), "2026-02-20", 0.2, "{}").await;
        put_turn(&app, &s.user_id, ms(2026, 2, 21, 10), "2026-02-21", 70, 40).await;
        put_session(&app, &s.user_id, ms(2026, 1, 20, 10), "2026-01-20", -0.2, "{}").await;
        let res = app.get("/v1/spectrum/monthly?month=2026-02", Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        let etag = res.headers()["etag"].to_str().unwrap().to_string();
        let m: Value = res.json().await.unwrap();
        assert_eq!(m["month"], "2026-02");
        assert_eq!(m["sessions"], 2);
        assert_eq!(m["turns"], 1);
        assert_eq!(m["landscape"].as_array().unwrap().len(), 28);
        assert_eq!(m["vector"]["mean"]["valence"], 0.3);
        assert_eq!(m["change"]["valence"], 0.5);
        assert_eq!(m["turn_impact"]["mean_belief_change"], -30.0);
        assert_eq!(m["patterns"][0]["type"], "labeling");
        assert_eq!(m["insight"]["status"], "complete");
        assert!(m["insight"]["prompt_version"].as_str().unwrap().starts_with("spectrum-monthly/"));
        assert!(m["insight"]["text"].as_str().unwrap().contains("This month"));
        assert_eq!(app.count("SELECT COUNT(*) FROM spectrum_monthly").await, 1);
        let res = get_with(&app, "/v1/spectrum/monthly?month=2026-02", &s.access, Some(&etag)).await;
        assert_eq!(res.status(), 304);

        // Default: the last complete month; bad and future months are 422.
        let m: Value = app.get("/v1/spectrum/monthly", Some(&s.access)).await.json().await.unwrap();
        let now = Utc::now().date_naive();
        let last = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap().pred_opt().unwrap();
        assert_eq!(m["month"], format!("{:04}-{:02}", last.year(), last.month()));
        problem(app.get("/v1/spectrum/monthly?month=2026-13", Some(&s.access)).await, 422, "validation_failed").await;
        problem(app.get("/v1/spectrum/monthly?month=2999-01", Some(&s.access)).await, 422, "validation_failed").await;
    }
);

api_test!(
    async fn fan_out_follows_each_users_local_week(app) {
        for (email, tz) in [("tonga@example.com", "Pacific/Tongatapu"), ("hawaii@example.com", "Pacific/Honolulu")] {
            let res = app.post("/v1/auth/register", &json!({"email": email, "password": "correct horse battery", "timezone": tz}), None).await;
            assert_eq!(res.status(), 201);
        }
        let weekly_for = |email: &'static str| format!(
            "SELECT COUNT(*) FROM jobs j JOIN users u ON u.id = j.user_id WHERE j.kind = 'spectrum.weekly' AND u.email = '{email}' \
             AND j.payload LIKE '%2026-02-23%'");
        // Sunday 12:00 UTC: already Monday 01:00 in Tonga (UTC+13), Sunday 02:00 in Hawaii (UTC-10).
        assert_eq!(periodic::fan_out(&app.app, ms(2026, 3, 1, 12)).await.unwrap(), 1);
        assert_eq!(app.count(&weekly_for("tonga@example.com")).await, 1);
        assert_eq!(app.count(&weekly_for("hawaii@example.com")).await, 0);
        // Later that Monday in Tonga: nothing new (unique key per user and ISO week).
        assert_eq!(periodic::fan_out(&app.app, ms(2026, 3, 1, 20)).await.unwrap(), 0);
        // Monday 12:00 UTC: Monday 02:00 in Hawaii, Tuesday in Tonga.
        assert_eq!(periodic::fan_out(&app.app, ms(2026, 3, 2, 12)).await.unwrap(), 1);
        assert_eq!(app.count(&weekly_for("hawaii@example.com")).await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'spectrum.monthly'").await, 0);
    }
);
