//! `kalei keys rotate|status|retire|reencrypt`. They need only the database
//! and the key source, not a full server start, so they also work when the
//! server refuses to start over a key problem.

use std::collections::BTreeMap;

use kalei_store::jobs::Jobs;
use kalei_store::Db;
use serde::Serialize;

use super::keyring::config_key_set;
use super::registry::{self, RegisteredKey};
use super::reseal::{ResealColumns, ResealPayload};
use super::usage::{all_usage, totals, ColumnUsage};
use crate::config::Config;
use crate::crypto::{KeySet, KEY_FILE};

pub enum KeysOp {
    Rotate,
    Status,
    Retire(String),
    Reencrypt,
}

/// Runs one operation and returns what to print.
pub async fn run(config: &Config, db: &Db, now_ms: i64, op: KeysOp) -> anyhow::Result<String> {
    match op {
        KeysOp::Rotate => rotate(config, db, now_ms).await.map(|r| r.message),
        KeysOp::Status => Ok(serde_json::to_string_pretty(&status(config, db).await?)?),
        KeysOp::Retire(id) => retire(config, db, now_ms, &id).await,
        KeysOp::Reencrypt => {
            let active = load_set(config)?.active;
            let job = enqueue_reseal(db, &active).await?;
            Ok(format!(
                "enqueued the re-encryption job {job} (re-seals every value not on key `{active}`)"
            ))
        }
    }
}

/// The key set as configured, or as in the key file.
fn load_set(config: &Config) -> anyhow::Result<KeySet> {
    if !config.encryption.keys.is_empty() {
        return config_key_set(config);
    }
    KeySet::load_file(&config.data_dir, false)
        .map_err(|e| anyhow::anyhow!("cannot read the encryption key file: {e}"))?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} does not exist: start the server once to create it, or restore it",
                config.data_dir.join(KEY_FILE).display()
            )
        })
}

pub struct Rotated {
    pub new_key: String,
    pub previous_key: String,
    /// The re-encryption job, when the new key is already in effect.
    pub job_id: Option<String>,
    pub message: String,
}

/// Adds a new key and makes it active. With a key file: the file is
/// rewritten (running servers reload it) and the re-encryption job is
/// enqueued. With configured keys: prints what to add, since only the
/// operator can change the configuration.
pub async fn rotate(config: &Config, db: &Db, now_ms: i64) -> anyhow::Result<Rotated> {
    let mut set = load_set(config)?;
    let known = registry::list(db).await?;
    let new_key = next_key_id(&set, &known);
    let fresh = KeySet::generate(&new_key);
    let previous_key = set.active.clone();
    if !config.encryption.keys.is_empty() {
        let secret = &fresh.keys[&new_key];
        let message = format!(
            "The keys come from the configuration, so nothing was changed. Add the new key and \
             make it active, keeping `{previous_key}` until no value uses it:\n\n\
             [encryption]\nactive_key = \"{new_key}\"\n[encryption.keys]\n{new_key} = \"{secret}\"\n\n\
             or in the environment:\n\
             KALEI_ENCRYPTION__ACTIVE_KEY={new_key}\nKALEI_ENCRYPTION__KEYS__{}={secret}\n\n\
             Restart every server and worker with it, then run `kalei keys reencrypt`.",
            new_key.to_uppercase()
        );
        return Ok(Rotated {
            new_key,
            previous_key,
            job_id: None,
            message,
        });
    }
    set.keys.extend(fresh.keys);
    set.active = new_key.clone();
    set.write_file(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot write the encryption key file: {e}"))?;
    registry::register_active(db, &new_key, now_ms).await?;
    let job_id = enqueue_reseal(db, &new_key).await?;
    let message = format!(
        "new writes use key `{new_key}` (was `{previous_key}`); running servers reload {} within \
         encryption.reload_secs. Enqueued the re-encryption job {job_id}; when `kalei keys status` \
         shows no value on `{previous_key}`, run `kalei keys retire {previous_key}`.",
        config.data_dir.join(KEY_FILE).display()
    );
    Ok(Rotated {
        new_key,
        previous_key,
        job_id: Some(job_id),
        message,
    })
}

/// `k<N+1>` after the highest `k<N>` ever used (loaded or registered), so a
/// retired id is never reused for different key material.
fn next_key_id(set: &KeySet, known: &[RegisteredKey]) -> String {
    let highest = set
        .keys
        .keys()
        .map(String::as_str)
        .chain(known.iter().map(|k| k.id.as_str()))
        .filter_map(|id| id.strip_prefix('k')?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let mut n = highest + 1;
    loop {
        let id = format!("k{n}");
        if !set.keys.contains_key(&id) && !known.iter().any(|k| k.id == id) {
            return id;
        }
        n += 1;
    }
}

async fn enqueue_reseal(db: &Db, key_id: &str) -> anyhow::Result<String> {
    let enqueued = Jobs::new(db.clone())
        .enqueue::<ResealColumns>(&ResealPayload {
            key_id: key_id.to_string(),
        })
        .await?;
    Ok(enqueued.id().unwrap_or_default().to_string())
}

#[derive(Debug, Serialize)]
pub struct KeyStatus {
    pub active_key: String,
    pub loaded_keys: Vec<String>,
    /// Every key that was ever active, and when it was retired.
    pub registered: Vec<RegisteredKey>,
    /// Values per key id, over all sealed columns.
    pub values_per_key: BTreeMap<String, u64>,
    pub columns: Vec<ColumnUsage>,
}

pub async fn status(config: &Config, db: &Db) -> anyhow::Result<KeyStatus> {
    let set = load_set(config)?;
    let mut loaded_keys: Vec<String> = set.keys.keys().cloned().collect();
    loaded_keys.sort();
    let columns = all_usage(db).await?;
    Ok(KeyStatus {
        active_key: set.active,
        loaded_keys,
        registered: registry::list(db).await?,
        values_per_key: totals(&columns),
        columns,
    })
}

/// Forgets key `id` once no stored value uses it: removes it from the key
/// file (or says to remove it from the configuration) and marks it retired,
/// so a start without it is fine.
pub async fn retire(config: &Config, db: &Db, now_ms: i64, id: &str) -> anyhow::Result<String> {
    let mut set = load_set(config)?;
    if set.active == id {
        anyhow::bail!("`{id}` is the active key: rotate to a new key first");
    }
    let known = registry::list(db).await?;
    if !set.keys.contains_key(id) && !known.iter().any(|k| k.id == id) {
        anyhow::bail!("no encryption key `{id}` is loaded or registered");
    }
    let usage = all_usage(db).await?;
    let in_use = totals(&usage).get(id).copied().unwrap_or(0);
    if in_use > 0 {
        let columns: Vec<String> = usage
            .iter()
            .filter_map(|c| {
                c.keys
                    .get(id)
                    .map(|n| format!("{}.{}: {n}", c.table, c.column))
            })
            .collect();
        anyhow::bail!(
            "{in_use} stored value(s) still use key `{id}` ({}): let the re-encryption job \
             finish (`kalei keys reencrypt` enqueues it again) and retry",
            columns.join(", ")
        );
    }
    registry::mark_retired(db, id, now_ms).await?;
    if !config.encryption.keys.is_empty() {
        return Ok(format!(
            "key `{id}` is retired: no value uses it. Remove encryption.keys.{id} from the \
             configuration."
        ));
    }
    if set.keys.remove(id).is_some() {
        set.write_file(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot write the encryption key file: {e}"))?;
    }
    Ok(format!(
        "key `{id}` is retired and removed from {}: no value uses it.",
        config.data_dir.join(KEY_FILE).display()
    ))
}
