//! Access tokens (HS256 JWTs, short-lived) and refresh tokens (opaque random
//! strings, stored only as SHA-256 hashes).

use std::path::Path;

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::AppState;

const AUDIENCE: &str = "kalei-api";
const KEY_FILE: &str = "signing.key";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Auth session (device) id.
    pub sid: String,
    pub role: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    pub access_ttl_secs: u64,
    /// Derived key for hashing ids and IPs in logs and audit rows.
    pub hash_key: [u8; 32],
}

impl TokenKeys {
    pub fn new(secret: &[u8], issuer: &str, access_ttl_secs: u64) -> Self {
        // Only HS256 is accepted: `alg: none` and algorithm confusion fail.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_string(),
            access_ttl_secs,
            hash_key: blake3::derive_key("kalei 2026 log and audit pseudonyms", secret),
        }
    }

    pub fn issue(&self, user_id: &str, session_id: &str, role: &str, now_ms: i64) -> String {
        let iat = now_ms / 1000;
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            role: role.to_string(),
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_string(),
            iat,
            exp: iat + self.access_ttl_secs as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding cannot fail")
    }

    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }

    /// A stable pseudonym for logs and audit rows (keyed, so not reversible
    /// by hashing candidate ids or addresses).
    pub fn pseudonym(&self, value: &str) -> String {
        let hash = blake3::keyed_hash(&self.hash_key, value.as_bytes());
        hex::encode(&hash.as_bytes()[..8])
    }
}

/// The user id of a valid bearer token in `headers`, if any.
pub fn bearer_user(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let token = bearer(headers)?;
    state.tokens.verify(token).map(|c| c.sub)
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A new refresh token: 256 random bits, URL-safe.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The configured signing key, or the one in `<data_dir>/signing.key`,
/// generated (0600) on first start.
pub fn load_or_create_signing_key(
    configured: Option<&str>,
    data_dir: &Path,
) -> std::io::Result<Vec<u8>> {
    if let Some(key) = configured {
        return Ok(key.as_bytes().to_vec());
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= 32 => return Ok(bytes),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is shorter than 32 bytes", path.display()),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut key = vec![0u8; 64];
    rand::thread_rng().fill_bytes(&mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(&key)?;
            f.sync_all()?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(&path),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 64], "kalei", 900)
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let now = chrono::Utc::now().timestamp_millis();
        let t = k.issue("u1", "s1", "user", now);
        let c = k.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str()), ("u1", "s1"));
    }

    #[test]
    fn expired_forged_and_alg_none_tokens_fail() {
        let k = keys();
        let now = chrono::Utc::now().timestamp_millis();
        assert!(k
            .verify(&k.issue("u1", "s1", "user", now - 3_600_000))
            .is_none());
        let other = TokenKeys::new(&[9u8; 64], "kalei", 900);
        assert!(k.verify(&other.issue("u1", "s1", "user", now)).is_none());
        let t = k.issue("u1", "s1", "user", now);
        let payload = t.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(k.verify(&format!("{none_header}.{payload}.")).is_none());
        // Tampered payload with the original signature.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({"sub":"admin","sid":"s1","role":"admin",
                "iss":"kalei","aud":"kalei-api","iat":0,"exp": now / 1000 + 900}))
            .unwrap(),
        );
        assert!(k
            .verify(&format!("{}.{}.{}", parts[0], forged, parts[2]))
            .is_none());
    }

    #[test]
    fn signing_key_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_signing_key(None, dir.path()).unwrap();
        let b = load_or_create_signing_key(None, dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }
}
