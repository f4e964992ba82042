//! Mirror: free writing in sessions. Each message passes the safety gate,
//! then its fragments (cognitive-distortion spans) are stored with it; a
//! fragment can be reframed inline; closing a session writes a reflection
//! from aggregates only. Message text is column-encrypted.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kalei_analysis::templates::SessionSummary;
use kalei_analysis::{DistortionType, Emotions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::entitlements::{self, Cap};
use crate::error::{ApiError, ApiResult, Problem};
use crate::generation;
use crate::http::json::created;
use crate::http::pagination::{Page, PageParams};
use crate::http::ApiJson;
use crate::privacy::analytics::{self, Prop};
use crate::privacy::items::OwnedItem;
use crate::product::{ReframeView, MAX_TEXT_CHARS};
use crate::safety::{self, CrisisView};
use crate::time::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session, list_sessions))
        .routes(routes!(post_message))
        .routes(routes!(reframe_fragment))
        .routes(routes!(close_session))
        .routes(routes!(get_session, delete_session))
}

const FEATURE: &str = "mirror";

pub fn content_aad(user_id: &str) -> String {
    crate::keys::columns::MIRROR_MESSAGE_CONTENT.aad(user_id)
}
pub(crate) fn reflection_aad(user_id: &str) -> String {
    crate::keys::columns::MIRROR_SESSION_REFLECTION.aad(user_id)
}
fn fragment_reframes_aad(user_id: &str) -> String {
    crate::keys::columns::MIRROR_FRAGMENT_REFRAMES.aad(user_id)
}

