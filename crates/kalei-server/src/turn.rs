//! Turn (Kaleidoscope): one negative thought in, exactly three reframes of
//! distinct styles and one micro-action out. Crisis language gets the crisis
//! response instead, never a reframe. Saved turns go to the Gallery.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::entitlements::{self, Cap};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::generation;
use crate::http::json::created;
use crate::http::pagination::{Page, PageParams};
use crate::http::ApiJson;
use crate::privacy::analytics::{self, Prop};
use crate::privacy::items::OwnedItem;
use crate::product::{check_user_text, ReframeView};
use crate::safety::{self, CrisisView};
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_turn, list_turns))
        .routes(routes!(get_turn, delete_turn))
        .routes(routes!(save_turn))
}

const FEATURE: &str = "turn";
/// A thought is short by nature; long writing belongs in Mirror.
const MAX_THOUGHT_CHARS: usize = 2_000;

pub fn thought_aad(user_id: &str) -> String {
    crate::keys::columns::TURN_THOUGHT.aad(user_id)
}
fn result_aad(user_id: &str) -> String {
    crate::keys::columns::TURN_RESULT.aad(user_id)
}

/// The text of reframe `index` in a turn's sealed result (Gallery captions,
/// Spectrum's sentiment shift read it; nothing else needs the rest).
pub(crate) fn chosen_reframe_text(
    state: &AppState,
    user_id: &str,
    result_sealed: &[u8],
    index: i64,
) -> ApiResult<Option<String>> {
    let json = state
        .cipher
        .open_string(result_sealed, &result_aad(user_id))
        .map_err(ApiError::internal)?;
    let result: TurnResult = serde_json::from_str(&json).map_err(ApiError::internal)?;
    Ok(usize::try_from(index)
        .ok()
        .and_then(|i| result.reframes.get(i))
        .map(|r| r.text.clone()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTurn {
    #[schema(example = "I always mess everything up at work.")]
    pub thought: String,
    /// How much you believe the thought, 0–100.
    #[schema(example = 80, minimum = 0, maximum = 100)]
    pub belief_before: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveTurn {
    /// The reframe that helped most, 0–2.
    #[schema(example = 1, minimum = 0, maximum = 2)]
    pub chosen_reframe: Option<i64>,
    /// Belief in the original thought now, 0–100.
    #[schema(example = 40, minimum = 0, maximum = 100)]
    pub belief_after: Option<i64>,
    /// Show the chosen reframe's text on the Gallery card (default false).
    pub include_reframe: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DistortionView {
    #[serde(rename = "type")]
    #[schema(example = "overgeneralization")]
    pub type_: String,
    pub start: usize,
    pub end: usize,
    #[schema(example = "I always mess everything up")]
    pub text: String,
    pub confidence: f32,
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MicroActionView {
    #[schema(example = "Write down one thing that went okay today.")]
    pub text: String,
    #[schema(example = 5)]
    pub minutes: u32,
}

/// The generated part, stored encrypted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TurnResult {
    reframes: Vec<ReframeView>,
    micro_action: Option<MicroActionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TurnView {
    pub id: String,
    pub thought: String,
    pub distortions: Vec<DistortionView>,
    /// Exactly 3 (distinct styles), or none when the thought is crisis language.
    pub reframes: Vec<ReframeView>,
    pub micro_action: Option<MicroActionView>,
    pub crisis: CrisisView,
    #[schema(example = "local")]
    pub model: Option<String>,
    pub prompt_version: Option<String>,
    pub belief_before: Option<i64>,
    pub belief_after: Option<i64>,
    pub chosen_reframe: Option<i64>,
    pub saved_at: Option<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct TurnRow {
    id: String,
    thought_sealed: Vec<u8>,
    result_sealed: Option<Vec<u8>>,
    distortions: String,
    crisis_level: String,
    belief_before: Option<i64>,
    belief_after: Option<i64>,
    chosen_reframe: Option<i64>,
    model: Option<String>,
    prompt_version: Option<String>,
    saved_at: Option<i64>,
    created_at: i64,
}

const TURN_COLUMNS: &str =
    "id, thought_sealed, result_sealed, distortions, crisis_level, belief_before, \
    belief_after, chosen_reframe, model, prompt_version, saved_at, created_at";

impl TurnRow {
    fn view(self, state: &AppState, user_id: &str, region: &str) -> ApiResult<TurnView> {
        let thought = state
            .cipher
            .open_string(&self.thought_sealed, &thought_aad(user_id))
            .map_err(ApiError::internal)?;
        let result: TurnResult = match &self.result_sealed {
            Some(sealed) => serde_json::from_str(
                &state
                    .cipher
                    .open_string(sealed, &result_aad(user_id))
                    .map_err(ApiError::internal)?,
            )
            .map_err(ApiError::internal)?,
            None => TurnResult {
                reframes: Vec::new(),
                micro_action: None,
            },
        };
        // The crisis view is rebuilt (resources follow the user's current
        // region); only a crisis thought needs the detector again.
        let crisis = if crate::product::level_rank(&self.crisis_level)
            >= crate::product::level_rank("high")
        {
            safety::crisis_view(&kalei_analysis::detect_crisis(&thought), region)
        } else {
            CrisisView {
                level: self.crisis_level.clone(),
                categories: Vec::new(),
                message: None,
                resources: Vec::new(),
            }
        };
        Ok(TurnView {
            id: self.id,
            thought,
            distortions: serde_json::from_str(&self.distortions).unwrap_or_default(),
            reframes: result.reframes,
            micro_action: result.micro_action,
            crisis,
            model: self.model,
            prompt_version: self.prompt_version,
            belief_before: self.belief_before,
            belief_after: self.belief_after,
            chosen_reframe: self.chosen_reframe,
            saved_at: self.saved_at.map(rfc3339),
            created_at: rfc3339(self.created_at),
        })
    }
}

fn check_belief(field: &str, v: Option<i64>) -> Result<(), FieldError> {
    match v {
        Some(b) if !(0..=100).contains(&b) => Err(FieldError {
            field: field.into(),
            message: "must be between 0 and 100".into(),
        }),
        _ => Ok(()),
    }
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// Turn a thought: 3 reframes and a micro-action. With
/// `Accept: text/event-stream` the same result streams as server-sent events
/// (`analysis`, then `reframe` ×3 and `micro_action`, or `crisis`; then `done`
/// carrying the full turn).
#[utoipa::path(post, path = "/v1/turns", tag = "turn", security(("bearer" = [])),
    request_body = CreateTurn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 201, description = "The turn", body = TurnView),
        (status = 200, description = "With Accept: text/event-stream: the turn as server-sent events", content_type = "text/event-stream"),
        (status = 422, description = "Empty, too long, or belief out of range", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Daily turn limit of the plan reached", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_turn(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateTurn>,
) -> ApiResult<Response> {
    check_user_text("thought", &req.thought, MAX_THOUGHT_CHARS)?;
    crate::auth::model::collect(vec![check_belief("belief_before", req.belief_before)])?;
    let region = crate::preferences::region(&state, &user.user_id).await?;
    let verdict =
        safety::check_input(&state, &user.user_id, FEATURE, &region, &req.thought).await?;
    // Crisis language is answered whatever the plan's limits.
    if !verdict.bypass() {
        entitlements::consume(&state, &user.user_id, Cap::Turns).await?;
    }
    let analysis = &verdict.analysis;
    let id = kalei_store::new_id();
    let distortions: Vec<DistortionView> = analysis
        .fragments
        .iter()
        .map(|f| DistortionView {
            type_: f.r#type.as_str().to_string(),
            start: f.start,
            end: f.end,
            text: f.text.clone(),
            confidence: f.confidence,
            explanation: f.explanation.clone(),
        })
        .collect();
    let (result, provenance) = if verdict.bypass() {
        (
            TurnResult {
                reframes: Vec::new(),
                micro_action: None,
            },
            None,
        )
    } else {
        let g = generation::turn(&state, &user.user_id, &req.thought, analysis).await?;
        let result = TurnResult {
            reframes: g.output.reframes.iter().map(ReframeView::from).collect(),
            micro_action: Some(MicroActionView {
                text: g.output.micro_action.text,
                minutes: g.output.micro_action.minutes,
            }),
        };
        let texts: Vec<String> = result
            .reframes
            .iter()
            .map(|r| r.text.clone())
            .chain(result.micro_action.iter().map(|m| m.text.clone()))
            .collect();
        if let Err(e) =
            crate::product::ensure_safe_output(&state, &user.user_id, FEATURE, &texts).await
        {
            entitlements::refund(&state, &user.user_id, Cap::Turns).await;
            return Err(e);
        }
        (result, Some(g.provenance))
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO turns (id, user_id, thought_sealed, result_sealed, distortions, polarity, emotions, crisis_level, \
           belief_before, model, provider, prompt_version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&id)
    .bind(&user.user_id)
    .bind(state.cipher.seal_str(&req.thought, &thought_aad(&user.user_id)))
    .bind((!verdict.bypass()).then(|| {
        state.cipher.seal_str(&serde_json::to_string(&result).unwrap_or_default(), &result_aad(&user.user_id))
    }))
    .bind(serde_json::to_string(&distortions).unwrap_or_default())
    .bind(analysis.sentiment.polarity as f64)
    .bind(serde_json::to_string(&analysis.emotions).unwrap_or_default())
    .bind(analysis.crisis.level.as_str())
    .bind(req.belief_before)
    .bind(provenance.as_ref().map(|p| p.model.clone()))
    .bind(provenance.as_ref().map(|p| p.provider.clone()))
    .bind(provenance.as_ref().map(|p| p.prompt_version.clone()))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if !verdict.bypass() {
        crate::jobs::enqueue_turn_analysis(&state, &mut tx, &user.user_id, &id, "created").await?;
    }
    tx.commit().await?;
    analytics::record(
        &state,
        &user.user_id,
        analytics::event::TURN_CREATED,
        &[("distortions", Prop::Int(distortions.len() as i64))],
    )
    .await;

    let view = TurnView {
        id,
        thought: req.thought,
        distortions,
        reframes: result.reframes,
        micro_action: result.micro_action,
        crisis: verdict.crisis,
        model: provenance.as_ref().map(|p| p.model.clone()),
        prompt_version: provenance.as_ref().map(|p| p.prompt_version.clone()),
        belief_before: req.belief_before,
        belief_after: None,
        chosen_reframe: None,
        saved_at: None,
        created_at: rfc3339(now),
    };
    if wants_stream(&headers) {
        return Ok(stream(view));
    }
    Ok(created(view))
}

/// The turn as server-sent events, piece by piece, then the whole.
fn stream(view: TurnView) -> Response {
    let event =
        |name: &str, data: serde_json::Value| Event::default().event(name).data(data.to_string());
    let mut events = vec![event(
        "analysis",
        serde_json::json!({"distortions": view.distortions, "crisis": {"level": view.crisis.level}}),
    )];
    if view.reframes.is_empty() {
        events.push(event("crisis", serde_json::json!(view.crisis)));
    } else {
        for (i, r) in view.reframes.iter().enumerate() {
            events.push(event(
                "reframe",
                serde_json::json!({"index": i, "style": r.style, "text": r.text}),
            ));
        }
        if let Some(m) = &view.micro_action {
            events.push(event("micro_action", serde_json::json!(m)));
        }
    }
    events.push(event("done", serde_json::json!(view)));
    Sse::new(futures::stream::iter(
        events.into_iter().map(Ok::<_, Infallible>),
    ))
    .into_response()
}

/// Your turns, newest first.
#[utoipa::path(get, path = "/v1/turns", tag = "turn", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "A page of turns", body = Page<TurnView>)))]
async fn list_turns(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageParams>,
) -> ApiResult<ApiJson<Page<TurnView>>> {
    let page = page.validate()?;
    let rows: Vec<TurnRow> = sqlx::query_as(&format!(
        "SELECT {TURN_COLUMNS} FROM turns WHERE user_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(&user.user_id)
    .bind(page.before_id.as_deref())
    .bind(page.limit as i64 + 1)
    .fetch_all(state.db.pool())
    .await?;
    let region = crate::preferences::region(&state, &user.user_id).await?;
    let views = rows
        .into_iter()
        .map(|r| r.view(&state, &user.user_id, &region))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(ApiJson(Page::from_rows(views, &page, |v| &v.id)))
}

async fn load(state: &AppState, user_id: &str, id: &str) -> ApiResult<TurnRow> {
    sqlx::query_as(&format!(
        "SELECT {TURN_COLUMNS} FROM turns WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| ApiError::not_found("turn"))
}

/// One turn.
#[utoipa::path(get, path = "/v1/turns/{id}", tag = "turn", security(("bearer" = [])),
    params(("id" = String, Path, description = "Turn id")),
    responses(
        (status = 200, description = "The turn", body = TurnView),
        (status = 404, description = "No such turn of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_turn(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<TurnView>> {
    let region = crate::preferences::region(&state, &user.user_id).await?;
    Ok(ApiJson(load(&state, &user.user_id, &id).await?.view(
        &state,
        &user.user_id,
        &region,
    )?))
}

/// Save a turn to the Gallery with the reframe that helped and your belief now.
#[utoipa::path(post, path = "/v1/turns/{id}/save", tag = "turn", security(("bearer" = [])),
    request_body = SaveTurn,
    params(("id" = String, Path, description = "Turn id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 200, description = "The saved turn", body = TurnView),
        (status = 404, description = "No such turn of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A crisis turn has nothing to save", body = Problem, content_type = "application/problem+json"),
    ))]
async fn save_turn(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SaveTurn>,
) -> ApiResult<ApiJson<TurnView>> {
    crate::auth::model::collect(vec![
        check_belief("belief_after", req.belief_after),
        match req.chosen_reframe {
            Some(i) if !(0..=2).contains(&i) => Err(FieldError {
                field: "chosen_reframe".into(),
                message: "must be 0, 1 or 2".into(),
            }),
            _ => Ok(()),
        },
    ])?;
    let turn = load(&state, &user.user_id, &id).await?;
    if turn.result_sealed.is_none() {
        return Err(ApiError::conflict(
            "nothing_to_save",
            "This turn has no reframes to save.",
        ));
    }
    let now = state.clock.now_ms();
    let emotions: Option<String> =
        sqlx::query_scalar("SELECT emotions FROM turns WHERE user_id = $1 AND id = $2")
            .bind(&user.user_id)
            .bind(&id)
            .fetch_optional(state.db.pool())
            .await?;
    let include = req.include_reframe.unwrap_or(false) && req.chosen_reframe.is_some();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE turns SET chosen_reframe = COALESCE($1, chosen_reframe), belief_after = COALESCE($2, belief_after), \
           saved_at = COALESCE(saved_at, $3) WHERE user_id = $4 AND id = $5",
    )
    .bind(req.chosen_reframe)
    .bind(req.belief_after)
    .bind(now)
    .bind(&user.user_id)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO gallery_items (id, user_id, kind, turn_id, include_text, emotions, created_at) \
         VALUES ($1, $2, 'turn', $3, $4, $5, $6) \
         ON CONFLICT (user_id, turn_id) DO UPDATE SET include_text = excluded.include_text",
    )
    .bind(kalei_store::new_id())
    .bind(&user.user_id)
    .bind(&id)
    .bind(include as i64)
    .bind(emotions.unwrap_or_else(|| "{}".into()))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    crate::jobs::enqueue_turn_analysis(&state, &mut tx, &user.user_id, &id, "saved").await?;
    tx.commit().await?;
    analytics::record(
        &state,
        &user.user_id,
        analytics::event::TURN_SAVED,
        &[
            ("chose_reframe", Prop::Flag(req.chosen_reframe.is_some())),
            ("rated_belief", Prop::Flag(req.belief_after.is_some())),
        ],
    )
    .await;
    let region = crate::preferences::region(&state, &user.user_id).await?;
    Ok(ApiJson(load(&state, &user.user_id, &id).await?.view(
        &state,
        &user.user_id,
        &region,
    )?))
}

/// A turn goes with its Gallery card and its Spectrum impact.
const TURN_ITEM: OwnedItem = OwnedItem {
    kind: "turn",
    noun: "turn",
    steps: &[
        ("gallery_items", "turn_id"),
        ("spectrum_turn_impacts", "turn_id"),
        ("turns", "id"),
    ],
    spectrum_day: Some(("spectrum_turn_impacts", "turn_id")),
};

/// Delete a turn with everything derived from it: its Gallery card and its
/// Spectrum impact; weeks and months it counted toward are recomputed.
#[utoipa::path(delete, path = "/v1/turns/{id}", tag = "turn", security(("bearer" = [])),
    params(("id" = String, Path, description = "Turn id")),
    responses(
        (status = 204, description = "Deleted, raw and derived"),
        (status = 404, description = "No such turn of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_turn(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    crate::privacy::items::delete_owned(&state, &user.user_id, &TURN_ITEM, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
