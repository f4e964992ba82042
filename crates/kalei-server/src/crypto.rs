//! Column encryption of raw reflective text (Mirror messages, Turn thoughts,
//! reframes, Lens goals): XChaCha20-Poly1305 with a random 192-bit nonce per
//! value, the key id stored with the ciphertext, and associated data binding
//! each value to its table, column and owner (a ciphertext copied to another
//! row or user fails to decrypt).
//!
//! Wire format: `0x01 | key_id_len u8 | key_id | nonce[24] | ciphertext+tag`.
//!
//! Keys come from configuration (`encryption.keys`, `encryption.active_key`)
//! or, in embedded mode, from `<data_dir>/encryption.keys`, generated on first
//! start. Several keys can be loaded so old values stay readable while new
//! writes use the active one.

use std::collections::HashMap;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
pub const KEY_FILE: &str = "encryption.keys";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("encryption key `{0}` is not loaded")]
    UnknownKey(String),
    #[error("decryption failed (wrong key, or the value was moved or altered)")]
    Decrypt,
}

/// The on-disk / configured key set.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeySet {
    pub active: String,
    /// key id → base64 of 32 random bytes
    pub keys: HashMap<String, String>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("active", &self.active)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeySet {
    pub fn generate(id: &str) -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        KeySet {
            active: id.to_string(),
            keys: HashMap::from([(id.to_string(), STANDARD.encode(key))]),
        }
    }

    /// Reads `<data_dir>/encryption.keys`, or creates it (0600) when
    /// `create` is set. Returns `None` when absent and not created.
    pub fn load_file(data_dir: &Path, create: bool) -> std::io::Result<Option<KeySet>> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not a key set: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let set = KeySet::generate("k1");
                set.write_file(data_dir)?;
                Ok(Some(set))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn write_file(&self, data_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(KEY_FILE);
        let tmp = data_dir.join(format!("{KEY_FILE}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        {
            use std::io::Write;
            let mut f = options.open(&tmp)?;
            f.write_all(
                serde_json::to_string_pretty(self)
                    .unwrap_or_default()
                    .as_bytes(),
            )?;
            f.sync_all()?;
        }
        std::fs::rename(tmp, path)
    }
}

/// Loaded keys, ready to encrypt and decrypt.
pub struct Cipher {
    active: String,
    keys: HashMap<String, XChaCha20Poly1305>,
}

impl Cipher {
    pub fn new(set: &KeySet) -> Result<Cipher, String> {
        let mut keys = HashMap::new();
        for (id, b64) in &set.keys {
            if id.is_empty() || id.len() > 64 {
                return Err(format!("encryption key id `{id}` must be 1-64 characters"));
            }
            let bytes = STANDARD
                .decode(b64)
                .map_err(|_| format!("encryption key `{id}` is not base64"))?;
            if bytes.len() != 32 {
                return Err(format!("encryption key `{id}` must be 32 bytes"));
            }
            keys.insert(
                id.clone(),
                XChaCha20Poly1305::new_from_slice(&bytes).map_err(|e| e.to_string())?,
            );
        }
        if !keys.contains_key(&set.active) {
            return Err(format!(
                "active encryption key `{}` is not in the key set",
                set.active
            ));
        }
        Ok(Cipher {
            active: set.active.clone(),
            keys,
        })
    }

    pub fn active_key(&self) -> &str {
        &self.active
    }

