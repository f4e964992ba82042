//! The database handle: one [`sqlx::AnyPool`] for SQLite or Postgres, chosen by
//! the URL scheme, plus the dialect for the few places where SQL must differ.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::error::{StoreError, StoreResult};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> StoreResult<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            other => Err(StoreError::InvalidUrl(format!(
                "unsupported scheme `{other}:` (expected sqlite: or postgres:)"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the write lock.
    pub busy_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

impl Db {
    /// Connects to `url` (`sqlite://path/to/file.db` or `postgres://…`). A
    /// SQLite file and its parent directory are created when missing.
    pub async fn connect(url: &str, options: &DbOptions) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        let url = match dialect {
            Dialect::Sqlite => prepare_sqlite_url(url)?,
            Dialect::Postgres => url.to_string(),
        };
        let busy_ms = options.busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                // WAL gives concurrent readers; writers queue on the lock.
                Dialect::Sqlite => options.max_connections.min(8),
                Dialect::Postgres => options.max_connections,
            })
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                        conn.execute(
                            format!(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms};"
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Self { pool, dialect })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so two read-then-write transactions cannot deadlock
    /// on the lock upgrade; `busy_timeout` then queues writers fairly.
    ///
    /// The acquire-and-BEGIN runs in a task of its own: if the caller is
    /// cancelled mid-way (client gone, request timeout), sqlx 0.8 can leave the
    /// connection inside an open transaction (on SQLite holding the write lock
    /// for every other writer). Here the task always finishes, and a
    /// transaction nobody receives is dropped, which rolls it back.
    pub async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        let pool = self.pool.clone();
        let dialect = self.dialect;
        let tx = tokio::spawn(async move {
            match dialect {
                Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Dialect::Postgres => pool.begin().await,
            }
        })
        .await
        .map_err(|e| StoreError::Other(format!("transaction start task failed: {e}")))??;
        Ok(tx)
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every pending migration of this dialect's tree.
    pub async fn migrate(&self) -> StoreResult<()> {
        self.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// Versions known to the binary that are not yet applied (for `/readyz`).
    pub async fn pending_migrations(&self) -> StoreResult<Vec<i64>> {
        // No migrations table yet (an error here): everything is pending.
        let applied: Vec<i64> = sqlx::query_scalar::<_, i64>(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default();
        Ok(self
            .migrator()
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Pool gauges for `/metrics`: (open connections, idle connections).
    pub fn pool_state(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Runs a query and returns its rows; a thin helper for ad-hoc admin reads.
    pub async fn fetch_all(&self, sql: &str) -> StoreResult<Vec<AnyRow>> {
        Ok(sqlx::query(sql).fetch_all(&self.pool).await?)
    }
}

/// Normalises a SQLite URL so that the file is created when missing, and makes
/// sure its directory exists.
fn prepare_sqlite_url(url: &str) -> StoreResult<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::InvalidUrl(url.to_string()))?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(StoreError::InvalidUrl(
            "sqlite URL has no file path".to_string(),
        ));
    }
    if path != ":memory:" {
        if let Some(parent) = Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Other(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
        }
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_string(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_string(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_follows_the_scheme() {
        assert_eq!(Dialect::from_url("sqlite://x.db").unwrap(), Dialect::Sqlite);
        assert_eq!(
            Dialect::from_url("postgres://h/db").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(
            Dialect::from_url("postgresql://h/db").unwrap(),
            Dialect::Postgres
        );
        assert!(Dialect::from_url("mysql://h/db").is_err());
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:").unwrap(),
            "sqlite://:memory:?mode=rwc"
        );
        assert!(prepare_sqlite_url("sqlite://").is_err());
    }
}
