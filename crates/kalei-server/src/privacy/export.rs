//! `GET /v1/me/export`: everything the user owns as one JSON document,
//! streamed section by section so a large account never sits in memory.
//!
//! The sections come from the live schema: the account (user and profile,
//! without the password hash), then one array per table that has a
//! `user_id` column, holding the user's rows. A table added later shows up
//! without touching this file. Per column:
//! - `*_sealed` (encrypted text) is decrypted and exported under the name
//!   without the suffix (`content_sealed` → `content`) with the associated
//!   data of its entry in [`crate::keys::columns`];
//!   reframe lists and turn results are exported as JSON;
//! - `*_at` times become RFC 3339 strings;
//! - columns holding JSON text (see [`JSON_COLUMNS`]) are exported as JSON.
//!
//! Left out: authentication secrets (refresh-token hashes), the transient
//! idempotency and job-queue tables, which hold copies and ids, not data of
//! the user's own.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use kalei_store::schema::{ColumnInfo, ColumnKind};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::model::UserView;
use crate::auth::{service, AuthUser};
use crate::error::{ApiError, ApiResult, Problem};
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

/// Tables with a `user_id` that are not exported (see the module docs).
const SKIPPED_TABLES: &[&str] = &["refresh_tokens", "idempotency_keys", "jobs", "users"];
/// Columns never exported.
const SKIPPED_COLUMNS: &[&str] = &["password_hash", "token_hash"];
/// Text columns that hold JSON documents.
pub const JSON_COLUMNS: &[&str] = &[
    "aggregates",
    "categories",
    "detail",
    "distortion_counts",
    "distortions",
    "emotions",
    "payload",
    "properties",
];
/// Encrypted columns whose plaintext is a JSON document (reframe lists,
/// turn results); other decrypted text is exported as a string as written.
const SEALED_JSON: &[&str] = &["reframes", "result"];
/// Bytes buffered before a chunk is sent.
const CHUNK: usize = 32 * 1024;
/// Chunks in flight between the reader task and the connection: the
/// reader waits (and holds no more rows) while the client is slow.
const CHANNEL_DEPTH: usize = 4;

/// The export document (documentation of the streamed body).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportDocument {
    /// Always `kalei-export`.
    #[schema(example = "kalei-export")]
    pub format: String,
    #[schema(example = 1)]
    pub version: u32,
    pub exported_at: String,
    pub account: UserView,
    /// Table name → the user's rows, e.g. `mirror_sessions`,
    /// `mirror_messages` (with decrypted `content`), `mirror_fragments`,
    /// `turns` (with `thought` and `result`), `gallery_items`, `lens_goals`,
    /// `lens_actions`, `lens_affirmations`, `spectrum_*`, `user_preferences`,
    /// `user_consents`, `consent_events`, `subscriptions`,
    /// `entitlement_snapshots`, `billing_events`, `safety_events`,
    /// `audit_events`, `analytics_events`, `auth_sessions`. Times are RFC 3339.
    #[schema(value_type = Object)]
    pub data: BTreeMap<String, Vec<Value>>,
}

struct Section {
    table: String,
    columns: Vec<ColumnInfo>,
}

/// Download everything you own as one JSON document.
///
/// The body streams; it is served as an attachment
/// (`kalei-export-YYYY-MM-DD.json`). Encrypted writing is decrypted.
#[utoipa::path(get, path = "/v1/me/export", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "The export document (streamed)", body = ExportDocument,
            headers(("content-disposition" = String, description = "attachment; filename=\"kalei-export-….json\""))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
async fn export(State(state): State<AppState>, user: AuthUser) -> ApiResult<Response> {
    let record = service::user_by_id(&state, &user.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    let sections: Vec<Section> = kalei_store::schema::describe(&state.db)
        .await?
        .into_iter()
        .filter(|(table, cols)| {
            !SKIPPED_TABLES.contains(&table.as_str()) && cols.iter().any(|c| c.name == "user_id")
        })
        .map(|(table, columns)| Section { table, columns })
        .collect();
    let now = state.clock.now_ms();
    let head = serde_json::json!({
        "format": "kalei-export",
        "version": 1,
        "exported_at": rfc3339(now),
        "account": record.view(),
    });
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_DEPTH);
    let user_id = user.user_id.clone();
    tokio::spawn(async move {
        if let Err(e) = write_document(&state, &user_id, head, &sections, &tx).await {
            // The status line is sent already: end the body with an error so
            // the client sees a broken download, never a short "valid" one.
            tracing::error!(error = %e, "export failed mid-stream");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let stamp = rfc3339(now);
    let day = &stamp[..10];
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kalei-export-{day}.json\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// Sends buffered bytes in chunks; fails when the client went away.
struct Sink<'a> {
    buf: Vec<u8>,
    tx: &'a mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Sink<'_> {
    async fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.buf.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buf));
            self.tx
                .send(Ok(chunk))
                .await
                .map_err(|_| anyhow::anyhow!("client disconnected"))?;
        }
        Ok(())
    }
}

