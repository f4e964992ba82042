//! Privacy: export, account deletion and purge, per-item deletes, consents
//! (remote AI and product analytics), retention.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use kalei_store::testing::Backend;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";
const DISTORTED: &str = "I always mess everything up at work. Everyone thinks I'm useless.";
const CRISIS: &str =
    "I can't do this anymore. I want to kill myself tonight, I have the pills ready.";

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn delete_with(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestApp, email: &str) -> reqwest::Response {
    app.post(
        "/v1/auth/login",
        &json!({"email": email, "password": PASSWORD}),
        None,
    )
    .await
}

/// Lifts the free plan's daily caps for `user_id`.
async fn set_prism(app: &TestApp, user_id: &str) {
    sqlx::query(
        "INSERT INTO subscriptions (user_id, plan, store, status, updated_at) \
         VALUES ($1, 'prism_plus', 'test', 'active', 0)",
    )
    .bind(user_id)
    .execute(app.db.db.pool())
    .await
    .unwrap();
}

async fn consent(app: &TestApp, token: &str, purpose: &str, granted: bool) {
    let res = put(
        app,
        "/v1/me/consents",
        token,
        &json!({"consents": [{"purpose": purpose, "granted": granted, "version": "2026-11"}]}),
    )
    .await;
    json_of(res, 200).await;
}

/// A session with one message, closed; returns its id.
async fn write_session(app: &TestApp, token: &str, text: &str) -> String {
    let session = json_of(
        app.post("/v1/mirror/sessions", &json!({}), Some(token))
            .await,
        201,
    )
    .await;
    let sid = session["id"].as_str().unwrap().to_string();
    json_of(
        app.post(
            "/v1/mirror/messages",
            &json!({"session_id": sid, "content": text}),
            Some(token),
        )
        .await,
        201,
    )
    .await;
    json_of(
        app.post(
            &format!("/v1/mirror/sessions/{sid}/close"),
            &json!({}),
            Some(token),
        )
        .await,
        200,
    )
    .await;
    sid
}

/// A turn, saved with its first reframe; returns its id.
async fn write_turn(app: &TestApp, token: &str, thought: &str) -> String {
    let turn = json_of(
        app.post(
            "/v1/turns",
            &json!({"thought": thought, "belief_before": 80}),
            Some(token),
        )
        .await,
        201,
    )
    .await;
    let tid = turn["id"].as_str().unwrap().to_string();
    json_of(
        app.post(
            &format!("/v1/turns/{tid}/save"),
            &json!({"chosen_reframe": 0, "belief_after": 40, "include_reframe": true}),
            Some(token),
        )
        .await,
        200,
    )
    .await;
    tid
}

// ---- Export ----

