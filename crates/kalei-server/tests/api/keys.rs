//! Column-encryption key rotation: `kalei keys rotate` → the running server
//! seals new values with the new key, the re-encryption job moves every old
//! value over, everything stays readable, and the old key can be retired
//! only afterwards. A lost key file or key fails the start loudly.

use std::time::{Duration, Instant};

use kalei_server::app::Application;
use kalei_server::config::Secret;
use kalei_server::keys::cmd::{self, KeyStatus};
use serde_json::json;

use crate::api_test;
use crate::helpers::*;
use crate::seed::*;

fn now() -> i64 {
    kalei_store::Clock::now_ms(&kalei_store::SystemClock)
}

async fn status(app: &TestApp) -> KeyStatus {
    cmd::status(&app.app.config, &app.db.db)
        .await
        .expect("keys status")
}

fn values_on(status: &KeyStatus, key: &str) -> u64 {
    status.values_per_key.get(key).copied().unwrap_or(0)
}

/// Polls `check` until it holds; the deadline only bounds a broken run.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

api_test!(
    async fn rotation_reseals_every_old_value_and_retire_waits_for_it(app) {
        let a = app.register("keys-a@example.com").await;
        let b = app.register("keys-b@example.com").await;
        let ids_a = seed_content(&app, &a).await;
        let ids_b = seed_content(&app, &b).await;

        let before = status(&app).await;
        assert_eq!(before.active_key, "k1");
        // Every sealed column holds values, all on k1.
        for column in &before.columns {
            assert!(values_on_column(column, "k1") > 0, "{}.{} is empty", column.table, column.column);
            assert_eq!(column.keys.len(), 1, "{column:?}");
        }
        let old_total = values_on(&before, "k1");

        let rotated = cmd::rotate(&app.app.config, &app.db.db, now()).await.unwrap();
        assert_eq!((rotated.previous_key.as_str(), rotated.new_key.as_str()), ("k1", "k2"));
        assert!(rotated.job_id.is_some(), "the re-encryption job is enqueued");
        // Retiring the old key is refused while values use it.
        let refused = cmd::retire(&app.app.config, &app.db.db, now(), "k1").await.unwrap_err();
        assert!(refused.to_string().contains("still use key `k1`"), "{refused}");
        let refused = cmd::retire(&app.app.config, &app.db.db, now(), "k2").await.unwrap_err();
        assert!(refused.to_string().contains("active key"), "{refused}");

        // The running server notices the key file change by itself.
        eventually("the server reloads the key file", || async { app.app.cipher.active_key() == "k2" }).await;
        json_ok(app.post("/v1/lens/goals", &json!({"title": "written after the rotation"}), Some(&a.access)).await, 201).await;
        let newest: Vec<u8> = sqlx::query_scalar("SELECT title_sealed FROM lens_goals ORDER BY id DESC LIMIT 1")
            .fetch_one(app.db.db.pool())
            .await
            .unwrap();
        assert_eq!(kalei_server::crypto::Cipher::key_id(&newest).unwrap(), "k2");
        assert_eq!(values_on(&status(&app).await, "k1"), old_total, "the job has not run yet");

        // The background job moves every old value to k2.
        let worker = kalei_server::jobs::start_worker(&app.app, None).unwrap();
        eventually("the re-encryption job completes", || async {
            app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'keys.reseal' AND state = 'completed'").await == 1
        })
        .await;
        worker.shutdown().await;
        let after = status(&app).await;
        assert_eq!(values_on(&after, "k1"), 0, "{after:?}");
        assert_eq!(values_on(&after, "k2"), old_total + 1);

        // Everything still decrypts, for both users, through the API.
        assert_content_readable(&app, &a, &ids_a).await;
        assert_content_readable(&app, &b, &ids_b).await;

        // Now k1 can go: out of the key file, retired in the registry.
        cmd::retire(&app.app.config, &app.db.db, now(), "k1").await.unwrap();
        let file = std::fs::read_to_string(app.app.config.data_dir.join("encryption.keys")).unwrap();
        assert!(!file.contains("\"k1\""), "{file}");
        let retired = status(&app).await;
        assert_eq!(retired.loaded_keys, vec!["k2".to_string()]);
        assert!(retired.registered.iter().any(|k| k.id == "k1" && k.retired_at.is_some()));
        // A restart with only k2 is fine, and reads still work.
        eventually("the server drops k1", || async { !app.app.cipher.current().has_key("k1") }).await;
        assert_content_readable(&app, &a, &ids_a).await;
        let mut config = app.app.config.clone();
        config.listen = "127.0.0.1:0".into();
        Application::build(config).await.expect("a start without the retired key");

        // A second rotation never reuses a retired id.
        let again = cmd::rotate(&app.app.config, &app.db.db, now()).await.unwrap();
        assert_eq!(again.new_key, "k3");
    }
);

