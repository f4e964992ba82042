//! Kalei storage: one code path over SQLite and Postgres, migrations, counters,
//! rate limits and cache (in-process or Redis), and the durable job queue.
//!
//! Portability rules every repository follows (so one SQL text runs on both):
//! - placeholders are `$1, $2, …` (SQLite accepts numbered `$N` through sqlx);
//! - ids are TEXT (UUIDv7, time-ordered, so they double as pagination cursors);
//! - timestamps are BIGINT unix milliseconds (`*_at`); flags are BIGINT 0/1
//!   (the Any driver cannot decode SQLite's BOOLEAN affinity);
//! - JSON documents are TEXT holding serialised JSON;
//! - aggregate functions whose Postgres result is NUMERIC are cast to BIGINT;
//! - an optional DOUBLE PRECISION is bound with [`bind_opt_f64`].
//!
//! Where the dialects must differ (upserts with RETURNING, job claiming, locks)
//! the code branches on [`Dialect`].

pub mod clock;
pub mod counters;
pub mod db;
pub mod error;
pub mod jobs;
pub mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use clock::{Clock, SystemClock};
pub use db::{Db, DbOptions, Dialect};
pub use error::StoreError;

/// Binds an optional DOUBLE PRECISION value.
///
/// sqlx 0.8.6's Any driver swaps the Real and Double NULL mappings when it
/// forwards arguments to Postgres: a NULL `f64` is declared as a float4
/// parameter. The connection caches the prepared statement with that type, and
/// the next non-NULL `f64` on the same SQL then fails with "incorrect binary
/// data format in bind parameter". A NULL `f32` is declared as float8, which
/// is what the column holds.
pub fn bind_opt_f64<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    value: Option<f64>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match value {
        Some(v) => query.bind(v),
        None => query.bind(None::<f32>),
    }
}

/// A new time-ordered identifier (UUIDv7) as used for every primary key.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
