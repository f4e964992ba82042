//! The safety gate. It runs before any model call on user text and on model
//! output before it reaches the user:
//!
//! 1. the deterministic detector of the offline engine (never remote);
//! 2. at `high`/`imminent`, nothing is reframed or generated: the caller gets
//!    the fixed crisis message and the resources for the user's region, a
//!    `safety_events` row is written (level, categories, feature, stage,
//!    time: never text) and `safety_escalations_total` increments.
//!
//! A remote confirmation stage (for texts the detector is unsure about) may
//! only raise the level, never lower it.

pub mod resources;

use kalei_analysis::{Analysis, Crisis, CrisisCategory, CrisisLevel};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::ApiResult;
pub use resources::Resource;

/// What the API returns about crisis language in a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CrisisView {
    /// none, concern, high or imminent
    #[schema(example = "none")]
    pub level: String,
    /// suicide, self_harm, abuse, overdose, harm_to_others
    pub categories: Vec<String>,
    /// The fixed crisis message, when the level bypasses generation.
    pub message: Option<&'static str>,
    /// Hotlines for the user's region, when the level bypasses generation.
    pub resources: Vec<Resource>,
}

/// Where in a request the gate looked.
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    Input,
    Output,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Output => "output",
        }
    }
}

/// The gate's verdict on one text.
pub struct Verdict {
    pub analysis: Analysis,
    pub crisis: CrisisView,
}

impl Verdict {
    /// True when nothing may be generated from this text.
    pub fn bypass(&self) -> bool {
        self.analysis.crisis.level.bypasses()
    }
}

pub fn level_str(level: CrisisLevel) -> &'static str {
    level.as_str()
}

fn category_str(c: &CrisisCategory) -> String {
    c.as_str().to_string()
}

/// Runs the full analysis of user `text` and the crisis decision, recording a
/// safety event when it escalates. `region` picks the resources.
pub async fn check_input(
    state: &AppState,
    user_id: &str,
    feature: &str,
    region: &str,
    text: &str,
) -> ApiResult<Verdict> {
    let analysis = kalei_analysis::analyze(text);
    let crisis = view(&analysis, region);
    if analysis.crisis.level.bypasses() {
        record(state, user_id, feature, Stage::Input, &analysis.crisis).await?;
    }
    Ok(Verdict { analysis, crisis })
}

/// Checks generated text before it reaches the user: crisis language in a
/// model's output is never shown (the caller falls back to a template).
pub async fn output_is_safe(
    state: &AppState,
    user_id: &str,
    feature: &str,
    text: &str,
) -> ApiResult<bool> {
    let crisis = kalei_analysis::detect_crisis(text);
    if crisis.level.bypasses() {
        record(state, user_id, feature, Stage::Output, &crisis).await?;
        return Ok(false);
    }
    Ok(true)
}

pub fn view(analysis: &Analysis, region: &str) -> CrisisView {
    crisis_view(&analysis.crisis, region)
}

pub fn crisis_view(crisis: &Crisis, region: &str) -> CrisisView {
    let level = crisis.level;
    let bypass = level.bypasses();
    CrisisView {
        level: level_str(level).to_string(),
        categories: crisis.categories.iter().map(category_str).collect(),
        message: bypass.then_some(kalei_analysis::templates::CRISIS_MESSAGE),
        resources: if bypass {
            resources::for_region(region)
        } else {
            Vec::new()
        },
    }
}

async fn record(
    state: &AppState,
    user_id: &str,
    feature: &str,
    stage: Stage,
    crisis: &Crisis,
) -> ApiResult<()> {
    let level = level_str(crisis.level);
    let categories: Vec<String> = crisis.categories.iter().map(category_str).collect();
    sqlx::query(
        "INSERT INTO safety_events (id, user_id, feature, stage, level, categories, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(kalei_store::new_id())
    .bind(user_id)
    .bind(feature)
    .bind(stage.as_str())
    .bind(level)
    .bind(serde_json::to_string(&categories).unwrap_or_default())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    metrics::counter!("safety_escalations_total", "feature" => feature.to_string(), "level" => level, "stage" => stage.as_str())
        .increment(1);
    tracing::warn!(feature, level, stage = stage.as_str(), "safety escalation");
    Ok(())
}
