//! Kalei AI gateway (issue 5): every model call of the product goes through
//! [`Gateway`].
//!
//! * Providers: `local` (the built-in analysis engine and templates; never
//!   fails for lack of network) and any OpenAI-compatible chat-completions
//!   endpoint (OpenRouter with provider pinning and `models` fallback, vLLM,
//!   Ollama, llama.cpp server).
//! * Routing: a chain of targets per [`Feature`], from [`GatewayConfig`].
//! * Resilience: one deadline per call, a timeout per attempt, retries with
//!   exponential backoff and full jitter honouring `Retry-After`, a circuit
//!   breaker per target, fallback to the next target; for streams a
//!   time-to-first-token timeout and fallback only before the first content
//!   byte.
//! * Structured outputs: a JSON Schema per feature sent as strict
//!   `response_format` and always validated locally; output safety rules
//!   ([`safety`]); one repair attempt that feeds the error back.
//! * Prompt registry: minijinja templates versioned by content hash,
//!   recorded in `prompt_revisions`.
//! * Metering and budgets: an `ai_usage_events` row per attempt; per-user
//!   daily tokens and a global monthly spend cap as reserve-then-reconcile
//!   tickets; alerts once per threshold per month; the degradation order.
//! * Cache: exact match, deterministic features only, per user for personal
//!   content.
//! * Metrics (`metrics` crate, exported by the server's Prometheus recorder):
//!   `kalei_ai_calls_total`, `kalei_ai_attempts_total`,
//!   `kalei_ai_retries_total`, `kalei_ai_fallbacks_total`,
//!   `kalei_ai_breaker_state`, `kalei_ai_tokens_total`,
//!   `kalei_ai_cost_nanos_total`, `kalei_ai_budget_denied_total`,
//!   `kalei_ai_cache_total`, `kalei_ai_overhead_seconds` (histogram: total
//!   time minus time waiting on providers).

mod breaker;
mod budget;
pub mod config;
mod gateway;
mod openai;
pub mod prompts;
pub mod safety;
pub mod schema;
mod stream;
pub mod types;
mod usage;

pub use breaker::BreakerState;
pub use config::{
    BreakerConfig, BudgetConfig, CacheConfig, ConfigError, DegradeAction, DegradeStep,
    GatewayConfig, Price, RemoteTarget, ResilienceConfig, Route, Routes, Secret, TargetConfig,
};
pub use gateway::{Gateway, InitError};
pub use kalei_analysis::templates::{MicroAction, Reframe, ReframeStyle};
pub use prompts::PromptRevision;
pub use types::{
    BudgetKind, Feature, FragmentsOutput, FragmentsRequest, GatewayError, Generated,
    InsightRequest, LensRequest, MirrorReframeRequest, ReflectionRequest, ReframesOutput,
    TextOutput, TurnEvent, TurnOutput, TurnRequest, Usage,
};

/// The built-in target name.
pub const LOCAL: &str = "local";
