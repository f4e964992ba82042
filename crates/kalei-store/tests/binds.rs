//! Binding quirks of the Any driver that every repository relies on.

use kalei_store::{bind_opt_f64, db_test};

db_test!(
    /// A NULL bound first must not fix the parameter's type for the next
    /// non-NULL value on the same cached statement (one connection, so the
    /// statement cache is shared by all three inserts).
    async fn optional_doubles_bind_null_then_value(t) {
        let mut conn = t.db.pool().acquire().await.expect("connection");
        sqlx::query("CREATE TABLE bind_probe (id BIGINT NOT NULL, x DOUBLE PRECISION)")
            .execute(&mut *conn)
            .await
            .expect("create");
        for (id, value) in [(1_i64, None), (2, Some(0.25_f64)), (3, None)] {
            let insert = sqlx::query("INSERT INTO bind_probe (id, x) VALUES ($1, $2)").bind(id);
            bind_opt_f64(insert, value)
                .execute(&mut *conn)
                .await
                .expect("insert");
        }
        let rows: Vec<(i64, Option<f64>)> =
            sqlx::query_as("SELECT id, x FROM bind_probe ORDER BY id")
                .fetch_all(&mut *conn)
                .await
                .expect("select");
        assert_eq!(rows, vec![(1, None), (2, Some(0.25)), (3, None)]);
    }
);
