use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique constraint rejected the write (the caller maps it to 409).
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// Classifies a sqlx error: unique violations become [`StoreError::Conflict`]
    /// on both dialects (SQLite `2067`/`1555`, Postgres `23505`).
    pub fn from_sqlx(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.constraint().unwrap_or("unique").to_string());
            }
        }
        StoreError::Database(err)
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
