//! Gateway configuration, embedded by the server as the `[ai]` table of
//! `kalei.toml`. Defaults are "local only": no network, no key, no cost.
//!
//! ```toml
//! [ai.targets.deepseek]
//! type = "openai_compatible"
//! base_url = "https://openrouter.ai/api/v1"
//! api_key = "sk-or-…"
//! model = "deepseek/deepseek-v3.2"
//! provider = { only = ["deepinfra", "fireworks"], allow_fallbacks = false, require_parameters = true, data_collection = "deny" }
//!
//! [ai.routes.turn]
//! targets = ["deepseek", "haiku", "local"]
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::Feature;

/// A string that never shows up in `Debug` output or serialised config.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// The whole `[ai]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Named model targets. `local` (the built-in engine) always exists and
    /// cannot be redefined.
    pub targets: BTreeMap<String, TargetConfig>,
    /// Per-feature chains of targets, tried in order.
    pub routes: Routes,
    pub resilience: ResilienceConfig,
    pub breaker: BreakerConfig,
    pub budgets: BudgetConfig,
    /// Prices by model name (the name the provider reports, or the target's
    /// `model`), used when the response carries no `usage.cost`.
    pub prices: BTreeMap<String, Price>,
    pub cache: CacheConfig,
    /// Usage events are written by a background task in batches; this bounds
    /// its queue (events beyond it are dropped and counted).
    pub usage_queue: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            targets: BTreeMap::new(),
            routes: Routes::default(),
            resilience: ResilienceConfig::default(),
            breaker: BreakerConfig::default(),
            budgets: BudgetConfig::default(),
            prices: BTreeMap::new(),
            cache: CacheConfig::default(),
            usage_queue: 10_000,
        }
    }
}

/// One model target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetConfig {
    /// Any chat-completions endpoint (OpenRouter, vLLM, Ollama, llama.cpp).
    OpenaiCompatible(RemoteTarget),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteTarget {
    /// Up to and including the version, e.g. `https://openrouter.ai/api/v1`;
    /// `/chat/completions` is appended.
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<Secret>,
    pub model: String,
    /// OpenRouter provider routing, sent verbatim as `provider`, e.g.
    /// `{ only = ["deepinfra"], allow_fallbacks = false, require_parameters = true, data_collection = "deny" }`.
    #[serde(default)]
    pub provider: Option<serde_json::Value>,
    /// OpenRouter model fallback array, sent as `models`.
    #[serde(default)]
    pub models: Vec<String>,
    /// Send `response_format: json_schema` (strict). Turn off for servers
    /// that reject it; the output is validated locally either way.
    #[serde(default = "yes")]
    pub structured_outputs: bool,
    /// Overrides `resilience.attempt_timeout_ms` for this target.
    #[serde(default)]
    pub attempt_timeout_ms: Option<u64>,
}

fn yes() -> bool {
    true
}

/// Chains of target names per feature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Routes {
    pub turn: Route,
    pub mirror_fragments: Route,
    pub mirror_reframe: Route,
    pub mirror_reflection: Route,
    pub lens: Route,
    pub spectrum_weekly: Route,
    pub spectrum_monthly: Route,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            turn: Route::for_feature(Feature::Turn),
            mirror_fragments: Route::for_feature(Feature::MirrorFragments),
            mirror_reframe: Route::for_feature(Feature::MirrorReframe),
            mirror_reflection: Route::for_feature(Feature::MirrorReflection),
            lens: Route::for_feature(Feature::Lens),
            spectrum_weekly: Route::for_feature(Feature::SpectrumWeekly),
            spectrum_monthly: Route::for_feature(Feature::SpectrumMonthly),
        }
    }
}

impl Routes {
    pub fn get(&self, f: Feature) -> &Route {
        match f {
            Feature::Turn => &self.turn,
            Feature::MirrorFragments => &self.mirror_fragments,
            Feature::MirrorReframe => &self.mirror_reframe,
            Feature::MirrorReflection => &self.mirror_reflection,
            Feature::Lens => &self.lens,
            Feature::SpectrumWeekly => &self.spectrum_weekly,
            Feature::SpectrumMonthly => &self.spectrum_monthly,
        }
    }
    pub fn get_mut(&mut self, f: Feature) -> &mut Route {
        match f {
            Feature::Turn => &mut self.turn,
            Feature::MirrorFragments => &mut self.mirror_fragments,
            Feature::MirrorReframe => &mut self.mirror_reframe,
            Feature::MirrorReflection => &mut self.mirror_reflection,
            Feature::Lens => &mut self.lens,
            Feature::SpectrumWeekly => &mut self.spectrum_weekly,
            Feature::SpectrumMonthly => &mut self.spectrum_monthly,
        }
    }
}

