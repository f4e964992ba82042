//! Gallery: saved turns and session reflections, newest first, each with its
//! kaleidoscope card.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kalei_analysis::Emotions;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::pagination::{Page, PageParams};
use crate::http::ApiJson;
use crate::privacy::items::OwnedItem;
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_gallery))
        .routes(routes!(card_svg))
        .routes(routes!(delete_item))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GalleryItem {
    pub id: String,
    /// `turn` or `reflection`
    #[schema(example = "turn")]
    pub kind: String,
    pub turn_id: Option<String>,
    pub session_id: Option<String>,
    /// For a turn: the reframe you chose. For a reflection: its text.
    pub text: Option<String>,
    /// Relative URL of the card.
    #[schema(example = "/v1/gallery/01932f6e-7a1c-7cc3-9a55-3f1f0e6f4a10/card.svg")]
    pub card_url: String,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: String,
    kind: String,
    turn_id: Option<String>,
    session_id: Option<String>,
    include_text: i64,
    emotions: String,
    created_at: i64,
}

const ITEM_COLUMNS: &str = "id, kind, turn_id, session_id, include_text, emotions, created_at";

/// The text that belongs to an item: the chosen reframe of a turn, or a
/// session's reflection.
async fn item_text(state: &AppState, user_id: &str, row: &ItemRow) -> ApiResult<Option<String>> {
    if let Some(turn_id) = &row.turn_id {
        let r: Option<(Option<Vec<u8>>, Option<i64>)> = sqlx::query_as(
            "SELECT result_sealed, chosen_reframe FROM turns WHERE user_id = $1 AND id = $2",
        )
        .bind(user_id)
        .bind(turn_id)
        .fetch_optional(state.db.pool())
        .await?;
        let Some((Some(sealed), Some(chosen))) = r else {
            return Ok(None);
        };
        return crate::turn::chosen_reframe_text(state, user_id, &sealed, chosen);
    }
    if let Some(session_id) = &row.session_id {
        let sealed: Option<Option<Vec<u8>>> = sqlx::query_scalar(
            "SELECT reflection_sealed FROM mirror_sessions WHERE user_id = $1 AND id = $2",
        )
        .bind(user_id)
        .bind(session_id)
        .fetch_optional(state.db.pool())
        .await?;
        if let Some(Some(sealed)) = sealed {
            return Ok(Some(
                state
                    .cipher
                    .open_string(&sealed, &crate::mirror::reflection_aad(user_id))
                    .map_err(ApiError::internal)?,
            ));
        }
    }
    Ok(None)
}

/// Saved turns and session reflections, newest first.
#[utoipa::path(get, path = "/v1/gallery", tag = "gallery", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "A page of gallery items", body = Page<GalleryItem>)))]
async fn list_gallery(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageParams>,
) -> ApiResult<ApiJson<Page<GalleryItem>>> {
    let page = page.validate()?;
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM gallery_items WHERE user_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(&user.user_id)
    .bind(page.before_id.as_deref())
    .bind(page.limit as i64 + 1)
    .fetch_all(state.db.pool())
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(GalleryItem {
            id: row.id.clone(),
            kind: row.kind.clone(),
            turn_id: row.turn_id.clone(),
            session_id: row.session_id.clone(),
            text: item_text(&state, &user.user_id, row).await?,
            card_url: format!("/v1/gallery/{}/card.svg", row.id),
            created_at: rfc3339(row.created_at),
        });
    }
    Ok(ApiJson(Page::from_rows(items, &page, |i| &i.id)))
}

/// The item's kaleidoscope card (deterministic SVG from its emotional vector;
/// text only when you chose to include the reframe).
#[utoipa::path(get, path = "/v1/gallery/{id}/card.svg", tag = "gallery", security(("bearer" = [])),
    params(("id" = String, Path, description = "Gallery item id")),
    responses(
        (status = 200, description = "SVG image", content_type = "image/svg+xml"),
        (status = 404, description = "No such item of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn card_svg(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row: ItemRow = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM gallery_items WHERE user_id = $1 AND id = $2"
    ))
    .bind(&user.user_id)
    .bind(&id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| ApiError::not_found("gallery item"))?;
    let emotions: Emotions = serde_json::from_str(&row.emotions).unwrap_or_default();
    // Only a turn's chosen reframe, and only when asked for, is drawn.
    let caption = if row.include_text != 0 && row.kind == "turn" {
        item_text(&state, &user.user_id, &row).await?
    } else {
        None
    };
    let svg = crate::card::render(&emotions, caption.as_deref());
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    )
        .into_response())
}

/// A Gallery item: its card is rendered on demand, so nothing is derived.
const GALLERY_ITEM: OwnedItem = OwnedItem {
    kind: "gallery_item",
    noun: "gallery_item",
    steps: &[("gallery_items", "id")],
    spectrum_day: None,
};

/// Remove an item from your Gallery. The turn or session it came from stays
/// (delete those with their own endpoints); its card is rendered on demand,
/// so nothing else is derived from the item.
#[utoipa::path(delete, path = "/v1/gallery/{id}", tag = "gallery", security(("bearer" = [])),
    params(("id" = String, Path, description = "Gallery item id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such item of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_item(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    crate::privacy::items::delete_owned(&state, &user.user_id, &GALLERY_ITEM, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
