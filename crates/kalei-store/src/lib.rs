//! Kalei storage: one code path over SQLite and Postgres, migrations, counters,
//! rate limits and cache (in-process or Redis), and the durable job queue.
//!
//! Portability rules every repository follows (so one SQL text runs on both):
//! - placeholders are `$1, $2, …` (SQLite accepts numbered `$N` through sqlx);
//! - ids are TEXT (UUIDv7, time-ordered, so they double as pagination cursors);
//! - timestamps are BIGINT unix milliseconds (`*_at`); flags are BIGINT 0/1
//!   (the Any driver cannot decode SQLite's BOOLEAN affinity);
//! - JSON documents are TEXT holding serialised JSON;
//! - aggregate functions whose Postgres result is NUMERIC are cast to BIGINT.
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

/// A new time-ordered identifier (UUIDv7) as used for every primary key.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
