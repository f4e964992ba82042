//! The live set of column-encryption keys. Handlers seal and open through
//! it; when the keys come from `<data_dir>/encryption.keys` it is reloaded
//! when that file changes (after `kalei keys rotate`), so a running server
//! starts sealing with the new key without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use kalei_store::Db;

use super::registry;
use crate::config::Config;
use crate::crypto::{Cipher, CryptoError, KeySet, KEY_FILE};

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `<data_dir>/encryption.keys`, reloadable.
    File(PathBuf),
    /// `encryption.keys` / `encryption.active_key` in the configuration;
    /// changing them means a restart.
    Config,
}

pub struct Keyring {
    current: RwLock<Arc<Cipher>>,
    source: KeySource,
    /// The key file's text as last loaded, to notice a change.
    loaded_text: Mutex<String>,
}

impl Keyring {
    /// Loads the configured keys, or the key file (created on first start).
    /// Fails loudly when the key file is gone while the database holds
    /// sealed values, or when a key that sealed values is not loaded: a new
    /// key would leave that text unreadable, and that must never be silent.
    pub async fn load(config: &Config, db: &Db, now_ms: i64) -> anyhow::Result<Keyring> {
        let (set, source, text) = if config.encryption.keys.is_empty() {
            let path = config.data_dir.join(KEY_FILE);
            let set = match read_key_file(&config.data_dir)? {
                Some(set) => set,
                None => {
                    if holds_sealed_values(db).await? {
                        anyhow::bail!(
                            "the database holds encrypted text but {} is missing: restore the key \
                             file (or configure encryption.keys); refusing to start with a new key",
                            path.display()
                        );
                    }
                    KeySet::load_file(&config.data_dir, true)
                        .map_err(|e| anyhow::anyhow!("cannot create the encryption key file: {e}"))?
                        .ok_or_else(|| anyhow::anyhow!("the encryption key file was not created"))?
                }
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            (set, KeySource::File(config.data_dir.clone()), text)
        } else {
            (config_key_set(config)?, KeySource::Config, String::new())
        };
        let cipher = Cipher::new(&set)
            .map_err(|e| anyhow::anyhow!("invalid configuration: encryption: {e}"))?;
        ensure_in_use_keys_loaded(db, &cipher, &source).await?;
        registry::register_active(db, cipher.active_key(), now_ms).await?;
        Ok(Keyring {
            current: RwLock::new(Arc::new(cipher)),
            source,
            loaded_text: Mutex::new(text),
        })
    }

    /// A key ring over fixed keys (tests, tools).
    pub fn fixed(cipher: Cipher) -> Keyring {
        Keyring {
            current: RwLock::new(Arc::new(cipher)),
            source: KeySource::Config,
            loaded_text: Mutex::new(String::new()),
        }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The keys right now. Hold the `Arc` for work that must use one key
    /// set throughout (the re-encryption job).
    pub fn current(&self) -> Arc<Cipher> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn active_key(&self) -> String {
        self.current().active_key().to_string()
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Vec<u8> {
        self.current().seal(plaintext, aad)
    }

    pub fn seal_str(&self, plaintext: &str, aad: &str) -> Vec<u8> {
        self.current().seal_str(plaintext, aad)
    }

    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        self.current().open(sealed, aad)
    }

    pub fn open_string(&self, sealed: &[u8], aad: &str) -> Result<String, CryptoError> {
        self.current().open_string(sealed, aad)
    }

    /// Re-reads the key file when it changed. Returns whether the keys were
    /// replaced. A file that is now missing, unreadable, invalid, or lacks a
    /// key still in use is an error and the loaded keys stay in place.
    pub async fn reload(&self, db: &Db, now_ms: i64) -> anyhow::Result<bool> {
        let KeySource::File(dir) = &self.source else {
            return Ok(false);
        };
        let path = dir.join(KEY_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        if *self
            .loaded_text
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            == text
        {
            return Ok(false);
        }
        let set: KeySet = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a key set: {e}", path.display()))?;
        let cipher = Cipher::new(&set).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        ensure_in_use_keys_loaded(db, &cipher, &self.source).await?;
        registry::register_active(db, cipher.active_key(), now_ms).await?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(cipher);
        *self
            .loaded_text
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = text;
        Ok(true)
    }
}

fn read_key_file(data_dir: &Path) -> anyhow::Result<Option<KeySet>> {
    KeySet::load_file(data_dir, false).map_err(|e| {
        anyhow::anyhow!("cannot read the encryption key file in data_dir (KALEI_DATA_DIR): {e}")
    })
}

/// The key set named by `encryption.keys` / `encryption.active_key`.
pub fn config_key_set(config: &Config) -> anyhow::Result<KeySet> {
    let keys: std::collections::HashMap<String, String> = config
        .encryption
        .keys
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_string()))
        .collect();
    let active = match &config.encryption.active_key {
        Some(a) => a.clone(),
        None if keys.len() == 1 => keys.keys().next().cloned().unwrap_or_default(),
        None => anyhow::bail!(
            "invalid configuration: encryption.active_key is required with several keys"
        ),
    };
    Ok(KeySet { active, keys })
}

/// Every key the database says sealed values may use must be loaded.
async fn ensure_in_use_keys_loaded(
    db: &Db,
    cipher: &Cipher,
    source: &KeySource,
) -> anyhow::Result<()> {
    let missing: Vec<String> = registry::in_use(db)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the encryption key registry: {e}"))?
        .into_iter()
        .filter(|id| !cipher.has_key(id))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let place = match source {
        KeySource::File(dir) => dir.join(KEY_FILE).display().to_string(),
        KeySource::Config => "encryption.keys".to_string(),
    };
    anyhow::bail!(
        "encryption key(s) `{}` may still seal stored values but are not in {place}: restore \
         them (`kalei keys status` shows which values use which key; `kalei keys retire ID` \
         forgets a key once no value uses it)",
        missing.join("`, `")
    )
}

/// Whether any sealed column holds a value.
async fn holds_sealed_values(db: &Db) -> anyhow::Result<bool> {
    for column in super::SEALED_COLUMNS {
        let sql = format!(
            "SELECT id FROM {} WHERE {} IS NOT NULL LIMIT 1",
            column.table, column.column
        );
        // A text column: `SELECT 1` would decode as INT4 on Postgres.
        let found: Option<String> = sqlx::query_scalar(&sql)
            .fetch_optional(db.pool())
            .await
            .map_err(|e| anyhow::anyhow!("cannot check {} for sealed values: {e}", column.table))?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}
