//! Spectrum done-when cases not covered in `spectrum.rs`: local week
//! boundaries far east and west of UTC, monthly recomputation after an
//! exclusion and a reset, insights against a user who writes the same
//! template sentences every day (Mirror and Turns, weekly and monthly), and
//! a weekly run interrupted halfway and restarted.

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use kalei_server::jobs::SessionAnalysisPayload;
use kalei_server::spectrum::{self, periodic};
use kalei_store::jobs::{Worker, WorkerConfig};
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::*;

fn ms(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .timestamp_millis()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

async fn register_in(app: &TestApp, email: &str, tz: &str) -> Session {
    let res = app
        .post(
            "/v1/auth/register",
            &json!({"email": email, "password": "correct horse battery", "timezone": tz}),
            None,
        )
        .await;
    assert_eq!(res.status(), 201, "register {email}");
    let body: Value = res.json().await.unwrap();
    Session {
        user_id: body["user"]["id"].as_str().unwrap().to_string(),
        access: body["access_token"].as_str().unwrap().to_string(),
        refresh: body["refresh_token"].as_str().unwrap().to_string(),
    }
}

async fn set_plan(app: &TestApp, user_id: &str, plan: &str) {
    sqlx::query("INSERT INTO subscriptions (user_id, plan, store, status, updated_at) VALUES ($1, $2, 'test', 'active', 0)")
        .bind(user_id)
        .bind(plan)
        .execute(app.db.db.pool())
        .await
        .unwrap();
}

/// A closed Mirror session written through the API, then moved to `at`
/// (session and messages), as if it had been written then.
async fn session_at(app: &TestApp, s: &Session, at: i64, texts: &[&str]) -> String {
    let session: Value = app
        .post("/v1/mirror/sessions", &json!({}), Some(&s.access))
        .await
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap().to_string();
    for t in texts {
        let res = app
            .post(
                "/v1/mirror/messages",
                &json!({"session_id": sid, "content": t}),
                Some(&s.access),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let res = app
        .post(
            &format!("/v1/mirror/sessions/{sid}/close"),
            &json!({}),
            Some(&s.access),
        )
        .await;
    assert_eq!(res.status(), 200);
    sqlx::query("UPDATE mirror_sessions SET started_at = $1, closed_at = $1 WHERE id = $2")
        .bind(at)
        .bind(&sid)
        .execute(app.db.db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE mirror_messages SET created_at = $1 WHERE session_id = $2")
        .bind(at)
        .bind(&sid)
        .execute(app.db.db.pool())
        .await
        .unwrap();
    sid
}

/// A Turn written through the API, then moved to `at`.
async fn turn_at(app: &TestApp, s: &Session, at: i64, thought: &str) -> String {
    let res = app
        .post(
            "/v1/turns",
            &json!({"thought": thought, "belief_before": 80}),
            Some(&s.access),
        )
        .await;
    assert_eq!(res.status(), 201);
    let turn: Value = res.json().await.unwrap();
    let tid = turn["id"].as_str().unwrap().to_string();
    sqlx::query("UPDATE turns SET created_at = $1 WHERE id = $2")
        .bind(at)
        .bind(&tid)
        .execute(app.db.db.pool())
        .await
        .unwrap();
    tid
}

async fn analyse(app: &TestApp, user_id: &str, session_id: &str) {
    spectrum::analyse_session(
        &app.app,
        &SessionAnalysisPayload {
            user_id: user_id.into(),
            session_id: session_id.into(),
        },
    )
    .await
    .unwrap();
}

/// Lower-cased words, as the insight check splits them.
fn words(t: &str) -> Vec<String> {
    t.to_lowercase()
        .replace('’', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Every 6-word run of the user's `texts` that also appears in `insight`.
fn quoted(texts: &[&str], insight: &str) -> Vec<String> {
    let have: Vec<String> = words(insight).windows(6).map(|w| w.join(" ")).collect();
    texts
        .iter()
        .flat_map(|t| words(t).windows(6).map(|w| w.join(" ")).collect::<Vec<_>>())
        .filter(|s| have.contains(s))
        .collect()
}

async fn local_dates(app: &TestApp, user_id: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT local_date FROM spectrum_session_vectors WHERE user_id = $1 ORDER BY local_date",
    )
    .bind(user_id)
    .fetch_all(app.db.db.pool())
    .await
    .unwrap()
}

/// (week_start, sessions, ["date x sessions" of the busy days]) per week of the feed.
async fn feed_weeks(app: &TestApp, s: &Session) -> Vec<(String, i64, Vec<String>)> {
    let body: Value = app
        .get("/v1/spectrum/weekly", Some(&s.access))
        .await
        .json()
        .await
        .unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let busy = w["landscape"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["sessions"].as_i64().unwrap() > 0)
                .map(|d| format!("{}x{}", d["date"].as_str().unwrap(), d["sessions"]))
                .collect();
            (
                w["week_start"].as_str().unwrap().to_string(),
                w["sessions"].as_i64().unwrap(),
                busy,
            )
        })
        .collect()
}

api_test!(
    async fn week_boundaries_follow_utc_plus_13_and_utc_minus_10(app) {
        let tonga = register_in(&app, "tonga-week@example.com", "Pacific/Tongatapu").await; // UTC+13
        let hawaii = register_in(&app, "hawaii-week@example.com", "Pacific/Honolulu").await; // UTC-10
        // Four instants around the weeks of Monday 2026-03-02 and Monday 2026-03-09:
        let instants = [
            ms(2026, 3, 1, 11, 30), // Tonga Mon 03-02 00:30 | Hawaii Sun 03-01 01:30
            ms(2026, 3, 2, 9, 30),  // Tonga Mon 03-02 22:30 | Hawaii Sun 03-01 23:30
            ms(2026, 3, 8, 10, 30), // Tonga Sun 03-08 23:30 | Hawaii Sun 03-08 00:30
            ms(2026, 3, 8, 11, 30), // Tonga Mon 03-09 00:30 | Hawaii Sun 03-08 01:30
        ];
        for s in [&tonga, &hawaii] {
            set_plan(&app, &s.user_id, "prism").await;
            for at in instants {
                let sid = session_at(&app, s, at, &["Walked along the harbour and felt calm."]).await;
                analyse(&app, &s.user_id, &sid).await;
            }
            for monday in [day(2026, 2, 23), day(2026, 3, 2), day(2026, 3, 9)] {
                periodic::run_weekly(&app.app, &s.user_id, monday).await.unwrap();
            }
        }
        assert_eq!(local_dates(&app, &tonga.user_id).await, ["2026-03-02", "2026-03-02", "2026-03-08", "2026-03-09"]);
        assert_eq!(local_dates(&app, &hawaii.user_id).await, ["2026-03-01", "2026-03-01", "2026-03-08", "2026-03-08"]);

        // The feed: sessions per local week, and on which local day.
        let s = |x: &str| x.to_string();
        assert_eq!(feed_weeks(&app, &tonga).await, vec![
            (s("2026-03-09"), 1, vec![s("2026-03-09x1")]),
            (s("2026-03-02"), 3, vec![s("2026-03-02x2"), s("2026-03-08x1")]),
            (s("2026-02-23"), 0, vec![]),
        ]);
        assert_eq!(feed_weeks(&app, &hawaii).await, vec![
            (s("2026-03-09"), 0, vec![]),
            (s("2026-03-02"), 2, vec![s("2026-03-08x2")]),
            (s("2026-02-23"), 2, vec![s("2026-03-01x2")]),
        ]);
    }
);

api_test!(
    async fn a_sentence_written_every_day_never_reaches_an_insight(app) {
        // Far from UTC, so a local day's writing sits on two UTC dates: the
        // check must read the local week, not the UTC one.
        let s = register_in(&app, "every-day@example.com", "Pacific/Tongatapu").await;
        set_plan(&app, &s.user_id, "prism_plus").await;
        // Each day the same sentences the templates themselves write, in
        // Mirror and as a Turn, with the case and punctuation changed.
        let texts = [
            "What is one thing you'd like to keep doing next time?",
            "REMEMBER to notice the small things that helped!!",
            "whatever comes next, you’ve already shown you can pause and reflect",
            "The thinking pattern that came up most often was jumping to conclusions.",
        ];
        let thought = "Reframing seemed to loosen the grip of difficult thoughts.";
        let mut written: Vec<&str> = texts.to_vec();
        written.push(thought);
        for d in 0..28 {
            // Local 00:30 every day of February 2026 in Tonga = 11:30 UTC the day before.
            let at = ms(2026, 1, 31, 11, 30) + d * 86_400_000;
            let sid = session_at(&app, &s, at, &texts).await;
            analyse(&app, &s.user_id, &sid).await;
            turn_at(&app, &s, at + 60_000, thought).await;
        }
        let mut insights = Vec::new();
        for monday in [day(2026, 2, 2), day(2026, 2, 9), day(2026, 2, 16), day(2026, 2, 23)] {
            periodic::run_weekly(&app.app, &s.user_id, monday).await.unwrap();
        }
        let weekly: Vec<(String, String)> = sqlx::query_as(
            "SELECT insight, insight_status FROM spectrum_weekly WHERE user_id = $1 ORDER BY week_start")
            .bind(&s.user_id).fetch_all(app.db.db.pool()).await.unwrap();
        assert_eq!(weekly.len(), 4);
        insights.extend(weekly);
        let m: Value = app.get("/v1/spectrum/monthly?month=2026-02", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(m["sessions"], 28);
        insights.push((m["insight"]["text"].as_str().unwrap().to_string(), m["insight"]["status"].as_str().unwrap().to_string()));
        for (insight, status) in &insights {
            assert!(!insight.trim().is_empty());
            assert_eq!(quoted(&written, insight), Vec::<String>::new(), "{insight}");
            // The template would have quoted at least its closing question.
            assert_eq!(status, "partial", "{insight}");
        }
        // The numbers survive the stripping.
        assert!(insights[0].0.contains("This week you wrote 7 sessions"), "{}", insights[0].0);
    }
);

api_test!(
    async fn exclusion_and_reset_change_an_aggregated_month(app) {
        let s = register_in(&app, "month-exclude@example.com", "UTC").await;
        set_plan(&app, &s.user_id, "prism_plus").await;
        let first = session_at(&app, &s, ms(2026, 2, 10, 9, 0), &["I always mess everything up at work."]).await;
        session_at(&app, &s, ms(2026, 2, 12, 9, 0), &["A quiet evening with a good book."]).await;
        // The analysis jobs enqueued by closing run now, with the dates in place.
        let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_session_vectors WHERE local_date LIKE '2026-02-%'", 2).await;
        let month = "SELECT sessions FROM spectrum_monthly WHERE month = '2026-02'";
        let week = "SELECT sessions FROM spectrum_weekly WHERE week_start = '2026-02-09'";
        let m: Value = app.get("/v1/spectrum/monthly?month=2026-02", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(m["sessions"], 2);
        let overgeneralising = m["patterns"].as_array().unwrap().iter().any(|p| p["type"] == "overgeneralization");
        assert!(overgeneralising, "{m}");
        periodic::run_weekly(&app.app, &s.user_id, day(2026, 2, 9)).await.unwrap();
        assert_eq!(app.count(week).await, 2);

        // Leaving the first session out recomputes the week and the month.
        let res = app.post("/v1/spectrum/exclusions", &json!({"session_id": first, "excluded": true}), Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        wait_for(&app, month, 1).await;
        wait_for(&app, week, 1).await;
        let m: Value = app.get("/v1/spectrum/monthly?month=2026-02", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(m["sessions"], 1);
        assert!(!m["patterns"].as_array().unwrap().iter().any(|p| p["type"] == "overgeneralization"), "{m}");

        // Back in, then a reset: the month is recomputed from nothing.
        app.post("/v1/spectrum/exclusions", &json!({"session_id": first, "excluded": false}), Some(&s.access)).await;
        wait_for(&app, month, 2).await;
        wait_for(&app, "SELECT COUNT(*) FROM jobs WHERE state NOT IN ('completed', 'cancelled', 'discarded') AND kind LIKE 'spectrum.%' AND kind <> 'spectrum.fan_out'", 0).await;
        let res = app.post("/v1/spectrum/reset", &json!({}), Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(app.count("SELECT COUNT(*) FROM spectrum_monthly").await, 0);
        let m: Value = app.get("/v1/spectrum/monthly?month=2026-02", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(m["sessions"], 0);
        assert_eq!(m["patterns"], json!([]));
        assert_eq!(app.count("SELECT COUNT(*) FROM mirror_sessions").await, 2);
        worker.shutdown().await;
    }
);

api_test!(
    async fn a_weekly_run_interrupted_halfway_completes_once_on_restart(app) {
        let mut users = Vec::new();
        for i in 0..6 {
            let s = register_in(&app, &format!("interrupted-{i}@example.com"), "UTC").await;
            let sid = session_at(&app, &s, ms(2026, 3, 3 + i as u32 % 4, 18, 0), &["Long day at work, then a calm walk home."]).await;
            analyse(&app, &s.user_id, &sid).await;
            users.push(s);
        }
        // Monday 2026-03-09: the week of 03-02 has ended for everyone.
        assert_eq!(periodic::fan_out(&app.app, ms(2026, 3, 9, 6, 0)).await.unwrap(), 6);
        let jobs: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, user_id FROM jobs WHERE kind = 'spectrum.weekly' ORDER BY user_id")
            .fetch_all(app.db.db.pool()).await.unwrap();
        assert_eq!(jobs.len(), 6);
        // A worker died halfway: three jobs had stored their week but were
        // never marked done (their lease has long expired); three never started.
        for (id, user_id) in &jobs[..3] {
            periodic::run_weekly(&app.app, user_id, day(2026, 3, 2)).await.unwrap();
            sqlx::query("UPDATE jobs SET state = 'running', attempt = 1, attempted_at = $1, attempted_by = 'crashed-worker', \
                         lease_token = 'lost', lease_expires_at = $1 WHERE id = $2")
                .bind(ms(2026, 3, 9, 6, 1)).bind(id)
                .execute(app.db.db.pool()).await.unwrap();
        }
        let before: Vec<(String, String)> = sqlx::query_as(
            "SELECT user_id, insight FROM spectrum_weekly ORDER BY user_id")
            .fetch_all(app.db.db.pool()).await.unwrap();
        assert_eq!(before.len(), 3);
        // The hourly fan-out repeats while the jobs are pending: nothing new.
        assert_eq!(periodic::fan_out(&app.app, ms(2026, 3, 9, 7, 5)).await.unwrap(), 0);

        // Restart: the rescuer hands the stale jobs back and all six complete.
        // Only the spectrum queue: the analysis jobs of the setup are done.
        let config = WorkerConfig {
            queues: WorkerConfig::parse_queues("spectrum").unwrap(),
            rescue_interval: Some(Duration::from_millis(50)),
            ..kalei_server::jobs::worker_config(&app.app, None).unwrap()
        };
        let worker = Worker::new(app.app.jobs.clone(), kalei_server::jobs::registry(&app.app), config).start();
        wait_for(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'spectrum.weekly' AND state = 'completed'", 6).await;
        worker.shutdown().await;
        assert_eq!(app.count("SELECT COUNT(*) FROM spectrum_weekly").await, 6);
        assert_eq!(app.count("SELECT COUNT(DISTINCT user_id) FROM spectrum_weekly WHERE week_start = '2026-03-02'").await, 6);
        assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'spectrum.weekly'").await, 6);
        // The rerun wrote the same insight again, not a second one.
        for (user_id, insight) in &before {
            let now: String = sqlx::query_scalar("SELECT insight FROM spectrum_weekly WHERE user_id = $1")
                .bind(user_id).fetch_one(app.db.db.pool()).await.unwrap();
            assert_eq!(&now, insight);
        }
        for s in &users {
            let body: Value = app.get("/v1/spectrum/weekly", Some(&s.access)).await.json().await.unwrap();
            assert_eq!(body["items"].as_array().unwrap().len(), 1);
            assert_eq!(body["items"][0]["sessions"], 1);
        }
        assert_eq!(periodic::fan_out(&app.app, ms(2026, 3, 9, 8, 5)).await.unwrap(), 0);
    }
);
