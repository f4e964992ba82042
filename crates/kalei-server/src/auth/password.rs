//! Argon2id password hashing off the async runtime. A semaphore bounds how
//! many hashes run at once (each takes ~19 MiB and tens of milliseconds), so
//! a login flood queues instead of exhausting memory or blocking threads.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A real hash to verify against when the account does not exist, so
    /// unknown and known emails take the same time.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Self {
        let salt = SaltString::generate(&mut rand::thread_rng());
        let dummy = Argon2::default()
            .hash_password(b"kalei-dummy-password", &salt)
            .expect("argon2 hash")
            .to_string();
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::from(dummy),
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        // The permit moves into the blocking task, so a cancelled request
        // cannot free it while its hash still runs.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let salt = SaltString::generate(&mut rand::thread_rng());
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
    }

    /// Verifies `password` against `hash`, or against a dummy hash when the
    /// account has none (unknown email, social-only account).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let ok = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(ApiError::internal)?;
        Ok(ok && known)
    }
}