#[derive(Debug, Serialize, ToSchema)]
// `SessionView` is also the auth (device) session's schema: one name in the
// document, or Mirror responses would point at the wrong schema.
#[schema(as = MirrorSessionView)]
pub struct SessionView {
    #[schema(example = "01932f6e-7a1c-7cc3-9a55-3f1f0e6f4a10")]
    pub id: String,
    /// open or closed
    #[schema(example = "open")]
    pub status: String,
    pub started_at: String,
    pub closed_at: Option<String>,
    pub message_count: i64,
    /// The reflection written when the session closed.
    pub reflection: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FragmentView {
    pub id: String,
    /// One of the 12 distortion types.
    #[serde(rename = "type")]
    #[schema(example = "overgeneralization")]
    pub type_: String,
    /// Character offsets into the message (Unicode scalar values).
    pub start: i64,
    pub end: i64,
    #[schema(example = "I always mess everything up")]
    pub text: String,
    pub confidence: f64,
    pub explanation: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub session_id: String,
    #[schema(example = "I always mess everything up at work.")]
    pub content: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageWithFragments {
    #[serde(flatten)]
    pub message: MessageView,
    pub fragments: Vec<FragmentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionView,
    pub messages: Vec<MessageWithFragments>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostMessageResponse {
    pub message: MessageView,
    /// Empty when the crisis level is high or imminent.
    pub fragments: Vec<FragmentView>,
    pub crisis: CrisisView,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    #[schema(example = "01932f6e-7a1c-7cc3-9a55-3f1f0e6f4a10")]
    pub session_id: String,
    #[schema(example = "I always mess everything up at work.")]
    pub content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FragmentReframes {
    pub fragment_id: String,
    /// Empty when the fragment's text is crisis language.
    pub reframes: Vec<ReframeView>,
    pub crisis: CrisisView,
    pub model: String,
    pub prompt_version: String,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    status: String,
    started_at: i64,
    closed_at: Option<i64>,
    message_count: i64,
    reflection_sealed: Option<Vec<u8>>,
    max_crisis_level: String,
}

impl SessionRow {
    fn view(&self, state: &AppState, user_id: &str) -> ApiResult<SessionView> {
        let reflection = match &self.reflection_sealed {
            Some(sealed) => Some(
                state
                    .cipher
                    .open_string(sealed, &reflection_aad(user_id))
                    .map_err(ApiError::internal)?,
            ),
            None => None,
        };
        Ok(SessionView {
            id: self.id.clone(),
            status: self.status.clone(),
            started_at: rfc3339(self.started_at),
            closed_at: self.closed_at.map(rfc3339),
            message_count: self.message_count,
            reflection,
        })
    }
}

const SESSION_COLUMNS: &str =
    "id, status, started_at, closed_at, message_count, reflection_sealed, max_crisis_level";

async fn load_session(state: &AppState, user_id: &str, id: &str) -> ApiResult<SessionRow> {
    sqlx::query_as(&format!(
        "SELECT {SESSION_COLUMNS} FROM mirror_sessions WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| ApiError::not_found("session"))
}

/// Start a writing session.
#[utoipa::path(post, path = "/v1/mirror/sessions", tag = "mirror", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 201, description = "The new session", body = SessionView),
        (status = 429, description = "Daily session limit of the plan reached", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_session(State(state): State<AppState>, user: AuthUser) -> ApiResult<Response> {
    entitlements::consume(&state, &user.user_id, Cap::MirrorSessions).await?;
    let id = kalei_store::new_id();
    let now = state.clock.now_ms();
    sqlx::query(
        "INSERT INTO mirror_sessions (id, user_id, status, started_at) VALUES ($1, $2, 'open', $3)",
    )
    .bind(&id)
    .bind(&user.user_id)
    .bind(now)
    .execute(state.db.pool())
    .await?;
    Ok(created(SessionView {
        id,
        status: "open".into(),
        started_at: rfc3339(now),
        closed_at: None,
        message_count: 0,
        reflection: None,
    }))
}

/// Your sessions, newest first.
#[utoipa::path(get, path = "/v1/mirror/sessions", tag = "mirror", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "A page of sessions", body = Page<SessionView>)))]
async fn list_sessions(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageParams>,
) -> ApiResult<ApiJson<Page<SessionView>>> {
    let page = page.validate()?;
    let rows: Vec<SessionRow> = sqlx::query_as(&format!(
        "SELECT {SESSION_COLUMNS} FROM mirror_sessions WHERE user_id = $1 AND ($2 IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(&user.user_id)
    .bind(page.before_id.as_deref())
    .bind(page.limit as i64 + 1)
    .fetch_all(state.db.pool())
    .await?;
    let views = rows
        .iter()
        .map(|r| r.view(&state, &user.user_id))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(ApiJson(Page::from_rows(views, &page, |v| &v.id)))
}

/// Write a message. It is checked for crisis language first: at high or
/// imminent nothing is analysed for reframing and the response carries the
/// crisis message and resources for your region.
#[utoipa::path(post, path = "/v1/mirror/messages", tag = "mirror", security(("bearer" = [])),
    request_body = PostMessage,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 201, description = "The stored message with its fragments and crisis check", body = PostMessageResponse),
        (status = 404, description = "No such session of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The session is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or too long", body = Problem, content_type = "application/problem+json"),
    ))]
async fn post_message(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<PostMessage>,
) -> ApiResult<Response> {
    crate::product::check_user_text("content", &req.content, MAX_TEXT_CHARS)?;
    let session = load_session(&state, &user.user_id, &req.session_id).await?;
    if session.status != "open" {
        return Err(ApiError::conflict(
            "session_closed",
            "This session is closed.",
        ));
    }
    let region = crate::preferences::region(&state, &user.user_id).await?;
    let verdict =
        safety::check_input(&state, &user.user_id, FEATURE, &region, &req.content).await?;
    let analysis = &verdict.analysis;
    let now = state.clock.now_ms();
    let message_id = kalei_store::new_id();
    let words = req.content.split_whitespace().count() as i64;
    let level = analysis.crisis.level.as_str();

    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO mirror_messages (id, user_id, session_id, content_sealed, char_count, word_count, \
           polarity, emotions, crisis_level, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&message_id)
    .bind(&user.user_id)
    .bind(&session.id)
    .bind(state.cipher.seal_str(&req.content, &content_aad(&user.user_id)))
    .bind(req.content.chars().count() as i64)
    .bind(words)
    .bind(analysis.sentiment.polarity as f64)
    .bind(serde_json::to_string(&analysis.emotions).unwrap_or_default())
    .bind(level)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // The highest crisis level seen in the session, kept for the reflection.
    let max_level = if crate::product::level_rank(level)
        > crate::product::level_rank(&session.max_crisis_level)
    {
        level
    } else {
        session.max_crisis_level.as_str()
    };
    sqlx::query(
        "UPDATE mirror_sessions SET message_count = message_count + 1, max_crisis_level = $1 \
         WHERE id = $2 AND user_id = $3",
    )
    .bind(max_level)
    .bind(&session.id)
    .bind(&user.user_id)
    .execute(&mut *tx)
    .await?;
    let mut fragments = Vec::new();
    if !verdict.bypass() {
        for f in &analysis.fragments {
            let id = kalei_store::new_id();
            sqlx::query(
                "INSERT INTO mirror_fragments (id, user_id, session_id, message_id, distortion, start_offset, \
                   end_offset, confidence, explanation, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&id)
            .bind(&user.user_id)
            .bind(&session.id)
            .bind(&message_id)
            .bind(f.r#type.as_str())
            .bind(f.start as i64)
            .bind(f.end as i64)
            .bind(f.confidence as f64)
            .bind(&f.explanation)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            fragments.push(FragmentView {
                id,
                type_: f.r#type.as_str().to_string(),
                start: f.start as i64,
                end: f.end as i64,
                text: f.text.clone(),
                confidence: f.confidence as f64,
                explanation: f.explanation.clone(),
            });
        }
    }
    tx.commit().await?;
    Ok(created(PostMessageResponse {
        message: MessageView {
            id: message_id,
            session_id: session.id,
            content: req.content,
            created_at: rfc3339(now),
        },
        fragments,
        crisis: verdict.crisis,
    }))
}

#[derive(sqlx::FromRow)]
struct FragmentRow {
    id: String,
    message_id: String,
    distortion: String,
    start_offset: i64,
    end_offset: i64,
    confidence: f64,
    explanation: String,
    reframes_sealed: Option<Vec<u8>>,
}

fn char_slice(text: &str, start: i64, end: i64) -> String {
    text.chars()
        .skip(start.max(0) as usize)
        .take((end - start).max(0) as usize)
        .collect()
}

/// Reframe one fragment inline. Crisis language is never reframed.
#[utoipa::path(post, path = "/v1/mirror/fragments/{id}/reframe", tag = "mirror", security(("bearer" = [])),
    params(("id" = String, Path, description = "Fragment id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 200, description = "Reframes of the fragment (empty on crisis language)", body = FragmentReframes),
        (status = 404, description = "No such fragment of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn reframe_fragment(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<FragmentReframes>> {
    let fragment: FragmentRow = sqlx::query_as(
        "SELECT id, message_id, distortion, start_offset, end_offset, confidence, explanation, reframes_sealed \
         FROM mirror_fragments WHERE user_id = $1 AND id = $2",
    )
    .bind(&user.user_id)
    .bind(&id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| ApiError::not_found("fragment"))?;
    let sealed: Vec<u8> = sqlx::query_scalar(
        "SELECT content_sealed FROM mirror_messages WHERE user_id = $1 AND id = $2",
    )
    .bind(&user.user_id)
    .bind(&fragment.message_id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| ApiError::not_found("fragment"))?;
    let content = state
        .cipher
        .open_string(&sealed, &content_aad(&user.user_id))
        .map_err(ApiError::internal)?;
    let text = char_slice(&content, fragment.start_offset, fragment.end_offset);
    // The gate looks at the whole message (a span cut from a crisis message
    // is never reframed) and at the span itself.
    let region = crate::preferences::region(&state, &user.user_id).await?;
    let mut verdict =
        safety::check_input(&state, &user.user_id, "mirror_reframe", &region, &content).await?;
    if !verdict.bypass() && kalei_analysis::detect_crisis(&text).level.bypasses() {
        verdict =
            safety::check_input(&state, &user.user_id, "mirror_reframe", &region, &text).await?;
    }
    if verdict.bypass() {
        return Ok(ApiJson(FragmentReframes {
            fragment_id: fragment.id,
            reframes: Vec::new(),
            crisis: verdict.crisis,
            model: "none".into(),
            prompt_version: "none".into(),
        }));
    }
    let distortion: DistortionType = fragment
        .distortion
        .parse()
        .map_err(|_| ApiError::internal("stored distortion type is unknown"))?;
    let span = kalei_analysis::Fragment {
        r#type: distortion,
        start: fragment.start_offset as usize,
        end: fragment.end_offset as usize,
        text: text.clone(),
        confidence: fragment.confidence as f32,
        explanation: fragment.explanation.clone(),
    };
    let generated =
        generation::fragment_reframes(&state, &user.user_id, span, &verdict.analysis).await?;
    let reframes: Vec<ReframeView> = generated.output.iter().map(ReframeView::from).collect();
    let texts: Vec<String> = reframes.iter().map(|r| r.text.clone()).collect();
    crate::product::ensure_safe_output(&state, &user.user_id, "mirror_reframe", &texts).await?;
    if fragment.reframes_sealed.is_none() {
        sqlx::query(
            "UPDATE mirror_fragments SET reframes_sealed = $1, reframe_model = $2, prompt_version = $3 \
             WHERE user_id = $4 AND id = $5",
        )
        .bind(state.cipher.seal_str(&serde_json::to_string(&reframes).unwrap_or_default(), &fragment_reframes_aad(&user.user_id)))
        .bind(&generated.provenance.model)
        .bind(&generated.provenance.prompt_version)
        .bind(&user.user_id)
        .bind(&fragment.id)
        .execute(state.db.pool())
        .await?;
    }
    Ok(ApiJson(FragmentReframes {
        fragment_id: fragment.id,
        reframes,
        crisis: verdict.crisis,
        model: generated.provenance.model,
        prompt_version: generated.provenance.prompt_version,
    }))
}

/// Close the session: it gets a short reflection written from its aggregates
/// (never quoting you), and its analysis is queued for Spectrum.
#[utoipa::path(post, path = "/v1/mirror/sessions/{id}/close", tag = "mirror", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 200, description = "The closed session with its reflection", body = SessionView),
        (status = 404, description = "No such session of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already closed", body = Problem, content_type = "application/problem+json"),
    ))]
async fn close_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<SessionView>> {
    let session = load_session(&state, &user.user_id, &id).await?;
    if session.status != "open" {
        return Err(ApiError::conflict(
            "session_closed",
            "This session is already closed.",
        ));
    }
    let summary = summarise(&state, &user.user_id, &id).await?;
    let crisis_seen =
        crate::product::level_rank(&session.max_crisis_level) >= crate::product::level_rank("high");
    let (reflection, provenance) = if crisis_seen {
        // A session that held crisis language gets no generated reflection.
        (crate::product::CRISIS_REFLECTION.to_string(), None)
    } else {
        let g = generation::session_reflection(&state, &user.user_id, &summary).await?;
        (g.output, Some(g.provenance))
    };
    let reflection =
        if safety::output_is_safe(&state, &user.user_id, "mirror_reflection", &reflection).await? {
            reflection
        } else {
            crate::product::CRISIS_REFLECTION.to_string()
        };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let n = sqlx::query(
        "UPDATE mirror_sessions SET status = 'closed', closed_at = $1, reflection_sealed = $2, \
           reflection_model = $3, prompt_version = $4 WHERE user_id = $5 AND id = $6 AND status = 'open'",
    )
    .bind(now)
    .bind(state.cipher.seal_str(&reflection, &reflection_aad(&user.user_id)))
    .bind(provenance.as_ref().map(|p| p.model.clone()))
    .bind(provenance.as_ref().map(|p| p.prompt_version.clone()))
    .bind(&user.user_id)
    .bind(&id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(ApiError::conflict(
            "session_closed",
            "This session is already closed.",
        ));
    }
    if !crisis_seen {
        // The reflection goes to the Gallery.
        sqlx::query(
            "INSERT INTO gallery_items (id, user_id, kind, session_id, include_text, emotions, created_at) \
             VALUES ($1, $2, 'reflection', $3, 1, $4, $5)",
        )
        .bind(kalei_store::new_id())
        .bind(&user.user_id)
        .bind(&id)
        .bind(serde_json::to_string(&summary.mean_emotions).unwrap_or_default())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    crate::jobs::enqueue_session_analysis(&state, &mut tx, &user.user_id, &id).await?;
    tx.commit().await?;
    analytics::record(
        &state,
        &user.user_id,
        analytics::event::MIRROR_SESSION_CLOSED,
        &[("messages", Prop::Int(summary.message_count as i64))],
    )
    .await;
    let session = load_session(&state, &user.user_id, &id).await?;
    Ok(ApiJson(session.view(&state, &user.user_id)?))
}

/// Aggregates of a session's messages: counts per distortion type and the
/// mean emotional vector. No text.
async fn summarise(state: &AppState, user_id: &str, session_id: &str) -> ApiResult<SessionSummary> {
    let emotions: Vec<(String,)> = sqlx::query_as(
        "SELECT emotions FROM mirror_messages WHERE user_id = $1 AND session_id = $2",
    )
    .bind(user_id)
    .bind(session_id)
    .fetch_all(state.db.pool())
    .await?;
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT distortion, COUNT(*) FROM mirror_fragments WHERE user_id = $1 AND session_id = $2 \
         GROUP BY distortion ORDER BY distortion",
    )
    .bind(user_id)
    .bind(session_id)
    .fetch_all(state.db.pool())
    .await?;
    let vectors: Vec<Emotions> = emotions
        .iter()
        .filter_map(|(e,)| serde_json::from_str(e).ok())
        .collect();
    Ok(SessionSummary {
        message_count: vectors.len() as u32,
        distortion_counts: counts
            .into_iter()
            .filter_map(|(d, n)| d.parse::<DistortionType>().ok().map(|d| (d, n as u32)))
            .collect(),
        mean_emotions: crate::product::mean_emotions(&vectors),
    })
}

/// A session with its messages and their fragments.
#[utoipa::path(get, path = "/v1/mirror/sessions/{id}", tag = "mirror", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session", body = SessionDetail),
        (status = 404, description = "No such session of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<SessionDetail>> {
    let session = load_session(&state, &user.user_id, &id).await?;
    let messages: Vec<(String, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT id, content_sealed, created_at FROM mirror_messages WHERE user_id = $1 AND session_id = $2 ORDER BY id",
    )
    .bind(&user.user_id)
    .bind(&id)
    .fetch_all(state.db.pool())
    .await?;
    let fragments: Vec<FragmentRow> = sqlx::query_as(
        "SELECT id, message_id, distortion, start_offset, end_offset, confidence, explanation, reframes_sealed \
         FROM mirror_fragments WHERE user_id = $1 AND session_id = $2 ORDER BY id",
    )
    .bind(&user.user_id)
    .bind(&id)
    .fetch_all(state.db.pool())
    .await?;
    let aad = content_aad(&user.user_id);
    let mut out = Vec::with_capacity(messages.len());
    for (mid, sealed, created_at) in messages {
        let content = state
            .cipher
            .open_string(&sealed, &aad)
            .map_err(ApiError::internal)?;
        let frags = fragments
            .iter()
            .filter(|f| f.message_id == mid)
            .map(|f| FragmentView {
                id: f.id.clone(),
                type_: f.distortion.clone(),
                start: f.start_offset,
                end: f.end_offset,
                text: char_slice(&content, f.start_offset, f.end_offset),
                confidence: f.confidence,
                explanation: f.explanation.clone(),
            })
            .collect();
        out.push(MessageWithFragments {
            message: MessageView {
                id: mid,
                session_id: id.clone(),
                content,
                created_at: rfc3339(created_at),
            },
            fragments: frags,
        });
    }
    Ok(ApiJson(SessionDetail {
        session: session.view(&state, &user.user_id)?,
        messages: out,
    }))
}

/// A session goes with its messages, fragments, Gallery card and Spectrum
/// vector.
const MIRROR_SESSION_ITEM: OwnedItem = OwnedItem {
    kind: "mirror_session",
    noun: "session",
    steps: &[
        ("mirror_fragments", "session_id"),
        ("mirror_messages", "session_id"),
        ("gallery_items", "session_id"),
        ("spectrum_session_vectors", "session_id"),
        ("mirror_sessions", "id"),
    ],
    spectrum_day: Some(("spectrum_session_vectors", "session_id")),
};

/// Delete a session with its messages, fragments, reflection, Gallery card
/// and Spectrum vector; weeks and months it counted toward are recomputed.
#[utoipa::path(delete, path = "/v1/mirror/sessions/{id}", tag = "mirror", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Deleted, raw and derived"),
        (status = 404, description = "No such session of yours", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    crate::privacy::items::delete_owned(&state, &user.user_id, &MIRROR_SESSION_ITEM, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
