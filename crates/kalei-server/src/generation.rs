//! What the product asks of the model side: Turn reframes, fragment reframes,
//! session reflections, daily affirmations. Every call here comes after the
//! safety gate, and every output is checked again before it is returned.
//!
//! All of it goes through the AI gateway (`kalei-ai`): routing per feature,
//! budgets, retries, fallback and, last in every route, the built-in `local`
//! provider (the offline engine's templates), so a deployment without an API
//! key still works.

use kalei_ai::{
    GatewayError, LensRequest, MicroAction, MirrorReframeRequest, ReflectionRequest, Reframe,
    TurnRequest,
};
use kalei_analysis::templates::SessionSummary;
use kalei_analysis::{Analysis, Emotions, Fragment};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

/// The model and prompt behind a generated result, stored with it.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub model: String,
    pub provider: String,
    pub prompt_version: String,
}

pub struct Generated<T> {
    pub output: T,
    pub provenance: Provenance,
}

/// A stable seed from ids, so the same item always gets the same wording.
pub fn seed(parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

fn from_gateway<T, U>(g: kalei_ai::Generated<T>, f: impl FnOnce(T) -> U) -> Generated<U> {
    Generated {
        provenance: Provenance {
            model: g.model,
            provider: g.provider,
            prompt_version: g.prompt_version,
        },
        output: f(g.output),
    }
}

/// Gateway failures as API problems. Crisis content never reaches the
/// gateway (the safety gate answers first), so `Crisis` here is a bug.
fn api_error(e: GatewayError) -> ApiError {
    match e {
        GatewayError::Budget { which } => ApiError {
            detail: format!("The AI budget ({which:?}) is used up for now; try again later."),
            ..ApiError::rate_limited("ai_budget_exhausted", 3600)
        },
        GatewayError::Paused { resume_at_ms, .. } => ApiError {
            detail: "This feature is paused to keep AI spend within budget.".into(),
            ..ApiError::rate_limited(
                "ai_paused",
                ((resume_at_ms - chrono::Utc::now().timestamp_millis()) / 1000).max(1) as u64,
            )
        },
        GatewayError::Unavailable { .. } | GatewayError::Stream(_) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "ai_unavailable",
            "No model could answer right now; try again shortly.",
        ),
        other => ApiError::internal(other),
    }
}

/// Whether the user allows their text to go to a remote model (their
/// `ai_processing_remote` consent). Without it the gateway routes every
/// feature to the built-in `local` provider only.
async fn remote_allowed(state: &AppState, user_id: &str) -> ApiResult<bool> {
    crate::privacy::consents::remote_ai_allowed(state, user_id).await
}

pub struct TurnOutput {
    pub reframes: Vec<Reframe>,
    pub micro_action: MicroAction,
}

pub async fn turn(
    state: &AppState,
    user_id: &str,
    thought: &str,
    analysis: &Analysis,
) -> ApiResult<Generated<TurnOutput>> {
    let g = state
        .gateway
        .turn(&TurnRequest {
            user_id: user_id.to_string(),
            thought: thought.to_string(),
            analysis: analysis.clone(),
            remote_allowed: remote_allowed(state, user_id).await?,
        })
        .await
        .map_err(api_error)?;
    Ok(from_gateway(g, |o| TurnOutput {
        reframes: o.reframes,
        micro_action: o.micro_action,
    }))
}

pub async fn fragment_reframes(
    state: &AppState,
    user_id: &str,
    fragment: Fragment,
    analysis: &Analysis,
) -> ApiResult<Generated<Vec<Reframe>>> {
    let g = state
        .gateway
        .mirror_reframe(&MirrorReframeRequest {
            user_id: user_id.to_string(),
            fragment,
            analysis: analysis.clone(),
            remote_allowed: remote_allowed(state, user_id).await?,
        })
        .await
        .map_err(api_error)?;
    Ok(from_gateway(g, |o| o.reframes))
}

pub async fn session_reflection(
    state: &AppState,
    user_id: &str,
    summary: &SessionSummary,
) -> ApiResult<Generated<String>> {
    let g = state
        .gateway
        .mirror_reflection(&ReflectionRequest {
            user_id: user_id.to_string(),
            summary: summary.clone(),
            remote_allowed: remote_allowed(state, user_id).await?,
        })
        .await
        .map_err(api_error)?;
    Ok(from_gateway(g, |o| o.text))
}

pub async fn affirmation(
    state: &AppState,
    user_id: &str,
    emotions: Option<Emotions>,
    seed: u64,
) -> ApiResult<Generated<String>> {
    let g = state
        .gateway
        .lens(&LensRequest {
            user_id: user_id.to_string(),
            emotions,
            seed,
            remote_allowed: remote_allowed(state, user_id).await?,
        })
        .await
        .map_err(api_error)?;
    Ok(from_gateway(g, |o| o.text))
}
