//! Test support: a fresh database per test on each backend, and the switch
//! that turns a skipped Postgres/Redis run into a failure in CI.
//!
//! The SQLite backend always runs. Postgres runs when `KALEI_TEST_POSTGRES_URL`
//! is set (each test gets its own database, dropped afterwards); Redis when
//! `KALEI_TEST_REDIS_URL` is set. With `KALEI_TEST_REQUIRE_SERVICES=1` (CI), a
//! missing variable fails the test instead of skipping it.

use std::path::PathBuf;

use crate::db::{Db, DbOptions};

pub const POSTGRES_ENV: &str = "KALEI_TEST_POSTGRES_URL";
pub const REDIS_ENV: &str = "KALEI_TEST_REDIS_URL";
pub const REQUIRE_ENV: &str = "KALEI_TEST_REQUIRE_SERVICES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The URL of an external test service, or `None` to skip (panics instead
/// when services are required).
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                panic!("{var} is not set but {REQUIRE_ENV}=1: refusing to skip");
            }
            eprintln!("skipped: {var} is not set");
            None
        }
    }
}

/// A database that exists for one test. Dropping it removes the SQLite file
/// or drops the Postgres database.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh, migrated database on `backend`, or `None` when that backend is
    /// not configured (see [`service_url`]).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let t = Self::new_unmigrated(backend).await?;
        t.db.migrate().await.expect("migrate test database");
        Some(t)
    }

    pub async fn new_unmigrated(backend: Backend) -> Option<TestDb> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("kalei-test-{tag}"));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                let url = format!("sqlite://{}/kalei.db", dir.display());
                let db = Db::connect(&url, &DbOptions::default())
                    .await
                    .expect("open sqlite");
                Some(TestDb {
                    db,
                    url,
                    cleanup: Cleanup::Dir(dir),
                })
            }
            Backend::Postgres => {
                let admin_url = service_url(POSTGRES_ENV)?;
                let name = format!("kalei_test_{tag}");
                let admin = Db::connect(&admin_url, &DbOptions::default())
                    .await
                    .expect("connect to KALEI_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(admin.pool())
                    .await
                    .expect("create test database");
                admin.close().await;
                let url = replace_database(&admin_url, &name);
                let db = Db::connect(&url, &DbOptions::default())
                    .await
                    .expect("connect to test database");
                Some(TestDb {
                    db,
                    url,
                    cleanup: Cleanup::Postgres { admin_url, name },
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime; do the async cleanup on
                // a thread of its own and wait for it.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async move {
                        if let Ok(admin) = Db::connect(&admin_url, &DbOptions::default()).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(admin.pool())
                            .await;
                            admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Swaps the database name in a Postgres URL.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // postgres://user@host:port/db → keep everything up to the path.
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Declares one async test per database backend: `name::sqlite` and
/// `name::postgres`. The body receives a fresh migrated [`TestDb`] as `$t`.
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($t:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($t: $crate::testing::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$meta])*
            async fn sqlite() {
                let t = $crate::testing::TestDb::new($crate::testing::Backend::Sqlite)
                    .await
                    .expect("sqlite backend");
                run(t).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$meta])*
            async fn postgres() {
                if let Some(t) =
                    $crate::testing::TestDb::new($crate::testing::Backend::Postgres).await
                {
                    run(t).await
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_database("postgres://u@127.0.0.1:5432/test", "x"),
            "postgres://u@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://127.0.0.1/test?sslmode=disable", "x"),
            "postgres://127.0.0.1/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "x"), "postgres://h/x");
    }
}