fn values_on_column(column: &kalei_server::keys::usage::ColumnUsage, key: &str) -> u64 {
    column.keys.get(key).copied().unwrap_or(0)
}

api_test!(
    async fn a_missing_key_file_or_key_stops_the_start(app) {
        let a = app.register("keys-lost@example.com").await;
        json_ok(app.post("/v1/lens/goals", &json!({"title": GOAL}), Some(&a.access)).await, 201).await;

        // Same database, a data directory without the key file.
        let empty = tempfile::tempdir().unwrap();
        let mut config = app.app.config.clone();
        config.data_dir = empty.path().to_path_buf();
        let err = Application::build(config.clone()).await.err().expect("refused").to_string();
        assert!(err.contains("encryption.keys is missing"), "{err}");
        assert!(!empty.path().join("encryption.keys").exists(), "no new key was written");

        // A key file that lacks the key the stored values use.
        let other = kalei_server::crypto::KeySet::generate("k7");
        other.write_file(empty.path()).unwrap();
        let err = Application::build(config.clone()).await.err().expect("refused").to_string();
        assert!(err.contains("`k1`"), "{err}");

        // Configured keys without it.
        let mut configured = app.app.config.clone();
        configured.encryption.keys.insert("k7".into(), Secret::new(other.keys["k7"].clone()));
        let err = Application::build(configured.clone()).await.err().expect("refused").to_string();
        assert!(err.contains("`k1`") && err.contains("encryption.keys"), "{err}");

        // Rotating with configured keys changes nothing and says what to add.
        let before = std::fs::read_to_string(app.app.config.data_dir.join("encryption.keys")).unwrap();
        let rotated = cmd::rotate(&configured, &app.db.db, now()).await.unwrap();
        assert!(rotated.job_id.is_none());
        assert!(rotated.message.contains(&format!("KALEI_ENCRYPTION__KEYS__{}=", rotated.new_key.to_uppercase())), "{}", rotated.message);
        assert_eq!(std::fs::read_to_string(app.app.config.data_dir.join("encryption.keys")).unwrap(), before);
        assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'keys.reseal'").await, 0);

        // An unreadable replacement key file is refused by a running server,
        // which keeps sealing with the keys it has.
        std::fs::write(app.app.config.data_dir.join("encryption.keys"), other_file_text(&other)).unwrap();
        let err = app.app.cipher.reload(&app.db.db, now()).await.unwrap_err().to_string();
        assert!(err.contains("`k1`"), "{err}");
        assert_eq!(app.app.cipher.active_key(), "k1");
        std::fs::write(app.app.config.data_dir.join("encryption.keys"), &before).unwrap();
        json_ok(app.post("/v1/lens/goals", &json!({"title": "Still sealed"}), Some(&a.access)).await, 201).await;
        let goals = json_ok(app.get("/v1/lens/goals", Some(&a.access)).await, 200).await;
        assert_eq!(goals["items"].as_array().unwrap().len(), 2);
    }
);

fn other_file_text(set: &kalei_server::crypto::KeySet) -> String {
    serde_json::to_string(set).unwrap()
}

/// The `kalei keys` commands end to end through the binary (SQLite).
#[test]
fn keys_commands_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let kalei = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kalei"));
        for (k, _) in std::env::vars() {
            if k.starts_with("KALEI_") {
                cmd.env_remove(k);
            }
        }
        let out = cmd
            .env("KALEI_DATA_DIR", dir.path())
            .env("KALEI_LOG__LEVEL", "error")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // No key file yet: nothing to rotate, said plainly.
    let (ok, _, err) = kalei(&["keys", "rotate"]);
    assert!(!ok && err.contains("start the server once"), "{err}");

    kalei_server::crypto::KeySet::generate("k1")
        .write_file(dir.path())
        .unwrap();
    let (ok, out, err) = kalei(&["keys", "rotate"]);
    assert!(ok, "{err}");
    assert!(out.contains("new writes use key `k2`"), "{out}");
    let (ok, out, err) = kalei(&["keys", "status"]);
    assert!(ok, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["active_key"], "k2");
    assert_eq!(status["loaded_keys"], json!(["k1", "k2"]));
    assert_eq!(
        status["columns"].as_array().unwrap().len(),
        kalei_server::keys::SEALED_COLUMNS.len()
    );

    let (ok, _, err) = kalei(&["keys", "retire", "k2"]);
    assert!(!ok && err.contains("active key"), "{err}");
    let (ok, out, err) = kalei(&["keys", "retire", "k1"]);
    assert!(ok && out.contains("retired"), "{out}{err}");
    let (ok, out, _) = kalei(&["keys", "status"]);
    assert!(ok);
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["loaded_keys"] == json!(["k2"])
    );
    let (ok, out, err) = kalei(&["keys", "reencrypt"]);
    assert!(
        ok && out.contains("enqueued the re-encryption job"),
        "{out}{err}"
    );
}
