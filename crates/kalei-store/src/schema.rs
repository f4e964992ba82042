//! Schema introspection on both dialects, normalised so the SQLite and Postgres
//! migration trees can be compared (and so privacy code can walk every table).

use std::collections::BTreeMap;

use sqlx::Row;

use crate::db::{Db, Dialect};
use crate::error::StoreResult;

/// A column type reduced to what both dialects agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColumnKind {
    Text,
    Integer,
    Real,
    Bool,
    Blob,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnInfo {
    pub name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
}

fn normalise(declared: &str) -> ColumnKind {
    let t = declared.to_ascii_lowercase();
    match t.as_str() {
        "text" | "character varying" | "varchar" => ColumnKind::Text,
        "bigint" | "integer" | "int" | "int8" | "int4" | "smallint" => ColumnKind::Integer,
        "real" | "double precision" | "float8" | "double" => ColumnKind::Real,
        "boolean" | "bool" => ColumnKind::Bool,
        "blob" | "bytea" => ColumnKind::Blob,
        _ => ColumnKind::Other,
    }
}

/// Every application table (migration bookkeeping excluded) with its columns,
/// sorted by name.
pub async fn describe(db: &Db) -> StoreResult<BTreeMap<String, Vec<ColumnInfo>>> {
    let mut tables = BTreeMap::new();
    match db.dialect() {
        Dialect::Sqlite => {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
            )
            .fetch_all(db.pool())
            .await?;
            for table in names {
                let rows = sqlx::query(
                    "SELECT name, type, \"notnull\" AS not_null, pk FROM pragma_table_info($1)",
                )
                .bind(&table)
                .fetch_all(db.pool())
                .await?;
                let mut cols = Vec::with_capacity(rows.len());
                for row in rows {
                    let notnull: i64 = row.try_get("not_null")?;
                    let pk: i64 = row.try_get("pk")?;
                    cols.push(ColumnInfo {
                        name: row.try_get("name")?,
                        kind: normalise(&row.try_get::<String, _>("type")?),
                        // Postgres makes primary-key columns NOT NULL implicitly.
                        nullable: notnull == 0 && pk == 0,
                    });
                }
                cols.sort();
                tables.insert(table, cols);
            }
        }
        Dialect::Postgres => {
            let rows = sqlx::query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                        data_type::text AS data_type, is_nullable::text AS is_nullable \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name::text NOT LIKE '\\_sqlx%' \
                 ORDER BY table_name, column_name",
            )
            .fetch_all(db.pool())
            .await?;
            for row in rows {
                let table: String = row.try_get("table_name")?;
                let nullable: String = row.try_get("is_nullable")?;
                tables
                    .entry(table)
                    .or_insert_with(Vec::new)
                    .push(ColumnInfo {
                        name: row.try_get("column_name")?,
                        kind: normalise(&row.try_get::<String, _>("data_type")?),
                        nullable: nullable == "YES",
                    });
            }
            for cols in tables.values_mut() {
                cols.sort();
            }
        }
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_normalise_across_dialects() {
        assert_eq!(normalise("BIGINT"), normalise("bigint"));
        assert_eq!(normalise("BLOB"), normalise("bytea"));
        assert_eq!(normalise("BOOLEAN"), normalise("boolean"));
        assert_eq!(normalise("DOUBLE PRECISION"), normalise("REAL"));
        assert_eq!(normalise("jsonb"), ColumnKind::Other);
    }
}
