//! Requests, outputs and errors of the gateway's public API.

use std::time::Duration;

use kalei_analysis::templates::{MicroAction, PeriodSummary, Reframe, SessionSummary};
use kalei_analysis::{Analysis, DistortionType, Emotions, Fragment};
use serde::{Deserialize, Serialize};

/// Every kind of generation the product makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Turn,
    MirrorFragments,
    MirrorReframe,
    MirrorReflection,
    Lens,
    SpectrumWeekly,
    SpectrumMonthly,
}

impl Feature {
    pub const ALL: [Feature; 7] = [
        Feature::Turn,
        Feature::MirrorFragments,
        Feature::MirrorReframe,
        Feature::MirrorReflection,
        Feature::Lens,
        Feature::SpectrumWeekly,
        Feature::SpectrumMonthly,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Feature::Turn => "turn",
            Feature::MirrorFragments => "mirror_fragments",
            Feature::MirrorReframe => "mirror_reframe",
            Feature::MirrorReflection => "mirror_reflection",
            Feature::Lens => "lens",
            Feature::SpectrumWeekly => "spectrum_weekly",
            Feature::SpectrumMonthly => "spectrum_monthly",
        }
    }

    /// Deterministic calls (temperature 0 classification) may be cached.
    pub fn cacheable(&self) -> bool {
        matches!(self, Feature::MirrorFragments)
    }

    /// Whether the input is the user's own writing (cache keys then include
    /// the user, so nothing is ever shared across users).
    pub fn personal(&self) -> bool {
        matches!(
            self,
            Feature::Turn | Feature::MirrorFragments | Feature::MirrorReframe
        )
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Turn: one negative thought → 3 reframes + 1 micro-action.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub user_id: String,
    pub thought: String,
    /// The engine's analysis of `thought` (the server has it from its gate).
    pub analysis: Analysis,
    /// False when the user withdrew consent to remote AI: `local` only.
    pub remote_allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnOutput {
    /// Exactly 3, in distinct styles.
    pub reframes: Vec<Reframe>,
    pub micro_action: MicroAction,
}

/// Mirror: distortion fragments of one message. Local = the engine.
#[derive(Debug, Clone)]
pub struct FragmentsRequest {
    pub user_id: String,
    pub text: String,
    pub analysis: Analysis,
    pub remote_allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FragmentsOutput {
    /// Offsets in chars of the request's `text`; `text` is exactly that slice.
    pub fragments: Vec<Fragment>,
}

/// Mirror: reframes of one fragment of a message.
#[derive(Debug, Clone)]
pub struct MirrorReframeRequest {
    pub user_id: String,
    pub fragment: Fragment,
    /// Analysis of the whole message the fragment comes from.
    pub analysis: Analysis,
    pub remote_allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReframesOutput {
    /// Exactly 3, in distinct styles.
    pub reframes: Vec<Reframe>,
}

/// Mirror: the reflection shown when a session closes (aggregates only).
#[derive(Debug, Clone)]
pub struct ReflectionRequest {
    pub user_id: String,
    pub summary: SessionSummary,
    pub remote_allowed: bool,
}

/// Lens: the daily affirmation.
#[derive(Debug, Clone)]
pub struct LensRequest {
    pub user_id: String,
    /// Recent emotional vector, if any.
    pub emotions: Option<Emotions>,
    /// Varies the template pick, e.g. the day number.
    pub seed: u64,
    pub remote_allowed: bool,
}

/// Spectrum: a weekly or monthly insight from aggregates only.
#[derive(Debug, Clone)]
pub struct InsightRequest {
    pub user_id: String,
    pub summary: PeriodSummary,
    /// The user's raw texts of the period. Never sent to a model: the output
    /// is checked not to quote them (see [`crate::safety::MAX_QUOTED_WORDS`]).
    pub check_against: Vec<String>,
    pub remote_allowed: bool,
}

/// A short generated text (reflection, affirmation, insight).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextOutput {
    pub text: String,
}

/// Token counts reported by the provider (0 for `local`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// A validated, safety-checked generation and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Generated<T> {
    pub output: T,
    /// The model that actually answered (the response's `model`), or `local`.
    pub model: String,
    /// The upstream provider when reported (OpenRouter), else the target name.
    pub provider: String,
    /// The target of the route that produced it.
    pub target: String,
    pub prompt_version: String,
    /// Tokens of the successful attempt (failed attempts are metered too).
    pub usage: Usage,
    /// Nano-dollars of the successful attempt; `None` when unknown.
    pub cost_nanos: Option<i64>,
    pub cached: bool,
    /// Not produced by the first target of the route (fallback or budget
    /// degradation).
    pub degraded: bool,
    /// Wall time of the whole call.
    #[serde(skip)]
    pub latency: Duration,
    /// Wall time minus time spent waiting on providers.
    #[serde(skip)]
    pub overhead: Duration,
}

/// Which budget denied a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKind {
    UserDailyTokens,
    GlobalMonthlySpend,
}

impl BudgetKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            BudgetKind::UserDailyTokens => "user_daily_tokens",
            BudgetKind::GlobalMonthlySpend => "global_monthly_spend",
        }
    }
}

impl std::fmt::Display for BudgetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The input is crisis content (level high/imminent): nothing is generated.
    #[error("crisis content is never sent for generation")]
    Crisis,
    /// A budget denied the call and the feature has no degradation step.
    #[error("AI budget exhausted: {which}")]
    Budget { which: BudgetKind },
    /// The feature is paused by the degradation order (Spectrum under spend
    /// pressure); retry at or after `resume_at_ms` (unix ms).
    #[error("generation of {feature} paused ({which}) until {resume_at_ms}")]
    Paused {
        feature: Feature,
        which: BudgetKind,
        resume_at_ms: i64,
    },
    /// Every target of a route without `local` failed.
    #[error("no target of route {feature} produced a valid answer: {last_error}")]
    Unavailable {
        feature: Feature,
        last_error: String,
    },
    /// A stream failed after content had been sent (no fallback possible).
    #[error("stream failed after content was sent: {0}")]
    Stream(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl GatewayError {
    /// Stable machine code for problem+json responses and logs.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::Crisis => "ai_crisis_refused",
            GatewayError::Budget { .. } => "ai_budget_exhausted",
            GatewayError::Paused { .. } => "ai_paused",
            GatewayError::Unavailable { .. } => "ai_unavailable",
            GatewayError::Stream(_) => "ai_stream_failed",
            GatewayError::InvalidRequest(_) => "ai_invalid_request",
        }
    }
}

/// Events of [`crate::Gateway::turn_stream`].
#[derive(Debug, Clone)]
pub enum TurnEvent {
    /// Raw output text as the model writes it (JSON). Provisional: the final
    /// `Done` output is authoritative. Deltas are screened by the safety
    /// patterns as they accumulate.
    Delta(String),
    /// The validated, safety-checked result. Always the last event.
    Done(Box<Generated<TurnOutput>>),
}

pub(crate) fn dominant_distortion(fragments: &[Fragment]) -> Option<DistortionType> {
    fragments
        .iter()
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
        .map(|f| f.r#type)
}
