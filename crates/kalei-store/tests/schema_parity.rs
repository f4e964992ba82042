//! The SQLite and Postgres migration trees must produce the same tables and
//! columns (names, normalised types, nullability), so they cannot drift.

use kalei_store::schema::describe;
use kalei_store::testing::{Backend, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_match() {
    let sqlite = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let Some(postgres) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let a = describe(&sqlite.db).await.unwrap();
    let b = describe(&postgres.db).await.unwrap();
    assert!(a.contains_key("users"), "migrations did not run: {a:?}");

    let only_sqlite: Vec<_> = a.keys().filter(|t| !b.contains_key(*t)).collect();
    let only_postgres: Vec<_> = b.keys().filter(|t| !a.contains_key(*t)).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "tables differ: only in sqlite {only_sqlite:?}, only in postgres {only_postgres:?}"
    );
    for (table, cols) in &a {
        assert_eq!(
            cols, &b[table],
            "columns of `{table}` differ (left sqlite, right postgres)"
        );
    }
    // Both trees carry the same migration versions.
    assert!(sqlite.db.pending_migrations().await.unwrap().is_empty());
    assert!(postgres.db.pending_migrations().await.unwrap().is_empty());
}

#[tokio::test]
async fn migrations_are_idempotent_and_tracked() {
    let t = TestDb::new_unmigrated(Backend::Sqlite).await.unwrap();
    assert!(!t.db.pending_migrations().await.unwrap().is_empty());
    t.db.migrate().await.unwrap();
    t.db.migrate().await.unwrap();
    assert!(t.db.pending_migrations().await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let t = TestDb::new(Backend::Sqlite).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(t.db.pool())
        .await
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(t.db.pool())
        .await
        .unwrap();
    assert_eq!(fk, 1);
}
