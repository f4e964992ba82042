//! The weekly brief (overlay, dismissal, frequency, empty weeks, the
//! verification pass) and notifications (devices, webhook push, quiet
//! hours). Briefs depend on "the last complete week", so these tests run on
//! a `ManualClock` frozen at the real current time and only ever move it
//! forward (access tokens are checked against the system clock).

use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Utc};
use kalei_server::briefs::generate;
use kalei_server::spectrum::periodic;
use kalei_store::clock::ManualClock;
use kalei_store::testing::Backend;
use kalei_store::Clock;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::*;

const DAY_MS: i64 = 24 * 3600 * 1000;

async fn spawn(
    backend: Backend,
    tweak: impl FnOnce(&mut kalei_server::config::Config),
) -> Option<(TestApp, ManualClock)> {
    let clock = ManualClock::new(Utc::now().timestamp_millis());
    let app = spawn_app_with_clock(backend, Arc::new(clock.clone()), tweak).await?;
    Some((app, clock))
}

/// One test per backend with a frozen clock (see the module docs).
macro_rules! clock_test {
    (async fn $name:ident($app:ident, $clock:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: TestApp, $clock: ManualClock) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (app, clock) = spawn(Backend::Sqlite, |_| {}).await.expect("sqlite app");
                run(app, clock).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some((app, clock)) = spawn(Backend::Postgres, |_| {}).await {
                    run(app, clock).await
                }
            }
        }
    };
}