    /// Whether values sealed with `id` can be opened.
    pub fn has_key(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    /// The loaded key ids, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.keys.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Encrypts `plaintext` bound to `aad` (e.g. `mirror_messages.content:<user>`).
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Vec<u8> {
        let cipher = &self.keys[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");
        let id = self.active.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn seal_str(&self, plaintext: &str, aad: &str) -> Vec<u8> {
        self.seal(plaintext.as_bytes(), aad)
    }

    /// The key id a value was sealed with.
    pub fn key_id(sealed: &[u8]) -> Result<&str, CryptoError> {
        let (id, _, _) = split(sealed)?;
        Ok(id)
    }

    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        let (id, nonce, ct) = split(sealed)?;
        let cipher = self
            .keys
            .get(id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }

    pub fn open_string(&self, sealed: &[u8], aad: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.open(sealed, aad)?).map_err(|_| CryptoError::Malformed)
    }
}

/// The longest header: version, id length, a 64-byte id. Reading only this
/// prefix of a stored value is enough to tell which key sealed it.
pub const HEADER_MAX: usize = 2 + 64;

/// The key id from the first bytes of a sealed value (at most
/// [`HEADER_MAX`] of them; the rest of the value is not needed).
pub fn key_id_of_header(head: &[u8]) -> Result<&str, CryptoError> {
    if head.len() < 2 || head[0] != VERSION {
        return Err(CryptoError::Malformed);
    }
    let id_len = head[1] as usize;
    let id = head.get(2..2 + id_len).ok_or(CryptoError::Malformed)?;
    std::str::from_utf8(id).map_err(|_| CryptoError::Malformed)
}

fn split(sealed: &[u8]) -> Result<(&str, &[u8], &[u8]), CryptoError> {
    if sealed.len() < 2 || sealed[0] != VERSION {
        return Err(CryptoError::Malformed);
    }
    let id_len = sealed[1] as usize;
    let rest = &sealed[2..];
    if rest.len() < id_len + NONCE_LEN + 16 {
        return Err(CryptoError::Malformed);
    }
    let id = std::str::from_utf8(&rest[..id_len]).map_err(|_| CryptoError::Malformed)?;
    let nonce = &rest[id_len..id_len + NONCE_LEN];
    Ok((id, nonce, &rest[id_len + NONCE_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_binding() {
        let c = Cipher::new(&KeySet::generate("k1")).unwrap();
        let sealed = c.seal_str("I feel lost", "mirror_messages.content:u1");
        assert!(!sealed.windows(4).any(|w| w == b"lost"));
        assert_eq!(Cipher::key_id(&sealed).unwrap(), "k1");
        assert_eq!(
            c.open_string(&sealed, "mirror_messages.content:u1")
                .unwrap(),
            "I feel lost"
        );
        // Moved to another user or column: refused.
        assert!(c.open(&sealed, "mirror_messages.content:u2").is_err());
        // Tampered: refused.
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(c.open(&bad, "mirror_messages.content:u1").is_err());
        assert!(c.open(b"\x01", "x").is_err());
        // Same plaintext, different ciphertexts (random nonces).
        assert_ne!(
            sealed,
            c.seal_str("I feel lost", "mirror_messages.content:u1")
        );
    }

    #[test]
    fn old_keys_stay_readable_after_rotation() {
        let mut set = KeySet::generate("k1");
        let old = Cipher::new(&set).unwrap().seal_str("before", "a");
        let k2 = KeySet::generate("k2");
        set.keys.extend(k2.keys.clone());
        set.active = "k2".into();
        let c = Cipher::new(&set).unwrap();
        assert_eq!(c.open_string(&old, "a").unwrap(), "before");
        assert_eq!(Cipher::key_id(&c.seal_str("after", "a")).unwrap(), "k2");
        let only_new = Cipher::new(&k2).unwrap();
        assert!(matches!(
            only_new.open(&old, "a"),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn key_id_is_read_from_the_header_alone() {
        let c = Cipher::new(&KeySet::generate("key-two")).unwrap();
        let sealed = c.seal_str("some words", "a");
        assert_eq!(
            key_id_of_header(&sealed[..HEADER_MAX.min(sealed.len())]).unwrap(),
            "key-two"
        );
        assert_eq!(key_id_of_header(&sealed[..2 + 7]).unwrap(), "key-two");
        assert!(key_id_of_header(&sealed[..5]).is_err());
        assert!(key_id_of_header(b"\x02\x01k").is_err());
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(KeySet::load_file(dir.path(), false).unwrap().is_none());
        let a = KeySet::load_file(dir.path(), true).unwrap().unwrap();
        let b = KeySet::load_file(dir.path(), true).unwrap().unwrap();
        assert_eq!(a.keys, b.keys);
    }
}