api_test!(
    async fn export_holds_everything_decrypted_and_only_yours(app) {
        let s = app.register("export@example.com").await;
        let other = app.register("export-other@example.com").await;
        set_prism(&app, &s.user_id).await;
        let sid = write_session(&app, &s.access, "The quiet morning walk felt good.").await;
        let tid = write_turn(&app, &s.access, DISTORTED).await;
        let goal = json_of(app.post("/v1/lens/goals", &json!({"title": "Sleep before midnight"}), Some(&s.access)).await, 201).await;
        let gid = goal["id"].as_str().unwrap();
        json_of(app.post(&format!("/v1/lens/goals/{gid}/actions"), &json!({"title": "Phone away at 23:00"}), Some(&s.access)).await, 201).await;
        consent(&app, &s.access, "analytics", true).await;
        write_session(&app, &other.access, "Someone else's private line.").await;

        let res = app.get("/v1/me/export", Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        let disposition = res.headers()["content-disposition"].to_str().unwrap().to_string();
        assert!(disposition.starts_with("attachment; filename=\"kalei-export-"), "{disposition}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let text = res.text().await.unwrap();
        let doc: Value = serde_json::from_str(&text).expect("the export is one JSON document");
        assert_eq!(doc["format"], "kalei-export");
        assert_eq!(doc["account"]["email"], "export@example.com");
        let data = &doc["data"];
        let sessions = data["mirror_sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0]["id"], sid.as_str());
        assert!(sessions[0]["reflection"].as_str().is_some_and(|r| !r.is_empty()));
        assert_eq!(data["mirror_messages"][0]["content"], "The quiet morning walk felt good.");
        assert!(data["mirror_messages"][0]["created_at"].as_str().unwrap().ends_with('Z'));
        let turn = &data["turns"][0];
        assert_eq!(turn["id"], tid.as_str());
        assert_eq!(turn["thought"], DISTORTED);
        assert_eq!(turn["result"]["reframes"].as_array().unwrap().len(), 3, "{turn}");
        assert!(turn["distortions"].is_array(), "JSON columns are exported as JSON");
        assert_eq!(data["gallery_items"].as_array().unwrap().len(), 2);
        assert_eq!(data["lens_goals"][0]["title"], "Sleep before midnight");
        assert_eq!(data["lens_actions"][0]["title"], "Phone away at 23:00");
        assert_eq!(data["user_consents"][0]["purpose"], "analytics");
        assert_eq!(data["consent_events"].as_array().unwrap().len(), 1);
        assert_eq!(data["subscriptions"][0]["plan"], "prism_plus");
        assert!(data["audit_events"].as_array().unwrap().iter().any(|e| e["kind"] == "register"));
        assert!(data["profiles"][0]["display_name"].is_string());
        // Secrets and transient tables stay out; nobody else's rows get in.
        assert!(!text.contains("password_hash") && !text.contains("$argon2"));
        assert!(data.get("refresh_tokens").is_none() && data.get("jobs").is_none());
        assert!(!text.contains(&other.user_id));
        assert!(!text.contains("Someone else's private line."));
        // Without a token: 401 problem.
        problem(app.get("/v1/me/export", None).await, 401, "unauthorized").await;
    }
);

// ---- Consents ----

api_test!(
    async fn consents_have_defaults_history_and_validation(app) {
        let s = app.register("consent@example.com").await;
        let body = json_of(app.get("/v1/me/consents", Some(&s.access)).await, 200).await;
        let by_purpose = |body: &Value, p: &str| {
            body["items"].as_array().unwrap().iter().find(|i| i["purpose"] == p).cloned().unwrap()
        };
        assert_eq!(by_purpose(&body, "analytics")["granted"], false);
        assert_eq!(by_purpose(&body, "analytics")["source"], "default");
        assert_eq!(by_purpose(&body, "marketing")["granted"], false);
        assert_eq!(by_purpose(&body, "ai_processing_remote")["granted"], true);
        assert_eq!(body["history"], json!([]));

        let res = put(&app, "/v1/me/consents", &s.access, &json!({"consents": [
            {"purpose": "ai_processing_remote", "granted": false, "version": "2026-11"},
            {"purpose": "analytics", "granted": true, "version": "2026-11"}]})).await;
        let body = json_of(res, 200).await;
        let remote = by_purpose(&body, "ai_processing_remote");
        assert_eq!(remote["granted"], false);
        assert_eq!(remote["source"], "recorded");
        assert_eq!(remote["version"], "2026-11");
        assert!(remote["updated_at"].is_string());
        assert_eq!(body["history"].as_array().unwrap().len(), 2);
        // The same answer again is not a change.
        let res = put(&app, "/v1/me/consents", &s.access, &json!({"consents": [
            {"purpose": "analytics", "granted": true, "version": "2026-11"}]})).await;
        assert_eq!(json_of(res, 200).await["history"].as_array().unwrap().len(), 2);

        for (bad, field) in [
            (json!({"consents": [{"purpose": "telemetry", "granted": true, "version": "1"}]}), "consents[0].purpose"),
            (json!({"consents": [{"purpose": "analytics", "granted": true, "version": "1"},
                                 {"purpose": "analytics", "granted": false, "version": "1"}]}), "consents[1].purpose"),
            (json!({"consents": [{"purpose": "marketing", "granted": true, "version": " "}]}), "consents[0].version"),
            (json!({"consents": []}), "consents"),
        ] {
            let body = problem(put(&app, "/v1/me/consents", &s.access, &bad).await, 422, "validation_failed").await;
            assert_eq!(body["errors"][0]["field"], field, "{body}");
        }
        let res = put(&app, "/v1/me/consents", &s.access, &json!({"consents": [], "extra": 1})).await;
        problem(res, 422, "validation_failed").await;
        // Nothing invalid was written.
        assert_eq!(app.count("SELECT COUNT(*) FROM consent_events").await, 2);
        assert_eq!(app.count("SELECT COUNT(*) FROM user_consents WHERE purpose = 'marketing'").await, 0);
    }
);

api_test!(
    async fn analytics_events_only_with_consent_and_without_text(app) {
        let s = app.register("analytics@example.com").await;
        set_prism(&app, &s.user_id).await;
        write_turn(&app, &s.access, DISTORTED).await;
        write_session(&app, &s.access, "A line about the day.").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM analytics_events").await, 0, "no consent, no events");

        consent(&app, &s.access, "analytics", true).await;
        write_turn(&app, &s.access, DISTORTED).await;
        write_session(&app, &s.access, "A line about the day.").await;
        let goal = json_of(app.post("/v1/lens/goals", &json!({"title": "Walk"}), Some(&s.access)).await, 201).await;
        let action = json_of(app.post(&format!("/v1/lens/goals/{}/actions", goal["id"].as_str().unwrap()),
            &json!({"title": "Around the block"}), Some(&s.access)).await, 201).await;
        json_of(app.post(&format!("/v1/lens/actions/{}/complete", action["id"].as_str().unwrap()), &json!({}), Some(&s.access)).await, 200).await;
        let rows: Vec<(String, Option<String>, String)> =
            sqlx::query_as("SELECT name, user_id, properties FROM analytics_events ORDER BY name")
                .fetch_all(app.db.db.pool()).await.unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["lens_action_completed", "mirror_session_closed", "turn_created", "turn_saved"]);
        for (_, user, props) in &rows {
            assert_eq!(user.as_deref(), Some(s.user_id.as_str()));
            assert!(!props.contains("useless") && !props.contains("Around") && !props.contains(&s.user_id), "{props}");
        }

        consent(&app, &s.access, "analytics", false).await;
        write_turn(&app, &s.access, DISTORTED).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM analytics_events").await, 4, "withdrawn: no new events");
    }
);

/// An OpenAI-compatible endpoint that counts requests and always fails, so
/// the gateway falls back to `local` (the count is what matters).
async fn counting_remote() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), hits)
}

