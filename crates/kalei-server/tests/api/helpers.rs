//! `spawn_app`: the real server on port 0 with a fresh database per test.

use std::net::SocketAddr;

use kalei_server::app::Application;
use kalei_server::config::{Config, Secret};
use kalei_store::testing::{service_url, Backend, TestDb, REDIS_ENV};
use serde_json::{json, Value};

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub app: kalei_server::app::AppState,
    _data_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the server on `backend`. On Postgres the counters are Redis, so
/// the external run covers both services. `None` when the backend is not
/// configured (see `kalei_store::testing::service_url`).
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    spawn_app_with_clock(
        backend,
        std::sync::Arc::new(kalei_store::SystemClock),
        tweak,
    )
    .await
}

/// As [`spawn_app_with`], on `clock` (e.g. a `ManualClock` the test moves).
pub async fn spawn_app_with_clock(
    backend: Backend,
    clock: std::sync::Arc<dyn kalei_store::Clock>,
    tweak: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let db = TestDb::new(backend).await?;
    let redis = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(service_url(REDIS_ENV)?),
    };
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(Secret::new(db.url.clone())),
        redis_url: redis.map(Secret::new),
        // Tests share one Redis: each app gets its own key space.
        redis_key_prefix: format!("kalei-test-{}", uuid::Uuid::new_v4().simple()),
        ..Config::default()
    };
    tweak(&mut config);
    // Server logs show up in the output of a failing test.
    kalei_server::telemetry::init_logging(&kalei_server::config::LogConfig {
        format: "pretty".into(),
        level: std::env::var("KALEI_TEST_LOG").unwrap_or_else(|_| "warn".into()),
    });
    config.validate().expect("test config is valid");
    let app = Application::build_with_clock(config, clock)
        .await
        .expect("build app");
    let addr = app.local_addr();
    let state = app.state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    Some(TestApp {
        addr,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        app: state,
        _data_dir: data_dir,
        shutdown: Some(tx),
    })
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub struct Session {
    pub user_id: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn register(&self, email: &str) -> Session {
        let res = self
            .post(
                "/v1/auth/register",
                &json!({"email": email, "password": "correct horse battery", "display_name": "Test"}),
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

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.db.db.pool())
            .await
            .expect("count query")
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    assert!(res.headers().contains_key("x-request-id"));
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ct, "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["status"], status);
    assert!(body["request_id"].is_string());
    body
}

/// One test per backend: `name::sqlite` (SQLite + in-process counters) and
/// `name::postgres` (Postgres + Redis).
#[macro_export]
macro_rules! api_test {
    (async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::spawn_app(kalei_store::testing::Backend::Sqlite)
                    .await
                    .expect("sqlite app");
                run(app).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) =
                    $crate::helpers::spawn_app(kalei_store::testing::Backend::Postgres).await
                {
                    run(app).await
                }
            }
        }
    };
}

/// Polls `sql` (a `COUNT(*)`) until it answers `want`, for work done by the
/// in-process job workers; fails after 30 s.
pub async fn wait_for(app: &TestApp, sql: &str, want: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.count(sql).await != want {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {sql} = {want} (now {})",
            app.count(sql).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