async fn write_document(
    state: &AppState,
    user_id: &str,
    head: Value,
    sections: &[Section],
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    let mut sink = Sink {
        buf: Vec::with_capacity(CHUNK * 2),
        tx,
    };
    // The head without its closing brace, then `"data": {` and the sections.
    let head = serde_json::to_string(&head)?;
    sink.write(&head.as_bytes()[..head.len() - 1]).await?;
    sink.write(b",\"data\":{").await?;
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            sink.write(b",").await?;
        }
        sink.write(serde_json::to_string(&section.table)?.as_bytes())
            .await?;
        sink.write(b":[").await?;
        write_rows(state, user_id, section, &mut sink).await?;
        sink.write(b"]").await?;
    }
    sink.write(b"}}").await?;
    sink.flush().await
}

async fn write_rows(
    state: &AppState,
    user_id: &str,
    section: &Section,
    sink: &mut Sink<'_>,
) -> anyhow::Result<()> {
    let names: Vec<String> = section
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    let order = ["created_at", "id"]
        .into_iter()
        .find(|o| section.columns.iter().any(|c| c.name == *o))
        .map(|o| format!(" ORDER BY \"{o}\""))
        .unwrap_or_default();
    let sql = format!(
        "SELECT {} FROM \"{}\" WHERE user_id = $1{order}",
        names.join(", "),
        section.table
    );
    let mut rows = sqlx::query(&sql).bind(user_id).fetch(state.db.pool());
    let mut first = true;
    while let Some(row) = rows.try_next().await? {
        let value = row_to_json(state, user_id, &section.table, &section.columns, &row)?;
        if !first {
            sink.write(b",").await?;
        }
        first = false;
        sink.write(serde_json::to_string(&value)?.as_bytes())
            .await?;
    }
    Ok(())
}

fn row_to_json(
    state: &AppState,
    user_id: &str,
    table: &str,
    columns: &[ColumnInfo],
    row: &sqlx::any::AnyRow,
) -> anyhow::Result<Value> {
    let mut out = Map::new();
    for c in columns {
        let name = c.name.as_str();
        if SKIPPED_COLUMNS.contains(&name) {
            continue;
        }
        if let Some(stem) = name.strip_suffix("_sealed") {
            let sealed: Option<Vec<u8>> = row.try_get(name)?;
            let text = match sealed {
                Some(bytes) => {
                    let aad = crate::keys::columns::find(table, name)
                        .ok_or_else(|| {
                            anyhow::anyhow!("{table}.{name} is missing from keys::columns")
                        })?
                        .aad(user_id);
                    let text = state
                        .cipher
                        .open_string(&bytes, &aad)
                        .map_err(|e| anyhow::anyhow!("cannot decrypt {table}.{name}: {e}"))?;
                    if SEALED_JSON.contains(&stem) {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    } else {
                        Value::String(text)
                    }
                }
                None => Value::Null,
            };
            out.insert(stem.to_string(), text);
            continue;
        }
        let value = match c.kind {
            ColumnKind::Integer => match row.try_get::<Option<i64>, _>(name)? {
                Some(ms) if name.ends_with("_at") => Value::from(rfc3339(ms)),
                Some(n) => Value::from(n),
                None => Value::Null,
            },
            ColumnKind::Real => row
                .try_get::<Option<f64>, _>(name)?
                .map_or(Value::Null, Value::from),
            ColumnKind::Blob => continue, // no unencrypted binary user data exists
            _ => match row.try_get::<Option<String>, _>(name)? {
                Some(s) if JSON_COLUMNS.contains(&name) => {
                    serde_json::from_str(&s).unwrap_or(Value::String(s))
                }
                Some(s) => Value::String(s),
                None => Value::Null,
            },
        };
        out.insert(name.to_string(), value);
    }
    Ok(Value::Object(out))
}