/// One feature's route.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Target names, tried in order; `local` is the built-in engine.
    pub targets: Vec<String>,
    /// Overall deadline for the call (all attempts, retries and repairs).
    pub deadline_ms: u64,
    pub max_tokens: u32,
    pub temperature: f32,
}

impl Route {
    fn for_feature(f: Feature) -> Self {
        let (deadline_ms, max_tokens, temperature) = match f {
            Feature::Turn | Feature::MirrorReframe => (10_000, 700, 0.7),
            Feature::MirrorFragments => (8_000, 600, 0.0),
            Feature::MirrorReflection => (15_000, 400, 0.7),
            Feature::Lens => (8_000, 120, 0.8),
            Feature::SpectrumWeekly => (60_000, 500, 0.5),
            Feature::SpectrumMonthly => (90_000, 900, 0.5),
        };
        Self {
            targets: vec![crate::LOCAL.to_string()],
            deadline_ms,
            max_tokens,
            temperature,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResilienceConfig {
    /// Timeout of one HTTP attempt (non-streaming: the whole response).
    pub attempt_timeout_ms: u64,
    /// Streams: time to the first content byte.
    pub ttft_timeout_ms: u64,
    /// Streams: longest silence between chunks once content flows.
    pub stream_idle_timeout_ms: u64,
    /// Retries per target on transport errors, 429 and 5xx (not on 4xx).
    pub max_retries: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// A `Retry-After` longer than this moves on to the next target instead.
    pub max_retry_after_ms: u64,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            attempt_timeout_ms: 8_000,
            ttft_timeout_ms: 3_000,
            stream_idle_timeout_ms: 5_000,
            max_retries: 2,
            backoff_base_ms: 100,
            backoff_max_ms: 2_000,
            max_retry_after_ms: 5_000,
        }
    }
}

/// Circuit breaker per (provider, model) target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before letting probes through.
    pub open_ms: u64,
    /// Concurrent probes allowed while half-open.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_ms: 30_000,
            half_open_probes: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Tokens (in + out) one user may spend on remote models per UTC day;
    /// 0 = unlimited.
    pub user_daily_tokens: i64,
    /// Global remote spend per UTC calendar month in nano-dollars
    /// (1 USD = 1_000_000_000); 0 = unlimited.
    pub global_monthly_cap_nanos: i64,
    /// Percentages of the monthly cap that raise an alert, once per month each.
    pub alert_thresholds: Vec<u8>,
    /// Slack-compatible incoming webhook (`{"text": …}`) for alerts.
    pub alert_webhook_url: Option<Secret>,
    /// What to do under spend pressure, in order. A step applies to its
    /// features once the month's spend reaches `at_percent` of the cap, and
    /// whenever a budget denies one of their calls.
    pub degradation: Vec<DegradeStep>,
    /// Reservation price for models with neither `usage.cost` nor a price
    /// entry (so unknown prices cannot bypass the cap).
    pub fallback_price: Price,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            user_daily_tokens: 0,
            global_monthly_cap_nanos: 0,
            alert_thresholds: vec![50, 80, 95, 100],
            alert_webhook_url: None,
            degradation: vec![
                DegradeStep {
                    features: vec![Feature::Lens],
                    at_percent: 80,
                    action: DegradeAction::Local,
                },
                DegradeStep {
                    features: vec![Feature::SpectrumWeekly, Feature::SpectrumMonthly],
                    at_percent: 95,
                    action: DegradeAction::Pause,
                },
            ],
            fallback_price: Price {
                input_usd_per_mtok: 1.0,
                output_usd_per_mtok: 5.0,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DegradeStep {
    pub features: Vec<Feature>,
    pub at_percent: u8,
    pub action: DegradeAction,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DegradeAction {
    /// Serve from the built-in templates.
    Local,
    /// Refuse with [`crate::GatewayError::Paused`] (jobs snooze until it lifts).
    Pause,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
}

impl Price {
    /// Cost in nano-dollars, rounded up.
    pub fn cost_nanos(&self, tokens_in: u64, tokens_out: u64) -> i64 {
        // USD/Mtok × 1e9 nanos/USD ÷ 1e6 tok/Mtok = 1000 × USD/Mtok nanos per token.
        let nanos = tokens_in as f64 * self.input_usd_per_mtok * 1000.0
            + tokens_out as f64 * self.output_usd_per_mtok * 1000.0;
        nanos.ceil() as i64
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub enabled: bool,
    pub ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl_secs: 3600,
        }
    }
}

/// A configuration error, found at start.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid [ai] configuration: {0}")]
pub struct ConfigError(pub String);

impl GatewayConfig {
    /// One OpenAI-compatible target (`remote`) in front of `local` for every
    /// feature: what `KALEI_AI_BASE_URL`, `KALEI_AI_API_KEY` and
    /// `KALEI_AI_MODEL` give.
    pub fn simple(base_url: &str, api_key: Option<&str>, model: &str) -> Self {
        let mut c = GatewayConfig::default();
        c.targets.insert(
            "remote".into(),
            TargetConfig::OpenaiCompatible(RemoteTarget {
                base_url: base_url.to_string(),
                api_key: api_key.filter(|k| !k.is_empty()).map(Secret::new),
                model: model.to_string(),
                provider: None,
                models: Vec::new(),
                structured_outputs: true,
                attempt_timeout_ms: None,
            }),
        );
        for f in Feature::ALL {
            c.routes.get_mut(f).targets = vec!["remote".into(), crate::LOCAL.into()];
        }
        c
    }

    /// Applies `KALEI_AI_BASE_URL` / `KALEI_AI_API_KEY` / `KALEI_AI_MODEL`
    /// when set and no target is configured; returns whether it did.
    pub fn apply_simple_env(&mut self) -> bool {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (get("KALEI_AI_BASE_URL"), get("KALEI_AI_MODEL")) {
            (Some(url), Some(model)) if self.targets.is_empty() => {
                let key = get("KALEI_AI_API_KEY");
                let simple = GatewayConfig::simple(&url, key.as_deref(), &model);
                self.targets = simple.targets;
                for f in Feature::ALL {
                    self.routes.get_mut(f).targets = simple.routes.get(f).targets.clone();
                }
                true
            }
            _ => false,
        }
    }

    /// Checks references and ranges; called by [`crate::Gateway::new`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.targets.contains_key(crate::LOCAL) {
            return Err(ConfigError(
                "targets.local is built in and cannot be redefined".into(),
            ));
        }
        for (name, t) in &self.targets {
            let TargetConfig::OpenaiCompatible(r) = t;
            if !(r.base_url.starts_with("http://") || r.base_url.starts_with("https://")) {
                return Err(ConfigError(format!(
                    "targets.{name}.base_url must start with http:// or https://"
                )));
            }
            if r.model.trim().is_empty() {
                return Err(ConfigError(format!("targets.{name}.model is empty")));
            }
            if let Some(p) = &r.provider {
                if !p.is_object() {
                    return Err(ConfigError(format!(
                        "targets.{name}.provider must be a table (OpenRouter provider routing)"
                    )));
                }
            }
        }
        for f in Feature::ALL {
            let r = self.routes.get(f);
            if r.targets.is_empty() {
                return Err(ConfigError(format!(
                    "routes.{}.targets is empty (use [\"local\"])",
                    f.as_str()
                )));
            }
            for t in &r.targets {
                if t != crate::LOCAL && !self.targets.contains_key(t) {
                    return Err(ConfigError(format!(
                        "routes.{}.targets names unknown target `{t}`",
                        f.as_str()
                    )));
                }
            }
            if r.deadline_ms == 0 || r.max_tokens == 0 {
                return Err(ConfigError(format!(
                    "routes.{}: deadline_ms and max_tokens must be > 0",
                    f.as_str()
                )));
            }
        }
        if self.budgets.user_daily_tokens < 0 || self.budgets.global_monthly_cap_nanos < 0 {
            return Err(ConfigError("budgets must not be negative".into()));
        }
        for s in &self.budgets.degradation {
            if s.at_percent > 100 {
                return Err(ConfigError("degradation at_percent must be <= 100".into()));
            }
        }
        if self.breaker.failure_threshold == 0 || self.breaker.half_open_probes == 0 {
            return Err(ConfigError(
                "breaker.failure_threshold and half_open_probes must be > 0".into(),
            ));
        }
        if self.usage_queue == 0 {
            return Err(ConfigError("usage_queue must be > 0".into()));
        }
        Ok(())
    }

    /// Blake3 of the (redacted) configuration, stored with every usage event.
    pub fn snapshot_hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        blake3::hash(&json).to_hex()[..16].to_string()
    }
}