/// The Monday of the last complete week (UTC users) at the clock's time.
fn last_monday(clock: &ManualClock) -> NaiveDate {
    let today = Utc
        .timestamp_millis_opt(clock.now_ms())
        .unwrap()
        .date_naive();
    today - chrono::Duration::days(today.weekday().num_days_from_monday() as i64 + 7)
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Registers a user on the prism plan (full briefs) whose account predates
/// every week the test looks at.
async fn user(app: &TestApp, email: &str) -> Session {
    let s = app.register(email).await;
    sqlx::query("UPDATE users SET created_at = 0 WHERE id = $1")
        .bind(&s.user_id)
        .execute(app.db.db.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO subscriptions (user_id, plan, store, status, updated_at) VALUES ($1, 'prism', 'test', 'active', 0)")
        .bind(&s.user_id)
        .execute(app.db.db.pool())
        .await
        .unwrap();
    s
}

/// A closed session with its derived vector on local day `date`.
async fn session_on(app: &TestApp, user_id: &str, date: NaiveDate) {
    let id = kalei_store::new_id();
    let at = Utc
        .from_utc_datetime(&date.and_hms_opt(12, 0, 0).unwrap())
        .timestamp_millis();
    sqlx::query("INSERT INTO mirror_sessions (id, user_id, status, started_at, closed_at, message_count) VALUES ($1, $2, 'closed', $3, $3, 1)")
        .bind(&id).bind(user_id).bind(at)
        .execute(app.db.db.pool()).await.unwrap();
    let emotions = json!({"valence": 0.4, "arousal": 0.2, "joy": 0.4, "trust": 0.0, "fear": 0.0, "surprise": 0.0,
        "sadness": 0.0, "disgust": 0.0, "anger": 0.0, "anticipation": 0.0});
    sqlx::query("INSERT INTO spectrum_session_vectors (session_id, user_id, local_date, valence, arousal, emotions, distortion_counts, \
                 message_count, word_count, analysed_at) VALUES ($1, $2, $3, 0.4, 0.2, $4, '{\"catastrophizing\":2}', 1, 20, $5)")
        .bind(&id).bind(user_id).bind(ymd(date)).bind(emotions.to_string()).bind(at)
        .execute(app.db.db.pool()).await.unwrap();
}

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    res.json().await.unwrap()
}

async fn current(app: &TestApp, s: &Session) -> Value {
    json_of(app.get("/v1/briefs/current", Some(&s.access)).await, 200).await
}

async fn event(app: &TestApp, s: &Session, brief: &str, body: Value) -> Value {
    json_of(
        app.post(
            &format!("/v1/briefs/{brief}/events"),
            &body,
            Some(&s.access),
        )
        .await,
        200,
    )
    .await
}

async fn prefs_enabled(app: &TestApp, s: &Session) -> bool {
    let p = json_of(app.get("/v1/me/preferences", Some(&s.access)).await, 200).await;
    p["weekly_brief_enabled"].as_bool().unwrap()
}

clock_test!(
    async fn overlay_shows_once_and_soft_dismiss_hides_only_that_week(app, clock) {
        let s = user(&app, "overlay@example.com").await;
        let week_a = last_monday(&clock);
        session_on(&app, &s.user_id, week_a + chrono::Duration::days(1)).await;

        let first = current(&app, &s).await;
        assert_eq!(first["week_of"], ymd(week_a));
        assert_eq!(first["status"], "ready");
        assert_eq!(first["sessions"], 1);
        assert_eq!(first["show_overlay"], true);
        assert_eq!(first["top_patterns"][0]["type"], "catastrophizing");
        assert!(first["headline"].as_str().unwrap().contains("1 session"));
        let second = current(&app, &s).await;
        assert_eq!(second["show_overlay"], false, "the overlay shows once");
        assert!(second["state"]["first_shown_at"].is_string());
        assert_eq!(second["id"], first["id"]);

        let id = first["id"].as_str().unwrap();
        let after = event(&app, &s, id, json!({"type": "impression"})).await;
        assert_eq!(after["state"]["impressions"], 1);
        let after = event(&app, &s, id, json!({"type": "scroll", "scroll_depth": 0.7})).await;
        assert_eq!(after["state"]["max_scroll_depth"], 0.7);
        event(&app, &s, id, json!({"type": "scroll", "scroll_depth": 0.2})).await;
        let after = event(&app, &s, id, json!({"type": "dismiss_soft", "engagement_ms": 4000})).await;
        assert_eq!(after["state"]["dismissed"], "soft");
        assert_eq!(after["state"]["max_scroll_depth"], 0.7, "the deepest scroll is kept");
        assert_eq!(after["state"]["engagement_ms"], 4000);
        assert_eq!(after["briefs_enabled"], true);
        assert!(prefs_enabled(&app, &s).await, "a soft dismiss leaves briefs on");

        // Next week: a new brief, offered again.
        clock.advance_ms(7 * DAY_MS);
        let week_b = last_monday(&clock);
        session_on(&app, &s.user_id, week_b + chrono::Duration::days(2)).await;
        let next = current(&app, &s).await;
        assert_eq!(next["week_of"], ymd(week_b));
        assert_eq!(next["show_overlay"], true);
        assert!(next["state"]["dismissed"].is_null());
        assert_eq!(next["teaser"], false);

        // The free plan gets a teaser: first sentence, no patterns or mood.
        sqlx::query("DELETE FROM subscriptions WHERE user_id = $1").bind(&s.user_id).execute(app.db.db.pool()).await.unwrap();
        let teaser = current(&app, &s).await;
        assert_eq!(teaser["teaser"], true);
        assert_eq!(teaser["top_patterns"], json!([]));
        assert!(teaser["mean_valence"].is_null());
        sqlx::query("INSERT INTO subscriptions (user_id, plan, store, status, updated_at) VALUES ($1, 'prism', 'test', 'active', 0)")
            .bind(&s.user_id).execute(app.db.db.pool()).await.unwrap();

        // A brief dismissed before it was offered is never offered.
        clock.advance_ms(7 * DAY_MS);
        let week_c = last_monday(&clock);
        session_on(&app, &s.user_id, week_c).await;
        let opened = json_of(app.get(&format!("/v1/briefs/{}", ymd(week_c)), Some(&s.access)).await, 200).await;
        assert_eq!(opened["show_overlay"], false);
        event(&app, &s, opened["id"].as_str().unwrap(), json!({"type": "dismiss_soft"})).await;
        assert_eq!(current(&app, &s).await["show_overlay"], false);
    }
);

clock_test!(
    async fn hard_dismiss_disables_and_opening_a_brief_re_enables(app, clock) {
        let s = user(&app, "hard@example.com").await;
        let week_a = last_monday(&clock);
        session_on(&app, &s.user_id, week_a).await;
        let brief = current(&app, &s).await;
        assert_eq!(brief["show_overlay"], true);
        let id = brief["id"].as_str().unwrap().to_string();
        let after = event(&app, &s, &id, json!({"type": "dismiss_hard"})).await;
        assert_eq!(after["state"]["dismissed"], "hard");
        assert_eq!(after["briefs_enabled"], false);
        assert!(!prefs_enabled(&app, &s).await);
        // The overlay's trailing `engaged` does not undo the hard dismissal.
        let after = event(&app, &s, &id, json!({"type": "engaged", "engagement_ms": 3500})).await;
        assert_eq!(after["briefs_enabled"], false);
        assert!(!prefs_enabled(&app, &s).await);

        // Briefs are still generated and reachable, without the overlay.
        let again = current(&app, &s).await;
        assert_eq!(again["status"], "ready");
        assert_eq!(again["show_overlay"], false);
        clock.advance_ms(7 * DAY_MS);
        let week_b = last_monday(&clock);
        session_on(&app, &s.user_id, week_b).await;
        let b = current(&app, &s).await;
        assert_eq!(b["week_of"], ymd(week_b));
        assert_eq!(b["status"], "ready");
        assert_eq!(b["show_overlay"], false, "disabled: no overlay");
        assert!(!prefs_enabled(&app, &s).await, "/current never re-enables");

        // Opening a brief deliberately turns briefs back on.
        let opened = json_of(app.get(&format!("/v1/briefs/{}", ymd(week_a)), Some(&s.access)).await, 200).await;
        assert_eq!(opened["id"], id.as_str());
        assert_eq!(opened["briefs_enabled"], true);
        assert!(opened["state"]["opened_at"].is_string());
        assert!(prefs_enabled(&app, &s).await);
        // Week B was never offered, so now it is.
        assert_eq!(current(&app, &s).await["show_overlay"], true);

        // Disabled in settings: engaging with a brief (not a hard-dismissed
        // one) turns briefs back on too.
        let res = app.client.patch(app.url("/v1/me/preferences")).bearer_auth(&s.access)
            .json(&json!({"weekly_brief_enabled": false})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let after = event(&app, &s, &id, json!({"type": "engaged"})).await;
        assert_eq!(after["briefs_enabled"], false, "week A was hard-dismissed");
        let after = event(&app, &s, b["id"].as_str().unwrap(), json!({"type": "engaged"})).await;
        assert_eq!(after["briefs_enabled"], true);
        assert!(prefs_enabled(&app, &s).await);
    }
);

clock_test!(
    async fn frequency_decides_which_weeks_offer_the_overlay(app, clock) {
        let mut users = Vec::new();
        for f in ["weekly", "biweekly", "monthly", "never"] {
            let s = user(&app, &format!("{f}@example.com")).await;
            let res = app.client.patch(app.url("/v1/me/preferences")).bearer_auth(&s.access)
                .json(&json!({"weekly_brief_frequency": f})).send().await.unwrap();
            assert_eq!(res.status(), 200);
            users.push((f, s, Vec::new()));
        }
        let mut mondays = Vec::new();
        for _ in 0..9 {
            let monday = last_monday(&clock);
            mondays.push(monday);
            for (_, s, shown) in users.iter_mut() {
                session_on(&app, &s.user_id, monday).await;
                let b = current(&app, s).await;
                assert_eq!(b["week_of"], ymd(monday));
                assert_eq!(b["status"], "ready", "briefs are generated whatever the frequency");
                shown.push(b["show_overlay"].as_bool().unwrap());
            }
            clock.advance_ms(7 * DAY_MS);
        }
        for (f, _, shown) in &users {
            match *f {
                "weekly" => assert!(shown.iter().all(|&s| s)),
                "biweekly" => {
                    assert!(shown.windows(2).all(|w| w[0] != w[1]), "every other week: {shown:?}");
                }
                "monthly" => {
                    let want: Vec<bool> = mondays.iter().map(|m| m.day() <= 7).collect();
                    assert_eq!(shown, &want, "the week of each month's first Monday");
                    assert!(want.iter().any(|&w| w), "nine weeks span a first Monday");
                }
                _ => assert!(shown.iter().all(|&s| !s), "never: no overlay"),
            }
        }
    }
);

clock_test!(
    async fn empty_weeks_and_bad_requests(app, clock) {
        let s = user(&app, "quiet@example.com").await;
        let other = user(&app, "other@example.com").await;
        let brief = current(&app, &s).await;
        assert_eq!(brief["status"], "empty");
        assert_eq!(brief["sessions"], 0);
        assert_eq!(brief["show_overlay"], false, "no overlay for a week without entries");
        assert!(brief["headline"].as_str().unwrap().contains("quiet week"));
        assert!(!brief["insight"]["text"].as_str().unwrap().is_empty());

        // Older weeks by any of their dates; the week must have ended.
        let older = last_monday(&clock) - chrono::Duration::days(14);
        let b = json_of(app.get(&format!("/v1/briefs/{}", ymd(older + chrono::Duration::days(3))), Some(&s.access)).await, 200).await;
        assert_eq!(b["week_of"], ymd(older));
        let this_week = last_monday(&clock) + chrono::Duration::days(7);
        problem(app.get(&format!("/v1/briefs/{}", ymd(this_week)), Some(&s.access)).await, 422, "validation_failed").await;
        // Another user's brief, or none at all: 404.
        let id = brief["id"].as_str().unwrap();
        problem(app.get(&format!("/v1/briefs/{id}"), Some(&other.access)).await, 404, "not_found").await;
        problem(app.post(&format!("/v1/briefs/{id}/events"), &json!({"type": "impression"}), Some(&other.access)).await, 404, "not_found").await;
        problem(app.get("/v1/briefs/no-such-brief", Some(&s.access)).await, 404, "not_found").await;
        // Dates before 1970 are refused; chrono's extreme dates are not
        // briefs either way, and never a 500.
        problem(app.get("/v1/briefs/1969-12-31", Some(&s.access)).await, 422, "validation_failed").await;
        problem(app.post("/v1/briefs/1969-12-31/events", &json!({"type": "impression"}), Some(&s.access)).await, 422, "validation_failed").await;
        for far in ["-262144-01-01", "+262143-12-31", "0001-01-01", "9999-12-31"] {
            let res = app.get(&format!("/v1/briefs/{far}"), Some(&s.access)).await;
            assert!(matches!(res.status().as_u16(), 404 | 422), "{far}: {}", res.status());
            let res = app.post(&format!("/v1/briefs/{far}/events"), &json!({"type": "impression"}), Some(&s.access)).await;
            assert!(matches!(res.status().as_u16(), 404 | 422), "{far}: {}", res.status());
        }
        // A brand-new account has no complete week yet.
        let fresh = app.register("fresh@example.com").await;
        problem(app.get("/v1/briefs/current", Some(&fresh.access)).await, 404, "no_brief").await;
        problem(app.get("/v1/briefs/current", None).await, 401, "unauthorized").await;

        for (body, field) in [
            (json!({"type": "wave"}), "type"),
            (json!({"type": "scroll"}), "scroll_depth"),
            (json!({"type": "scroll", "scroll_depth": 1.5}), "scroll_depth"),
            (json!({"type": "impression", "scroll_depth": 0.5}), "scroll_depth"),
            (json!({"type": "engaged", "engagement_ms": -1}), "engagement_ms"),
        ] {
            let p = problem(app.post(&format!("/v1/briefs/{id}/events"), &body, Some(&s.access)).await, 422, "validation_failed").await;
            assert_eq!(p["errors"][0]["field"], field, "{body}");
        }
        let p = problem(app.post(&format!("/v1/briefs/{id}/events"), &json!({"type": "engaged", "extra": 1}), Some(&s.access)).await, 422, "validation_failed").await;
        assert!(p["errors"][0]["message"].as_str().unwrap().contains("unknown field"));
        let after = event(&app, &s, id, json!({"type": "impression"})).await;
        assert_eq!(after["state"]["impressions"], 1, "rejected events changed nothing");
    }
);

clock_test!(
    async fn verification_pass_regenerates_missing_and_stale_briefs(app, clock) {
        let s = user(&app, "verify@example.com").await;
        let week = last_monday(&clock);
        session_on(&app, &s.user_id, week).await;
        // What the weekly job does: aggregate, then the brief and its push.
        periodic::run_weekly(&app.app, &s.user_id, week).await.unwrap();
        generate::after_weekly(&app.app, &s.user_id, week).await.unwrap();
        assert_eq!(app.count("SELECT COUNT(*) FROM weekly_briefs").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM notifications WHERE kind = 'weekly_brief_ready'").await, 1);
        let now = clock.now_ms();
        assert_eq!(generate::verify(&app.app, now).await.unwrap(), 0, "nothing to do");

        // Missing: regenerated once.
        sqlx::query("DELETE FROM weekly_briefs").execute(app.db.db.pool()).await.unwrap();
        assert_eq!(generate::verify(&app.app, now).await.unwrap(), 1);
        assert_eq!(generate::verify(&app.app, now).await.unwrap(), 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM weekly_briefs").await, 1);
        let brief = current(&app, &s).await;
        assert_eq!(brief["sessions"], 1);
        event(&app, &s, brief["id"].as_str().unwrap(), json!({"type": "impression"})).await;

        // Stale (the aggregate was recomputed after the brief): refreshed in
        // place, keeping what the user did with it.
        session_on(&app, &s.user_id, week + chrono::Duration::days(1)).await;
        periodic::run_weekly(&app.app, &s.user_id, week).await.unwrap();
        sqlx::query("UPDATE spectrum_weekly SET computed_at = computed_at + 1000").execute(app.db.db.pool()).await.unwrap();
        assert_eq!(generate::verify(&app.app, now).await.unwrap(), 1);
        assert_eq!(generate::verify(&app.app, now).await.unwrap(), 0);
        let refreshed = current(&app, &s).await;
        assert_eq!(refreshed["id"], brief["id"]);
        assert_eq!(refreshed["sessions"], 2);
        assert_eq!(refreshed["state"]["impressions"], 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM weekly_briefs").await, 1);
        // Still one notification and one notification job for the week.
        assert_eq!(app.count("SELECT COUNT(*) FROM notifications").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'notifications.weekly_brief'").await, 1);

        // A Spectrum reset removes briefs, and the pass does not bring them back.
        let res = app.post("/v1/spectrum/reset", &json!({}), Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(app.count("SELECT COUNT(*) FROM weekly_briefs").await, 0);
        assert_eq!(generate::verify(&app.app, now).await.unwrap(), 0);
    }
);

api_test!(
    async fn devices_register_idempotently_and_stay_private(app) {
        let s = app.register("devices@example.com").await;
        let other = app.register("devices-other@example.com").await;
        let token = "4f3c9a0e8b7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3";
        let first = json_of(app.post("/v1/devices", &json!({"platform": "ios", "token": token}), Some(&s.access)).await, 201).await;
        let again = json_of(app.post("/v1/devices", &json!({"platform": "ios", "token": token}), Some(&s.access)).await, 200).await;
        assert_eq!(first["id"], again["id"]);
        json_of(app.post("/v1/devices", &json!({"platform": "web", "token": "web-subscription"}), Some(&s.access)).await, 201).await;
        let res = app.get("/v1/devices", Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(!text.contains(token), "tokens are never returned");
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
        // Stored sealed, not as text.
        let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_sealed FROM push_devices").fetch_all(app.db.db.pool()).await.unwrap();
        assert!(stored.iter().all(|t| !t.windows(token.len()).any(|w| w == token.as_bytes())));

        let id = first["id"].as_str().unwrap();
        problem(app.client.delete(app.url(&format!("/v1/devices/{id}"))).bearer_auth(&other.access).send().await.unwrap(), 404, "not_found").await;
        let theirs = json_of(app.get("/v1/devices", Some(&other.access)).await, 200).await;
        assert_eq!(theirs["items"].as_array().unwrap().len(), 0);
        for (body, field) in [
            (json!({"platform": "blackberry", "token": "x"}), "platform"),
            (json!({"platform": "ios", "token": ""}), "token"),
            (json!({"platform": "ios", "token": "a\nb"}), "token"),
        ] {
            let p = problem(app.post("/v1/devices", &body, Some(&s.access)).await, 422, "validation_failed").await;
            assert_eq!(p["errors"][0]["field"], field);
        }
        problem(app.post("/v1/devices", &json!({"platform": "ios"}), Some(&s.access)).await, 422, "validation_failed").await;
        let res = app.client.delete(app.url(&format!("/v1/devices/{id}"))).bearer_auth(&s.access).send().await.unwrap();
        assert_eq!(res.status(), 204);
        let list = json_of(app.get("/v1/devices", Some(&s.access)).await, 200).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
    }
);

// ---- Push through a webhook to a real local HTTP listener ----

#[derive(Clone, Default)]
struct Relay {
    received: Arc<Mutex<Vec<Value>>>,
    /// Answer 503 to this many requests first.
    fail_first: Arc<Mutex<usize>>,
}

async fn relay(fail_first: usize) -> (Relay, String) {
    let relay = Relay {
        fail_first: Arc::new(Mutex::new(fail_first)),
        ..Relay::default()
    };
    let r = relay.clone();
    let router = axum::Router::new().route(
        "/push",
        axum::routing::post(move |body: axum::Json<Value>| {
            let r = r.clone();
            async move {
                r.received.lock().unwrap().push(body.0);
                let mut fail = r.fail_first.lock().unwrap();
                if *fail > 0 {
                    *fail -= 1;
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (relay, url)
}

/// Quiet hours from one hour before to two hours after the clock's UTC hour.
fn quiet_around(now_ms: i64) -> (String, String, i64) {
    let now = Utc.timestamp_millis_opt(now_ms).unwrap();
    let h = now.hour() as i64;
    let start = format!("{:02}:00", (h + 23) % 24);
    let end = format!("{:02}:00", (h + 2) % 24);
    let top = now
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    (start, end, top.timestamp_millis() + 2 * 3600 * 1000)
}

async fn webhook_push_waits_for_quiet_hours_and_retries(backend: Backend) {
    let (relay, url) = relay(1).await;
    let started = Utc::now().timestamp_millis();
    let (quiet_start, quiet_end, release) = quiet_around(started);
    let Some((app, clock)) = spawn(backend, |c| {
        c.push.provider = "webhook".into();
        c.push.webhook_url = Some(url.clone());
        c.push.quiet_hours_start = quiet_start;
        c.push.quiet_hours_end = quiet_end;
    })
    .await
    else {
        return;
    };
    clock.set_ms(started);
    let s = user(&app, "push@example.com").await;
    let token = "fcm-registration-token-123";
    json_of(
        app.post(
            "/v1/devices",
            &json!({"platform": "android", "token": token}),
            Some(&s.access),
        )
        .await,
        201,
    )
    .await;
    let week = last_monday(&clock);
    session_on(&app, &s.user_id, week).await;

    // The real path: the weekly Spectrum job, then its brief and push.
    let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
    app.app
        .jobs
        .enqueue::<periodic::WeeklySpectrum>(&periodic::WeeklyPayload {
            user_id: s.user_id.clone(),
            week_start: ymd(week),
        })
        .await
        .unwrap();
    wait_for(
        &app,
        "SELECT COUNT(*) FROM weekly_briefs WHERE status = 'ready'",
        1,
    )
    .await;
    wait_for(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'notifications.weekly_brief' AND state = 'scheduled'", 1).await;
    // Inside quiet hours: scheduled for their end, in the user's zone (UTC here).
    let run_at: i64 =
        sqlx::query_scalar("SELECT run_at FROM jobs WHERE kind = 'notifications.weekly_brief'")
            .fetch_one(app.db.db.pool())
            .await
            .unwrap();
    assert_eq!(run_at, release);
    assert!(relay.received.lock().unwrap().is_empty());

    // Quiet hours end: the relay answers 503 once, the delivery is retried.
    clock.set_ms(release);
    wait_for(
        &app,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'notifications.push' AND state = 'retryable'",
        1,
    )
    .await;
    clock.advance_ms(3600 * 1000);
    wait_for(
        &app,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'notifications.push' AND state = 'completed'",
        1,
    )
    .await;
    let received = relay.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    let push = &received[1];
    assert_eq!(push["token"], token);
    assert_eq!(push["platform"], "android");
    assert_eq!(push["kind"], "weekly_brief_ready");
    assert_eq!(push["data"]["week_of"], ymd(week));
    assert_eq!(push["title"], "Your week is ready");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE status = 'sent' AND devices = 1")
            .await,
        1
    );

    // A rerun of the weekly job (or the verification pass) sends nothing new.
    generate::after_weekly(&app.app, &s.user_id, week)
        .await
        .unwrap();
    assert_eq!(generate::verify(&app.app, clock.now_ms()).await.unwrap(), 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM notifications").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'notifications.push'")
            .await,
        1
    );
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_push_waits_for_quiet_hours_and_retries_sqlite() {
    webhook_push_waits_for_quiet_hours_and_retries(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_push_waits_for_quiet_hours_and_retries_postgres() {
    webhook_push_waits_for_quiet_hours_and_retries(Backend::Postgres).await
}

clock_test!(
    async fn preferences_are_rechecked_when_the_push_is_due(app, clock) {
        let s = user(&app, "later@example.com").await;
        json_of(app.post("/v1/devices", &json!({"platform": "ios", "token": "apns-token"}), Some(&s.access)).await, 201).await;
        let week = last_monday(&clock);
        session_on(&app, &s.user_id, week).await;
        periodic::run_weekly(&app.app, &s.user_id, week).await.unwrap();
        generate::after_weekly(&app.app, &s.user_id, week).await.unwrap();
        // Turned off before the push went out: skipped, no delivery.
        let res = app.client.patch(app.url("/v1/me/preferences")).bearer_auth(&s.access)
            .json(&json!({"weekly_brief_frequency": "never"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
        // Whether or not the push was held for quiet hours, it is decided once due.
        clock.advance_ms(DAY_MS);
        wait_for(&app, "SELECT COUNT(*) FROM notifications WHERE status = 'skipped' AND reason = 'frequency'", 1).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'notifications.push'").await, 0);
        worker.shutdown().await;
    }
);