async fn remote_consent_routes_to_local(backend: Backend) {
    let (base_url, hits) = counting_remote().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.ai.targets.insert(
            "remote".into(),
            kalei_ai::config::TargetConfig::OpenaiCompatible(kalei_ai::config::RemoteTarget {
                base_url,
                api_key: None,
                model: "test-model".into(),
                provider: None,
                models: Vec::new(),
                structured_outputs: true,
                attempt_timeout_ms: None,
            }),
        );
        c.ai.routes.turn.targets = vec!["remote".into(), "local".into()];
        c.ai.resilience.max_retries = 0;
        // Failures must not open the breaker: every call should try the remote.
        c.ai.breaker.failure_threshold = 1_000;
        c.ai.cache.enabled = false;
    })
    .await
    else {
        return;
    };
    let s = app.register("remote@example.com").await;
    set_prism(&app, &s.user_id).await;
    let turn = |thought: &'static str| {
        let app = &app;
        let token = s.access.clone();
        async move {
            let res = app
                .post("/v1/turns", &json!({"thought": thought}), Some(&token))
                .await;
            json_of(res, 201).await
        }
    };
    turn("Everyone thinks I'm useless.").await;
    let granted = hits.load(Ordering::SeqCst);
    assert!(
        granted >= 1,
        "with consent (the default) the remote is tried"
    );
    turn("I always ruin everything.").await;
    let granted = {
        let now = hits.load(Ordering::SeqCst);
        assert!(
            now > granted,
            "each call tries the remote while consent holds"
        );
        now
    };

    consent(&app, &s.access, "ai_processing_remote", false).await;
    let body = turn("Nobody ever listens to me.").await;
    assert_eq!(
        body["reframes"].as_array().unwrap().len(),
        3,
        "the local engine answers"
    );
    turn("I will fail this exam for sure.").await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        granted,
        "no request reaches the remote after withdrawal"
    );

    consent(&app, &s.access, "ai_processing_remote", true).await;
    turn("Everything always goes wrong.").await;
    assert!(
        hits.load(Ordering::SeqCst) > granted,
        "granting again restores the route"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_remote_ai_consent_keeps_text_local_sqlite() {
    remote_consent_routes_to_local(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_remote_ai_consent_keeps_text_local_postgres() {
    remote_consent_routes_to_local(Backend::Postgres).await;
}

// ---- Account deletion ----

api_test!(
    async fn deletion_waits_out_the_grace_period_and_sign_in_cancels_it(app) {
        let s = app.register("grace@example.com").await;
        let before = chrono::Utc::now().timestamp_millis();
        let res = delete(&app, "/v1/me", &s.access).await;
        let body = json_of(res, 202).await;
        assert_eq!(body["status"], "scheduled");
        assert_eq!(body["grace_days"], 7);
        let purge_at = chrono::DateTime::parse_from_rfc3339(body["purge_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        assert!(purge_at >= before + 7 * 86_400_000, "{body}");
        // Every device is signed out at once.
        problem(app.get("/v1/me", Some(&s.access)).await, 401, "unauthorized").await;
        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": s.refresh}), None).await;
        problem(res, 401, "invalid_refresh_token").await;
        // The purge job names the request, not the user.
        let (job_id, payload, run_at): (String, String, i64) = sqlx::query_as(
            "SELECT id, payload, run_at FROM jobs WHERE kind = 'privacy.account_purge' AND state = 'scheduled'")
            .fetch_one(app.db.db.pool()).await.unwrap();
        assert_eq!(run_at, purge_at);
        assert!(!payload.contains(&s.user_id), "{payload}");

        // Signing in during the grace period cancels the deletion and its job.
        json_of(login(&app, "grace@example.com").await, 200).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM account_deletions").await, 0);
        let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
            .bind(&job_id).fetch_one(app.db.db.pool()).await.unwrap();
        assert_eq!(state, "cancelled");
        assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'account_deletion_cancelled'").await, 1);

        // Deleting again schedules a new request (the old job stays cancelled).
        let token = json_of(login(&app, "grace@example.com").await, 200).await["access_token"].as_str().unwrap().to_string();
        json_of(delete(&app, "/v1/me", &token).await, 202).await;
        let (request_id, user_id): (String, String) =
            sqlx::query_as("SELECT id, user_id FROM account_deletions").fetch_one(app.db.db.pool()).await.unwrap();
        assert_eq!(user_id, s.user_id);

        // The job before its time snoozes and deletes nothing.
        let payload = kalei_server::privacy::deletion::AccountPurgePayload { request_id: request_id.clone() };
        let outcome = kalei_server::privacy::deletion::run_purge(&app.app, &payload).await.unwrap();
        assert!(matches!(outcome, kalei_store::jobs::JobOutcome::Snooze(_)), "{outcome:?}");
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
        // Its time has come: the account is purged by the worker.
        sqlx::query("UPDATE account_deletions SET purge_at = 0").execute(app.db.db.pool()).await.unwrap();
        sqlx::query("UPDATE jobs SET run_at = 0 WHERE kind = 'privacy.account_purge' AND state = 'scheduled'")
            .execute(app.db.db.pool()).await.unwrap();
        let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
        wait_for(&app, "SELECT COUNT(*) FROM users", 0).await;
        wait_for(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'privacy.account_purge' AND state = 'completed'", 1).await;
        worker.shutdown().await;
        problem(login(&app, "grace@example.com").await, 401, "invalid_credentials").await;
        // A withdrawn request's job cancels itself.
        let outcome = kalei_server::privacy::deletion::run_purge(&app.app, &payload).await.unwrap();
        assert!(matches!(outcome, kalei_store::jobs::JobOutcome::Cancel(_)), "{outcome:?}");
    }
);

api_test!(
    async fn immediate_deletion_needs_the_password(app) {
        let s = app.register("now@example.com").await;
        let keep = app.register("keep@example.com").await;
        let body = problem(delete(&app, "/v1/me?immediate=true", &s.access).await, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "password");
        let res = delete(&app, "/v1/me?immediate=maybe", &s.access).await;
        problem(res, 422, "validation_failed").await;
        let res = delete_with(&app, "/v1/me?immediate=true", &s.access, &json!({"password": "wrong password"})).await;
        problem(res, 403, "password_mismatch").await;
        let res = delete_with(&app, "/v1/me?immediate=true", &s.access, &json!({"password": PASSWORD, "extra": 1})).await;
        problem(res, 422, "validation_failed").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 2, "nothing deleted yet");

        // An account without a password (social sign-in only) is told why.
        sqlx::query("UPDATE users SET password_hash = NULL WHERE id = $1").bind(&keep.user_id)
            .execute(app.db.db.pool()).await.unwrap();
        let res = delete_with(&app, "/v1/me?immediate=true", &keep.access, &json!({"password": PASSWORD})).await;
        problem(res, 422, "password_not_set").await;

        let res = delete_with(&app, "/v1/me?immediate=true", &s.access, &json!({"password": PASSWORD})).await;
        assert_eq!(res.status(), 204);
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
        problem(login(&app, "now@example.com").await, 401, "invalid_credentials").await;
        problem(app.get("/v1/me", Some(&s.access)).await, 401, "unauthorized").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'account_purged' AND user_id IS NULL").await, 1);
    }
);

/// Every value of every text column of every table, with where it is.
async fn text_values(app: &TestApp) -> Vec<(String, String, String)> {
    let tables = kalei_store::schema::describe(&app.db.db).await.unwrap();
    let mut out = Vec::new();
    for (table, columns) in tables {
        for column in columns
            .iter()
            .filter(|c| c.kind == kalei_store::schema::ColumnKind::Text)
        {
            let values: Vec<Option<String>> =
                sqlx::query_scalar(&format!("SELECT \"{}\" FROM \"{table}\"", column.name))
                    .fetch_all(app.db.db.pool())
                    .await
                    .unwrap();
            for v in values.into_iter().flatten() {
                out.push((table.clone(), column.name.clone(), v));
            }
        }
    }
    out
}

api_test!(
    async fn purge_leaves_no_row_referencing_the_user(app) {
        let s = app.register("purge@example.com").await;
        let other = app.register("purge-other@example.com").await;
        for u in [&s, &other] {
            set_prism(&app, &u.user_id).await;
            consent(&app, &u.access, "analytics", true).await;
        }
        let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
        for u in [&s, &other] {
            write_session(&app, &u.access, DISTORTED).await;
            let tid = write_turn(&app, &u.access, DISTORTED).await;
            // A crisis message writes a safety event.
            let sid = json_of(app.post("/v1/mirror/sessions", &json!({}), Some(&u.access)).await, 201).await["id"].as_str().unwrap().to_string();
            json_of(app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": CRISIS}), Some(&u.access)).await, 201).await;
            let goal = json_of(app.post("/v1/lens/goals", &json!({"title": "Rest"}), Some(&u.access)).await, 201).await;
            let action = json_of(app.post(&format!("/v1/lens/goals/{}/actions", goal["id"].as_str().unwrap()),
                &json!({"title": "Nap"}), Some(&u.access)).await, 201).await;
            json_of(app.post(&format!("/v1/lens/actions/{}/complete", action["id"].as_str().unwrap()), &json!({}), Some(&u.access)).await, 200).await;
            json_of(app.get("/v1/lens/affirmation/today", Some(&u.access)).await, 200).await;
            let res = app.client.patch(app.url("/v1/me/preferences")).bearer_auth(&u.access)
                .json(&json!({"region": "GB"})).send().await.unwrap();
            assert_eq!(res.status(), 200);
            // An idempotency record.
            let res = app.client.post(app.url(&format!("/v1/turns/{tid}/save"))).bearer_auth(&u.access)
                .header("idempotency-key", format!("save-{tid}")).json(&json!({"belief_after": 20})).send().await.unwrap();
            assert_eq!(res.status(), 200);
            // Billing: an event and a snapshot, as the store webhooks write them.
            sqlx::query("INSERT INTO billing_events (id, user_id, store, notification_id, event_type, payload, created_at) \
                         VALUES ($1, $2, 'apple', $3, 'SUBSCRIBED', $4, 0)")
                .bind(kalei_store::new_id()).bind(&u.user_id).bind(kalei_store::new_id())
                .bind(json!({"user": u.user_id}).to_string())
                .execute(app.db.db.pool()).await.unwrap();
            sqlx::query("INSERT INTO entitlement_snapshots (id, user_id, plan, reason, created_at) VALUES ($1, $2, 'prism', 'test', 0)")
                .bind(kalei_store::new_id()).bind(&u.user_id)
                .execute(app.db.db.pool()).await.unwrap();
        }
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_session_vectors", 2).await;
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_turn_impacts WHERE saved = 1", 2).await;
        let today = chrono::Utc::now().date_naive();
        for u in [&s, &other] {
            kalei_server::spectrum::periodic::run_weekly(&app.app, &u.user_id, today).await.unwrap();
            kalei_server::spectrum::periodic::run_monthly(&app.app, &u.user_id, chrono::Datelike::year(&today), chrono::Datelike::month(&today)).await.unwrap();
        }
        wait_for(&app, "SELECT COUNT(*) FROM jobs WHERE state NOT IN ('completed', 'cancelled', 'discarded')", 0).await;
        worker.shutdown().await;
        app.app.gateway.flush().await;
        // A pending request of the user (its row goes with the purge).
        json_of(delete(&app, "/v1/me", &s.access).await, 202).await;
        let s_token = json_of(login(&app, "purge@example.com").await, 200).await["access_token"].as_str().unwrap().to_string();

        let hash = app.app.gateway.user_hash(&s.user_id);
        let other_hash = app.app.gateway.user_hash(&other.user_id);
        let before = text_values(&app).await;
        let mentions = |values: &[(String, String, String)], needle: &str| -> Vec<String> {
            values.iter().filter(|(_, _, v)| v.contains(needle)).map(|(t, c, _)| format!("{t}.{c}")).collect()
        };
        // The data really is there before (so the walk below can fail).
        let tables_before: std::collections::BTreeSet<String> =
            mentions(&before, &s.user_id).into_iter().map(|tc| tc.split('.').next().unwrap().to_string()).collect();
        for t in ["mirror_sessions", "mirror_messages", "mirror_fragments", "turns", "gallery_items", "lens_goals",
                  "lens_actions", "lens_affirmations", "spectrum_session_vectors", "spectrum_turn_impacts",
                  "spectrum_weekly", "spectrum_monthly", "safety_events", "audit_events", "idempotency_keys",
                  "billing_events", "entitlement_snapshots", "subscriptions", "analytics_events", "user_consents",
                  "consent_events", "jobs", "auth_sessions", "refresh_tokens", "profiles", "user_preferences"] {
            assert!(tables_before.contains(t), "the fixture has no {t} row for the user: {tables_before:?}");
        }
        assert!(!mentions(&before, &hash).is_empty(), "the fixture has AI usage for the user");

        let res = delete_with(&app, "/v1/me?immediate=true", &s_token, &json!({"password": PASSWORD})).await;
        assert_eq!(res.status(), 204);

        let after = text_values(&app).await;
        assert_eq!(mentions(&after, &s.user_id), Vec::<String>::new(), "rows still name the purged user");
        assert_eq!(mentions(&after, &hash), Vec::<String>::new(), "rows still hold the purged user's hash");
        assert!(!after.iter().any(|(_, _, v)| v.contains("purge@example.com")));
        // The other user is untouched.
        let other_before = mentions(&before, &other.user_id);
        assert_eq!(mentions(&after, &other.user_id), other_before);
        assert_eq!(mentions(&after, &other_hash).len(), mentions(&before, &other_hash).len());
        json_of(app.get("/v1/me/export", Some(&other.access)).await, 200).await;
        // Usage costs survive as anonymous aggregates.
        assert!(app.count("SELECT COUNT(*) FROM ai_usage_events WHERE user_hash = 'anonymous'").await >= 1);
    }
);

// ---- Per-item deletes ----

api_test!(
    async fn item_deletes_remove_derived_rows_and_recompute_spectrum(app) {
        let s = app.register("items@example.com").await;
        let other = app.register("items-other@example.com").await;
        set_prism(&app, &s.user_id).await;
        let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
        let sid = write_session(&app, &s.access, DISTORTED).await;
        let tid = write_turn(&app, &s.access, DISTORTED).await;
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_session_vectors", 1).await;
        wait_for(&app, "SELECT COUNT(*) FROM spectrum_turn_impacts WHERE saved = 1", 1).await;
        kalei_server::spectrum::periodic::run_weekly(&app.app, &s.user_id, chrono::Utc::now().date_naive()).await.unwrap();
        let weekly = "SELECT sessions * 10 + turns FROM spectrum_weekly";
        assert_eq!(app.count(weekly).await, 11);

        // Someone else's ids: 404, nothing changes.
        for path in [format!("/v1/turns/{tid}"), format!("/v1/mirror/sessions/{sid}")] {
            problem(delete(&app, &path, &other.access).await, 404, "not_found").await;
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM gallery_items").await, 2);

        let res = delete(&app, &format!("/v1/turns/{tid}"), &s.access).await;
        assert_eq!(res.status(), 204);
        assert_eq!(app.count("SELECT COUNT(*) FROM turns").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM spectrum_turn_impacts").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM gallery_items WHERE turn_id IS NOT NULL").await, 0);
        wait_for(&app, weekly, 10).await;
        problem(app.get(&format!("/v1/turns/{tid}"), Some(&s.access)).await, 404, "not_found").await;
        problem(delete(&app, &format!("/v1/turns/{tid}"), &s.access).await, 404, "not_found").await;

        let res = delete(&app, &format!("/v1/mirror/sessions/{sid}"), &s.access).await;
        assert_eq!(res.status(), 204);
        for t in ["mirror_sessions", "mirror_messages", "mirror_fragments", "spectrum_session_vectors", "gallery_items"] {
            assert_eq!(app.count(&format!("SELECT COUNT(*) FROM {t}")).await, 0, "{t}");
        }
        wait_for(&app, weekly, 0).await;

        // Gallery item: removed; the session it came from stays.
        let sid2 = write_session(&app, &s.access, "A calm evening.").await;
        let item: String = sqlx::query_scalar("SELECT id FROM gallery_items").fetch_one(app.db.db.pool()).await.unwrap();
        problem(delete(&app, &format!("/v1/gallery/{item}"), &other.access).await, 404, "not_found").await;
        assert_eq!(delete(&app, &format!("/v1/gallery/{item}"), &s.access).await.status(), 204);
        assert_eq!(app.count("SELECT COUNT(*) FROM gallery_items").await, 0);
        json_of(app.get(&format!("/v1/mirror/sessions/{sid2}"), Some(&s.access)).await, 200).await;

        // Lens: a goal goes with its actions; an action alone.
        let goal = json_of(app.post("/v1/lens/goals", &json!({"title": "Run"}), Some(&s.access)).await, 201).await;
        let gid = goal["id"].as_str().unwrap();
        let mut actions = Vec::new();
        for title in ["Shoes", "Stretch"] {
            let a = json_of(app.post(&format!("/v1/lens/goals/{gid}/actions"), &json!({"title": title}), Some(&s.access)).await, 201).await;
            actions.push(a["id"].as_str().unwrap().to_string());
        }
        problem(delete(&app, &format!("/v1/lens/actions/{}", actions[0]), &other.access).await, 404, "not_found").await;
        assert_eq!(delete(&app, &format!("/v1/lens/actions/{}", actions[0]), &s.access).await.status(), 204);
        assert_eq!(app.count("SELECT COUNT(*) FROM lens_actions").await, 1);
        problem(delete(&app, &format!("/v1/lens/goals/{gid}"), &other.access).await, 404, "not_found").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM lens_actions").await, 1, "a refused delete removes nothing");
        assert_eq!(delete(&app, &format!("/v1/lens/goals/{gid}"), &s.access).await.status(), 204);
        assert_eq!(app.count("SELECT COUNT(*) FROM lens_goals").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM lens_actions").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'item_deleted'").await, 5);
        worker.shutdown().await;
    }
);

// ---- Retention ----

api_test!(
    async fn retention_anonymises_then_deletes(app) {
        let s = app.register("retention@example.com").await;
        let clock = kalei_store::clock::ManualClock::new(chrono::Utc::now().timestamp_millis());
        let now = kalei_store::Clock::now_ms(&clock);
        let day = 86_400_000_i64;
        let hash = app.app.gateway.user_hash(&s.user_id);
        // Ages in days: fresh (kept as is), 60 (anonymised), 400 (deleted).
        for age in [1, 60, 400] {
            let at = now - age * day;
            sqlx::query("INSERT INTO safety_events (id, user_id, feature, stage, level, categories, created_at) \
                         VALUES ($1, $2, 'mirror', 'input', 'high', '[]', $3)")
                .bind(kalei_store::new_id()).bind(&s.user_id).bind(at).execute(app.db.db.pool()).await.unwrap();
            sqlx::query("INSERT INTO audit_events (id, user_id, kind, ip_hash, detail, created_at) \
                         VALUES ($1, $2, 'sign_in', 'abc123', '{\"session_id\":\"x\"}', $3)")
                .bind(kalei_store::new_id()).bind(&s.user_id).bind(at).execute(app.db.db.pool()).await.unwrap();
            sqlx::query("INSERT INTO analytics_events (id, user_id, name, properties, created_at) \
                         VALUES ($1, $2, 'turn_created', '{}', $3)")
                .bind(kalei_store::new_id()).bind(&s.user_id).bind(at).execute(app.db.db.pool()).await.unwrap();
            sqlx::query("INSERT INTO ai_usage_events (id, call_id, attempt, user_hash, feature, target, provider, model, \
                         prompt_version, config_hash, tokens_in, tokens_out, latency_ms, provider_ms, outcome, streamed, created_at) \
                         VALUES ($1, 'c', 1, $2, 'turn', 'local', 'local', 'local', 'v1', 'h', 10, 20, 1, 0, 'ok', 0, $3)")
                .bind(kalei_store::new_id()).bind(&hash).bind(at).execute(app.db.db.pool()).await.unwrap();
        }
        let old = now - 400 * day;
        let recent = now - day;
        let report = kalei_server::privacy::retention::enforce(&app.app, now).await.unwrap();
        assert_eq!(report.deleted, 4, "{report:?}");
        assert_eq!(report.anonymised, 4, "{report:?}");
        for t in ["safety_events", "audit_events", "analytics_events", "ai_usage_events"] {
            let n = app.count(&format!("SELECT COUNT(*) FROM {t} WHERE created_at <= {old}")).await;
            assert_eq!(n, 0, "{t}: past retention is deleted");
        }
        let mid = now - 60 * day;
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM safety_events WHERE created_at = {mid} AND user_id = 'anonymous'")).await, 1);
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE created_at = {mid} AND user_id IS NULL AND ip_hash IS NULL AND detail = '{{}}'")).await, 1);
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM analytics_events WHERE created_at = {mid} AND user_id IS NULL")).await, 1);
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM ai_usage_events WHERE created_at = {mid} AND user_hash = 'anonymous'")).await, 1);
        // Fresh records keep their link.
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM safety_events WHERE created_at = {recent} AND user_id = '{}'", s.user_id)).await, 1);
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE created_at = {recent} AND ip_hash = 'abc123'")).await, 1);
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM ai_usage_events WHERE created_at = {recent} AND user_hash = '{hash}'")).await, 1);
        // A second run finds nothing more to do.
        let again = kalei_server::privacy::retention::enforce(&app.app, now).await.unwrap();
        assert_eq!((again.deleted, again.anonymised), (0, 0));
        // A day later the same rules apply to what aged: nothing crossed a line.
        clock.advance_ms(day);
        let later = kalei_server::privacy::retention::enforce(&app.app, kalei_store::Clock::now_ms(&clock)).await.unwrap();
        assert_eq!((later.deleted, later.anonymised), (0, 0));
    }
);

// ---- OpenAPI ----

api_test!(
    async fn privacy_endpoints_are_documented(app) {
        let doc: Value = app.get("/api/openapi.json", None).await.json().await.unwrap();
        for (path, method) in [
            ("/v1/me/export", "get"),
            ("/v1/me", "delete"),
            ("/v1/me", "get"),
            ("/v1/me/consents", "get"),
            ("/v1/me/consents", "put"),
            ("/v1/turns/{id}", "delete"),
            ("/v1/gallery/{id}", "delete"),
            ("/v1/lens/goals/{id}", "delete"),
            ("/v1/lens/actions/{id}", "delete"),
            ("/v1/mirror/sessions/{id}", "delete"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from OpenAPI");
        }
        let export = &doc["paths"]["/v1/me/export"]["get"]["responses"]["200"];
        assert!(export["content"]["application/json"]["schema"]["$ref"].as_str().unwrap().ends_with("ExportDocument"));
        assert!(export["headers"]["content-disposition"].is_object(), "{export}");
        let schemas = &doc["components"]["schemas"];
        for name in ["ExportDocument", "Consents", "PutConsents", "DeletionScheduled", "ConfirmPassword"] {
            assert!(schemas[name].is_object(), "{name} schema missing");
        }
        let params = doc["paths"]["/v1/me"]["delete"]["parameters"].as_array().unwrap();
        assert!(params.iter().any(|p| p["name"] == "immediate"));
    }
);

/// Measurement, not a timing test: streams the export of an account with
/// 20,000 Mirror messages and prints its size and duration. Run with
/// `cargo test -p kalei-server --all-features --test api -- --ignored export_of_a_large_account --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn export_of_a_large_account() {
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    let s = app.register("large@example.com").await;
    let sid = kalei_store::new_id();
    sqlx::query(
        "INSERT INTO mirror_sessions (id, user_id, status, started_at) VALUES ($1, $2, 'open', 0)",
    )
    .bind(&sid)
    .bind(&s.user_id)
    .execute(app.db.db.pool())
    .await
    .unwrap();
    let aad = format!("mirror_messages.content:{}", s.user_id);
    let text =
        "A paragraph of reflective writing about the day, long enough to be typical. ".repeat(6);
    let messages = 20_000;
    let mut tx = app.db.db.begin().await.unwrap();
    for i in 0..messages {
        sqlx::query("INSERT INTO mirror_messages (id, user_id, session_id, content_sealed, char_count, word_count, polarity, \
                     emotions, crisis_level, created_at) VALUES ($1, $2, $3, $4, 450, 80, 0.1, '{}', 'none', $5)")
            .bind(kalei_store::new_id()).bind(&s.user_id).bind(&sid)
            .bind(app.app.cipher.seal_str(&text, &aad)).bind(i as i64)
            .execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let started = Instant::now();
    let mut res = app.get("/v1/me/export", Some(&s.access)).await;
    assert_eq!(res.status(), 200);
    let (mut bytes, mut chunks) = (0usize, 0usize);
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len();
        chunks += 1;
        body.extend_from_slice(&chunk);
    }
    let elapsed = started.elapsed();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        doc["data"]["mirror_messages"].as_array().unwrap().len(),
        messages
    );
    println!(
        "export: {messages} messages, {bytes} bytes in {chunks} chunks, {:.2} s ({:.0} messages/s)",
        elapsed.as_secs_f64(),
        messages as f64 / elapsed.as_secs_f64()
    );
}
