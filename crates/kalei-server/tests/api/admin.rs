//! `/v1/admin/jobs` and the server's own worker wiring.

use std::time::{Duration, Instant};

use kalei_server::jobs::{NoPayload, PruneIdempotencyKeys};
use kalei_store::jobs::{Enqueued, JobState};
use kalei_store::testing::Backend;
use serde_json::{json, Value};

use crate::helpers::*;

async fn admin_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |c| {
        c.auth.admin_emails = vec!["root@example.com".into()]
    })
    .await
}

fn job_id(e: Enqueued) -> String {
    match e {
        Enqueued::Inserted(id) | Enqueued::Duplicate(Some(id)) => id,
        Enqueued::Duplicate(None) => panic!("duplicate without id"),
    }
}

async fn admin_endpoints(backend: Backend) {
    let Some(app) = admin_app(backend).await else {
        return;
    };
    let admin = app.register("root@example.com").await;
    let user = app.register("user@example.com").await;
    let id = job_id(
        app.app
            .jobs
            .enqueue::<PruneIdempotencyKeys>(&NoPayload {})
            .await
            .unwrap(),
    );

    problem(
        app.get("/v1/admin/jobs", Some(&user.access)).await,
        403,
        "forbidden",
    )
    .await;
    problem(app.get("/v1/admin/jobs", None).await, 401, "unauthorized").await;

    let list: Value = app
        .get("/v1/admin/jobs?state=available", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["state"], "available");
    problem(
        app.get("/v1/admin/jobs?state=bogus", Some(&admin.access))
            .await,
        422,
        "validation_failed",
    )
    .await;

    let res = app
        .post(
            &format!("/v1/admin/jobs/{id}/cancel"),
            &json!({}),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status(), 200);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["state"], "cancelled");
    let res = app
        .post(
            &format!("/v1/admin/jobs/{id}/cancel"),
            &json!({}),
            Some(&admin.access),
        )
        .await;
    problem(res, 409, "job_state_conflict").await;

    let res = app
        .post(
            &format!("/v1/admin/jobs/{id}/retry"),
            &json!({}),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status(), 200);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["state"], "available");
    assert_eq!(job["attempt"], 0);

    let missing = uuid::Uuid::now_v7();
    problem(
        app.get(&format!("/v1/admin/jobs/{missing}"), Some(&admin.access))
            .await,
        404,
        "not_found",
    )
    .await;
    let stats: Value = app
        .get("/v1/admin/jobs/stats", Some(&admin.access))
        .await
        .json()
        .await
        .unwrap();
    assert!(stats
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["queue"] == "maintenance" && s["count"] == 1));
}

async fn worker_runs_server_jobs(backend: Backend) {
    let Some(app) = admin_app(backend).await else {
        return;
    };
    let s = app.register("w@example.com").await;
    // An idempotency record from two days ago, and a fresh one.
    let res = app
        .client
        .patch(app.url("/v1/me/profile"))
        .bearer_auth(&s.access)
        .header("idempotency-key", "fresh")
        .json(&json!({"locale": "fr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let old = chrono::Utc::now().timestamp_millis() - 2 * 24 * 3600 * 1000;
    sqlx::query("INSERT INTO idempotency_keys (user_id, idem_key, request_hash, created_at) VALUES ($1, 'old', 'h', $2)")
        .bind(&s.user_id).bind(old).execute(app.db.db.pool()).await.unwrap();

    let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
    let id = job_id(
        app.app
            .jobs
            .enqueue::<PruneIdempotencyKeys>(&NoPayload {})
            .await
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let job = kalei_store::jobs::admin::get(&app.db.db, &id)
            .await
            .unwrap();
        if job.state == JobState::Completed {
            break;
        }
        assert!(Instant::now() < deadline, "job still {:?}", job.state);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = worker.shutdown().await;
    let _ = report;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = 'old'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = 'fresh'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_jobs_sqlite() {
    admin_endpoints(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_jobs_postgres() {
    admin_endpoints(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_runs_server_jobs_sqlite() {
    worker_runs_server_jobs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_runs_server_jobs_postgres() {
    worker_runs_server_jobs(Backend::Postgres).await;
}
